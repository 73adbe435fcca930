/**
 * The {@link Transport} over a real NATS connection (nats.js v3).
 *
 * Messages are nats.js `Msg` objects handed through as they are (they already have the shape of
 * a `TransportMsg`), so the hot path allocates nothing of its own. nats.js errors become Stoa's:
 * no responders → `NoRespondersError`, no reply in time → `TimeoutError`, closed or draining
 * connection → `UnavailableError`. A callback that throws is caught here: in nats.js it would
 * break the connection's read loop.
 *
 * @example
 * ```ts
 * const transport = await NatsTransport.connect({ servers: 'nats://127.0.0.1:4222', name: 'stoa-master' });
 * transport.onStatus((s) => { if (s.type === 'reconnect') reregister(); });
 * transport.subscribe('stoa.master.agent.*', { queue: 'masters', callback: (m) => handle(m) });
 * await transport.drain();
 * ```
 * @module
 */

import type { Msg, NatsConnection, Subscription, SubscriptionOptions } from '@nats-io/nats-core';
import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import {
  fromUnknown,
  NoRespondersError,
  type StoaError,
  TimeoutError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from '../errors.js';
import type {
  RequestOptions,
  SubscribeOptions,
  Transport,
  TransportMsg,
  TransportStatus,
  TransportSubscription,
} from '../transport/transport.js';

const DEFAULT_SERVERS = 'nats://127.0.0.1:4222';
const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });
const DONE_PROMISE: Promise<IteratorReturnResult<undefined>> = Promise.resolve(DONE);

/** Options of {@link NatsTransport.connect}. */
export interface NatsTransportOptions {
  /** One server URL or several (the client picks one and fails over). @default 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** The client name the server shows in its monitoring. @default none */
  name?: string;
  /** User name, with {@link pass}. @default none */
  user?: string;
  /** Password, with {@link user}. @default none */
  pass?: string;
  /** Authentication token (instead of user and password). @default none */
  token?: string;
  /** Reconnect attempts per server before giving up and closing; -1 tries forever. @default -1 */
  maxReconnectAttempts?: number;
  /** Pause between reconnect attempts to one server. @default 250 */
  reconnectTimeWaitMs?: number;
  /** How long the first connection may take. @default 20000 */
  timeoutMs?: number;
}

/** The {@link Transport} over NATS. Make one with {@link NatsTransport.connect}. */
export class NatsTransport implements Transport {
  /** Always `nats`. */
  readonly kind = 'nats';
  /** The nats.js connection, for siblings that need more than the transport (the KV store). */
  readonly connection: NatsConnection;
  private readonly listeners = new Set<(status: TransportStatus) => void>();
  private readonly statusDone: Promise<void>;
  private closeEmitted = false;
  private draining: Promise<void> | undefined;

  private constructor(connection: NatsConnection) {
    this.connection = connection;
    this.statusDone = connection.isClosed() ? Promise.resolve() : this.watchStatus();
  }

  /** Connects to NATS. A failure to connect is an `UnavailableError` (`UnauthorizedError` for bad credentials). */
  static async connect(options: NatsTransportOptions = {}): Promise<NatsTransport> {
    const servers = options.servers ?? DEFAULT_SERVERS;
    const connectOptions: NodeConnectionOptions = {
      servers,
      maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
      timeout: options.timeoutMs ?? 20_000,
      // No stack captured ahead of every request: a master pinging 10,000 agents would spend
      // seconds building errors it almost never throws.
      noAsyncTraces: true,
    };
    if (options.name !== undefined) connectOptions.name = options.name;
    if (options.user !== undefined) connectOptions.user = options.user;
    if (options.pass !== undefined) connectOptions.pass = options.pass;
    if (options.token !== undefined) connectOptions.token = options.token;
    try {
      return new NatsTransport(await connect(connectOptions));
    } catch (error) {
      const mapped = fromNatsError(error, 'connect', undefined);
      if (UnauthorizedError.isInstance(mapped)) throw mapped;
      throw new UnavailableError(`cannot connect to NATS at ${String(servers)}: ${errorMessage(error)}`, {
        details: { servers },
        cause: error,
      });
    }
  }

  /** Wraps a connection made elsewhere; closing the transport closes the connection. */
  static fromConnection(connection: NatsConnection): NatsTransport {
    return new NatsTransport(connection);
  }

  /** `open`, then `draining` during {@link drain}, then `closed`. */
  get state(): 'open' | 'draining' | 'closed' {
    if (this.connection.isClosed()) return 'closed';
    return this.connection.isDraining() ? 'draining' : 'open';
  }

  get isClosed(): boolean {
    return this.connection.isClosed();
  }

  publish(subject: string, data: Uint8Array, options?: { reply?: string }): void {
    try {
      // nats.js writes into the options object it is given, so a caller's object is not passed on.
      this.connection.publish(subject, data, options?.reply ? { reply: options.reply } : undefined);
    } catch (error) {
      throw fromNatsError(error, 'publish', subject);
    }
  }

  subscribe(subject: string, options: SubscribeOptions = {}): TransportSubscription {
    const { callback, onError, queue, max } = options;
    const natsOptions: SubscriptionOptions = {};
    if (queue) natsOptions.queue = queue;
    if (max !== undefined && max > 0) natsOptions.max = max;
    if (callback !== undefined) {
      natsOptions.callback = (error, msg) => {
        // An error here ends the subscription (a permissions violation); `closed` reports it.
        if (error) return;
        try {
          callback(msg);
        } catch (thrown) {
          if (onError === undefined) return;
          try {
            onError(thrown, msg);
          } catch {
            // Nothing may escape into nats.js's read loop.
          }
        }
      };
    }
    let sub: Subscription;
    try {
      sub = this.connection.subscribe(subject, natsOptions);
    } catch (error) {
      throw fromNatsError(error, 'subscribe', subject);
    }
    return new NatsSubscription(sub, this.connection, callback !== undefined);
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<TransportMsg> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    try {
      return await this.connection.request(subject, data, { timeout: timeoutMs });
    } catch (error) {
      throw fromNatsError(error, 'request', subject, timeoutMs);
    }
  }

  async flush(): Promise<void> {
    try {
      await this.connection.flush();
    } catch (error) {
      throw fromNatsError(error, 'flush', undefined);
    }
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Drains every subscription, flushes, then closes. Resolves at once on a closed transport. */
  drain(): Promise<void> {
    if (this.connection.isClosed()) return this.statusDone;
    this.draining ??= this.drainThenClose();
    return this.draining;
  }

  async close(): Promise<void> {
    await this.connection.close();
    await this.statusDone;
  }

  /** Drains, so `await using` ends a transport in an orderly way. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  private async drainThenClose(): Promise<void> {
    try {
      await this.connection.drain();
    } catch (error) {
      if (!this.connection.isClosed()) throw fromNatsError(error, 'drain', undefined);
    }
    await this.statusDone;
  }

  /** One status iterator per connection, fanned out to the listeners; ends when the connection closes. */
  private async watchStatus(): Promise<void> {
    try {
      for await (const status of this.connection.status()) {
        switch (status.type) {
          case 'disconnect':
          case 'reconnect':
            this.emit({ type: status.type });
            break;
          case 'error':
            this.emit({ type: 'error', error: fromNatsError(status.error, 'status', undefined) });
            break;
          case 'close':
            this.emitClose();
            break;
          default:
            // reconnecting, ping, update, ldm, staleConnection…: nothing a component acts on.
            break;
        }
      }
    } catch {
      // The iterator only fails if nats.js is broken; the close below still goes out.
    }
    this.emitClose();
  }

  private emitClose(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.emit({ type: 'close' });
  }

  private emit(status: TransportStatus): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(status);
      } catch {
        // A listener's failure is its own business.
      }
    }
  }
}

/** A nats.js subscription in the shape of a {@link TransportSubscription}. */
class NatsSubscription implements TransportSubscription {
  readonly closed: Promise<void>;
  /** Set by unsubscribe: the iterator stops at once. */
  private ended = false;
  /** Set when a drain finished: the iterator still yields what nats.js buffered. */
  private drained = false;
  private resolveClosed!: () => void;

  constructor(
    private readonly sub: Subscription,
    private readonly connection: NatsConnection,
    private readonly callbackForm: boolean,
  ) {
    // nats.js resolves `closed` of an iterator subscription only once the iterator has taken the
    // end from its queue, so an unsubscribe (or a close) without a reader would never resolve it.
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const resolve = () => this.resolveClosed();
    sub.closed.then(resolve, resolve);
    connection.closed().then(resolve, resolve);
  }

  get subject(): string {
    return this.sub.getSubject();
  }

  get isClosed(): boolean {
    return this.ended || this.drained || this.sub.isClosed() || this.connection.isClosed();
  }

  unsubscribe(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      if (!this.sub.isClosed()) this.sub.unsubscribe();
    } catch {
      // The connection is closed, which ended the subscription already.
    }
    this.resolveClosed();
  }

  async drain(): Promise<void> {
    if (this.isClosed) return;
    try {
      await this.sub.drain();
    } catch (error) {
      if (!this.sub.isClosed()) throw fromNatsError(error, 'drain', this.sub.getSubject());
    }
    this.drained = true;
    this.resolveClosed();
  }

  [Symbol.asyncIterator](): AsyncIterator<TransportMsg> {
    if (this.callbackForm) return { next: () => DONE_PROMISE };
    const inner: AsyncIterator<Msg> = this.sub[Symbol.asyncIterator]();
    return {
      // nats.js would still yield what it buffered before an unsubscribe; the contract says stop.
      next: () => (this.ended ? this.finish(inner) : inner.next()),
      return: () => {
        this.unsubscribe();
        return this.finish(inner);
      },
    };
  }

  private finish(inner: AsyncIterator<Msg>): Promise<IteratorResult<TransportMsg>> {
    inner.return?.().catch(() => {});
    return DONE_PROMISE;
  }
}

/** Turns a nats.js error into one of Stoa's, by name (which survives duplicate installs of nats.js). */
function fromNatsError(error: unknown, operation: string, subject: string | undefined, timeoutMs?: number): StoaError {
  const name = error instanceof Error ? error.name : '';
  const cause = error instanceof Error ? error.cause : undefined;
  const details: Record<string, unknown> = subject === undefined ? { operation } : { operation, subject };
  // nats.js wraps what ended a request (no responders, a permissions violation) in a RequestError.
  if (name === 'RequestError' && cause instanceof Error && cause.name !== 'NoResponders' && cause.name.includes('Permission')) {
    return new UnauthorizedError(`NATS ${operation} refused: ${errorMessage(cause)}`, { details, cause: error });
  }
  if (name === 'NoResponders' || (name === 'RequestError' && cause instanceof Error && cause.name === 'NoResponders')) {
    return new NoRespondersError(`no responders on ${subject}`, { details, cause: error });
  }
  if (name === 'TimeoutError') {
    if (timeoutMs !== undefined) details.timeoutMs = timeoutMs;
    return new TimeoutError(`no reply on ${subject} within ${timeoutMs} ms`, { details, cause: error });
  }
  switch (name) {
    case 'ClosedConnectionError':
    case 'DrainingConnectionError':
    case 'ConnectionError':
    case 'RequestError': // a request cancelled because its connection closed
      return new UnavailableError(`NATS ${operation} failed: ${errorMessage(error)}`, { details, cause: error });
    case 'AuthorizationError':
    case 'UserAuthenticationExpiredError':
    case 'PermissionViolationError':
      return new UnauthorizedError(`NATS ${operation} refused: ${errorMessage(error)}`, { details, cause: error });
    case 'InvalidSubjectError':
      return new ValidationError(`NATS ${operation}: ${errorMessage(error)}`, { details: { ...details, field: 'subject' }, cause: error });
    case 'InvalidArgumentError': // a payload over the server's max_payload, say
      return new ValidationError(`NATS ${operation}: ${errorMessage(error)}`, { details, cause: error });
    default:
      return fromUnknown(error);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
