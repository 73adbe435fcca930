/**
 * The NATS bindings of Stoa's interfaces: `NatsTransport` (nats.js v3) and `NatsKvStore`
 * (JetStream KV). Kept apart from `@stoa/core` so the main entry stays free of I/O.
 *
 * @module
 */
export {};
