/**
 * Scheduled and dependent jobs on Stoa with a Chronos-style REST API: {@link startChronos} runs
 * one instance (REST API on port 4400, leader election on the Store, the job runner on the
 * leader), {@link runChronosCli} is `stoa chronos`, {@link runJobsCli} is `stoa jobs`, and the
 * pure core (jobs, schedules, the engine, runs, the dependency graph) comes with them.
 *
 * @example
 * ```ts
 * import { startChronos } from '@stoa/framework-chronos';
 * await using chronos = await startChronos({ servers: 'nats://127.0.0.1:4222' });
 * await fetch(`${chronos.httpUrl}/v1/scheduler/iso8601`, {
 *   method: 'POST',
 *   body: JSON.stringify({ name: 'hello', command: 'echo hello', schedule: 'R/2030-01-01T00:00:00Z/PT1M' }),
 * });
 * ```
 * @module
 */

export * from './domain.js';
export { type ApiContext, createApi, quantile } from './api/http.js';
export { type ChronosEvent, JobRunner, type JobRunnerOptions, type JobView } from './scheduler.js';
export { type ChronosHandle, type ChronosOptions, type FailureNotification, startChronos } from './service.js';
export { ChronosState, emptyJobRecord, type JobRecord, jobKey, RUN_HISTORY_LIMIT } from './state.js';
export { CHRONOS_OPTIONS, runChronosCli, runJobsCli, type JobsCliIo } from './cli.js';

/** The version of this package. */
export const VERSION = '0.1.0';
