/**
 * The batch executor: a long-lived custom executor per agent that runs many short batch tasks
 * (module functions in-process, commands as child processes), and the helpers a scheduler uses to
 * launch tasks on it and read what they return.
 *
 * @module
 */
export { BatchExecutor, type BatchExecutorOptions, type BatchExecutorState, type ExecutorLink } from './batch-executor.js';
export { type AbortReason, type CommandTaskOptions, type CommandTaskResult, runCommandTask } from './command-task.js';
export {
  BATCH_EXECUTOR_ID,
  DEFAULT_MAX_TASK_DATA_BYTES,
  type BatchBundleInfoOptions,
  type BatchExecutorInfoOptions,
  type BatchTaskInfoOptions,
  batchBundleInfo,
  batchExecutorInfo,
  batchTaskInfo,
} from './executor-info.js';
export { type BatchTaskContext, type BatchTaskFunction, type ModuleTaskResult, runModuleTask, toResult } from './module-task.js';
export { type RunBatchExecutorOptions, runBatchExecutor } from './run-executor.js';
export { TailBuffer } from './tail-buffer.js';
export {
  type BatchBundlePayload,
  BatchBundlePayloadSchema,
  type BatchTaskPayload,
  BatchTaskPayloadSchema,
  type BundleReport,
  BundleReportSchema,
  decodeBundleReport,
  decodeTaskData,
  decodeTaskOutput,
  decodeTaskPayload,
  encodeBundlePayload,
  encodeBundleReport,
  encodeTaskOutput,
  encodeTaskPayload,
  MEMBER_END_STATES,
  type MemberEnd,
  TaskOutputSchema,
} from './task-data.js';
