/**
 * The inputs of the deployment logic: the few facts about an app that deployments need
 * ({@link DeployableApp}) and the view of one running instance ({@link InstanceView}).
 *
 * These are deliberately smaller than the full app definition, so the deployment code does not
 * depend on the app module: the app module maps an app definition onto a `DeployableApp`
 * (see the field docs for where each comes from) and the scheduler maps its instance records onto
 * `InstanceView`s.
 *
 * @example
 * ```ts
 * const app: DeployableApp = {
 *   id: '/shop/web', version: '2024-05-01T10:00:00.000Z', instances: 3, dependencies: ['/shop/db'],
 *   upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
 *   killSelection: 'YOUNGEST_FIRST', backoffSeconds: 1, backoffFactor: 1.15, maxLaunchDelaySeconds: 300,
 *   hasHealthChecks: true, hasReadinessChecks: false, configHash: 'sha256:…',
 * };
 * ```
 * @module
 */
import { z } from 'zod';
import { KILL_SELECTIONS, type App, type KillSelection } from '../app/schema.js';
import { configHash } from '../app/version.js';

/**
 * How an app is replaced during a restart: Marathon's `upgradeStrategy`, plus Stoa's canary
 * `steps` and the deadline/rollback extensions.
 */
export interface DeployableUpgradeStrategy {
  /**
   * The fraction of `instances` (0 to 1) that must stay healthy (and, for new instances, ready)
   * throughout a restart; `ceil(minimumHealthCapacity * instances)` instances. Marathon's default is 1.
   */
  minimumHealthCapacity: number;
  /**
   * The fraction of `instances` (0 to 1) that may run on top of `instances` during a restart;
   * at most `instances + floor(maximumOverCapacity * instances)` instances. Marathon's default is 1.
   */
  maximumOverCapacity: number;
  /**
   * Stoa extension: canary steps. Each entry is a count of new instances (`1`) or a percentage of
   * `instances` (`"25%"`, rounded up); strictly increasing, the last one all instances. The restart
   * moves to the next step only when the current one has that many healthy and ready new instances.
   */
  steps?: readonly (number | string)[];
  /** Stoa extension: a restart that has not finished after this many seconds fails with `DEADLINE`. */
  deadlineSeconds?: number;
  /**
   * Stoa extension: a restart whose healthy-and-ready count has not grown for this many seconds
   * fails with `NO_PROGRESS`.
   */
  progressDeadlineSeconds?: number;
  /** Stoa extension: a failed deployment of this app is rolled back to its previous definition. */
  autoRollback?: boolean;
}

/**
 * What the deployment logic needs to know about one app. Fed from the app module's definition.
 */
export interface DeployableApp {
  /** The absolute app id, such as `/shop/web`. */
  id: string;
  /** The version of this definition (an ISO-8601 timestamp in Marathon). */
  version: string;
  /** How many instances should run. */
  instances: number;
  /**
   * Absolute ids of the apps (or groups: every app under that path) this app depends on. The
   * app module resolves relative ids first. Ids that match no app are ignored by the planner.
   */
  dependencies: readonly string[];
  /** How the app is replaced on a restart. */
  upgradeStrategy: DeployableUpgradeStrategy;
  /** Which instances go first when the app is scaled down. */
  killSelection: KillSelection;
  /** The launch delay after the first failure, in seconds. Marathon's default is 1. */
  backoffSeconds: number;
  /** The factor the launch delay grows by on each further failure (at least 1). Marathon's default is 1.15. */
  backoffFactor: number;
  /** The largest launch delay, in seconds; also how long a delay lasts without new failures. Marathon's default is 300. */
  maxLaunchDelaySeconds: number;
  /** Whether the app has health checks; without them a running instance counts as healthy. */
  hasHealthChecks: boolean;
  /** Whether the app has readiness checks; without them a running instance counts as ready. */
  hasReadinessChecks: boolean;
  /**
   * A digest of every field whose change needs the instances replaced. Marathon restarts on any
   * change except `instances` (and the version itself), so the app module should hash everything
   * else — command, resources, container, health checks, upgrade strategy, labels… A change of
   * this hash plans a `RestartApplication`; a change of `instances` alone a `ScaleApplication`.
   */
  configHash: string;
  /**
   * Whether the app is resident (has persistent volumes): it cannot run over capacity, so a
   * restart kills before it launches. Marathon requires `maximumOverCapacity` 0 for these.
   */
  resident?: boolean;
}

/** The state of an instance as the deployment logic sees it. Terminal instances are left out. */
export type InstanceState = 'staging' | 'running' | 'killing';

/** One instance of an app, as the scheduler knows it. */
export interface InstanceView {
  /** The instance id. */
  id: string;
  /** When it was launched (epoch milliseconds); orders instances for {@link KillSelection}. */
  startedAt: number;
  /** `staging` until the task runs, `running`, or `killing` once a kill has been sent. */
  state: InstanceState;
  /** The last health-check result (ignored when the app has no health checks). */
  healthy: boolean;
  /** The last readiness-check result (ignored when the app has no readiness checks). */
  ready: boolean;
}

/** The shape of a {@link DeployableUpgradeStrategy}, for checking untrusted input. */
export const DeployableUpgradeStrategySchema = z.object({
  minimumHealthCapacity: z.number().min(0).max(1),
  maximumOverCapacity: z.number().min(0).max(1),
  steps: z.array(z.union([z.number(), z.string()])).optional(),
  deadlineSeconds: z.number().positive().optional(),
  progressDeadlineSeconds: z.number().positive().optional(),
  autoRollback: z.boolean().optional(),
});

/** The shape of a {@link DeployableApp}, for checking untrusted input. Semantic rules live in `validate.ts`. */
export const DeployableAppSchema = z.object({
  id: z.string().min(1),
  version: z.string(),
  instances: z.number().int().min(0),
  dependencies: z.array(z.string()),
  upgradeStrategy: DeployableUpgradeStrategySchema,
  killSelection: z.enum(KILL_SELECTIONS),
  backoffSeconds: z.number().min(0),
  backoffFactor: z.number().min(1),
  maxLaunchDelaySeconds: z.number().min(0),
  hasHealthChecks: z.boolean(),
  hasReadinessChecks: z.boolean(),
  configHash: z.string(),
  resident: z.boolean().optional(),
}) satisfies z.ZodType<DeployableApp>;

/** Whether an instance serves: running, and healthy unless the app has no health checks. */
export function isHealthy(instance: InstanceView, hasHealthChecks: boolean): boolean {
  return instance.state === 'running' && (instance.healthy || !hasHealthChecks);
}

/**
 * Whether a new instance counts toward a deployment: running, healthy and ready (each check
 * counting as passed when the app has none).
 */
export function isHealthyAndReady(instance: InstanceView, app: Pick<DeployableApp, 'hasHealthChecks' | 'hasReadinessChecks'>): boolean {
  return isHealthy(instance, app.hasHealthChecks) && (instance.ready || !app.hasReadinessChecks);
}

/**
 * The facts of a stored app (its `version` set, see `stampVersion`) that deployments need: the
 * one mapping from the app module's {@link App} onto a {@link DeployableApp}. Stoa has no resident
 * apps; the config hash is the app module's `configHash`.
 */
export function toDeployableApp(app: App): DeployableApp {
  const { upgradeStrategy: s } = app;
  return {
    id: app.id,
    version: app.version ?? '',
    instances: app.instances,
    dependencies: [...app.dependencies],
    upgradeStrategy: {
      minimumHealthCapacity: s.minimumHealthCapacity,
      maximumOverCapacity: s.maximumOverCapacity,
      ...(s.steps === undefined ? {} : { steps: [...s.steps] }),
      ...(s.deadlineSeconds === undefined ? {} : { deadlineSeconds: s.deadlineSeconds }),
      ...(s.progressDeadlineSeconds === undefined ? {} : { progressDeadlineSeconds: s.progressDeadlineSeconds }),
      ...(s.autoRollback === undefined ? {} : { autoRollback: s.autoRollback }),
    },
    killSelection: app.killSelection,
    backoffSeconds: app.backoffSeconds,
    backoffFactor: app.backoffFactor,
    maxLaunchDelaySeconds: app.maxLaunchDelaySeconds,
    hasHealthChecks: app.healthChecks.length > 0,
    hasReadinessChecks: app.readinessChecks.length > 0,
    configHash: configHash(app),
  };
}
