/**
 * The NATS bindings of Stoa's interfaces: `NatsTransport` (nats.js v3) and `NatsKvStore`
 * (JetStream KV). Kept apart from `@stoa/core` so the main entry stays free of I/O.
 *
 * @example
 * ```ts
 * import { NatsTransport, NatsKvStore } from '@stoa/core/nats';
 * const transport = await NatsTransport.connect({ servers: 'nats://127.0.0.1:4222' });
 * const store = await NatsKvStore.open(transport.connection, { bucket: 'stoa' });
 * ```
 * @module
 */
export * from './nats-transport.js';
export * from './nats-kv-store.js';
