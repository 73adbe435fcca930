/**
 * Batch job planning, pure and clock-free: expanding a spec into tasks, the job's progress as a
 * state machine, delay scheduling for locality, and all-or-nothing gang placement.
 *
 * @module
 */
export { expandJob, launchIdOf, type PlannedTask, parseTaskId, taskIdOf, toResources } from './expand.js';
export {
  type DecideGangOptions,
  createGangHold,
  decideGang,
  forgetOffers,
  type GangAssignment,
  type GangDecision,
  type GangExecutor,
  type GangHold,
  type GangOffer,
  type GangPlan,
  type GangTask,
  holdOffers,
  type PlanGangOptions,
  planGang,
} from './gang.js';
export {
  activeCount,
  advanceJob,
  applyTaskStatus,
  BATCH_TASK_STATES,
  type BatchStatusUpdate,
  type BatchTaskState,
  type CreateJobStateOptions,
  cancelJob,
  createJobState,
  DEFAULT_MAX_LOSSES,
  failJob,
  isStageReady,
  type JobEffect,
  type JobEndReason,
  type JobRunState,
  type JobState,
  launchableTasks,
  MAX_BACKOFF_MS,
  markLaunching,
  nextWakeAt,
  recountJob,
  type StagePlan,
  type StageProgress,
  stageProgress,
  type TaskProgress,
  taskInputs,
} from './job-state.js';
export {
  allowedLevel,
  type ChooseTasksOptions,
  chooseTasksForOffer,
  type LocalityCandidate,
  type LocalityLevel,
  type LocalityOffer,
  localityLevels,
  matchLevel,
  type OfferChoice,
  offerPlace,
} from './locality.js';
export { DEFAULT_RESULT_LIMIT_BYTES, DEFAULT_STDOUT_TAIL_BYTES, type TaskInput, type TaskOutput } from './outputs.js';
