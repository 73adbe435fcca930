/**
 * Batch job specs: the schema people write (YAML or JSON), its validation with errors that name
 * the field, and the resolved {@link JobSpec} the planner works from.
 *
 * @module
 */
export { formatPath, JobCycleError, JobSpecError, type JobSpecIssue } from './errors.js';
export {
  DEFAULT_BACKOFF_SECONDS,
  DEFAULT_GANG_TIMEOUT_SECONDS,
  DEFAULT_LOCALITY_WAIT_SECONDS,
  findCycle,
  MAX_GANG_SIZE,
  MAX_JOB_TASKS,
  type ParseJobSpecOptions,
  parseJobSpec,
  validateJobSpec,
} from './parse.js';
export {
  type JobSpec,
  type JobSpecInput,
  JobSpecInputSchema,
  type JsonValue,
  NAME_PATTERN,
  type PreferSpec,
  PreferSpecSchema,
  type StageSpec,
  type StageSpecInput,
  StageSpecInputSchema,
  type TaskResourcesSpec,
  TaskResourcesSpecSchema,
  type TaskRun,
  type TaskSpec,
  type TaskSpecInput,
  TaskSpecInputSchema,
} from './schema.js';
