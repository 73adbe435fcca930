/**
 * On-demand batch jobs on Stoa: stages, retries, locality, gang scheduling.
 *
 * Run the framework with {@link startBatch} (or `stoa batch serve`); submit jobs over its REST API
 * on port 4500 (or `stoa batch submit job.yaml --wait`).
 *
 * @module
 */

export { DEFAULT_BATCH_PORT, DEFAULT_BUNDLE_SIZE, DEFAULT_MAX_TASKS_PER_OFFER, type BatchHandle, type BatchOptions, startBatch } from './service.js';
export { BatchScheduler, type BatchSchedulerOptions, type JobSummary } from './scheduler.js';
export type { BatchEvent, BatchEventListener } from './events.js';
export { BatchMetrics } from './metrics.js';
export { type HttpApiHandle, type HttpApiOptions, startHttpApi, TASKS_INLINE_LIMIT } from './api/http.js';
export { JobStateStore, type JobStateStoreOptions, type JobSpecRecord, JobSpecRecordSchema, type StateLogger, type StoredJob, TASKS_PER_PAGE } from './state.js';
export { BATCH_OPTIONS, type BatchCliIo, runBatchCli, runBatchComponentCli } from './cli.js';
export * from './executor/index.js';
export * from './plan/index.js';
export * from './spec/index.js';

/** The version of this package. */
export const VERSION = '0.1.0';
