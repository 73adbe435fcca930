/**
 * Runs of a job as plain data, and their life as pure transitions: `applyRunEvent(run, job,
 * event)` returns the next run and the effects the scheduler must carry out (kill tasks, retry
 * after a delay, tell the dependency graph, update the job's statistics). Nothing here does I/O
 * or reads a clock: every event carries its time.
 *
 * ```text
 * QUEUED ──launch──▶ STARTING ──running──▶ RUNNING ──exited 0──▶ SUCCEEDED
 *   │  ▲                 │                    │
 *   │  └──── retry ◀─────┴── exited ≠ 0 / failed (attempt ≤ retries, after retryDelayMs)
 *   │                    └──────────────────── exited ≠ 0 / failed (no retries left) ──▶ FAILED
 *   ├──skip──▶ SKIPPED                          timeout (maxCompletionTime) / kill ──▶ KILLED
 *   └──kill──▶ KILLED
 * ```
 *
 * Events about a run that has already ended (a duplicate or late task status, which
 * at-least-once delivery produces) change nothing and have no effects; an event that makes no
 * sense for the status (`running` for a QUEUED run) throws {@link InvalidRunTransitionError}.
 *
 * @example
 * ```ts
 * let run = createRun({ id: 'r1', job: job.name, trigger: 'schedule', scheduledAt, now });
 * ({ run } = applyRunEvent(run, job, { type: 'launch', taskId: 't1', at: now }));
 * const step = applyRunEvent(run, job, { type: 'exited', exitCode: 1, at: later });
 * step.effects; // [{ type: 'retry', at: later + job.retryDelayMs }]
 * ```
 * @module
 */

import { InvalidRunTransitionError } from '../errors.js';
import type { ConcurrencyPolicy, Job, JobStats } from '../job/schema.js';
import { formatInstant } from '../schedule/iso8601.js';

/** What started a run. */
export type RunTrigger = 'schedule' | 'parent' | 'manual';

/** Every run status. */
export const RUN_STATUSES = ['QUEUED', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'KILLED', 'SKIPPED'] as const;

/** Where a run is in its life. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses a run ends in. */
export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['SUCCEEDED', 'FAILED', 'KILLED', 'SKIPPED']);

/** Per-run changes to the job's command: extra arguments (Chronos' `?arguments=`) and environment. */
export interface RunOverrides {
  arguments?: string[] | undefined;
  env?: Record<string, string> | undefined;
}

/** One run of a job: from being queued, through its attempts (tasks), to its end. */
export interface Run {
  /** Unique id of the run. */
  id: string;
  /** The job's name. */
  job: string;
  /** What started it. */
  trigger: RunTrigger;
  /** The fire time it is for (schedule); the time its parents were satisfied (parent). */
  scheduledAt?: number | undefined;
  status: RunStatus;
  /** The attempt under way or last made, from 1. */
  attempt: number;
  /** When the current attempt was launched (ms). */
  startedAt?: number | undefined;
  /** When the current attempt's task was first reported running (ms). */
  runningAt?: number | undefined;
  /** When the run ended (ms). */
  endedAt?: number | undefined;
  /** The exit code of the last attempt, when it had one. */
  exitCode?: number | undefined;
  /** The task of every attempt, oldest first; the last is the current one. */
  taskIds: string[];
  overrides?: RunOverrides | undefined;
  /** Why it failed, was killed or skipped; the last attempt's failure while a retry waits. */
  message?: string | undefined;
  /** When the run was created (ms). */
  queuedAt: number;
  /** A queued retry may not launch before this (ms). */
  notBefore?: number | undefined;
}

/** Whether a run has ended. */
export function isTerminal(run: Pick<Run, 'status'>): boolean {
  return TERMINAL_RUN_STATUSES.has(run.status);
}

/** Whether a run is queued, starting or running. */
export function isActive(run: Pick<Run, 'status'>): boolean {
  return !TERMINAL_RUN_STATUSES.has(run.status);
}

/** What {@link createRun} needs. */
export interface CreateRunInput {
  id: string;
  job: string;
  trigger: RunTrigger;
  scheduledAt?: number | undefined;
  overrides?: RunOverrides | undefined;
  /** Now (ms). */
  now: number;
}

/** A new run, QUEUED for its first attempt. */
export function createRun(input: CreateRunInput): Run {
  return {
    id: input.id,
    job: input.job,
    trigger: input.trigger,
    ...(input.scheduledAt === undefined ? {} : { scheduledAt: input.scheduledAt }),
    status: 'QUEUED',
    attempt: 1,
    taskIds: [],
    ...(input.overrides === undefined ? {} : { overrides: input.overrides }),
    queuedAt: input.now,
  };
}

/** Something that happens to a run. Each carries its time `at` (ms). */
export type RunEvent =
  /** A task was launched for the current attempt. */
  | { type: 'launch'; taskId: string; at: number }
  /** The task is running. */
  | { type: 'running'; at: number }
  /** The task exited with a code. */
  | { type: 'exited'; exitCode: number; at: number; message?: string }
  /** The task failed without an exit code (lost, error, dropped, gone). */
  | { type: 'failed'; at: number; message: string }
  /** Kill the run: by a user, or replaced by a newer run (`REPLACE`). */
  | { type: 'kill'; at: number; reason: string }
  /** The run will not start (`FORBID` while another run is active, the job was disabled, …). */
  | { type: 'skip'; at: number; reason: string }
  /** The run has been running longer than the job's `maxCompletionTime`; see {@link deadlineOf}. */
  | { type: 'timeout'; at: number };

/** How a finished run counts. `soft-failure` is a failure of a job with `softError`: its dependents still run. */
export type RunOutcome = 'success' | 'failure' | 'soft-failure' | 'killed' | 'skipped';

/** What the scheduler must do after a transition. */
export type RunEffect =
  /** Kill these tasks. */
  | { type: 'kill-tasks'; taskIds: string[] }
  /** Launch the next attempt at or after `at`. */
  | { type: 'retry'; at: number; attempt: number }
  /** The run ended: update the statistics, tell the dependency graph. */
  | { type: 'finished'; outcome: RunOutcome; at: number };

/** The result of {@link applyRunEvent}. */
export interface RunTransition {
  run: Run;
  effects: RunEffect[];
}

function invalid(run: Run, event: RunEvent): never {
  throw new InvalidRunTransitionError(run.id, run.status, event.type);
}

function fail(run: Run, job: Pick<Job, 'retries' | 'retryDelayMs' | 'softError'>, at: number, message: string, exitCode?: number): RunTransition {
  const withExit = exitCode === undefined ? run : { ...run, exitCode };
  if (run.attempt <= job.retries) {
    const retryAt = at + job.retryDelayMs;
    const next: Run = { ...withExit, status: 'QUEUED', attempt: run.attempt + 1, message, notBefore: retryAt };
    delete next.startedAt;
    delete next.runningAt;
    return { run: next, effects: [{ type: 'retry', at: retryAt, attempt: next.attempt }] };
  }
  const ended: Run = { ...withExit, status: 'FAILED', endedAt: at, message };
  delete ended.notBefore;
  return { run: ended, effects: [{ type: 'finished', outcome: job.softError ? 'soft-failure' : 'failure', at }] };
}

function currentTask(run: Run): string[] {
  const last = run.taskIds[run.taskIds.length - 1];
  return last === undefined || run.status === 'QUEUED' ? [] : [last];
}

/**
 * The next state of a run after an event, with the effects to carry out. Pure: the inputs are
 * not changed. Events about an ended run are ignored (no change, no effects).
 */
export function applyRunEvent(run: Run, job: Pick<Job, 'retries' | 'retryDelayMs' | 'softError' | 'maxCompletionTime'>, event: RunEvent): RunTransition {
  if (isTerminal(run)) return { run, effects: [] };
  switch (event.type) {
    case 'launch': {
      if (run.status !== 'QUEUED') invalid(run, event);
      const next: Run = { ...run, status: 'STARTING', startedAt: event.at, taskIds: [...run.taskIds, event.taskId] };
      delete next.notBefore;
      return { run: next, effects: [] };
    }
    case 'running':
      if (run.status === 'RUNNING') return { run, effects: [] };
      if (run.status !== 'STARTING') invalid(run, event);
      return { run: { ...run, status: 'RUNNING', runningAt: event.at }, effects: [] };
    case 'exited':
      if (run.status !== 'STARTING' && run.status !== 'RUNNING') invalid(run, event);
      if (event.exitCode === 0) {
        const { message: _drop, ...rest } = run;
        return {
          run: { ...rest, status: 'SUCCEEDED', exitCode: 0, endedAt: event.at },
          effects: [{ type: 'finished', outcome: 'success', at: event.at }],
        };
      }
      return fail(run, job, event.at, event.message ?? `exited with code ${event.exitCode}`, event.exitCode);
    case 'failed':
      if (run.status !== 'STARTING' && run.status !== 'RUNNING') invalid(run, event);
      return fail(run, job, event.at, event.message);
    case 'kill': {
      const tasks = currentTask(run);
      return {
        run: { ...run, status: 'KILLED', endedAt: event.at, message: event.reason },
        effects: [...(tasks.length > 0 ? [{ type: 'kill-tasks' as const, taskIds: tasks }] : []), { type: 'finished', outcome: 'killed', at: event.at }],
      };
    }
    case 'skip':
      if (run.status !== 'QUEUED') invalid(run, event);
      return {
        run: { ...run, status: 'SKIPPED', endedAt: event.at, message: event.reason },
        effects: [{ type: 'finished', outcome: 'skipped', at: event.at }],
      };
    case 'timeout': {
      if (run.status !== 'STARTING' && run.status !== 'RUNNING') invalid(run, event);
      const deadline = deadlineOf(run, job);
      if (deadline === undefined || event.at < deadline) return { run, effects: [] };
      // Killed for running too long: counted as an error, not retried (a retry would likely overrun too).
      return {
        run: { ...run, status: 'KILLED', endedAt: event.at, message: `maxCompletionTime of ${job.maxCompletionTime} ms exceeded` },
        effects: [
          { type: 'kill-tasks', taskIds: currentTask(run) },
          { type: 'finished', outcome: job.softError ? 'soft-failure' : 'failure', at: event.at },
        ],
      };
    }
  }
}

/**
 * When the current attempt of a run passes the job's `maxCompletionTime` (ms), or `undefined` when
 * the job has none or the run is not starting or running. Arm a timer for it; at that time apply
 * `{ type: 'timeout' }`.
 */
export function deadlineOf(run: Run, job: Pick<Job, 'maxCompletionTime'>): number | undefined {
  if (job.maxCompletionTime === undefined || run.startedAt === undefined) return undefined;
  if (run.status !== 'STARTING' && run.status !== 'RUNNING') return undefined;
  return run.startedAt + job.maxCompletionTime;
}

/** What to do with a new scheduled run, given the job's runs still active. */
export type Admission = { action: 'start' } | { action: 'skip'; reason: string } | { action: 'replace'; kill: string[] };

/**
 * Applies a job's `concurrencyPolicy` to a new run: `ALLOW` starts it; `FORBID` skips it while
 * another run is active (Metronome; Chronos with `concurrent: false`); `REPLACE` kills the
 * active runs (by id) and starts it.
 */
export function admitRun(policy: ConcurrencyPolicy, active: readonly Pick<Run, 'id' | 'status'>[]): Admission {
  const live = active.filter(isActive);
  if (live.length === 0 || policy === 'ALLOW') return { action: 'start' };
  if (policy === 'FORBID') return { action: 'skip', reason: `run ${live.map((r) => r.id).join(', ')} of the job is still active` };
  return { action: 'replace', kill: live.map((r) => r.id) };
}

/**
 * The job's statistics after a run ended, as Chronos keeps them: a success counts
 * `successCount`, sets `lastSuccess` and resets `errorsSinceLastSuccess`; a failure (soft or not,
 * or killed for running too long) counts `errorCount` and `errorsSinceLastSuccess` and sets
 * `lastError`. Killed (by a user) and skipped runs change nothing.
 */
export function recordOutcome(stats: JobStats, outcome: RunOutcome, at: number): JobStats {
  switch (outcome) {
    case 'success':
      return { ...stats, successCount: stats.successCount + 1, lastSuccess: formatInstant(at), errorsSinceLastSuccess: 0 };
    case 'failure':
    case 'soft-failure':
      return {
        ...stats,
        errorCount: stats.errorCount + 1,
        lastError: formatInstant(at),
        errorsSinceLastSuccess: stats.errorsSinceLastSuccess + 1,
      };
    default:
      return stats;
  }
}

/** A job's last status for the graph views, as Chronos' exporter computes it: `fresh` when it never ended, else the later of its last success and last error. */
export type LastStatus = 'success' | 'failure' | 'fresh';

/** The {@link LastStatus} of a job from its statistics. */
export function lastStatusOf(stats: Pick<JobStats, 'lastSuccess' | 'lastError'>): LastStatus {
  if (stats.lastSuccess === '' && stats.lastError === '') return 'fresh';
  if (stats.lastSuccess === '') return 'failure';
  if (stats.lastError === '') return 'success';
  return Date.parse(stats.lastSuccess) > Date.parse(stats.lastError) ? 'success' : 'failure';
}
