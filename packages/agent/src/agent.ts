/**
 * The Stoa agent: registers its machine with the leading master, runs the tasks the master sends
 * it through a containerizer, reports their statuses reliably, and survives restarts of itself
 * and of the master.
 *
 * - **Registration.** REGISTER (or REREGISTER, when `<workDir>/meta/agent.json` names the agent
 *   already) is retried with capped, jittered backoff until a master answers. The agent
 *   re-registers, with every task it knows, when a new leader announces itself, when the
 *   transport reconnects, and when pings stop for three intervals.
 * - **Fencing.** Every command carries the master's epoch; commands older than the newest epoch
 *   the agent has seen are dropped (and counted).
 * - **Tasks.** RUN_TASKS checks each task, reserves its resources, makes its sandbox, fetches its
 *   URIs, launches it, watches it, health checks it and kills it at its `maxCompletionTimeMs`.
 *   Each state change is a status update given to the {@link StatusUpdateManager}, which
 *   checkpoints it and resends it until it is acknowledged.
 * - **Executors.** A task with `executor` goes to that custom executor, which the agent starts
 *   (once per framework and executor id) and feeds over the executor protocol; a LAUNCH_GROUP
 *   without an executor command runs as the default executor would: plain command tasks sharing
 *   the group's fate. See `executors.ts`.
 * - **Recovery.** An agent restarted on the same work dir reloads its tasks and unacknowledged
 *   updates, re-attaches to the containers still running, reports those that ended meanwhile with
 *   their real exit status, and re-registers.
 * - **Sandbox GC.** The sandbox of a task whose end was acknowledged, or of an executor that
 *   ended, is removed `sandboxGcDelayMs` later, sooner under disk pressure. See `sandbox-gc.ts`.
 * - **Usage.** Every `usageIntervalMs` one timer reads the usage of every running task through
 *   the containerizer, for {@link AgentHandle.tasks} and the agent's metrics.
 *
 * @example
 * ```ts
 * const transport = await NatsTransport.connect({ servers: 'nats://127.0.0.1:4222' });
 * await using agent = await startAgent({ transport, workDir: '/var/lib/stoa', resources: 'cpus:4;mem:4096' });
 * await agent.waitRegistered();
 * console.log(agent.agentId, agent.tasks());
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import os from 'node:os';
import {
  type AgentCall,
  AgentCallReplySchema,
  AgentCallSchema,
  type AgentCommand,
  AgentCommandSchema,
  type AgentInfo,
  type AgentTask,
  type Attributes,
  add,
  CancelledError,
  contains,
  type ExecutorInfo,
  encode,
  encodeTrusted,
  type FaultDomain,
  type FrameworkInfo,
  formatResources,
  fromWire,
  isTerminalState,
  LeaderElectedSchema,
  NotFoundError,
  PongSchema,
  ReadFileReplySchema,
  RegisterReplySchema,
  type Resource,
  StoaError,
  type StatusUpdate,
  safeDecode,
  stripReservations,
  subjects,
  subtract,
  type Subjects,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
  type TaskStatusReason,
  type TaskStatusSource,
  type TaskUsage,
  type Transport,
  type TransportMsg,
  type TransportSubscription,
  trySubtract,
  ValidationError,
  type WireError,
} from '@stoa/core';
import { pino, type Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { Checkpoint, type KillReason, type TaskCheckpoint, writeAheadTransport } from './checkpoint.js';
import type { ContainerExit, Containerizer, ContainerLaunch, RecoveredContainer } from './containerizer/containerizer.js';
import { ProcessContainerizer, SimulatedContainerizer } from './containerizer/index.js';
import { Executors, type ExecutorView, hasCommand } from './executors.js';
import { FetchError, fetchUris } from './fetcher.js';
import { HealthChecker } from './health/index.js';
import { resolveAttributes, resolveResources } from './resources.js';
import { createSandbox, frameworksWithSandbox, latestSandbox, newRunId, readSandbox } from './sandbox.js';
import { SandboxGc } from './sandbox-gc.js';
import { type StatusInput, StatusUpdateManager, type TimerHandle, TimerQueue } from './status-updates.js';

/** The version of the agent, reported in AgentInfo. */
export const VERSION = '0.1.0';

/** Options of {@link startAgent}. */
export interface AgentOptions {
  /** The bus to the masters. Required. Not closed by `stop()`. */
  transport: Transport;
  /**
   * Where sandboxes, the fetcher cache and the checkpoint live. Required unless the containerizer
   * is simulated (then sandboxes and checkpoints are skipped when it is absent).
   */
  workDir?: string;
  /** The principal whose agent-call subject the agent uses (`<prefix>.master.agent.<principal>`). @default 'agents' */
  principal?: string;
  /** The cluster's subject prefix. @default 'stoa' */
  subjectPrefix?: string;
  /** The host name the agent reports (and tasks see as `HOST`). @default os.hostname() */
  hostname?: string;
  /**
   * Total resources: text (`cpus:4;mem:4096;ports:[31000-32000]`, unnamed kinds detected) or a list.
   * @default detected: every CPU, memory less 1 GiB (min 512), 90 % of the work dir's free disk,
   * ports 31000–32000, and GPUs `nvidia-smi` lists
   */
  resources?: string | Resource[];
  /** Attributes for placement: text (`rack:r1;zone:a`) or an object. @default {} */
  attributes?: string | Attributes;
  /** The fault domain: region, zone, rack. @default none */
  domain?: FaultDomain;
  /** `process`, `simulated`, or a containerizer made elsewhere (which `stop()` does not close). @default 'process' */
  containerizer?: 'process' | 'simulated' | Containerizer;
  /**
   * What to do with the tasks of an earlier run found in the checkpoint: `reconnect` re-attaches
   * to them, `cleanup` kills them (TASK_FAILED, REASON_AGENT_RESTARTED). @default 'reconnect'
   */
  recover?: 'reconnect' | 'cleanup';
  /** Backoff of status-update resends. @default { initialMs: 5000, maxMs: 60000 } */
  statusRetry?: { initialMs?: number; maxMs?: number };
  /** Backoff of registration attempts (jittered). @default { initialMs: 250, maxMs: 10000 } */
  registerRetry?: { initialMs?: number; maxMs?: number };
  /** How long a request to the master may take. @default 5000 */
  requestTimeoutMs?: number;
  /** A pino logger. @default silent */
  logger?: Logger;
  /** The kill grace of tasks without a kill policy. @default 3000 */
  killGracePeriodMs?: number;
  /** Checkpoint tasks and updates to survive restarts. @default true for `process`, false for `simulated` */
  checkpoint?: boolean;
  /**
   * The NATS URL custom executors connect to, given them as `STOA_NATS_URL`. The agent cannot
   * tell it from its transport, so set it when the agent's NATS is not the one in the agent's own
   * `STOA_NATS_URL`. @default process.env.STOA_NATS_URL (none when unset: executors then use
   * their own default)
   */
  executorNatsUrl?: string;
  /** A custom executor that has not subscribed this long after it started is killed (its tasks fail). @default 30000 */
  executorRegistrationTimeoutMs?: number;
  /** How long an executor has between SHUTDOWN and being killed. @default 5000 */
  executorShutdownGracePeriodMs?: number;
  /**
   * How long after a task's end was acknowledged (or an executor ended) its sandbox is removed,
   * when the disk has room (Mesos' `gc_delay`). Needs a work dir. @default 604800000 (one week)
   */
  sandboxGcDelayMs?: number;
  /**
   * The fraction of the work dir's filesystem to keep free (Mesos' `gc_disk_headroom`). The GC
   * delay in force is `sandboxGcDelayMs × clamp((free − headroom) / (1 − headroom), 0, 1)`, so at
   * or below the headroom ended sandboxes go at once, oldest first. In [0, 1). @default 0.1
   */
  gcDiskHeadroom?: number;
  /** How often the work dir's free space is measured while sandboxes wait for removal. @default 60000 */
  gcDiskCheckIntervalMs?: number;
  /**
   * How often the usage of running tasks is read (one timer for the agent); 0 turns it off.
   * Tasks of custom executors are not read: they share their executor's container.
   * @default 10000, or 0 with the simulated containerizer (it measures nothing)
   */
  usageIntervalMs?: number;
}

/** One executor as {@link AgentHandle.executors} shows it. */
export type AgentExecutorView = ExecutorView;

/** One task as {@link AgentHandle.tasks} shows it. */
export interface AgentTaskView {
  frameworkId: string;
  taskId: string;
  /** The latest state the agent produced (acknowledged or not). */
  state: TaskState;
  /** Health, once the task's health check has an answer. */
  healthy?: boolean;
  /** The containerizer's id of the current run. */
  containerId: string;
  /** The sandbox of the current run; empty without a work dir. */
  sandboxDir: string;
  /** The latest status the agent produced. */
  status?: TaskStatus;
  /** The latest usage read of a running task (see `usageIntervalMs`); absent once it ended. */
  usage?: TaskUsage;
}

/** Counts an agent keeps (also exported as Prometheus metrics). */
export interface AgentStats {
  /** Status updates sent for the first time. */
  updatesSent: number;
  /** Status updates resent. */
  updatesRetried: number;
  /** Status updates acknowledged. */
  updatesAcked: number;
  /** Updates not yet acknowledged. */
  updatesPending: number;
  /** Commands dropped for an epoch older than the newest seen. */
  staleCommands: number;
  /** Messages that failed to decode (dropped). */
  invalidMessages: number;
  /** Successful registrations and re-registrations. */
  registrations: number;
}

/** A running agent. */
export interface AgentHandle extends AsyncDisposable {
  /** The id the master gave it; undefined until the first registration. */
  readonly agentId: string | undefined;
  /** `registering` until a master accepted it (and again while re-registering), `stopped` after `stop()`. */
  readonly state: 'registering' | 'registered' | 'stopped';
  /** The newest master epoch seen. */
  readonly epoch: number;
  /** Resolves once registered (at once if it is); rejects if the agent stops first. */
  waitRegistered(): Promise<void>;
  /** The tasks it knows: live ones and ended ones whose last update is not yet acknowledged. */
  tasks(): AgentTaskView[];
  /** The executors it runs: custom executor processes and default-executor task groups. */
  executors(): AgentExecutorView[];
  /** Counts, for tests and dashboards. */
  stats(): AgentStats;
  /** Prometheus metrics of this agent (made on first use). */
  readonly metrics: Registry;
  /**
   * Stops the agent. By default its tasks keep running (they are detached, and a restarted agent
   * re-attaches to them); with `killTasks` they are killed, their last updates sent once, and the
   * agent unregisters.
   */
  stop(options?: { killTasks?: boolean }): Promise<void>;
}

/** Pieces several agents of one process share (see `startSimulatedAgents`). */
export interface SharedAgentParts {
  /** One timer queue for status flushes, retries and ping watchdogs. */
  timers?: TimerQueue;
  /** Limits concurrent registration requests. */
  registerGate?: <T>(attempt: () => Promise<T>) => Promise<T>;
}

/** Starts an agent: recovers what its checkpoint holds, then registers in the background. */
export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  return launchAgent(options, {});
}

/** {@link startAgent} with parts shared among agents of one process. Not part of the public API. */
export async function launchAgent(options: AgentOptions, shared: SharedAgentParts): Promise<AgentHandle> {
  if (options.transport === undefined) throw new ValidationError('startAgent needs a transport', { details: { field: 'transport' } });
  const kind = typeof options.containerizer === 'string' ? options.containerizer : options.containerizer === undefined ? 'process' : options.containerizer.kind;
  const workDir = options.workDir;
  if (workDir === undefined && kind !== 'simulated') {
    throw new ValidationError('startAgent needs a workDir unless the containerizer is simulated', {
      details: { field: 'workDir' },
    });
  }
  const resources = await resolveResources(options.resources, workDir !== undefined ? { workDir } : {});
  let containerizer: Containerizer;
  let ownsContainerizer = true;
  if (options.containerizer === 'simulated') containerizer = new SimulatedContainerizer({});
  else if (options.containerizer === undefined || options.containerizer === 'process') {
    containerizer = await ProcessContainerizer.create({ workDir: workDir! });
  } else {
    containerizer = options.containerizer;
    ownsContainerizer = false;
  }
  const agent = new Agent(options, shared, containerizer, ownsContainerizer, resources, kind);
  try {
    await agent.start();
  } catch (error) {
    await agent.stop().catch(() => {});
    throw error;
  }
  return agent;
}

/** A task as the agent tracks it. */
interface TaskRecord {
  frameworkId: string;
  framework: FrameworkInfo;
  task: TaskInfo;
  runId: string;
  containerId: string;
  sandboxDir: string;
  state: TaskState;
  status?: TaskStatus;
  /** `staging`: before the containerizer was asked; `launching`: while it is; `running`: launched; `done`: ended. */
  phase: 'staging' | 'launching' | 'running' | 'done';
  launchedAtMs?: number;
  killReason?: KillReason;
  healthy?: boolean;
  health?: HealthChecker;
  deadline?: TimerHandle;
  /** While a task waits for its `startAtMs`: the timer, and how a kill wakes it early. */
  startWait?: { timer: TimerHandle; wake(): void };
  /** The resources counted against the agent while it lives (reservations stripped). */
  counted?: Resource[];
  /** `frameworkId\0executorId` of the executor that runs it, when one does. */
  executorKey?: string;
  /** The latest usage read while it runs. */
  usage?: TaskUsage;
}

function keyOf(frameworkId: string, taskId: string): string {
  return `${frameworkId}\u0000${taskId}`;
}

const JITTER = 0.2;

class Agent implements AgentHandle {
  agentId: string | undefined;
  state: 'registering' | 'registered' | 'stopped' = 'registering';
  epoch = 0;

  private readonly log: Logger;
  private readonly s: Subjects;
  private readonly principal: string;
  private readonly hostname: string;
  private readonly attributes: Attributes;
  private readonly workDir: string | undefined;
  private readonly checkpoint: Checkpoint | undefined;
  /** The transport, writing the checkpoint before anything goes out when the agent checkpoints. */
  private readonly transport: Transport;
  private readonly timers: TimerQueue;
  private readonly ownsTimers: boolean;
  private readonly updates: StatusUpdateManager;
  private readonly tasksByKey = new Map<string, TaskRecord>();
  private readonly executorsOf: Executors<TaskRecord>;
  private readonly requestTimeoutMs: number;
  private readonly killGraceMs: number;
  private readonly registerInitialMs: number;
  private readonly registerMaxMs: number;
  private totalResources: Resource[];
  /** Physical capacity (reservations stripped): the agent checks launches against it. */
  private capacity: Resource[];
  private used: Resource[] = [];

  private commandSub: TransportSubscription | undefined;
  private commandSubFor: string | undefined;
  private leaderSub: TransportSubscription | undefined;
  private offStatus: (() => void) | undefined;
  private pingIntervalMs = 0;
  private lastPingAt = 0;
  private watchdog: TimerHandle | undefined;
  private registering = false;
  /** The id this agent proposes in REGISTER until the master confirms one. */
  private proposedId: string | undefined;
  private registerAgain = false;
  private wakeRegister: (() => void) | undefined;
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private stopping: Promise<void> | undefined;
  private registry: Registry | undefined;
  private readonly counters = { staleCommands: 0, invalidMessages: 0, registrations: 0 };
  /** Set by `stop({ killTasks: true })`: exits are still reported while stopping. */
  private killingOnStop = false;
  /** Removes ended sandboxes; made by `start()` when there is a work dir. */
  private sandboxGc: SandboxGc | undefined;
  private readonly usageIntervalMs: number;
  private usageTimer: TimerHandle | undefined;

  constructor(
    private readonly options: AgentOptions,
    private readonly shared: SharedAgentParts,
    private readonly containerizer: Containerizer,
    private readonly ownsContainerizer: boolean,
    resources: Resource[],
    private readonly kind: string,
  ) {
    this.log = options.logger ?? pino({ level: 'silent' });
    this.s = subjects(options.subjectPrefix ?? 'stoa');
    this.principal = options.principal ?? 'agents';
    this.s.agentCalls(this.principal); // validates the principal early
    this.hostname = options.hostname ?? os.hostname();
    this.attributes = resolveAttributes(options.attributes);
    this.workDir = options.workDir;
    const checkpointing = options.checkpoint ?? kind !== 'simulated';
    const checkpoint = checkpointing && this.workDir !== undefined ? new Checkpoint(this.workDir, { onError: (error) => this.log.error({ err: error }, 'cannot write the checkpoint; will retry') }) : undefined;
    this.checkpoint = checkpoint;
    this.transport = checkpoint ? writeAheadTransport(options.transport, () => checkpoint.sync()) : options.transport;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.killGraceMs = options.killGracePeriodMs ?? 3000;
    this.usageIntervalMs = options.usageIntervalMs ?? (kind === 'simulated' ? 0 : 10_000);
    if (!(this.usageIntervalMs >= 0)) throw new ValidationError('usageIntervalMs must be 0 or more', { details: { field: 'usageIntervalMs' } });
    this.registerInitialMs = Math.max(1, options.registerRetry?.initialMs ?? 250);
    this.registerMaxMs = Math.max(this.registerInitialMs, options.registerRetry?.maxMs ?? 10_000);
    this.totalResources = resources;
    this.capacity = stripReservations(resources);
    this.ownsTimers = shared.timers === undefined;
    this.timers = shared.timers ?? new TimerQueue((error) => this.log.error({ err: error }, 'timer callback failed'));
    this.updates = new StatusUpdateManager({
      send: (batch) => this.sendUpdates(batch),
      ...(this.checkpoint ? { journal: this.checkpoint } : {}),
      ...(options.statusRetry ? { retry: options.statusRetry } : {}),
      timers: this.timers,
      onForget: (fw, taskId) => this.forget(fw, taskId),
      onSendError: (error, batch) => this.log.debug({ err: error, updates: batch.length }, 'status update send failed; will retry'),
    });
    this.executorsOf = new Executors<TaskRecord>(
      {
        transport: this.transport,
        subjects: this.s,
        containerizer,
        timers: this.timers,
        log: this.log,
        workDir: this.workDir,
        checkpoint: this.checkpoint,
        hostname: this.hostname,
        agentId: () => this.agentId,
        isRegistered: () => this.state === 'registered',
        isDetached: () => this.stopping !== undefined && !this.killingOnStop,
        task: (frameworkId, taskId) => this.tasksByKey.get(keyOf(frameworkId, taskId)),
        emit: (rec, state, source, extra) => this.emit(rec, state, source, extra),
        emitKilled: (rec, exit, source) => this.emitKilled(rec, exit, source),
        forward: (rec, status) => this.forwardExecutorStatus(rec, status),
        isPending: (frameworkId, taskId, uuid) => this.updates.pendingOf(frameworkId, taskId).some((u) => u.status.uuid === uuid),
        saveTask: (rec) => this.saveTask(rec),
        killTask: (rec, reason, graceMs) => this.killTask(rec, reason, graceMs),
        claim: (resources) => {
          this.used = add(this.used, resources);
        },
        unclaim: (resources) => {
          const left = trySubtract(this.used, resources);
          if (left !== undefined) this.used = left;
          else this.log.error({ resources: formatResources(resources) }, 'released executor resources that were not counted');
          // An executor releases its resources when it has ended: its sandbox may go now.
          void this.sandboxGc?.noticeEndedExecutors();
        },
        callMaster: (call) => this.callMaster(call),
      },
      {
        registrationTimeoutMs: options.executorRegistrationTimeoutMs ?? 30_000,
        shutdownGracePeriodMs: options.executorShutdownGracePeriodMs ?? 5000,
        recover: options.recover ?? 'reconnect',
        ...((options.executorNatsUrl ?? process.env.STOA_NATS_URL) ? { natsUrl: options.executorNatsUrl ?? process.env.STOA_NATS_URL } : {}),
      },
    );
  }

  get metrics(): Registry {
    this.registry ??= this.makeRegistry();
    return this.registry;
  }

  /** Recovers, subscribes to the leader subject, and starts registering in the background. */
  async start(): Promise<void> {
    if (this.checkpoint) await this.recover();
    if (this.workDir !== undefined) {
      // After recovery (so live tasks are known) and before any launch: the scan sees only what ended.
      this.sandboxGc = await SandboxGc.create({
        workDir: this.workDir,
        inUse: () => this.sandboxesInUse(),
        logger: this.log,
        ...(this.options.sandboxGcDelayMs !== undefined ? { delayMs: this.options.sandboxGcDelayMs } : {}),
        ...(this.options.gcDiskHeadroom !== undefined ? { diskHeadroom: this.options.gcDiskHeadroom } : {}),
        ...(this.options.gcDiskCheckIntervalMs !== undefined ? { diskCheckIntervalMs: this.options.gcDiskCheckIntervalMs } : {}),
      });
    }
    this.armUsage();
    if (this.agentId !== undefined) this.executorsOf.listen(this.agentId); // executors may call before the master answers
    this.leaderSub = this.transport.subscribe(this.s.leader, {
      callback: (msg) => this.onLeader(msg),
      onError: (error) => this.log.error({ err: error }, 'leader message handler failed'),
    });
    this.offStatus = this.transport.onStatus((status) => {
      if (status.type === 'reconnect') this.triggerRegister('transport reconnected');
    });
    void this.registerLoop();
  }

  waitRegistered(): Promise<void> {
    if (this.state === 'registered') return Promise.resolve();
    if (this.state === 'stopped') return Promise.reject(new CancelledError('the agent stopped'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  tasks(): AgentTaskView[] {
    return [...this.tasksByKey.values()].map((r) => {
      const view: AgentTaskView = { frameworkId: r.frameworkId, taskId: r.task.taskId, state: r.state, containerId: r.containerId, sandboxDir: r.sandboxDir };
      if (r.healthy !== undefined) view.healthy = r.healthy;
      if (r.status !== undefined) view.status = r.status;
      if (r.usage !== undefined) view.usage = r.usage;
      return view;
    });
  }

  executors(): AgentExecutorView[] {
    return this.executorsOf.views();
  }

  stats(): AgentStats {
    const u = this.updates.stats;
    return {
      updatesSent: u.sent,
      updatesRetried: u.retried,
      updatesAcked: u.acked,
      updatesPending: this.updates.pendingCount,
      staleCommands: this.counters.staleCommands,
      invalidMessages: this.counters.invalidMessages,
      registrations: this.counters.registrations,
    };
  }

  stop(options: { killTasks?: boolean } = {}): Promise<void> {
    this.stopping ??= this.doStop(options.killTasks === true);
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  // ---------------------------------------------------------------------------------------------
  // Registration

  private agentInfo(): AgentInfo {
    const info: AgentInfo = {
      hostname: this.hostname,
      resources: this.totalResources,
      attributes: this.attributes,
      containerizers: [this.kind],
      isolation: this.containerizer.isolation(),
      version: VERSION,
    };
    if (this.agentId !== undefined) info.id = this.agentId;
    if (this.options.domain !== undefined) info.domain = this.options.domain;
    return info;
  }

  private registerCall(): AgentCall {
    const agentInfo = this.agentInfo();
    if (this.agentId === undefined) {
      // The agent proposes its id, so it can listen for commands before the master knows it.
      this.proposedId ??= `a-${randomUUID()}`;
      return { v: 1, type: 'REGISTER', agentInfo: { ...agentInfo, id: this.proposedId } };
    }
    const tasks: AgentTask[] = [];
    const frameworks = new Map<string, FrameworkInfo>();
    for (const r of this.tasksByKey.values()) {
      const t: AgentTask = { frameworkId: r.frameworkId, task: r.task, state: r.state };
      if (r.status !== undefined) t.status = r.status;
      tasks.push(t);
      frameworks.set(r.frameworkId, r.framework);
    }
    const executors = this.executorsOf.reregistration();
    for (const e of executors) if (!frameworks.has(e.frameworkId)) frameworks.set(e.frameworkId, e.framework);
    return {
      v: 1,
      type: 'REREGISTER',
      agentId: this.agentId,
      agentInfo,
      tasks,
      executors: executors.map((e) => ({ frameworkId: e.frameworkId, executor: e.executor })),
      frameworks: [...frameworks.values()],
    };
  }

  /** Asks for a (re-)registration now: wakes a waiting loop, or starts one. */
  private triggerRegister(why: string): void {
    if (this.state === 'stopped') return;
    this.log.info({ why }, 're-registering');
    if (this.registering) {
      this.registerAgain = true;
      this.wakeRegister?.();
      return;
    }
    void this.registerLoop();
  }

  private async registerLoop(): Promise<void> {
    if (this.registering || this.state === 'stopped') return;
    this.registering = true;
    this.setState('registering');
    this.updates.pause();
    let attempt = 0;
    try {
      while (!this.isStopped()) {
        this.registerAgain = false;
        const outcome = await this.registerOnce();
        if (this.isStopped()) return;
        if (outcome === 'ok' && !this.registerAgain) {
          this.setState('registered');
          this.updates.resume();
          this.executorsOf.sendExitReports();
          this.armWatchdog();
          return;
        }
        if (outcome === 'ok') {
          attempt = 0;
          continue; // a trigger came while the call was in flight: do it again for the newest master
        }
        if (this.registerAgain) {
          attempt = 0;
          continue;
        }
        await this.pause(this.backoff(attempt++));
      }
    } finally {
      this.registering = false;
    }
  }

  /** A method, so that TypeScript does not keep a narrowing of `state` across awaits. */
  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.registerMaxMs, this.registerInitialMs * 2 ** Math.min(attempt, 20));
    return Math.round(base * (1 - JITTER + Math.random() * 2 * JITTER));
  }

  /** Waits `ms`, or less if woken by a trigger or a stop. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.timers.schedule(this.timers.now() + ms, () => {
        this.wakeRegister = undefined;
        resolve();
      });
      this.wakeRegister = () => {
        timer.cancel();
        this.wakeRegister = undefined;
        resolve();
      };
    });
  }

  private async registerOnce(): Promise<'ok' | 'retry'> {
    const call = this.registerCall();
    // Commands may follow the reply at once: listen (on the known or proposed id) before asking.
    const listenOn = this.agentId ?? this.proposedId;
    if (listenOn !== undefined) {
      this.subscribeCommands(listenOn);
      await this.transport.flush().catch(() => {});
    }
    const attempt = async () => this.transport.request(this.s.agentCalls(this.principal), encode(AgentCallSchema, call), { timeoutMs: this.requestTimeoutMs });
    let msg: TransportMsg;
    try {
      msg = this.shared.registerGate ? await this.shared.registerGate(attempt) : await attempt();
    } catch (error) {
      this.log.debug({ err: error, type: call.type }, 'no answer to registration; retrying');
      return 'retry';
    }
    if (this.isStopped()) return 'retry';
    const reply = safeDecode(RegisterReplySchema, msg.data);
    if (!reply.ok) {
      this.counters.invalidMessages++;
      this.log.warn({ err: reply.error }, 'invalid registration reply dropped');
      return 'retry';
    }
    if (!reply.value.ok) {
      this.log.error({ error: reply.value.error, type: call.type }, 'the master refused the registration; retrying');
      return 'retry';
    }
    const r = reply.value.result;
    if (this.agentId !== undefined && r.agentId !== this.agentId) {
      this.log.warn({ old: this.agentId, new: r.agentId }, 'the master gave this agent a new id');
    }
    this.agentId = r.agentId;
    this.updates.agentId = r.agentId;
    this.epoch = Math.max(this.epoch, r.epoch);
    this.pingIntervalMs = r.pingIntervalMs;
    this.lastPingAt = this.timers.now();
    this.counters.registrations++;
    this.subscribeCommands(r.agentId);
    this.executorsOf.listen(r.agentId);
    // Make sure the server has the subscription before anyone is told the agent is registered.
    await this.transport.flush().catch(() => {});
    this.persistAgent();
    this.log.info({ agentId: r.agentId, masterId: r.masterId, epoch: r.epoch, type: call.type }, 'registered');
    return 'ok';
  }

  private persistAgent(): void {
    if (!this.checkpoint || this.agentId === undefined) return;
    try {
      this.checkpoint.writeAgent({ agentId: this.agentId, resources: this.totalResources });
    } catch (error) {
      this.log.error({ err: error }, 'cannot checkpoint the agent');
    }
  }

  private setState(state: 'registering' | 'registered'): void {
    if (this.state === 'stopped') return;
    this.state = state;
    if (state === 'registered') {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  private subscribeCommands(agentId: string): void {
    if (this.commandSubFor === agentId && this.commandSub && !this.commandSub.isClosed) return;
    this.commandSub?.unsubscribe();
    this.commandSubFor = agentId;
    this.commandSub = this.transport.subscribe(this.s.agentCommands(agentId), {
      callback: (msg) => this.onCommand(msg),
      onError: (error) => this.log.error({ err: error }, 'command handler failed'),
    });
  }

  private onLeader(msg: TransportMsg): void {
    const r = safeDecode(LeaderElectedSchema, msg.data);
    if (!r.ok) {
      this.counters.invalidMessages++;
      this.log.warn({ err: r.error }, 'invalid leader announcement dropped');
      return;
    }
    if (r.value.epoch <= this.epoch) return;
    this.epoch = r.value.epoch;
    this.triggerRegister(`new leader ${r.value.masterId} (epoch ${r.value.epoch})`);
  }

  /** Re-registers when pings stop for three intervals: the master may have lost this agent. */
  private armWatchdog(): void {
    this.watchdog?.cancel();
    if (this.pingIntervalMs <= 0 || this.state !== 'registered') return;
    const limit = 3 * this.pingIntervalMs;
    this.watchdog = this.timers.schedule(this.lastPingAt + limit, () => {
      this.watchdog = undefined;
      if (this.state !== 'registered') return;
      if (this.timers.now() - this.lastPingAt >= limit) this.triggerRegister(`no ping for ${limit} ms`);
      else this.armWatchdog();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Commands

  private onCommand(msg: TransportMsg): void {
    if (this.state === 'stopped') return;
    const r = safeDecode(AgentCommandSchema, msg.data);
    if (!r.ok) {
      this.counters.invalidMessages++;
      this.log.warn({ err: r.error, subject: msg.subject }, 'invalid command dropped');
      return;
    }
    const cmd = r.value;
    if (cmd.epoch < this.epoch) {
      this.counters.staleCommands++;
      this.log.debug({ type: cmd.type, epoch: cmd.epoch, current: this.epoch }, 'command of an older epoch dropped');
      return;
    }
    this.epoch = cmd.epoch;
    switch (cmd.type) {
      case 'PING':
        this.lastPingAt = this.timers.now();
        if (this.agentId !== undefined) msg.respond(encode(PongSchema, { v: 1, ok: true, result: { agentId: this.agentId, seq: cmd.seq } }));
        return;
      case 'RUN_TASKS':
        for (const launch of cmd.launches) {
          const framework = launch.framework;
          if (launch.groupExecutor !== undefined) this.acceptTasks(framework, launch.tasks, launch.groupExecutor);
          else for (const task of launch.tasks) this.acceptTasks(framework, [task], undefined);
        }
        return;
      case 'KILL_TASKS':
        for (const kill of cmd.kills) this.killRequested(kill.frameworkId, kill.taskId, kill.killPolicy?.gracePeriodMs);
        return;
      case 'SHUTDOWN_FRAMEWORK':
        this.executorsOf.shutdownAll(cmd.frameworkId, 'shutdown');
        for (const rec of [...this.tasksByKey.values()]) if (rec.frameworkId === cmd.frameworkId) this.killTask(rec, 'shutdown');
        return;
      case 'DRAIN':
        this.executorsOf.shutdownAll(undefined, 'drain', cmd.gracePeriodMs);
        for (const rec of [...this.tasksByKey.values()]) this.killTask(rec, 'drain', cmd.gracePeriodMs);
        return;
      case 'ACKNOWLEDGE':
        for (const ack of cmd.acks) this.acknowledge(ack.frameworkId, ack.taskId, ack.uuid);
        return;
      case 'UPDATE_RESOURCES':
        this.totalResources = cmd.resources;
        this.persistAgent();
        return;
      case 'READ_FILE':
        void this.readFile(msg, cmd);
        return;
      case 'FRAMEWORK_MESSAGE':
        this.executorsOf.message(cmd.frameworkId, cmd.executorId, cmd.data);
        return;
      case 'SHUTDOWN_EXECUTOR':
        this.executorsOf.shutdown(cmd.frameworkId, cmd.executorId, 'kill');
        return;
    }
  }

  /** An acknowledgement from the framework; one of an update an executor made is passed on to it. */
  private acknowledge(frameworkId: string, taskId: string, uuid: string): void {
    const rec = this.tasksByKey.get(keyOf(frameworkId, taskId));
    const head = this.updates.pendingOf(frameworkId, taskId)[0];
    if (!this.updates.acknowledge(frameworkId, taskId, uuid)) return;
    if (rec !== undefined && head?.status.source === 'SOURCE_EXECUTOR' && this.executorsOf.runs(rec)) this.executorsOf.acknowledged(rec, uuid);
  }

  private async readFile(msg: TransportMsg, cmd: Extract<AgentCommand, { type: 'READ_FILE' }>): Promise<void> {
    try {
      const dir = await this.sandboxOf(cmd.frameworkId, cmd.taskId);
      if (dir === undefined) throw new NotFoundError(`no sandbox for task ${cmd.taskId}`, { details: { taskId: cmd.taskId } });
      const result = await readSandbox(dir, cmd.path, cmd.offset ?? 0, cmd.length);
      msg.respond(encode(ReadFileReplySchema, { v: 1, ok: true, result }));
    } catch (error) {
      msg.respond(encode(ReadFileReplySchema, { v: 1, ok: false, error: wireErrorOf(error) }));
    }
  }

  /** The sandbox of a task's latest run: its record's, else the newest on disk. */
  private async sandboxOf(frameworkId: string | undefined, taskId: string): Promise<string | undefined> {
    for (const rec of this.tasksByKey.values()) {
      if (rec.task.taskId === taskId && (frameworkId === undefined || rec.frameworkId === frameworkId) && rec.sandboxDir !== '') return rec.sandboxDir;
    }
    if (this.workDir === undefined) return undefined;
    const frameworks = frameworkId !== undefined ? [frameworkId] : await frameworksWithSandbox(this.workDir, taskId);
    for (const fw of frameworks) {
      const dir = await latestSandbox(this.workDir, fw, taskId);
      if (dir !== undefined) return dir;
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Tasks

  /**
   * Answers the tasks of one launch: one task, or a task group with its `groupExecutor`. Refuses
   * them (a group all or none) with TASK_ERROR, or reserves their resources and starts them: as
   * command tasks, on a custom executor (a task's `executor`, or a group executor with a
   * command), or as a group of the default executor (a group executor without one).
   */
  private acceptTasks(framework: FrameworkInfo & { id: string }, given: TaskInfo[], groupExecutor: ExecutorInfo | undefined): void {
    const frameworkId = framework.id;
    const group = groupExecutor !== undefined;
    const tasks = given.filter((task) => {
      const existing = this.tasksByKey.get(keyOf(frameworkId, task.taskId));
      if (existing === undefined || isTerminalState(existing.state)) return true;
      // A second launch of a live task (a duplicated command): the first one stands.
      this.log.warn({ frameworkId, taskId: task.taskId }, 'ignoring a launch of a task that is already running');
      return false;
    });
    if (tasks.length === 0) return;
    const refuse = (message: string, state: TaskState = 'TASK_ERROR', reason: TaskStatusReason = group ? 'REASON_TASK_GROUP_INVALID' : 'REASON_TASK_INVALID'): void => {
      for (const task of tasks) {
        this.log.info({ frameworkId, taskId: task.taskId, message }, 'task refused');
        this.updates.update(frameworkId, { taskId: task.taskId, state, source: 'SOURCE_AGENT', reason, message });
      }
    };
    const executor = groupExecutor ?? tasks[0]!.executor;
    // The default executor runs a group without an executor command; the agent does its work.
    const builtin = groupExecutor !== undefined && !hasCommand(groupExecutor);
    if (executor !== undefined) {
      const refusal = this.executorsOf.refusal(frameworkId, executor, builtin);
      if (refusal !== undefined) {
        refuse(refusal.message, refusal.state, group && refusal.reason === 'REASON_TASK_INVALID' ? 'REASON_TASK_GROUP_INVALID' : refusal.reason);
        return;
      }
    }
    if (executor === undefined || builtin) {
      const bad = tasks.find((task) => task.command?.value === undefined || task.command.value.trim() === '');
      if (bad !== undefined) {
        refuse(group ? `task ${bad.taskId} of the group has no command value to run` : 'the task has no command value to run');
        return;
      }
    }
    let need: Resource[] = executor !== undefined ? this.executorsOf.startCost(frameworkId, executor) : [];
    for (const task of tasks) need = add(need, stripReservations(task.resources));
    const free = trySubtract(this.capacity, this.used) ?? [];
    if (!contains(free, need)) {
      const what = tasks.length > 1 ? `the ${tasks.length} tasks need` : executor !== undefined ? 'the task and its executor need' : 'the task needs';
      refuse(`insufficient resources on agent ${this.agentId ?? ''}: ${what} ${formatResources(need)}, free are ${formatResources(free)}`);
      return;
    }
    const custom = executor !== undefined && !builtin;
    const recs = tasks.map((task) => {
      // A custom executor's tasks take its run and container (Executors.launch sets them).
      const runId = custom ? '' : newRunId();
      const counted = stripReservations(task.resources);
      this.used = add(this.used, counted);
      const rec: TaskRecord = {
        frameworkId,
        framework,
        task,
        runId,
        containerId: containerIdOf(task.taskId, runId),
        sandboxDir: '',
        state: 'TASK_STAGING',
        phase: 'staging',
        counted,
      };
      this.tasksByKey.set(keyOf(frameworkId, task.taskId), rec);
      return rec;
    });
    if (custom) {
      this.executorsOf.launch(framework, executor, recs, group); // it counts the executor's resources
      return;
    }
    if (executor !== undefined) this.executorsOf.launchBuiltin(framework, executor, recs);
    for (const rec of recs) {
      this.saveTask(rec);
      void this.runTask(rec).catch((error: unknown) => {
        this.log.error({ err: error, taskId: rec.task.taskId }, 'task launch failed unexpectedly');
        if (!isTerminalState(rec.state)) {
          this.emit(rec, 'TASK_FAILED', 'SOURCE_AGENT', { reason: 'REASON_CONTAINER_LAUNCH_FAILED', message: messageOf(error) });
        }
      });
    }
  }

  private async runTask(rec: TaskRecord): Promise<void> {
    const { task } = rec;
    const command = task.command!;
    if (this.workDir !== undefined) {
      rec.sandboxDir = await createSandbox(this.workDir, rec.frameworkId, task.taskId, rec.runId);
      this.saveTask(rec);
      const uris = command.uris ?? [];
      if (uris.length > 0) {
        try {
          await fetchUris(uris, rec.sandboxDir, { cacheDir: join(this.workDir, 'cache') });
        } catch (error) {
          if (isTerminalState(rec.state)) return;
          const message = FetchError.isInstance(error) ? error.message : `fetching failed: ${messageOf(error)}`;
          this.emit(rec, 'TASK_FAILED', 'SOURCE_AGENT', { reason: 'REASON_FETCHER_FAILED', message });
          return;
        }
      }
    }
    if (isTerminalState(rec.state) || this.state === 'stopped') return; // killed while fetching
    this.emit(rec, 'TASK_STARTING', 'SOURCE_AGENT', {});
    rec.phase = 'launching';
    const launch: ContainerLaunch = {
      containerId: rec.containerId,
      command,
      sandboxDir: rec.sandboxDir,
      env: this.taskEnv(rec),
      resources: task.resources,
    };
    if (command.user !== undefined) launch.user = command.user;
    const simulation = simulationOf(task);
    if (simulation !== undefined) launch.simulation = simulation;
    // A task marked to start later waits here: its resources held, its sandbox made, STARTING sent.
    const startAt = task.startAtMs;
    if (startAt !== undefined && startAt > this.timers.now()) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          rec.startWait?.timer.cancel();
          rec.startWait = undefined;
          resolve();
        };
        rec.startWait = { timer: this.timers.schedule(startAt, wake), wake };
      });
      if (rec.killReason !== undefined) {
        rec.phase = 'done';
        this.emitKilled(rec, undefined, 'SOURCE_AGENT');
        return;
      }
      // (The agent may have stopped while the task waited.)
      if (isTerminalState(rec.state) || (this.state as Agent['state']) === 'stopped') return;
    }
    // When the container starts: its TASK_RUNNING says so, however long the agent takes to report
    // it (starting thousands of tasks at one moment, the reports come after every launch).
    let launchedAtMs: number;
    try {
      this.checkpoint?.sync(); // the task's record is on disk before its container exists
      launchedAtMs = this.timers.now();
      await this.containerizer.launch(launch);
    } catch (error) {
      rec.phase = 'done';
      if (rec.killReason !== undefined) this.emitKilled(rec, undefined, 'SOURCE_AGENT');
      else this.emit(rec, 'TASK_FAILED', 'SOURCE_AGENT', { reason: 'REASON_CONTAINER_LAUNCH_FAILED', message: `cannot launch: ${messageOf(error)}` });
      return;
    }
    rec.phase = 'running';
    rec.launchedAtMs = launchedAtMs;
    this.saveTask(rec);
    this.watch(rec);
    if (rec.killReason !== undefined) {
      // A kill came while the container was starting: carry it out now; the exit reports it.
      this.killContainer(rec, this.graceOf(rec));
      return;
    }
    this.onRunning(rec, true);
  }

  /** A launched (or re-attached) task runs: TASK_RUNNING if not said yet, health check, deadline. */
  private onRunning(rec: TaskRecord, announce: boolean): void {
    const simulated = this.kind === 'simulated';
    if (announce) {
      const extra: Partial<StatusInput> = {};
      if (simulated && rec.task.healthCheck !== undefined) {
        // Simulated tasks have nothing to probe: they are healthy as soon as they run.
        rec.healthy = true;
        extra.healthy = true;
      }
      this.emit(rec, 'TASK_RUNNING', 'SOURCE_EXECUTOR', extra, rec.launchedAtMs);
    }
    if (this.state === 'stopped') return; // detached: a restarted agent takes over the watch
    const max = rec.task.maxCompletionTimeMs;
    if (max !== undefined) {
      const at = (rec.launchedAtMs ?? this.timers.now()) + max;
      rec.deadline = this.timers.schedule(at, () => {
        rec.deadline = undefined;
        this.killTask(rec, 'maxCompletion');
      });
    }
    const check = rec.task.healthCheck;
    if (check !== undefined && !simulated) {
      rec.health = new HealthChecker(check, {
        host: '127.0.0.1',
        sandboxDir: rec.sandboxDir,
        env: this.taskEnv(rec),
        onChange: (health) => {
          if (isTerminalState(rec.state) || rec.killReason !== undefined) return;
          rec.healthy = health.healthy;
          const extra: Partial<StatusInput> = { healthy: health.healthy, reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED' };
          if (health.message !== undefined) extra.message = health.message;
          this.emit(rec, 'TASK_RUNNING', 'SOURCE_EXECUTOR', extra);
        },
        onKill: (reason) => {
          rec.healthy = false;
          this.log.info({ taskId: rec.task.taskId, reason }, 'killing an unhealthy task');
          this.killTask(rec, 'health');
        },
      });
      rec.health.start();
    }
  }

  private watch(rec: TaskRecord): void {
    this.containerizer.wait(rec.containerId).then(
      (exit) => this.onExit(rec, exit),
      (error: unknown) => this.onExit(rec, { unknown: true, message: `lost track of the container: ${messageOf(error)}` }),
    );
  }

  /** The container ended: report the terminal state it means. */
  private onExit(rec: TaskRecord, exit: ContainerExit): void {
    if (isTerminalState(rec.state) || this.tasksByKey.get(keyOf(rec.frameworkId, rec.task.taskId)) !== rec) return;
    if (this.stopping !== undefined && !this.killingOnStop) return; // detached: a restarted agent reports it
    rec.phase = 'done';
    const extra = exitFields(exit);
    if (rec.killReason !== undefined) {
      this.emitKilled(rec, exit, 'SOURCE_EXECUTOR');
    } else if (exit.unknown) {
      this.emit(rec, 'TASK_FAILED', 'SOURCE_EXECUTOR', { ...extra, reason: 'REASON_EXECUTOR_TERMINATED', message: exit.message ?? 'the exit status of the task is unknown' });
    } else if (exit.exitCode === 0 && exit.signal === undefined) {
      this.emit(rec, 'TASK_FINISHED', 'SOURCE_EXECUTOR', { ...extra, message: exit.message ?? 'Command exited with status 0' });
    } else if (exit.oomKilled) {
      this.emit(rec, 'TASK_FAILED', 'SOURCE_EXECUTOR', { ...extra, reason: 'REASON_CONTAINER_LIMITATION_MEMORY', message: exit.message ?? 'the task exceeded its memory limit' });
    } else {
      const message = exit.signal !== undefined ? `Command terminated with signal ${exit.signal}` : `Command exited with status ${exit.exitCode}`;
      this.emit(rec, 'TASK_FAILED', 'SOURCE_EXECUTOR', { ...extra, reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: exit.message ?? message });
    }
    this.containerizer.cleanup(rec.containerId).catch((error: unknown) => this.log.debug({ err: error }, 'container cleanup failed'));
  }

  /** The terminal update of a task the agent killed, by why it did. */
  private emitKilled(rec: TaskRecord, exit: ContainerExit | undefined, source: TaskStatusSource): void {
    const extra: Partial<StatusInput> = exit ? exitFields(exit) : {};
    const before = exit === undefined;
    switch (rec.killReason) {
      case 'maxCompletion':
        this.emit(rec, 'TASK_FAILED', source, { ...extra, reason: 'REASON_MAX_COMPLETION_TIME_REACHED', message: `the task ran longer than ${rec.task.maxCompletionTimeMs} ms` });
        return;
      case 'health':
        this.emit(rec, 'TASK_KILLED', source, { ...extra, healthy: false, reason: 'REASON_TASK_HEALTH_CHECK_FAILED', message: 'killed after failing its health check' });
        return;
      case 'shutdown':
        this.emit(rec, 'TASK_KILLED', source, { ...extra, reason: 'REASON_FRAMEWORK_REMOVED', message: 'the framework was shut down' });
        return;
      case 'drain':
        this.emit(rec, 'TASK_KILLED', source, { ...extra, reason: 'REASON_AGENT_DRAINING', message: 'the agent is draining' });
        return;
      case 'cleanup':
        this.emit(rec, 'TASK_FAILED', source, { ...extra, reason: 'REASON_AGENT_RESTARTED', message: 'the agent restarted and cleaned up its tasks' });
        return;
      default:
        this.emit(rec, 'TASK_KILLED', source, before ? { reason: 'REASON_TASK_KILLED_DURING_LAUNCH', message: 'killed before it was launched' } : { ...extra, message: 'killed' });
    }
  }

  /**
   * KILL_TASKS for one task. A task this agent does not know (never had, or forgot once its end
   * was acknowledged) gets TASK_LOST with REASON_TASK_UNKNOWN, as a reliable update like any
   * other — so the framework always hears an answer, and the master needs no special case. A
   * master that already knows the task ended drops it.
   */
  private killRequested(frameworkId: string, taskId: string, graceMs: number | undefined): void {
    const rec = this.tasksByKey.get(keyOf(frameworkId, taskId));
    if (rec === undefined) {
      this.updates.update(frameworkId, { taskId, state: 'TASK_LOST', source: 'SOURCE_AGENT', reason: 'REASON_TASK_UNKNOWN', message: 'the agent does not know this task' });
      return;
    }
    this.killTask(rec, 'kill', graceMs);
  }

  private graceOf(rec: TaskRecord, override?: number): number {
    return override ?? rec.task.killPolicy?.gracePeriodMs ?? this.killGraceMs;
  }

  /** Starts killing a task; its terminal update follows when it has ended. */
  private killTask(rec: TaskRecord, reason: KillReason, graceMs?: number): void {
    if (isTerminalState(rec.state) || rec.killReason !== undefined) return;
    rec.killReason = reason;
    rec.deadline?.cancel();
    rec.health?.stop();
    if (this.executorsOf.runs(rec)) {
      this.saveTask(rec);
      this.executorsOf.kill(rec, this.graceOf(rec, graceMs)); // a KILL event, or TASK_KILLED at once if not yet sent
      return;
    }
    switch (rec.phase) {
      case 'staging':
        rec.phase = 'done';
        this.emitKilled(rec, undefined, 'SOURCE_AGENT');
        return;
      case 'launching':
        this.saveTask(rec); // runTask kills it once the containerizer is done starting it
        rec.startWait?.wake(); // or at once, when it waits for its start time
        return;
      case 'running':
        if (reason !== 'cleanup' && rec.framework.capabilities?.includes('TASK_KILLING_STATE')) {
          this.emit(rec, 'TASK_KILLING', 'SOURCE_EXECUTOR', {});
        } else {
          this.saveTask(rec);
        }
        this.killContainer(rec, this.graceOf(rec, graceMs));
        return;
      case 'done':
        return;
    }
  }

  private killContainer(rec: TaskRecord, graceMs: number): void {
    this.checkpoint?.sync(); // the kill reason is on disk before the container dies
    this.containerizer.kill(rec.containerId, graceMs).catch((error: unknown) => {
      this.log.error({ err: error, taskId: rec.task.taskId }, 'kill failed');
    });
  }

  /** Produces a status update of a task and records the new state. */
  private emit(rec: TaskRecord, state: TaskState, source: TaskStatusSource, extra: Partial<StatusInput>, atMs?: number): void {
    const input: StatusInput = { ...extra, taskId: rec.task.taskId, state, source };
    rec.state = state;
    rec.status = this.updates.update(rec.frameworkId, input, atMs);
    if (isTerminalState(state)) this.release(rec);
    this.saveTask(rec);
    if (isTerminalState(state) && rec.executorKey !== undefined) this.executorsOf.onTaskTerminal(rec);
  }

  /**
   * A status a custom executor made: journaled, then queued behind the task's earlier updates
   * with the executor's uuid kept (the framework acknowledges that uuid, and the executor hears
   * ACKNOWLEDGED with it).
   */
  private forwardExecutorStatus(rec: TaskRecord, status: TaskStatus): void {
    const stamped: TaskStatus = this.agentId !== undefined ? { ...status, agentId: this.agentId } : status;
    const update: StatusUpdate = { frameworkId: rec.frameworkId, status: stamped };
    this.checkpoint?.appendUpdate(update); // before it can be sent, as the status-update manager does
    this.updates.restore([update]);
    rec.state = stamped.state;
    rec.status = stamped;
    if (stamped.healthy !== undefined) rec.healthy = stamped.healthy;
    if (isTerminalState(stamped.state)) this.release(rec);
    this.saveTask(rec);
    if (isTerminalState(stamped.state)) this.executorsOf.onTaskTerminal(rec);
  }

  /** One call to the master (EXECUTOR_MESSAGE, EXECUTOR_EXITED); rejects unless it answered ok. */
  private async callMaster(call: AgentCall): Promise<void> {
    const msg = await this.transport.request(this.s.agentCalls(this.principal), encode(AgentCallSchema, call), { timeoutMs: this.requestTimeoutMs });
    const reply = safeDecode(AgentCallReplySchema, msg.data);
    if (!reply.ok) {
      this.counters.invalidMessages++;
      throw reply.error;
    }
    if (!reply.value.ok) throw fromWire(reply.value.error);
  }

  /** Frees what an ended task held. */
  private release(rec: TaskRecord): void {
    rec.phase = 'done';
    rec.deadline?.cancel();
    rec.deadline = undefined;
    rec.health?.stop();
    rec.health = undefined;
    rec.usage = undefined;
    if (rec.counted !== undefined) {
      this.used = subtract(this.used, rec.counted);
      rec.counted = undefined;
    }
  }

  /** A task's terminal update was acknowledged: forget it (unless a new run took its id meanwhile). */
  private forget(frameworkId: string, taskId: string): void {
    const key = keyOf(frameworkId, taskId);
    const rec = this.tasksByKey.get(key);
    if (rec !== undefined && !isTerminalState(rec.state)) return;
    if (this.updates.pendingOf(frameworkId, taskId).length > 0) return;
    this.tasksByKey.delete(key);
    // A custom executor's task shares the executor's sandbox: that goes once the executor ended.
    if (rec !== undefined && rec.sandboxDir !== '' && !this.executorsOf.runs(rec)) this.sandboxGc?.schedule(rec.sandboxDir);
    if (rec?.executorKey !== undefined) this.executorsOf.forgetTask(rec);
    try {
      this.checkpoint?.forgetTask(frameworkId, taskId);
    } catch (error) {
      this.log.warn({ err: error }, 'cannot remove a task checkpoint');
    }
  }

  private saveTask(rec: TaskRecord): void {
    if (!this.checkpoint) return;
    const cp: TaskCheckpoint = {
      frameworkId: rec.frameworkId,
      framework: rec.framework,
      task: rec.task,
      runId: rec.runId,
      containerId: rec.containerId,
      sandboxDir: rec.sandboxDir,
      state: rec.state,
    };
    if (rec.status !== undefined) cp.status = rec.status;
    if (rec.launchedAtMs !== undefined) cp.launchedAtMs = rec.launchedAtMs;
    if (rec.killReason !== undefined) cp.killReason = rec.killReason;
    try {
      this.checkpoint.writeTask(cp);
    } catch (error) {
      this.log.error({ err: error, taskId: rec.task.taskId }, 'cannot checkpoint a task');
    }
  }

  /** The environment a task (and its health check) sees. */
  private taskEnv(rec: TaskRecord): Record<string, string> {
    const env: Record<string, string> = {
      STOA_TASK_ID: rec.task.taskId,
      STOA_FRAMEWORK_ID: rec.frameworkId,
      STOA_AGENT_ID: this.agentId ?? '',
      STOA_SANDBOX: rec.sandboxDir,
      HOST: this.hostname,
    };
    const ports = portsOf(rec.task.resources);
    ports.forEach((port, i) => {
      env[`PORT${i}`] = String(port);
    });
    if (ports[0] !== undefined) env.PORT = String(ports[0]);
    if (ports.length > 0) env.PORTS = ports.join(',');
    return { ...env, ...(rec.task.command?.environment ?? {}) };
  }

  private async sendUpdates(batch: StatusUpdate[]): Promise<void> {
    const agentId = this.agentId;
    if (agentId === undefined) throw new CancelledError('not registered');
    const call: AgentCall = { v: 1, type: 'STATUS_UPDATE', agentId, updates: batch };
    // Built here from statuses checked on the way in (executors' calls are validated): not validated again.
    const msg = await this.transport.request(this.s.agentCalls(this.principal), encodeTrusted(call), { timeoutMs: this.requestTimeoutMs });
    const reply = safeDecode(AgentCallReplySchema, msg.data);
    if (!reply.ok) {
      this.counters.invalidMessages++;
      throw reply.error;
    }
    if (!reply.value.ok) {
      const error = reply.value.error;
      // A master that does not know this agent (it failed over and lost it, say) wants it back.
      if (error.code === 'NOT_FOUND' || error.code === 'NOT_LEADER') this.triggerRegister(`status update refused: ${error.message}`);
      throw new Error(`the master refused the status updates: ${error.code}: ${error.message}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Recovery

  /**
   * Reloads the checkpoint of an earlier run: tasks, unacknowledged updates, containers. Live
   * containers are re-attached (`reconnect`) or killed (`cleanup`); those that ended while the
   * agent was away are reported with their recorded exit.
   */
  private async recover(): Promise<void> {
    const cp = this.checkpoint!;
    const loaded = cp.load();
    for (const problem of loaded.problems) this.log.warn({ problem }, 'unreadable checkpoint record skipped');
    if (loaded.agent === undefined) {
      if (loaded.tasks.length > 0 || loaded.journals.length > 0 || loaded.executors.length > 0) {
        this.log.warn('checkpointed tasks without an agent id: dropped');
        cp.reset();
      }
      return;
    }
    this.agentId = loaded.agent.agentId;
    this.updates.agentId = loaded.agent.agentId;
    const saved = loaded.agent.resources;
    if (saved !== undefined && contains(stripReservations(saved), this.capacity) && contains(this.capacity, stripReservations(saved))) {
      this.totalResources = saved; // same machine, same configuration: keep the master's reservations
    }
    const mode = this.options.recover ?? 'reconnect';
    const journals = new Map(loaded.journals.map((j) => [keyOf(j.frameworkId, j.taskId), j]));
    for (const j of loaded.journals) this.updates.restore(j.pending);

    const live: TaskRecord[] = [];
    for (const tc of loaded.tasks) {
      const key = keyOf(tc.frameworkId, tc.task.taskId);
      const journal = journals.get(key);
      const last = journal?.last?.status;
      const rec: TaskRecord = {
        frameworkId: tc.frameworkId,
        framework: tc.framework,
        task: tc.task,
        runId: tc.runId,
        containerId: tc.containerId,
        sandboxDir: tc.sandboxDir,
        // The journal is written first: its last update is the newest state.
        state: last?.state ?? tc.state,
        phase: tc.launchedAtMs !== undefined ? 'running' : 'staging',
      };
      const status = last ?? tc.status;
      if (status !== undefined) rec.status = status;
      if (status?.healthy !== undefined) rec.healthy = status.healthy;
      if (tc.launchedAtMs !== undefined) rec.launchedAtMs = tc.launchedAtMs;
      if (tc.killReason !== undefined) rec.killReason = tc.killReason;
      if (isTerminalState(rec.state)) {
        rec.phase = 'done';
        if ((journal?.pending.length ?? 0) === 0) {
          cp.forgetTask(tc.frameworkId, tc.task.taskId);
          continue;
        }
      } else {
        const need = stripReservations(tc.task.resources);
        this.used = add(this.used, need);
        rec.counted = need;
        live.push(rec);
      }
      this.tasksByKey.set(key, rec);
    }
    // Journals of tasks without a record (refused launches, unknown kills) that are fully acknowledged.
    for (const j of loaded.journals) {
      if (j.pending.length === 0 && !this.tasksByKey.has(keyOf(j.frameworkId, j.taskId))) cp.forgetTask(j.frameworkId, j.taskId);
    }
    // Tasks of custom executors are theirs: the executors re-attach to their processes.
    const plain = await this.executorsOf.recover(loaded.executors, this.tasksByKey.values(), live);
    if (plain.length === 0) return;

    let recovered: RecoveredContainer[];
    try {
      recovered = await this.containerizer.recover(plain.map((r) => ({ containerId: r.containerId, sandboxDir: r.sandboxDir })));
    } catch (error) {
      this.log.error({ err: error }, 'container recovery failed');
      recovered = [];
    }
    const byId = new Map(recovered.map((c) => [c.containerId, c]));
    for (const rec of plain) {
      const found = byId.get(rec.containerId);
      if (found === undefined) {
        // Never started (the agent died before launching it), or gone without a trace.
        rec.phase = 'done';
        const extra: Partial<StatusInput> = { reason: 'REASON_AGENT_RESTARTED', message: 'the agent restarted before the task was launched' };
        if (rec.killReason !== undefined) this.emitKilled(rec, undefined, 'SOURCE_AGENT');
        else this.emit(rec, 'TASK_FAILED', 'SOURCE_AGENT', extra);
        continue;
      }
      rec.phase = 'running';
      if (found.state === 'exited') {
        this.log.info({ taskId: rec.task.taskId }, 'a task ended while the agent was away');
        this.onExit(rec, found.exit);
        continue;
      }
      this.watch(rec);
      if (mode === 'cleanup') {
        rec.killReason = undefined;
        this.killTask(rec, 'cleanup');
        continue;
      }
      if (rec.killReason !== undefined) {
        this.killContainer(rec, this.graceOf(rec)); // a kill was under way: finish it
        continue;
      }
      this.log.info({ taskId: rec.task.taskId, containerId: rec.containerId }, 're-attached to a running task');
      rec.launchedAtMs ??= this.timers.now();
      this.onRunning(rec, rec.state !== 'TASK_RUNNING');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Sandboxes and usage

  /** Every sandbox a task record (live, or ended and not yet acknowledged) or a live executor uses. */
  private *sandboxesInUse(): Iterable<string> {
    for (const rec of this.tasksByKey.values()) if (rec.sandboxDir !== '') yield rec.sandboxDir;
    for (const ex of this.executorsOf.views()) if (ex.sandboxDir !== '') yield ex.sandboxDir;
  }

  /** Schedules the next usage read; reads never overlap (the next is an interval after one ends). */
  private armUsage(): void {
    if (this.usageIntervalMs <= 0 || this.stopping !== undefined || this.state === 'stopped') return;
    this.usageTimer = this.timers.schedule(this.timers.now() + this.usageIntervalMs, () => {
      this.usageTimer = undefined;
      void this.readUsage().finally(() => this.armUsage());
    });
  }

  /** Reads the usage of every task the agent runs itself (its container is its own). */
  private async readUsage(): Promise<void> {
    const running = [...this.tasksByKey.values()].filter((r) => r.phase === 'running' && !isTerminalState(r.state) && !this.executorsOf.runs(r));
    await Promise.all(
      running.map(async (rec) => {
        let usage: TaskUsage | undefined;
        try {
          usage = await this.containerizer.usage(rec.containerId);
        } catch (error) {
          this.log.debug({ err: error, taskId: rec.task.taskId }, 'cannot read the usage of a task');
        }
        if (rec.phase !== 'running' || isTerminalState(rec.state)) return; // ended meanwhile
        const measured = usage !== undefined && (usage.cpuUserSeconds !== undefined || usage.cpuSystemSeconds !== undefined || usage.rssBytes !== undefined);
        rec.usage = measured ? usage : undefined;
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Stop

  private async doStop(killTasks: boolean): Promise<void> {
    if (killTasks) {
      this.killingOnStop = true;
      const live = [...this.tasksByKey.values()].filter((r) => !isTerminalState(r.state));
      this.executorsOf.shutdownAll(undefined, 'kill');
      for (const rec of live) this.killTask(rec, 'kill');
      const executorGrace = (this.options.executorShutdownGracePeriodMs ?? 5000) + 1000;
      const deadline = Date.now() + Math.max(this.killGraceMs, executorGrace, ...live.map((r) => this.graceOf(r))) + 5000;
      while ((live.some((r) => !isTerminalState(r.state)) || this.executorsOf.liveProcesses > 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (this.state === 'registered') {
        this.updates.flush();
        if (this.agentId !== undefined) {
          const call: AgentCall = { v: 1, type: 'UNREGISTER', agentId: this.agentId };
          await this.transport
            .request(this.s.agentCalls(this.principal), encode(AgentCallSchema, call), { timeoutMs: Math.min(this.requestTimeoutMs, 2000) })
            .catch((error: unknown) => this.log.debug({ err: error }, 'unregister got no answer'));
        }
      }
    }
    this.state = 'stopped';
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(new CancelledError('the agent stopped'));
    this.wakeRegister?.();
    this.watchdog?.cancel();
    this.usageTimer?.cancel();
    this.usageTimer = undefined;
    await this.sandboxGc?.stop();
    this.offStatus?.();
    this.commandSub?.unsubscribe();
    this.leaderSub?.unsubscribe();
    this.executorsOf.stop();
    for (const rec of this.tasksByKey.values()) {
      rec.health?.stop();
      rec.deadline?.cancel();
    }
    this.updates.stop();
    if (this.ownsContainerizer) {
      await this.containerizer.close({ killAll: killTasks }).catch((error: unknown) => this.log.warn({ err: error }, 'containerizer close failed'));
    }
    if (this.ownsTimers) this.timers.close();
    try {
      this.checkpoint?.close();
    } catch (error) {
      this.log.error({ err: error }, 'cannot close the checkpoint');
    }
    this.log.info({ agentId: this.agentId, killTasks }, 'agent stopped');
  }

  // ---------------------------------------------------------------------------------------------
  // Metrics

  private makeRegistry(): Registry {
    const registry = new Registry();
    const tasks = this.tasksByKey;
    const updates = this.updates;
    new Gauge({
      name: 'stoa_agent_tasks',
      help: 'Tasks on this agent by state (live ones and ended ones not yet acknowledged).',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of tasks.values()) this.inc({ state: r.state });
      },
    });
    const counter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    counter('stoa_agent_status_updates_sent_total', 'Status updates sent for the first time.', () => this.updates.stats.sent);
    counter('stoa_agent_status_updates_retried_total', 'Status updates resent for want of an acknowledgement.', () => this.updates.stats.retried);
    counter('stoa_agent_status_updates_acknowledged_total', 'Status updates acknowledged.', () => this.updates.stats.acked);
    counter('stoa_agent_stale_commands_total', 'Commands dropped for an epoch older than the newest seen.', () => this.counters.staleCommands);
    counter('stoa_agent_invalid_messages_total', 'Messages that failed to decode and were dropped.', () => this.counters.invalidMessages);
    counter('stoa_agent_registrations_total', 'Successful registrations and re-registrations.', () => this.counters.registrations);
    const sandboxGc = (): SandboxGc | undefined => this.sandboxGc;
    counter('stoa_agent_sandboxes_removed_total', 'Sandboxes the sandbox GC removed.', () => sandboxGc()?.stats.removed ?? 0);
    counter('stoa_agent_sandbox_bytes_freed_total', 'Bytes of the files in the sandboxes the sandbox GC removed.', () => sandboxGc()?.stats.bytesFreed ?? 0);
    new Gauge({
      name: 'stoa_agent_sandboxes_scheduled',
      help: 'Ended sandboxes waiting for the sandbox GC.',
      registers: [registry],
      collect() {
        this.set(sandboxGc()?.stats.scheduled ?? 0);
      },
    });
    const usageGauge = (name: string, help: string, read: (u: TaskUsage) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ['task_id', 'framework_id'],
        registers: [registry],
        collect() {
          // Rebuilt from the running tasks at every scrape: a task that ended has no series.
          this.reset();
          for (const r of tasks.values()) {
            const value = r.usage === undefined ? undefined : read(r.usage);
            if (value !== undefined) this.set({ task_id: r.task.taskId, framework_id: r.frameworkId }, value);
          }
        },
      });
    };
    usageGauge('stoa_agent_task_cpu_seconds_total', 'CPU time (user and system) a running task has used, in seconds, as last read.', (u) =>
      u.cpuUserSeconds === undefined && u.cpuSystemSeconds === undefined ? undefined : (u.cpuUserSeconds ?? 0) + (u.cpuSystemSeconds ?? 0),
    );
    usageGauge('stoa_agent_task_rss_bytes', 'Resident memory of a running task, in bytes, as last read.', (u) => u.rssBytes);
    new Gauge({
      name: 'stoa_agent_status_updates_pending',
      help: 'Status updates awaiting acknowledgement.',
      registers: [registry],
      collect() {
        this.set(updates.pendingCount);
      },
    });
    return registry;
  }
}

/** A containerizer-friendly id for one run: the task id made safe, then the run id. */
function containerIdOf(taskId: string, runId: string): string {
  const safe = taskId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return `${safe}-${runId}`;
}

/** The ports a task holds, in order, from its `ports` ranges. */
function portsOf(resources: readonly Resource[]): number[] {
  const out: number[] = [];
  for (const r of resources) {
    if (r.name !== 'ports' || r.ranges === undefined) continue;
    for (const range of r.ranges) {
      for (let p = range.begin; p <= range.end && out.length < 1000; p++) out.push(p);
    }
  }
  return out;
}

/** `stoa.sim.runForMs` and `stoa.sim.exitCode` labels, for the simulated containerizer. */
function simulationOf(task: TaskInfo): ContainerLaunch['simulation'] {
  const labels = task.labels;
  if (labels === undefined) return undefined;
  const out: { runForMs?: number; exitCode?: number } = {};
  const runFor = Number(labels['stoa.sim.runForMs']);
  if (labels['stoa.sim.runForMs'] !== undefined && Number.isFinite(runFor) && runFor >= 0) out.runForMs = runFor;
  const exitCode = Number(labels['stoa.sim.exitCode']);
  if (labels['stoa.sim.exitCode'] !== undefined && Number.isInteger(exitCode)) out.exitCode = exitCode;
  return Object.keys(out).length > 0 ? out : undefined;
}

function exitFields(exit: ContainerExit): Partial<StatusInput> {
  const out: Partial<StatusInput> = {};
  if (exit.exitCode !== undefined) out.exitCode = exit.exitCode;
  if (exit.signal !== undefined) out.signal = exit.signal;
  return out;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function wireErrorOf(error: unknown): WireError {
  if (StoaError.isInstance(error)) return error.toWire();
  return { code: 'INTERNAL', message: messageOf(error) };
}
