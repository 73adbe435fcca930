/**
 * Durable key/value state: the registry of the master and the state of the frameworks.
 *
 * Keys are dotted tokens of `[-/_=.a-zA-Z0-9]` (as JetStream KV allows), so `agents.a-1` and
 * `frameworks.f-9` group naturally and watch filters use NATS wildcards (`agents.>`).
 * Values are bytes; the codec turns them into validated records. Every write returns the new
 * revision, and {@link Store.update} is a compare-and-set on it: this is the one primitive the
 * leader lease, the registry and the frameworks' state all stand on.
 *
 * Two implementations share one conformance suite: `NatsKvStore` (JetStream KV, replicated by
 * Raft in a NATS cluster) and {@link MemoryStore}.
 *
 * @example
 * ```ts
 * const rev = await store.create('leader', bytes);        // AlreadyExistsError if present
 * await store.update('leader', next, rev);                // ConflictError if someone else wrote
 * for await (const e of await store.watch({ key: 'agents.>' })) apply(e);
 * ```
 * @module
 */

import { ValidationError } from '../errors.js';

/** One revision of one key. */
export interface StoreEntry {
  /** The key. */
  readonly key: string;
  /** The value; empty for a delete. */
  readonly value: Uint8Array;
  /** The revision, increasing across the whole store. */
  readonly revision: number;
  /** `PUT` for a value, `DEL` for a delete. */
  readonly operation: 'PUT' | 'DEL';
  /** When the store wrote it, in ms since the epoch (the server's clock for NATS). */
  readonly createdMs: number;
}

/** Options of {@link Store.watch}. */
export interface StoreWatchOptions {
  /** A key or a filter with `*` and `>`. @default every key (`>`) */
  key?: string;
  /**
   * `last`: first the current value of each matching key (deletes left out), then every change;
   * `updates`: only changes made after the watch started.
   * @default 'last'
   */
  include?: 'last' | 'updates';
}

/**
 * A running watch: iterate it for entries in revision order; `stop()` ends it.
 *
 * A watch converges on the store's state but is not a log of every write: a value overwritten or
 * deleted before the watch delivered it may be skipped (JetStream KV with history 1 drops the
 * older revision, and a watcher on a replica can fall behind by a batch). The latest revision of
 * every key it covers is always delivered. `MemoryStore` happens to deliver every change.
 */
export interface StoreWatch extends AsyncIterable<StoreEntry> {
  /** Ends the watch; the iterator finishes. */
  stop(): void;
}

/**
 * The store. Reads of a missing (or deleted) key return `null`. A closed store throws
 * `UnavailableError`. Keys that are not valid throw `ValidationError` naming the key.
 */
export interface Store {
  /** What implementation this is (`nats-kv`, `memory`). */
  readonly kind: string;
  /** The latest entry of a key, or `null`. */
  get(key: string): Promise<StoreEntry | null>;
  /** Writes unconditionally; returns the new revision. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Writes only if the key is absent (or deleted); else `AlreadyExistsError`. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes only if the key's latest revision is `revision`; else `ConflictError`. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Deletes a key; with `revision`, only if that is still its latest (else `ConflictError`). */
  delete(key: string, options?: { revision?: number }): Promise<void>;
  /** The keys present (not deleted), optionally under a filter with `*` and `>`. */
  keys(filter?: string): Promise<string[]>;
  /** Watches a key or filter. */
  watch(options?: StoreWatchOptions): Promise<StoreWatch>;
  /** Releases the store's resources (not the data). */
  close(): Promise<void>;
}

const KEY = /^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/;
const FILTER = /^([-/_=a-zA-Z0-9]+|\*)(\.([-/_=a-zA-Z0-9]+|\*))*(\.>)?$|^>$/;

/** Whether a key is valid in every Store implementation. */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}

/** Whether a watch or keys filter is valid (a key, or a pattern with `*` and a final `>`). */
export function isValidKeyFilter(filter: string): boolean {
  return FILTER.test(filter);
}

/** Throws a {@link ValidationError} naming `key` unless it is a valid key. */
export function assertKey(key: string): void {
  if (typeof key !== 'string' || !isValidKey(key)) {
    throw new ValidationError(`invalid store key: ${JSON.stringify(key)}`, { details: { field: 'key', key } });
  }
}

/** Throws a {@link ValidationError} naming `field` unless `filter` is a valid key filter. */
export function assertFilter(filter: string, field: string): void {
  if (typeof filter !== 'string' || !isValidKeyFilter(filter)) {
    throw new ValidationError(`invalid store key filter: ${JSON.stringify(filter)}`, { details: { field, key: filter } });
  }
}

/** Throws a {@link ValidationError} naming `revision` unless it is a positive integer. */
export function assertRevision(revision: number): void {
  if (!Number.isSafeInteger(revision) || revision < 1) {
    throw new ValidationError(`revision must be a positive integer: ${revision}`, { details: { field: 'revision' } });
  }
}
