/**
 * The message bus Stoa speaks over: publish/subscribe with NATS wildcards and queue groups,
 * request/reply, and an orderly drain.
 *
 * Two implementations share one conformance suite: `NatsTransport` (from `@stoa/core/nats`) and
 * {@link MemoryTransport} (in-process, for the single-process dev cluster and fast unit tests).
 * Payloads are bytes; the codec turns them into validated messages.
 *
 * @example
 * ```ts
 * const sub = transport.subscribe('stoa.agent.a1', { callback: (m) => handle(m.data) });
 * transport.publish('stoa.agent.a1', bytes);
 * const reply = await transport.request('stoa.master.operator', bytes, { timeoutMs: 2000 });
 * ```
 * @module
 */

/** One message received from a subscription or as a reply. */
export interface TransportMsg {
  /** The subject it was published on. */
  readonly subject: string;
  /** The payload. */
  readonly data: Uint8Array;
  /** The reply subject, when the sender expects an answer. */
  readonly reply?: string | undefined;
  /** Answers a request; false when there is no reply subject (or the transport is closed). */
  respond(data: Uint8Array): boolean;
}

/** Options of {@link Transport.subscribe}. */
export interface SubscribeOptions {
  /** A queue group: each message goes to one member of the group. */
  queue?: string;
  /**
   * The hot-path form: messages go to this callback, synchronously, in order, and the
   * subscription's async iterator yields nothing. A callback that throws does not end the
   * subscription; the error goes to `onError` when given.
   */
  callback?: (msg: TransportMsg) => void;
  /** Called with what a callback threw. @default the error is ignored */
  onError?: (error: unknown, msg: TransportMsg) => void;
  /** Unsubscribe by itself after this many messages. @default unlimited */
  max?: number;
}

/** A live subscription. Iterate it for messages unless it was made with a callback. */
export interface TransportSubscription extends AsyncIterable<TransportMsg> {
  /** The subject or pattern subscribed to. */
  readonly subject: string;
  /** Stops delivery at once; the iterator ends. */
  unsubscribe(): void;
  /** Delivers what is already buffered, then ends. */
  drain(): Promise<void>;
  /** Whether the subscription has ended. */
  readonly isClosed: boolean;
  /** Resolves when the subscription has ended. */
  readonly closed: Promise<void>;
}

/** Options of {@link Transport.request}. */
export interface RequestOptions {
  /** How long to wait for the reply. @default 5000 */
  timeoutMs?: number;
}

/** A change of the connection's state, for components that must re-register after a reconnect. */
export type TransportStatus =
  | { type: 'disconnect' }
  | { type: 'reconnect' }
  | { type: 'close' }
  | { type: 'error'; error: unknown };

/**
 * The bus. A closed transport throws `UnavailableError` on publish/subscribe/request.
 * A request with nobody subscribed fails at once with `NoRespondersError`; one with no answer
 * in time fails with `TimeoutError`.
 */
export interface Transport {
  /** What implementation this is (`nats`, `memory`), for logs and `stoa dev`'s banner. */
  readonly kind: string;
  /** Publishes; messages of one publisher on one subject arrive in order. */
  publish(subject: string, data: Uint8Array, options?: { reply?: string }): void;
  /** Subscribes to a subject or a pattern with `*` and `>`. */
  subscribe(subject: string, options?: SubscribeOptions): TransportSubscription;
  /** Sends a request and waits for the first reply. */
  request(subject: string, data: Uint8Array, options?: RequestOptions): Promise<TransportMsg>;
  /** Resolves when everything published so far has reached the server. */
  flush(): Promise<void>;
  /** Listens to connection state changes; returns a function that stops listening. */
  onStatus(listener: (status: TransportStatus) => void): () => void;
  /** Drains every subscription, flushes, then closes. */
  drain(): Promise<void>;
  /** Closes at once; buffered messages may be lost. */
  close(): Promise<void>;
  /** Whether the transport is closed. */
  readonly isClosed: boolean;
}
