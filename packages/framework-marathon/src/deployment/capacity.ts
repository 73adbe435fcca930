/**
 * The numbers an upgrade strategy stands for: the health floor, the capacity ceiling and the
 * canary steps, each rounded the way Marathon rounds them.
 *
 * @example
 * ```ts
 * restartBounds(app); // { minHealthy: 3, maxCapacity: 6, overCapacityAllowance: 0 } for 3 instances at (1, 1)
 * resolveCanarySteps([1, '25%', '100%'], 10); // [1, 3, 10]
 * ```
 * @module
 */
import type { DeployableApp } from './deployable-app.js';

// Fractions such as 0.07 * 100 come out as 7.000000000000001 in binary floating point; Marathon
// rounds the raw double (and would ask for 8 healthy instances). We forgive the last bits so that
// the numbers match what a person computes.
const EPSILON = 1e-9;

/** `ceil(x)`, forgiving floating-point noise just above an integer. */
export function ceilCount(x: number): number {
  return Math.max(0, Math.ceil(x - EPSILON));
}

/** `floor(x)`, forgiving floating-point noise just below an integer. */
export function floorCount(x: number): number {
  return Math.max(0, Math.floor(x + EPSILON));
}

/** The bounds a restart works within. */
export interface RestartBounds {
  /** Instances that must stay healthy: `ceil(minimumHealthCapacity * instances)` (Marathon's `minHealthy`). */
  minHealthy: number;
  /** Instances that may exist at once: `instances + floor(maximumOverCapacity * instances)` (Marathon's `maxCapacity`). */
  maxCapacity: number;
  /**
   * Extra instances allowed over `maxCapacity` when nothing else can move: 1 when `minHealthy`
   * equals `maxCapacity` for a non-resident app (Marathon: "allow temporary over-capacity of one
   * instance to allow restarting"), else 0.
   */
  overCapacityAllowance: number;
  /**
   * Instances the health floor may be undercut by when nothing else can move: 1 when `minHealthy`
   * equals `maxCapacity` for a resident app (Marathon kills one instance below `minHealthy`), else 0.
   */
  underCapacityAllowance: number;
}

/** The bounds of a restart of `app`, from its upgrade strategy. */
export function restartBounds(app: Pick<DeployableApp, 'instances' | 'upgradeStrategy' | 'resident'>): RestartBounds {
  const { instances, upgradeStrategy } = app;
  const minHealthy = ceilCount(instances * upgradeStrategy.minimumHealthCapacity);
  const maxCapacity = instances + floorCount(instances * upgradeStrategy.maximumOverCapacity);
  const deadlocked = instances > 0 && minHealthy >= maxCapacity;
  return {
    minHealthy,
    maxCapacity,
    overCapacityAllowance: deadlocked && !app.resident ? 1 : 0,
    underCapacityAllowance: deadlocked && app.resident ? 1 : 0,
  };
}

/** A parsed canary step: an absolute count or a percentage of the instances. */
export type CanaryStep = { kind: 'count'; count: number } | { kind: 'percent'; percent: number };

const PERCENT = /^(\d+(?:\.\d+)?)%$/;

/** Parses one entry of `upgradeStrategy.steps`; `undefined` when it is neither a count nor a percentage. */
export function parseCanaryStep(step: number | string): CanaryStep | undefined {
  if (typeof step === 'number') {
    return Number.isInteger(step) && step >= 1 ? { kind: 'count', count: step } : undefined;
  }
  const match = PERCENT.exec(step.trim());
  if (!match) return undefined;
  const percent = Number(match[1]);
  return percent > 0 && percent <= 100 ? { kind: 'percent', percent } : undefined;
}

/** The number of new instances a canary step asks for: a count as is, a percentage rounded up. */
export function canaryStepCount(step: CanaryStep, instances: number): number {
  return step.kind === 'count' ? step.count : ceilCount((step.percent * instances) / 100);
}

/**
 * The targets of each canary step for `instances` instances: one target per step, strictly
 * increasing, the last one `instances`. Without steps, one step of all instances.
 *
 * This never throws (a restart in flight must go on): entries that do not parse are skipped,
 * targets are capped at `instances`, targets that rounding makes equal to the one before are
 * merged, and `instances` is appended when the last step falls short. `validate.ts` rejects such
 * definitions up front.
 */
export function resolveCanarySteps(steps: readonly (number | string)[] | undefined, instances: number): number[] {
  const targets: number[] = [];
  for (const raw of steps ?? []) {
    const step = parseCanaryStep(raw);
    if (!step) continue;
    const target = Math.min(canaryStepCount(step, instances), instances);
    const last = targets.at(-1) ?? 0;
    if (target > last) targets.push(target);
  }
  if ((targets.at(-1) ?? -1) < instances) targets.push(instances);
  return targets;
}
