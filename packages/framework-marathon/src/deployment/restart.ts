/**
 * The restart algorithm: replacing the instances of an app with instances of a new version
 * without dropping below the health floor or going over capacity. Marathon's `TaskReplaceActor`,
 * recast as a pure function of a snapshot so the scheduler can call it after every status update.
 *
 * The rules, with `minHealthy` and `maxCapacity` from {@link restartBounds}:
 *
 * - **Kill old instances only as new ones become healthy and ready.** Old instances that serve
 *   nothing (staging, or failing their health checks) are killed at once: that costs no
 *   availability. Healthy old instances are killed while the healthy count — healthy old plus
 *   healthy-and-ready new — stays at or above `minHealthy`, youngest or oldest first per
 *   `killSelection`. At the start this is Marathon's `nrToKillImmediately`; later it is its "kill
 *   one old instance for each new one that becomes healthy and ready".
 * - **Launch while there is room.** Every instance counts toward capacity until it is gone
 *   (an old one being killed too), so a launch never takes the total over `maxCapacity`.
 * - **Break the one deadlock.** When `minHealthy == maxCapacity` (say 1 and 0 as the strategy)
 *   nothing can move once the app is at capacity; then, like Marathon, a non-resident app may run
 *   one instance over capacity and a resident app (which cannot) kills one old instance below
 *   the floor. Stoa does this only when nothing else is in flight.
 * - **Canary steps** (Stoa): within step `k` only `steps[k]` new instances are launched, and old
 *   ones are killed only down to `instances - steps[k]`; the restart moves on when `steps[k]` new
 *   instances are healthy and ready.
 * - **Done** when `instances` new instances are healthy and ready and no old instance is left.
 *
 * @example
 * ```ts
 * const next = nextRestartActions({ target: app, old, new: fresh, queued: 0 });
 * launch(next.launch); kill(next.kill);
 * if (next.complete) finishStep();
 * ```
 * @module
 */
import { type RestartBounds, resolveCanarySteps, restartBounds } from './capacity.js';
import { type DeployableApp, type InstanceView, isHealthy, isHealthyAndReady } from './deployable-app.js';
import { orderBySelection } from './scale.js';

/** Everything the restart algorithm looks at: the target definition and the instances now. */
export interface RestartSnapshot {
  /** The new definition being rolled out. */
  target: DeployableApp;
  /** The non-terminal instances of earlier versions, including those being killed. */
  old: readonly InstanceView[];
  /** The non-terminal instances of the target version, including those being killed. */
  new: readonly InstanceView[];
  /**
   * Launches asked for (by an earlier decision) that do not show in `new` yet. The caller either
   * adds a staging instance to `new` for each launch at once, or counts it here. @default 0
   */
  queued?: number;
  /**
   * Whether the old version had health checks; without them a running old instance counts as
   * healthy. @default target.hasHealthChecks
   */
  oldHasHealthChecks?: boolean;
  /**
   * The canary step reached so far (0-based), as returned in `step.index` by the previous
   * decision, so a new instance that fails later does not move the restart back a step. @default 0
   */
  reachedStep?: number;
}

/** Where a restart stands in its canary steps (one step of all instances without canary steps). */
export interface RestartStep {
  /** The current step, 0-based. */
  index: number;
  /** How many steps there are. */
  of: number;
  /** How many healthy and ready new instances finish the current step. */
  target: number;
}

/** The next move of a restart. */
export interface RestartActions {
  /** How many new instances to launch now. */
  launch: number;
  /** The ids of old instances to kill now, in order. */
  kill: string[];
  /** Whether the restart is finished: `instances` new instances healthy and ready, no old ones left. */
  complete: boolean;
  /** The canary step the restart is in. */
  step: RestartStep;
  /** Healthy old instances plus healthy-and-ready new ones, before these actions. */
  healthy: number;
  /** The bounds the decision kept to. */
  bounds: RestartBounds;
}

/** The next actions of a restart, from a snapshot of its instances. Pure and deterministic. */
export function nextRestartActions(snapshot: RestartSnapshot): RestartActions {
  const { target } = snapshot;
  const queued = snapshot.queued ?? 0;
  const bounds = restartBounds(target);
  const oldHasHealthChecks = snapshot.oldHasHealthChecks ?? target.hasHealthChecks;

  const newHealthy = snapshot.new.filter((i) => isHealthyAndReady(i, target)).length;
  const oldHealthy = snapshot.old.filter((i) => isHealthy(i, oldHasHealthChecks));
  const oldUseless = snapshot.old.filter((i) => i.state !== 'killing' && !isHealthy(i, oldHasHealthChecks));
  const oldAlive = snapshot.old.filter((i) => i.state !== 'killing').length;
  const healthy = oldHealthy.length + newHealthy;

  const step = currentStep(target, newHealthy, snapshot.reachedStep ?? 0);
  const complete = newHealthy >= target.instances && snapshot.old.length === 0;
  if (complete) return { launch: 0, kill: [], complete, step, healthy, bounds };

  // Old instances that serve nothing go first: killing them costs no availability.
  const kill = oldUseless.map((i) => i.id);
  // In a canary step, keep enough old instances that old plus the step's new make `instances`.
  const oldToKeep = target.instances - step.target;
  const byFloor = healthy - bounds.minHealthy;
  const byCanary = oldAlive - kill.length - oldToKeep;
  const healthyToKill = Math.max(0, Math.min(byFloor, byCanary, oldHealthy.length));
  const healthyByChoice = orderBySelection(oldHealthy, target.killSelection);
  kill.push(...healthyByChoice.slice(0, healthyToKill).map((i) => i.id));

  const total = snapshot.old.length + snapshot.new.length + queued;
  const started = snapshot.new.length + queued;
  let launch = Math.max(0, Math.min(step.target - started, bounds.maxCapacity - total));

  // The deadlock of minHealthy == maxCapacity: nothing to kill, no room to launch, nothing in
  // flight that could change that. Marathon's way out: one over capacity, or for a resident app
  // (no room for an extra instance) one below the floor.
  const inFlight =
    queued > 0 ||
    snapshot.new.some((i) => !isHealthyAndReady(i, target)) ||
    snapshot.old.some((i) => i.state === 'killing');
  if (launch === 0 && kill.length === 0 && !inFlight) {
    if (bounds.overCapacityAllowance > 0 && started < step.target) {
      launch = Math.max(0, Math.min(step.target - started, bounds.maxCapacity + bounds.overCapacityAllowance - total));
    } else if (bounds.underCapacityAllowance > 0 && byCanary > 0) {
      kill.push(...healthyByChoice.slice(0, bounds.underCapacityAllowance).map((i) => i.id));
    }
  }
  return { launch, kill, complete, step, healthy, bounds };
}

function currentStep(target: DeployableApp, newHealthy: number, reachedStep: number): RestartStep {
  const targets = resolveCanarySteps(target.upgradeStrategy.steps, target.instances);
  let index = Math.min(Math.max(0, reachedStep), targets.length - 1);
  while (index < targets.length - 1 && newHealthy >= (targets[index] ?? 0)) index++;
  return { index, of: targets.length, target: targets[index] ?? target.instances };
}
