/**
 * Long-running services on Stoa with a Marathon-style REST API: {@link startMarathon} runs the
 * service (scheduler, REST API, HA); the app definition layer (`parseApp`, groups, constraints,
 * task info, versions) and the deployment planner (plans, the restart algorithm, backoff) are
 * public too, for tools and tests.
 *
 * @example
 * ```ts
 * import { startMarathon } from '@stoa/framework-marathon';
 * await using marathon = await startMarathon({ servers: 'nats://127.0.0.1:4222', httpPort: 8080 });
 * ```
 * @module
 */

export * from './app/index.js';
export * from './deployment/index.js';
export { type AppsCliIo, MARATHON_OPTIONS, runAppsCli, runMarathonCli } from './cli.js';
export { EventBus, type EventBusOptions, MARATHON_EVENT_TYPES, type MarathonEvent, type MarathonEventType } from './events.js';
export {
  DECLINE_REASONS,
  type DeclineReason,
  type DeploymentRef,
  MarathonScheduler,
  type MarathonSchedulerOptions,
  type OfferStats,
  type ReadinessAnswer,
  type RunningDeployment,
  type TaskFailure,
} from './scheduler.js';
export { type MarathonHandle, type MarathonOptions, startMarathon } from './service.js';
export { type DeploymentRecord, type InstanceRecord, type InstanceState, type LoadedState, MarathonState } from './state.js';

/** The version of this package. */
export const VERSION = '0.1.0';
