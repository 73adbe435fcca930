/**
 * The app definition layer of the Marathon framework, pure and without I/O: the schema of a
 * Marathon v2 app definition and its strict validation (POST, PUT and PATCH semantics), app and
 * group ids, the group tree and dependency order, constraints for the SDK's placement, the
 * `TaskInfo` of an instance, and versions.
 *
 * @example
 * ```ts
 * import { AppValidationError, buildTaskInfo, dependencyLayers, parseApp, stampVersion } from './app/index.js';
 * const app = stampVersion(parseApp(body), undefined, new Date());
 * ```
 * @module
 */

export {
  type ConstraintFieldKind,
  constraintFieldKind,
  constraintProblems,
  MARATHON_CONSTRAINT_OPERATORS,
  type MarathonConstraint,
  type MarathonConstraintOperator,
  toPlacementConstraints,
} from './constraints.js';
export {
  formatDouble,
  LABEL_ENV_PREFIX,
  labelEnvironment,
  labelEnvName,
  MAX_ENV_VALUE_LENGTH,
  portEnvironment,
  type TaskEnvironmentOptions,
  taskEnvironment,
} from './env.js';
export {
  appsUnder,
  buildGroupTree,
  DependencyCycleError,
  dependencyEdges,
  dependencyLayers,
  type DependencyNode,
  type Group,
  type GroupOptions,
  type GroupSpec,
  idConflicts,
  type MissingDependency,
  missingDependencies,
} from './groups.js';
export {
  ancestorIds,
  appIdFromTaskId,
  appIdToHostname,
  checkAppId,
  checkId,
  type IdCheck,
  idSegmentProblem,
  idSegments,
  isAbsoluteId,
  isWithin,
  parentId,
  RESERVED_ID_SEGMENTS,
  ROOT_ID,
  resolveId,
  taskIdFor,
} from './ids.js';
export { type GroupUpdate, type GroupUpdateApp, type GroupUpdateNode, parseGroupUpdate, removedByGroupUpdate } from './group-update.js';
export {
  APP_DEFAULTS,
  type App,
  type AppDefinition,
  AppDefinitionSchema,
  type AppHealthCheck,
  type AppNetwork,
  type CheckedAppDefinition,
  type FetchUri,
  FetchUriSchema,
  HEALTH_CHECK_DEFAULTS,
  HEALTH_CHECK_PROTOCOLS,
  type HealthCheckProtocol,
  HealthCheckSchema,
  isTimestamp,
  KILL_SELECTIONS,
  type KillSelection,
  NetworkSchema,
  PORT_NAME_PATTERN,
  PORT_PROTOCOLS,
  type PortDefinition,
  PortDefinitionSchema,
  type PortProtocol,
  READINESS_CHECK_DEFAULTS,
  type ReadinessCheck,
  ReadinessCheckSchema,
  STATUS_FIELDS,
  TimestampSchema,
  UNSUPPORTED_FIELDS,
  type UnreachableStrategy,
  UnreachableStrategySchema,
  type UpgradeStep,
  UpgradeStepSchema,
  type UpgradeStrategy,
  UpgradeStrategySchema,
  type VersionInfo,
  VersionInfoSchema,
} from './schema.js';
export {
  type BuildTaskInfoOptions,
  buildTaskInfo,
  defaultTaskRole,
  fetchToCommandUris,
  taskCommand,
  taskResources,
  toTaskHealthCheck,
} from './task.js';
export {
  type AppValidationDetails,
  AppValidationError,
  formatPath,
  INVALID_OBJECT_MESSAGE,
  type InvalidObjectBody,
  mergeApp,
  type ParseAppOptions,
  parseApp,
  replaceApp,
  type SafeParseAppResult,
  SINGLE_INSTANCE_LABEL,
  safeParseApp,
  type UpgradeStepProblem,
  upgradeStepProblems,
  type ValidationDetail,
} from './validate.js';
export { type AppChange, type AppChangeKind, compareVersions, configHash, diffApps, formatVersion, isVersion, stampVersion } from './version.js';
