/**
 * Where a deployment stands, whether it should go on, and how to undo it.
 *
 * - {@link deploymentStatus}: the `/v2/deployments` view — current step of how many, the current
 *   actions with their readiness-check results.
 * - {@link recordProgress} and {@link judgeProgress}: given the time (passed in), a deadline and
 *   when the deployment last made progress, `continue` or `failed` with a machine-readable reason;
 *   with `autoRollback`, the failure carries the plan that undoes the deployment.
 * - {@link rollbackPlan} and {@link deleteDeployment}: `DELETE /v2/deployments/{id}` rolls the
 *   deployment back (a new, forced deployment back to the original definitions of the apps it
 *   changed); with `force=true` it only cancels it, leaving the apps as they are.
 *
 * Deadlines, progress deadlines and auto-rollback are Stoa extensions; Marathon deployments wait
 * for ever.
 *
 * @example
 * ```ts
 * mark = recordProgress(mark, { step, healthy }, now);
 * const verdict = judgeProgress({ plan, mark, now, policy: policyOf(plan) });
 * if (verdict.kind === 'failed') fail(verdict.reason, verdict.message, verdict.rollback);
 * ```
 * @module
 */
import type { DeployableApp } from './deployable-app.js';
import { type AppMap, affectedApps, type DeploymentAction, type DeploymentPlan, planDeployment } from './plan.js';

/** The result of one readiness check of one instance (Marathon's `readinessCheckResults`). */
export interface ReadinessCheckResult {
  /** The name of the readiness check. */
  name: string;
  /** The instance checked. */
  instanceId: string;
  /** Whether the instance is ready. */
  ready: boolean;
  /** The last HTTP response of the check, when there was one. */
  lastResponse?: { status: number; contentType?: string; body?: string };
}

/** A current action with the readiness of its app's new instances. */
export interface CurrentAction extends DeploymentAction {
  /** The readiness-check results of the app's new instances. */
  readinessCheckResults: ReadinessCheckResult[];
}

/** A deployment as `/v2/deployments` shows it. */
export interface DeploymentStatus {
  /** The deployment id. */
  id: string;
  /** The version of the target. */
  version: string;
  /** The apps the deployment acts on. */
  affectedApps: string[];
  /** The current step, 1-based (Marathon's `currentStep`); 0 for a plan without steps. */
  step: number;
  /** How many steps there are (Marathon's `totalSteps`). */
  of: number;
  /** The actions of the current step. */
  currentActions: CurrentAction[];
  /** Over the current actions: how many readiness results say ready, of how many. */
  readiness: { ready: number; total: number };
}

/**
 * The status of `plan` at `step` (1-based, clamped to the plan), with the readiness-check results
 * by app id.
 */
export function deploymentStatus(
  plan: DeploymentPlan,
  step: number,
  readiness: ReadonlyMap<string, readonly ReadinessCheckResult[]> = new Map(),
): DeploymentStatus {
  const of = plan.steps.length;
  const current = of === 0 ? 0 : Math.min(Math.max(1, Math.trunc(step)), of);
  const actions = plan.steps[current - 1]?.actions ?? [];
  const currentActions = actions.map((action) => ({
    ...action,
    readinessCheckResults: [...(readiness.get(action.app) ?? [])],
  }));
  const results = currentActions.flatMap((action) => action.readinessCheckResults);
  return {
    id: plan.id,
    version: plan.version,
    affectedApps: affectedApps(plan),
    step: current,
    of,
    currentActions,
    readiness: { ready: results.filter((r) => r.ready).length, total: results.length },
  };
}

/** When a deployment started and when it last moved forward. Times are epoch milliseconds. */
export interface ProgressMark {
  /** When the deployment started. */
  startedAt: number;
  /** When it last made progress: started, moved to a later step, or gained a healthy instance. */
  lastProgressAt: number;
  /** The step (1-based) at the last progress. */
  step: number;
  /** The most healthy-and-ready new instances seen in that step. */
  healthy: number;
}

/** The mark of a deployment that starts at `now`. */
export function startProgress(now: number): ProgressMark {
  return { startedAt: now, lastProgressAt: now, step: 1, healthy: 0 };
}

/**
 * The mark after observing the deployment at `now`: progress is a later step, or more
 * healthy-and-ready new instances in the current step than ever before (an instance that fails
 * and comes back is not progress).
 */
export function recordProgress(mark: ProgressMark, observed: { step: number; healthy: number }, now: number): ProgressMark {
  if (observed.step > mark.step) return { ...mark, lastProgressAt: now, step: observed.step, healthy: observed.healthy };
  if (observed.step === mark.step && observed.healthy > mark.healthy) {
    return { ...mark, lastProgressAt: now, healthy: observed.healthy };
  }
  return mark;
}

/** When a deployment is given up. All optional: a deployment without any waits for ever, as in Marathon. */
export interface DeploymentPolicy {
  /** Fail with `DEADLINE` once the deployment has run this long. */
  deadlineSeconds?: number;
  /** Fail with `NO_PROGRESS` once the deployment has not moved forward for this long. */
  progressDeadlineSeconds?: number;
  /** Fail with `HEALTH_CHECKS_FAILING` once this many new instances have failed (died or were killed as unhealthy). */
  maxHealthFailures?: number;
  /** Roll back when the deployment fails (not when it is cancelled). */
  autoRollback?: boolean;
}

/**
 * The policy of a plan from the upgrade strategies of the target apps it acts on: the shortest
 * deadlines, and auto-rollback when any of them asks for it. `overrides` win.
 */
export function policyOf(plan: DeploymentPlan, overrides: DeploymentPolicy = {}): DeploymentPolicy {
  const strategies = affectedApps(plan)
    .map((id) => plan.target.get(id)?.upgradeStrategy)
    .filter((s) => s !== undefined);
  const shortest = (values: (number | undefined)[]): number | undefined => {
    const defined = values.filter((v) => v !== undefined);
    return defined.length > 0 ? Math.min(...defined) : undefined;
  };
  const policy: DeploymentPolicy = {};
  const deadlineSeconds = shortest(strategies.map((s) => s.deadlineSeconds));
  const progressDeadlineSeconds = shortest(strategies.map((s) => s.progressDeadlineSeconds));
  if (deadlineSeconds !== undefined) policy.deadlineSeconds = deadlineSeconds;
  if (progressDeadlineSeconds !== undefined) policy.progressDeadlineSeconds = progressDeadlineSeconds;
  if (strategies.some((s) => s.autoRollback === true)) policy.autoRollback = true;
  return { ...policy, ...overrides };
}

/** Why a deployment failed. */
export type FailureReason = 'NO_PROGRESS' | 'DEADLINE' | 'HEALTH_CHECKS_FAILING' | 'CANCELLED';

/** Whether a deployment goes on. */
export type ProgressVerdict =
  | {
      /** Keep going. */
      kind: 'continue';
    }
  | {
      /** Give up. */
      kind: 'failed';
      /** Why, for machines. */
      reason: FailureReason;
      /** Why, for people. */
      message: string;
      /** With `autoRollback` (and not when cancelled): the deployment that undoes this one. */
      rollback?: DeploymentPlan;
    };

/** What {@link judgeProgress} looks at. */
export interface ProgressInput {
  /** The deployment. */
  plan: DeploymentPlan;
  /** Its progress so far. */
  mark: ProgressMark;
  /** The time now, epoch milliseconds. */
  now: number;
  /** When to give up. */
  policy: DeploymentPolicy;
  /** Whether someone cancelled the deployment. @default false */
  cancelled?: boolean;
  /** New instances that failed (died, or were killed as unhealthy) during the deployment. @default 0 */
  healthFailures?: number;
  /** Where a rollback starts from and what it is called. @default rolls back from `plan.target`, id `<plan id>-rollback` */
  rollback?: Partial<RollbackOptions>;
}

/**
 * Whether a deployment goes on. The reasons are checked in this order: `CANCELLED`,
 * `HEALTH_CHECKS_FAILING`, `DEADLINE`, `NO_PROGRESS` — the most specific one wins.
 */
export function judgeProgress(input: ProgressInput): ProgressVerdict {
  const { plan, mark, now, policy } = input;
  const failures = input.healthFailures ?? 0;
  const ranSeconds = (now - mark.startedAt) / 1000;
  const idleSeconds = (now - mark.lastProgressAt) / 1000;

  let failure: { reason: FailureReason; message: string } | undefined;
  if (input.cancelled) {
    failure = { reason: 'CANCELLED', message: `deployment ${plan.id} was cancelled` };
  } else if (policy.maxHealthFailures !== undefined && failures >= policy.maxHealthFailures) {
    failure = {
      reason: 'HEALTH_CHECKS_FAILING',
      message: `${failures} new instance(s) failed or failed their health checks (limit ${policy.maxHealthFailures})`,
    };
  } else if (policy.deadlineSeconds !== undefined && ranSeconds >= policy.deadlineSeconds) {
    failure = { reason: 'DEADLINE', message: `deployment ${plan.id} did not finish within ${policy.deadlineSeconds}s` };
  } else if (policy.progressDeadlineSeconds !== undefined && idleSeconds >= policy.progressDeadlineSeconds) {
    failure = {
      reason: 'NO_PROGRESS',
      message: `deployment ${plan.id} made no progress for ${policy.progressDeadlineSeconds}s (step ${mark.step}, ${mark.healthy} healthy)`,
    };
  }
  if (!failure) return { kind: 'continue' };
  if (!policy.autoRollback || failure.reason === 'CANCELLED') return { kind: 'failed', ...failure };

  const rollback = rollbackPlan(plan, {
    id: input.rollback?.id ?? `${plan.id}-rollback`,
    version: input.rollback?.version ?? new Date(now).toISOString(),
    ...(input.rollback?.current ? { current: input.rollback.current } : {}),
  });
  return { kind: 'failed', ...failure, rollback };
}

/** What a rollback needs from the caller. */
export interface RollbackOptions {
  /** The id of the rollback deployment. */
  id: string;
  /** Its version (the time of the rollback). */
  version: string;
  /** The apps as they are now. @default the plan's target */
  current?: AppMap;
}

function sameDefinition(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(aRecord), ...Object.keys(bRecord)]);
  for (const key of keys) if (!sameDefinition(aRecord[key], bRecord[key])) return false;
  return true;
}

/**
 * The apps with the changes of `plan` undone on `current` (Marathon's `DeploymentPlanReverter`):
 * each app the plan changed or removed gets its original definition back, each app it added is
 * removed; apps the plan did not change keep whatever `current` has (another deployment may have
 * changed them since).
 */
export function revertApps(plan: DeploymentPlan, current: AppMap = plan.target): Map<string, DeployableApp> {
  const reverted = new Map(current);
  const ids = new Set([...plan.original.keys(), ...plan.target.keys()]);
  for (const id of [...ids].sort()) {
    const before = plan.original.get(id);
    const after = plan.target.get(id);
    if (sameDefinition(before, after)) continue;
    if (before) reverted.set(id, before);
    else reverted.delete(id);
  }
  return reverted;
}

/** The deployment that undoes `plan`: from the current apps back to the plan's original definitions. */
export function rollbackPlan(plan: DeploymentPlan, options: RollbackOptions): DeploymentPlan {
  const current = options.current ?? plan.target;
  return planDeployment(current, revertApps(plan, current), { id: options.id, version: options.version });
}

/** What `DELETE /v2/deployments/{id}` does. */
export type DeleteOutcome =
  | {
      /** `force=true`: stop the deployment where it is (Marathon answers 202). */
      kind: 'cancel';
      /** The deployment to cancel. */
      cancel: string;
    }
  | {
      /** Cancel the deployment and start `plan`, which rolls it back (Marathon answers 200 with its id). */
      kind: 'rollback';
      /** The deployment to cancel. */
      cancel: string;
      /** The rollback deployment, to be started as a forced deployment. */
      plan: DeploymentPlan;
    };

/**
 * `DELETE /v2/deployments/{id}`: without `force`, cancel the deployment and roll it back with a
 * new (forced) deployment; with `force`, only cancel it and leave the apps as they are.
 */
export function deleteDeployment(plan: DeploymentPlan, options: RollbackOptions & { force: boolean }): DeleteOutcome {
  if (options.force) return { kind: 'cancel', cancel: plan.id };
  return { kind: 'rollback', cancel: plan.id, plan: rollbackPlan(plan, options) };
}
