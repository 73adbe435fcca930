/**
 * Write Stoa frameworks: everything a framework author imports, in one package. It re-exports
 * `@stoa/core` (message types and schemas, the codec, subjects, errors, resources, the
 * `Transport` interface and `MemoryTransport`) and adds the clients: {@link SchedulerClient}
 * (subscription, heartbeats, acknowledgements, built-in reconciliation), the operator client,
 * and {@link LossyTransport} for testing a framework against lost messages.
 *
 * @example
 * ```ts
 * import { SchedulerClient } from '@stoa/sdk';
 * await using client = await SchedulerClient.connect({ framework: { name: 'hello', principal: 'alice' } });
 * client.on('OFFERS', (e) => client.decline(e.offers.map((o) => o.id)));
 * ```
 * @module
 */

export * from '@stoa/core';
export {
  type LossRule,
  type LossRuleOptions,
  LossyTransport,
  type LossyTransportOptions,
} from './lossy-transport.js';
export { OperatorClient, type OperatorClientOptions } from './operator-client.js';
export * from './placement/index.js';
export {
  ExecutorClient,
  type ExecutorClientLogger,
  type ExecutorClientOptions,
  type ExecutorClientState,
  type ExecutorEventHandler,
  type ExecutorEventOf,
  type ExecutorStatusInput,
} from './executor-client.js';
export {
  type ClusterAddress,
  type ClusterFile,
  ClusterFileSchema,
  clusterFilePath,
  DEFAULT_DATA_DIR,
  type DiscoverOptions,
  discoverCluster,
  NoClusterError,
  readClusterFile,
  writeClusterFile,
} from './cluster-file.js';
export {
  type Clock,
  type ReconcileBackoff,
  Reconciler,
  type ReconcilerOptions,
  type ReconcileTarget,
  systemClock,
} from './reconciler.js';
export {
  type KillRequest,
  SchedulerClient,
  type SchedulerClientLogger,
  type SchedulerClientOptions,
  type SchedulerClientState,
  type SchedulerClientStats,
  type SchedulerEventHandler,
  type SchedulerEventOf,
  TaskView,
  type TrackedTask,
} from './scheduler-client.js';

/** The version of this package. */
export const VERSION = '0.1.0';
