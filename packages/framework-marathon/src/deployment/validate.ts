/**
 * Checks, before a deployment starts, that an app's definition is one a deployment can carry
 * out, naming the field at fault.
 *
 * The rules, and where they come from:
 *
 * - `minimumHealthCapacity` and `maximumOverCapacity` lie between 0 and 1; `backoffFactor` is at
 *   least 1; `instances`, `backoffSeconds` and `maxLaunchDelaySeconds` are not negative (Marathon's
 *   app validation).
 * - A resident app has `maximumOverCapacity` 0: its instances are bound to their reservations,
 *   so there is nowhere to start an extra one (Marathon's `validForResidentTasks`).
 * - Canary `steps` (Stoa): the app module's one rule set (`upgradeStepProblems`), which checks
 *   the form only — whole counts of at least 1, then percentages in (0, 100], each strictly
 *   increasing, the last `"100%"`. Steps are resolved against the instances of the moment by
 *   `resolveCanarySteps`, which clamps a count above `instances` rather than failing.
 * - `minimumHealthCapacity` 1 with `maximumOverCapacity` 0 (more exactly: a health floor equal to
 *   the capacity) leaves no room to start a new instance before killing an old one. Marathon does
 *   not reject it: it runs one instance over capacity (or, for a resident app, one below the
 *   floor) to get going. Stoa does the same, so this is a warning, not an error.
 *
 * @example
 * ```ts
 * const issues = validateDeployable(app); // [{ field: 'upgradeStrategy.steps[1]', code: 'STEPS_NOT_INCREASING', … }]
 * assertDeployable(app); // throws UpgradeStrategyError on the first error
 * ```
 * @module
 */
import type { z } from 'zod';
import { upgradeStepProblems } from '../app/validate.js';
import { restartBounds } from './capacity.js';
import { type DeployableApp, DeployableAppSchema } from './deployable-app.js';
import { type StrategyIssue, UpgradeStrategyError } from './errors.js';

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function shapeIssue(issue: z.core.$ZodIssue): StrategyIssue {
  const code = issue.code === 'too_small' || issue.code === 'too_big' ? 'OUT_OF_RANGE' : 'INVALID';
  return { field: formatPath(issue.path), code, message: issue.message, severity: 'error' };
}

function error(field: string, code: string, message: string): StrategyIssue {
  return { field, code, message, severity: 'error' };
}

function stepIssues(steps: readonly (number | string)[]): StrategyIssue[] {
  return upgradeStepProblems(steps).map((p) =>
    error(p.index === undefined ? 'upgradeStrategy.steps' : `upgradeStrategy.steps[${p.index}]`, p.code, p.message),
  );
}

/**
 * Everything that stands in the way of deploying `app`, errors and warnings, in the order found.
 * An empty list means it can be deployed as it is.
 */
export function validateDeployable(app: unknown): StrategyIssue[] {
  const parsed = DeployableAppSchema.safeParse(app);
  if (!parsed.success) return parsed.error.issues.map(shapeIssue);
  const valid = parsed.data;

  const issues: StrategyIssue[] = [];
  const { upgradeStrategy } = valid;
  if (valid.resident && upgradeStrategy.maximumOverCapacity !== 0) {
    issues.push(
      error(
        'upgradeStrategy.maximumOverCapacity',
        'RESIDENT_OVER_CAPACITY',
        'must be 0 for a resident app: its instances are bound to their reservations, there is nowhere to start an extra one',
      ),
    );
  }
  if (upgradeStrategy.steps) issues.push(...stepIssues(upgradeStrategy.steps));

  const bounds = restartBounds(valid);
  if (bounds.overCapacityAllowance > 0) {
    issues.push({
      field: 'upgradeStrategy.maximumOverCapacity',
      code: 'OVER_CAPACITY_BY_ONE',
      message: `minimumHealthCapacity ${upgradeStrategy.minimumHealthCapacity} leaves no room under maximumOverCapacity ${upgradeStrategy.maximumOverCapacity}: a restart will run one instance over capacity`,
      severity: 'warning',
    });
  }
  if (bounds.underCapacityAllowance > 0) {
    issues.push({
      field: 'upgradeStrategy.minimumHealthCapacity',
      code: 'UNDER_FLOOR_BY_ONE',
      message: `a resident app with minimumHealthCapacity ${upgradeStrategy.minimumHealthCapacity} and no over-capacity: a restart will go one instance below the floor`,
      severity: 'warning',
    });
  }
  return issues;
}

/**
 * Throws {@link UpgradeStrategyError} listing the errors when `app` cannot be deployed; warnings
 * do not stop it.
 */
export function assertDeployable(app: unknown): asserts app is DeployableApp {
  const errors = validateDeployable(app).filter((issue) => issue.severity === 'error');
  if (errors.length === 0) return;
  const id = typeof app === 'object' && app !== null && typeof (app as { id?: unknown }).id === 'string' ? (app as { id: string }).id : '(app)';
  throw new UpgradeStrategyError(id, errors);
}
