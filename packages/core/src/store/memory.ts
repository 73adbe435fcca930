/**
 * An in-process {@link Store} with the semantics of JetStream KV (history 1), for the
 * single-process dev cluster and for fast unit tests.
 *
 * One revision counter runs across the whole store. A delete writes a `DEL` marker that takes a
 * revision like any write: a get of a deleted key is `null`, `keys()` leaves it out, a create on
 * it succeeds, and an update or delete on the marker's revision succeeds, as in JetStream KV.
 * Values are copied when written; entries handed out must not be changed by their readers.
 *
 * @example
 * ```ts
 * const store = MemoryStore.create();
 * const rev = await store.create('leader', bytes);
 * await store.update('leader', next, rev);
 * const watch = await store.watch({ key: 'agents.>' });
 * for await (const e of watch) apply(e);
 * ```
 * @module
 */

import { AlreadyExistsError, ConflictError, UnavailableError } from '../errors.js';
import { subjectMatches } from '../subjects.js';
import { assertFilter, assertKey, assertRevision, type Store, type StoreEntry, type StoreWatch, type StoreWatchOptions } from './store.js';

const EMPTY = new Uint8Array(0);
const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/** A watch on a {@link MemoryStore}: a queue the store pushes into, drained by one iterator. */
class MemoryWatch implements StoreWatch, AsyncIterator<StoreEntry> {
  private readonly queue: StoreEntry[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<StoreEntry>) => void) | undefined;
  private ended = false;

  constructor(
    readonly filter: string,
    private readonly onStop: (watch: MemoryWatch) => void,
  ) {}

  /** Hands an entry to the reader, or queues it until the reader asks. */
  push(entry: StoreEntry): void {
    if (this.ended) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter({ value: entry, done: false });
    } else {
      this.queue.push(entry);
    }
  }

  next(): Promise<IteratorResult<StoreEntry>> {
    if (this.head < this.queue.length) {
      const entry = this.queue[this.head++] as StoreEntry;
      // Compact now and then so a long-lived watch does not keep every entry it ever delivered.
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      return Promise.resolve({ value: entry, done: false });
    }
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<StoreEntry>> {
    this.stop();
    return Promise.resolve(DONE);
  }

  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.head = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(DONE);
    this.onStop(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<StoreEntry> {
    return this;
  }
}

/** A {@link Store} held in memory, with the semantics of JetStream KV. */
export class MemoryStore implements Store, AsyncDisposable {
  /** `memory`. */
  readonly kind = 'memory';
  private revision = 0;
  /** The latest entry of every key ever written, delete markers included. */
  private readonly latest = new Map<string, StoreEntry>();
  private readonly watches = new Set<MemoryWatch>();
  private closed = false;

  /** Makes an empty store. */
  static create(): MemoryStore {
    return new MemoryStore();
  }

  /** `open` until {@link MemoryStore.close}, then `closed`. */
  get state(): 'open' | 'closed' {
    return this.closed ? 'closed' : 'open';
  }

  async get(key: string): Promise<StoreEntry | null> {
    this.assertOpen();
    assertKey(key);
    const entry = this.latest.get(key);
    return entry && entry.operation === 'PUT' ? entry : null;
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.assertOpen();
    assertKey(key);
    return this.write(key, value, 'PUT');
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.assertOpen();
    assertKey(key);
    if (this.latest.get(key)?.operation === 'PUT') {
      throw new AlreadyExistsError(`key already exists: ${key}`, { details: { key } });
    }
    return this.write(key, value, 'PUT');
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.assertOpen();
    assertKey(key);
    assertRevision(revision);
    this.assertLatest(key, revision);
    return this.write(key, value, 'PUT');
  }

  async delete(key: string, options: { revision?: number } = {}): Promise<void> {
    this.assertOpen();
    assertKey(key);
    if (options.revision !== undefined) {
      assertRevision(options.revision);
      this.assertLatest(key, options.revision);
    }
    this.write(key, EMPTY, 'DEL');
  }

  async keys(filter = '>'): Promise<string[]> {
    this.assertOpen();
    assertFilter(filter, 'filter');
    return this.present(filter).map((e) => e.key);
  }

  async watch(options: StoreWatchOptions = {}): Promise<StoreWatch> {
    this.assertOpen();
    const filter = options.key ?? '>';
    assertFilter(filter, 'key');
    const watch = new MemoryWatch(filter, (w) => this.watches.delete(w));
    if ((options.include ?? 'last') === 'last') {
      for (const entry of this.present(filter)) watch.push(entry);
    }
    this.watches.add(watch);
    return watch;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of [...this.watches]) watch.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The present (not deleted) entries under a filter, in revision order as JetStream sends them. */
  private present(filter: string): StoreEntry[] {
    const out: StoreEntry[] = [];
    for (const entry of this.latest.values()) {
      if (entry.operation === 'PUT' && subjectMatches(filter, entry.key)) out.push(entry);
    }
    return out;
  }

  private write(key: string, value: Uint8Array, operation: 'PUT' | 'DEL'): number {
    const entry: StoreEntry = Object.freeze({
      key,
      value: operation === 'PUT' ? value.slice() : EMPTY,
      revision: ++this.revision,
      operation,
      createdMs: Date.now(),
    });
    // Delete first so the map iterates in revision order, the order JetStream delivers last values.
    this.latest.delete(key);
    this.latest.set(key, entry);
    for (const watch of this.watches) {
      if (subjectMatches(watch.filter, key)) watch.push(entry);
    }
    return entry.revision;
  }

  private assertLatest(key: string, revision: number): void {
    const current = this.latest.get(key)?.revision ?? 0;
    if (current !== revision) {
      throw new ConflictError(`key ${key} is at revision ${current}, not ${revision}`, {
        details: { key, expectedRevision: revision },
      });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new UnavailableError('the store is closed');
  }
}

