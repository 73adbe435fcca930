/**
 * Job definitions in Chronos 3's JSON form, checked with zod: a scheduled job has a `schedule`
 * (ISO 8601 `R[n]/<start>/<period>`, or as a Stoa extension a cron expression), a dependent job
 * has `parents` instead; never both. Unknown fields are errors naming the field.
 *
 * Defaults are Chronos': `shell` true, `retries` 2, `cpus` 0.1, `mem` 128, `disk` 256,
 * `epsilon` PT60S (the `--task_epsilon` default). Extensions from Metronome and Kubernetes
 * CronJobs: `concurrencyPolicy` (`concurrent: true` is `ALLOW`), `startingDeadlineSeconds`
 * (when given, it replaces `epsilon` as the start window), `catchUp` (what happens to fire times
 * missed beyond the window), and `retryDelayMs` (Chronos has one global `--failure_retry`).
 *
 * The statistics Chronos returns with a job (`successCount`, `errorCount`, `lastSuccess`,
 * `lastError`, `errorsSinceLastSuccess`) are accepted on input, so a job read with GET can be PUT
 * back, and ignored: the scheduler owns them ({@link JobStats}). Chronos fields Stoa does not
 * implement (`executor`, `async`, `container`, …) are accepted only with their default value.
 *
 * @example
 * ```ts
 * const job = parseJob({ name: 'nightly', command: 'backup.sh', schedule: 'R/2025-01-01T02:00:00Z/P1D' });
 * job.retries; // 2
 * const r = safeParseJob({ name: 'x', command: 'y', schedule: 'R/2025-01-01T02:00:00Z/P1D', colour: 'red' });
 * r.ok || r.error.field; // 'colour'
 * ```
 * @module
 */

import { type Constraint, ValidationError, validateConstraints } from '@stoa/sdk';
import { z } from 'zod';
import { type FieldIssue, JobValidationError, ScheduleParseError } from '../errors.js';
import { fixedDurationMs, parseIsoDuration } from '../schedule/iso8601.js';
import { isIso8601Expression, parseSchedule } from '../schedule/schedule.js';

/** Chronos' job-name rule (`JobUtils.jobNamePattern`): letters, digits, `_`, `-`, `#`, `.` and whitespace. */
export const JOB_NAME_PATTERN = /^[\w\s.#-]+$/;

/** How runs of one job may overlap (Metronome's `concurrencyPolicy`). */
export const CONCURRENCY_POLICIES = ['ALLOW', 'FORBID', 'REPLACE'] as const;

/** `ALLOW`: start regardless; `FORBID`: skip a fire time while a run is active; `REPLACE`: kill the active run, then start. */
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

/** What happens to fire times missed by more than the start window. */
export const CATCH_UP_POLICIES = ['none', 'one', 'all'] as const;

/** `none`: skip them all (Chronos); `one`: run the latest of them once; `all`: run each of them, in order. */
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];

/** An environment variable of a job's task. */
export interface EnvironmentVariable {
  name: string;
  value: string;
}

/** A file the agent fetches into the sandbox before the command starts (Mesos fetcher). */
export interface FetchUri {
  uri: string;
  /** Make the file executable. @default false */
  executable: boolean;
  /** Extract an archive. @default true */
  extract: boolean;
  /** Use the agent's fetcher cache. @default false */
  cache: boolean;
  /** Name of the file in the sandbox. */
  outputFile?: string | undefined;
}

/** A job, checked and with defaults applied. */
export interface Job {
  /** The job's name, unique; Chronos' rule {@link JOB_NAME_PATTERN}. */
  name: string;
  description: string;
  /** The command, run with `/bin/sh -c` when {@link shell} is true. */
  command: string;
  /** Run {@link command} through the shell; when false it is an executable and {@link arguments} its arguments. @default true */
  shell: boolean;
  /** Arguments of a non-shell command. @default [] */
  arguments: string[];
  /** ISO 8601 repeating interval or cron expression; absent for a dependent job. An empty ISO start is resolved to the parse time. */
  schedule?: string | undefined;
  /** IANA zone of the schedule. */
  scheduleTimeZone?: string | undefined;
  /** Parents of a dependent job; absent for a scheduled job. */
  parents?: string[] | undefined;
  /** Retries after a failed attempt. @default 2 */
  retries: number;
  /** Delay before a retry, ms (Stoa extension; Chronos' global `--failure_retry`). @default 60000 */
  retryDelayMs: number;
  /** A failure (after the retries) still lets dependent jobs run; it is counted as an error all the same. @default false */
  softError: boolean;
  /** Disabled jobs are not scheduled. @default false */
  disabled: boolean;
  /** Whether runs may overlap; the same as {@link concurrencyPolicy} `ALLOW`. @default false */
  concurrent: boolean;
  /** How runs may overlap. @default concurrent ? 'ALLOW' : 'FORBID' */
  concurrencyPolicy: ConcurrencyPolicy;
  /** @default 0.1 */
  cpus: number;
  /** MB. @default 128 */
  mem: number;
  /** MB. @default 256 */
  disk: number;
  /** Placement constraints, Chronos' (`EQUALS`, `LIKE`, `UNLIKE`) and Marathon's operators. @default [] */
  constraints: Constraint[];
  /** @default [] */
  environmentVariables: EnvironmentVariable[];
  /** Files to fetch; `uris` given alone become entries here. @default [] */
  fetch: FetchUri[];
  /** The URIs of {@link fetch} (Chronos' deprecated form, kept in step for old clients). @default [] */
  uris: string[];
  /** E-mail address(es) to notify of failures. @default '' */
  owner: string;
  /** Name of the person responsible. @default '' */
  ownerName: string;
  /** A run still running after this many ms is killed (Chronos' unit; 0, as in Chronos, means no limit). */
  maxCompletionTime?: number | undefined;
  /** Queue ahead of other jobs. @default false */
  highPriority: boolean;
  /** ISO 8601 duration: a fire time missed by less than this still starts. @default 'PT60S' */
  epsilon: string;
  /** Metronome's start window in seconds; when given it is used instead of {@link epsilon}. */
  startingDeadlineSeconds?: number | undefined;
  /** What happens to fire times missed by more than the window. @default 'none' */
  catchUp: CatchUpPolicy;
}

/** The statistics Chronos keeps per job; owned by the scheduler, never taken from a request. */
export interface JobStats {
  /** Successful runs. */
  successCount: number;
  /** Failed runs (after their retries). */
  errorCount: number;
  /** When the last success ended, ISO 8601, `''` when never. */
  lastSuccess: string;
  /** When the last failure ended, ISO 8601, `''` when never. */
  lastError: string;
  /** Failed runs since the last success. */
  errorsSinceLastSuccess: number;
}

/** The fields of {@link JobStats}: accepted in a job definition and ignored. */
export const JOB_STATS_FIELDS = ['successCount', 'errorCount', 'lastSuccess', 'lastError', 'errorsSinceLastSuccess'] as const;

/** Chronos fields Stoa does not implement, each with the value it accepts (the Chronos default). */
const UNSUPPORTED_FIELDS: Readonly<Record<string, unknown>> = {
  executor: '',
  executorFlags: '',
  taskInfoData: '',
  async: false,
  dataProcessingJobType: false,
  runAsUser: '',
  container: null,
};

/** The default start window, Chronos' `--task_epsilon` default of 60 seconds. */
export const DEFAULT_EPSILON = 'PT60S';

const toNumber = (v: unknown): unknown => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);

/** A number that Chronos clients sometimes send as a string (`"cpus": "0.5"`). */
const resource = (min: 'positive' | 'nonnegative', fallback: number) =>
  z
    .preprocess(toNumber, min === 'positive' ? z.number().finite().positive() : z.number().finite().nonnegative())
    .default(fallback);

const EnvironmentVariableSchema = z.strictObject({ name: z.string().min(1), value: z.string() });

const FetchSchema = z.strictObject({
  uri: z.string().min(1),
  executable: z.boolean().default(false),
  extract: z.boolean().default(true),
  cache: z.boolean().default(false),
  outputFile: z.string().min(1).optional(),
});

const ignored = z.unknown().optional();

/** The zod schema of a job definition as it arrives (before cross-field checks). */
export const JobInputSchema = z.strictObject({
  name: z.string().min(1, 'must not be empty').regex(JOB_NAME_PATTERN, {
    error: 'may contain only letters, digits, _, -, #, . and whitespace',
  }),
  description: z.string().default(''),
  command: z.string(),
  shell: z.boolean().default(true),
  arguments: z.array(z.string()).default([]),
  schedule: z.string().optional(),
  scheduleTimeZone: z.string().optional(),
  parents: z.array(z.string().min(1)).optional(),
  retries: z.int().min(0).max(1000).default(2),
  retryDelayMs: z.int().min(0).default(60_000),
  softError: z.boolean().default(false),
  disabled: z.boolean().default(false),
  concurrent: z.boolean().optional(),
  concurrencyPolicy: z.enum(CONCURRENCY_POLICIES).optional(),
  cpus: resource('positive', 0.1),
  mem: resource('positive', 128),
  disk: resource('nonnegative', 256),
  constraints: z.array(z.unknown()).default([]),
  environmentVariables: z.array(EnvironmentVariableSchema).default([]),
  fetch: z.array(FetchSchema).default([]),
  uris: z.array(z.string().min(1)).default([]),
  owner: z.string().default(''),
  ownerName: z.string().default(''),
  maxCompletionTime: z.int().min(0).optional(),
  highPriority: z.boolean().default(false),
  epsilon: z.string().default(DEFAULT_EPSILON),
  startingDeadlineSeconds: z.int().min(0).optional(),
  catchUp: z.enum(CATCH_UP_POLICIES).default('none'),
  // Read-only statistics: accepted so GET → PUT round-trips, then dropped.
  successCount: ignored,
  errorCount: ignored,
  lastSuccess: ignored,
  lastError: ignored,
  errorsSinceLastSuccess: ignored,
  // Chronos fields without a Stoa implementation: accepted with their default only.
  executor: ignored,
  executorFlags: ignored,
  taskInfoData: ignored,
  async: ignored,
  dataProcessingJobType: ignored,
  runAsUser: ignored,
  container: ignored,
});

type JobInput = z.output<typeof JobInputSchema>;

/** Options of {@link parseJob}. */
export interface ParseJobOptions {
  /** Now (ms): the start of a schedule written with an empty start (`R/​/PT1H`). @default Date.now() */
  now?: number;
}

function issueOf(path: readonly PropertyKey[], message: string): FieldIssue {
  return { path: path.map(String).join('.'), message };
}

function zodIssues(error: z.ZodError): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(issueOf([...issue.path, key], 'unknown field'));
      continue;
    }
    const message = issue.code === 'invalid_type' && /received undefined$/.test(issue.message) ? 'is required' : issue.message;
    out.push(issueOf(issue.path, message));
  }
  return out;
}

function checkSchedule(input: JobInput, issues: FieldIssue[], now: number): string | undefined {
  const tz = input.scheduleTimeZone === '' ? undefined : input.scheduleTimeZone;
  const hasParents = input.parents !== undefined && input.parents.length > 0;
  const hasSchedule = input.schedule !== undefined && input.schedule !== '';
  if (hasParents && hasSchedule) {
    issues.push({ path: 'parents', message: 'a job has either a schedule or parents, not both' });
    return undefined;
  }
  if (!hasParents && !hasSchedule) {
    issues.push({ path: 'schedule', message: 'a job needs a schedule or parents' });
    return undefined;
  }
  if (hasParents) {
    if (tz !== undefined) issues.push({ path: 'scheduleTimeZone', message: 'only a scheduled job has a time zone' });
    const seen = new Set<string>();
    input.parents!.forEach((p, i) => {
      if (p === input.name) issues.push({ path: `parents.${i}`, message: 'a job cannot be its own parent' });
      else if (seen.has(p)) issues.push({ path: `parents.${i}`, message: `'${p}' is listed twice` });
      seen.add(p);
    });
    return undefined;
  }
  const expression = input.schedule!;
  try {
    const schedule = parseSchedule(expression, tz, now);
    // An empty start means "now": pin it, so the job does not move each time it is loaded.
    return isIso8601Expression(expression) && expression.split('/')[1] === '' ? schedule.toString() : expression;
  } catch (e) {
    if (ScheduleParseError.isInstance(e)) {
      issues.push({ path: e.field ?? 'schedule', message: e.message.replace(/^(schedule|scheduleTimeZone): /, '') });
      return undefined;
    }
    throw e;
  }
}

function checkRest(input: JobInput, issues: FieldIssue[]): { constraints: Constraint[]; policy: ConcurrencyPolicy } {
  let constraints: Constraint[] = [];
  try {
    constraints = validateConstraints(input.constraints);
  } catch (e) {
    if (!ValidationError.isInstance(e)) throw e;
    issues.push({ path: (e as ValidationError).field ?? 'constraints', message: e.message.replace(/^constraints(\.\d+)?: /, '') });
  }

  try {
    const d = parseIsoDuration(input.epsilon, 'epsilon');
    if (fixedDurationMs(d) === undefined) issues.push({ path: 'epsilon', message: 'must not use years or months (no fixed length)' });
  } catch (e) {
    if (!ScheduleParseError.isInstance(e)) throw e;
    issues.push({ path: 'epsilon', message: e.message.replace(/^epsilon: /, '') });
  }

  if (input.shell && input.command.trim() === '') issues.push({ path: 'command', message: 'must not be empty' });
  if (!input.shell && input.command === '' && input.arguments.length === 0) issues.push({ path: 'command', message: 'must not be empty' });

  let policy: ConcurrencyPolicy = input.concurrent === true ? 'ALLOW' : 'FORBID';
  if (input.concurrencyPolicy !== undefined) {
    policy = input.concurrencyPolicy;
    if (input.concurrent !== undefined && input.concurrent !== (policy === 'ALLOW')) {
      issues.push({ path: 'concurrent', message: `concurrent: ${input.concurrent} contradicts concurrencyPolicy ${policy}` });
    }
  }

  for (const [field, accepted] of Object.entries(UNSUPPORTED_FIELDS)) {
    const value = (input as Record<string, unknown>)[field];
    if (value !== undefined && value !== accepted) {
      issues.push({ path: field, message: `is not supported by Stoa (only ${JSON.stringify(accepted)} is accepted)` });
    }
  }
  return { constraints, policy };
}

function fetchOf(input: JobInput): { fetch: FetchUri[]; uris: string[] } {
  // As Chronos' GET does: fetch and uris describe the same files; fetch wins when both are given.
  const fetch: FetchUri[] =
    input.fetch.length > 0 ? input.fetch : input.uris.map((uri) => ({ uri, executable: false, extract: true, cache: false }));
  return { fetch, uris: fetch.map((f) => f.uri) };
}

/** The result of {@link safeParseJob}. */
export type ParseJobResult = { ok: true; value: Job } | { ok: false; error: JobValidationError };

/** Checks a job definition; never throws for bad input. */
export function safeParseJob(input: unknown, options: ParseJobOptions = {}): ParseJobResult {
  const parsed = JobInputSchema.safeParse(input);
  if (!parsed.success) return { ok: false, error: new JobValidationError(zodIssues(parsed.error)) };
  const data = parsed.data;
  const issues: FieldIssue[] = [];
  const schedule = checkSchedule(data, issues, options.now ?? Date.now());
  const { constraints, policy } = checkRest(data, issues);
  if (issues.length > 0) return { ok: false, error: new JobValidationError(issues) };

  const hasParents = data.parents !== undefined && data.parents.length > 0;
  const job: Job = {
    name: data.name,
    description: data.description,
    command: data.command,
    shell: data.shell,
    arguments: data.arguments,
    ...(hasParents
      ? { parents: data.parents }
      : { schedule, ...(data.scheduleTimeZone ? { scheduleTimeZone: data.scheduleTimeZone } : {}) }),
    retries: data.retries,
    retryDelayMs: data.retryDelayMs,
    softError: data.softError,
    disabled: data.disabled,
    concurrent: policy === 'ALLOW',
    concurrencyPolicy: policy,
    cpus: data.cpus,
    mem: data.mem,
    disk: data.disk,
    constraints,
    environmentVariables: data.environmentVariables,
    ...fetchOf(data),
    owner: data.owner,
    ownerName: data.ownerName,
    ...(data.maxCompletionTime === undefined || data.maxCompletionTime === 0 ? {} : { maxCompletionTime: data.maxCompletionTime }),
    highPriority: data.highPriority,
    epsilon: data.epsilon,
    ...(data.startingDeadlineSeconds === undefined ? {} : { startingDeadlineSeconds: data.startingDeadlineSeconds }),
    catchUp: data.catchUp,
  };
  return { ok: true, value: job };
}

/** Checks a job definition and applies defaults. Throws a {@link JobValidationError} (422) naming every bad field. */
export function parseJob(input: unknown, options: ParseJobOptions = {}): Job {
  const r = safeParseJob(input, options);
  if (!r.ok) throw r.error;
  return r.value;
}

/**
 * The start window of a job in ms: `startingDeadlineSeconds` when given, else `epsilon`. A fire
 * time missed by no more than this still starts.
 */
export function startWindowMs(job: Pick<Job, 'epsilon' | 'startingDeadlineSeconds'>): number {
  if (job.startingDeadlineSeconds !== undefined) return job.startingDeadlineSeconds * 1000;
  return fixedDurationMs(parseIsoDuration(job.epsilon, 'epsilon')) ?? 60_000;
}

/** Whether a job runs on a schedule (rather than after its parents). */
export function isScheduled(job: Pick<Job, 'schedule'>): job is Job & { schedule: string } {
  return job.schedule !== undefined;
}

/** Empty statistics for a new job. */
export function emptyJobStats(): JobStats {
  return { successCount: 0, errorCount: 0, lastSuccess: '', lastError: '', errorsSinceLastSuccess: 0 };
}
