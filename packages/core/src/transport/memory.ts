/**
 * An in-process {@link Transport} with the semantics of NATS, for the single-process dev cluster
 * and for fast unit tests.
 *
 * Transports that share a {@link MemoryBus} hear each other as if they were connected to one
 * server: delivery is asynchronous (never inside `publish`), ordered per publisher and subject,
 * with `*`/`>` wildcards, queue groups, request/reply through `_INBOX.` subjects, `max`, drain and
 * close. Deliveries are batched: a publish appends to the bus's queue and one scheduled flush per
 * event-loop turn hands the whole batch out.
 *
 * Payloads are not copied: every subscriber sees the very `Uint8Array` that was published, so a
 * publisher must not change a buffer after publishing it (NATS copies into its socket buffer;
 * this transport does not).
 *
 * @example
 * ```ts
 * const bus = new MemoryBus();
 * const master = MemoryTransport.create({ bus });
 * const agent = MemoryTransport.create({ bus });
 * master.subscribe('stoa.master.agent.*', { callback: (m) => m.respond(ack) });
 * const reply = await agent.request('stoa.master.agent.alice', bytes, { timeoutMs: 2000 });
 * ```
 * @module
 */

import { NoRespondersError, TimeoutError, UnavailableError, ValidationError } from '../errors.js';
import { subjectMatches } from '../subjects.js';
import type {
  RequestOptions,
  SubscribeOptions,
  Transport,
  TransportMsg,
  TransportStatus,
  TransportSubscription,
} from './transport.js';

const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** Routes computed for this many distinct subjects are kept; past it the cache starts over. */
const ROUTE_CACHE_LIMIT = 8192;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });
const DONE_PROMISE: Promise<IteratorReturnResult<undefined>> = Promise.resolve(DONE);

/** Options of {@link MemoryTransport.create}. */
export interface MemoryTransportOptions {
  /** The bus to join; transports on one bus hear each other. @default a bus of its own */
  bus?: MemoryBus;
}

/** A message as one subscriber receives it; answering goes through that subscriber's transport. */
class MemoryMsg implements TransportMsg {
  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    readonly reply: string | undefined,
    private readonly via: MemoryTransport,
  ) {}

  respond(data: Uint8Array): boolean {
    if (this.reply === undefined || this.via.isClosed) return false;
    this.via.publish(this.reply, data);
    return true;
  }
}

/** The members of one queue group among a subject's subscribers, taken in turn. */
interface QueueGroup {
  readonly members: MemorySub[];
  next: number;
}

/** Who gets a message published on one subject: every plain subscriber, one member per group. */
interface Route {
  readonly plain: MemorySub[];
  readonly groups: QueueGroup[];
}

const ACTIVE = 0;
const DRAINING = 1;
const ENDED = 2;

/** One subscription on a bus; its transport keeps it in `live` until it ends. */
class MemorySub implements TransportSubscription {
  readonly queue: string | undefined;
  /** Whether the subject has wildcards, so the bus must match it by scanning. */
  readonly isPattern: boolean;
  readonly closed: Promise<void>;
  private readonly callback: ((msg: TransportMsg) => void) | undefined;
  private readonly onError: ((error: unknown, msg: TransportMsg) => void) | undefined;
  private readonly max: number;
  private received = 0;
  private state: typeof ACTIVE | typeof DRAINING | typeof ENDED = ACTIVE;
  // The iterator's buffer is read from `head` on, so taking a message does not shift the array.
  private buffer: TransportMsg[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<TransportMsg>) => void) | undefined;
  private resolveClosed!: () => void;

  constructor(
    readonly subject: string,
    options: SubscribeOptions,
    readonly via: MemoryTransport,
    private readonly router: Router,
    private readonly live: Set<MemorySub>,
  ) {
    this.queue = options.queue || undefined;
    this.callback = options.callback;
    this.onError = options.onError;
    // As in nats.js, a max of 0 (or less) means no limit.
    this.max = options.max !== undefined && options.max > 0 ? options.max : Number.POSITIVE_INFINITY;
    this.isPattern = hasWildcard(subject);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get isClosed(): boolean {
    return this.state === ENDED;
  }

  /** Called by the bus's flush for each message routed here. */
  deliver(msg: MemoryMsg): void {
    if (this.state === ENDED) return;
    this.received++;
    const callback = this.callback;
    if (callback !== undefined) {
      try {
        callback(msg);
      } catch (error) {
        this.report(error, msg);
      }
    } else if (this.waiter !== undefined) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ value: msg, done: false });
    } else {
      this.buffer.push(msg);
    }
    if (this.received >= this.max) this.end(true);
  }

  /** Called by the bus's flush when the drain marker queued behind this sub's messages is reached. */
  drained(): void {
    this.end(true);
  }

  unsubscribe(): void {
    this.end(false);
  }

  drain(): Promise<void> {
    if (this.state === ACTIVE) {
      this.state = DRAINING;
      this.router.remove(this);
      this.router.enqueueDrainMarker(this);
    }
    return this.closed;
  }

  [Symbol.asyncIterator](): AsyncIterator<TransportMsg> {
    if (this.callback !== undefined) return { next: () => DONE_PROMISE };
    return {
      next: () => this.next(),
      return: () => {
        this.unsubscribe();
        return DONE_PROMISE;
      },
    };
  }

  private next(): Promise<IteratorResult<TransportMsg>> {
    const buffer = this.buffer;
    if (this.head < buffer.length) {
      const msg = buffer[this.head++]!;
      if (this.head === buffer.length) {
        buffer.length = 0;
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= buffer.length) {
        this.buffer = buffer.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ value: msg, done: false });
    }
    if (this.state === ENDED) return DONE_PROMISE;
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Ends the subscription; an iterator still yields what it buffered when `keepBuffered`. */
  private end(keepBuffered: boolean): void {
    if (this.state === ENDED) return;
    if (this.state === ACTIVE) this.router.remove(this);
    this.state = ENDED;
    this.live.delete(this);
    if (!keepBuffered) {
      this.buffer = [];
      this.head = 0;
    }
    // A waiter only exists while the buffer is empty.
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(DONE);
    this.resolveClosed();
  }

  private report(error: unknown, msg: TransportMsg): void {
    if (this.onError === undefined) return;
    try {
      this.onError(error, msg);
    } catch {
      // An error handler that throws must not stop the bus's flush either.
    }
  }
}

const WHITE_SPACE = /\s/;

/** Throws a `ValidationError` for a subject NATS would not accept in a SUB. */
function assertSubscribable(subject: string): void {
  const tokens = subject.split('.');
  const bad =
    WHITE_SPACE.test(subject) || tokens.some((t, i) => t.length === 0 || (t === '>' && i !== tokens.length - 1));
  if (bad) {
    throw new ValidationError(`invalid subject to subscribe to: ${JSON.stringify(subject)}`, {
      details: { field: 'subject', subject },
    });
  }
}

function hasWildcard(subject: string): boolean {
  for (const token of subject.split('.')) if (token === '*' || token === '>') return true;
  return false;
}

/**
 * The routing table and delivery queue of one {@link MemoryBus}. Exact subjects are routed through
 * a map; wildcard subscriptions are matched by scanning, and each subject's result is cached until
 * the subscriptions that could change it change.
 */
class Router {
  private readonly exact = new Map<string, MemorySub[]>();
  private readonly patterns: MemorySub[] = [];
  private readonly routes = new Map<string, Route>();
  // The delivery queue as two parallel arrays (a `null` message is a drain marker), swapped with
  // a spare pair at each flush so that what a callback publishes goes into the next batch.
  private queuedSubs: MemorySub[] = [];
  private queuedMsgs: (MemoryMsg | null)[] = [];
  private spareSubs: MemorySub[] = [];
  private spareMsgs: (MemoryMsg | null)[] = [];
  private scheduled = false;
  private flushWaiters: (() => void)[] = [];

  /** Adds a subscription to the routing table. */
  add(sub: MemorySub): void {
    if (sub.isPattern) {
      this.patterns.push(sub);
      this.routes.clear();
      return;
    }
    const list = this.exact.get(sub.subject);
    if (list === undefined) this.exact.set(sub.subject, [sub]);
    else list.push(sub);
    this.routes.delete(sub.subject);
  }

  /** Takes a subscription out of the routing table; messages already queued for it stay queued. */
  remove(sub: MemorySub): void {
    if (sub.isPattern) {
      const i = this.patterns.indexOf(sub);
      if (i >= 0) this.patterns.splice(i, 1);
      this.routes.clear();
      return;
    }
    const list = this.exact.get(sub.subject);
    if (list === undefined) return;
    const i = list.indexOf(sub);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.exact.delete(sub.subject);
    this.routes.delete(sub.subject);
  }

  /** Queues a message for every subscriber it reaches and returns how many that is. */
  publish(subject: string, data: Uint8Array, reply: string | undefined): number {
    let route = this.routes.get(subject);
    if (route === undefined) {
      route = this.computeRoute(subject);
      if (this.routes.size >= ROUTE_CACHE_LIMIT) this.routes.clear();
      this.routes.set(subject, route);
    }
    const { plain, groups } = route;
    for (let i = 0; i < plain.length; i++) {
      const sub = plain[i]!;
      this.enqueue(sub, new MemoryMsg(subject, data, reply, sub.via));
    }
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      const sub = group.members[group.next++ % group.members.length]!;
      this.enqueue(sub, new MemoryMsg(subject, data, reply, sub.via));
    }
    return plain.length + groups.length;
  }

  /** Queues the end of a draining subscription behind the messages already queued for it. */
  enqueueDrainMarker(sub: MemorySub): void {
    this.enqueue(sub, null);
  }

  /** Resolves once every message queued so far has been handed to its subscriber. */
  whenDelivered(): Promise<void> {
    if (this.queuedSubs.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  private enqueue(sub: MemorySub, msg: MemoryMsg | null): void {
    this.queuedSubs.push(sub);
    this.queuedMsgs.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const subs = this.queuedSubs;
    const msgs = this.queuedMsgs;
    const waiters = this.flushWaiters;
    this.queuedSubs = this.spareSubs;
    this.queuedMsgs = this.spareMsgs;
    this.flushWaiters = [];
    for (let i = 0; i < subs.length; i++) {
      const msg = msgs[i];
      if (msg) subs[i]!.deliver(msg);
      else subs[i]!.drained();
    }
    subs.length = 0;
    msgs.length = 0;
    this.spareSubs = subs;
    this.spareMsgs = msgs;
    for (const resolve of waiters) resolve();
  };

  private computeRoute(subject: string): Route {
    const plain: MemorySub[] = [];
    const groups: QueueGroup[] = [];
    const exact = this.exact.get(subject);
    if (exact !== undefined) for (const sub of exact) place(sub, plain, groups);
    for (const sub of this.patterns) if (subjectMatches(sub.subject, subject)) place(sub, plain, groups);
    return { plain, groups };
  }
}

/** Puts a subscriber into a route: with the plain ones, or into its queue group (by name, as NATS). */
function place(sub: MemorySub, plain: MemorySub[], groups: QueueGroup[]): void {
  if (sub.queue === undefined) {
    plain.push(sub);
    return;
  }
  for (const group of groups) {
    if (group.members[0]!.queue === sub.queue) {
      group.members.push(sub);
      return;
    }
  }
  groups.push({ members: [sub], next: 0 });
}

const routers = new WeakMap<MemoryBus, Router>();

/**
 * The in-process "server" that {@link MemoryTransport}s share: transports created on one bus hear
 * each other. It has no API of its own; pass it to {@link MemoryTransport.create}.
 */
export class MemoryBus {
  constructor() {
    routers.set(this, new Router());
  }
}

/** A request waiting for its reply. */
interface PendingRequest {
  readonly sub: MemorySub;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly reject: (error: unknown) => void;
}

/** The in-process {@link Transport}. Transports made on one {@link MemoryBus} hear each other. */
export class MemoryTransport implements Transport {
  /** Always `memory`. */
  readonly kind = 'memory';
  /** The bus this transport is on. */
  readonly bus: MemoryBus;
  private readonly router: Router;
  private currentState: 'open' | 'draining' | 'closed' = 'open';
  private readonly live = new Set<MemorySub>();
  private readonly requests = new Set<PendingRequest>();
  private readonly listeners = new Set<(status: TransportStatus) => void>();
  private readonly inboxPrefix = `_INBOX.${globalThis.crypto.randomUUID().replaceAll('-', '')}.`;
  private inboxSeq = 0;
  private draining: Promise<void> | undefined;

  private constructor(bus: MemoryBus) {
    this.bus = bus;
    this.router = routers.get(bus)!;
  }

  /** Makes a transport on `options.bus`, or on a bus of its own. */
  static create(options: MemoryTransportOptions = {}): MemoryTransport {
    return new MemoryTransport(options.bus ?? new MemoryBus());
  }

  /** `open`, then `draining` during {@link drain}, then `closed`. */
  get state(): 'open' | 'draining' | 'closed' {
    return this.currentState;
  }

  get isClosed(): boolean {
    return this.currentState === 'closed';
  }

  /** Publishes; the payload is handed out as is, so it must not be changed afterwards. */
  publish(subject: string, data: Uint8Array, options?: { reply?: string }): void {
    if (this.currentState === 'closed') throw this.unavailable('publish', subject);
    this.router.publish(subject, data, options?.reply);
  }

  subscribe(subject: string, options: SubscribeOptions = {}): TransportSubscription {
    if (this.currentState !== 'open') throw this.unavailable('subscribe', subject);
    assertSubscribable(subject);
    return this.addSub(subject, options);
  }

  request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<TransportMsg> {
    if (this.currentState !== 'open') return Promise.reject(this.unavailable('request', subject));
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<TransportMsg>((resolve, reject) => {
      const inbox = `${this.inboxPrefix}${++this.inboxSeq}`;
      const pending: PendingRequest = {
        sub: this.addSub(inbox, {
          max: 1,
          callback: (msg) => {
            clearTimeout(pending.timer);
            this.requests.delete(pending);
            resolve(msg);
          },
        }),
        timer: undefined,
        reject,
      };
      if (this.router.publish(subject, data, inbox) === 0) {
        pending.sub.unsubscribe();
        reject(new NoRespondersError(`no responders on ${subject}`, { details: { subject } }));
        return;
      }
      this.requests.add(pending);
      pending.timer = setTimeout(() => {
        this.requests.delete(pending);
        pending.sub.unsubscribe();
        reject(new TimeoutError(`no reply on ${subject} within ${timeoutMs} ms`, { details: { subject, timeoutMs } }));
      }, timeoutMs);
    });
  }

  /** Resolves once everything published so far (by anyone on the bus) has been delivered. */
  flush(): Promise<void> {
    if (this.currentState === 'closed') return Promise.reject(this.unavailable('flush'));
    return this.router.whenDelivered();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Drains every subscription, then closes. Resolves at once on a closed transport. */
  drain(): Promise<void> {
    if (this.currentState === 'closed') return Promise.resolve();
    this.draining ??= this.drainThenClose();
    return this.draining;
  }

  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.currentState = 'closed';
    for (const pending of this.requests) {
      clearTimeout(pending.timer);
      pending.reject(this.unavailable('request', pending.sub.subject));
    }
    this.requests.clear();
    for (const sub of [...this.live]) sub.unsubscribe();
    for (const listener of [...this.listeners]) {
      try {
        listener({ type: 'close' });
      } catch {
        // A listener's failure is its own business.
      }
    }
  }

  /** Drains, so `await using` ends a transport in an orderly way. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  private addSub(subject: string, options: SubscribeOptions): MemorySub {
    const sub = new MemorySub(subject, options, this, this.router, this.live);
    this.live.add(sub);
    this.router.add(sub);
    return sub;
  }

  private async drainThenClose(): Promise<void> {
    this.currentState = 'draining';
    await Promise.all(Array.from(this.live, (sub) => sub.drain()));
    await this.close();
  }

  private unavailable(operation: string, subject?: string): UnavailableError {
    return new UnavailableError(`memory transport is ${this.currentState}: cannot ${operation}`, {
      details: subject === undefined ? { operation } : { operation, subject },
    });
  }
}
