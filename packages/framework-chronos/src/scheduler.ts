/**
 * The job runner: what the leading Chronos instance does. It holds the jobs, their records, the
 * dependency graph and the schedule engine; turns due fire times, ready children and manual runs
 * into runs; keeps a launch queue (high priority first) that offers drain through `placeTasks`;
 * and turns task statuses into run events. Everything a run goes through is written to the Store
 * before it is acted on:
 *
 * - a new run is written together with the schedule progress that produced it;
 * - a launch is written (with its task id) before the ACCEPT goes out;
 * - a task status that changes a record is acknowledged once that record is written, so a status
 *   lost to a crash is sent again by the agent; one that changes nothing (STARTING) is
 *   acknowledged at once (the agent sends RUNNING only after STARTING is acknowledged).
 *
 * Scheduled runs are prepared `prepareAheadMs` (10 s) before they are due: the engine hands their
 * fire times over early, and the run, the schedule progress and the launch with its task id go in
 * one write. Offers are revived and held meanwhile, and `launchAheadMs` (5 s) before the due time
 * the batch is placed on them and sent at once, with no write in between, each task marked to
 * start at its due time (`startAtMs`): the agents take the tasks ahead and start their processes
 * on time. Nothing starts before its due time. A job whose
 * concurrency policy could skip or replace the run (FORBID/REPLACE with an active run) is left to
 * its due time, and its stored progress stays short of that fire time until then. Catch-up fire
 * times (`catchUp`) of a FORBID job with an active run wait for it, in order, rather than being
 * skipped; the stored progress stays short of them too.
 *
 * On start it loads the Store, subscribes with the stored framework id (a failover: the master
 * keeps the tasks of the previous leader), asks the master about every task of an active run,
 * and re-queues the runs that were queued. A launch that was written but never reached the
 * master is answered "unknown" by reconciliation and goes back to the queue as the same attempt,
 * under the same task id, and not before its due time.
 *
 * @example
 * ```ts
 * const runner = await JobRunner.start({ state, transport, frameworkName: 'chronos' });
 * await runner.upsertJob({ name: 'hello', command: 'echo hi', schedule: 'R/2025-01-01T00:00:00Z/PT1M' }, 'iso8601');
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import {
  type CommandInfo,
  ConflictError,
  type KillRequest,
  NotFoundError,
  type Offer,
  placeTasks,
  SchedulerClient,
  type SchedulerClientLogger,
  type TaskDemand,
  type TaskStatus,
  type Transport,
} from '@stoa/sdk';
import type { EngineClock, EngineTimers } from './engine/engine.js';
import { ScheduleEngine } from './engine/engine.js';
import { InvalidRunTransitionError, JobValidationError } from './errors.js';
import { JobGraph, type RemovalResult } from './graph/dag.js';
import type { NodeStatus } from './graph/render.js';
import { isScheduled, type Job, type JobStats, parseJob, startWindowMs } from './job/schema.js';
import { type DueKind, latestFireTimeAtOrBefore } from './schedule/next.js';
import { parseSchedule } from './schedule/schedule.js';
import {
  admitRun,
  applyRunEvent,
  createRun,
  deadlineOf,
  isActive,
  lastStatusOf,
  type Run,
  type RunEffect,
  type RunEvent,
  type RunOutcome,
  type RunOverrides,
  type RunTrigger,
  recordOutcome,
} from './run/run.js';
import { type ChronosState, emptyJobRecord, type JobRecord, jobKey, RUN_HISTORY_LIMIT } from './state.js';

/** Something that happened, for the event stream (`/v1/scheduler/events`) and the failure webhook. */
export interface ChronosEvent {
  /** What happened. */
  type: 'job_added' | 'job_updated' | 'job_removed' | 'run_queued' | 'run_launched' | 'run_running' | 'run_finished' | 'runs_missed';
  /** The job. */
  job: string;
  /** When (ISO 8601). */
  at: string;
  /** The run, for run events. */
  run?: Run;
  /** How a finished run ended. */
  outcome?: RunOutcome;
  /** Details: why it failed, how many fire times were missed. */
  message?: string;
  /** The job's `owner`, on `run_finished`: who to tell of a failure. */
  owner?: string;
  /** The job's `ownerName`, on `run_finished`. */
  ownerName?: string;
}

/** A job as the API returns it: its definition with Chronos' statistics. */
export type JobView = Job & JobStats;

/** Options of {@link JobRunner.start}. */
export interface JobRunnerOptions {
  /** The Store records. */
  state: ChronosState;
  /** The bus to the master. */
  transport: Transport;
  /** The framework's name. @default 'chronos' */
  frameworkName?: string;
  /** The framework's principal. @default 'chronos' */
  principal?: string;
  /** The role its tasks run under. @default '*' */
  role?: string;
  /** How long the master keeps the tasks of a vanished leader. @default one week */
  failoverTimeoutMs?: number;
  /** The cluster's subject prefix. @default 'stoa' */
  subjectPrefix?: string;
  /** @default the system clock */
  clock?: EngineClock;
  /** @default setTimeout / clearTimeout */
  timers?: EngineTimers;
  /** Where it logs. @default nowhere */
  logger?: SchedulerClientLogger;
  /** Told of every event. */
  onEvent?(event: ChronosEvent): void;
  /**
   * Prepares scheduled runs this long before they are due: the run, the schedule progress and
   * the launch (with its task id) are written ahead, offers are revived and held, and at the due
   * time the runs go out in one ACCEPT with no write in between. Nothing starts before its due
   * time. 0 prepares nothing ahead. @default 10000
   */
  prepareAheadMs?: number;
  /**
   * Sends prepared runs to their agents this long before they are due, each task marked to start
   * at its due time (`startAtMs`): the agent takes it at once and starts its process at the due
   * time, so the launch path's cost (the master, the agents, the STARTING acknowledgement) is paid
   * ahead and the run starts on time. Clamped to `prepareAheadMs`. 0 sends them at the due time.
   * @default 5000
   */
  launchAheadMs?: number;
}

/** A scheduled run prepared ahead: its launch is written (once `written`), it goes out at `dueAt`. */
interface Staged {
  job: string;
  runId: string;
  taskId: string;
  dueAt: number;
  written: boolean;
}

const systemClock: EngineClock = { now: () => Date.now() };
const systemTimers: EngineTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
const noopLogger: SchedulerClientLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** The task id of a run's next task: `chronos.<job key>.<run id>.<n>`, so a status names its run. */
function taskIdOf(job: string, run: Run): string {
  return `chronos.${jobKey(job)}.${run.id}.${run.taskIds.length + 1}`;
}

/** The job and run a task id of {@link taskIdOf} names. */
function parseTaskId(taskId: string): { job: string; runId: string } | undefined {
  const parts = taskId.split('.');
  if (parts.length !== 4 || parts[0] !== 'chronos') return undefined;
  return { job: Buffer.from(parts[1]!, 'base64url').toString('utf8'), runId: parts[2]! };
}

/**
 * A launch the master never saw goes back to the queue as the same attempt, under the same task
 * id (the task never existed), and not before its due time (it may have been prepared ahead).
 */
function relaunch(run: Run, message: string, now: number): Run {
  const next = requeue(run, message);
  next.taskIds = run.taskIds.slice(0, -1);
  if (run.scheduledAt !== undefined && run.scheduledAt > now) next.notBefore = run.scheduledAt;
  return next;
}

/** A launch that never reached the master goes back to the queue as the same attempt. */
function requeue(run: Run, message: string): Run {
  const next: Run = { ...run, status: 'QUEUED', message };
  delete next.startedAt;
  delete next.runningAt;
  return next;
}

const LOST_STATES = new Set(['TASK_LOST', 'TASK_GONE', 'TASK_UNKNOWN', 'TASK_DROPPED']);

/** The run event a task status means, or `undefined` for none (STAGING, STARTING, KILLING). */
function eventOf(status: TaskStatus, run: Run, job: Job, now: number): RunEvent | 'relaunch' | undefined {
  switch (status.state) {
    case 'TASK_RUNNING':
      // When the task began running is the agent's word (its status time), kept within what this
      // clock allows: not before the launch, not after now.
      return run.status === 'STARTING' ? { type: 'running', at: Math.min(now, Math.max(run.startedAt ?? 0, status.timestampMs)) } : undefined;
    case 'TASK_FINISHED':
      return { type: 'exited', exitCode: 0, at: now };
    case 'TASK_FAILED':
      if (status.reason === 'REASON_MAX_COMPLETION_TIME_REACHED') return { type: 'timeout', at: Math.max(now, deadlineOf(run, job) ?? now) };
      if (status.exitCode !== undefined && status.exitCode !== 0) return { type: 'exited', exitCode: status.exitCode, at: now, ...(status.message ? { message: status.message } : {}) };
      return { type: 'failed', at: now, message: status.message ?? 'task failed' };
    case 'TASK_KILLED':
      return { type: 'failed', at: now, message: status.message ?? 'task killed' };
    case 'TASK_STAGING':
    case 'TASK_STARTING':
    case 'TASK_KILLING':
      return undefined;
    default:
      // The master does not know a task we wrote down: the launch never reached it. Try again.
      if (LOST_STATES.has(status.state) && status.reason === 'REASON_RECONCILIATION' && run.status === 'STARTING') return 'relaunch';
      return { type: 'failed', at: now, message: `${status.state}${status.message ? `: ${status.message}` : ''}` };
  }
}

/** Durations (ms) of a job's successful runs, oldest first. */
function durationsOf(record: JobRecord): number[] {
  return record.runs.filter((r) => r.status === 'SUCCEEDED' && r.startedAt !== undefined && r.endedAt !== undefined).map((r) => r.endedAt! - r.startedAt!);
}

/** The job runner of the leading instance. See the module documentation. */
export class JobRunner {
  readonly #opts: JobRunnerOptions;
  readonly #state: ChronosState;
  readonly #clock: EngineClock;
  readonly #timers: EngineTimers;
  readonly #log: SchedulerClientLogger;
  readonly #jobs = new Map<string, Job>();
  readonly #records = new Map<string, JobRecord>();
  #graph = new JobGraph();
  readonly #engine: ScheduleEngine;
  /** Runs ready to launch, by job and run id; high-priority jobs first. */
  readonly #queue = { high: [] as { job: string; runId: string }[], normal: [] as { job: string; runId: string }[] };
  readonly #retryTimers = new Set<unknown>();
  #client: SchedulerClient | undefined;
  /** Offers are suppressed or declined for long: the next queued run must revive. */
  #needRevive = false;
  #stopped = false;
  readonly #prepareAheadMs: number;
  readonly #launchAheadMs: number;
  /** Scheduled runs prepared ahead, by due time, each batch with its timer. */
  readonly #staged = new Map<number, { runs: Staged[]; timer: unknown }>();
  /** Prepared runs now due, waiting for their write or an offer. */
  #due: Staged[] = [];
  /** Scheduled fire times left to their due time (the concurrency policy decides then), by job. */
  readonly #deferred = new Map<string, Set<number>>();
  /** Catch-up fire times of FORBID jobs waiting, oldest first, for the job's active run to end. */
  readonly #backlog = new Map<string, number[]>();
  /** Offers kept for prepared runs due soon. */
  readonly #held = new Map<string, Offer>();
  /** Acknowledgements to send in the next turn of the event loop. */
  #acks: TaskStatus[] = [];
  #ackTimer: ReturnType<typeof setImmediate> | undefined;
  readonly #role: string;

  private constructor(options: JobRunnerOptions) {
    this.#opts = options;
    this.#state = options.state;
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#log = options.logger ?? noopLogger;
    this.#role = options.role ?? '*';
    this.#prepareAheadMs = Math.max(0, options.prepareAheadMs ?? 10_000);
    this.#launchAheadMs = Math.min(this.#prepareAheadMs, Math.max(0, options.launchAheadMs ?? 5000));
    this.#engine = new ScheduleEngine({
      clock: this.#clock,
      timers: this.#timers,
      leadMs: this.#prepareAheadMs,
      onDue: (name, at, kind) => this.#onDue(name, at, kind),
      onMissed: (name, missed) => this.#onMissed(name, missed.count),
      onError: (error) => this.#log.error({ err: String(error) }, 'schedule engine callback failed'),
    });
  }

  /** Loads the Store, subscribes to the master, reconciles and starts the schedule. */
  static async start(options: JobRunnerOptions): Promise<JobRunner> {
    const runner = new JobRunner(options);
    await runner.#start();
    return runner;
  }

  async #start(): Promise<void> {
    const { jobs, records, frameworkId } = await this.#state.load();
    for (const job of jobs) this.#jobs.set(job.name, job);
    for (const [name, record] of records) if (this.#jobs.has(name)) this.#records.set(name, record);
    this.#graph = new JobGraph(
      jobs.map((j) => ({ name: j.name, parents: j.parents })),
      Object.fromEntries(jobs.filter((j) => this.#records.get(j.name)?.satisfied).map((j) => [j.name, this.#records.get(j.name)!.satisfied!])),
    );
    for (const job of jobs) if (!this.#records.has(job.name)) this.#records.set(job.name, emptyJobRecord());

    const id = frameworkId ?? (await this.#state.saveFrameworkId(randomUUID()));
    const queued = [...this.#records].flatMap(([job, r]) => r.runs.filter((run) => run.status === 'QUEUED').map((run) => ({ job, run })));
    this.#needRevive = queued.length === 0;
    this.#client = await SchedulerClient.connect({
      transport: this.#opts.transport,
      framework: {
        id,
        name: this.#opts.frameworkName ?? 'chronos',
        principal: this.#opts.principal ?? 'chronos',
        roles: [this.#role],
        failoverTimeoutMs: this.#opts.failoverTimeoutMs ?? 7 * 24 * 3600_000,
        checkpoint: true,
      },
      ...(this.#needRevive ? { suppressedRoles: [this.#role] } : {}),
      ...(this.#opts.subjectPrefix ? { subjectPrefix: this.#opts.subjectPrefix } : {}),
      // Statuses that change nothing are acknowledged at once, the others once written.
      autoAcknowledge: false,
      logger: this.#log,
    });
    this.#client.on('OFFERS', (e) => this.#onOffers(e.offers));
    this.#client.on('RESCIND', (e) => {
      for (const id of e.offerIds) this.#held.delete(id);
    });
    this.#client.on('UPDATE', (e) => this.#onStatuses(e.statuses));

    // Ask the master about every task of an active run: the answers come as UPDATE events.
    const launched = [...this.#records.values()].flatMap((r) => r.runs.filter((run) => run.status === 'STARTING' || run.status === 'RUNNING').map((run) => run.taskIds.at(-1)!));
    if (launched.length > 0) await this.#client.reconcile(launched);
    for (const { job, run } of queued) this.#enqueue(job, run);
    for (const job of this.#jobs.values()) this.#schedule(job);
  }

  // ---- reads for the API ----------------------------------------------------------------------

  /** Every job with its statistics, in the order added. */
  jobs(): JobView[] {
    return [...this.#jobs.values()].map((job) => this.#view(job));
  }

  /** One job with its statistics; throws `NotFoundError`. */
  job(name: string): JobView {
    return this.#view(this.#need(name));
  }

  /** A job's runs, newest first; throws `NotFoundError`. */
  runs(name: string): Run[] {
    this.#need(name);
    return [...this.#record(name).runs].reverse();
  }

  /** The dependency graph (read only). */
  get graph(): JobGraph {
    return this.#graph;
  }

  /** How a job is shown in the graph views and the summary. */
  nodeStatus(name: string): NodeStatus {
    const record = this.#record(name);
    const active = record.runs.filter(isActive);
    const state = active.some((r) => r.status !== 'QUEUED') ? 'running' : active.length > 0 ? 'queued' : 'idle';
    return { lastStatus: lastStatusOf(record.stats), state };
  }

  /** Durations (ms) of a job's successful runs in its history. */
  durations(name: string): number[] {
    this.#need(name);
    return durationsOf(this.#record(name));
  }

  /** How many runs wait for an offer. */
  get queueLength(): number {
    return this.#queue.high.length + this.#queue.normal.length;
  }

  /** The framework's id at the master. */
  get frameworkId(): string | undefined {
    return this.#client?.frameworkId;
  }

  // ---- writes for the API ---------------------------------------------------------------------

  /**
   * Adds or replaces a job from a Chronos definition. `kind` is the endpoint: `iso8601` wants a
   * schedule, `dependency` wants parents. Throws {@link JobValidationError} (422) naming the
   * field, `DependencyCycleError` or `UnknownParentError` (422).
   */
  async upsertJob(input: unknown, kind: 'iso8601' | 'dependency' | 'any' = 'any'): Promise<JobView> {
    const job = parseJob(input, { now: this.#clock.now() });
    if (kind === 'iso8601' && !isScheduled(job)) throw new JobValidationError([{ path: 'schedule', message: 'a scheduled job needs a schedule (use /dependency for a job with parents)' }]);
    if (kind === 'dependency' && isScheduled(job)) throw new JobValidationError([{ path: 'parents', message: 'a dependent job needs parents (use /iso8601 for a scheduled job)' }]);
    const existed = this.#jobs.has(job.name);
    this.#graph.upsertJob({ name: job.name, parents: job.parents }); // throws before changing anything
    await this.#state.writeJob(job);
    this.#jobs.set(job.name, job);
    if (!existed) {
      const record = emptyJobRecord();
      record.lastScheduled = this.#firstCursor(job);
      this.#records.set(job.name, record);
      await this.#save(job.name);
    }
    this.#schedule(job);
    this.#emit({ type: existed ? 'job_updated' : 'job_added', job: job.name });
    return this.#view(job);
  }

  /**
   * Deletes a job and kills its active runs. A job with children is refused (409) unless
   * `force`: then its children take its parents, and a child left without parents takes its
   * schedule (as Chronos did); with no schedule to give, the child is disabled.
   */
  async deleteJob(name: string, force = false): Promise<RemovalResult> {
    const job = this.#need(name);
    const removal = this.#graph.removeJob(name, { force });
    this.#engine.remove(name);
    this.#forgetWaiting(name);
    this.#killActive(name, 'the job was deleted');
    this.#jobs.delete(name);
    this.#records.delete(name);
    this.#dropQueued(name);
    await this.#state.deleteJob(name);
    for (const { job: child, parents } of removal.rewired) {
      const old = this.#jobs.get(child)!;
      // A child left without parents had only this (scheduled) job as parent: it takes its schedule.
      const { parents: _old, ...rest } = old;
      const next: Job =
        parents.length > 0
          ? { ...old, parents }
          : { ...rest, schedule: job.schedule ?? 'R/2000-01-01T00:00:00Z/P1D', ...(job.scheduleTimeZone ? { scheduleTimeZone: job.scheduleTimeZone } : {}) };
      await this.#state.writeJob(next);
      this.#jobs.set(child, next);
      this.#schedule(next);
    }
    this.#emit({ type: 'job_removed', job: name });
    return removal;
  }

  /** Starts a run now (Chronos' `PUT /job/{name}`), with optional overrides. Returns the run. */
  async runNow(name: string, overrides?: RunOverrides): Promise<Run> {
    this.#need(name);
    const run = this.#startRun(name, 'manual', undefined, overrides);
    if (this.#graph.parentsOf(name).length > 0) {
      this.#graph.childRan(name);
      this.#record(name).satisfied = undefined;
    }
    await this.#save(name);
    return run;
  }

  /** Marks a job's last run a success by hand: its statistics count it and its children may run. */
  async markSuccess(name: string): Promise<void> {
    this.#need(name);
    const touched = new Set<string>();
    this.#finished(name, undefined, 'success', this.#clock.now(), touched);
    await Promise.all([...touched].map((n) => this.#save(n)));
  }

  /** Kills every active run of a job (`DELETE /task/kill/{name}`); returns how many. */
  async killJob(name: string): Promise<number> {
    this.#need(name);
    // Catch-up fire times waiting for the active run go too: a kill stops what is pending.
    this.#backlog.delete(name);
    const n = this.#killActive(name, 'killed by request');
    this.#record(name).lastScheduled = this.#progress(name);
    await this.#save(name);
    return n;
  }

  /** Stops: the schedule, the timers, the subscription (the framework and its tasks stay). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#engine.stop();
    for (const t of this.#retryTimers) this.#timers.clear(t);
    this.#retryTimers.clear();
    for (const batch of this.#staged.values()) this.#timers.clear(batch.timer);
    this.#staged.clear();
    this.#due = [];
    this.#held.clear();
    await this.#client?.close();
  }

  // ---- runs -------------------------------------------------------------------------------------

  #need(name: string): Job {
    const job = this.#jobs.get(name);
    if (job === undefined) throw new NotFoundError(`job '${name}' not found`, { details: { job: name } });
    return job;
  }

  #record(name: string): JobRecord {
    let record = this.#records.get(name);
    if (record === undefined) {
      record = emptyJobRecord();
      this.#records.set(name, record);
    }
    return record;
  }

  #view(job: Job): JobView {
    return { ...job, ...this.#record(job.name).stats };
  }

  /**
   * Where a new job's schedule starts: of its fire times already passed, only the latest within
   * the start window still runs (a job added a moment after its start time runs once, an
   * every-second cron job does not start sixty runs at once); older ones predate the job.
   */
  #firstCursor(job: Job): number | undefined {
    if (!isScheduled(job)) return undefined;
    const now = this.#clock.now();
    const latest = latestFireTimeAtOrBefore(parseSchedule(job.schedule, job.scheduleTimeZone, now), now, now - startWindowMs(job) - 1);
    return latest === undefined ? now : latest - 1;
  }

  #schedule(job: Job): void {
    if (this.#stopped) return;
    this.#engine.upsert(job, { lastScheduled: this.#records.get(job.name)?.lastScheduled });
  }

  /** Writes a job's record, trimming its history; resolves when it is in the Store. */
  #save(name: string): Promise<void> {
    const record = this.#records.get(name);
    if (record === undefined || !this.#jobs.has(name)) return Promise.resolve();
    const ended = record.runs.filter((r) => !isActive(r));
    if (ended.length > RUN_HISTORY_LIMIT) {
      const drop = new Set(ended.slice(0, ended.length - RUN_HISTORY_LIMIT));
      record.runs = record.runs.filter((r) => !drop.has(r));
    }
    return this.#state.writeRecord(name, record).catch((error: unknown) => {
      if (ConflictError.isInstance(error)) this.#log.error({ job: name }, 'another instance wrote the job record: no longer leading?');
      throw error;
    });
  }

  /**
   * The schedule progress to store: the engine's, but short of any fire time left to its due
   * time, so a restart handles that one again rather than forgetting it.
   */
  #progress(name: string): number | undefined {
    const cursor = this.#engine.progressOf(name)?.lastScheduled;
    const pending = [...(this.#deferred.get(name) ?? []), ...(this.#backlog.get(name) ?? [])];
    if (cursor === undefined || pending.length === 0) return cursor;
    return Math.min(cursor, Math.min(...pending) - 1);
  }

  /** Forgets the fire times of a job left to their due time or waiting for its active run. */
  #forgetWaiting(name: string): void {
    // Clearing the set makes its timers find nothing, even if a job of the same name comes back.
    this.#deferred.get(name)?.clear();
    this.#deferred.delete(name);
    this.#backlog.delete(name);
  }

  /**
   * Whether a catch-up fire time of a job waits instead of starting: a FORBID job with an active
   * run (or catch-up times already waiting, to keep their order). `catchUp` asks for the missed
   * runs explicitly, so FORBID makes them wait their turn rather than skipping them.
   */
  #catchUpWaits(name: string): boolean {
    const job = this.#jobs.get(name);
    if (job === undefined || job.disabled || job.concurrencyPolicy !== 'FORBID') return false;
    return this.#backlog.has(name) || this.#record(name).runs.some(isActive);
  }

  /** Starts the catch-up fire times waiting for a job, in order, while it has no active run. */
  #startWaiting(name: string, touched: Set<string>): void {
    const waiting = this.#backlog.get(name);
    if (waiting === undefined || !this.#jobs.has(name)) return;
    const record = this.#record(name);
    while (waiting.length > 0 && !record.runs.some(isActive)) {
      const scheduledAt = waiting.shift()!;
      if (waiting.length === 0) this.#backlog.delete(name);
      record.lastScheduled = this.#progress(name);
      this.#startRun(name, 'schedule', scheduledAt);
      touched.add(name);
    }
  }

  #onDue(name: string, scheduledAt: number, kind: DueKind = 'scheduled'): void {
    const now = this.#clock.now();
    if (scheduledAt > now) {
      // Handed over ahead (prepareAheadMs). A job whose policy may skip or replace it, decided
      // on the runs active then, is left to its due time; the others are prepared now.
      const job = this.#jobs.get(name);
      const record = this.#record(name);
      const deferred = this.#deferred.get(name);
      const admitNow = job !== undefined && !job.disabled && (deferred === undefined || deferred.size === 0) && admitRun(job.concurrencyPolicy, record.runs).action === 'start';
      if (admitNow) {
        this.#stage(name, scheduledAt, now);
        return;
      }
      this.#defer(name, scheduledAt, now);
      return;
    }
    const record = this.#record(name);
    if (kind === 'catch-up' && this.#catchUpWaits(name)) {
      const waiting = this.#backlog.get(name);
      if (waiting === undefined) this.#backlog.set(name, [scheduledAt]);
      else waiting.push(scheduledAt);
      // The stored progress stays short of it: a restart hands it over again.
      record.lastScheduled = this.#progress(name);
      this.#save(name).catch((error: unknown) => this.#log.error({ job: name, err: String(error) }, 'could not store schedule progress'));
      return;
    }
    record.lastScheduled = this.#progress(name);
    this.#startRun(name, 'schedule', scheduledAt);
    this.#save(name).catch((error: unknown) => this.#log.error({ job: name, err: String(error) }, 'could not store a scheduled run'));
  }

  /** Leaves a fire time handed over ahead to its due time. */
  #defer(name: string, scheduledAt: number, now: number): void {
    let set = this.#deferred.get(name);
    if (set === undefined) {
      set = new Set();
      this.#deferred.set(name, set);
    }
    set.add(scheduledAt);
    const handle = this.#timers.set(
      () => {
        this.#retryTimers.delete(handle);
        if (!set.delete(scheduledAt) || !this.#jobs.has(name)) return;
        if (set.size === 0) this.#deferred.delete(name);
        this.#onDue(name, scheduledAt);
      },
      Math.max(0, scheduledAt - now),
    );
    this.#retryTimers.add(handle);
  }

  /**
   * Prepares a scheduled run ahead of its due time: the run, the schedule progress and its launch
   * (task id) go in one write, and at the due time it is placed on the offers held for it.
   */
  #stage(name: string, scheduledAt: number, now: number): void {
    const job = this.#jobs.get(name)!;
    const record = this.#record(name);
    record.lastScheduled = this.#progress(name);
    const queued = createRun({ id: randomUUID().slice(0, 13), job: name, trigger: 'schedule', scheduledAt, now });
    this.#emit({ type: 'run_queued', job: name, run: queued });
    const taskId = taskIdOf(name, queued);
    // Written as launched at its due time: a restart before the ACCEPT reconciles the task id,
    // hears "unknown" and launches it again under the same id, at its due time.
    const run = applyRunEvent(queued, job, { type: 'launch', taskId, at: scheduledAt }).run;
    record.runs.push(run);
    const staged: Staged = { job: name, runId: run.id, taskId, dueAt: scheduledAt, written: false };
    let batch = this.#staged.get(scheduledAt);
    if (batch === undefined) {
      const b = { runs: [] as Staged[], timer: undefined as unknown };
      // Sent ahead, to start at its due time on the agent (startAtMs).
      b.timer = this.#timers.set(() => this.#fireStaged(scheduledAt), Math.max(0, scheduledAt - this.#launchAheadMs - now));
      this.#staged.set(scheduledAt, b);
      batch = b;
    }
    batch.runs.push(staged);
    this.#revive();
    this.#save(name).then(
      () => {
        staged.written = true;
        if (this.#due.includes(staged)) this.#launchDue();
      },
      (error: unknown) => {
        this.#log.error({ job: name, err: String(error) }, 'could not store a prepared run');
        // Not written: it goes through the queue (written before launched) at its due time.
        this.#dropStaged(staged);
        const current = this.#records.get(name);
        const i = current?.runs.findIndex((r) => r.id === staged.runId) ?? -1;
        if (current === undefined || i < 0 || current.runs[i]!.status !== 'STARTING' || current.runs[i]!.taskIds.at(-1) !== taskId) return;
        current.runs[i] = relaunch(current.runs[i]!, 'the prepared launch could not be stored', this.#clock.now());
        this.#enqueue(name, current.runs[i]!);
      },
    );
  }

  #dropStaged(staged: Staged): void {
    const batch = this.#staged.get(staged.dueAt);
    if (batch !== undefined) batch.runs = batch.runs.filter((s) => s !== staged);
    this.#due = this.#due.filter((s) => s !== staged);
  }

  /** A batch of prepared runs is due: place it on the offers held for it. */
  #fireStaged(dueAt: number): void {
    const batch = this.#staged.get(dueAt);
    this.#staged.delete(dueAt);
    if (batch === undefined || this.#stopped) return;
    this.#due.push(...batch.runs);
    this.#launchDue();
  }

  /** Whether prepared runs wait: due ones, or ones due within the preparation window. */
  get #expecting(): boolean {
    return this.#due.length > 0 || this.#staged.size > 0;
  }

  #revive(): void {
    if (!this.#needRevive) return;
    this.#needRevive = false;
    this.#client?.revive(this.#role).catch((error: unknown) => {
      this.#needRevive = true;
      this.#log.warn({ err: String(error) }, 'revive failed; retrying with the next run');
    });
  }

  #onMissed(name: string, count: number): void {
    const record = this.#record(name);
    record.lastScheduled = this.#progress(name);
    this.#emit({ type: 'runs_missed', job: name, message: `${count} fire time(s) missed beyond the start window` });
    this.#save(name).catch((error: unknown) => this.#log.error({ job: name, err: String(error) }, 'could not store schedule progress'));
  }

  /** Creates a run, applies the job's concurrency policy (not to manual runs), and queues it. */
  #startRun(name: string, trigger: RunTrigger, scheduledAt: number | undefined, overrides?: RunOverrides): Run {
    const job = this.#jobs.get(name)!;
    const record = this.#record(name);
    const now = this.#clock.now();
    let run = createRun({ id: randomUUID().slice(0, 13), job: name, trigger, scheduledAt: scheduledAt ?? now, overrides, now });
    const admission = trigger === 'manual' ? { action: 'start' as const } : job.disabled ? { action: 'skip' as const, reason: 'the job is disabled' } : admitRun(job.concurrencyPolicy, record.runs);
    if (admission.action === 'skip') {
      run = applyRunEvent(run, job, { type: 'skip', at: now, reason: admission.reason }).run;
      record.runs.push(run);
      this.#emit({ type: 'run_finished', job: name, run, outcome: 'skipped', message: admission.reason, owner: job.owner, ownerName: job.ownerName });
      return run;
    }
    if (admission.action === 'replace') {
      for (const id of admission.kill) this.#applyToRun(name, id, { type: 'kill', at: now, reason: `replaced by run ${run.id}` }, new Set());
    }
    record.runs.push(run);
    this.#emit({ type: 'run_queued', job: name, run });
    this.#enqueue(name, run);
    return run;
  }

  #enqueue(name: string, run: Run): void {
    const wait = (run.notBefore ?? 0) - this.#clock.now();
    if (wait > 0) {
      const handle = this.#timers.set(() => {
        this.#retryTimers.delete(handle);
        const current = this.#records.get(name)?.runs.find((r) => r.id === run.id);
        if (current?.status === 'QUEUED') this.#enqueue(name, { ...current, notBefore: undefined });
      }, wait);
      this.#retryTimers.add(handle);
      return;
    }
    const job = this.#jobs.get(name);
    (job?.highPriority ? this.#queue.high : this.#queue.normal).push({ job: name, runId: run.id });
    this.#revive();
    // Offers held for prepared runs serve the queue too.
    if (this.#held.size > 0) queueMicrotask(() => this.#launchDue());
  }

  #dropQueued(name: string): void {
    this.#queue.high = this.#queue.high.filter((q) => q.job !== name);
    this.#queue.normal = this.#queue.normal.filter((q) => q.job !== name);
    this.#due = this.#due.filter((s) => s.job !== name);
    for (const batch of this.#staged.values()) batch.runs = batch.runs.filter((s) => s.job !== name);
  }

  #killActive(name: string, reason: string): number {
    const record = this.#records.get(name);
    if (record === undefined) return 0;
    const active = record.runs.filter(isActive);
    for (const run of active) this.#applyToRun(name, run.id, { type: 'kill', at: this.#clock.now(), reason }, new Set());
    this.#dropQueued(name);
    return active.length;
  }

  // ---- offers -----------------------------------------------------------------------------------

  #command(job: Job, run: Run): CommandInfo {
    const env: Record<string, string> = {};
    for (const v of job.environmentVariables) env[v.name] = v.value;
    Object.assign(env, run.overrides?.env ?? {}, {
      CHRONOS_JOB_NAME: job.name,
      CHRONOS_JOB_OWNER: job.owner,
      CHRONOS_JOB_RUN_TIME: new Date(run.scheduledAt ?? run.queuedAt).toISOString(),
      CHRONOS_JOB_RUN_ATTEMPT: String(run.attempt),
    });
    const args = run.overrides?.arguments ?? [];
    const uris = job.fetch.map((f) => ({ value: f.uri, executable: f.executable, extract: f.extract, cache: f.cache, ...(f.outputFile ? { outputFile: f.outputFile } : {}) }));
    const common = { environment: env, ...(uris.length > 0 ? { uris } : {}) };
    if (job.shell) {
      const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
      return { shell: true, value: [job.command, ...quoted].join(' '), ...common };
    }
    return { shell: false, value: job.command, arguments: [job.command, ...job.arguments, ...args], ...common };
  }

  /** Takes the queue (high priority first) for one round of offers. */
  #takeQueue(): { job: string; run: Run }[] {
    const taken = [...this.#queue.high, ...this.#queue.normal];
    this.#queue.high = [];
    this.#queue.normal = [];
    const out: { job: string; run: Run }[] = [];
    for (const ref of taken) {
      const run = this.#records.get(ref.job)?.runs.find((r) => r.id === ref.runId);
      if (run?.status === 'QUEUED' && this.#jobs.has(ref.job)) out.push({ job: ref.job, run });
    }
    return out;
  }

  #onOffers(offers: readonly Offer[]): Promise<void> {
    for (const offer of offers) this.#held.set(offer.id, offer);
    return this.#launchDue();
  }

  /** Places the prepared runs that are due and written, then the queue, on the offers held. */
  async #launchDue(): Promise<void> {
    if (this.#stopped) return;
    if (this.#held.size === 0) {
      if (this.#due.length > 0) this.#revive();
      return;
    }
    let offers: readonly Offer[] = [...this.#held.values()];
    this.#held.clear();
    const client = this.#client!;
    const now = this.#clock.now();
    const ready: { staged: Staged; run: Run; job: Job }[] = [];
    const waiting: Staged[] = [];
    for (const staged of this.#due) {
      const job = this.#jobs.get(staged.job);
      const run = this.#records.get(staged.job)?.runs.find((r) => r.id === staged.runId);
      // Killed, replaced or deleted meanwhile: nothing to launch.
      if (job === undefined || run?.status !== 'STARTING' || run.taskIds.at(-1) !== staged.taskId) continue;
      if (staged.written) ready.push({ staged, run, job });
      else waiting.push(staged);
    }
    this.#due = waiting;
    // When the offers cannot hold every run due, high-priority jobs go first (a stable sort keeps
    // the preparation order otherwise), as they do in the queue.
    ready.sort((a, b) => Number(b.job.highPriority) - Number(a.job.highPriority));
    if (ready.length > 0) {
      const byTask = new Map(ready.map((r) => [r.staged.taskId, r]));
      const placement = placeTasks(
        offers,
        ready.map(({ staged, run, job }) => ({ ...this.#demand(job, run, staged.taskId), startAtMs: staged.dueAt })),
        { strategy: 'roundRobin' },
      );
      const unplaced = new Set(placement.unplaced.map((u) => u.demand.taskId));
      for (const r of ready) if (unplaced.has(r.staged.taskId)) this.#due.push(r.staged);
      for (const accept of placement.accepts) {
        for (const op of accept.operations) {
          if (op.type !== 'LAUNCH') continue;
          for (const task of op.tasks) {
            const { staged } = byTask.get(task.taskId)!;
            const record = this.#records.get(staged.job)!;
            const i = record.runs.findIndex((r) => r.id === staged.runId);
            // Its launch was written ahead; it starts at its due time on the agent (sent ahead of it),
            // or now when it is late. Kept with its next write.
            record.runs[i] = { ...record.runs[i]!, startedAt: Math.max(now, staged.dueAt) };
            this.#emit({ type: 'run_launched', job: staged.job, run: record.runs[i]! });
          }
        }
        client.accept(accept.offerIds, accept.operations, { refuseMs: 1000 }).catch((error: unknown) => this.#launchFailed(accept.operations, error));
      }
      // What is left of an accepted offer is refused for a second: a run queued meanwhile (a
      // child, a retry) revives, which clears that filter, instead of waiting it out.
      if (placement.accepts.length > 0) this.#needRevive = true;
      const left = new Set(placement.declineOfferIds);
      offers = offers.filter((o) => left.has(o.id));
    }
    await this.#placeQueue(offers);
  }

  /** A run's task as `placeTasks` wants it. */
  #demand(job: Job, run: Run, taskId: string): TaskDemand {
    return {
      taskId,
      name: `chronos:${job.name}`,
      group: `chronos:${job.name}`,
      resources: `cpus:${job.cpus};mem:${job.mem};disk:${job.disk}`,
      command: this.#command(job, run),
      constraints: job.constraints,
      ...(job.maxCompletionTime !== undefined ? { maxCompletionTimeMs: job.maxCompletionTime } : {}),
      labels: { 'chronos.job': job.name, 'chronos.run': run.id },
    };
  }

  /**
   * Offers left after the prepared runs: kept while prepared runs are due soon and nothing else
   * waits; else they serve the queue, and what is left is declined.
   */
  async #placeQueue(offers: readonly Offer[]): Promise<void> {
    if (offers.length === 0) return;
    const client = this.#client!;
    const ready = this.#takeQueue();
    if (ready.length === 0) {
      if (this.#expecting) {
        if (this.#due.length === 0) {
          for (const offer of offers) this.#held.set(offer.id, offer);
          return;
        }
        // Due runs that found no place (or wait for their write): the offers come back in a second.
        await client.decline(offers.map((o) => o.id), { refuseMs: 1000 }).catch(() => {});
        return;
      }
      this.#needRevive = true;
      await client.decline(offers.map((o) => o.id), { refuseMs: 30_000 }).catch(() => {});
      if (this.queueLength === 0 && !this.#expecting) {
        await client.suppress(this.#role).catch(() => {});
        // A run queued while the suppress was on its way would otherwise wait for nothing.
        if (this.queueLength > 0 || this.#expecting) await client.revive(this.#role).catch(() => {});
      }
      return;
    }
    const byTask = new Map<string, { job: string; run: Run }>();
    const demands: TaskDemand[] = ready.map(({ job: name, run }) => {
      const taskId = taskIdOf(name, run);
      byTask.set(taskId, { job: name, run });
      return this.#demand(this.#jobs.get(name)!, run, taskId);
    });
    const placement = placeTasks(offers, demands, { strategy: 'roundRobin' });
    // What found no place goes back to the front of the queue, in order.
    const unplaced = new Set(placement.unplaced.map((u) => u.demand.taskId));
    for (const [taskId, { job, run }] of [...byTask].reverse()) {
      if (!unplaced.has(taskId)) continue;
      (this.#jobs.get(job)?.highPriority ? this.#queue.high : this.#queue.normal).unshift({ job, runId: run.id });
    }
    const now = this.#clock.now();
    const touched = new Set<string>();
    for (const accept of placement.accepts) {
      for (const op of accept.operations) {
        if (op.type !== 'LAUNCH') continue;
        for (const task of op.tasks) {
          const { job } = byTask.get(task.taskId)!;
          this.#applyToRun(job, byTask.get(task.taskId)!.run.id, { type: 'launch', taskId: task.taskId, at: now }, touched);
        }
      }
    }
    // Written before launched: a crash from here on is resolved by reconciliation. When the
    // Store refuses, nothing is launched and the runs go back to the queue.
    const saved = await Promise.allSettled([...touched].map((n) => this.#save(n)));
    if (saved.some((r) => r.status === 'rejected')) {
      this.#log.warn({ runs: byTask.size }, 'could not store the launches; the runs wait for the next offers');
      this.#launchFailed(placement.accepts.flatMap((a) => a.operations), new Error('the Store refused the launch records'));
      await client.decline(offers.map((o) => o.id), { refuseMs: 1000 }).catch(() => {});
      return;
    }
    for (const accept of placement.accepts) {
      client.accept(accept.offerIds, accept.operations, { refuseMs: 1000 }).catch((error: unknown) => this.#launchFailed(accept.operations, error));
    }
    // As for prepared runs: the next queued run clears the filter on what is left of these offers.
    if (placement.accepts.length > 0) this.#needRevive = true;
    if (placement.declineOfferIds.length > 0) {
      if (this.queueLength === 0 && this.#expecting && this.#due.length === 0) {
        const left = new Set(placement.declineOfferIds);
        for (const offer of offers) if (left.has(offer.id)) this.#held.set(offer.id, offer);
        return;
      }
      const idle = this.queueLength === 0 && !this.#expecting;
      if (idle) this.#needRevive = true;
      await client.decline(placement.declineOfferIds, { refuseMs: idle ? 30_000 : 1000 }).catch(() => {});
    }
  }

  /** ACCEPT failed: when the master surely refused, the runs go back to the queue; else reconciliation tells. */
  #launchFailed(operations: readonly { type: string; tasks?: readonly { taskId: string }[] }[], error: unknown): void {
    const taskIds = operations.flatMap((op) => op.tasks?.map((t) => t.taskId) ?? []);
    this.#log.warn({ err: String(error), tasks: taskIds.length }, 'launch failed');
    if (error instanceof Error && error.name === 'TimeoutError') {
      void this.#client?.reconcile(taskIds).catch(() => {});
      return;
    }
    const touched = new Set<string>();
    for (const taskId of taskIds) {
      const ref = parseTaskId(taskId);
      const record = ref && this.#records.get(ref.job);
      const i = record?.runs.findIndex((r) => r.id === ref!.runId) ?? -1;
      if (!ref || !record || i < 0 || record.runs[i]!.status !== 'STARTING') continue;
      record.runs[i] = requeue(record.runs[i]!, `launch refused: ${String(error)}`);
      touched.add(ref.job);
      this.#enqueue(ref.job, record.runs[i]!);
    }
    for (const n of touched) void this.#save(n).catch(() => {});
  }

  // ---- statuses ---------------------------------------------------------------------------------

  /**
   * Applies statuses and writes what changed. A status that changed nothing (STAGING, STARTING,
   * a duplicate) is acknowledged at once, so the agent goes on (it sends RUNNING only once
   * STARTING is acknowledged); the others once their record is written, so a status lost to a
   * crash is sent again.
   */
  async #onStatuses(statuses: readonly TaskStatus[]): Promise<void> {
    const now: TaskStatus[] = [];
    const later = new Map<string, TaskStatus[]>();
    const orphans: KillRequest[] = [];
    for (const status of statuses) {
      const touched = new Set<string>();
      this.#onStatus(status, touched, orphans);
      if (touched.size === 0) now.push(status);
      for (const name of touched) {
        const list = later.get(name);
        if (list === undefined) later.set(name, [status]);
        else list.push(status);
      }
    }
    if (orphans.length > 0) this.#client?.kill(orphans).catch(() => {});
    if (now.length > 0) this.#acknowledge(now);
    // A status that touched several records is acknowledged once all of them are written.
    const pending = new Map<TaskStatus, number>();
    for (const list of later.values()) for (const st of list) pending.set(st, (pending.get(st) ?? 0) + 1);
    const acks: TaskStatus[] = [];
    await Promise.all(
      [...later].map(([name, list]) =>
        this.#save(name).then(
          () => {
            for (const st of list) {
              const left = pending.get(st)! - 1;
              pending.set(st, left);
              if (left === 0) acks.push(st);
            }
          },
          (error: unknown) => this.#log.warn({ job: name, err: String(error) }, 'could not store statuses; not acknowledging them'),
        ),
      ),
    );
    if (acks.length > 0) this.#acknowledge(acks);
  }

  /** Acknowledges statuses: everything acknowledged within one turn of the event loop goes in one call. */
  #acknowledge(statuses: readonly TaskStatus[]): void {
    for (const status of statuses) this.#acks.push(status);
    this.#ackTimer ??= setImmediate(() => {
      this.#ackTimer = undefined;
      const acks = this.#acks;
      this.#acks = [];
      if (this.#stopped) return;
      this.#client?.acknowledge(acks).catch((error: unknown) => this.#log.warn({ err: String(error), acks: acks.length }, 'acknowledgement failed; the agent will resend'));
    });
  }

  /** Applies one status; what it changed is added to `touched`, a task of no active run to `orphans`. */
  #onStatus(status: TaskStatus, touched: Set<string>, orphans: KillRequest[]): void {
    const ref = parseTaskId(status.taskId);
    const run = ref && this.#records.get(ref.job)?.runs.find((r) => r.id === ref.runId);
    const job = ref && this.#jobs.get(ref.job);
    const terminal = ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR', 'TASK_UNKNOWN'].includes(status.state);
    if (!ref || !run || !job || run.taskIds.at(-1) !== status.taskId || !isActive(run) || run.status === 'QUEUED') {
      // A task of no active run (a deleted job, a replaced attempt): it has no business running.
      if (!terminal) orphans.push({ taskId: status.taskId, ...(status.agentId ? { agentId: status.agentId } : {}) });
      return;
    }
    const event = eventOf(status, run, job, this.#clock.now());
    if (event === undefined) return;
    if (event === 'relaunch') {
      const record = this.#records.get(ref.job)!;
      const i = record.runs.indexOf(run);
      record.runs[i] = relaunch(run, 'the launch did not reach the master; launching again', this.#clock.now());
      touched.add(ref.job);
      this.#enqueue(ref.job, record.runs[i]!);
      return;
    }
    this.#applyToRun(ref.job, run.id, event, touched);
  }

  /** Applies an event to a run and carries out its effects. */
  #applyToRun(name: string, runId: string, event: RunEvent, touched: Set<string>): void {
    const job = this.#jobs.get(name);
    const record = this.#records.get(name);
    const i = record?.runs.findIndex((r) => r.id === runId) ?? -1;
    if (job === undefined || record === undefined || i < 0) return;
    let step: ReturnType<typeof applyRunEvent>;
    try {
      step = applyRunEvent(record.runs[i]!, job, event);
    } catch (error) {
      if (InvalidRunTransitionError.isInstance(error)) return;
      throw error;
    }
    record.runs[i] = step.run;
    touched.add(name);
    if (event.type === 'launch') this.#emit({ type: 'run_launched', job: name, run: step.run });
    if (event.type === 'running') this.#emit({ type: 'run_running', job: name, run: step.run });
    for (const effect of step.effects) this.#carryOut(name, step.run, effect, touched);
  }

  #carryOut(name: string, run: Run, effect: RunEffect, touched: Set<string>): void {
    switch (effect.type) {
      case 'kill-tasks':
        if (effect.taskIds.length > 0) this.#client?.kill(effect.taskIds).catch((error: unknown) => this.#log.warn({ err: String(error) }, 'kill failed'));
        return;
      case 'retry':
        this.#emit({ type: 'run_queued', job: name, run, message: `retry ${effect.attempt - 1} after: ${run.message ?? 'failure'}` });
        this.#enqueue(name, run);
        return;
      case 'finished':
        this.#finished(name, run, effect.outcome, effect.at, touched);
    }
  }

  /** A run ended (or was marked a success): statistics, events, and the children it readies. */
  #finished(name: string, run: Run | undefined, outcome: RunOutcome, at: number, touched: Set<string>): void {
    const record = this.#record(name);
    record.stats = recordOutcome(record.stats, outcome, at);
    touched.add(name);
    const job = this.#jobs.get(name);
    this.#emit({
      type: 'run_finished',
      job: name,
      ...(run ? { run } : {}),
      outcome,
      ...(run?.message ? { message: run.message } : {}),
      ...(job ? { owner: job.owner, ownerName: job.ownerName } : {}),
    });
    if (run !== undefined) this.#startWaiting(name, touched);
    if (!this.#graph.has(name)) return;
    const ready = this.#graph.parentFinished(name, outcome, at);
    const state = this.#graph.dependencyState();
    for (const child of this.#graph.childrenOf(name)) {
      const childRecord = this.#record(child);
      childRecord.satisfied = state[child];
      touched.add(child);
    }
    for (const child of ready) this.#startRun(child, 'parent', at);
  }

  #emit(event: Omit<ChronosEvent, 'at'>): void {
    this.#opts.onEvent?.({ ...event, at: new Date(this.#clock.now()).toISOString() });
  }
}
