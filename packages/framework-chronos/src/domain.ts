/**
 * The pure core of the Chronos framework in one import: job definitions, schedules, the fire-time
 * engine, runs and the dependency graph. No I/O: time comes from an injected clock and timers
 * from an injected scheduler. The package's public barrel (`index.ts`) re-exports what it offers
 * from here.
 *
 * @example
 * ```ts
 * import { JobGraph, parseJob, ScheduleEngine } from './domain.js';
 * const engine = new ScheduleEngine({ onDue: (name, at, kind) => queueRun(name, at, kind) });
 * engine.upsert(parseJob(body));
 * ```
 * @module
 */

export {
  DependencyCycleError,
  type FieldIssue,
  httpStatusOf,
  InvalidRunTransitionError,
  JobHasChildrenError,
  JobValidationError,
  type SchedulePart,
  ScheduleParseError,
  UnknownParentError,
  type ValidationResponseBody,
} from './errors.js';
export {
  CATCH_UP_POLICIES,
  type CatchUpPolicy,
  CONCURRENCY_POLICIES,
  type ConcurrencyPolicy,
  DEFAULT_EPSILON,
  type EnvironmentVariable,
  emptyJobStats,
  type FetchUri,
  isScheduled,
  JOB_NAME_PATTERN,
  JOB_STATS_FIELDS,
  type Job,
  JobInputSchema,
  type JobStats,
  type ParseJobOptions,
  type ParseJobResult,
  parseJob,
  safeParseJob,
  startWindowMs,
} from './job/schema.js';
export { CronSchedule, parseCronSchedule } from './schedule/cron.js';
export {
  addIsoDuration,
  fixedDurationMs,
  formatInstant,
  formatIso8601Schedule,
  formatIsoDuration,
  type IsoDuration,
  Iso8601Schedule,
  type Iso8601ScheduleParts,
  parseIso8601Schedule,
  parseIsoDuration,
} from './schedule/iso8601.js';
export { type DueKind, type DueRun, type DueRunsOptions, type DueRunsResult, dueRuns, dueRunsOf } from './schedule/next.js';
export { isIso8601Expression, parseSchedule, type Schedule } from './schedule/schedule.js';
export { isTimeZoneName, type TimeZone } from './schedule/zone.js';
export {
  type EngineClock,
  type EngineTimers,
  type JobScheduleState,
  MAX_TIMER_DELAY_MS,
  type MissedFireTimes,
  ScheduleEngine,
  type ScheduleEngineOptions,
  type ScheduleEngineState,
} from './engine/engine.js';
export { TimerHeap } from './engine/heap.js';
export { ManualClock, ManualTimers } from './engine/manual-time.js';
export {
  type Admission,
  admitRun,
  applyRunEvent,
  createRun,
  type CreateRunInput,
  deadlineOf,
  isActive,
  isTerminal,
  type LastStatus,
  lastStatusOf,
  RUN_STATUSES,
  recordOutcome,
  type Run,
  type RunEffect,
  type RunEvent,
  type RunOutcome,
  type RunOverrides,
  type RunStatus,
  type RunTransition,
  type RunTrigger,
  TERMINAL_RUN_STATUSES,
} from './run/run.js';
export { type DependencyState, type GraphJob, JobGraph, type RemovalResult, type RemoveJobOptions } from './graph/dag.js';
export {
  type GraphLayout,
  type JobActivity,
  layoutGraph,
  type NodeBox,
  type NodeStatus,
  type NodeStatusOf,
  renderCsv,
  renderDot,
  renderSvg,
  type SvgLayoutOptions,
} from './graph/render.js';
