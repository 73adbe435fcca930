/**
 * The schema of a batch job spec as people write it (YAML or JSON), in zod 4, strict: an unknown
 * field is an error. {@link parseJobSpec} validates with it, checks what one field alone cannot
 * (names, dependencies, cycles), and resolves the result into a {@link JobSpec}.
 *
 * ```yaml
 * name: wordcount
 * priority: { role: analytics, weight: 2 }
 * parallelism: 50                 # at most 50 tasks of the job run at once
 * deadlineSeconds: 3600           # the job fails (its tasks cancelled) after an hour
 * stages:
 *   - name: map
 *     count: 20                   # an array job: tasks map.0 … map.19
 *     locality: { waitSeconds: 3 }
 *     task:
 *       module: ./wordcount.js    # relative to the spec file
 *       export: map               # @default 'default'
 *       args: { corpus: /data/books }
 *       resources: { cpus: 0.5, mem: 256 }
 *       retries: 2
 *       backoffSeconds: 5
 *       timeoutSeconds: 600
 *       prefer: { racks: [r1] }
 *   - name: reduce
 *     dependsOn: [map]            # gets the map tasks' results as its inputs
 *     task:
 *       command: ./reduce.sh "$STOA_INPUTS"
 *       resources: { cpus: 1, mem: 512 }
 * ```
 *
 * @module
 */

import { z } from 'zod';

/** Job and stage names: letters, digits, `-` and `_`, at most 63, no dots (task ids join them with dots). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

const nameMessage = 'expected a name of letters, digits, "-" and "_" (at most 63 characters, starting with a letter or digit)';
const NameSchema = z.string({ error: 'expected a string' }).regex(NAME_PATTERN, { error: nameMessage });

function numberSchema(message: string, options: { int?: boolean; min: number; exclusive?: boolean }) {
  let s = z.number({ error: message });
  if (options.int) s = s.int({ error: message });
  return options.exclusive ? s.gt(options.min, { error: message }) : s.min(options.min, { error: message });
}

const nonNegativeInt = () => numberSchema('expected an integer ≥ 0', { int: true, min: 0 });
const positiveInt = () => numberSchema('expected an integer ≥ 1', { int: true, min: 1 });
const nonNegativeNumber = () => numberSchema('expected a number ≥ 0', { min: 0 });
const positiveNumber = () => numberSchema('expected a number > 0', { min: 0, exclusive: true });
const stringList = () => z.array(z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty string' }), { error: 'expected a list of strings' });

/** A value JSON can carry: what `args` and results are made of. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What one task needs: `cpus` and `mem` (MB) always, `disk` (MB) and `gpus` when it uses them. */
export const TaskResourcesSpecSchema = z.strictObject(
  {
    cpus: positiveNumber(),
    mem: positiveNumber(),
    disk: nonNegativeNumber().optional(),
    gpus: nonNegativeInt().optional(),
  },
  { error: 'expected an object like { cpus: 0.5, mem: 256 }' },
);

/** Hosts, racks and zones a task would rather run on (delay scheduling). */
export const PreferSpecSchema = z.strictObject(
  { hosts: stringList().optional(), racks: stringList().optional(), zones: stringList().optional() },
  { error: 'expected an object with hosts, racks and/or zones' },
);

/**
 * A task as written: the stage's `task` template, or one entry of its explicit `tasks` (merged
 * over the template). Every field is optional here; the merged task must have `resources` and
 * exactly one of `command` and `module`.
 */
export const TaskSpecInputSchema = z.strictObject(
  {
    /** A shell command (`sh -c`); `args` become its positional parameters `$1`, `$2`, …. */
    command: z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty command' }).optional(),
    /** A JS module whose exported function the batch executor calls in-process; a path relative to the spec file. */
    module: z.string({ error: 'expected a string' }).min(1, { error: 'expected a module path' }).optional(),
    /** The module's export to call. @default 'default' */
    export: z.string({ error: 'expected a string' }).min(1, { error: 'expected an export name' }).optional(),
    /** Given to the function as `args` (any JSON); for a command, a list of strings, numbers or booleans. */
    args: z.json({ error: 'expected a JSON value' }).optional(),
    /** Environment variables (numbers and booleans are turned into strings). */
    env: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' }), {
        error: 'expected an object of variables',
      })
      .optional(),
    resources: TaskResourcesSpecSchema.optional(),
    /** How many times a failed task is tried again. @default 0 */
    retries: nonNegativeInt().optional(),
    /** The wait before the first retry, doubled for each further one (capped at ten minutes). @default 1 */
    backoffSeconds: nonNegativeNumber().optional(),
    /** An attempt that runs longer is killed and counts as failed. @default no limit */
    timeoutSeconds: positiveNumber().optional(),
    prefer: PreferSpecSchema.optional(),
  },
  { error: 'expected a task object' },
);

/** A stage as written. */
export const StageSpecInputSchema = z.strictObject(
  {
    name: NameSchema,
    /** Stages that must all have succeeded before this one starts; their results are its inputs. */
    dependsOn: z.array(NameSchema, { error: 'expected a list of stage names' }).optional(),
    /** An array job: this many copies of `task`, with `STOA_TASK_INDEX` 0…count-1. @default 1 */
    count: positiveInt().optional(),
    /** Explicit tasks, each merged over `task` (instead of `count`). */
    tasks: z.array(TaskSpecInputSchema, { error: 'expected a list of tasks' }).min(1, { error: 'expected at least one task' }).optional(),
    /** All tasks of the stage start together or not at all (MPI-style). @default false */
    gang: z.boolean({ error: 'expected true or false' }).optional(),
    /** How long a gang stage holds offers while it gathers enough, before it releases them. @default 20 */
    gangTimeoutSeconds: positiveNumber().optional(),
    /** Delay scheduling: how long a task waits for a preferred place before it relaxes a level. */
    locality: z.strictObject({ waitSeconds: nonNegativeNumber() }, { error: 'expected an object like { waitSeconds: 3 }' }).optional(),
    /** The task template. */
    task: TaskSpecInputSchema.optional(),
  },
  { error: 'expected a stage object' },
);

/** A job spec as written. */
export const JobSpecInputSchema = z.strictObject(
  {
    name: NameSchema,
    /** The role the job's framework asks offers for, and its weight among jobs. */
    priority: z
      .strictObject(
        {
          role: z.string({ error: 'expected a string' }).regex(/^(\*|[^\s.*>/][^\s*>]*)$/, { error: 'expected a role name' }).optional(),
          weight: positiveNumber().optional(),
        },
        { error: 'expected an object like { role: analytics, weight: 2 }' },
      )
      .optional(),
    /** At most this many tasks of the job run (or launch) at once. @default no limit */
    parallelism: positiveInt().optional(),
    /** The job fails, cancelling its tasks, this long after it was submitted. @default no deadline */
    deadlineSeconds: positiveNumber().optional(),
    stages: z.array(StageSpecInputSchema, { error: 'expected a list of stages' }).min(1, { error: 'expected at least one stage' }),
  },
  { error: 'expected a job spec object' },
);

/** A task as written. */
export type TaskSpecInput = z.input<typeof TaskSpecInputSchema>;
/** A stage as written. */
export type StageSpecInput = z.input<typeof StageSpecInputSchema>;
/** A job spec as written. */
export type JobSpecInput = z.input<typeof JobSpecInputSchema>;

/** What a task runs: a shell command, or an exported function of a JS module. */
export type TaskRun = { kind: 'command'; command: string } | { kind: 'module'; module: string; export: string };

/** What one task needs. */
export interface TaskResourcesSpec {
  /** CPUs (fractions allowed). */
  cpus: number;
  /** Memory in MB. */
  mem: number;
  /** Disk in MB. @default 0 */
  disk?: number;
  /** Whole GPUs. @default 0 */
  gpus?: number;
}

/** Where a task would rather run; empty lists prefer nothing. */
export interface PreferSpec {
  hosts: string[];
  racks: string[];
  zones: string[];
}

/** A task of a resolved spec: every default applied, the module path absolute. */
export interface TaskSpec {
  run: TaskRun;
  /** The function's `args`; for a command, its positional parameters. */
  args?: JsonValue;
  env: Record<string, string>;
  resources: TaskResourcesSpec;
  retries: number;
  backoffSeconds: number;
  timeoutSeconds?: number;
  prefer: PreferSpec;
}

/** A stage of a resolved spec. */
export interface StageSpec {
  name: string;
  /** The stages it waits for, without duplicates. */
  dependsOn: string[];
  /** One spec per task, index by index (an array job shares one object among them). */
  tasks: TaskSpec[];
  gang: boolean;
  gangTimeoutSeconds: number;
  localityWaitSeconds: number;
}

/** A validated job spec with its defaults applied, stages in the order written. */
export interface JobSpec {
  name: string;
  priority: { role?: string; weight: number };
  parallelism?: number;
  deadlineSeconds?: number;
  stages: StageSpec[];
}
