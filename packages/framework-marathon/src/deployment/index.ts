/**
 * Marathon-style deployments as pure, deterministic code: plans in dependency order, the rolling
 * restart, scaling, strategy validation, progress and rollback, and the launch backoff. Nothing
 * here does I/O or reads a clock — the scheduler passes the time and the instances in and carries
 * the decisions out.
 *
 * @example
 * ```ts
 * import { planDeployment, nextRestartActions } from './deployment/index.js';
 * const plan = planDeployment(current, proposed, { id, version });
 * const next = nextRestartActions({ target, old, new: fresh });
 * ```
 * @module
 */
export {
  type BackoffConfig,
  LaunchBackoff,
  launchDelaySeconds,
} from './backoff.js';
export {
  type CanaryStep,
  canaryStepCount,
  ceilCount,
  floorCount,
  parseCanaryStep,
  type RestartBounds,
  resolveCanarySteps,
  restartBounds,
} from './capacity.js';
export {
  type DeployableApp,
  DeployableAppSchema,
  type DeployableUpgradeStrategy,
  DeployableUpgradeStrategySchema,
  type InstanceState,
  type InstanceView,
  isHealthy,
  isHealthyAndReady,
  toDeployableApp,
} from './deployable-app.js';
export { type StrategyIssue, UpgradeStrategyError } from './errors.js';
export {
  type Admission,
  type AppMap,
  type AppTransition,
  admitDeployment,
  affectedApps,
  appTransition,
  conflicts,
  type DeploymentAction,
  type DeploymentActionName,
  type DeploymentConflict,
  type DeploymentPlan,
  type DeploymentStep,
  type PlanOptions,
  planDeployment,
} from './plan.js';
export {
  type CurrentAction,
  type DeleteOutcome,
  type DeploymentPolicy,
  type DeploymentStatus,
  deleteDeployment,
  deploymentStatus,
  type FailureReason,
  judgeProgress,
  type ProgressInput,
  type ProgressMark,
  type ProgressVerdict,
  policyOf,
  type ReadinessCheckResult,
  type RollbackOptions,
  recordProgress,
  revertApps,
  rollbackPlan,
  startProgress,
} from './progress.js';
export {
  nextRestartActions,
  type RestartActions,
  type RestartSnapshot,
  type RestartStep,
} from './restart.js';
export { orderBySelection, orderForKill, type ScaleActions, type ScaleSnapshot, scaleDecision } from './scale.js';
export { assertDeployable, validateDeployable } from './validate.js';
