/**
 * Scaling an app that is not being restarted: how many instances to launch, and which ones to
 * kill, in Marathon's order.
 *
 * Marathon (`ScalingProposition`) kills instances already sentenced first, then by condition —
 * unreachable, staging, starting, running — and within a condition by `killSelection`. Its doc
 * comment puts unhealthy instances before staging ones but its code leaves health out (a TODO);
 * Stoa follows the comment: unhealthy running instances go first, then staging ones, then healthy
 * ones, and within each group `killSelection` decides (ties broken by id, so the result is
 * deterministic).
 *
 * @example
 * ```ts
 * const { launch, kill } = scaleDecision(app, instances);
 * ```
 * @module
 */
import type { KillSelection } from '../app/schema.js';
import type { DeployableApp, InstanceView } from './deployable-app.js';

/** What to do to bring an app to its instance count. */
export interface ScaleActions {
  /** How many instances to launch. */
  launch: number;
  /** How many queued (not yet launched) launches to drop. */
  dequeue: number;
  /** The ids of the instances to kill, in the order to kill them. */
  kill: string[];
}

/** The instances of an app as the scale decision sees them. */
export interface ScaleSnapshot {
  /** The non-terminal instances; those already `killing` are not counted. */
  instances: readonly InstanceView[];
  /** Launches asked for that do not show among `instances` yet. @default 0 */
  queued?: number;
  /**
   * Instances that must be killed whatever the count (Marathon's `sentencedToDeath`, from
   * `DELETE /v2/apps/{id}/tasks?scale=true`); they are killed first and count toward the scale-down.
   */
  sentenced?: readonly string[];
}

// Lower ranks are killed first.
function killRank(instance: InstanceView, hasHealthChecks: boolean): number {
  if (instance.state === 'running') return hasHealthChecks && !instance.healthy ? 0 : 2;
  return 1; // staging
}

/** Whether `a` goes before `b` under `selection` alone (by start time, then id). */
function compareBySelection(selection: KillSelection, a: InstanceView, b: InstanceView): number {
  const byAge = selection === 'YOUNGEST_FIRST' ? b.startedAt - a.startedAt : a.startedAt - b.startedAt;
  return byAge !== 0 ? byAge : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Orders instances the way they should be killed: unhealthy running ones first (only when the app
 * has health checks), then staging ones, then healthy running ones; within each group by
 * `killSelection` (youngest or oldest `startedAt` first), ties by id. Instances already `killing`
 * are left out.
 */
export function orderForKill(
  instances: readonly InstanceView[],
  app: Pick<DeployableApp, 'killSelection' | 'hasHealthChecks'>,
): InstanceView[] {
  return instances
    .filter((instance) => instance.state !== 'killing')
    .sort(
      (a, b) =>
        killRank(a, app.hasHealthChecks) - killRank(b, app.hasHealthChecks) ||
        compareBySelection(app.killSelection, a, b),
    );
}

/**
 * Orders instances by `killSelection` alone (youngest or oldest `startedAt` first, ties by id),
 * for choosing among instances that are equally fit.
 */
export function orderBySelection(instances: readonly InstanceView[], selection: KillSelection): InstanceView[] {
  return [...instances].sort((a, b) => compareBySelection(selection, a, b));
}

/**
 * The scaling step for an app that is not being restarted: launch the missing instances, or drop
 * queued launches and then kill the surplus in {@link orderForKill} order. Sentenced instances
 * are always killed and counted toward the surplus (Marathon kills `max(surplus, sentenced)`); the
 * launches then make up for them.
 */
export function scaleDecision(
  app: Pick<DeployableApp, 'instances' | 'killSelection' | 'hasHealthChecks'>,
  snapshot: ScaleSnapshot,
): ScaleActions {
  const active = snapshot.instances.filter((instance) => instance.state !== 'killing');
  const sentencedIds = new Set(snapshot.sentenced ?? []);
  const sentenced = orderBySelection(
    active.filter((instance) => sentencedIds.has(instance.id)),
    app.killSelection,
  );
  const rest = orderForKill(
    active.filter((instance) => !sentencedIds.has(instance.id)),
    app,
  );
  const queued = snapshot.queued ?? 0;

  const surplus = rest.length + queued - app.instances;
  if (surplus <= 0) {
    return { launch: Math.max(0, -surplus), dequeue: 0, kill: sentenced.map((i) => i.id) };
  }
  // Not-yet-launched instances are the cheapest to give up.
  const dequeue = Math.min(queued, surplus);
  const kill = [...sentenced, ...rest.slice(0, surplus - dequeue)].map((i) => i.id);
  return { launch: 0, dequeue, kill };
}
