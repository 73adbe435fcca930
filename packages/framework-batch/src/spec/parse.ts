/**
 * Reading a batch job spec: {@link parseJobSpec} takes YAML or JSON text, {@link validateJobSpec}
 * a value already parsed. Both validate strictly (unknown fields are errors), check what one
 * field alone cannot — unique stage names, `dependsOn` naming stages that exist, no cycles,
 * exactly one of `command` and `module`, a sane gang size — and return a {@link JobSpec} with
 * every default applied and module paths made absolute (relative to the spec file).
 * Problems are thrown as one {@link JobSpecError} naming each field by its path (and line, for
 * text), or a {@link JobCycleError} naming the cycle.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const spec = parseJobSpec(readFileSync('job.yaml', 'utf8'), { sourcePath: 'job.yaml' });
 * spec.stages[0].tasks[0].run;   // { kind: 'module', module: '/abs/path/map.js', export: 'map' }
 * ```
 * @module
 */

import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { formatPath, JobCycleError, JobSpecError, type JobSpecIssue } from './errors.js';
import {
  type JobSpec,
  JobSpecInputSchema,
  type JsonValue,
  type PreferSpec,
  type StageSpec,
  type StageSpecInput,
  type TaskSpec,
  type TaskSpecInput,
} from './schema.js';

/** The most tasks a gang stage may have: all of them must hold offers at once. */
export const MAX_GANG_SIZE = 1024;
/** The most tasks one job may have. */
export const MAX_JOB_TASKS = 100_000;
/** How long a gang stage holds offers by default, in seconds (under the master's 30 s offer timeout). */
export const DEFAULT_GANG_TIMEOUT_SECONDS = 20;
/** How long a task waits for a preferred place per locality level by default, in seconds (Spark's `spark.locality.wait`). */
export const DEFAULT_LOCALITY_WAIT_SECONDS = 3;
/** The default wait before a first retry, in seconds. */
export const DEFAULT_BACKOFF_SECONDS = 1;

/** Options of {@link parseJobSpec} and {@link validateJobSpec}. */
export interface ParseJobSpecOptions {
  /** The spec file's path: relative module paths resolve from its directory. */
  sourcePath?: string;
  /** Where relative module paths resolve from. @default the directory of `sourcePath`, else `process.cwd()` */
  baseDir?: string;
}

/** Every field name of the spec, to suggest the one meant when an unknown one is met. */
const KNOWN_FIELDS = [
  'name', 'priority', 'role', 'weight', 'parallelism', 'deadlineSeconds', 'stages', 'dependsOn', 'count', 'tasks', 'gang',
  'gangTimeoutSeconds', 'locality', 'waitSeconds', 'task', 'command', 'module', 'export', 'args', 'env', 'resources', 'cpus',
  'mem', 'disk', 'gpus', 'retries', 'backoffSeconds', 'timeoutSeconds', 'prefer', 'hosts', 'racks', 'zones',
];

/**
 * Parses a job spec from YAML or JSON text (JSON is YAML) and validates it.
 * @throws {@link JobSpecError} with line numbers, or {@link JobCycleError}.
 */
export function parseJobSpec(text: string, options: ParseJobSpecOptions = {}): JobSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new JobSpecError(
      doc.errors.map((e) => ({ path: '', message: `not valid YAML or JSON: ${e.message.split('\n')[0]}`, line: lineCounter.linePos(e.pos[0]).line })),
    );
  }
  const lineOf = (path: readonly PropertyKey[]) => lineInDocument(doc, lineCounter, path);
  return validateWith(doc.toJS({ maxAliasCount: 100 }), options, lineOf);
}

/**
 * Validates a job spec given as a value (parsed JSON, an object literal).
 * @throws {@link JobSpecError} or {@link JobCycleError}.
 */
export function validateJobSpec(value: unknown, options: ParseJobSpecOptions = {}): JobSpec {
  return validateWith(value, options, () => undefined);
}

type LineOf = (path: readonly PropertyKey[]) => number | undefined;

function validateWith(value: unknown, options: ParseJobSpecOptions, lineOf: LineOf): JobSpec {
  const issue = (path: readonly PropertyKey[], message: string): JobSpecIssue => {
    const line = lineOf(path);
    return { path: formatPath(path), message, ...(line !== undefined ? { line } : {}) };
  };
  const parsed = JobSpecInputSchema.safeParse(value);
  if (!parsed.success) throw new JobSpecError(zodIssues(parsed.error, value, issue));
  const input = parsed.data;
  const baseDir = options.baseDir ?? (options.sourcePath !== undefined ? dirname(resolve(options.sourcePath)) : process.cwd());

  const issues: JobSpecIssue[] = [];
  const stageIndex = new Map<string, number>();
  input.stages.forEach((stage, i) => {
    const before = stageIndex.get(stage.name);
    if (before !== undefined) issues.push(issue(['stages', i, 'name'], `duplicate stage name "${stage.name}" (also stages[${before}])`));
    else stageIndex.set(stage.name, i);
  });
  input.stages.forEach((stage, i) => {
    (stage.dependsOn ?? []).forEach((dep, j) => {
      if (!stageIndex.has(dep)) issues.push(issue(['stages', i, 'dependsOn', j], `no stage named "${dep}"${suggest(dep, [...stageIndex.keys()])}`));
    });
  });
  if (issues.length > 0) throw new JobSpecError(issues);
  const cycle = findCycle(input.stages);
  if (cycle !== undefined) {
    const at = stageIndex.get(cycle[0]!)!;
    throw new JobCycleError(cycle, formatPath(['stages', at, 'dependsOn']));
  }

  let total = 0;
  const stages: StageSpec[] = input.stages.map((stage, i) => {
    const tasks = resolveStageTasks(stage, i, baseDir, issues, issue);
    total += tasks.length;
    const gang = stage.gang ?? false;
    const sizePath = ['stages', i, stage.tasks !== undefined ? 'tasks' : 'count'];
    if (gang && tasks.length > MAX_GANG_SIZE) issues.push(issue(sizePath, `a gang stage has at most ${MAX_GANG_SIZE} tasks, not ${tasks.length}`));
    if (gang && input.parallelism !== undefined && tasks.length > input.parallelism) {
      issues.push(issue(['parallelism'], `${input.parallelism} is below the ${tasks.length} tasks of gang stage "${stage.name}", which must all run at once`));
    }
    if (!gang && stage.gangTimeoutSeconds !== undefined) issues.push(issue(['stages', i, 'gangTimeoutSeconds'], 'only a gang stage (gang: true) has a gang timeout'));
    return {
      name: stage.name,
      dependsOn: [...new Set(stage.dependsOn ?? [])],
      tasks,
      gang,
      gangTimeoutSeconds: stage.gangTimeoutSeconds ?? DEFAULT_GANG_TIMEOUT_SECONDS,
      localityWaitSeconds: stage.locality?.waitSeconds ?? DEFAULT_LOCALITY_WAIT_SECONDS,
    };
  });
  if (total > MAX_JOB_TASKS) issues.push(issue(['stages'], `a job has at most ${MAX_JOB_TASKS} tasks, not ${total}`));
  if (issues.length > 0) throw new JobSpecError(issues);

  return {
    name: input.name,
    priority: { ...(input.priority?.role !== undefined ? { role: input.priority.role } : {}), weight: input.priority?.weight ?? 1 },
    ...(input.parallelism !== undefined ? { parallelism: input.parallelism } : {}),
    ...(input.deadlineSeconds !== undefined ? { deadlineSeconds: input.deadlineSeconds } : {}),
    stages,
  };
}

type MakeIssue = (path: readonly PropertyKey[], message: string) => JobSpecIssue;
type ParsedStage = z.output<typeof JobSpecInputSchema>['stages'][number];
type ParsedTask = NonNullable<ParsedStage['task']>;

/** The stage's tasks, index by index; pushes what is wrong onto `issues`. */
function resolveStageTasks(stage: ParsedStage, i: number, baseDir: string, issues: JobSpecIssue[], issue: MakeIssue): TaskSpec[] {
  const templatePath = ['stages', i, 'task'];
  if (stage.count !== undefined && stage.tasks !== undefined) {
    issues.push(issue(['stages', i, 'count'], 'give either "count" (an array job) or "tasks" (explicit tasks), not both'));
    return [];
  }
  if (stage.task === undefined && stage.tasks === undefined) {
    issues.push(issue(templatePath, 'required (or give explicit "tasks")'));
    return [];
  }
  const template = stage.task;
  if (template !== undefined && template.command !== undefined && template.module !== undefined) {
    issues.push(issue(templatePath, 'give exactly one of "command" and "module", not both'));
    return [];
  }
  if (stage.tasks === undefined) {
    const one = resolveTask(template!, undefined, templatePath, templatePath, baseDir, issues, issue);
    return one === undefined ? [] : new Array<TaskSpec>(stage.count ?? 1).fill(one);
  }
  const out: TaskSpec[] = [];
  stage.tasks.forEach((entry, j) => {
    const task = resolveTask(template, entry, ['stages', i, 'tasks', j], templatePath, baseDir, issues, issue);
    if (task !== undefined) out.push(task);
  });
  return out;
}

/** Merges an explicit task over the template and resolves it; undefined (with issues pushed) when incomplete. */
function resolveTask(
  template: ParsedTask | undefined,
  entry: ParsedTask | undefined,
  path: readonly PropertyKey[],
  templatePath: readonly PropertyKey[],
  baseDir: string,
  issues: JobSpecIssue[],
  issue: MakeIssue,
): TaskSpec | undefined {
  const t: ParsedTask = template ?? {};
  const o: ParsedTask = entry ?? {};
  const where = entry === undefined ? '' : ' (here or in the stage\'s "task")';
  if (o.command !== undefined && o.module !== undefined) {
    issues.push(issue(path, 'give exactly one of "command" and "module", not both'));
    return undefined;
  }
  // An explicit task that says what to run replaces the template's command or module wholly.
  const ownRun = o.command !== undefined || o.module !== undefined;
  const command = ownRun ? o.command : t.command;
  const module = ownRun ? o.module : t.module;
  const exportName = o.export ?? (ownRun ? undefined : t.export);
  const exportPath = o.export !== undefined ? [...path, 'export'] : [...templatePath, 'export'];
  const resources = o.resources ?? t.resources;
  const args = o.args !== undefined ? o.args : t.args;
  const argsPath = o.args !== undefined ? [...path, 'args'] : [...templatePath, 'args'];
  const before = issues.length;
  if (command === undefined && module === undefined) issues.push(issue(path, `give "command" or "module"${where}`));
  if (module === undefined && exportName !== undefined) issues.push(issue(exportPath, '"export" goes with "module"'));
  if (resources === undefined) issues.push(issue([...path, 'resources'], `required${where}`));
  if (command !== undefined && args !== undefined && !isCommandArgs(args)) {
    issues.push(issue(argsPath, "a command's args are a list of strings, numbers or booleans"));
  }
  if (issues.length > before || resources === undefined) return undefined;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...t.env, ...o.env })) env[k] = String(v);
  const prefer = o.prefer ?? t.prefer;
  const timeoutSeconds = o.timeoutSeconds ?? t.timeoutSeconds;
  return {
    run: command !== undefined ? { kind: 'command', command } : { kind: 'module', module: resolveModule(module!, baseDir), export: exportName ?? 'default' },
    ...(args !== undefined ? { args: args as JsonValue } : {}),
    env,
    resources: { ...resources },
    retries: o.retries ?? t.retries ?? 0,
    backoffSeconds: o.backoffSeconds ?? t.backoffSeconds ?? DEFAULT_BACKOFF_SECONDS,
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    prefer: resolvePrefer(prefer),
  };
}

function isCommandArgs(args: unknown): boolean {
  return Array.isArray(args) && args.every((a) => typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean');
}

function resolvePrefer(prefer: TaskSpecInput['prefer']): PreferSpec {
  return { hosts: [...(prefer?.hosts ?? [])], racks: [...(prefer?.racks ?? [])], zones: [...(prefer?.zones ?? [])] };
}

/** A path relative to the spec's directory becomes absolute; a URL (`file:`, `data:`, `node:`) stays as it is. */
function resolveModule(module: string, baseDir: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(module)) return module;
  return isAbsolute(module) ? module : resolve(baseDir, module);
}

/** The first cycle among the stages' dependencies, as names with the first repeated last. */
export function findCycle(stages: readonly Pick<StageSpecInput, 'name' | 'dependsOn'>[]): string[] | undefined {
  const deps = new Map(stages.map((s) => [s.name, s.dependsOn ?? []]));
  const color = new Map<string, 'grey' | 'black'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    color.set(name, 'grey');
    stack.push(name);
    for (const dep of deps.get(name) ?? []) {
      const c = color.get(dep);
      if (c === 'grey') return [...stack.slice(stack.indexOf(dep)), dep];
      if (c === undefined && deps.has(dep)) {
        const found = visit(dep);
        if (found !== undefined) return found;
      }
    }
    stack.pop();
    color.set(name, 'black');
    return undefined;
  };
  for (const stage of stages) {
    if (color.has(stage.name)) continue;
    const found = visit(stage.name);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** zod's issues as spec issues: paths formatted, messages in the spec's words. */
function zodIssues(error: z.ZodError, input: unknown, issue: MakeIssue): JobSpecIssue[] {
  const out: JobSpecIssue[] = [];
  for (const i of error.issues) {
    if (i.code === 'unrecognized_keys') {
      for (const key of i.keys) out.push(issue([...i.path, key], `unknown field${suggest(key, KNOWN_FIELDS)}`));
    } else if (i.code === 'invalid_type' && valueAt(input, i.path) === undefined) {
      out.push(issue(i.path, 'required'));
    } else if (i.code === 'invalid_type' && i.message.startsWith('Invalid input')) {
      out.push(issue(i.path, `expected ${article(i.expected)}`));
    } else {
      out.push(issue(i.path, i.message));
    }
  }
  return out;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** ` (did you mean "task"?)` when a known name is close enough to `word`. */
function suggest(word: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && best !== word ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The line of the node at `path` (or of its key, when the node is missing or the key unknown). */
function lineInDocument(doc: Document, counter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  const lineAt = (n: unknown) => {
    const range = (n as { range?: [number, number, number] } | null)?.range;
    return range !== undefined ? counter.linePos(range[0]).line : undefined;
  };
  let line = lineAt(node);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (pair === undefined) return line;
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      line = lineAt(node) ?? line;
    } else {
      return line;
    }
  }
  return line;
}
