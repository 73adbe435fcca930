/**
 * Executors on the agent: custom executor processes that run a framework's tasks themselves and
 * speak the executor protocol with the agent (`protocol/executor.ts` in `@stoa/core`), and the
 * built-in default executor that runs task groups without a process of its own.
 *
 * - **Start.** A task with `executor`, or a LAUNCH_GROUP whose `groupExecutor` has a command,
 *   starts that executor once per (framework, executor id) on the agent, through the containerizer,
 *   in a sandbox of its own (`<workDir>/sandboxes/<frameworkId>/executors/<executorId>/<runId>`,
 *   which its tasks share), with `STOA_NATS_URL`, `STOA_AGENT_ID`, `STOA_FRAMEWORK_ID`,
 *   `STOA_EXECUTOR_ID`, `STOA_EXECUTOR_SUBJECT`, `STOA_EXECUTOR_CALLS_SUBJECT`,
 *   `STOA_SUBJECT_PREFIX`, `STOA_SANDBOX` and `HOST` in its environment. Later tasks reuse the
 *   running process. The executor's own resources count against the agent's while it lives; its
 *   container is limited by them alone (a containerizer cannot grow a running container), so they
 *   must cover what it runs.
 * - **Registration.** Tasks wait until the executor SUBSCRIBEs; then every task queued for it goes
 *   out in one LAUNCH event per turn (LAUNCH_GROUP for a group). An executor that has not
 *   subscribed within the registration timeout is killed, and its tasks fail with
 *   REASON_EXECUTOR_REGISTRATION_TIMEOUT.
 * - **Updates.** Each status of an UPDATE is checkpointed and handed to the status-update manager
 *   with the executor's own uuid (so the framework acknowledges the uuid the executor made); the
 *   reply means it is checkpointed; ACKNOWLEDGED follows the framework's acknowledgement. A status
 *   the agent already holds (same uuid) is not sent twice.
 * - **Kills and shutdowns.** A kill of a task still queued ends it at once (TASK_KILLED); a kill of
 *   a launched task is a KILL event, and an executor that has not reported the task's end a second
 *   after its grace period is killed. SHUTDOWN_EXECUTOR and SHUTDOWN_FRAMEWORK send SHUTDOWN and
 *   kill the process after the shutdown grace period.
 * - **Exit.** When an executor's process ends, its live tasks fail (TASK_FAILED,
 *   REASON_EXECUTOR_TERMINATED, or TASK_KILLED for those being killed) and the master hears
 *   EXECUTOR_EXITED (the framework gets FAILURE). An executor with no tasks left keeps running
 *   until it exits or is shut down, as in Mesos. Health checks and `maxCompletionTimeMs` of a
 *   custom executor's tasks are the executor's to enforce.
 * - **Default executor.** A LAUNCH_GROUP whose `groupExecutor` has no command is run by the agent
 *   itself, as Mesos' default executor would: its tasks are plain command tasks started together
 *   that share the group's lifetime — when one ends other than TASK_FINISHED, the others are killed.
 * - **Recovery.** Executors are checkpointed in the agent's journal (see `checkpoint.ts`) like tasks; a restarted agent re-attaches to live executor processes and reports those that
 *   ended meanwhile. A live executor notices nothing, or, if it called while the agent was away,
 *   re-subscribes with its unacknowledged tasks and updates (the SDK's `ExecutorClient` does).
 *
 * - **Events** to executors are queued and published together at the end of the turn, so that the
 *   checkpoint records behind many of them (the acknowledgements of one ACKNOWLEDGE, say) are
 *   written once, before the first goes out.
 *
 * Executor ids are tokens of NATS subjects that do not name the framework, so one executor id is
 * used by one framework at a time on an agent: a launch with an id another framework's live
 * executor holds is refused.
 *
 * @example
 * ```ts
 * const executors = new Executors(host, { registrationTimeoutMs: 30_000, shutdownGracePeriodMs: 5000, recover: 'reconnect' });
 * executors.listen(agentId);
 * executors.launch(framework, task.executor, [record], false);   // starts it, LAUNCH once it subscribes
 * ```
 * @module
 */


import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import {
  type AgentCall,
  type ExecutorCall,
  ExecutorCallReplySchema,
  ExecutorCallSchema,
  type ExecutorEvent,
  ExecutorEventSchema,
  type ExecutorInfo,
  ExecutorSubscribeReplySchema,
  encode,
  type FrameworkInfo,
  isTerminalState,
  type Resource,
  StoaError,
  type Subjects,
  safeDecode,
  stripReservations,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
  type TaskStatusReason,
  type TaskStatusSource,
  type Transport,
  type TransportMsg,
  type TransportSubscription,
  type WireError,
} from '@stoa/core';
import type { Logger } from 'pino';
import { type ExecutorCheckpoint, type ExecutorJournal, fileNameOf, type KillReason } from './checkpoint.js';
import type { ContainerExit, Containerizer } from './containerizer/containerizer.js';
import { FetchError, fetchUris } from './fetcher.js';
import { newRunId } from './sandbox.js';
import type { StatusInput, TimerHandle, TimerQueue } from './status-updates.js';

/** The most tasks one LAUNCH event carries (keeps it well under NATS' payload limit). */
const MAX_TASKS_PER_EVENT = 500;
/** How long past a kill's grace period an executor has to report the task's end before it is killed. */
const KILL_REPORT_ALLOWANCE_MS = 1000;
/** SIGTERM → SIGKILL grace when the agent kills an executor process itself. */
const EXECUTOR_KILL_GRACE_MS = 1000;
/** Attempts at telling the master that an executor exited. */
const EXIT_REPORT_ATTEMPTS = 5;
/** Acknowledged uuids remembered per executor, to answer re-sent updates without forwarding them again. */
const ACKED_MEMORY = 10_000;

/**
 * A task as the executors see it: the fields of the agent's task record they read and write.
 * The agent's own record has more; it is passed through unchanged.
 */
export interface ExecutorTask {
  frameworkId: string;
  task: TaskInfo;
  state: TaskState;
  status?: TaskStatus;
  /** `staging`: not yet handed to its executor; `running`: sent in a LAUNCH (or started); `done`: ended. */
  phase: 'staging' | 'launching' | 'running' | 'done';
  runId: string;
  containerId: string;
  sandboxDir: string;
  /** When the task was sent to its executor (or started). */
  launchedAtMs?: number;
  killReason?: KillReason;
  /** `frameworkId\0executorId` of the executor that runs it. */
  executorKey?: string;
}

/** What the executors need from the agent that hosts them. */
export interface ExecutorHost<T extends ExecutorTask> {
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly containerizer: Containerizer;
  readonly timers: TimerQueue;
  readonly log: Logger;
  /** The agent's work dir; without one there are no sandboxes. */
  readonly workDir: string | undefined;
  /** Where executors are checkpointed; none when the agent does not checkpoint. */
  readonly checkpoint: ExecutorJournal | undefined;
  /** The host name executors see as `HOST`. */
  readonly hostname: string;
  /** The agent's id; undefined before its first registration. */
  agentId(): string | undefined;
  /** Whether the agent is registered with a master now. */
  isRegistered(): boolean;
  /** True while the agent stops leaving its containers running: exits are the next agent's to report. */
  isDetached(): boolean;
  /** The agent's record of a task. */
  task(frameworkId: string, taskId: string): T | undefined;
  /** Produces a status update of a task made by the agent (a terminal one releases the task). */
  emit(rec: T, state: TaskState, source: TaskStatusSource, extra: Partial<StatusInput>): void;
  /** Produces the terminal update of a task killed on purpose, by its kill reason. */
  emitKilled(rec: T, exit: ContainerExit | undefined, source: TaskStatusSource): void;
  /** Checkpoints and forwards a status an executor made, keeping its uuid. */
  forward(rec: T, status: TaskStatus): void;
  /** Whether an update of a task waits for its acknowledgement. */
  isPending(frameworkId: string, taskId: string, uuid: string): boolean;
  /** Checkpoints a task record. */
  saveTask(rec: T): void;
  /** Kills a task the agent runs itself (a task of the default executor). */
  killTask(rec: T, reason: KillReason, graceMs?: number): void;
  /** Counts resources as used. */
  claim(resources: Resource[]): void;
  /** Stops counting resources as used. */
  unclaim(resources: Resource[]): void;
  /** Sends a call to the master; resolves once it answered ok. */
  callMaster(call: AgentCall): Promise<void>;
}

/** Options of {@link Executors}. */
export interface ExecutorsOptions {
  /** Given to executors as `STOA_NATS_URL`. */
  natsUrl?: string;
  /** Kill an executor that has not subscribed this long after it started. */
  registrationTimeoutMs: number;
  /** How long an executor has between SHUTDOWN and being killed. */
  shutdownGracePeriodMs: number;
  /** What to do with the live executors found on recovery. */
  recover: 'reconnect' | 'cleanup';
}

/** One executor as the agent shows it. */
export interface ExecutorView {
  frameworkId: string;
  executorId: string;
  /** `default` for the built-in default executor (no process), `custom` for a process. */
  kind: 'custom' | 'default';
  /** `launching` until the process runs, `registering` until it subscribed, then `running`; `terminating` while shut down. */
  state: 'launching' | 'registering' | 'running' | 'terminating';
  containerId: string;
  sandboxDir: string;
  /** Tasks it runs or ran whose end is not yet acknowledged. */
  taskIds: string[];
}

/** Tasks queued for an executor until it subscribes: one LAUNCH batch, or one group. */
interface PendingLaunch {
  group: boolean;
  taskIds: string[];
}

/** An executor as the agent tracks it. */
interface ExecutorRecord {
  key: string;
  frameworkId: string;
  framework: FrameworkInfo;
  info: ExecutorInfo;
  /** The built-in default executor: no process, the agent runs the group's tasks. */
  builtin: boolean;
  runId: string;
  containerId: string;
  sandboxDir: string;
  /** `launching` (sandbox, fetch, containerizer), `live`, `terminating` (shut down or killed), `done`. */
  phase: 'launching' | 'live' | 'terminating' | 'done';
  subscribed: boolean;
  launchedAtMs?: number;
  /** Ids of its tasks the agent still has records of. */
  tasks: Set<string>;
  pending: PendingLaunch[];
  /** Task groups launched on it, for the default executor's shared fate and for recovery. */
  groups: string[][];
  /** The resources counted for it. */
  counted: Resource[];
  acked: Set<string>;
  /** Set once `start` runs (sandbox, fetch, launch). */
  starting: boolean;
  /** Why the agent killed it, when that decides its tasks' reason. */
  failReason?: TaskStatusReason;
  registrationTimer?: TimerHandle;
  shutdownTimer?: TimerHandle;
  escalations: Map<string, TimerHandle>;
}

/** `frameworkId\0executorId`. */
export function executorKeyOf(frameworkId: string, executorId: string): string {
  return `${frameworkId}\u0000${executorId}`;
}

/** `<workDir>/sandboxes/<frameworkId>/executors/<executorId>/<runId>`. */
export function executorSandboxPath(workDir: string, frameworkId: string, executorId: string, runId: string): string {
  return join(workDir, 'sandboxes', fileNameOf(frameworkId), 'executors', fileNameOf(executorId), runId);
}

/** Whether an executor needs a process: it has a command to run. */
export function hasCommand(info: ExecutorInfo): boolean {
  return (info.command?.value ?? '').trim() !== '' || (info.command?.shell === false && (info.command.arguments?.length ?? 0) > 0);
}

/**
 * The executors of one agent: custom executor processes and default-executor groups. The agent
 * creates the task records and decides what runs where; this class starts, feeds, kills, watches
 * and recovers executors, and answers their calls.
 */
export class Executors<T extends ExecutorTask> {
  private readonly records = new Map<string, ExecutorRecord>();
  private callSub: TransportSubscription | undefined;
  private callSubFor: string | undefined;
  private flushScheduled = false;
  /** Events to executors, published together at the end of the turn. */
  private outbox: { subject: string; data: Uint8Array; executorId: string; type: string }[] = [];
  private outboxScheduled = false;
  private readonly exitReports: { call: AgentCall; attempts: number }[] = [];
  private exitRetry: TimerHandle | undefined;
  private sendingExits = false;
  private stopped = false;
  /** Executor calls that failed to decode. */
  invalidCalls = 0;

  constructor(
    private readonly host: ExecutorHost<T>,
    private readonly options: ExecutorsOptions,
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Views

  /** The live executors, for re-registration (custom ones only: the master knows no default executors). */
  reregistration(): { frameworkId: string; executor: ExecutorInfo; framework: FrameworkInfo }[] {
    const out: { frameworkId: string; executor: ExecutorInfo; framework: FrameworkInfo }[] = [];
    for (const ex of this.records.values()) {
      if (!ex.builtin && ex.phase !== 'done') out.push({ frameworkId: ex.frameworkId, executor: ex.info, framework: ex.framework });
    }
    return out;
  }

  /** Every executor the agent has. */
  views(): ExecutorView[] {
    return [...this.records.values()]
      .filter((ex) => ex.phase !== 'done')
      .map((ex) => ({
        frameworkId: ex.frameworkId,
        executorId: ex.info.executorId,
        kind: ex.builtin ? ('default' as const) : ('custom' as const),
        state: ex.phase === 'launching' ? 'launching' : ex.phase === 'terminating' ? 'terminating' : ex.builtin || ex.subscribed ? 'running' : 'registering',
        containerId: ex.containerId,
        sandboxDir: ex.sandboxDir,
        taskIds: [...ex.tasks],
      }));
  }

  /** How many executor processes are not yet known to have ended. */
  get liveProcesses(): number {
    let n = 0;
    for (const ex of this.records.values()) if (!ex.builtin && ex.phase !== 'done') n++;
    return n;
  }

  /** Whether a task is run by a custom executor (rather than by the agent itself). */
  runs(rec: T): boolean {
    const ex = rec.executorKey === undefined ? undefined : this.records.get(rec.executorKey);
    return ex !== undefined && !ex.builtin;
  }

  // ---------------------------------------------------------------------------------------------
  // Launching

  /**
   * Why tasks for this executor cannot be launched now, or undefined when they can. `builtin`
   * says whether the launch wants the default executor (a group without a command).
   */
  refusal(frameworkId: string, info: ExecutorInfo, builtin: boolean): { state: TaskState; reason: TaskStatusReason; message: string } | undefined {
    for (const ex of this.records.values()) {
      if (ex.phase !== 'done' && ex.info.executorId === info.executorId && ex.frameworkId !== frameworkId) {
        return { state: 'TASK_ERROR', reason: 'REASON_TASK_INVALID', message: `executor id ${info.executorId} is in use on this agent by another framework` };
      }
    }
    const ex = this.records.get(executorKeyOf(frameworkId, info.executorId));
    if (ex !== undefined && ex.phase !== 'done') {
      if (ex.builtin !== builtin) {
        const kinds = (b: boolean) => (b ? 'the default executor (no command)' : 'a custom executor (with a command)');
        return { state: 'TASK_ERROR', reason: 'REASON_TASK_INVALID', message: `executor ${info.executorId} runs as ${kinds(ex.builtin)} here, not as ${kinds(builtin)}` };
      }
      if (ex.phase === 'terminating') {
        const partitionAware = ex.framework.capabilities?.includes('PARTITION_AWARE') === true;
        return { state: partitionAware ? 'TASK_DROPPED' : 'TASK_LOST', reason: 'REASON_EXECUTOR_TERMINATED', message: `executor ${info.executorId} is shutting down` };
      }
      return undefined;
    }
    if (!builtin && !hasCommand(info)) {
      return { state: 'TASK_ERROR', reason: 'REASON_TASK_INVALID', message: `executor ${info.executorId} has no command to run` };
    }
    return undefined;
  }

  /** The resources starting this executor would take: none when it already runs. */
  startCost(frameworkId: string, info: ExecutorInfo): Resource[] {
    const ex = this.records.get(executorKeyOf(frameworkId, info.executorId));
    return ex !== undefined && ex.phase !== 'done' ? [] : stripReservations(info.resources);
  }

  /**
   * Hands new task records (already in the agent's table, their resources counted) to a custom
   * executor, starting it when it does not run. They go out as a LAUNCH (or, with `group`, a
   * LAUNCH_GROUP) once it has subscribed.
   */
  launch(framework: FrameworkInfo & { id: string }, info: ExecutorInfo, recs: T[], group: boolean): void {
    const ex = this.findOrCreate(framework, info, false);
    const ids = recs.map((r) => r.task.taskId);
    for (const rec of recs) {
      rec.executorKey = ex.key;
      rec.runId = ex.runId;
      rec.containerId = ex.containerId;
      rec.sandboxDir = ex.sandboxDir;
      ex.tasks.add(rec.task.taskId);
      this.host.saveTask(rec);
    }
    if (group) {
      ex.groups.push(ids);
      ex.pending.push({ group: true, taskIds: ids });
    } else {
      const last = ex.pending[ex.pending.length - 1];
      if (last !== undefined && !last.group) last.taskIds.push(...ids);
      else ex.pending.push({ group: false, taskIds: ids });
    }
    this.save(ex);
    if (ex.phase === 'launching' && !ex.starting) {
      ex.starting = true;
      void this.start(ex).catch((error: unknown) => {
        this.host.log.error({ err: error, executorId: ex.info.executorId }, 'executor start failed unexpectedly');
        this.abandon(ex, 'REASON_CONTAINER_LAUNCH_FAILED', `cannot start executor ${ex.info.executorId}: ${messageOf(error)}`);
      });
    }
    this.scheduleFlush();
  }

  /**
   * Records a task group the agent runs itself as the default executor: the records share the
   * group's fate. The agent starts them as command tasks.
   */
  launchBuiltin(framework: FrameworkInfo & { id: string }, info: ExecutorInfo, recs: T[]): void {
    const ex = this.findOrCreate(framework, info, true);
    const ids = recs.map((r) => r.task.taskId);
    for (const rec of recs) {
      rec.executorKey = ex.key;
      ex.tasks.add(rec.task.taskId);
    }
    ex.groups.push(ids);
    this.save(ex);
  }

  private findOrCreate(framework: FrameworkInfo & { id: string }, info: ExecutorInfo, builtin: boolean): ExecutorRecord {
    const key = executorKeyOf(framework.id, info.executorId);
    const existing = this.records.get(key);
    if (existing !== undefined && existing.phase !== 'done') return existing;
    const runId = newRunId();
    const ex: ExecutorRecord = {
      key,
      frameworkId: framework.id,
      framework,
      info,
      builtin,
      runId,
      containerId: builtin ? '' : containerIdOf(info.executorId, runId),
      sandboxDir: '',
      phase: builtin ? 'live' : 'launching',
      subscribed: false,
      tasks: new Set(),
      pending: [],
      groups: [],
      counted: stripReservations(info.resources),
      acked: new Set(),
      starting: false,
      escalations: new Map(),
    };
    this.records.set(key, ex);
    this.host.claim(ex.counted);
    this.host.log.info({ frameworkId: framework.id, executorId: info.executorId, builtin }, builtin ? 'default executor group started' : 'starting an executor');
    return ex;
  }

  /** Sandbox, fetch, launch, watch; then waits for the executor to subscribe. */
  private async start(ex: ExecutorRecord): Promise<void> {
    const command = ex.info.command!;
    const workDir = this.host.workDir;
    if (workDir !== undefined) {
      ex.sandboxDir = executorSandboxPath(workDir, ex.frameworkId, ex.info.executorId, ex.runId);
      mkdirSync(ex.sandboxDir, { recursive: true });
      for (const rec of this.tasksOf(ex)) {
        rec.sandboxDir = ex.sandboxDir;
        this.host.saveTask(rec);
      }
      this.save(ex);
      const uris = command.uris ?? [];
      if (uris.length > 0) {
        try {
          await fetchUris(uris, ex.sandboxDir, { cacheDir: join(workDir, 'cache') });
        } catch (error) {
          const message = FetchError.isInstance(error) ? error.message : `fetching failed: ${messageOf(error)}`;
          this.abandon(ex, 'REASON_FETCHER_FAILED', `executor ${ex.info.executorId}: ${message}`);
          return;
        }
      }
    }
    if (this.stopped) return; // the agent stopped meanwhile: the next one finds it never launched
    if (ex.phase !== 'launching') {
      this.abandon(ex, 'REASON_EXECUTOR_TERMINATED', `executor ${ex.info.executorId} was shut down before it started`);
      return;
    }
    const launch = {
      containerId: ex.containerId,
      command,
      sandboxDir: ex.sandboxDir,
      env: this.executorEnv(ex),
      resources: ex.info.resources,
      ...(command.user !== undefined ? { user: command.user } : {}),
    };
    try {
      this.host.checkpoint?.sync(); // the executor's record is on disk before its process exists
      await this.host.containerizer.launch(launch);
    } catch (error) {
      this.abandon(ex, 'REASON_CONTAINER_LAUNCH_FAILED', `cannot launch executor ${ex.info.executorId}: ${messageOf(error)}`);
      return;
    }
    ex.launchedAtMs = this.host.timers.now();
    this.watch(ex);
    if (ex.phase !== 'launching') {
      // Shut down while it was starting: finish that now.
      this.killProcess(ex);
      return;
    }
    ex.phase = 'live';
    this.save(ex);
    this.host.log.info({ executorId: ex.info.executorId, containerId: ex.containerId }, 'executor started; waiting for it to subscribe');
    if (!ex.subscribed) this.armRegistration(ex, this.options.registrationTimeoutMs);
    this.scheduleFlush();
  }

  /** The environment an executor process sees. */
  private executorEnv(ex: ExecutorRecord): Record<string, string> {
    const agentId = this.host.agentId() ?? '';
    const s = this.host.subjects;
    const env: Record<string, string> = {
      STOA_AGENT_ID: agentId,
      STOA_FRAMEWORK_ID: ex.frameworkId,
      STOA_EXECUTOR_ID: ex.info.executorId,
      STOA_EXECUTOR_SUBJECT: s.executor(agentId, ex.info.executorId),
      STOA_EXECUTOR_CALLS_SUBJECT: s.executorCalls(agentId, ex.info.executorId),
      STOA_SUBJECT_PREFIX: s.prefix,
      STOA_SANDBOX: ex.sandboxDir,
      HOST: this.host.hostname,
    };
    if (this.options.natsUrl !== undefined) env.STOA_NATS_URL = this.options.natsUrl;
    return { ...env, ...(ex.info.command?.environment ?? {}) };
  }

  private armRegistration(ex: ExecutorRecord, timeoutMs: number): void {
    ex.registrationTimer?.cancel();
    ex.registrationTimer = this.host.timers.schedule(this.host.timers.now() + timeoutMs, () => {
      ex.registrationTimer = undefined;
      if (ex.subscribed || ex.phase !== 'live') return;
      this.host.log.warn({ executorId: ex.info.executorId, timeoutMs }, 'the executor did not subscribe in time; killing it');
      ex.failReason = 'REASON_EXECUTOR_REGISTRATION_TIMEOUT';
      this.killProcess(ex, 0);
    });
  }

  private watch(ex: ExecutorRecord): void {
    this.host.containerizer.wait(ex.containerId).then(
      (exit) => this.onExit(ex, exit),
      (error: unknown) => this.onExit(ex, { unknown: true, message: `lost track of the executor: ${messageOf(error)}` }),
    );
  }

  /** Sends the queued tasks of subscribed executors at the end of this turn, batched. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends every subscribed executor its queued tasks now. */
  flush(): void {
    if (this.stopped) return;
    for (const ex of this.records.values()) {
      if (!ex.builtin && ex.subscribed && ex.phase === 'live' && ex.pending.length > 0) this.sendPending(ex);
    }
  }

  private sendPending(ex: ExecutorRecord): void {
    const pending = ex.pending;
    ex.pending = [];
    const now = this.host.timers.now();
    let batch: TaskInfo[] = [];
    const sendBatch = (): void => {
      for (let i = 0; i < batch.length; i += MAX_TASKS_PER_EVENT) this.publish(ex, { v: 1, type: 'LAUNCH', tasks: batch.slice(i, i + MAX_TASKS_PER_EVENT) });
      batch = [];
    };
    for (const p of pending) {
      const recs: T[] = [];
      for (const id of p.taskIds) {
        const rec = this.host.task(ex.frameworkId, id);
        if (rec === undefined || rec.executorKey !== ex.key || rec.phase !== 'staging' || isTerminalState(rec.state)) continue;
        rec.phase = 'running';
        rec.launchedAtMs = now;
        this.host.saveTask(rec);
        recs.push(rec);
      }
      if (recs.length === 0) continue;
      if (p.group) {
        sendBatch();
        this.publish(ex, { v: 1, type: 'LAUNCH_GROUP', tasks: recs.map((r) => r.task) });
      } else {
        batch.push(...recs.map((r) => r.task));
      }
    }
    sendBatch();
  }

  /** Queues an event for an executor; the queue goes out at the end of the turn, in order. */
  private publish(ex: ExecutorRecord, event: ExecutorEvent): void {
    const agentId = this.host.agentId();
    if (agentId === undefined) return;
    let data: Uint8Array;
    try {
      data = encode(ExecutorEventSchema, event);
    } catch (error) {
      this.host.log.warn({ err: error, executorId: ex.info.executorId, type: event.type }, 'cannot encode an event to an executor');
      return;
    }
    this.outbox.push({ subject: this.host.subjects.executor(agentId, ex.info.executorId), data, executorId: ex.info.executorId, type: event.type });
    if (this.outboxScheduled) return;
    this.outboxScheduled = true;
    queueMicrotask(() => {
      this.outboxScheduled = false;
      this.publishQueued();
    });
  }

  /** Publishes the queued events (the transport writes the checkpoint first, once). */
  private publishQueued(): void {
    const queued = this.outbox;
    if (queued.length === 0) return;
    this.outbox = [];
    for (const e of queued) {
      try {
        this.host.transport.publish(e.subject, e.data);
      } catch (error) {
        this.host.log.warn({ err: error, executorId: e.executorId, type: e.type }, 'cannot send an event to an executor');
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Kills, shutdowns, messages, acknowledgements

  /**
   * Kills a task of a custom executor (its kill reason is already set): at once when it was not
   * yet sent; otherwise with a KILL event, and by killing the executor when it does not report
   * the task's end in time.
   */
  kill(rec: T, graceMs: number): void {
    const ex = rec.executorKey === undefined ? undefined : this.records.get(rec.executorKey);
    if (ex === undefined || ex.phase === 'done' || rec.phase === 'staging') {
      if (ex !== undefined) this.unqueue(ex, rec.task.taskId);
      rec.phase = 'done';
      this.host.emitKilled(rec, undefined, 'SOURCE_AGENT');
      return;
    }
    this.publish(ex, { v: 1, type: 'KILL', taskId: rec.task.taskId, killPolicy: { gracePeriodMs: graceMs } });
    const taskId = rec.task.taskId;
    ex.escalations.get(taskId)?.cancel();
    ex.escalations.set(
      taskId,
      this.host.timers.schedule(this.host.timers.now() + graceMs + KILL_REPORT_ALLOWANCE_MS, () => {
        ex.escalations.delete(taskId);
        const now = this.host.task(ex.frameworkId, taskId);
        if (now !== rec || isTerminalState(rec.state) || ex.phase === 'done') return;
        this.host.log.warn({ executorId: ex.info.executorId, taskId }, 'the executor did not kill its task in time; killing the executor');
        this.killProcess(ex);
      }),
    );
  }

  /** SHUTDOWN_EXECUTOR: shuts one executor of a framework down. */
  shutdown(frameworkId: string, executorId: string, reason: KillReason, graceMs?: number): void {
    const ex = this.records.get(executorKeyOf(frameworkId, executorId));
    if (ex === undefined || ex.phase === 'done') {
      this.host.log.debug({ frameworkId, executorId }, 'shutdown of an executor this agent does not run; ignored');
      return;
    }
    this.shutdownExecutor(ex, reason, graceMs);
  }

  /** Shuts down every custom executor of a framework (all of them without one). */
  shutdownAll(frameworkId: string | undefined, reason: KillReason, graceMs?: number): void {
    for (const ex of [...this.records.values()]) {
      if (ex.builtin || (frameworkId !== undefined && ex.frameworkId !== frameworkId)) continue;
      this.shutdownExecutor(ex, reason, graceMs);
    }
  }

  private shutdownExecutor(ex: ExecutorRecord, reason: KillReason, graceMs?: number): void {
    if (ex.phase === 'terminating' || ex.phase === 'done') return;
    if (ex.builtin) {
      for (const rec of this.tasksOf(ex)) if (!isTerminalState(rec.state)) this.host.killTask(rec, reason, graceMs);
      return;
    }
    const grace = graceMs ?? this.options.shutdownGracePeriodMs;
    for (const rec of this.tasksOf(ex)) {
      if (isTerminalState(rec.state)) continue;
      rec.killReason ??= reason;
      if (rec.phase === 'staging') {
        rec.phase = 'done';
        this.host.emitKilled(rec, undefined, 'SOURCE_AGENT');
      } else {
        this.host.saveTask(rec);
      }
    }
    ex.pending = [];
    const was = ex.phase;
    ex.phase = 'terminating';
    ex.registrationTimer?.cancel();
    this.save(ex);
    this.host.log.info({ executorId: ex.info.executorId, reason, graceMs: grace }, 'shutting an executor down');
    if (was !== 'live') return; // still launching: start() kills it once it runs
    if (ex.subscribed) {
      this.publish(ex, { v: 1, type: 'SHUTDOWN', gracePeriodMs: grace });
      ex.shutdownTimer = this.host.timers.schedule(this.host.timers.now() + grace, () => {
        ex.shutdownTimer = undefined;
        if (ex.phase !== 'done') this.killProcess(ex);
      });
    } else {
      this.killProcess(ex); // it cannot hear a SHUTDOWN before it subscribed
    }
  }

  private killProcess(ex: ExecutorRecord, graceMs = EXECUTOR_KILL_GRACE_MS): void {
    if (ex.phase === 'done') return;
    ex.phase = 'terminating';
    this.host.checkpoint?.sync();
    this.host.containerizer.kill(ex.containerId, graceMs).catch((error: unknown) => {
      this.host.log.error({ err: error, executorId: ex.info.executorId }, 'cannot kill an executor');
    });
  }

  /** FRAMEWORK_MESSAGE: passes the framework's data to its executor. */
  message(frameworkId: string, executorId: string, data: Uint8Array): void {
    const ex = this.records.get(executorKeyOf(frameworkId, executorId));
    if (ex === undefined || ex.builtin || ex.phase === 'done' || !ex.subscribed) {
      this.host.log.debug({ frameworkId, executorId }, 'framework message for an executor that is not subscribed here; dropped');
      return;
    }
    this.publish(ex, { v: 1, type: 'MESSAGE', data });
  }

  /** The framework acknowledged an update its executor made: tell the executor. */
  acknowledged(rec: T, uuid: string): void {
    const ex = rec.executorKey === undefined ? undefined : this.records.get(rec.executorKey);
    if (ex === undefined || ex.builtin || ex.phase === 'done') return;
    this.rememberAck(ex, uuid);
    this.publish(ex, { v: 1, type: 'ACKNOWLEDGED', taskId: rec.task.taskId, uuid });
  }

  private rememberAck(ex: ExecutorRecord, uuid: string): void {
    ex.acked.add(uuid);
    if (ex.acked.size > ACKED_MEMORY) {
      const oldest = ex.acked.values().next().value;
      if (oldest !== undefined) ex.acked.delete(oldest);
    }
  }

  /** A task of an executor ended: the default executor kills the rest of a failed group and ends with its last task. */
  onTaskTerminal(rec: T): void {
    const ex = rec.executorKey === undefined ? undefined : this.records.get(rec.executorKey);
    if (ex === undefined) return;
    ex.escalations.get(rec.task.taskId)?.cancel();
    ex.escalations.delete(rec.task.taskId);
    if (!ex.builtin || ex.phase === 'done') return;
    if (rec.state !== 'TASK_FINISHED') {
      const group = ex.groups.find((g) => g.includes(rec.task.taskId)) ?? [];
      for (const id of group) {
        const other = this.host.task(ex.frameworkId, id);
        if (other === undefined || other === rec || other.executorKey !== ex.key || isTerminalState(other.state)) continue;
        this.host.log.info({ taskId: id, failed: rec.task.taskId }, 'killing a task of a group whose other task ended');
        this.host.killTask(other, 'kill');
      }
    }
    if (this.tasksOf(ex).every((r) => isTerminalState(r.state))) this.finish(ex);
  }

  /** The agent forgot a task (its end was acknowledged). */
  forgetTask(rec: T): void {
    const ex = rec.executorKey === undefined ? undefined : this.records.get(rec.executorKey);
    if (ex === undefined) return;
    ex.tasks.delete(rec.task.taskId);
    const before = ex.groups.length;
    ex.groups = ex.groups.map((g) => g.filter((id) => id !== rec.task.taskId)).filter((g) => g.length > 0);
    if (ex.phase !== 'done' && before !== ex.groups.length) this.save(ex);
  }

  private unqueue(ex: ExecutorRecord, taskId: string): void {
    for (const p of ex.pending) p.taskIds = p.taskIds.filter((id) => id !== taskId);
    ex.pending = ex.pending.filter((p) => p.taskIds.length > 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Ends

  /** An executor's process ended: its live tasks fail, the master hears of it. */
  private onExit(ex: ExecutorRecord, exit: ContainerExit): void {
    if (ex.phase === 'done' || this.records.get(ex.key) !== ex) return;
    if (this.host.isDetached()) return; // the next agent reports it
    const how = describeExit(exit);
    this.host.log.info({ executorId: ex.info.executorId, exit: how }, 'executor exited');
    const reason = ex.failReason ?? 'REASON_EXECUTOR_TERMINATED';
    const message =
      reason === 'REASON_EXECUTOR_REGISTRATION_TIMEOUT'
        ? `executor ${ex.info.executorId} did not subscribe within ${this.options.registrationTimeoutMs} ms`
        : `executor ${ex.info.executorId} ${how}`;
    this.end(ex, reason, message);
    this.host.containerizer.cleanup(ex.containerId).catch((error: unknown) => this.host.log.debug({ err: error }, 'executor container cleanup failed'));
    this.reportExit(ex, exitStatusOf(exit));
  }

  /** The executor never ran (fetch or launch failed, or it was shut down first). */
  private abandon(ex: ExecutorRecord, reason: TaskStatusReason, message: string): void {
    if (ex.phase === 'done') return;
    this.host.log.warn({ executorId: ex.info.executorId, message }, 'executor not started');
    this.end(ex, reason, message);
    this.reportExit(ex, undefined);
  }

  /** Ends an executor: its live tasks with `reason` (or as killed), its resources, its record. */
  private end(ex: ExecutorRecord, reason: TaskStatusReason, message: string): void {
    ex.phase = 'done';
    for (const rec of this.tasksOf(ex)) {
      if (isTerminalState(rec.state)) continue;
      const launched = rec.phase === 'running';
      rec.phase = 'done';
      if (rec.killReason !== undefined) this.host.emitKilled(rec, launched ? {} : undefined, 'SOURCE_AGENT');
      else this.host.emit(rec, 'TASK_FAILED', 'SOURCE_AGENT', { reason, message, executorId: ex.info.executorId });
    }
    this.finish(ex);
  }

  /** Forgets an executor whose tasks have all ended. */
  private finish(ex: ExecutorRecord): void {
    ex.phase = 'done';
    ex.registrationTimer?.cancel();
    ex.shutdownTimer?.cancel();
    for (const t of ex.escalations.values()) t.cancel();
    ex.escalations.clear();
    ex.pending = [];
    if (this.records.get(ex.key) === ex) this.records.delete(ex.key);
    this.host.unclaim(ex.counted);
    ex.counted = [];
    this.removeCheckpoint(ex);
  }

  private reportExit(ex: ExecutorRecord, status: number | undefined): void {
    const agentId = this.host.agentId();
    if (agentId === undefined) return;
    const call: AgentCall = {
      v: 1,
      type: 'EXECUTOR_EXITED',
      agentId,
      frameworkId: ex.frameworkId,
      executorId: ex.info.executorId,
      ...(status !== undefined ? { status } : {}),
    };
    this.exitReports.push({ call, attempts: 0 });
    this.sendExitReports();
  }

  /** Sends EXECUTOR_EXITED calls that are due; called again once the agent is registered. */
  sendExitReports(): void {
    if (this.sendingExits || this.stopped || !this.host.isRegistered() || this.exitReports.length === 0) return;
    this.sendingExits = true;
    const batch = this.exitReports.splice(0);
    void Promise.all(
      batch.map((report) =>
        this.host.callMaster(report.call).catch((error: unknown) => {
          report.attempts++;
          if (report.attempts < EXIT_REPORT_ATTEMPTS) this.exitReports.push(report);
          else this.host.log.warn({ err: error, call: report.call.type }, 'the master did not take an executor exit; giving up');
        }),
      ),
    ).finally(() => {
      this.sendingExits = false;
      if (this.exitReports.length === 0 || this.stopped) return;
      const attempts = Math.max(...this.exitReports.map((r) => r.attempts));
      this.exitRetry?.cancel();
      this.exitRetry = this.host.timers.schedule(this.host.timers.now() + 500 * 2 ** attempts, () => {
        this.exitRetry = undefined;
        this.sendExitReports();
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Executor calls

  /** Answers executor calls on `<prefix>.executor.<agentId>.*.calls` (again, when the id changed). */
  listen(agentId: string): void {
    if (this.stopped) return;
    if (this.callSubFor === agentId && this.callSub !== undefined && !this.callSub.isClosed) return;
    this.callSub?.unsubscribe();
    this.callSubFor = agentId;
    this.host.subjects.agentCommands(agentId); // throws for an id that is not one subject token
    const subject = `${this.host.subjects.prefix}.executor.${agentId}.*.calls`;
    this.callSub = this.host.transport.subscribe(subject, {
      callback: (msg) => this.onCall(msg),
      onError: (error) => this.host.log.error({ err: error }, 'executor call handler failed'),
    });
  }

  private onCall(msg: TransportMsg): void {
    if (this.stopped) return;
    const parsed = this.host.subjects.parse(msg.subject);
    if (parsed?.kind !== 'executorCalls') return;
    const r = safeDecode(ExecutorCallSchema, msg.data);
    if (!r.ok) {
      this.invalidCalls++;
      this.host.log.warn({ err: r.error, subject: msg.subject }, 'invalid executor call dropped');
      respondError(msg, { code: 'PROTOCOL_ERROR', message: r.error.message });
      return;
    }
    const call = r.value;
    if (call.executorId !== parsed.executorId) {
      respondError(msg, { code: 'VALIDATION_ERROR', message: `the call names executor ${call.executorId} on the subject of ${parsed.executorId}` });
      return;
    }
    const ex = this.records.get(executorKeyOf(call.frameworkId, call.executorId));
    if (ex === undefined || ex.builtin || ex.phase === 'done') {
      respondError(msg, { code: 'NOT_FOUND', message: `this agent runs no executor ${call.executorId} of framework ${call.frameworkId}` });
      return;
    }
    switch (call.type) {
      case 'SUBSCRIBE':
        this.onSubscribe(msg, ex, call);
        return;
      case 'UPDATE':
        this.onUpdate(msg, ex, call.statuses);
        return;
      case 'MESSAGE':
        void this.onMessage(msg, ex, call.data);
        return;
    }
  }

  private onSubscribe(msg: TransportMsg, ex: ExecutorRecord, call: Extract<ExecutorCall, { type: 'SUBSCRIBE' }>): void {
    const agentId = this.host.agentId();
    if (agentId === undefined) return;
    if (ex.phase === 'terminating') {
      respondError(msg, { code: 'INVALID_OPERATION', message: `executor ${ex.info.executorId} is shutting down` });
      return;
    }
    const again = ex.subscribed;
    ex.subscribed = true;
    ex.registrationTimer?.cancel();
    ex.registrationTimer = undefined;
    // Tasks it already has were sent before the agent restarted: they are launched.
    const now = this.host.timers.now();
    for (const task of call.unacknowledgedTasks ?? []) {
      const rec = this.host.task(ex.frameworkId, task.taskId);
      if (rec === undefined || rec.executorKey !== ex.key || rec.phase !== 'staging') continue;
      this.unqueue(ex, task.taskId);
      rec.phase = 'running';
      rec.launchedAtMs ??= now;
      this.host.saveTask(rec);
    }
    for (const status of call.unacknowledgedUpdates ?? []) {
      try {
        this.acceptStatus(ex, status, true);
      } catch (error) {
        this.host.log.warn({ err: error, taskId: status.taskId }, 'an unacknowledged update of a re-subscribing executor was not taken');
      }
    }
    this.save(ex);
    msg.respond(
      encode(ExecutorSubscribeReplySchema, { v: 1, ok: true, result: { agentId, executorInfo: ex.info, frameworkInfo: ex.framework } }),
    );
    this.host.log.info({ executorId: ex.info.executorId, again }, again ? 'executor re-subscribed' : 'executor subscribed');
    this.scheduleFlush();
  }

  private onUpdate(msg: TransportMsg, ex: ExecutorRecord, statuses: TaskStatus[]): void {
    for (const status of statuses) {
      const rec = this.host.task(ex.frameworkId, status.taskId);
      if (rec === undefined || rec.executorKey !== ex.key) {
        respondError(msg, { code: 'NOT_FOUND', message: `executor ${ex.info.executorId} runs no task ${status.taskId} here` });
        return;
      }
    }
    try {
      for (const status of statuses) this.acceptStatus(ex, status, false);
    } catch (error) {
      respondError(msg, wireErrorOf(error));
      return;
    }
    msg.respond(encode(ExecutorCallReplySchema, { v: 1, ok: true, result: {} }));
  }

  /**
   * Takes one status from an executor: forwards it unless the agent has it already (then it is
   * pending, or acknowledged and the executor hears ACKNOWLEDGED again) or the task has ended.
   */
  private acceptStatus(ex: ExecutorRecord, status: TaskStatus, replay: boolean): void {
    const uuid = status.uuid ?? randomUUID();
    const rec = this.host.task(ex.frameworkId, status.taskId);
    if (rec === undefined || rec.executorKey !== ex.key) {
      // Forgotten once its end was acknowledged: everything of it was.
      if (replay) this.publish(ex, { v: 1, type: 'ACKNOWLEDGED', taskId: status.taskId, uuid });
      return;
    }
    if (this.host.isPending(ex.frameworkId, status.taskId, uuid)) return;
    if (ex.acked.has(uuid) || rec.status?.uuid === uuid || isTerminalState(rec.state)) {
      if (isTerminalState(rec.state) && rec.status?.uuid !== uuid && !ex.acked.has(uuid)) {
        this.host.log.info({ taskId: status.taskId, state: status.state, ended: rec.state }, 'status of a task that has ended dropped');
      }
      this.publish(ex, { v: 1, type: 'ACKNOWLEDGED', taskId: status.taskId, uuid });
      return;
    }
    if (rec.phase === 'staging') {
      this.unqueue(ex, status.taskId);
      rec.phase = 'running';
      rec.launchedAtMs ??= this.host.timers.now();
    }
    const forwarded: TaskStatus = { ...status, uuid, source: 'SOURCE_EXECUTOR', executorId: ex.info.executorId };
    this.host.forward(rec, forwarded);
  }

  private async onMessage(msg: TransportMsg, ex: ExecutorRecord, data: Uint8Array): Promise<void> {
    const agentId = this.host.agentId();
    if (agentId === undefined) return;
    try {
      await this.host.callMaster({ v: 1, type: 'EXECUTOR_MESSAGE', agentId, frameworkId: ex.frameworkId, executorId: ex.info.executorId, data });
      msg.respond(encode(ExecutorCallReplySchema, { v: 1, ok: true, result: {} }));
    } catch (error) {
      respondError(msg, wireErrorOf(error));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Recovery

  /**
   * Reloads the executors of an earlier run and sorts the recovered tasks: those of custom
   * executors are this class's (their executors are re-attached, or reported as ended); the rest
   * (command tasks, tasks of the default executor) are returned for the agent to recover.
   */
  async recover(saved: readonly ExecutorCheckpoint[], records: Iterable<T>, live: T[]): Promise<T[]> {
    const byTask = new Map<string, string>();
    for (const cp of saved) {
      const key = executorKeyOf(cp.frameworkId, cp.info.executorId);
      const ex: ExecutorRecord = {
        key,
        frameworkId: cp.frameworkId,
        framework: cp.framework,
        info: cp.info,
        builtin: cp.builtin,
        runId: cp.runId,
        containerId: cp.containerId,
        sandboxDir: cp.sandboxDir,
        phase: cp.builtin ? 'live' : cp.terminating ? 'terminating' : 'launching',
        subscribed: cp.subscribed,
        tasks: new Set(),
        pending: [],
        groups: cp.groups,
        counted: stripReservations(cp.info.resources),
        acked: new Set(),
        starting: true,
        escalations: new Map(),
      };
      if (cp.launchedAtMs !== undefined) ex.launchedAtMs = cp.launchedAtMs;
      this.records.set(key, ex);
      for (const group of cp.groups) for (const id of group) byTask.set(`${cp.frameworkId}\u0000${id}`, key);
    }
    for (const rec of records) {
      const key = rec.task.executor !== undefined ? executorKeyOf(rec.frameworkId, rec.task.executor.executorId) : byTask.get(`${rec.frameworkId}\u0000${rec.task.taskId}`);
      const ex = key === undefined ? undefined : this.records.get(key);
      if (ex === undefined) continue;
      rec.executorKey = ex.key;
      ex.tasks.add(rec.task.taskId);
    }

    const plain: T[] = [];
    const lost: T[] = [];
    for (const rec of live) {
      const ex = rec.executorKey === undefined ? undefined : this.records.get(rec.executorKey);
      if (ex === undefined) (rec.task.executor !== undefined ? lost : plain).push(rec);
      else if (ex.builtin) plain.push(rec);
    }
    for (const rec of lost) {
      rec.phase = 'done';
      this.host.emit(rec, 'TASK_FAILED', 'SOURCE_AGENT', { reason: 'REASON_EXECUTOR_TERMINATED', message: 'the agent lost the record of the executor of this task' });
    }

    for (const ex of [...this.records.values()]) {
      if (!ex.builtin) continue;
      if (this.tasksOf(ex).some((r) => !isTerminalState(r.state))) {
        this.host.claim(ex.counted);
      } else {
        ex.counted = []; // never claimed in this run
        this.finish(ex);
      }
    }

    const custom = [...this.records.values()].filter((ex) => !ex.builtin);
    if (custom.length === 0) return plain;
    let found: Map<string, { state: 'running' } | { state: 'exited'; exit: ContainerExit }>;
    try {
      const recovered = await this.host.containerizer.recover(custom.filter((ex) => ex.sandboxDir !== '').map((ex) => ({ containerId: ex.containerId, sandboxDir: ex.sandboxDir })));
      found = new Map(recovered.map((c) => [c.containerId, c]));
    } catch (error) {
      this.host.log.error({ err: error }, 'executor container recovery failed');
      found = new Map();
    }
    for (const ex of custom) {
      this.host.claim(ex.counted);
      const c = found.get(ex.containerId);
      if (c === undefined || (c.state === 'exited' && ex.launchedAtMs === undefined)) {
        this.end(ex, 'REASON_AGENT_RESTARTED', `the agent restarted before executor ${ex.info.executorId} was launched`);
        if (c !== undefined) this.host.containerizer.cleanup(ex.containerId).catch(() => {});
        this.reportExit(ex, undefined);
        continue;
      }
      const terminating = ex.phase === 'terminating';
      ex.phase = 'live';
      if (c.state === 'exited') {
        this.host.log.info({ executorId: ex.info.executorId }, 'an executor ended while the agent was away');
        this.onExit(ex, c.exit);
        continue;
      }
      ex.launchedAtMs ??= this.host.timers.now();
      this.watch(ex);
      const queued = this.tasksOf(ex).filter((r) => !isTerminalState(r.state) && r.phase === 'staging');
      if (queued.length > 0) ex.pending.push({ group: false, taskIds: queued.map((r) => r.task.taskId) });
      this.host.log.info({ executorId: ex.info.executorId, containerId: ex.containerId }, 're-attached to a running executor');
      if (terminating) {
        ex.phase = 'terminating';
        this.killProcess(ex); // a shutdown was under way: finish it
      } else if (this.options.recover === 'cleanup') {
        this.shutdownExecutor(ex, 'cleanup');
      } else if (!ex.subscribed) {
        this.armRegistration(ex, this.options.registrationTimeoutMs);
      }
    }
    this.scheduleFlush();
    return plain;
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoint

  private save(ex: ExecutorRecord): void {
    const journal = this.host.checkpoint;
    if (journal === undefined || ex.phase === 'done') return;
    const cp: ExecutorCheckpoint = {
      frameworkId: ex.frameworkId,
      framework: ex.framework,
      info: ex.info,
      builtin: ex.builtin,
      runId: ex.runId,
      containerId: ex.containerId,
      sandboxDir: ex.sandboxDir,
      subscribed: ex.subscribed,
      terminating: ex.phase === 'terminating',
      groups: ex.groups.map((g) => [...g]),
    };
    if (ex.launchedAtMs !== undefined) cp.launchedAtMs = ex.launchedAtMs;
    try {
      journal.writeExecutor(cp);
    } catch (error) {
      this.host.log.error({ err: error, executorId: ex.info.executorId }, 'cannot checkpoint an executor');
    }
  }

  private removeCheckpoint(ex: ExecutorRecord): void {
    try {
      this.host.checkpoint?.forgetExecutor(ex.frameworkId, ex.info.executorId);
    } catch (error) {
      this.host.log.warn({ err: error }, 'cannot remove an executor checkpoint');
    }
  }

  // ---------------------------------------------------------------------------------------------

  private tasksOf(ex: ExecutorRecord): T[] {
    const out: T[] = [];
    for (const id of ex.tasks) {
      const rec = this.host.task(ex.frameworkId, id);
      if (rec !== undefined && rec.executorKey === ex.key) out.push(rec);
    }
    return out;
  }

  /** Stops answering calls and every timer. Executor processes keep running (the agent's containerizer decides). */
  stop(): void {
    this.publishQueued();
    this.stopped = true;
    this.callSub?.unsubscribe();
    this.callSub = undefined;
    this.exitRetry?.cancel();
    for (const ex of this.records.values()) {
      ex.registrationTimer?.cancel();
      ex.shutdownTimer?.cancel();
      for (const t of ex.escalations.values()) t.cancel();
    }
  }
}

/** A containerizer-friendly id for one run of an executor. */
function containerIdOf(executorId: string, runId: string): string {
  return `executor_${executorId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}-${runId}`;
}

/** A few words on how a process ended. */
function describeExit(exit: ContainerExit): string {
  if (exit.unknown) return exit.message ?? 'ended with an unknown status';
  if (exit.oomKilled) return 'was killed at its memory limit';
  if (exit.signal !== undefined) return `was terminated by ${exit.signal}`;
  return `exited with status ${exit.exitCode ?? 'unknown'}`;
}

/** The status EXECUTOR_EXITED carries: the exit code, or 128 + the signal's number, as a shell reports it. */
function exitStatusOf(exit: ContainerExit): number | undefined {
  if (exit.exitCode !== undefined) return exit.exitCode;
  if (exit.signal !== undefined) {
    const n = (constants.signals as Record<string, number | undefined>)[exit.signal];
    if (n !== undefined) return 128 + n;
  }
  return undefined;
}

function respondError(msg: TransportMsg, error: WireError): void {
  msg.respond(encode(ExecutorCallReplySchema, { v: 1, ok: false, error }));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function wireErrorOf(error: unknown): WireError {
  if (StoaError.isInstance(error)) return error.toWire();
  return { code: 'INTERNAL', message: messageOf(error) };
}
