/**
 * The error of deployments: {@link UpgradeStrategyError} for an app whose strategy could never be
 * carried out. A `ValidationError` of `@stoa/core` (code `VALIDATION_ERROR`), so an API that maps
 * Stoa errors to HTTP answers a client error for it, with `field` naming the offending field.
 * (Dependency cycles are the app module's `DependencyCycleError`.)
 *
 * @example
 * ```ts
 * try { assertDeployable(app); }
 * catch (e) { if (UpgradeStrategyError.isInstance(e)) reply(422, e.message); else throw e; }
 * ```
 * @module
 */
import { ValidationError } from '@stoa/sdk';

const STRATEGY_MARKER = Symbol.for('stoa.marathon.UpgradeStrategyError');

/** One reason an app cannot be deployed as defined. */
export interface StrategyIssue {
  /** The field at fault, as a dotted path: `upgradeStrategy.steps[2]`. */
  field: string;
  /** A machine-readable code: `OUT_OF_RANGE`, `STEPS_NOT_INCREASING`… */
  code: string;
  /** What is wrong, for people. */
  message: string;
  /** `error` stops the deployment; `warning` only tells what the deployment will do about it. */
  severity: 'error' | 'warning';
}

/**
 * An app whose definition a deployment could never carry out. `message` describes the first
 * issue, `issues` lists them all, `field` is the first issue's field.
 */
export class UpgradeStrategyError extends ValidationError {
  /** Everything wrong, in the order found. */
  readonly issues: readonly StrategyIssue[];

  constructor(appId: string, issues: readonly StrategyIssue[], options?: ErrorOptions) {
    const first = issues[0] ?? { field: '', code: 'INVALID', message: 'invalid upgrade strategy', severity: 'error' };
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(`${appId}: ${first.field}: ${first.message}${more}`, {
      ...options,
      details: { field: first.field, app: appId, issues: issues.map((i) => ({ ...i })) },
    });
    this.name = 'UpgradeStrategyError';
    this.issues = issues;
    Object.defineProperty(this, STRATEGY_MARKER, { value: true });
  }

  /** True for an {@link UpgradeStrategyError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is UpgradeStrategyError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[STRATEGY_MARKER] === true;
  }
}
