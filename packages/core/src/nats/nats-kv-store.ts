/**
 * The {@link Store} over JetStream KV: one bucket, replicated by Raft across a NATS cluster
 * (`replicas: 3`), which is what lets a standby master take over the registry of a dead one.
 *
 * Revisions are the stream's sequence numbers, so they increase across the whole bucket. Reads go
 * to the stream leader (the bucket is opened without direct get, and `keys()` asks the leader),
 * so a read after an acknowledged write sees it. A watch reads an ordered consumer that lives on
 * one server; it checks every `watchCheckMs` that the consumer still answers and, when its server
 * has died, starts a new one after the last revision it handled (nats.js alone would notice only
 * after two missed 30 s heartbeats).
 *
 * Errors of nats.js come out as Stoa errors: a stale revision is a `ConflictError`, a create on a
 * present key an `AlreadyExistsError`, a closed connection or an unreachable JetStream an
 * `UnavailableError`, a request with no reply a `TimeoutError` (the write may or may not have
 * happened; both are retryable).
 *
 * @example
 * ```ts
 * await using store = await NatsKvStore.connect({ servers: cluster.servers, replicas: 3 });
 * const rev = await store.create('leader', bytes);
 * await store.update('leader', next, rev);
 *
 * // Or over a connection the caller owns (close() then leaves it open):
 * const shared = await NatsKvStore.open(nc, { bucket: 'stoa' });
 * ```
 * @module
 */

import {
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  type OrderedPushConsumerOptions,
  type PushConsumer,
} from '@nats-io/jetstream';
import { type KV, type KvEntry, type KvOptions, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { z } from 'zod';
import {
  AlreadyExistsError,
  ConflictError,
  fromUnknown,
  NotFoundError,
  StoaError,
  TimeoutError,
  UnavailableError,
} from '../errors.js';
import { assertFilter, assertKey, assertRevision, type Store, type StoreEntry, type StoreWatch, type StoreWatchOptions } from '../store/store.js';
import { validate } from '../validate.js';

/** Options of {@link NatsKvStore.open}. */
export interface NatsKvStoreOptions {
  /** The KV bucket (its stream is `KV_<bucket>`). @default 'stoa' */
  bucket?: string;
  /** Copies of the bucket when it is created: 1, or 3 on a 3-node cluster. @default 1 */
  replicas?: number;
  /** Revisions kept per key when the bucket is created. @default 1 */
  history?: number;
  /** Bucket TTL when it is created: values older than this are removed. @default none */
  maxAgeMs?: number;
  /** How long to wait for JetStream to answer a call. @default 5000 */
  timeoutMs?: number;
  /**
   * How often a watch asks whether its consumer is alive, and how long it waits for the answer:
   * a watch whose consumer's server died resumes on another after about twice this.
   * @default 2000
   */
  watchCheckMs?: number;
}

/** Options of {@link NatsKvStore.connect}: where to connect, and those of {@link NatsKvStore.open}. */
export interface NatsKvStoreConnectOptions extends NatsKvStoreOptions {
  /** The server URLs; give every node of a cluster. */
  servers: string | string[];
  /** The connection's name, as the server's monitoring shows it. @default 'stoa-kv' */
  name?: string;
  /** Further nats.js connection options (credentials, TLS). @default reconnects forever */
  connectionOptions?: Omit<NodeConnectionOptions, 'servers' | 'name'>;
}

const OptionsSchema = z.object({
  bucket: z
    .string()
    .regex(/^[-\w]+$/, 'a bucket name is letters, digits, `-` and `_`')
    .default('stoa'),
  replicas: z.number().int().min(1).max(5).default(1),
  history: z.number().int().min(1).max(64).default(1),
  maxAgeMs: z.number().int().positive().optional(),
  timeoutMs: z.number().int().positive().default(5000),
  watchCheckMs: z.number().int().positive().default(2000),
});

/** How many reads `keys()` has in flight at once. */
const KEYS_READ_BATCH = 256;
/** The header where JetStream KV marks a delete (`DEL`) or a purge (`PURGE`). */
const KV_OPERATION = 'KV-Operation';
const EMPTY = new Uint8Array(0);

/** {@link NatsKvStoreOptions} with the defaults applied. */
type ResolvedOptions = z.output<typeof OptionsSchema>;

/** What a watch needs of its store. */
interface WatchContext {
  readonly nc: NatsConnection;
  /** For the watch's consumers; its timeout bounds a liveness check. */
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly checkMs: number;
}

/**
 * A running watch over ordered push consumers, one at a time. It drops what it has handled
 * already (by revision), so it can start a new consumer after the last revision whenever the
 * current one stops answering, fails or ends.
 */
class NatsKvWatch implements StoreWatch {
  private stopped = false;
  private signalStop: () => void = () => undefined;
  private readonly stopSignal = new Promise<void>((resolve) => {
    this.signalStop = resolve;
  });
  private current: { consumer: PushConsumer; messages: ConsumerMessages } | undefined;
  /** The highest revision handled, delivered or left out; a new consumer starts after it. */
  private lastRevision: number;
  /**
   * For `last`: the keys delivered from the snapshot (revisions up to `startRevision`). A delete
   * in the snapshot is left out unless it deletes one of them: a consumer on a replica that lags
   * may show a value and then, still inside the snapshot, its delete.
   */
  private snapshotKeys: Set<string> | undefined;
  /** Consumers started since the last message; backs off the restarts of a failing one. */
  private idleRestarts = 0;
  private checking = false;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly entries: AsyncGenerator<StoreEntry>;

  private constructor(
    private readonly ctx: WatchContext,
    private readonly filter: string,
    private readonly include: 'last' | 'updates',
    /** The stream's last revision when the watch started. */
    private readonly startRevision: number,
    private readonly onStop: (watch: NatsKvWatch) => void,
  ) {
    this.lastRevision = include === 'updates' ? startRevision : 0;
    this.snapshotKeys = include === 'last' ? new Set() : undefined;
    this.timer = setInterval(() => void this.check(), ctx.checkMs);
    this.timer.unref?.();
    this.entries = this.run();
  }

  /** Starts a watch: its first consumer is made before this resolves. */
  static async start(
    ctx: WatchContext,
    startRevision: number,
    filter: string,
    include: 'last' | 'updates',
    onStop: (watch: NatsKvWatch) => void,
  ): Promise<NatsKvWatch> {
    const watch = new NatsKvWatch(ctx, filter, include, startRevision, onStop);
    try {
      await watch.open();
    } catch (error) {
      watch.stop();
      throw error;
    }
    return watch;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.signalStop();
    this.release();
    this.onStop(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<StoreEntry> {
    return this.entries;
  }

  private async *run(): AsyncGenerator<StoreEntry> {
    try {
      while (!this.stopped) {
        const messages = this.current?.messages ?? (await this.restart());
        if (messages === undefined) return;
        try {
          for await (const m of messages) {
            if (this.stopped) return;
            const entry = this.accept(m);
            if (entry) yield entry;
          }
        } catch {
          // A consumer that fails is replaced below, as one whose server died.
        }
        if (this.current?.messages === messages) this.release();
        if (this.ctx.nc.isClosed()) return;
      }
    } catch (error) {
      throw toStoaError(error, 'watch');
    } finally {
      this.stop();
    }
  }

  /** The entry of a message, or `undefined` for one to leave out. */
  private accept(m: JsMsg): StoreEntry | undefined {
    if (m.seq <= this.lastRevision) return undefined;
    this.lastRevision = m.seq;
    this.idleRestarts = 0;
    const entry = messageToEntry(m, this.ctx.subjectPrefix);
    if (this.snapshotKeys) {
      if (m.seq > this.startRevision) this.snapshotKeys = undefined;
      else if (entry.operation === 'PUT') this.snapshotKeys.add(entry.key);
      else if (!this.snapshotKeys.has(entry.key)) return undefined;
    }
    return entry;
  }

  private async open(): Promise<ConsumerMessages> {
    const filter_subjects = `${this.ctx.subjectPrefix}${this.filter}`;
    // `last` starts with the last value of each key; a restart, and `updates`, go on from a revision.
    const options: Partial<OrderedPushConsumerOptions> =
      this.include === 'last' && this.lastRevision === 0
        ? { filter_subjects, deliver_policy: DeliverPolicy.LastPerSubject }
        : { filter_subjects, opt_start_seq: this.lastRevision + 1 };
    const consumer = await this.ctx.js.consumers.getPushConsumer(this.ctx.stream, options);
    const messages = await consumer.consume();
    this.current = { consumer, messages };
    if (this.stopped) this.release();
    return messages;
  }

  /** Makes the next consumer, retrying while JetStream cannot; `undefined` once stopped. */
  private async restart(): Promise<ConsumerMessages | undefined> {
    for (;;) {
      if (this.idleRestarts > 0) await this.pause(Math.min(50 * 2 ** this.idleRestarts, 2000));
      if (this.stopped || this.ctx.nc.isClosed()) return undefined;
      this.idleRestarts++;
      try {
        return await this.open();
      } catch (error) {
        const stoa = toStoaError(error, 'watch');
        if (!stoa.retryable) throw stoa;
      }
    }
  }

  /** Replaces the consumer when it does not answer: its server may be gone. */
  private async check(): Promise<void> {
    const current = this.current;
    if (this.checking || this.stopped || current === undefined || this.ctx.nc.isClosed()) return;
    this.checking = true;
    try {
      await current.consumer.info();
    } catch {
      if (this.current === current && !this.stopped && !this.ctx.nc.isClosed()) this.release();
    } finally {
      this.checking = false;
    }
  }

  /** Stops the current consumer (its iterator ends) and deletes it if its server still can. */
  private release(): void {
    const current = this.current;
    this.current = undefined;
    if (current === undefined) return;
    current.messages.stop();
    current.consumer.delete().catch(() => undefined);
  }

  private async pause(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), this.stopSignal]);
    clearTimeout(timer);
  }
}

/** A {@link Store} over one JetStream KV bucket. */
export class NatsKvStore implements Store, AsyncDisposable {
  /** `nats-kv`. */
  readonly kind = 'nats-kv';
  /** The bucket's name. */
  readonly bucket: string;
  private closed = false;
  private readonly watches = new Set<NatsKvWatch>();

  private readonly stream: string;
  private readonly subjectPrefix: string;
  private readonly watchContext: WatchContext;

  private constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    /** The connection, closed by {@link NatsKvStore.close} only when the store opened it. */
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    options: ResolvedOptions,
  ) {
    this.bucket = options.bucket;
    this.stream = `KV_${options.bucket}`;
    this.subjectPrefix = `$KV.${options.bucket}.`;
    this.watchContext = {
      nc,
      js: jetstream(nc, { timeout: options.watchCheckMs }),
      stream: this.stream,
      subjectPrefix: this.subjectPrefix,
      checkMs: options.watchCheckMs,
    };
  }

  /**
   * Opens the bucket over a connection the caller owns, creating it if missing (with `replicas`,
   * `history` and `maxAgeMs`) or binding to it as it is if present.
   */
  static async open(nc: NatsConnection, options: NatsKvStoreOptions = {}): Promise<NatsKvStore> {
    const resolved = validate(OptionsSchema, options, 'NatsKvStore options');
    const { kv, jsm } = await openBucket(nc, resolved);
    return new NatsKvStore(kv, jsm, nc, false, resolved);
  }

  /** Connects to `servers` and opens the bucket; {@link NatsKvStore.close} closes the connection. */
  static async connect(options: NatsKvStoreConnectOptions): Promise<NatsKvStore> {
    const { servers, name, connectionOptions, ...storeOptions } = options;
    const resolved = validate(OptionsSchema, storeOptions, 'NatsKvStore options');
    let nc: NatsConnection;
    try {
      nc = await connect({ maxReconnectAttempts: -1, noAsyncTraces: true, ...connectionOptions, servers, name: name ?? 'stoa-kv' });
    } catch (error) {
      throw toStoaError(error, 'connect');
    }
    try {
      const { kv, jsm } = await openBucket(nc, resolved);
      return new NatsKvStore(kv, jsm, nc, true, resolved);
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  /** `open` until {@link NatsKvStore.close} (or until its connection closes), then `closed`. */
  get state(): 'open' | 'closed' {
    return this.closed || this.nc.isClosed() ? 'closed' : 'open';
  }

  async get(key: string): Promise<StoreEntry | null> {
    this.assertOpen();
    assertKey(key);
    try {
      const e = await this.kv.get(key);
      return e && e.operation === 'PUT' ? toStoreEntry(e) : null;
    } catch (error) {
      throw toStoaError(error, 'get', key);
    }
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.assertOpen();
    assertKey(key);
    try {
      return await this.kv.put(key, value);
    } catch (error) {
      throw toStoaError(error, 'put', key);
    }
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.assertOpen();
    assertKey(key);
    try {
      return await this.kv.create(key, value);
    } catch (error) {
      throw toStoaError(error, 'create', key);
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.assertOpen();
    assertKey(key);
    assertRevision(revision);
    try {
      return await this.kv.update(key, value, revision);
    } catch (error) {
      throw toStoaError(error, 'update', key, revision);
    }
  }

  async delete(key: string, options: { revision?: number } = {}): Promise<void> {
    this.assertOpen();
    assertKey(key);
    const { revision } = options;
    if (revision !== undefined) assertRevision(revision);
    try {
      await this.kv.delete(key, revision === undefined ? undefined : { previousSeq: revision });
    } catch (error) {
      throw toStoaError(error, 'delete', key, revision);
    }
  }

  /**
   * The keys present under `filter`. The stream leader lists the keys that have an entry, and a
   * read of each from the leader leaves out the deleted: nats.js's own `keys()` reads a consumer
   * that may sit on a replica, which was seen to end one key short after a node restart.
   */
  async keys(filter = '>'): Promise<string[]> {
    this.assertOpen();
    assertFilter(filter, 'filter');
    try {
      const info = await this.jsm.streams.info(this.stream, { subjects_filter: `${this.subjectPrefix}${filter}` });
      const candidates = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(this.subjectPrefix.length));
      const out: string[] = [];
      for (let i = 0; i < candidates.length; i += KEYS_READ_BATCH) {
        const entries = await Promise.all(candidates.slice(i, i + KEYS_READ_BATCH).map((key) => this.kv.get(key)));
        for (const e of entries) if (e?.operation === 'PUT') out.push(e.key);
      }
      return out;
    } catch (error) {
      throw toStoaError(error, 'keys');
    }
  }

  async watch(options: StoreWatchOptions = {}): Promise<StoreWatch> {
    this.assertOpen();
    const key = options.key ?? '>';
    assertFilter(key, 'key');
    let watch: NatsKvWatch;
    try {
      // The leader's last revision splits the snapshot from the changes.
      const info = await this.jsm.streams.info(this.stream);
      watch = await NatsKvWatch.start(this.watchContext, info.state.last_seq, key, options.include ?? 'last', (w) =>
        this.watches.delete(w),
      );
    } catch (error) {
      throw toStoaError(error, 'watch');
    }
    // close() may have run while the consumer was being made.
    if (this.closed) watch.stop();
    else this.watches.add(watch);
    return watch;
  }

  /** Stops every watch and, if the store opened its connection, closes it. The data stays. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of [...this.watches]) watch.stop();
    if (this.ownsConnection) await this.nc.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new UnavailableError(`the store (bucket ${this.bucket}) is closed`);
    if (this.nc.isClosed()) throw new UnavailableError(`the connection of the store (bucket ${this.bucket}) is closed`);
  }
}

async function openBucket(nc: NatsConnection, options: ResolvedOptions): Promise<{ kv: KV; jsm: JetStreamManager }> {
  const kvOptions: Partial<KvOptions> = {
    replicas: options.replicas,
    history: options.history,
    // Direct gets may be answered by a replica that lags the leader; a store holding a leader
    // lease needs to read its own acknowledged writes.
    allow_direct: false,
    timeout: options.timeoutMs,
  };
  if (options.maxAgeMs !== undefined) kvOptions.ttl = options.maxAgeMs;
  try {
    const js = jetstream(nc, { timeout: options.timeoutMs });
    const jsm = await js.jetstreamManager();
    return { kv: await new Kvm(js).create(options.bucket, kvOptions), jsm };
  } catch (error) {
    throw toStoaError(error, 'open');
  }
}

function messageToEntry(m: JsMsg, subjectPrefix: string): StoreEntry {
  const op = m.headers?.get(KV_OPERATION);
  const put = op !== 'DEL' && op !== 'PURGE';
  return {
    key: m.subject.slice(subjectPrefix.length),
    value: put ? m.data : EMPTY,
    revision: m.seq,
    operation: put ? 'PUT' : 'DEL',
    createdMs: m.time.getTime(),
  };
}

function toStoreEntry(e: KvEntry): StoreEntry {
  const put = e.operation === 'PUT';
  return {
    key: e.key,
    value: put ? e.value : EMPTY,
    revision: e.revision,
    operation: put ? 'PUT' : 'DEL',
    createdMs: e.created.getTime(),
  };
}

/** Turns what nats.js throws into one of ours, naming the operation and the key. */
function toStoaError(error: unknown, op: string, key?: string, revision?: number): StoaError {
  if (StoaError.isInstance(error)) return error;
  const cause = { cause: error };
  const where = key === undefined ? `store ${op}` : `store ${op} of ${key}`;
  if (error instanceof JetStreamApiError) {
    if (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown) {
      if (op === 'create') return new AlreadyExistsError(`key already exists: ${key}`, { ...cause, details: { key } });
      return new ConflictError(`${where}: the key is no longer at revision ${revision} (${error.message})`, {
        ...cause,
        details: { key, expectedRevision: revision },
      });
    }
    if (error.code === JetStreamApiCodes.StreamNotFound) {
      return new NotFoundError(`${where}: the bucket's stream is gone`, { ...cause, details: { key } });
    }
    if (error.status === 503) return new UnavailableError(`${where}: ${error.message}`, cause);
    if (error.status === 408 || error.status === 504) return new TimeoutError(`${where}: ${error.message}`, cause);
  }
  if (error instanceof Error) {
    switch (error.name) {
      case 'TimeoutError':
        return new TimeoutError(`${where}: no answer from JetStream in time`, cause);
      case 'ClosedConnectionError':
      case 'DrainingConnectionError':
      case 'ConnectionError':
        return new UnavailableError(`${where}: ${error.message}`, cause);
      case 'JetStreamNotEnabled':
      case 'NoResponders':
        // In a cluster this is also what a stream without a leader looks like for a moment.
        return new UnavailableError(`${where}: JetStream did not answer (${error.message})`, cause);
      case 'RequestError':
        if (error.cause !== undefined) return toStoaError(error.cause, op, key, revision);
        break;
    }
  }
  return fromUnknown(error);
}

