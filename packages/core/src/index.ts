/**
 * The Stoa protocol: message schemas and types, the msgpack codec, subject names, the resource
 * algebra, error codes, and the `Transport` and `Store` interfaces with in-memory implementations.
 * The NATS implementations live in `@stoa/core/nats`.
 *
 * @module
 */
export * from './errors.js';
export * from './subjects.js';
export type * from './transport/transport.js';
export * from './transport/index.js';
export * from './store/store.js';
export * from './store/index.js';
export * from './resources/index.js';
export * from './protocol/index.js';
export * from './codec.js';
export * from './validate.js';
export * from './leader.js';
