/**
 * The Stoa master: registry, DRF allocator, offers, task and agent lifecycle, operator API over
 * NATS and HTTP.
 *
 * @example
 * ```ts
 * import { startMaster } from '@stoa/master';
 * import { NatsTransport, NatsKvStore } from '@stoa/core/nats';
 *
 * const transport = await NatsTransport.connect({ servers: 'nats://127.0.0.1:4222' });
 * const store = await NatsKvStore.open(transport.connection, { bucket: 'stoa-master' });
 * await using master = await startMaster({ transport, store, http: { port: 5050 } });
 * ```
 * @module
 */
export { type MasterHandle, startMaster } from './master.js';
export type { MasterOptions } from './options.js';
export type { MasterContext } from './context.js';
export { MASTER_OPTIONS, runMasterCli } from './cli.js';
