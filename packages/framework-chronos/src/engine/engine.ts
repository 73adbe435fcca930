/**
 * The schedule engine: one timer for all scheduled jobs, over a binary heap of their next fire
 * times. Upserting or removing a job is O(log n); the timer is re-armed only when the earliest
 * fire time changes. Time comes from an injected clock and timers from an injected scheduler, so
 * tests drive it with {@link ManualClock} and {@link ManualTimers} and never sleep.
 *
 * When the timer fires the engine asks {@link dueRunsOf} what each due job should do: start runs
 * (`onDue`, in fire-time order across jobs), skip missed ones (`onMissed`), and when to fire next.
 * Delays longer than `setTimeout` allows (2^31 − 1 ms, about 24.8 days) are slept in steps.
 * A wall clock that jumps backwards never re-fires a time; one that jumps forwards is seen the
 * next time the timer fires (or at once, with {@link ScheduleEngine.runDue}) and treated as
 * missed fire times, per each job's `catchUp`.
 *
 * The engine only decides when; it does not launch anything. The progress of each job
 * (`lastScheduled`) is plain data: read it with {@link ScheduleEngine.progressOf} after `onDue` to
 * store it, and pass it back to {@link ScheduleEngine.upsert} after a restart.
 *
 * @example
 * ```ts
 * const engine = new ScheduleEngine({
 *   onDue: (name, scheduledAt, kind) => queue.push({ name, scheduledAt, kind }),
 * });
 * engine.upsert(parseJob(body), await store.get(`state/${body.name}`));
 * ```
 * @module
 */

import type { CatchUpPolicy, Job } from '../job/schema.js';
import { startWindowMs } from '../job/schema.js';
import { type DueKind, dueRunsOf } from '../schedule/next.js';
import { parseSchedule, type Schedule } from '../schedule/schedule.js';
import { TimerHeap } from './heap.js';

/** Where the engine reads the time. */
export interface EngineClock {
  /** Now, ms since the epoch. */
  now(): number;
}

/** How the engine arms its one timer: `setTimeout`/`clearTimeout` or a fake. */
export interface EngineTimers {
  /** Calls `fn` once after `ms`; returns a handle for {@link clear}. */
  set(fn: () => void, ms: number): unknown;
  /** Disarms a timer armed with {@link set}. */
  clear(handle: unknown): void;
}

/** The progress of one job's schedule, as plain data to store. */
export interface JobScheduleState {
  /** Every fire time at or before this has been handled (started or recorded as missed). */
  lastScheduled?: number | undefined;
}

/** Fire times of a job that were missed and do not start. */
export interface MissedFireTimes {
  /** The fire times, oldest first (at most the engine's `limit`). */
  times: number[];
  /** How many in all (a lower bound when `truncated`). */
  count: number;
  /** Whether more were missed than counted. */
  truncated: boolean;
}

/** The largest delay `setTimeout` accepts: 2^31 − 1 ms. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Options of a {@link ScheduleEngine}. Every field but `onDue` is optional. */
export interface ScheduleEngineOptions {
  /** Called for each run to start, in fire-time order. Read {@link ScheduleEngine.progressOf} here to store progress. */
  onDue(jobName: string, scheduledTime: number, kind: DueKind): void;
  /** Called for fire times that were missed and do not start. */
  onMissed?(jobName: string, missed: MissedFireTimes): void;
  /** Called with an error thrown by `onDue` or `onMissed`; the engine carries on. @default rethrown once the engine is re-armed */
  onError?(error: unknown): void;
  /** @default `{ now: Date.now }` */
  clock?: EngineClock;
  /** @default `setTimeout` / `clearTimeout` */
  timers?: EngineTimers;
  /** The longest single timer delay (ms). @default 2^31 − 1 */
  maxTimerDelayMs?: number;
  /** Most runs started, and missed times listed, per job per decision. @default 1000 */
  limit?: number;
  /** Most runs started per timer firing; the rest follow on an immediate timer. @default 10000 */
  maxRunsPerTick?: number;
  /**
   * Hand fire times over this long before they are due (`onDue` then gets a `scheduledTime` in
   * the future), so the caller can prepare the runs ahead. Missed-time decisions keep the job's
   * own window, measured from the time itself. @default 0
   */
  leadMs?: number;
}

const systemClock: EngineClock = { now: () => Date.now() };
const systemTimers: EngineTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface Entry {
  name: string;
  schedule: Schedule;
  /** The schedule expression and zone it was parsed from, to reuse it when unchanged. */
  source: string;
  windowMs: number;
  catchUp: CatchUpPolicy;
  cursor: number;
}

interface Decision {
  name: string;
  scheduledAt: number;
  kind: DueKind;
  order: number;
}

/** The state of an engine. */
export type ScheduleEngineState = 'running' | 'stopped';

/** One timer over a heap of next fire times. See the module documentation. */
export class ScheduleEngine implements Disposable {
  readonly #clock: EngineClock;
  readonly #timers: EngineTimers;
  readonly #onDue: ScheduleEngineOptions['onDue'];
  readonly #onMissed: ScheduleEngineOptions['onMissed'];
  readonly #onError: ScheduleEngineOptions['onError'];
  readonly #maxDelay: number;
  readonly #limit: number;
  readonly #maxRunsPerTick: number;
  readonly #lead: number;
  readonly #entries = new Map<string, Entry>();
  readonly #heap = new TimerHeap();
  #handle: unknown;
  #armed = false;
  #armedFor: number | undefined;
  #ticking = false;
  #state: ScheduleEngineState = 'running';

  constructor(options: ScheduleEngineOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#onDue = options.onDue;
    this.#onMissed = options.onMissed;
    this.#onError = options.onError;
    this.#maxDelay = Math.min(MAX_TIMER_DELAY_MS, Math.max(1, options.maxTimerDelayMs ?? MAX_TIMER_DELAY_MS));
    this.#limit = options.limit ?? 1000;
    this.#maxRunsPerTick = options.maxRunsPerTick ?? 10_000;
    this.#lead = Math.max(0, options.leadMs ?? 0);
  }

  /** `running` until {@link stop}. */
  get state(): ScheduleEngineState {
    return this.#state;
  }

  /** How many jobs are scheduled (including exhausted ones, which have no next fire time). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Adds a job or replaces its definition. A disabled or dependent job is removed instead. The
   * job's progress is `state.lastScheduled` when given, else what the engine already had, else
   * "new": fire times older than the start window are then not missed, they predate the job.
   * Throws a `ScheduleParseError` for a bad schedule, leaving the engine unchanged.
   */
  upsert(job: Job, state: JobScheduleState = {}): void {
    if (this.#state === 'stopped') return;
    if (job.schedule === undefined || job.disabled) {
      this.remove(job.name);
      return;
    }
    const existing = this.#entries.get(job.name);
    const source = `${job.scheduleTimeZone ?? ''}\u0000${job.schedule}`;
    const schedule =
      existing?.source === source ? existing.schedule : parseSchedule(job.schedule, job.scheduleTimeZone, this.#clock.now());
    const windowMs = startWindowMs(job);
    const cursor = state.lastScheduled ?? existing?.cursor ?? this.#clock.now() - windowMs - 1;
    const entry: Entry = { name: job.name, schedule, source, windowMs, catchUp: job.catchUp, cursor };
    this.#entries.set(job.name, entry);
    this.#place(entry);
    this.#rearm();
  }

  /** Removes a job; whether it was there. */
  remove(name: string): boolean {
    const had = this.#entries.delete(name);
    this.#heap.delete(name);
    this.#rearm();
    return had;
  }

  /** Whether a job is scheduled. */
  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The progress of a job, to store; `undefined` for a job the engine does not have. */
  progressOf(name: string): JobScheduleState | undefined {
    const e = this.#entries.get(name);
    return e === undefined ? undefined : { lastScheduled: e.cursor };
  }

  /** The next fire time of a job, or `undefined` when it has none (unknown, or its schedule is exhausted). */
  nextFireTime(name: string): number | undefined {
    return this.#heap.timeOf(name);
  }

  /** The earliest next fire time of all jobs, with its job. */
  peek(): { name: string; time: number } | undefined {
    const top = this.#heap.peek();
    return top === undefined ? undefined : { name: top.id, time: top.time };
  }

  /** The time the timer is armed for, if it is armed; for tests and metrics. */
  get armedFor(): number | undefined {
    return this.#armed ? this.#armedFor : undefined;
  }

  /**
   * Handles every fire time due now, at once, and re-arms. The timer calls this; call it too
   * when the wall clock is known to have jumped.
   */
  runDue(): void {
    if (this.#state === 'stopped' || this.#ticking) return;
    this.#disarm();
    this.#ticking = true;
    const decisions: Decision[] = [];
    const missed: [string, MissedFireTimes][] = [];
    let more = false;
    try {
      // With a lead, fire times up to `lead` ahead count as due; the window stretches by as much,
      // so what is missed is decided as if it were now.
      const now = this.#clock.now() + this.#lead;
      for (let top = this.#heap.peek(); top !== undefined && top.time <= now; top = this.#heap.peek()) {
        if (decisions.length >= this.#maxRunsPerTick) {
          more = true;
          break;
        }
        const entry = this.#entries.get(top.id)!;
        const r = dueRunsOf(entry.schedule, entry.cursor, now, { windowMs: entry.windowMs + this.#lead, catchUp: entry.catchUp, limit: this.#limit });
        entry.cursor = r.lastScheduled;
        for (const run of r.start) decisions.push({ name: entry.name, scheduledAt: run.scheduledAt, kind: run.kind, order: decisions.length });
        if (r.missedCount > 0) missed.push([entry.name, { times: r.missed, count: r.missedCount, truncated: r.truncated }]);
        if (r.next === undefined) this.#heap.delete(entry.name);
        else this.#heap.set(entry.name, r.next);
      }
    } finally {
      this.#ticking = false;
    }
    decisions.sort((a, b) => a.scheduledAt - b.scheduledAt || a.order - b.order);
    let firstError: unknown;
    let failed = false;
    const guard = (fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        if (this.#onError) this.#onError(e);
        else if (!failed) {
          failed = true;
          firstError = e;
        }
      }
    };
    for (const [name, m] of missed) if (this.#onMissed) guard(() => this.#onMissed!(name, m));
    for (const d of decisions) guard(() => this.#onDue(d.name, d.scheduledAt, d.kind));
    if (more) this.#arm(0, this.#clock.now());
    else this.#rearm();
    if (failed) throw firstError;
  }

  /** Disarms the timer and forgets every job. */
  stop(): void {
    this.#state = 'stopped';
    this.#disarm();
    this.#heap.clear();
    this.#entries.clear();
  }

  /** {@link stop}, for `using`. */
  [Symbol.dispose](): void {
    this.stop();
  }

  /** Puts an entry in the heap at its next fire time after its cursor, or out of it when exhausted. */
  #place(entry: Entry): void {
    const next = entry.schedule.next(entry.cursor);
    if (next === undefined) this.#heap.delete(entry.name);
    else this.#heap.set(entry.name, next);
  }

  #disarm(): void {
    if (this.#armed) this.#timers.clear(this.#handle);
    this.#armed = false;
    this.#handle = undefined;
    this.#armedFor = undefined;
  }

  #arm(delay: number, target: number): void {
    this.#disarm();
    this.#armed = true;
    this.#armedFor = target;
    this.#handle = this.#timers.set(() => {
      this.#armed = false;
      this.runDue();
    }, delay);
  }

  /** Arms the timer for the earliest fire time, unless it already is. */
  #rearm(): void {
    if (this.#ticking || this.#state === 'stopped') return;
    const top = this.#heap.peek();
    if (top === undefined) {
      this.#disarm();
      return;
    }
    if (this.#armed && this.#armedFor === top.time) return;
    const delay = Math.min(this.#maxDelay, Math.max(0, top.time - this.#lead - this.#clock.now()));
    this.#arm(delay, top.time);
  }
}
