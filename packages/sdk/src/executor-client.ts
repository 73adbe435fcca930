/**
 * The executor client: what a custom executor uses to talk to the agent that started it. It
 * subscribes (finding the agent, the framework and its subjects in the environment the agent gave
 * it), hands out the agent's events (LAUNCH, LAUNCH_GROUP, KILL, ACKNOWLEDGED, MESSAGE, SHUTDOWN,
 * ERROR) as an async iterable or to callbacks, and sends task statuses reliably: each keeps its
 * uuid until the framework's acknowledgement comes back as ACKNOWLEDGED, and when the agent is
 * away (restarting, say) the client subscribes again, with backoff, carrying every task and
 * update not yet acknowledged, so nothing is lost.
 *
 * @example
 * ```ts
 * import { ExecutorClient } from '@stoa/sdk';
 *
 * await using executor = await ExecutorClient.connect();        // STOA_* from the agent
 * executor.on('LAUNCH', async (event) => {
 *   for (const task of event.tasks) {
 *     await executor.update({ taskId: task.taskId, state: 'TASK_RUNNING' });
 *     await executor.update({ taskId: task.taskId, state: 'TASK_FINISHED' });
 *   }
 * });
 * for await (const event of executor.events()) if (event.type === 'SHUTDOWN') break;
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import {
  encode,
  encodeTrusted,
  type ExecutorCall,
  ExecutorCallReplySchema,
  ExecutorCallSchema,
  type ExecutorEvent,
  ExecutorEventSchema,
  type ExecutorSubscribed,
  ExecutorSubscribeReplySchema,
  fromUnknown,
  fromWire,
  isTerminalState,
  type StoaError,
  subjects,
  type TaskInfo,
  type TaskStatus,
  TaskStatusSchema,
  TimeoutError,
  type Transport,
  type TransportMsg,
  type TransportSubscription,
  UnavailableError,
  ValidationError,
  safeDecode,
  validate,
} from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import type { SchedulerClientLogger } from './scheduler-client.js';

/** The life of an {@link ExecutorClient}: subscribing (also while re-subscribing), subscribed, closed. */
export type ExecutorClientState = 'subscribing' | 'subscribed' | 'closed';

/** What the client logs through: pino's `Logger` fits, as does anything with these four methods. */
export type ExecutorClientLogger = SchedulerClientLogger;

/** The event of one type. */
export type ExecutorEventOf<T extends ExecutorEvent['type']> = Extract<ExecutorEvent, { type: T }>;

/** A callback for events of one type; a promise it returns is not awaited. */
export type ExecutorEventHandler<T extends ExecutorEvent['type']> = (event: ExecutorEventOf<T>) => unknown;

/** A status as an executor gives it to {@link ExecutorClient.update}: the client fills in the rest. */
export type ExecutorStatusInput = Omit<TaskStatus, 'source' | 'timestampMs' | 'uuid' | 'executorId' | 'agentId'> & {
  /** @default now */
  timestampMs?: number;
};

/**
 * Options of {@link ExecutorClient.connect}. Every field is optional: an executor the agent
 * started finds what it needs in its environment (`STOA_*`).
 */
export interface ExecutorClientOptions {
  /**
   * NATS server URL(s); the client opens its own connection and closes it in `close()`.
   * @default env STOA_NATS_URL, else 'nats://127.0.0.1:4222' (when no `transport` is given)
   */
  servers?: string | string[];
  /** An open transport to use instead; `close()` leaves it open. */
  transport?: Transport;
  /** The agent that runs this executor. @default env STOA_AGENT_ID */
  agentId?: string;
  /** The framework this executor belongs to. @default env STOA_FRAMEWORK_ID */
  frameworkId?: string;
  /** This executor's id. @default env STOA_EXECUTOR_ID */
  executorId?: string;
  /** The cluster's subject prefix. @default env STOA_SUBJECT_PREFIX, else 'stoa' */
  subjectPrefix?: string;
  /** Where the agent's events arrive. @default env STOA_EXECUTOR_SUBJECT, else `<prefix>.executor.<agentId>.<executorId>` */
  eventSubject?: string;
  /** Where calls go. @default env STOA_EXECUTOR_CALLS_SUBJECT, else `<prefix>.executor.<agentId>.<executorId>.calls` */
  callsSubject?: string;
  /** Where the `STOA_*` defaults are read from. @default process.env */
  env?: Record<string, string | undefined>;
  /** How long one call may take. @default 5000 */
  requestTimeoutMs?: number;
  /** Backoff between subscription attempts while the agent does not answer (capped exponential with jitter). @default { initialBackoffMs: 100, maxBackoffMs: 5000 } */
  subscribeBackoff?: { initialBackoffMs?: number; maxBackoffMs?: number };
  /** Give up the first subscription after this long with a `TimeoutError`. @default keep trying */
  connectTimeoutMs?: number;
  /** Where the client logs. @default nothing is logged */
  logger?: ExecutorClientLogger;
}

interface Resolved {
  agentId: string;
  frameworkId: string;
  executorId: string;
  eventSubject: string;
  callsSubject: string;
  requestTimeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  connectTimeoutMs: number | undefined;
}

/** An update not yet acknowledged; `delivered` once the agent has checkpointed it. */
interface Unacked {
  status: TaskStatus;
  delivered: boolean;
}

/** An update waiting to be sent, and whom to tell when it was. */
interface Outgoing {
  entry: Unacked;
  resolve: (status: TaskStatus) => void;
  reject: (error: unknown) => void;
}

/** At most this many statuses go in one UPDATE call. */
const MAX_STATUSES_PER_CALL = 256;
/** An UPDATE call is closed at about this many bytes of statuses (NATS's default payload limit is 1 MiB). */
const MAX_CALL_BYTES = 256 * 1024;

/** Events that arrive while nobody listens are kept for the first listener, up to this many. */
const UNHEARD_LIMIT = 10_000;

const noopLogger: ExecutorClientLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** One `events()` consumer. */
class EventQueue implements AsyncIterableIterator<ExecutorEvent> {
  private readonly queue: ExecutorEvent[] = [];
  private waiter: { resolve: (r: IteratorResult<ExecutorEvent>) => void; reject: (e: unknown) => void } | undefined;
  private ended = false;
  private error: unknown;
  private readonly onAbort = () => this.finish(undefined);

  constructor(
    private readonly detach: (q: EventQueue) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  push(event: ExecutorEvent): void {
    if (this.ended) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve({ value: event, done: false });
    } else {
      this.queue.push(event);
    }
  }

  next(): Promise<IteratorResult<ExecutorEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.ended) return this.error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<ExecutorEvent>> {
    this.queue.length = 0;
    this.finish(undefined);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the stream: what is queued is still handed out (unless aborted), then done or `error`. */
  finish(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.detach(this);
    if (this.signal?.aborted) this.queue.length = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter === undefined) return;
    if (error === undefined) waiter.resolve({ value: undefined, done: true });
    else waiter.reject(error);
  }
}

/**
 * A custom executor's connection to its agent. Make one with {@link ExecutorClient.connect}; it
 * stays subscribed (subscribing again by itself when the agent was away) until
 * {@link ExecutorClient.close}.
 */
export class ExecutorClient implements AsyncDisposable {
  /**
   * Resolves when the client has closed: with `undefined` after {@link close}, or with the error
   * that ended it (the agent refused the subscription: it does not know this executor, or it is
   * shutting it down).
   */
  readonly closed: Promise<StoaError | undefined>;

  private currentState: ExecutorClientState = 'subscribing';
  private subscribed: ExecutorSubscribed | undefined;
  private readonly log: ExecutorClientLogger;
  private eventSub: TransportSubscription | undefined;
  private stopStatus: (() => void) | undefined;
  private subscribing: Promise<void> | undefined;
  private backoffTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeBackoff: (() => void) | undefined;
  private readonly readyWaiters = new Set<{ resolve: () => void; reject: (e: unknown) => void }>();

  private readonly handlers = new Map<ExecutorEvent['type'], Set<ExecutorEventHandler<ExecutorEvent['type']>>>();
  private handlerCount = 0;
  private readonly queues = new Set<EventQueue>();
  private unheard: ExecutorEvent[] = [];
  private replayScheduled = false;

  /** Tasks given to this executor whose end was not yet acknowledged, by id. */
  private readonly launched = new Map<string, TaskInfo>();
  /** Tasks with at least one acknowledged update. */
  private readonly acknowledgedTasks = new Set<string>();
  private readonly unacked = new Map<string, Unacked>();
  /** Updates given and not yet sent, oldest first. */
  private outbox: Outgoing[] = [];
  /** An UPDATE is on its way (or about to be): what is given meanwhile waits for it. */
  private sending = false;

  private closing: Promise<void> | undefined;
  private closeError: StoaError | undefined;
  private resolveClosed!: (error: StoaError | undefined) => void;

  private constructor(
    private readonly transport: Transport,
    private readonly ownsTransport: boolean,
    private readonly options: Resolved,
    logger: ExecutorClientLogger | undefined,
  ) {
    this.log = logger ?? noopLogger;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /**
   * Connects and subscribes; resolves once the agent has accepted the subscription. Retries while
   * the agent does not answer, with backoff, until `connectTimeoutMs` if set; rejects at once with
   * the agent's typed error when it refuses (a `NotFoundError` for an executor it does not run).
   */
  static async connect(options: ExecutorClientOptions = {}): Promise<ExecutorClient> {
    const resolved = resolveOptions(options);
    const env = options.env ?? process.env;
    const transport =
      options.transport ??
      (await NatsTransport.connect({
        servers: options.servers ?? env.STOA_NATS_URL ?? 'nats://127.0.0.1:4222',
        name: `stoa-executor-${resolved.executorId}`,
      }));
    const client = new ExecutorClient(transport, options.transport === undefined, resolved, options.logger);
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

  /** `subscribing` (also while re-subscribing), `subscribed`, or `closed`. */
  get state(): ExecutorClientState {
    return this.currentState;
  }

  /** This executor's id. */
  get executorId(): string {
    return this.options.executorId;
  }

  /** The framework's id. */
  get frameworkId(): string {
    return this.options.frameworkId;
  }

  /** The agent's id. */
  get agentId(): string {
    return this.options.agentId;
  }

  /** What the agent answered to the latest subscription: its id, this executor's info, the framework's. */
  get subscription(): ExecutorSubscribed | undefined {
    return this.subscribed;
  }

  /** Tasks given to this executor (LAUNCH, LAUNCH_GROUP) whose end has not yet been acknowledged. */
  get tasks(): ReadonlyMap<string, TaskInfo> {
    return this.launched;
  }

  /** Updates sent and not yet acknowledged by the framework, oldest first. */
  get unacknowledgedUpdates(): TaskStatus[] {
    return [...this.unacked.values()].map((u) => u.status);
  }

  /**
   * The events, in order, as an async iterable; every call makes an independent consumer that
   * sees events from now on (plus, for the first listener of all, those that arrived while nobody
   * listened, such as the first LAUNCH). It ends when the client closes or `signal` aborts.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<ExecutorEvent> {
    const queue = new EventQueue((q) => this.queues.delete(q), options.signal);
    if (this.currentState === 'closed' || options.signal?.aborted) {
      queue.finish(this.closeError);
      return queue;
    }
    this.queues.add(queue);
    this.listenerAdded();
    return queue;
  }

  /** Calls `handler` for every event of `type`, in order. Returns a function that removes it. */
  on<T extends ExecutorEvent['type']>(type: T, handler: ExecutorEventHandler<T>): () => void {
    let set = this.handlers.get(type);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(type, set);
    }
    const h = handler as unknown as ExecutorEventHandler<ExecutorEvent['type']>;
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
   * Sends a task's status. The client fills in `source` (SOURCE_EXECUTOR), `executorId`,
   * `timestampMs` (now, unless given) and a fresh `uuid`, and keeps the status until the
   * framework acknowledges it. Resolves with the status sent once the agent has checkpointed it —
   * after the agent comes back, when it is away. Rejects when the agent refuses it (a task it does
   * not know) or the client closes first.
   *
   * Updates given in the same turn of the event loop (and those given while an UPDATE is on its
   * way) travel together, as one UPDATE call of several statuses, in the order they were given;
   * one UPDATE is in flight at a time, so a task's updates reach the agent in order, retries
   * included. When the agent refuses a call of several, each status is sent again on its own, so
   * that only the one it refuses is rejected.
   */
  update(input: ExecutorStatusInput): Promise<TaskStatus> {
    if (this.currentState === 'closed') return Promise.reject(this.unavailable());
    const status: TaskStatus = {
      ...input,
      source: 'SOURCE_EXECUTOR',
      executorId: this.options.executorId,
      timestampMs: input.timestampMs ?? Date.now(),
      uuid: randomUUID(),
    };
    try {
      validate(TaskStatusSchema, status, 'task status');
    } catch (error) {
      return Promise.reject(error);
    }
    const entry: Unacked = { status, delivered: false };
    this.unacked.set(status.uuid!, entry);
    return new Promise<TaskStatus>((resolve, reject) => {
      this.outbox.push({ entry, resolve, reject });
      this.scheduleSend();
    });
  }

  /** Sends opaque data to the framework's scheduler (a MESSAGE event there). Not retried: messages are best effort. */
  async message(data: Uint8Array): Promise<void> {
    if (this.currentState !== 'subscribed') await this.ready();
    const call: ExecutorCall = { v: 1, type: 'MESSAGE', executorId: this.options.executorId, frameworkId: this.options.frameworkId, data };
    try {
      await this.call(encode(ExecutorCallSchema, call));
    } catch (error) {
      const err = fromUnknown(error);
      if (err.code === 'NO_RESPONDERS' || err.code === 'TIMEOUT') this.resubscribe(`a message found no agent: ${err.message}`);
      throw err;
    }
  }

  /**
   * Closes: stops re-subscribing, unsubscribes, ends `events()` iterators and closes the
   * transport it opened. Updates not yet acknowledged are dropped; call it once they matter no
   * more (after SHUTDOWN, say).
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

  /** Subscribes to events before SUBSCRIBE, so that a LAUNCH right after the reply is not missed. */
  private listen(): void {
    this.eventSub = this.transport.subscribe(this.options.eventSubject, {
      callback: (msg) => this.onEventMessage(msg),
      onError: (error) => this.log.error({ err: errorText(error) }, 'event handling failed'),
    });
    this.stopStatus = this.transport.onStatus((status) => {
      if (status.type === 'reconnect') this.resubscribe('the transport reconnected');
      if (status.type === 'close' && this.currentState !== 'closed') this.fail(new UnavailableError('the transport closed under the executor client'));
    });
  }

  private resubscribe(reason: string): void {
    if (this.currentState !== 'subscribed') return;
    this.log.info({ executorId: this.options.executorId, reason }, 're-subscribing');
    this.currentState = 'subscribing';
    this.subscribeUntilDone(undefined).catch((error: unknown) => {
      if (this.currentState !== 'closed') this.fail(fromUnknown(error));
    });
  }

  private subscribeUntilDone(deadline: number | undefined): Promise<void> {
    this.subscribing ??= this.subscribeLoop(deadline).finally(() => {
      this.subscribing = undefined;
    });
    return this.subscribing;
  }

  private async subscribeLoop(deadline: number | undefined): Promise<void> {
    const { initialBackoffMs, maxBackoffMs, requestTimeoutMs } = this.options;
    let lastError: StoaError | undefined;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(attempt - 1, 30));
        let delay = ceiling / 2 + (Math.random() * ceiling) / 2;
        if (deadline !== undefined) delay = Math.min(delay, Math.max(0, deadline - Date.now()));
        await this.backoff(delay);
      }
      if (this.isClosed()) throw new UnavailableError('the executor client was closed while subscribing');
      if (deadline !== undefined && Date.now() >= deadline) {
        throw new TimeoutError(`could not subscribe within ${this.options.connectTimeoutMs} ms`, {
          cause: lastError,
          details: { executorId: this.options.executorId, agentId: this.options.agentId },
        });
      }
      // What the agent must know of: everything not yet acknowledged, as of this attempt.
      const carried = [...this.unacked.values()];
      const call: ExecutorCall = {
        v: 1,
        type: 'SUBSCRIBE',
        executorId: this.options.executorId,
        frameworkId: this.options.frameworkId,
        unacknowledgedTasks: [...this.launched.values()].filter((t) => !this.acknowledgedTasks.has(t.taskId)),
        unacknowledgedUpdates: carried.map((u) => u.status),
      };
      try {
        const timeoutMs = deadline === undefined ? requestTimeoutMs : Math.max(1, Math.min(requestTimeoutMs, deadline - Date.now()));
        const result = await this.sendSubscribe(encode(ExecutorCallSchema, call), timeoutMs);
        if (this.isClosed()) throw new UnavailableError('the executor client was closed while subscribing');
        for (const u of carried) u.delivered = true;
        this.onSubscribed(result);
        return;
      } catch (error) {
        const err = fromUnknown(error);
        if (this.isClosed()) throw err;
        if (!err.retryable || this.transport.isClosed) {
          this.log.error({ err: err.message, code: err.code, executorId: this.options.executorId }, 'the agent refused the subscription');
          throw err;
        }
        lastError = err;
        this.log.debug({ err: err.message, code: err.code, attempt }, 'subscribe attempt failed; backing off');
      }
    }
  }

  private onSubscribed(result: ExecutorSubscribed): void {
    this.subscribed = result;
    this.currentState = 'subscribed';
    this.log.info({ executorId: this.options.executorId, agentId: result.agentId }, 'subscribed');
    for (const waiter of this.readyWaiters) waiter.resolve();
    this.readyWaiters.clear();
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

  /** Waits until subscribed; rejects when the client closes first. */
  private ready(): Promise<void> {
    if (this.currentState === 'subscribed') return Promise.resolve();
    if (this.currentState === 'closed') return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => this.readyWaiters.add({ resolve, reject }));
  }

  // ---- updates ---------------------------------------------------------------------------------

  /** Starts the sender after this turn of the event loop, so the updates given in it go together. */
  private scheduleSend(): void {
    if (this.sending) return;
    this.sending = true;
    setImmediate(() => {
      void this.sendLoop();
    });
  }

  /** Sends what the outbox holds, one UPDATE at a time, until it is empty. */
  private async sendLoop(): Promise<void> {
    try {
      while (this.outbox.length > 0) await this.sendBatch(this.takeBatch());
    } catch (error) {
      // sendBatch settles every update it takes; this is a bug's last line of defence.
      this.log.error({ err: errorText(error) }, 'the update sender failed');
    } finally {
      this.sending = false;
      if (this.outbox.length > 0) this.scheduleSend();
    }
  }

  /** The oldest updates of the outbox, as many as one call takes (at least one). */
  private takeBatch(): Outgoing[] {
    let bytes = 0;
    let n = 0;
    while (n < this.outbox.length && n < MAX_STATUSES_PER_CALL) {
      const status = this.outbox[n]!.entry.status;
      const size = 256 + (status.data?.byteLength ?? 0) + (status.message?.length ?? 0);
      if (n > 0 && bytes + size > MAX_CALL_BYTES) break;
      bytes += size;
      n++;
    }
    return this.outbox.splice(0, n);
  }

  /**
   * Sends updates as one UPDATE call, retrying (through a new subscription) while the agent is
   * away; settles each of them.
   */
  private async sendBatch(batch: Outgoing[]): Promise<void> {
    for (;;) {
      if (this.currentState !== 'subscribed') {
        try {
          await this.ready();
        } catch (error) {
          for (const o of batch) o.reject(error);
          return;
        }
      }
      // Those a subscription made meanwhile carried are delivered already.
      const todo: Outgoing[] = [];
      for (const o of batch) {
        if (o.entry.delivered || !this.unacked.has(o.entry.status.uuid!)) o.resolve(o.entry.status);
        else todo.push(o);
      }
      batch = todo;
      if (batch.length === 0) return;
      const call: ExecutorCall = {
        v: 1,
        type: 'UPDATE',
        executorId: this.options.executorId,
        frameworkId: this.options.frameworkId,
        statuses: batch.map((o) => o.entry.status),
      };
      try {
        await this.call(encodeTrusted(call));
        for (const o of batch) {
          o.entry.delivered = true;
          o.resolve(o.entry.status);
        }
        return;
      } catch (error) {
        const err = fromUnknown(error);
        if (!this.isClosed() && !err.retryable && batch.length > 1) {
          // The agent refuses a call when it refuses any of its statuses: each on its own, in order.
          for (const o of batch) await this.sendBatch([o]);
          return;
        }
        if (!err.retryable || this.isClosed()) {
          for (const o of batch) {
            this.unacked.delete(o.entry.status.uuid!);
            o.reject(err);
          }
          return;
        }
        this.resubscribe(`an update found no agent: ${err.message}`);
      }
    }
  }

  /** UPDATE or MESSAGE; throws the agent's typed error when it refuses. */
  private async call(bytes: Uint8Array): Promise<void> {
    const msg = await this.transport.request(this.options.callsSubject, bytes, { timeoutMs: this.options.requestTimeoutMs });
    const reply = safeDecode(ExecutorCallReplySchema, msg.data);
    if (!reply.ok) throw reply.error;
    if (!reply.value.ok) throw fromWire(reply.value.error);
  }

  private async sendSubscribe(bytes: Uint8Array, timeoutMs: number): Promise<ExecutorSubscribed> {
    const msg = await this.transport.request(this.options.callsSubject, bytes, { timeoutMs });
    const reply = safeDecode(ExecutorSubscribeReplySchema, msg.data);
    if (!reply.ok) throw reply.error;
    if (!reply.value.ok) throw fromWire(reply.value.error);
    return reply.value.result;
  }

  // ---- events ----------------------------------------------------------------------------------

  private onEventMessage(msg: TransportMsg): void {
    if (this.currentState === 'closed') return;
    const r = safeDecode(ExecutorEventSchema, msg.data);
    if (!r.ok) {
      this.log.warn({ subject: msg.subject, err: r.error.message }, 'invalid event dropped');
      return;
    }
    const event = r.value;
    switch (event.type) {
      case 'LAUNCH':
      case 'LAUNCH_GROUP':
        for (const task of event.tasks) this.launched.set(task.taskId, task);
        break;
      case 'ACKNOWLEDGED': {
        const entry = this.unacked.get(event.uuid);
        this.unacked.delete(event.uuid);
        this.acknowledgedTasks.add(event.taskId);
        if (entry !== undefined && isTerminalState(entry.status.state)) {
          this.launched.delete(event.taskId);
          this.acknowledgedTasks.delete(event.taskId);
        }
        break;
      }
      default:
        break;
    }
    this.dispatch(event);
  }

  private dispatch(event: ExecutorEvent): void {
    if (this.handlerCount === 0 && this.queues.size === 0) {
      this.unheard.push(event);
      if (this.unheard.length > UNHEARD_LIMIT) this.unheard.shift();
      return;
    }
    for (const handler of [...(this.handlers.get(event.type) ?? [])]) {
      try {
        const result = handler(event);
        if (isThenable(result)) {
          Promise.resolve(result).catch((error: unknown) => this.log.error({ err: errorText(error), type: event.type }, 'an event handler rejected'));
        }
      } catch (error) {
        this.log.error({ err: errorText(error), type: event.type }, 'an event handler threw');
      }
    }
    for (const queue of [...this.queues]) queue.push(event);
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

  // ---- closing ---------------------------------------------------------------------------------

  private isClosed(): boolean {
    return this.currentState === 'closed';
  }

  private unavailable(): UnavailableError {
    return new UnavailableError('the executor client is closed', { cause: this.closeError, details: { executorId: this.options.executorId } });
  }

  private fail(error: StoaError): void {
    if (this.currentState === 'closed') return;
    this.closeError = error;
    this.log.error({ err: error.message, code: error.code }, 'the executor client stops');
    void this.close();
  }

  private async shutdownNow(): Promise<void> {
    this.currentState = 'closed';
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.wakeBackoff?.();
    this.wakeBackoff = undefined;
    for (const waiter of this.readyWaiters) waiter.reject(this.unavailable());
    this.readyWaiters.clear();
    this.stopStatus?.();
    this.eventSub?.unsubscribe();
    for (const queue of [...this.queues]) queue.finish(this.closeError);
    this.unheard = [];
    await this.subscribing?.catch(() => {});
    if (this.ownsTransport && !this.transport.isClosed) {
      await this.transport.drain().catch(() => this.transport.close());
    }
    this.resolveClosed(this.closeError);
  }
}

/** Options, then the environment, then defaults; throws a `ValidationError` naming what is missing. */
function resolveOptions(options: ExecutorClientOptions): Resolved {
  const env = options.env ?? process.env;
  const need = (value: string | undefined, field: string, variable: string): string => {
    if (value === undefined || value === '') {
      throw new ValidationError(`ExecutorClient needs ${field}: pass it, or run under an agent that sets ${variable}`, { details: { field } });
    }
    return value;
  };
  const agentId = need(options.agentId ?? env.STOA_AGENT_ID, 'agentId', 'STOA_AGENT_ID');
  const frameworkId = need(options.frameworkId ?? env.STOA_FRAMEWORK_ID, 'frameworkId', 'STOA_FRAMEWORK_ID');
  const executorId = need(options.executorId ?? env.STOA_EXECUTOR_ID, 'executorId', 'STOA_EXECUTOR_ID');
  const s = subjects(options.subjectPrefix ?? env.STOA_SUBJECT_PREFIX ?? 'stoa');
  const eventSubject = options.eventSubject ?? env.STOA_EXECUTOR_SUBJECT ?? s.executor(agentId, executorId);
  const callsSubject = options.callsSubject ?? env.STOA_EXECUTOR_CALLS_SUBJECT ?? s.executorCalls(agentId, executorId);
  const positive = (value: number | undefined, fallback: number, field: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value <= 0) throw new ValidationError(`${field} must be a positive number`, { details: { field } });
    return value;
  };
  const initialBackoffMs = positive(options.subscribeBackoff?.initialBackoffMs, 100, 'subscribeBackoff.initialBackoffMs');
  return {
    agentId,
    frameworkId,
    executorId,
    eventSubject,
    callsSubject,
    requestTimeoutMs: positive(options.requestTimeoutMs, 5000, 'requestTimeoutMs'),
    initialBackoffMs,
    maxBackoffMs: Math.max(initialBackoffMs, positive(options.subscribeBackoff?.maxBackoffMs, 5000, 'subscribeBackoff.maxBackoffMs')),
    connectTimeoutMs: options.connectTimeoutMs === undefined ? undefined : positive(options.connectTimeoutMs, 0, 'connectTimeoutMs'),
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
