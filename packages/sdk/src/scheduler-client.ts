/**
 * The scheduler client: what a framework uses to talk to the leading master. It subscribes (and
 * re-subscribes on its own when the master goes silent, a new leader is elected, or a call finds
 * no leader), sends heartbeats, hands out events as an async iterable or to callbacks,
 * acknowledges status updates after they were handled, notices gaps in the event sequence, and
 * reconciles task state by itself, so a framework only decides what to run where.
 *
 * @example
 * ```ts
 * import { parseResources, SchedulerClient } from '@stoa/sdk';
 *
 * await using client = await SchedulerClient.connect({
 *   servers: 'nats://127.0.0.1:4222',
 *   framework: { name: 'hello', principal: 'alice' },
 * });
 * let launched = 0;
 * for await (const event of client.events()) {
 *   if (event.type === 'OFFERS') {
 *     for (const offer of event.offers) {
 *       if (launched >= 3) { await client.decline([offer.id], { refuseMs: 60_000 }); continue; }
 *       await client.accept([offer.id], [{
 *         type: 'LAUNCH',
 *         tasks: [{
 *           taskId: `hello-${++launched}`, name: 'hello', agentId: offer.agentId,
 *           resources: parseResources('cpus:0.1;mem:32'), command: { value: 'echo hello' },
 *         }],
 *       }]);
 *     }
 *   } else if (event.type === 'UPDATE') {
 *     for (const s of event.statuses) console.log(s.taskId, s.state);   // acknowledged after this
 *     if ([...client.tasks.values()].every((t) => t.terminal)) break;
 *   }
 * }
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import {
  encode,
  encodeTrusted,
  type Filters,
  type FrameworkInfo,
  FrameworkInfoSchema,
  fromUnknown,
  fromWire,
  InvalidOperationError,
  isTerminalState,
  type KillPolicy,
  LeaderElectedSchema,
  NoRespondersError,
  NotFoundError,
  NotLeaderError,
  type Operation,
  type SchedulerCall,
  SchedulerCallReplySchema,
  SchedulerCallSchema,
  type SchedulerEvent,
  SchedulerEventSchema,
  type SchedulerEventType,
  type StoaError,
  type Subjects,
  type Subscribed,
  SubscribeReplySchema,
  safeDecode,
  subjects,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
  TimeoutError,
  type Transport,
  type TransportMsg,
  type TransportSubscription,
  UnavailableError,
  validate,
} from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { z } from 'zod';
import { type ReconcileBackoff, Reconciler, type ReconcileTarget } from './reconciler.js';

/** The life of a {@link SchedulerClient}: subscribing (also while re-subscribing), subscribed, closed. */
export type SchedulerClientState = 'subscribing' | 'subscribed' | 'closed';

/** What the client logs through: pino's `Logger` fits, as does anything with these four methods. */
export interface SchedulerClientLogger {
  /** Routine detail. */
  debug(fields: Record<string, unknown>, message: string): void;
  /** Changes of state (subscribed, re-subscribing). */
  info(fields: Record<string, unknown>, message: string): void;
  /** Things that went wrong and were recovered from (a gap, a dropped event, a failed call). */
  warn(fields: Record<string, unknown>, message: string): void;
  /** Things that could not be recovered from (a handler that threw, a refused subscription). */
  error(fields: Record<string, unknown>, message: string): void;
}

/** Options of {@link SchedulerClient.connect}. Give `servers` or `transport` (or neither: see `servers`). */
export interface SchedulerClientOptions {
  /**
   * NATS server URL(s); the client opens its own connection and closes it in `close()`.
   * @default process.env.STOA_NATS_URL, else 'nats://127.0.0.1:4222' (when no `transport` is given)
   */
  servers?: string | string[];
  /** An open transport to use instead; `close()` leaves it open. */
  transport?: Transport;
  /**
   * Who the framework is. Without `id` the client picks one (a UUID); with one it fails over to
   * that framework (its tasks are kept if it comes back within `failoverTimeoutMs`).
   */
  framework: FrameworkInfo;
  /** Roles to start suppressed (no offers for them until {@link SchedulerClient.revive}). @default none */
  suppressedRoles?: string[];
  /** The cluster's subject prefix. @default 'stoa' */
  subjectPrefix?: string;
  /**
   * Acknowledge status updates by itself once every handler of their UPDATE event has resolved
   * (and every `events()` consumer has moved past it). An UPDATE that arrives while nobody
   * listens waits for the first listener. When false, call {@link SchedulerClient.acknowledge}.
   * @default true
   */
  autoAcknowledge?: boolean;
  /** How unanswered reconciliations are retried. @default { initialBackoffMs: 1000, maxBackoffMs: 30000 } */
  reconcile?: ReconcileBackoff;
  /** How long a call may take, including waiting for a re-subscription in progress. @default 5000 */
  requestTimeoutMs?: number;
  /** Backoff between (re)subscription attempts (capped exponential with jitter). @default { initialBackoffMs: 100, maxBackoffMs: 10000 } */
  subscribeBackoff?: ReconcileBackoff;
  /** Give up connecting after this long with a `TimeoutError`. @default keep trying */
  connectTimeoutMs?: number;
  /** How many terminal tasks {@link SchedulerClient.tasks} keeps (the oldest go first). @default 10000 */
  retainTerminalTasks?: number;
  /** Where the client logs. @default nothing is logged */
  logger?: SchedulerClientLogger;
}

const BackoffSchema = (initialBackoffMs: number, maxBackoffMs: number) =>
  z
    .object({
      initialBackoffMs: z.number().positive().default(initialBackoffMs),
      maxBackoffMs: z.number().positive().default(maxBackoffMs),
    })
    .prefault({});

/** The options with their defaults, as the client uses them. */
const ResolvedOptionsSchema = z.object({
  framework: FrameworkInfoSchema,
  suppressedRoles: z.array(z.string()).default([]),
  subjectPrefix: z.string().min(1).default('stoa'),
  autoAcknowledge: z.boolean().default(true),
  reconcile: BackoffSchema(1000, 30_000),
  requestTimeoutMs: z.number().positive().default(5000),
  subscribeBackoff: BackoffSchema(100, 10_000),
  connectTimeoutMs: z.number().positive().optional(),
  retainTerminalTasks: z.number().int().nonnegative().default(10_000),
});

type ResolvedOptions = z.output<typeof ResolvedOptionsSchema>;

/** The event of one type. */
export type SchedulerEventOf<T extends SchedulerEventType> = Extract<SchedulerEvent, { type: T }>;

/**
 * A callback for events of one type. What it returns is ignored, except that a promise (any
 * thenable) is awaited before the statuses of an UPDATE are acknowledged.
 */
export type SchedulerEventHandler<T extends SchedulerEventType> = (event: SchedulerEventOf<T>) => unknown;

/** One task to kill. */
export interface KillRequest {
  /** The task. */
  taskId: string;
  /** Its agent. @default the agent the client knows it to be on */
  agentId?: string;
  /** Overrides the task's kill policy. @default the task's own */
  killPolicy?: KillPolicy;
}

/** A task the client knows of: launched through it, or reported by the master. */
export interface TrackedTask {
  /** The task's id. */
  readonly taskId: string;
  /** The agent it runs on, when known. */
  readonly agentId: string | undefined;
  /** What was launched, when it was launched through this client. */
  readonly info: TaskInfo | undefined;
  /** The latest status heard, if any. */
  readonly status: TaskStatus | undefined;
  /** The latest state; `undefined` until the first status. */
  readonly state: TaskState | undefined;
  /** Whether the task has reached a terminal state. */
  readonly terminal: boolean;
}

/** Counters of what the client has seen and done. */
export interface SchedulerClientStats {
  /** Messages on the event subject, valid or not. */
  messages: number;
  /** Messages dropped because they did not decode as events. */
  invalidEvents: number;
  /** Events whose `seq` was not the previous one plus one. */
  seqGaps: number;
  /** Successful subscriptions, the first included. */
  subscriptions: number;
  /** Re-subscriptions started (master silent, new leader, no leader). */
  resubscribes: number;
  /** Acknowledgements sent (not calls: one call carries many). */
  acknowledged: number;
  /** RECONCILE calls sent by the built-in reconciliation. */
  reconcileCalls: number;
  /** HEARTBEAT calls sent. */
  heartbeats: number;
}

interface MutableTask {
  taskId: string;
  agentId: string | undefined;
  info: TaskInfo | undefined;
  status: TaskStatus | undefined;
}

/**
 * The tasks a {@link SchedulerClient} knows of and their latest status. Tasks launched through
 * {@link SchedulerClient.accept} appear at once (with no status); tasks the master reports that
 * the client did not launch (after a restart with the same framework id) appear with their status.
 */
export class TaskView {
  private readonly tasks = new Map<string, MutableTask>();
  private readonly terminalOrder = new Set<string>();

  /** @internal */
  constructor(private readonly retainTerminal: number) {}

  /** How many tasks are known. */
  get size(): number {
    return this.tasks.size;
  }

  /** One task, if known. */
  get(taskId: string): TrackedTask | undefined {
    const task = this.tasks.get(taskId);
    return task === undefined ? undefined : view(task);
  }

  /** Whether a task is known. */
  has(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  /** Every known task. */
  *values(): IterableIterator<TrackedTask> {
    for (const task of this.tasks.values()) yield view(task);
  }

  /** Every known task. */
  [Symbol.iterator](): IterableIterator<TrackedTask> {
    return this.values();
  }

  /** The tasks not known to have ended: what reconciliation asks about. */
  *nonTerminal(): IterableIterator<TrackedTask> {
    for (const task of this.tasks.values()) if (!isTerminal(task)) yield view(task);
  }

  /** Stops tracking a task (built-in reconciliation stops asking about it too). */
  forget(taskId: string): boolean {
    this.terminalOrder.delete(taskId);
    const had = this.tasks.delete(taskId);
    if (had) this.onForget?.(taskId);
    return had;
  }

  /** @internal Told about forgotten tasks. */
  onForget: ((taskId: string) => void) | undefined;

  /** @internal Records the tasks of LAUNCH and LAUNCH_GROUP operations; returns their ids. */
  launching(operations: readonly Operation[]): string[] {
    const ids: string[] = [];
    for (const op of operations) {
      if (op.type !== 'LAUNCH' && op.type !== 'LAUNCH_GROUP') continue;
      for (const info of op.tasks) {
        this.terminalOrder.delete(info.taskId);
        this.tasks.set(info.taskId, { taskId: info.taskId, agentId: info.agentId, info, status: undefined });
        ids.push(info.taskId);
      }
    }
    return ids;
  }

  /** @internal Forgets launches the master refused, unless a status arrived for them meanwhile. */
  unlaunch(taskIds: readonly string[]): void {
    for (const id of taskIds) if (this.tasks.get(id)?.status === undefined) this.forget(id);
  }

  /** @internal Records a status. */
  update(status: TaskStatus): void {
    let task = this.tasks.get(status.taskId);
    if (task === undefined) {
      task = { taskId: status.taskId, agentId: status.agentId, info: undefined, status };
      this.tasks.set(status.taskId, task);
    } else {
      task.status = status;
      if (status.agentId !== undefined) task.agentId = status.agentId;
    }
    if (isTerminalState(status.state)) {
      this.terminalOrder.delete(status.taskId);
      this.terminalOrder.add(status.taskId);
      while (this.terminalOrder.size > this.retainTerminal) {
        const oldest = this.terminalOrder.values().next().value as string;
        this.forget(oldest);
      }
    } else {
      this.terminalOrder.delete(status.taskId);
    }
  }

  /** @internal The agent of a task, when known. */
  agentOf(taskId: string): string | undefined {
    return this.tasks.get(taskId)?.agentId;
  }
}

function isTerminal(task: MutableTask): boolean {
  return task.status !== undefined && isTerminalState(task.status.state);
}

function view(task: MutableTask): TrackedTask {
  return {
    taskId: task.taskId,
    agentId: task.agentId,
    info: task.info,
    status: task.status,
    state: task.status?.state,
    terminal: isTerminal(task),
  };
}

/** Calls as the client sends them, before `v` and `frameworkId` are filled in. */
type FrameworkCall = Exclude<SchedulerCall, { type: 'SUBSCRIBE' }>;
type CallBody = FrameworkCall extends infer C ? (C extends unknown ? Omit<C, 'v' | 'frameworkId'> : never) : never;

type Ack = { agentId: string; taskId: string; uuid: string };

/** Events that arrive while nobody listens are kept for the first listener, up to this many. */
const UNHEARD_LIMIT = 10_000;
/** At most this many acknowledgements or kills go in one call. */
const MAX_PER_CALL = 5000;
/**
 * At most this many tasks go in one ACCEPT: a bigger one is split by agent into several (a NATS
 * message is capped at 1 MB by default, and a task is about 100 bytes).
 */
const MAX_TASKS_PER_ACCEPT = 2000;
/** How many parts of a split ACCEPT are in flight at once. */
const ACCEPT_PARTS_IN_FLIGHT = 4;
/** The most offers whose agent the client remembers (to split big ACCEPTs); the oldest go first. */
const OFFER_AGENTS_LIMIT = 200_000;

const noopLogger: SchedulerClientLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** One `events()` consumer: a queue, and a way to know when the consumer has moved past an event. */
class EventStream implements AsyncIterableIterator<SchedulerEvent> {
  private readonly queue: { event: SchedulerEvent; handled: ((ok: boolean) => void) | undefined }[] = [];
  private head = 0;
  private waiter: { resolve: (r: IteratorResult<SchedulerEvent>) => void; reject: (e: unknown) => void } | undefined;
  private current: ((ok: boolean) => void) | undefined;
  private ended = false;
  private error: unknown;
  private readonly onAbort = () => this.finish(undefined);

  constructor(
    private readonly detach: (stream: EventStream) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Queues an event; when `track`, resolves once the consumer asks for the next one (true) or quits first (false). */
  push(event: SchedulerEvent, track: boolean): Promise<boolean> | undefined {
    if (this.ended) return undefined;
    let handled: ((ok: boolean) => void) | undefined;
    const promise = track ? new Promise<boolean>((resolve) => (handled = resolve)) : undefined;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      this.current = handled;
      waiter.resolve({ value: event, done: false });
    } else {
      this.queue.push({ event, handled });
    }
    return promise;
  }

  next(): Promise<IteratorResult<SchedulerEvent>> {
    this.settleCurrent();
    if (this.head < this.queue.length) {
      const item = this.queue[this.head++]!;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      this.current = item.handled;
      return Promise.resolve({ value: item.event, done: false });
    }
    if (this.ended) return this.error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<SchedulerEvent>> {
    this.settleCurrent();
    this.finish(undefined, true);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the stream: the consumer gets what is queued (unless `discard`), then done or `error`. */
  finish(error: unknown, discard = false): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.detach(this);
    if (discard || this.signal?.aborted) this.discardQueue();
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter !== undefined) {
      if (error === undefined) waiter.resolve({ value: undefined, done: true });
      else waiter.reject(error);
    }
  }

  private settleCurrent(): void {
    const current = this.current;
    this.current = undefined;
    current?.(true);
  }

  private discardQueue(): void {
    for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.handled?.(false);
    this.queue.length = 0;
    this.head = 0;
  }
}

/**
 * A framework's connection to the leading master. Make one with {@link SchedulerClient.connect};
 * it stays subscribed (re-subscribing by itself) until {@link SchedulerClient.close}.
 */
export class SchedulerClient implements AsyncDisposable {
  /** The tasks this client knows of, with their latest status. */
  readonly tasks: TaskView;
  /**
   * Resolves when the client has closed: with `undefined` after {@link close}, or with the error
   * that ended it (a subscription the master refused, the transport closed under it).
   */
  readonly closed: Promise<StoaError | undefined>;

  private currentState: SchedulerClientState = 'subscribing';
  private id: string;
  private info: FrameworkInfo;
  private suppressed: Set<string>;
  /** The agent of each offer received and not yet used, declined or rescinded (to split big ACCEPTs by agent). */
  private readonly offerAgents = new Map<string, string>();
  private readonly s: Subjects;
  private readonly log: SchedulerClientLogger;
  private readonly reconciler: Reconciler;
  private readonly counters: SchedulerClientStats = {
    messages: 0,
    invalidEvents: 0,
    seqGaps: 0,
    subscriptions: 0,
    resubscribes: 0,
    acknowledged: 0,
    reconcileCalls: 0,
    heartbeats: 0,
  };

  private eventSub: TransportSubscription | undefined;
  private leaderSub: TransportSubscription | undefined;
  private stopStatus: (() => void) | undefined;
  private subscribed: Subscribed | undefined;
  private leaderEpoch = -1;
  private lastSeq: number | undefined;
  private sawSubscribed = false;
  private lastMessageAt = 0;

  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatInFlight = false;
  private subscribing: Promise<void> | undefined;
  private backoffTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeBackoff: (() => void) | undefined;
  /** A new leader was announced since the current subscription attempt started: try again without backoff. */
  private leaderAnnounced = false;
  private readonly readyWaiters = new Set<{ resolve: () => void; reject: (e: unknown) => void; timer: ReturnType<typeof setTimeout> }>();

  private readonly handlers = new Map<SchedulerEventType, Set<SchedulerEventHandler<SchedulerEventType>>>();
  private handlerCount = 0;
  private readonly streams = new Set<EventStream>();
  private unheard: SchedulerEvent[] = [];
  private replayScheduled = false;

  private acks: Ack[] = [];
  private ackImmediate: ReturnType<typeof setImmediate> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  private closing: Promise<void> | undefined;
  private closeError: StoaError | undefined;
  private resolveClosed!: (error: StoaError | undefined) => void;

  private constructor(
    private readonly transport: Transport,
    private readonly ownsTransport: boolean,
    private readonly options: ResolvedOptions,
    logger: SchedulerClientLogger | undefined,
  ) {
    this.s = subjects(options.subjectPrefix);
    this.log = logger ?? noopLogger;
    this.info = options.framework;
    this.id = options.framework.id ?? randomUUID();
    this.suppressed = new Set(options.suppressedRoles);
    this.tasks = new TaskView(options.retainTerminalTasks);
    this.reconciler = new Reconciler({
      ...options.reconcile,
      send: (tasks) => this.sendReconcile(tasks),
      onError: (error) => this.log.warn({ err: errorText(error) }, 'reconciliation call failed; it will be retried'),
    });
    this.tasks.onForget = (taskId) => this.reconciler.forget(taskId);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /**
   * Connects and subscribes; resolves once the master has accepted the subscription. Retries
   * while no master answers (no responders, timeouts, not the leader) with backoff, until
   * `connectTimeoutMs` if set; rejects at once with the master's typed error when it refuses.
   */
  static async connect(options: SchedulerClientOptions): Promise<SchedulerClient> {
    const { transport: given, servers, logger, ...rest } = options;
    const resolved = validate(ResolvedOptionsSchema, rest, 'scheduler client options');
    subjects(resolved.subjectPrefix); // throws a ValidationError for a bad prefix before anything opens
    const transport =
      given ??
      (await NatsTransport.connect({
        servers: servers ?? process.env.STOA_NATS_URL ?? 'nats://127.0.0.1:4222',
        name: `stoa-scheduler-${resolved.framework.name}`,
      }));
    const client = new SchedulerClient(transport, given === undefined, resolved, logger);
    try {
      client.listen();
      const deadline = resolved.connectTimeoutMs === undefined ? undefined : Date.now() + resolved.connectTimeoutMs;
      await client.subscribeUntilDone(deadline);
    } catch (error) {
      await client.close();
      throw fromUnknown(error);
    }
    return client;
  }

  /** The framework's id: chosen by the client (or given in `framework.id`) before subscribing. */
  get frameworkId(): string {
    return this.id;
  }

  /** `subscribing` (also while re-subscribing), `subscribed`, or `closed`. */
  get state(): SchedulerClientState {
    return this.currentState;
  }

  /** The framework as last subscribed or updated. */
  get framework(): FrameworkInfo {
    return { ...this.info, id: this.id };
  }

  /** What the master answered to the latest successful SUBSCRIBE. */
  get subscription(): Subscribed | undefined {
    return this.subscribed;
  }

  /** A snapshot of the client's counters. */
  get stats(): SchedulerClientStats {
    return { ...this.counters };
  }

  /**
   * The events, in order, as an async iterable; every call makes an independent consumer that
   * sees events from now on (plus, for the first listener of all, the events that arrived while
   * nobody listened, such as SUBSCRIBED). It ends when the client closes or `signal` aborts; break
   * out of the loop to stop it. With auto-acknowledgement an UPDATE is acknowledged once the loop
   * asks for the next event, so handle it inside the loop body.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<SchedulerEvent> {
    const stream = new EventStream((s) => this.streams.delete(s), options.signal);
    if (this.currentState === 'closed' || options.signal?.aborted) {
      stream.finish(this.closeError);
      return stream;
    }
    this.streams.add(stream);
    this.listenerAdded();
    return stream;
  }

  /**
   * Calls `handler` for every event of `type` (synchronously, in order: the hot-path form).
   * Returns a function that removes it. A handler that throws or rejects is logged; the statuses
   * of an UPDATE whose handler failed are not acknowledged, so the agent sends them again.
   */
  on<T extends SchedulerEventType>(type: T, handler: SchedulerEventHandler<T>): () => void {
    let set = this.handlers.get(type);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(type, set);
    }
    const h = handler as unknown as SchedulerEventHandler<SchedulerEventType>;
    if (!set.has(h)) {
      set.add(h);
      this.handlerCount++;
      this.listenerAdded();
    }
    return () => {
      if (set.delete(h)) this.handlerCount--;
    };
  }

  /**
   * Accepts offers (of one agent or many) with operations. Tasks of LAUNCH and LAUNCH_GROUP
   * operations are tracked in {@link SchedulerClient.tasks} from now on; when the master refuses the call they
   * are forgotten again. What was offered and not used is declined with `filters`.
   *
   * An ACCEPT of more than 2,000 tasks goes as several calls, each with whole agents (their offers
   * and operations, in order), four in flight at a time; when one of them fails, the others still
   * count and the first error is thrown.
   */
  async accept(offerIds: string | readonly string[], operations: readonly Operation[], filters?: Filters): Promise<void> {
    const ids = list(offerIds);
    const parts = this.splitAccept(ids, operations);
    for (const id of ids) this.offerAgents.delete(id);
    if (parts.length === 1) return this.acceptPart(ids, operations, filters);
    // A few in flight at a time: each part has the whole call timeout for itself, rather than the
    // last of fifty waiting behind the other forty-nine at a busy master.
    let next = 0;
    let firstError: unknown;
    const worker = async () => {
      while (next < parts.length) {
        const part = parts[next++]!;
        await this.acceptPart(part.offerIds, part.operations, filters).catch((error: unknown) => {
          firstError ??= error;
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(ACCEPT_PARTS_IN_FLIGHT, parts.length) }, worker));
    if (firstError !== undefined) throw firstError;
  }

  private async acceptPart(offerIds: string[], operations: readonly Operation[], filters?: Filters): Promise<void> {
    const launched = this.tasks.launching(operations);
    try {
      await this.call({ type: 'ACCEPT', offerIds, operations: [...operations], ...(filters ? { filters } : {}) });
    } catch (error) {
      // A timeout leaves it open whether the master launched them: reconciliation will tell.
      if (!TimeoutError.isInstance(error) && !uncertain.has(error as object)) this.tasks.unlaunch(launched);
      throw error;
    }
  }

  /** Splits a big ACCEPT by agent (see {@link SchedulerClient.accept}); one part when it is small or an offer is unknown. */
  private splitAccept(offerIds: string[], operations: readonly Operation[]): { offerIds: string[]; operations: Operation[] }[] {
    let taskCount = 0;
    for (const op of operations) if (op.type === 'LAUNCH' || op.type === 'LAUNCH_GROUP') taskCount += op.tasks.length;
    if (taskCount <= MAX_TASKS_PER_ACCEPT) return [{ offerIds, operations: [...operations] }];
    const byAgent = new Map<string, { offerIds: string[]; operations: Operation[]; tasks: number }>();
    const agent = (agentId: string) => {
      let part = byAgent.get(agentId);
      if (part === undefined) {
        part = { offerIds: [], operations: [], tasks: 0 };
        byAgent.set(agentId, part);
      }
      return part;
    };
    for (const id of offerIds) {
      const agentId = this.offerAgents.get(id);
      if (agentId === undefined) return [{ offerIds, operations: [...operations] }];
      agent(agentId).offerIds.push(id);
    }
    for (const op of operations) {
      if (op.type === 'LAUNCH') {
        const perAgent = new Map<string, TaskInfo[]>();
        for (const task of op.tasks) {
          const tasks = perAgent.get(task.agentId);
          if (tasks === undefined) perAgent.set(task.agentId, [task]);
          else tasks.push(task);
        }
        for (const [agentId, tasks] of perAgent) {
          const part = agent(agentId);
          part.operations.push({ type: 'LAUNCH', tasks });
          part.tasks += tasks.length;
        }
      } else if (op.type === 'LAUNCH_GROUP') {
        const part = agent(op.tasks[0]!.agentId);
        part.operations.push(op);
        part.tasks += op.tasks.length;
      } else {
        agent(op.agentId).operations.push(op);
      }
    }
    const parts: { offerIds: string[]; operations: Operation[]; tasks: number }[] = [];
    let current: { offerIds: string[]; operations: Operation[]; tasks: number } | undefined;
    for (const part of byAgent.values()) {
      if (current === undefined || (current.tasks > 0 && current.tasks + part.tasks > MAX_TASKS_PER_ACCEPT)) {
        current = { offerIds: [], operations: [], tasks: 0 };
        parts.push(current);
      }
      current.offerIds.push(...part.offerIds);
      current.operations.push(...part.operations);
      current.tasks += part.tasks;
    }
    return parts;
  }

  /** Declines offers; `filters.refuseMs` keeps their resources away for that long. */
  async decline(offerIds: string | readonly string[], filters?: Filters): Promise<void> {
    for (const id of list(offerIds)) this.offerAgents.delete(id);
    await this.call({ type: 'DECLINE', offerIds: list(offerIds), ...(filters ? { filters } : {}) });
  }

  /** Asks for offers again (for these roles, or all the framework's), lifting decline filters and suppression. */
  async revive(roles?: string | readonly string[]): Promise<void> {
    const rs = roles === undefined ? undefined : list(roles);
    await this.call({ type: 'REVIVE', ...(rs ? { roles: rs } : {}) });
    if (rs === undefined) this.suppressed.clear();
    else for (const r of rs) this.suppressed.delete(r);
  }

  /** Stops offers (for these roles, or all the framework's); kept across re-subscriptions. */
  async suppress(roles?: string | readonly string[]): Promise<void> {
    const rs = roles === undefined ? undefined : list(roles);
    await this.call({ type: 'SUPPRESS', ...(rs ? { roles: rs } : {}) });
    for (const r of rs ?? this.info.roles ?? ['*']) this.suppressed.add(r);
  }

  /** Kills tasks. The agent of each is filled in from {@link SchedulerClient.tasks} when not given. */
  async kill(tasks: string | readonly (string | KillRequest)[]): Promise<void> {
    const kills = (typeof tasks === 'string' ? [tasks] : tasks).map((t) => {
      const k: KillRequest = typeof t === 'string' ? { taskId: t } : { ...t };
      const agentId = k.agentId ?? this.tasks.agentOf(k.taskId);
      if (agentId !== undefined) k.agentId = agentId;
      return k;
    });
    for (let i = 0; i < kills.length; i += MAX_PER_CALL) await this.call({ type: 'KILL', kills: kills.slice(i, i + MAX_PER_CALL) });
  }

  /** Shuts down an executor of this framework on an agent (its tasks are killed). */
  async shutdown(agentId: string, executorId: string): Promise<void> {
    await this.call({ type: 'SHUTDOWN', agentId, executorId });
  }

  /**
   * Acknowledges statuses (those without a `uuid` need none and are skipped). Only needed with
   * `autoAcknowledge: false`. A status without `agentId` takes the agent from {@link SchedulerClient.tasks}.
   */
  async acknowledge(statuses: TaskStatus | readonly TaskStatus[]): Promise<void> {
    const acks: Ack[] = [];
    for (const status of Array.isArray(statuses) ? (statuses as readonly TaskStatus[]) : [statuses as TaskStatus]) {
      const ack = this.ackOf(status);
      if (ack !== undefined) acks.push(ack);
    }
    for (let i = 0; i < acks.length; i += MAX_PER_CALL) {
      const chunk = acks.slice(i, i + MAX_PER_CALL);
      await this.call({ type: 'ACKNOWLEDGE', acks: chunk });
      this.counters.acknowledged += chunk.length;
    }
  }

  /**
   * Asks the master for the state of these tasks (explicit) or of every task it knows of for
   * this framework (implicit, no argument). Answers come as UPDATE events. The client already
   * reconciles by itself; this is for frameworks that want more.
   */
  async reconcile(tasks?: readonly (string | ReconcileTarget)[]): Promise<void> {
    const targets = (tasks ?? []).map((t) => (typeof t === 'string' ? { taskId: t } : t));
    await this.call({ type: 'RECONCILE', tasks: targets.map(target) });
  }

  /** Sends opaque data to one of the framework's executors. */
  async message(agentId: string, executorId: string, data: Uint8Array): Promise<void> {
    await this.call({ type: 'MESSAGE', agentId, executorId, data });
  }

  /**
   * Changes the framework's info (name, roles, capabilities, labels, failover timeout…): fields
   * left out keep their values; `id` and `principal` cannot change. `suppressedRoles`, when
   * given, replaces the set of suppressed roles.
   */
  async updateFramework(changes: Partial<Omit<FrameworkInfo, 'id' | 'principal'>>, options: { suppressedRoles?: string[] } = {}): Promise<void> {
    const info: FrameworkInfo = { ...this.info, ...changes, id: this.id, principal: this.info.principal };
    await this.call({
      type: 'UPDATE_FRAMEWORK',
      frameworkInfo: info,
      ...(options.suppressedRoles ? { suppressedRoles: options.suppressedRoles } : {}),
    });
    this.info = info;
    if (options.suppressedRoles) this.suppressed = new Set(options.suppressedRoles);
  }

  /** Ends the framework: the master kills its tasks and forgets it. Then closes this client. */
  async teardown(): Promise<void> {
    await this.call({ type: 'TEARDOWN' });
    await this.close();
  }

  /**
   * Closes gracefully: sends the acknowledgements already due, stops every timer, unsubscribes,
   * ends `events()` iterators and closes the transport it opened. The framework stays registered
   * (its tasks run on until `failoverTimeoutMs`); use {@link teardown} to end it.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdownNow();
    return this.closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- subscription ----------------------------------------------------------------------------

  /** Subscribes to events and leader announcements: before SUBSCRIBE, so nothing is missed. */
  private listen(): void {
    this.eventSub = this.subscribeEvents(this.id);
    this.leaderSub = this.transport.subscribe(this.s.leader, {
      callback: (msg) => this.onLeader(msg),
      onError: (error) => this.log.error({ err: errorText(error) }, 'leader announcement handling failed'),
    });
    this.stopStatus = this.transport.onStatus((status) => {
      if (status.type === 'close' && this.currentState !== 'closed') {
        this.fail(new UnavailableError('the transport closed under the scheduler client'));
      }
    });
  }

  private subscribeEvents(frameworkId: string): TransportSubscription {
    return this.transport.subscribe(this.s.frameworkEvents(this.info.principal, frameworkId), {
      callback: (msg) => this.onEventMessage(msg),
      onError: (error) => this.log.error({ err: errorText(error) }, 'event handling failed'),
    });
  }

  /** Starts re-subscribing unless already doing so (or closed). */
  private resubscribe(reason: string): void {
    if (this.currentState !== 'subscribed') return;
    this.counters.resubscribes++;
    this.log.info({ frameworkId: this.id, reason }, 're-subscribing');
    this.currentState = 'subscribing';
    this.stopHeartbeats();
    this.reconciler.pause();
    this.subscribeUntilDone(undefined).catch((error) => {
      if (this.currentState !== 'closed') this.fail(fromUnknown(error));
    });
  }

  /** Tries SUBSCRIBE with backoff until it succeeds, the master refuses, the deadline passes or the client closes. */
  private subscribeUntilDone(deadline: number | undefined): Promise<void> {
    this.subscribing ??= this.subscribeLoop(deadline).finally(() => {
      this.subscribing = undefined;
    });
    return this.subscribing;
  }

  private async subscribeLoop(deadline: number | undefined): Promise<void> {
    const { initialBackoffMs, maxBackoffMs } = this.options.subscribeBackoff;
    let lastError: StoaError | undefined;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && !this.leaderAnnounced) {
        const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(attempt - 1, 30));
        let delay = ceiling / 2 + (Math.random() * ceiling) / 2;
        if (deadline !== undefined) delay = Math.min(delay, Math.max(0, deadline - Date.now()));
        await this.backoff(delay);
      }
      this.leaderAnnounced = false;
      if (this.isClosed()) throw new UnavailableError('the scheduler client was closed while subscribing');
      if (deadline !== undefined && Date.now() >= deadline) {
        throw new TimeoutError(`could not subscribe within ${this.options.connectTimeoutMs} ms`, {
          cause: lastError,
          details: { frameworkId: this.id },
        });
      }
      try {
        const timeoutMs = deadline === undefined ? this.options.requestTimeoutMs : Math.max(1, Math.min(this.options.requestTimeoutMs, deadline - Date.now()));
        const reply = await this.sendSubscribe(timeoutMs);
        if (this.isClosed()) throw new UnavailableError('the scheduler client was closed while subscribing');
        if (reply.epoch < this.leaderEpoch) {
          lastError = new NotLeaderError(`master ${reply.masterId} answered with epoch ${reply.epoch}; epoch ${this.leaderEpoch} leads`);
          this.log.warn({ epoch: reply.epoch, leaderEpoch: this.leaderEpoch }, 'subscribed to a stale master; trying again');
          continue;
        }
        this.onSubscribed(reply);
        return;
      } catch (error) {
        const err = fromUnknown(error);
        if (this.isClosed()) throw err;
        if (!err.retryable || this.transport.isClosed) {
          this.log.error({ err: err.message, code: err.code, frameworkId: this.id }, 'the master refused the subscription');
          throw err;
        }
        lastError = err;
        this.log.debug({ err: err.message, code: err.code, attempt }, 'subscribe attempt failed; backing off');
      }
    }
  }

  private async sendSubscribe(timeoutMs: number): Promise<Subscribed> {
    const call: SchedulerCall = {
      v: 1,
      type: 'SUBSCRIBE',
      frameworkInfo: { ...this.info, id: this.id },
      ...(this.suppressed.size > 0 ? { suppressedRoles: [...this.suppressed] } : {}),
    };
    this.sawSubscribed = false;
    const msg = await this.transport.request(this.s.schedulerCalls(this.info.principal), encode(SchedulerCallSchema, call), { timeoutMs });
    const reply = safeDecode(SubscribeReplySchema, msg.data);
    if (!reply.ok) throw reply.error;
    if (!reply.value.ok) throw fromWire(reply.value.error);
    return reply.value.result;
  }

  private onSubscribed(reply: Subscribed): void {
    if (reply.frameworkId !== this.id) {
      // The master chose another id (it ignored ours): follow it to its event subject.
      this.log.warn({ asked: this.id, given: reply.frameworkId }, 'the master assigned another framework id');
      this.eventSub?.unsubscribe();
      this.id = reply.frameworkId;
      this.eventSub = this.subscribeEvents(this.id);
    }
    this.subscribed = reply;
    this.leaderEpoch = Math.max(this.leaderEpoch, reply.epoch);
    this.lastMessageAt = Date.now();
    // Unless SUBSCRIBED (seq 0) already came, expect it: a first event of seq 1 then shows a gap.
    if (!this.sawSubscribed) this.lastSeq = -1;
    this.currentState = 'subscribed';
    this.counters.subscriptions++;
    this.log.info({ frameworkId: this.id, masterId: reply.masterId, epoch: reply.epoch }, 'subscribed');
    this.startHeartbeats(reply.heartbeatIntervalMs);
    for (const waiter of this.readyWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.readyWaiters.clear();
    this.reconciler.start(this.reconcileTargets(), { implicit: true });
  }

  /** Ends the backoff in progress, if any, so the subscription loop goes on at once. */
  private endBackoff(): void {
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const wake = this.wakeBackoff;
    this.wakeBackoff = undefined;
    wake?.();
  }

  private backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeBackoff = resolve;
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = undefined;
        this.wakeBackoff = undefined;
        resolve();
      }, ms);
    });
  }

  private onLeader(msg: TransportMsg): void {
    const r = safeDecode(LeaderElectedSchema, msg.data);
    if (!r.ok) {
      this.counters.invalidEvents++;
      this.log.warn({ err: r.error.message }, 'invalid leader announcement dropped');
      return;
    }
    const { epoch, masterId } = r.value;
    if (epoch <= this.leaderEpoch) return;
    this.leaderEpoch = epoch;
    this.log.info({ epoch, masterId }, 'a new leader was elected');
    if (this.currentState === 'subscribing') {
      // Already re-subscribing (the old leader stopped answering): try the new one now rather
      // than at the end of a backoff that may have grown to seconds while nobody led.
      this.leaderAnnounced = true;
      this.endBackoff();
      return;
    }
    this.resubscribe(`leader ${masterId} elected with epoch ${epoch}`);
  }

  // ---- heartbeats ------------------------------------------------------------------------------

  private startHeartbeats(intervalMs: number): void {
    this.stopHeartbeats();
    if (intervalMs <= 0) return;
    this.heartbeatTimer = setInterval(() => this.heartbeatTick(intervalMs), intervalMs);
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private heartbeatTick(intervalMs: number): void {
    if (this.currentState !== 'subscribed') return;
    const silentMs = Date.now() - this.lastMessageAt;
    if (silentMs > 3 * intervalMs) {
      this.log.warn({ silentMs, heartbeatIntervalMs: intervalMs }, 'the master is silent');
      this.resubscribe(`no event for ${silentMs} ms`);
      return;
    }
    if (this.heartbeatInFlight) return;
    this.heartbeatInFlight = true;
    this.counters.heartbeats++;
    void this.call({ type: 'HEARTBEAT' }, { trusted: true, waitMs: 0 })
        .catch((error: unknown) => {
          // A master that no longer knows the framework (or holds it disconnected) wants a SUBSCRIBE.
          if (NotFoundError.isInstance(error) || InvalidOperationError.isInstance(error)) {
            this.resubscribe(`heartbeat refused: ${(error as Error).message}`);
          } else {
            this.log.debug({ err: errorText(error) }, 'heartbeat failed');
          }
        })
      .finally(() => {
        this.heartbeatInFlight = false;
      });
  }

  // ---- events ----------------------------------------------------------------------------------

  private onEventMessage(msg: TransportMsg): void {
    if (this.currentState === 'closed') return;
    this.counters.messages++;
    this.lastMessageAt = Date.now();
    const r = safeDecode(SchedulerEventSchema, msg.data);
    if (!r.ok) {
      this.counters.invalidEvents++;
      this.log.warn({ subject: msg.subject, err: r.error.message }, 'invalid event dropped');
      return;
    }
    const event = r.value;
    this.trackSeq(event);
    if (event.type === 'UPDATE') {
      for (const status of event.statuses) {
        this.tasks.update(status);
        this.reconciler.observe(status.taskId);
      }
    } else if (event.type === 'OFFERS') {
      for (const offer of event.offers) this.offerAgents.set(offer.id, offer.agentId);
      if (this.offerAgents.size > OFFER_AGENTS_LIMIT) {
        for (const id of this.offerAgents.keys()) {
          this.offerAgents.delete(id);
          if (this.offerAgents.size <= OFFER_AGENTS_LIMIT) break;
        }
      }
    } else if (event.type === 'RESCIND') {
      for (const id of event.offerIds) this.offerAgents.delete(id);
    }
    this.dispatch(event);
  }

  private trackSeq(event: SchedulerEvent): void {
    if (event.type === 'SUBSCRIBED') {
      this.sawSubscribed = true;
      this.lastSeq = event.seq;
      return;
    }
    const last = this.lastSeq;
    this.lastSeq = event.seq;
    if (last === undefined || event.seq === last + 1) return;
    this.counters.seqGaps++;
    this.log.warn({ expected: last + 1, got: event.seq, type: event.type }, 'gap in the event sequence; reconciling');
    this.reconciler.request(this.reconcileTargets());
  }

  private dispatch(event: SchedulerEvent): void {
    if (this.handlerCount === 0 && this.streams.size === 0) {
      this.unheard.push(event);
      // Past the limit the oldest go unheard (and unacknowledged: the agent sends them again).
      if (this.unheard.length > UNHEARD_LIMIT) this.unheard.shift();
      return;
    }
    const isUpdate = event.type === 'UPDATE';
    const waits: Promise<boolean>[] = [];
    let failed = false;
    const handlers = this.handlers.get(event.type);
    if (handlers !== undefined) {
      for (const handler of [...handlers]) {
        try {
          const result = handler(event);
          if (isThenable(result)) {
            const settled = Promise.resolve(result).then(
              () => true,
              (error: unknown) => {
                this.log.error({ err: errorText(error), type: event.type }, 'an event handler rejected');
                return false;
              },
            );
            if (isUpdate) waits.push(settled);
          }
        } catch (error) {
          failed = true;
          this.log.error({ err: errorText(error), type: event.type }, 'an event handler threw');
        }
      }
    }
    const track = isUpdate && this.options.autoAcknowledge;
    for (const stream of [...this.streams]) {
      const handled = stream.push(event, track);
      if (handled !== undefined) waits.push(handled);
    }
    if (!track || event.type !== 'UPDATE') return;
    const acks: Ack[] = [];
    for (const status of event.statuses) {
      const ack = this.ackOf(status);
      if (ack !== undefined) acks.push(ack);
    }
    if (acks.length === 0) return;
    if (failed) return;
    if (waits.length === 0) {
      this.queueAcks(acks);
      return;
    }
    void Promise.all(waits).then((oks) => {
      if (oks.every(Boolean)) this.queueAcks(acks);
      else this.log.warn({ statuses: acks.length }, 'not acknowledging statuses whose handling failed or was abandoned');
    });
  }

  private listenerAdded(): void {
    if (this.unheard.length === 0 || this.replayScheduled) return;
    this.replayScheduled = true;
    // After the caller's synchronous code, so handlers registered together all hear the replay.
    queueMicrotask(() => {
      this.replayScheduled = false;
      if (this.currentState === 'closed') return;
      const events = this.unheard;
      this.unheard = [];
      for (const event of events) this.dispatch(event);
    });
  }

  // ---- acknowledgements ------------------------------------------------------------------------

  private ackOf(status: TaskStatus): Ack | undefined {
    if (status.uuid === undefined) return undefined;
    const agentId = status.agentId ?? this.tasks.agentOf(status.taskId);
    if (agentId === undefined) {
      this.log.warn({ taskId: status.taskId }, 'cannot acknowledge a status without an agent');
      return undefined;
    }
    return { agentId, taskId: status.taskId, uuid: status.uuid };
  }

  private queueAcks(acks: Ack[]): void {
    if (this.currentState === 'closed') return;
    for (const ack of acks) this.acks.push(ack);
    // Everything acknowledged within one turn of the event loop goes in one call.
    this.ackImmediate ??= setImmediate(() => {
      this.ackImmediate = undefined;
      this.flushAcks();
    });
  }

  private flushAcks(): void {
    const acks = this.acks;
    this.acks = [];
    for (let i = 0; i < acks.length; i += MAX_PER_CALL) {
      const chunk = acks.slice(i, i + MAX_PER_CALL);
      this.track(
        this.call({ type: 'ACKNOWLEDGE', acks: chunk }, { trusted: true }).then(
          () => {
            this.counters.acknowledged += chunk.length;
          },
          // The agent keeps an unacknowledged update and sends it again, so nothing is lost.
          (error: unknown) => this.log.warn({ err: errorText(error), acks: chunk.length }, 'acknowledgement failed; the agent will resend'),
        ),
      );
    }
  }

  // ---- reconciliation --------------------------------------------------------------------------

  private *reconcileTargets(): IterableIterator<ReconcileTarget> {
    for (const task of this.tasks.nonTerminal()) yield { taskId: task.taskId, agentId: task.agentId };
  }

  private async sendReconcile(tasks: ReconcileTarget[]): Promise<void> {
    this.counters.reconcileCalls++;
    await this.call({ type: 'RECONCILE', tasks: tasks.map(target) });
  }

  // ---- calls -----------------------------------------------------------------------------------

  /**
   * Sends one call and returns its result. While re-subscribing it first waits for the
   * subscription (within the same time budget). NoResponders and NotLeader start a re-subscription.
   */
  private async call(body: CallBody, options: { trusted?: boolean; waitMs?: number } = {}): Promise<Record<string, unknown>> {
    const started = Date.now();
    const budget = this.options.requestTimeoutMs;
    if (this.currentState !== 'subscribed') await this.ready(options.waitMs ?? budget);
    const message = { v: 1, frameworkId: this.id, ...body } as SchedulerCall;
    const bytes = options.trusted ? encodeTrusted(message) : encode(SchedulerCallSchema, message);
    const timeoutMs = Math.max(1, budget - (Date.now() - started));
    let msg: TransportMsg;
    try {
      msg = await this.transport.request(this.s.schedulerCalls(this.info.principal), bytes, { timeoutMs });
    } catch (error) {
      const err = fromUnknown(error);
      if (NoRespondersError.isInstance(err)) this.resubscribe(`no master answers ${body.type}`);
      throw err;
    }
    const reply = safeDecode(SchedulerCallReplySchema, msg.data);
    if (!reply.ok) {
      uncertain.add(reply.error);
      throw reply.error;
    }
    if (!reply.value.ok) {
      const err = fromWire(reply.value.error);
      if (NotLeaderError.isInstance(err)) this.resubscribe(`${body.type} reached a master that does not lead`);
      throw err;
    }
    return reply.value.result;
  }

  /** Waits until subscribed, or throws `UnavailableError` when closed or after `waitMs`. */
  private ready(waitMs: number): Promise<void> {
    if (this.currentState === 'subscribed') return Promise.resolve();
    if (this.currentState === 'closed') return Promise.reject(this.unavailable());
    if (waitMs <= 0) return Promise.reject(new UnavailableError('the scheduler client is re-subscribing', { details: { frameworkId: this.id } }));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.readyWaiters.delete(waiter);
          reject(new UnavailableError(`not subscribed within ${waitMs} ms`, { details: { frameworkId: this.id } }));
        }, waitMs),
      };
      this.readyWaiters.add(waiter);
    });
  }

  /** A method, so TypeScript does not narrow the state across awaits. */
  private isClosed(): boolean {
    return this.currentState === 'closed';
  }

  private unavailable(): UnavailableError {
    return new UnavailableError('the scheduler client is closed', { cause: this.closeError, details: { frameworkId: this.id } });
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  // ---- closing ---------------------------------------------------------------------------------

  private fail(error: StoaError): void {
    if (this.currentState === 'closed') return;
    this.closeError = error;
    this.log.error({ err: error.message, code: error.code }, 'the scheduler client stops');
    void this.close();
  }

  private async shutdownNow(): Promise<void> {
    const wasSubscribed = this.currentState === 'subscribed';
    // Acknowledgements already due go out first: they are cheap and save agents a resend.
    if (wasSubscribed && this.ackImmediate !== undefined) {
      clearImmediate(this.ackImmediate);
      this.ackImmediate = undefined;
      this.flushAcks();
    }
    // The master hears at once that this subscription ended (not after missed heartbeats), so
    // the offers it holds go to other frameworks now. Best effort: heartbeats cover a lost one.
    const streamId = wasSubscribed ? this.subscribed?.streamId : undefined;
    if (streamId !== undefined && !this.transport.isClosed) {
      try {
        this.transport.publish(this.s.schedulerCalls(this.info.principal), encode(SchedulerCallSchema, { v: 1, frameworkId: this.id, type: 'DISCONNECT', streamId }));
      } catch (error) {
        this.log.debug({ err: fromUnknown(error).message }, 'DISCONNECT not sent');
      }
    }
    this.currentState = 'closed';
    this.stopHeartbeats();
    this.reconciler.stop();
    if (this.ackImmediate !== undefined) clearImmediate(this.ackImmediate);
    this.ackImmediate = undefined;
    this.acks = [];
    this.endBackoff();
    for (const waiter of this.readyWaiters) {
      clearTimeout(waiter.timer);
      waiter.reject(this.unavailable());
    }
    this.readyWaiters.clear();
    this.stopStatus?.();
    this.eventSub?.unsubscribe();
    this.leaderSub?.unsubscribe();
    for (const stream of [...this.streams]) stream.finish(this.closeError);
    this.unheard = [];
    // Acknowledgements in flight are waited for; a subscription attempt in flight ends by itself.
    await Promise.allSettled([...this.inFlight]);
    if (this.ownsTransport && !this.transport.isClosed) {
      await this.transport.drain().catch(() => this.transport.close());
    }
    this.resolveClosed(this.closeError);
  }
}

/** Errors after which it is unknown whether the master acted on the call. */
const uncertain = new WeakSet<object>();

function list(value: string | readonly string[]): string[] {
  return typeof value === 'string' ? [value] : [...value];
}

function target(t: ReconcileTarget): { taskId: string; agentId?: string } {
  return t.agentId === undefined ? { taskId: t.taskId } : { taskId: t.taskId, agentId: t.agentId };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
