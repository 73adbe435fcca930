/**
 * Implementations of the `Transport` interface that need no I/O: {@link MemoryTransport}
 * and the {@link MemoryBus} several of them share. The NATS one lives in `@stoa/core/nats`.
 *
 * @example
 * ```ts
 * const bus = new MemoryBus();
 * const a = MemoryTransport.create({ bus });
 * const b = MemoryTransport.create({ bus });
 * ```
 * @module
 */
export { MemoryBus, MemoryTransport, type MemoryTransportOptions } from './memory.js';
