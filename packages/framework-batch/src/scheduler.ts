/**
 * The batch scheduler: runs jobs on the offers a `SchedulerClient` gets. It is the one place that
 * talks to the SDK; the decisions come from the pure planning layer (`plan/`).
 *
 * - **Offers**: launchable tasks of every running job, interleaved by job weight (each pick goes
 *   to the job with the fewest active tasks per unit of weight, as Hadoop's fair scheduler
 *   shares), are fitted into each offer of their job's role with delay scheduling
 *   ({@link chooseTasksForOffer}); up to `maxTasksPerOffer` tasks go in one LAUNCH, and every
 *   offer used goes in one ACCEPT. A gang stage holds the offers of its role until its tasks fit
 *   all at once ({@link decideGang}), for at most its `gangTimeoutSeconds`; a gang released
 *   `maxGangReleases` times in a row fails its job (GANG_UNSCHEDULABLE).
 * - **Launches are recorded before they are sent**: the state store is flushed before the ACCEPT.
 * - **Statuses** go into the job state machine; their acknowledgement waits until the change is
 *   written (the UPDATE handler resolves after the next flush), so a restarted scheduler either
 *   has a task's end or hears it again.
 * - **Time**: one timer, at the earliest of the jobs' {@link nextWakeAt} (retries, timeouts,
 *   deadlines), the gang holds' timeouts and the next launch check (LAUNCHING tasks older than
 *   `launchTimeoutMs` are reconciled explicitly: the master says where they are, or that they are lost).
 * - **Suppress** when no job has anything to launch; **revive** when work appears.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import {
  type ExecutorInfo,
  fromUnknown,
  isTerminalState,
  type KillRequest,
  type Offer,
  type Operation,
  SchedulerClient,
  type SchedulerClientLogger,
  type TaskInfo,
  type TaskStatus,
  type Transport,
} from '@stoa/sdk';
import type { BatchEvent, BatchEventListener } from './events.js';
import { batchBundleInfo, batchTaskInfo } from './executor/executor-info.js';
import { decodeBundleReport, decodeTaskOutput } from './executor/task-data.js';
import type { TaskOutput } from './plan/outputs.js';
import type { BatchMetrics } from './metrics.js';
import { expandJob, launchIdOf, type PlannedTask } from './plan/expand.js';
import { createGangHold, decideGang, forgetOffers, type GangHold, holdOffers } from './plan/gang.js';
import {
  activeCount,
  advanceJob,
  applyTaskStatus,
  cancelJob,
  createJobState,
  failJob,
  isStageReady,
  type JobEffect,
  type JobState,
  launchableTasks,
  markLaunching,
  nextWakeAt,
  stageProgress,
  taskInputs,
} from './plan/job-state.js';
import { chooseTasksForOffer, type LocalityCandidate } from './plan/locality.js';
import { parseJobSpec } from './spec/parse.js';
import { NAME_PATTERN, type JobSpec } from './spec/schema.js';
import type { JobStateStore } from './state.js';

/** Options of {@link BatchScheduler}. */
export interface BatchSchedulerOptions {
  /** The bus to the masters. Not closed by `stop()`. */
  transport: Transport;
  /** Where jobs are kept. */
  states: JobStateStore;
  /** The executor batch tasks run in. */
  executor: ExecutorInfo;
  frameworkName: string;
  principal: string;
  /** The role of jobs that name none. */
  role: string;
  failoverTimeoutMs: number;
  subjectPrefix: string;
  maxTasksPerOffer: number;
  /** At most this many short tasks of a stage go in one bundle (one task for the master and agent); 1 turns bundles off. */
  bundleSize: number;
  launchTimeoutMs: number;
  maxGangReleases: number;
  progressIntervalMs: number;
  clock: () => number;
  logger: SchedulerClientLogger;
  metrics: BatchMetrics;
}

/** One job the scheduler runs. */
interface JobEntry {
  jobId: string;
  name: string;
  spec: JobSpec;
  state: JobState;
  planned: Map<string, PlannedTask>;
  role: string;
  weight: number;
  submittedMs: number;
  /** Whether any task has a timeout (else the job's wake-ups are its deadline and its retries). */
  hasTimeouts: boolean;
}

interface GangRun {
  entry: JobEntry;
  stage: string;
  hold: GangHold;
  /** Held offers, whole. */
  offers: Map<string, Offer>;
  releases: number;
}

interface Launch {
  offerIds: string[];
  tasks: TaskInfo[];
  /** Launch id (or bundle id) → job entry, to undo a refused launch. */
  jobs: Map<string, JobEntry>;
}

/** What {@link BatchScheduler} takes of a status of one attempt. */
type StatusOf = Pick<TaskStatus, 'state' | 'message' | 'agentId' | 'exitCode'>;

/** A bundle that was launched and has not ended: its job and its members' launch ids. */
interface BundleEntry {
  entry: JobEntry;
  members: string[];
}

/** A job's summary, as the API lists it. */
export interface JobSummary {
  jobId: string;
  name: string;
  state: JobState['state'];
  reason?: JobState['reason'];
  message?: string;
  role: string;
  weight: number;
  createdAtMs: number;
  endedAtMs?: number;
  deadlineAtMs?: number;
  tasks: number;
  stages: ReturnType<typeof stageProgress>;
}

const MIN_REFUSE_MS = 100;
const IDLE_REFUSE_MS = 5000;
const BUSY_REFUSE_MS = 1000;

/** Runs batch jobs on a Stoa cluster. Made and driven by `startBatch`. */
export class BatchScheduler {
  private readonly jobs = new Map<string, JobEntry>();
  /** Bundles launched and not ended, by their task id. */
  private readonly bundles = new Map<string, BundleEntry>();
  private readonly listeners = new Set<BatchEventListener>();
  private client: SchedulerClient | undefined;
  private gang: GangRun | undefined;
  private suppressed = false;
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private wakePlanned = false;
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  private readonly progressDirty = new Set<string>();
  private nextLaunchCheckMs = 0;
  private offerWork: Promise<void> = Promise.resolve();
  private stopped = false;
  private roles: Set<string>;
  private seq = 0;

  constructor(private readonly options: BatchSchedulerOptions) {
    this.roles = new Set([options.role]);
  }

  /** Loads the stored jobs, subscribes (as the stored framework, if any) and reconciles what was launched. */
  async start(): Promise<void> {
    const { states, clock } = this.options;
    const now = clock();
    for (const stored of await states.loadJobs()) {
      try {
        const spec = parseJobSpec(stored.record.text, { baseDir: stored.record.baseDir });
        const state = stored.restore(spec, (s) => createJobState(s, { jobId: stored.record.jobId, now: stored.record.submittedMs }), now);
        this.add(stored.record.jobId, spec, state, stored.record.submittedMs);
      } catch (error) {
        this.options.logger.warn({ jobId: stored.record.jobId, err: fromUnknown(error).message }, 'a stored job could not be restored; skipped');
      }
    }
    for (const entry of this.jobs.values()) if (entry.spec.priority.role !== undefined) this.roles.add(entry.spec.priority.role);
    const frameworkId = (await states.loadFrameworkId()) ?? randomUUID();
    const client = await SchedulerClient.connect({
      transport: this.options.transport,
      subjectPrefix: this.options.subjectPrefix,
      logger: this.options.logger,
      framework: {
        id: frameworkId,
        name: this.options.frameworkName,
        principal: this.options.principal,
        roles: [...this.roles],
        failoverTimeoutMs: this.options.failoverTimeoutMs,
        checkpoint: true,
      },
    });
    this.client = client;
    await states.saveFrameworkId(client.frameworkId);
    client.on('OFFERS', (e) => this.queueOffers(e.offers));
    client.on('RESCIND', (e) => this.onRescind(e.offerIds));
    client.on('UPDATE', (e) => this.onUpdate(e.statuses));
    this.progressTimer = setInterval(() => this.emitProgress(), this.options.progressIntervalMs);
    this.progressTimer.unref();
    // What was launched before a restart: ask where it is (the answers come as UPDATEs).
    const launched: { taskId: string; agentId?: string }[] = [];
    for (const entry of this.jobs.values()) {
      for (const [launchId, taskId] of Object.entries(entry.state.launches)) {
        const { agentId, bundleId } = entry.state.tasks[taskId]!;
        if (bundleId !== undefined) {
          const bundle = this.bundles.get(bundleId);
          if (bundle !== undefined) {
            bundle.members.push(launchId);
            continue;
          }
          this.bundles.set(bundleId, { entry, members: [launchId] });
        }
        const id = bundleId ?? launchId;
        launched.push(agentId === undefined ? { taskId: id } : { taskId: id, agentId });
      }
    }
    if (launched.length > 0) await client.reconcile(launched).catch((e: unknown) => this.options.logger.warn({ err: fromUnknown(e).message }, 'reconciliation failed'));
    this.nextLaunchCheckMs = clock() + this.options.launchTimeoutMs;
    await this.reviveOrSuppress();
    this.planWake();
  }

  /** Stops taking offers and closes the client; the framework stays registered, so its tasks run on. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
    await this.offerWork.catch(() => {});
    await this.client?.close();
    this.client = undefined;
  }

  /** Listens to events; returns a function that stops listening. */
  onEvent(listener: BatchEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The framework id, once subscribed. */
  get frameworkId(): string | undefined {
    return this.client?.frameworkId;
  }

  // ---- jobs ------------------------------------------------------------------------------------

  /**
   * Accepts a job from its spec's text (YAML or JSON); resolves once it is stored.
   * @throws `JobSpecError` naming the field when the spec is not valid
   */
  async submit(text: string, baseDir: string): Promise<JobSummary> {
    const spec = parseJobSpec(text, { baseDir });
    const now = this.options.clock();
    const jobId = this.newJobId(spec.name);
    const state = createJobState(spec, { jobId, now });
    await this.options.states.saveSpec({ v: 1, jobId, text, baseDir, submittedMs: now });
    const entry = this.add(jobId, spec, state, now);
    this.options.metrics.jobsSubmitted.inc();
    this.emit({ type: 'JOB_SUBMITTED', jobId, name: spec.name, atMs: now });
    this.progressDirty.add(jobId);
    if (spec.priority.role !== undefined && !this.roles.has(spec.priority.role)) {
      this.roles.add(spec.priority.role);
      await this.client?.updateFramework({ roles: [...this.roles] });
    }
    await this.reviveOrSuppress();
    this.planWake();
    return this.summary(entry);
  }

  /** Cancels a job: its tasks are killed. Undefined when there is no such job. */
  async cancel(jobId: string): Promise<JobSummary | undefined> {
    const entry = this.jobs.get(jobId);
    if (entry === undefined) return undefined;
    this.handleEffects(entry, cancelJob(entry.state, this.options.clock(), 'cancelled by request'));
    await this.options.states.flushed();
    return this.summary(entry);
  }

  /** Every job, newest first. */
  list(): JobSummary[] {
    return [...this.jobs.values()].sort((a, b) => b.submittedMs - a.submittedMs).map((e) => this.summary(e));
  }

  /** One job's summary and, when asked, its tasks. */
  job(jobId: string): { entry: JobEntry; summary: JobSummary } | undefined {
    const entry = this.jobs.get(jobId);
    return entry === undefined ? undefined : { entry, summary: this.summary(entry) };
  }

  /** The number of running jobs and of tasks launching or running, for metrics. */
  counts(): { runningJobs: number; activeTasks: number } {
    let runningJobs = 0;
    let activeTasks = 0;
    for (const e of this.jobs.values()) {
      if (e.state.state === 'RUNNING') runningJobs++;
      activeTasks += activeCount(e.state);
    }
    return { runningJobs, activeTasks };
  }

  /** The offers the current gang holds, for people and tests. */
  gangHold(): { jobId: string; stage: string; offers: number; agents: string[]; releases: number } | undefined {
    const g = this.gang;
    if (g === undefined) return undefined;
    return { jobId: g.entry.jobId, stage: g.stage, offers: g.offers.size, agents: [...new Set([...g.offers.values()].map((o) => o.agentId))], releases: g.releases };
  }

  private add(jobId: string, spec: JobSpec, state: JobState, submittedMs: number): JobEntry {
    const planned = new Map(expandJob(spec, jobId).map((t) => [t.taskId, t]));
    const entry: JobEntry = {
      jobId,
      name: spec.name,
      spec,
      state,
      planned,
      role: spec.priority.role ?? this.options.role,
      weight: spec.priority.weight,
      submittedMs,
      hasTimeouts: spec.stages.some((s) => s.tasks.some((t) => t.timeoutSeconds !== undefined)),
    };
    this.jobs.set(jobId, entry);
    this.options.states.track(state);
    return entry;
  }

  private newJobId(name: string): string {
    for (;;) {
      const id = `${name.slice(0, 40)}-${Date.now().toString(36)}${(this.seq++ % 1296).toString(36).padStart(2, '0')}`;
      if (NAME_PATTERN.test(id) && !this.jobs.has(id)) return id;
    }
  }

  private summary(e: JobEntry): JobSummary {
    const s = e.state;
    return {
      jobId: e.jobId,
      name: e.name,
      state: s.state,
      ...(s.reason !== undefined ? { reason: s.reason } : {}),
      ...(s.message !== undefined ? { message: s.message } : {}),
      role: e.role,
      weight: e.weight,
      createdAtMs: s.createdAtMs,
      ...(s.endedAtMs !== undefined ? { endedAtMs: s.endedAtMs } : {}),
      ...(s.deadlineAtMs !== undefined ? { deadlineAtMs: s.deadlineAtMs } : {}),
      tasks: e.planned.size,
      stages: stageProgress(s),
    };
  }

  // ---- offers ----------------------------------------------------------------------------------

  /** Offers are handled one event at a time, so two rounds never launch the same task. */
  private queueOffers(offers: Offer[]): Promise<void> {
    this.offerWork = this.offerWork.then(() => this.onOffers(offers)).catch((error: unknown) => {
      this.options.logger.error({ err: fromUnknown(error).message }, 'handling offers failed');
    });
    return this.offerWork;
  }

  private async onOffers(offers: Offer[]): Promise<void> {
    const client = this.client;
    if (client === undefined || this.stopped) return;
    const now = this.options.clock();
    this.advance(now);
    const pool = new Map(offers.map((o) => [o.id, o]));
    const launches: Launch[] = [];
    this.offerGang(pool, now, launches);
    const waitUntil = this.offerTasks(pool, now, launches);
    if (launches.length > 0) {
      // Recorded before sent: a restart finds these launches and reconciles them.
      await this.options.states.flushNow().catch((e: unknown) => this.options.logger.warn({ err: fromUnknown(e).message }, 'launches not recorded before sending'));
      const more = this.hasLaunchable();
      await Promise.all(launches.map((l) => this.send(client, l, more)));
    }
    if (pool.size > 0) {
      const busy = this.hasLaunchable();
      const refuseMs = waitUntil !== undefined ? Math.max(MIN_REFUSE_MS, waitUntil - now) : busy ? BUSY_REFUSE_MS : IDLE_REFUSE_MS;
      // With work left, an offer too small for it from an agent that runs this framework's tasks
      // grows again as soon as they end: it is refused only briefly.
      const ours = busy ? [...pool.values()].filter((o) => (o.executorIds ?? []).includes(this.options.executor.executorId)).map((o) => o.id) : [];
      const others = ours.length === 0 ? [...pool.keys()] : [...pool.keys()].filter((id) => !ours.includes(id));
      this.options.metrics.offersDeclined.inc(pool.size);
      const declined = (e: unknown) => this.options.logger.warn({ err: fromUnknown(e).message }, 'decline failed');
      await Promise.all([
        ours.length > 0 ? client.decline(ours, { refuseMs: Math.min(refuseMs, MIN_REFUSE_MS) }).catch(declined) : undefined,
        others.length > 0 ? client.decline(others, { refuseMs }).catch(declined) : undefined,
      ]);
    }
    await this.reviveOrSuppress();
    this.planWake();
  }

  private async send(client: SchedulerClient, launch: Launch, more: boolean): Promise<void> {
    this.options.metrics.accepts.inc();
    this.options.metrics.tasksLaunched.inc(launch.tasks.length);
    const operations: Operation[] = [{ type: 'LAUNCH', tasks: launch.tasks }];
    try {
      // With more to launch, what is left of the offers comes back at the next allocation.
      await client.accept(launch.offerIds, operations, { refuseMs: more ? 0 : IDLE_REFUSE_MS });
    } catch (error) {
      const err = fromUnknown(error);
      this.options.logger.warn({ err: err.message, tasks: launch.tasks.length }, 'ACCEPT failed');
      // After a timeout the master may have launched them: the launch check reconciles them.
      if (err.code === 'TIMEOUT') return;
      const why = `the launch was refused: ${err.message}`;
      const now = this.options.clock();
      for (const info of launch.tasks) {
        const entry = launch.jobs.get(info.taskId)!;
        const bundle = this.bundles.get(info.taskId);
        if (bundle !== undefined) this.bundles.delete(info.taskId);
        for (const launchId of bundle?.members ?? [info.taskId]) {
          const taskId = entry.state.launches[launchId];
          if (taskId === undefined) continue;
          const effects = applyTaskStatus(entry.state, { taskId: launchId, state: 'TASK_DROPPED', message: why }, now);
          this.changed(entry, taskId, effects);
          this.handleEffects(entry, effects);
        }
      }
    }
  }

  /** The gang that gathers offers now, if any: the first launchable gang stage in job order. */
  private currentGang(): { entry: JobEntry; stage: string } | undefined {
    for (const entry of this.ordered()) {
      const job = entry.state;
      const budget = job.parallelism === undefined ? Number.POSITIVE_INFINITY : job.parallelism - activeCount(job);
      for (const stage of job.stages) {
        if (stage.gang && stage.counts.PENDING === stage.taskIds.length && budget >= stage.taskIds.length && isStageReady(job, stage.name)) {
          return { entry, stage: stage.name };
        }
      }
    }
    return undefined;
  }

  /** Holds the offers of the current gang's role and launches the gang once it fits. */
  private offerGang(pool: Map<string, Offer>, now: number, launches: Launch[]): void {
    this.releaseStaleGang();
    const current = this.currentGang();
    if (current === undefined) return;
    let g = this.gang;
    if (g === undefined) {
      g = { ...current, hold: createGangHold(current.stage), offers: new Map(), releases: 0 };
      this.gang = g;
    }
    const mine = [...pool.values()].filter((o) => o.role === g.entry.role);
    for (const o of mine) {
      pool.delete(o.id);
      g.offers.set(o.id, o);
    }
    holdOffers(g.hold, mine, now);
    this.decideGang(g, now, pool, launches);
  }

  /** Decides a gang's fate at `now`: launch it, keep waiting, or give its offers back. */
  private decideGang(g: GangRun, now: number, pool: Map<string, Offer>, launches: Launch[]): void {
    const job = g.entry.state;
    const stage = job.stages.find((s) => s.name === g.stage)!;
    const tasks = stage.taskIds.map((id) => g.entry.planned.get(id)!);
    const timeoutMs = tasks[0]?.gangTimeoutMs ?? 20_000;
    const d = decideGang(g.hold, tasks, now, { timeoutMs, executor: { executorId: this.options.executor.executorId, resources: this.options.executor.resources } });
    if (d.action === 'WAIT') return;
    const held = g.offers;
    this.gang = undefined;
    if (d.action === 'LAUNCH') {
      const launch: Launch = { offerIds: d.usedOfferIds, tasks: [], jobs: new Map() };
      for (const a of d.assignments) this.launchTask(g.entry, a.taskId, a.agentId, now, launch);
      launches.push(launch);
      for (const id of d.declineOfferIds) pool.set(id, held.get(id)!);
      this.options.logger.info({ jobId: job.jobId, stage: g.stage, tasks: tasks.length, agents: new Set(d.assignments.map((a) => a.agentId)).size }, 'gang launched');
      return;
    }
    // RELEASE: give the offers back for a while, and give up after too many tries.
    this.options.metrics.offersDeclined.inc(d.offerIds.length);
    void this.client?.decline(d.offerIds, { refuseMs: BUSY_REFUSE_MS }).catch(() => {});
    const releases = g.releases + 1;
    this.options.logger.info({ jobId: job.jobId, stage: g.stage, releases, reason: d.reason }, 'gang released its offers');
    if (releases >= this.options.maxGangReleases) {
      const effects = failJob(job, now, 'GANG_UNSCHEDULABLE', `gang stage ${g.stage} found no room for its ${tasks.length} tasks in ${releases} tries: ${d.reason}`);
      this.options.states.markJob(job.jobId);
      this.handleEffects(g.entry, effects);
    } else {
      this.gang = { ...g, hold: createGangHold(g.stage), offers: new Map(), releases };
    }
  }

  /** Gives back the offers of a gang that no longer waits (its job ended). */
  private releaseStaleGang(): void {
    const g = this.gang;
    if (g === undefined) return;
    const current = this.currentGang();
    if (current?.entry === g.entry && current.stage === g.stage) return;
    this.gang = undefined;
    if (g.offers.size > 0) void this.client?.decline([...g.offers.keys()], { refuseMs: MIN_REFUSE_MS }).catch(() => {});
  }

  /** Fits launchable tasks into the offers left in `pool`; returns when a locality wait ends, if one does. */
  private offerTasks(pool: Map<string, Offer>, now: number, launches: Launch[]): number | undefined {
    const limit = pool.size * this.options.maxTasksPerOffer;
    const candidates = this.candidates(limit, now);
    if (candidates.length === 0) return undefined;
    const taken = new Set<string>();
    let waitUntil: number | undefined;
    const hosting = new Set<string>();
    const launch: Launch = { offerIds: [], tasks: [], jobs: new Map() };
    for (const offer of [...pool.values()]) {
      const mine: LocalityCandidate[] = [];
      for (const c of candidates) if (!taken.has(c.taskId) && c.entry.role === offer.role) mine.push(c);
      if (mine.length === 0) continue;
      const runsExecutor = hosting.has(offer.agentId) || (offer.executorIds ?? []).includes(this.options.executor.executorId);
      const choice = chooseTasksForOffer(mine, offer, now, { limit: this.options.maxTasksPerOffer, ...(runsExecutor ? {} : { reserve: this.options.executor.resources }) });
      if (choice.nextRelaxAtMs !== undefined && (waitUntil === undefined || choice.nextRelaxAtMs < waitUntil)) waitUntil = choice.nextRelaxAtMs;
      if (choice.chosen.length === 0) continue;
      pool.delete(offer.id);
      hosting.add(offer.agentId);
      launch.offerIds.push(offer.id);
      /** Tasks that may share a bundle, by job and stage. */
      const bundled = new Map<string, { entry: JobEntry; taskIds: string[] }>();
      for (const { taskId } of choice.chosen) {
        taken.add(taskId);
        const entry = this.jobs.get(taskId.slice(0, taskId.indexOf('.')))!;
        const planned = entry.planned.get(taskId)!;
        if (this.options.bundleSize > 1 && planned.run.kind === 'module' && planned.timeoutMs === undefined) {
          const key = `${entry.jobId}.${planned.stage}`;
          const group = bundled.get(key);
          if (group === undefined) bundled.set(key, { entry, taskIds: [taskId] });
          else group.taskIds.push(taskId);
        } else {
          this.launchTask(entry, taskId, offer.agentId, now, launch);
        }
      }
      for (const { entry, taskIds } of bundled.values()) {
        // As few bundles as the size allows, of sizes that differ by one at most.
        const count = Math.ceil(taskIds.length / this.options.bundleSize);
        for (let b = 0, from = 0; b < count; b++) {
          const to = Math.round(((b + 1) * taskIds.length) / count);
          const members = taskIds.slice(from, to);
          this.launchBundle(entry, members, offer.agentId, now, launch);
          from = to;
        }
      }
    }
    if (launch.tasks.length > 0) launches.push(launch);
    return waitUntil;
  }

  /** Marks one task LAUNCHING and adds its TaskInfo to `launch`. */
  private launchTask(entry: JobEntry, taskId: string, agentId: string, now: number, launch: Launch): void {
    const job = entry.state;
    const launchId = markLaunching(job, taskId, now, { agentId });
    this.options.states.markTask(job.jobId, taskId);
    this.progressDirty.add(job.jobId);
    try {
      const info = batchTaskInfo(entry.planned.get(taskId)!, { agentId, executor: this.options.executor, launchId, inputs: taskInputs(job, taskId) });
      launch.tasks.push(info);
      launch.jobs.set(launchId, entry);
    } catch (error) {
      const effects = applyTaskStatus(job, { taskId: launchId, state: 'TASK_ERROR', message: fromUnknown(error).message }, now);
      this.handleEffects(entry, effects);
    }
  }

  /**
   * Marks tasks of one stage LAUNCHING in one bundle and adds the bundle's TaskInfo to `launch`.
   * Tasks too large together (their args and env over the data limit) go in halves, down to
   * single tasks, which say what is too large.
   */
  private launchBundle(entry: JobEntry, taskIds: string[], agentId: string, now: number, launch: Launch): void {
    if (taskIds.length === 1) {
      this.launchTask(entry, taskIds[0]!, agentId, now, launch);
      return;
    }
    const job = entry.state;
    // The ids markLaunching gives: the next attempt of each.
    const launchIds = taskIds.map((taskId) => launchIdOf(taskId, job.tasks[taskId]!.attempt + 1));
    const bundleId = `${launchIds[0]}+${launchIds.length}`;
    let info: TaskInfo;
    try {
      const planned = taskIds.map((id) => entry.planned.get(id)!);
      info = batchBundleInfo(planned, { agentId, executor: this.options.executor, bundleId, launchIds, inputs: taskInputs(job, taskIds[0]!) });
    } catch {
      const half = Math.ceil(taskIds.length / 2);
      this.launchBundle(entry, taskIds.slice(0, half), agentId, now, launch);
      this.launchBundle(entry, taskIds.slice(half), agentId, now, launch);
      return;
    }
    for (const taskId of taskIds) {
      markLaunching(job, taskId, now, { agentId, bundleId });
      this.options.states.markTask(job.jobId, taskId);
    }
    this.progressDirty.add(job.jobId);
    launch.tasks.push(info);
    launch.jobs.set(bundleId, entry);
    this.bundles.set(bundleId, { entry, members: launchIds });
  }

  /**
   * Launchable tasks (gang stages left out), at most `limit`, interleaved by weight: each pick
   * goes to the job with the fewest active-or-picked tasks per unit of weight.
   */
  private candidates(limit: number, now: number): (LocalityCandidate & { entry: JobEntry })[] {
    const queues: { entry: JobEntry; ids: string[]; next: number; load: number }[] = [];
    for (const entry of this.ordered()) {
      const ids = launchableTasks(entry.state, limit).filter((id) => !entry.planned.get(id)!.gang);
      if (ids.length > 0) queues.push({ entry, ids, next: 0, load: activeCount(entry.state) });
    }
    const out: (LocalityCandidate & { entry: JobEntry })[] = [];
    while (out.length < limit && queues.length > 0) {
      let best = 0;
      for (let i = 1; i < queues.length; i++) {
        if (queues[i]!.load / queues[i]!.entry.weight < queues[best]!.load / queues[best]!.entry.weight) best = i;
      }
      const q = queues[best]!;
      const id = q.ids[q.next++]!;
      const t = q.entry.planned.get(id)!;
      const progress = q.entry.state.tasks[id]!;
      out.push({ taskId: id, resources: t.resources, prefer: t.prefer, localityWaitMs: t.localityWaitMs, pendingSinceMs: progress.pendingSinceMs ?? now, entry: q.entry });
      q.load++;
      if (q.next >= q.ids.length) queues.splice(best, 1);
    }
    return out;
  }

  /** Running jobs, heaviest first, then oldest first. */
  private ordered(): JobEntry[] {
    const running = [...this.jobs.values()].filter((e) => e.state.state === 'RUNNING');
    return running.sort((a, b) => b.weight - a.weight || a.submittedMs - b.submittedMs);
  }

  private onRescind(offerIds: string[]): void {
    const g = this.gang;
    if (g === undefined) return;
    forgetOffers(g.hold, offerIds);
    for (const id of offerIds) g.offers.delete(id);
  }

  // ---- statuses --------------------------------------------------------------------------------

  /** Applies a batch of statuses; resolves (so they are acknowledged) once their effect is stored. */
  private onUpdate(statuses: TaskStatus[]): Promise<void> {
    const now = this.options.clock();
    const kills = new Map<string, KillRequest>();
    for (const status of statuses) {
      const bundle = this.bundles.get(status.taskId);
      if (bundle !== undefined) {
        this.onBundleStatus(status, bundle, now, kills);
        continue;
      }
      const launchId = status.taskId;
      const entry = this.jobs.get(launchId.slice(0, launchId.indexOf('.')));
      if (entry === undefined || entry.state.launches[launchId] === undefined) {
        // An attempt this scheduler no longer wants (an old gang member, a job ended meanwhile).
        if (!isTerminalState(status.state) && status.state !== 'TASK_KILLING') kills.set(launchId, { taskId: launchId, ...(status.agentId !== undefined ? { agentId: status.agentId } : {}) });
        continue;
      }
      const terminal = isTerminalState(status.state);
      this.applyStatus(entry, launchId, status, terminal ? decodeTaskOutput(status.data) : undefined, now, kills);
    }
    if (kills.size > 0) void this.client?.kill([...kills.values()]).catch((e: unknown) => this.options.logger.warn({ err: fromUnknown(e).message }, 'kill failed'));
    void this.reviveOrSuppress();
    this.planWake();
    return this.options.states.flushed();
  }

  /**
   * A bundle's status: the members it reports ended take their ends; TASK_RUNNING starts the
   * others; a terminal status ends the members it did not report with its own state (a bundle
   * lost with its agent loses its members).
   */
  private onBundleStatus(status: TaskStatus, bundle: BundleEntry, now: number, kills: Map<string, KillRequest>): void {
    const { entry } = bundle;
    const launches = entry.state.launches;
    const report = decodeBundleReport(status.data);
    for (const end of report?.ended ?? []) {
      if (launches[end.launchId] === undefined) continue;
      const member: StatusOf = {
        state: end.state,
        ...(end.message !== undefined ? { message: end.message } : {}),
        ...(end.output.exitCode !== undefined ? { exitCode: end.output.exitCode } : {}),
        ...(status.agentId !== undefined ? { agentId: status.agentId } : {}),
      };
      this.applyStatus(entry, end.launchId, member, end.output, now, kills);
    }
    const terminal = isTerminalState(status.state);
    if (!terminal && status.state !== 'TASK_RUNNING') return;
    let active = 0;
    for (const launchId of bundle.members) {
      const taskId = launches[launchId];
      if (taskId === undefined) continue;
      if (!terminal) {
        active++;
        if (entry.state.tasks[taskId]!.state === 'LAUNCHING') this.applyStatus(entry, launchId, status, undefined, now, kills);
        continue;
      }
      const message = `its bundle ${status.taskId} ended ${status.state}${status.message !== undefined ? `: ${status.message}` : ''}`;
      // A bundle that finished without reporting a member lost it.
      const state = status.state === 'TASK_FINISHED' ? 'TASK_LOST' : status.state;
      this.applyStatus(entry, launchId, { ...status, state, message }, undefined, now, kills);
    }
    if (terminal) this.bundles.delete(status.taskId);
    else if (active === 0 && status.state !== 'TASK_KILLING') kills.set(status.taskId, { taskId: status.taskId, ...(status.agentId !== undefined ? { agentId: status.agentId } : {}) });
  }

  /** Applies one status of a current attempt (`launchId`) to its job. */
  private applyStatus(entry: JobEntry, launchId: string, status: StatusOf, output: TaskOutput | undefined, now: number, kills: Map<string, KillRequest>): void {
    const taskId = entry.state.launches[launchId];
    if (taskId === undefined) return;
    const effects = applyTaskStatus(
      entry.state,
      {
        taskId: launchId,
        state: status.state,
        ...(status.message !== undefined ? { message: status.message } : {}),
        ...(status.agentId !== undefined ? { agentId: status.agentId } : {}),
        ...(output !== undefined ? { output } : {}),
      },
      now,
    );
    this.changed(entry, taskId, effects);
    if (isTerminalState(status.state)) {
      this.options.metrics.tasksEnded.inc({ state: status.state });
      if (this.listeners.size > 0) {
        const task = entry.state.tasks[taskId]!;
        this.emit({
          type: 'TASK_ENDED',
          jobId: entry.jobId,
          taskId,
          launchId,
          taskState: status.state,
          state: task.state,
          ...(status.message !== undefined ? { message: status.message } : {}),
          ...(status.exitCode !== undefined ? { exitCode: status.exitCode } : {}),
          atMs: now,
        });
      }
    }
    for (const effect of effects) {
      if (effect.type !== 'KILL') continue;
      const kill = killOf(effect);
      kills.set(kill.taskId, kill);
    }
    this.endedEffects(entry, effects);
  }

  /** Marks what a transition of `taskId` changed as dirty. */
  private changed(entry: JobEntry, taskId: string, effects: JobEffect[]): void {
    const task = entry.state.tasks[taskId];
    const gang = task !== undefined && entry.planned.get(taskId)?.gang === true;
    if (effects.length > 0 || gang) this.options.states.markJob(entry.jobId);
    else this.options.states.markTask(entry.jobId, taskId);
    this.progressDirty.add(entry.jobId);
  }

  /** Carries out effects: kills, and the job's end. */
  private handleEffects(entry: JobEntry, effects: JobEffect[]): void {
    if (effects.length === 0) return;
    this.options.states.markJob(entry.jobId);
    this.progressDirty.add(entry.jobId);
    const kills = new Map<string, KillRequest>();
    for (const effect of effects) {
      if (effect.type !== 'KILL') continue;
      const kill = killOf(effect);
      kills.set(kill.taskId, kill);
    }
    if (kills.size > 0) void this.client?.kill([...kills.values()]).catch((e: unknown) => this.options.logger.warn({ err: fromUnknown(e).message }, 'kill failed'));
    this.endedEffects(entry, effects);
  }

  private endedEffects(entry: JobEntry, effects: JobEffect[]): void {
    for (const effect of effects) {
      if (effect.type !== 'JOB_ENDED') continue;
      this.options.metrics.jobsEnded.inc({ state: effect.state });
      this.options.logger.info({ jobId: entry.jobId, state: effect.state, reason: effect.reason, message: effect.message }, 'job ended');
      this.emitProgressOf(entry);
      this.emit({
        type: 'JOB_ENDED',
        jobId: entry.jobId,
        state: effect.state,
        ...(effect.reason !== undefined ? { reason: effect.reason } : {}),
        message: effect.message,
        atMs: this.options.clock(),
      });
    }
  }

  // ---- time ------------------------------------------------------------------------------------

  /** Moves every job's clock to `now`: retries due, timeouts, deadlines. */
  private advance(now: number): void {
    for (const entry of this.jobs.values()) {
      const job = entry.state;
      if (job.state !== 'RUNNING') continue;
      const due: string[] = [];
      for (const stage of job.stages) {
        if (stage.counts.RETRY_WAIT === 0 && (stage.counts.RUNNING === 0 || !entry.hasTimeouts)) continue;
        for (const id of stage.taskIds) {
          const t = job.tasks[id]!;
          if ((t.state === 'RETRY_WAIT' && (t.retryAtMs ?? 0) <= now) || (t.state === 'RUNNING' && t.timeoutAtMs !== undefined && t.timeoutAtMs <= now)) due.push(id);
        }
      }
      const effects = advanceJob(job, now);
      for (const id of due) this.options.states.markTask(job.jobId, id);
      if (due.length > 0) this.progressDirty.add(job.jobId);
      this.handleEffects(entry, effects);
    }
  }

  /** When the one timer should fire next. */
  private wakeAt(): number | undefined {
    let at: number | undefined = this.nextLaunchCheckMs;
    const earlier = (t: number | undefined) => {
      if (t !== undefined && (at === undefined || t < at)) at = t;
    };
    for (const entry of this.jobs.values()) {
      const job = entry.state;
      if (job.state !== 'RUNNING') continue;
      const retrying = job.stages.some((s) => s.counts.RETRY_WAIT > 0);
      // nextWakeAt walks the tasks of busy stages: only needed for retries and timeouts.
      earlier(retrying || entry.hasTimeouts ? nextWakeAt(job) : job.deadlineAtMs);
    }
    const g = this.gang;
    if (g?.hold.sinceMs !== undefined) earlier(g.hold.sinceMs + (g.entry.planned.get(`${g.entry.jobId}.${g.stage}.0`)?.gangTimeoutMs ?? 20_000));
    return at;
  }

  /** Sets the timer again, once per turn of the event loop however many changes asked for it. */
  private planWake(): void {
    if (this.wakePlanned || this.stopped) return;
    this.wakePlanned = true;
    setImmediate(() => {
      this.wakePlanned = false;
      if (this.stopped) return;
      if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
      const at = this.wakeAt();
      if (at === undefined) return;
      const delay = Math.min(2 ** 31 - 1, Math.max(0, at - this.options.clock()));
      this.wakeTimer = setTimeout(() => this.wake(), delay);
      this.wakeTimer.unref();
    });
  }

  private wake(): void {
    if (this.stopped) return;
    const now = this.options.clock();
    this.advance(now);
    // A gang past its timeout gives its offers back: decided with the offers, in their queue.
    if (this.gang !== undefined) void this.queueOffers([]);
    if (now >= this.nextLaunchCheckMs) {
      this.nextLaunchCheckMs = now + this.options.launchTimeoutMs;
      this.checkLaunches(now);
    }
    void this.reviveOrSuppress();
    this.planWake();
  }

  /** LAUNCHING attempts older than `launchTimeoutMs` are reconciled: the master says where they are, or that they are lost. */
  private checkLaunches(now: number): void {
    const stale = new Map<string, { taskId: string; agentId?: string }>();
    for (const entry of this.jobs.values()) {
      const job = entry.state;
      if (job.state !== 'RUNNING' || !job.stages.some((s) => s.counts.LAUNCHING > 0)) continue;
      for (const [launchId, taskId] of Object.entries(job.launches)) {
        const t = job.tasks[taskId]!;
        if (t.state === 'LAUNCHING' && (t.launchedAtMs ?? now) + this.options.launchTimeoutMs <= now) {
          const id = t.bundleId ?? launchId;
          stale.set(id, t.agentId === undefined ? { taskId: id } : { taskId: id, agentId: t.agentId });
        }
      }
    }
    if (stale.size > 0) void this.client?.reconcile([...stale.values()]).catch(() => {});
  }

  // ---- offers wanted or not --------------------------------------------------------------------

  /** Whether any job has a task to launch now. */
  private hasLaunchable(): boolean {
    for (const entry of this.jobs.values()) {
      const job = entry.state;
      if (job.state !== 'RUNNING') continue;
      if (job.parallelism !== undefined && activeCount(job) >= job.parallelism) continue;
      for (const stage of job.stages) if (stage.counts.PENDING > 0 && isStageReady(job, stage.name)) return true;
    }
    return false;
  }

  private async reviveOrSuppress(): Promise<void> {
    const client = this.client;
    if (client === undefined || this.stopped) return;
    const want = this.hasLaunchable();
    if (want && this.suppressed) {
      this.suppressed = false;
      await client.revive().catch((e: unknown) => {
        this.suppressed = true;
        this.options.logger.warn({ err: fromUnknown(e).message }, 'revive failed');
      });
    } else if (!want && !this.suppressed && this.gang === undefined) {
      this.suppressed = true;
      await client.suppress().catch((e: unknown) => {
        this.suppressed = false;
        this.options.logger.warn({ err: fromUnknown(e).message }, 'suppress failed');
      });
    }
  }

  // ---- events ----------------------------------------------------------------------------------

  private emit(event: BatchEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger.warn({ err: fromUnknown(error).message }, 'an event listener threw');
      }
    }
  }

  private emitProgress(): void {
    for (const jobId of this.progressDirty) {
      const entry = this.jobs.get(jobId);
      if (entry !== undefined) this.emitProgressOf(entry);
    }
  }

  private emitProgressOf(entry: JobEntry): void {
    this.progressDirty.delete(entry.jobId);
    if (this.listeners.size === 0) return;
    this.emit({ type: 'JOB_PROGRESS', jobId: entry.jobId, state: entry.state.state, stages: stageProgress(entry.state), atMs: this.options.clock() });
  }
}

/** The KILL an effect asks for: of its attempt, or of the bundle the attempt is in. */
function killOf(effect: Extract<JobEffect, { type: 'KILL' }>): KillRequest {
  const taskId = effect.bundleId ?? effect.launchId;
  return effect.agentId === undefined ? { taskId } : { taskId, agentId: effect.agentId };
}
