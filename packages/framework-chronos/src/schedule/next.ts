/**
 * Which fire times of a job start now, which are missed, and when the job fires next: the pure
 * decision the schedule engine makes each time its timer goes off, after a restart, or after
 * the clock jumped.
 *
 * The model, for fire times in `(lastScheduled, now]`:
 *
 * - A fire time at most the start window late (`now − t ≤ window`; the window is `epsilon`, or
 *   `startingDeadlineSeconds` when given) starts: several of them start, in order, when the
 *   period is shorter than the window, as in Chronos.
 * - A fire time more than the window late is missed. `catchUp` decides: `none` skips them
 *   (Chronos' behaviour: its `skipForward` drops invocations older than epsilon); `one` starts
 *   the latest of them once, when no fire time inside the window starts anyway; `all` starts
 *   every one of them, oldest first.
 * - Nothing at or before `lastScheduled` is ever returned, so a clock that jumps backwards never
 *   fires a time twice; a clock that jumps forwards produces missed fire times, handled as above.
 * - Work per call is bounded by `limit`: at most that many runs start (the rest follow in the
 *   next call, as `next` is then already due), and past that many missed times the rest are
 *   counted no further (`truncated`).
 *
 * @example
 * ```ts
 * const r = dueRuns(job, lastScheduled, clock.now());
 * for (const run of r.start) launch(job, run.scheduledAt, run.kind);
 * state.lastScheduled = r.lastScheduled;
 * ```
 * @module
 */

import { type CatchUpPolicy, type Job, startWindowMs } from '../job/schema.js';
import { parseSchedule, type Schedule } from './schedule.js';

/** Why a run starts: its fire time came (`scheduled`, at most the window late) or it is caught up after being missed. */
export type DueKind = 'scheduled' | 'catch-up';

/** A fire time that starts a run now. */
export interface DueRun {
  /** The fire time (ms). */
  scheduledAt: number;
  /** Whether it is on time (within the window) or caught up. */
  kind: DueKind;
  /** How late it starts: `now − scheduledAt` (ms). */
  lateMs: number;
}

/** What {@link dueRunsOf} decided. */
export interface DueRunsResult {
  /** Runs to start, oldest fire time first. */
  start: DueRun[];
  /** Missed fire times that do not start, oldest first (at most `limit` of them). */
  missed: number[];
  /** How many fire times were missed in all (a lower bound when {@link truncated}). */
  missedCount: number;
  /** Whether more fire times were missed than were counted. */
  truncated: boolean;
  /** Everything at or before this has been handled: store it and pass it back next time. */
  lastScheduled: number;
  /** The next fire time after {@link lastScheduled}; at or before `now` when more runs are due at once than `limit`. */
  next: number | undefined;
}

/** Options of {@link dueRunsOf}. */
export interface DueRunsOptions {
  /** The start window (ms): `epsilon` or `startingDeadlineSeconds`. */
  windowMs: number;
  /** What happens to fire times missed by more than the window. @default 'none' */
  catchUp?: CatchUpPolicy;
  /** Most runs started, and most missed fire times listed, per call. @default 1000 */
  limit?: number;
}

/**
 * The latest fire time in `(floor, x]`, found with `next()` alone by probing further and further
 * back from `x`: O(log(x − result)) calls for a regular schedule.
 */
export function latestFireTimeAtOrBefore(schedule: Schedule, x: number, floor: number): number | undefined {
  let step = 1000;
  for (;;) {
    const probe = Math.max(floor, x - step);
    const t = schedule.next(probe);
    if (t !== undefined && t <= x) {
      let best = t;
      for (let n = schedule.next(best); n !== undefined && n <= x; n = schedule.next(best)) best = n;
      return best;
    }
    if (probe === floor) return undefined;
    step *= 2;
  }
}

/**
 * Decides which fire times of `schedule` in `(lastScheduled, now]` start and which are missed.
 * `lastScheduled` undefined means the job has never been scheduled: fire times before the
 * window are then not missed, they predate the job.
 */
export function dueRunsOf(schedule: Schedule, lastScheduled: number | undefined, now: number, options: DueRunsOptions): DueRunsResult {
  const window = Math.max(0, options.windowMs);
  const catchUp = options.catchUp ?? 'none';
  const limit = Math.max(1, options.limit ?? 1000);
  const liveFrom = now - window; // a fire time t with t >= liveFrom is within the window
  let processed = lastScheduled ?? liveFrom - 1;
  const start: DueRun[] = [];
  const missed: number[] = [];
  let missedCount = 0;
  let truncated = false;
  let latestMissed: number | undefined;

  let t = schedule.next(processed);
  while (t !== undefined && t <= now) {
    if (t >= liveFrom) {
      start.push({ scheduledAt: t, kind: 'scheduled', lateMs: now - t });
      processed = t;
      if (start.length >= limit) break;
    } else if (catchUp === 'all') {
      start.push({ scheduledAt: t, kind: 'catch-up', lateMs: now - t });
      processed = t;
      if (start.length >= limit) break;
    } else {
      missedCount++;
      if (missed.length < limit) missed.push(t);
      latestMissed = t;
      processed = t;
      if (missedCount >= limit) {
        // Too many to list: jump to the window, finding the latest missed time for `one`.
        truncated = true;
        if (catchUp === 'one') {
          const latest = latestFireTimeAtOrBefore(schedule, liveFrom - 1, t);
          if (latest !== undefined) {
            latestMissed = latest;
            missedCount++;
          }
        }
        processed = liveFrom - 1;
        t = schedule.next(processed);
        continue;
      }
    }
    t = schedule.next(t);
  }

  if (catchUp === 'one' && latestMissed !== undefined && !start.some((r) => r.kind === 'scheduled')) {
    start.unshift({ scheduledAt: latestMissed, kind: 'catch-up', lateMs: now - latestMissed });
    missedCount--;
    const i = missed.lastIndexOf(latestMissed);
    if (i >= 0) missed.splice(i, 1);
  }

  return { start, missed, missedCount, truncated, lastScheduled: processed, next: schedule.next(processed) };
}

/** Options of {@link dueRuns}. */
export interface JobDueRunsOptions {
  /** The job's parsed schedule, when the caller has it (parsing a cron expression costs). */
  schedule?: Schedule;
  /** Most runs started, and most missed fire times listed, per call. @default 1000 */
  limit?: number;
}

/**
 * {@link dueRunsOf} for a job: its schedule in its `scheduleTimeZone`, its start window and its
 * `catchUp` policy. A dependent or disabled job has no due runs.
 */
export function dueRuns(job: Job, lastScheduled: number | undefined, now: number, options: JobDueRunsOptions = {}): DueRunsResult {
  if (job.schedule === undefined || job.disabled) {
    return { start: [], missed: [], missedCount: 0, truncated: false, lastScheduled: lastScheduled ?? now, next: undefined };
  }
  const schedule = options.schedule ?? parseSchedule(job.schedule, job.scheduleTimeZone, now);
  return dueRunsOf(schedule, lastScheduled, now, {
    windowMs: startWindowMs(job),
    catchUp: job.catchUp,
    ...(options.limit === undefined ? {} : { limit: options.limit }),
  });
}
