/**
 * Implementations of the `Store` interface that need no I/O: {@link MemoryStore}. The NATS one
 * (`NatsKvStore`, over JetStream KV) lives in `@stoa/core/nats`.
 *
 * @example
 * ```ts
 * const store = MemoryStore.create();
 * const rev = await store.put('agents.a-1', bytes);
 * ```
 * @module
 */
export { MemoryStore } from './memory.js';
