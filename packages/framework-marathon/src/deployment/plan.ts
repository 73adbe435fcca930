/**
 * Deployment plans: the steps that take a set of apps from one definition to another, in
 * dependency order, as Marathon's `DeploymentPlan` does.
 *
 * A plan is a list of steps run one after the other; the actions of a step run side by side.
 * Built from the original and the target apps:
 *
 * 1. **Stop** the apps the target no longer has, dependents before what they depend on (one step
 *    per dependency layer, deepest first — Marathon documents "app is removed first and then db").
 * 2. **Start** the new apps, all in one step, with no instances yet (Marathon's `StartApplication`
 *    with `scaleTo` 0).
 * 3. Then one step per dependency layer of the target, what is depended on first: **Scale** the
 *    new apps and the apps whose instance count alone changed, **Restart** the apps whose
 *    configuration changed. An app's layer is the length of the longest dependency chain below it,
 *    computed over all the target's apps (as Marathon's `runSpecsGroupedByLongestPath`), so an app
 *    always comes after everything it depends on, whether or not that changed too.
 *
 * Two deployments that touch the same app conflict; Marathon rejects the second with 409 unless
 * it is forced, which cancels the first (see {@link admitDeployment}).
 *
 * @example
 * ```ts
 * const plan = planDeployment(current, proposed, { id: randomUUID(), version: new Date(now).toISOString() });
 * const admission = admitDeployment(plan, running, { force: false });
 * if (admission.kind === 'conflict') reply(409, admission.conflicts);
 * ```
 * @module
 */
import type { DeployableApp } from './deployable-app.js';
import { dependencyLayers } from '../app/groups.js';

/** Apps by id. */
export type AppMap = ReadonlyMap<string, DeployableApp>;

/** The kinds of action a deployment step holds; the names of Marathon's `/v2/deployments`. */
export type DeploymentActionName = 'StartApplication' | 'ScaleApplication' | 'RestartApplication' | 'StopApplication';

/** One action of a step: what to do to which app. */
export interface DeploymentAction {
  /** What to do. */
  action: DeploymentActionName;
  /** The app id. */
  app: string;
}

/** A step of a plan: actions that may run side by side. */
export interface DeploymentStep {
  /** The actions of the step, ordered by app id. */
  actions: DeploymentAction[];
}

/** A deployment: the steps from `original` to `target`. */
export interface DeploymentPlan {
  /** The deployment id. */
  id: string;
  /** The version of the target (an ISO-8601 timestamp in Marathon). */
  version: string;
  /** The apps before the deployment. */
  original: AppMap;
  /** The apps after the deployment. */
  target: AppMap;
  /** The steps, run one after another. */
  steps: DeploymentStep[];
}

/** What the planner cannot make up itself: identity and time come from the caller. */
export interface PlanOptions {
  /** The id of the new deployment. */
  id: string;
  /** The version of the target (the time of the change). */
  version: string;
  /**
   * Apps to restart even if their definition did not change (`POST /v2/apps/{id}/restart`).
   * @default none
   */
  restart?: Iterable<string>;
}

/**
 * What a deployment does to one app between two definitions (the app module's `AppChange` says
 * which fields differ; this says what that means for the app's instances).
 */
export type AppTransition = 'start' | 'stop' | 'restart' | 'scale' | 'none';

/**
 * How an app changes: `start` when new, `stop` when gone, `restart` when its `configHash` changed
 * (with or without a new instance count), `scale` when only `instances` changed, else `none`.
 */
export function appTransition(from: DeployableApp | undefined, to: DeployableApp | undefined): AppTransition {
  if (!from) return to ? 'start' : 'none';
  if (!to) return 'stop';
  if (from.configHash !== to.configHash) return 'restart';
  if (from.instances !== to.instances) return 'scale';
  return 'none';
}

/**
 * The dependency layer of every app: 1 for an app that depends on nothing, else one more than
 * the deepest of its dependencies (Marathon's longest path), from the app module's
 * `dependencyLayers`. Throws its `DependencyCycleError` naming the cycle when there is one.
 */
function layerOf(apps: AppMap): Map<string, number> {
  const layers = new Map<string, number>();
  dependencyLayers([...apps.values()]).forEach((layer, i) => {
    for (const app of layer) layers.set(app.id, i + 1);
  });
  return layers;
}

/** Groups ids by layer, in ascending layer order, each group sorted. */
function byLayer(ids: Iterable<string>, layers: ReadonlyMap<string, number>): string[][] {
  const groups = new Map<number, string[]>();
  for (const id of ids) {
    const layer = layers.get(id) ?? 1;
    const group = groups.get(layer);
    if (group) group.push(id);
    else groups.set(layer, [id]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, group]) => group.sort());
}

function stepOf(action: DeploymentActionName, ids: readonly string[]): DeploymentStep {
  return { actions: ids.map((app) => ({ action, app })) };
}

/**
 * Plans the deployment from `from` to `to`. Throws the app module's `DependencyCycleError` when the
 * dependencies of either side form a cycle.
 */
export function planDeployment(from: AppMap, to: AppMap, options: PlanOptions): DeploymentPlan {
  const forced = new Set(options.restart ?? []);
  const originalLayers = layerOf(from);
  const targetLayers = layerOf(to);

  const stopped = [...from.keys()].filter((id) => !to.has(id));
  const started = [...to.keys()].filter((id) => !from.has(id)).sort();

  const steps: DeploymentStep[] = [];
  for (const layer of byLayer(stopped, originalLayers).reverse()) steps.push(stepOf('StopApplication', layer));
  steps.push(stepOf('StartApplication', started));

  const changed = [...to.keys()].filter((id) => appTransition(from.get(id), to.get(id)) !== 'none' || (forced.has(id) && from.has(id)));
  for (const layer of byLayer(changed, targetLayers)) {
    steps.push({
      actions: layer.map((app) => {
        const change = appTransition(from.get(app), to.get(app));
        const restart = change === 'restart' || (change !== 'start' && forced.has(app));
        return { action: restart ? 'RestartApplication' : 'ScaleApplication', app };
      }),
    });
  }

  return {
    id: options.id,
    version: options.version,
    original: from,
    target: to,
    steps: steps.filter((step) => step.actions.length > 0),
  };
}

/** The ids of the apps a plan acts on, sorted. */
export function affectedApps(plan: Pick<DeploymentPlan, 'steps'>): string[] {
  return [...new Set(plan.steps.flatMap((step) => step.actions.map((action) => action.app)))].sort();
}

/** A running deployment that touches some of the same apps. */
export interface DeploymentConflict {
  /** The id of the running deployment. */
  deploymentId: string;
  /** The apps both touch, sorted. */
  apps: string[];
}

/** The running deployments `plan` conflicts with: those that touch any of the same apps. */
export function conflicts(plan: DeploymentPlan, running: Iterable<DeploymentPlan>): DeploymentConflict[] {
  const mine = new Set(affectedApps(plan));
  const found: DeploymentConflict[] = [];
  for (const other of running) {
    if (other.id === plan.id) continue;
    const apps = affectedApps(other).filter((id) => mine.has(id));
    if (apps.length > 0) found.push({ deploymentId: other.id, apps });
  }
  return found;
}

/** Whether a new deployment may start next to the running ones. */
export type Admission =
  | {
      /** It may start, after the deployments in `cancel` (conflicting ones, when forced) are cancelled. */
      kind: 'admit';
      /** The ids of the running deployments to cancel first. */
      cancel: string[];
    }
  | {
      /** It may not start: answer 409 with the conflicts. */
      kind: 'conflict';
      /** The running deployments in the way. */
      conflicts: DeploymentConflict[];
    };

/**
 * Marathon's admission rule: a deployment that touches an app another running deployment
 * touches is refused (409) — unless `force`, when the running ones are cancelled (not rolled back).
 */
export function admitDeployment(
  plan: DeploymentPlan,
  running: Iterable<DeploymentPlan>,
  options: { force: boolean },
): Admission {
  const found = conflicts(plan, running);
  if (found.length === 0) return { kind: 'admit', cancel: [] };
  if (options.force) return { kind: 'admit', cancel: found.map((c) => c.deploymentId) };
  return { kind: 'conflict', conflicts: found };
}
