/**
 * The leader's engine: it keeps the apps' instances running and carries deployments out, talking
 * to the master through the SDK's `SchedulerClient`.
 *
 * One mechanism drives everything: after every event (offers, status updates, an API change, a
 * timer) {@link MarathonScheduler} runs a *tick* that, app by app, finds the app's goal — the
 * definition it should run and whether it is being scaled, restarted or stopped, from the
 * deployment in progress or else the app's current definition — and asks the pure deployment
 * code what to do (`scaleDecision`, `nextRestartActions`). Launches become `scheduled` instances
 * (written to the Store first), which offers then place with `placeTasks`; kills go to the master.
 * A deployment moves to its next step when every action of its step is done.
 *
 * @example
 * ```ts
 * const scheduler = await MarathonScheduler.start({ client, state, loaded, events, logger });
 * const { deploymentId } = await scheduler.deploy(nextApps, { force: false });
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import {
  ConflictError,
  type ExistingTask,
  isTerminalState,
  type Offer,
  type Operation,
  placeTasks,
  type SchedulerClient,
  type TaskDemand,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
} from '@stoa/sdk';
import type { Logger } from 'pino';
import { toPlacementConstraints } from './app/constraints.js';
import { appIdToHostname, taskIdFor } from './app/ids.js';
import type { App } from './app/schema.js';
import { buildTaskInfo, defaultTaskRole, taskResources } from './app/task.js';
import { configHash, formatVersion } from './app/version.js';
import { LaunchBackoff } from './deployment/backoff.js';
import { type DeployableApp, type InstanceView, isHealthy, isHealthyAndReady, toDeployableApp } from './deployment/deployable-app.js';
import { admitDeployment, type DeploymentPlan, planDeployment } from './deployment/plan.js';
import { judgeProgress, policyOf, type ProgressMark, recordProgress, revertApps, startProgress } from './deployment/progress.js';
import { nextRestartActions } from './deployment/restart.js';
import { scaleDecision } from './deployment/scale.js';
import type { EventBus } from './events.js';
import type { DeploymentRecord, InstanceRecord, LoadedState, MarathonState } from './state.js';

/** Marathon's reasons an offer did not fit an app (`processedOffersSummary`). */
export const DECLINE_REASONS = [
  'UnfulfilledRole',
  'UnfulfilledConstraint',
  'InsufficientCpus',
  'InsufficientMemory',
  'InsufficientDisk',
  'InsufficientGpus',
  'InsufficientPorts',
] as const;

/** A reason an offer did not fit an app. */
export type DeclineReason = (typeof DECLINE_REASONS)[number];

/** What the offers of the latest round said about an app that is waiting to launch. */
export interface OfferStats {
  /** Offers looked at for the app, in all. */
  processedOffersCount: number;
  /** Offers that fitted no instance of the app, in all. */
  unusedOffersCount: number;
  /** When an offer last fitted nothing (ISO-8601). */
  lastUnusedOfferAt?: string;
  /** When an offer last launched an instance (ISO-8601). */
  lastUsedOfferAt?: string;
  /** Per reason, of the latest round's offers: how many were processed and how many failed for it. */
  rejectSummaryLastOffers: { reason: DeclineReason; declined: number; processed: number }[];
  /** The latest round's unused offers, with why (Marathon's reasons and Stoa's details). */
  lastUnusedOffers: { offerId: string; agentId: string; hostname: string; timestamp: string; reason: DeclineReason[]; details: string[] }[];
}

/** The last failure of an app's task, as `lastTaskFailure` shows it. */
export interface TaskFailure {
  appId: string;
  host: string;
  message: string;
  state: TaskState;
  taskId: string;
  timestamp: string;
  version: string;
  slaveId: string | null;
}

/** A deployment in progress. */
export interface RunningDeployment {
  /** The stored record. */
  record: DeploymentRecord;
  /** The plan over the apps' deployable facts. */
  plan: DeploymentPlan;
  /** The full apps before and after. */
  original: Map<string, App>;
  target: Map<string, App>;
  /** Progress, for deadlines. */
  mark: ProgressMark;
}

/** The answer to a change: Marathon's `{ deploymentId, version }`. */
export interface DeploymentRef {
  deploymentId: string;
  version: string;
}

/** Options of {@link MarathonScheduler.start}. */
export interface MarathonSchedulerOptions {
  /** A subscribed client. */
  client: SchedulerClient;
  /** The Store records. */
  state: MarathonState;
  /** What the Store held at start. */
  loaded: LoadedState;
  /** Where events go. */
  events: EventBus;
  /** Where it logs. */
  logger: Logger;
  /** The clock (epoch ms). @default Date.now */
  now?: () => number;
  /** How often the tick runs without any event (timers: backoff, unreachable, deadlines). @default 500 */
  tickIntervalMs?: number;
  /** The decline filter for offers nothing fits. @default 5000 */
  refuseMs?: number;
  /** Called when an instance is launched (for metrics). */
  onLaunch?: (count: number) => void;
}

/** The latest answer of a task's readiness check. */
export interface ReadinessAnswer {
  /** Whether the status is one of `httpStatusCodesForReady`. */
  ready: boolean;
  /** The HTTP status, or `undefined` when the check got no answer (refused, timed out). */
  status?: number;
  /** The answer's content type. */
  contentType?: string;
  /** The answer's body, with `preserveLastResponse`. */
  body?: string;
}

/** A launch delay, per app. */
interface AppBackoff {
  backoff: LaunchBackoff;
}

/** What a batch of status updates changes, applied in memory and then sent and written at once. */
interface StatusBatch {
  /** The instances to write, by task id (`undefined`: to delete); the last change of each wins. */
  writes: Map<string, InstanceRecord | undefined>;
  /** Tasks Marathon does not know, to kill. */
  kills: { taskId: string; agentId?: string }[];
  /** The events, emitted once the writes landed. */
  events: (() => void)[];
}

/** Terminal states that count as a failure for the launch backoff (a kill does not). */
const FAILURE_STATES: ReadonlySet<TaskState> = new Set(['TASK_FAILED', 'TASK_FINISHED', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_LOST', 'TASK_GONE', 'TASK_UNKNOWN']);

/** The leader's engine. See the module documentation. */
export class MarathonScheduler {
  /** The apps as they are to be, by id. */
  readonly apps = new Map<string, App>();
  /** Every stored version of every app, oldest first. */
  readonly versions = new Map<string, App[]>();
  /** The instances, by task id. */
  readonly instances = new Map<string, InstanceRecord>();
  /** The deployments in progress, by id, in the order they started. */
  readonly deployments = new Map<string, RunningDeployment>();
  /** Why offers did not fit, per app waiting to launch. */
  readonly offerStats = new Map<string, OfferStats>();
  /** The last task failure per app. */
  readonly lastFailures = new Map<string, TaskFailure>();
  /** Since when each app has instances waiting to launch (epoch ms). */
  readonly queuedSince = new Map<string, number>();
  /** The latest readiness-check answer per task, for `readinessCheckResults`. */
  readonly readinessResults = new Map<string, ReadinessAnswer>();

  private readonly backoffs = new Map<string, AppBackoff>();
  private readonly client: SchedulerClient;
  private readonly state: MarathonState;
  private readonly events: EventBus;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly refuseMs: number;
  private readonly readinessInFlight = new Set<string>();
  private tickScheduled = false;
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private suppressed = false;
  private lastLaunchable = 0;
  private stopped = false;
  private readonly offHandlers: (() => void)[] = [];

  private constructor(private readonly options: MarathonSchedulerOptions) {
    this.client = options.client;
    this.state = options.state;
    this.events = options.events;
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.refuseMs = options.refuseMs ?? 5000;
  }

  /** Loads the stored state, reconciles the stored instances, and starts ticking. */
  static async start(options: MarathonSchedulerOptions): Promise<MarathonScheduler> {
    const scheduler = new MarathonScheduler(options);
    scheduler.load(options.loaded);
    scheduler.listen();
    const placed = [...scheduler.instances.values()].filter((i) => i.agentId !== undefined);
    if (placed.length > 0) await options.client.reconcile(placed.map((i) => ({ taskId: i.taskId, ...(i.agentId ? { agentId: i.agentId } : {}) })));
    scheduler.timer = setInterval(() => scheduler.requestTick(), options.tickIntervalMs ?? 500);
    scheduler.timer.unref();
    scheduler.requestTick();
    return scheduler;
  }

  /** Stops ticking and listening; the tasks keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const off of this.offHandlers) off();
    await this.state.flush();
  }

  private load(loaded: LoadedState): void {
    for (const [id, list] of loaded.versions) {
      this.versions.set(id, list);
      const current = list.at(-1);
      if (current) this.apps.set(id, current);
    }
    for (const instance of loaded.instances) this.instances.set(instance.taskId, instance);
    for (const record of loaded.deployments.sort((a, b) => a.startedAt - b.startedAt)) {
      // The deployment is written before its apps: make sure its targets are the apps' current versions.
      for (const app of record.target) {
        if (this.apps.get(app.id)?.version !== app.version) {
          this.apps.set(app.id, app);
          this.versions.set(app.id, [...(this.versions.get(app.id) ?? []), app]);
          void this.state.putAppVersion(app);
        }
      }
      const targetIds = new Set(record.target.map((a) => a.id));
      for (const app of record.original) if (!targetIds.has(app.id)) this.apps.delete(app.id);
      this.deployments.set(record.id, this.running(record, startProgress(this.now())));
    }
  }

  private running(record: DeploymentRecord, mark: ProgressMark): RunningDeployment {
    const original = new Map(record.original.map((a) => [a.id, a]));
    const target = new Map(record.target.map((a) => [a.id, a]));
    const plan: DeploymentPlan = { id: record.id, version: record.version, original: deployables(original), target: deployables(target), steps: record.steps };
    return { record, plan, original, target, mark };
  }

  /** Runs `work` when no tick, change, offer round or status batch is running: they all go one at a time. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lock.then(work, work);
    this.lock = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private listen(): void {
    this.offHandlers.push(
      this.client.on('OFFERS', (event) => this.exclusive(() => this.onOffers(event.offers))),
      this.client.on('UPDATE', (event) => this.exclusive(() => this.onStatuses(event.statuses))),
      this.client.on('RESCIND', () => this.requestTick()),
    );
  }

  // ---- the API's changes ---------------------------------------------------------------------

  /**
   * Deploys `next` (every app, as it is to be; versions already stamped): plans, admits (a
   * `ConflictError` with the deployments in the way unless `force`), writes the deployment and
   * the app versions, and starts it. `next` may be a function of the current apps: it runs when
   * no other change does, so concurrent changes to different apps do not undo each other.
   */
  deploy(
    next: ReadonlyMap<string, App> | ((current: ReadonlyMap<string, App>) => ReadonlyMap<string, App>),
    options: { force?: boolean; restart?: string[] } = {},
  ): Promise<DeploymentRef> {
    return this.thenTick(this.exclusive(() => this.deployNow(typeof next === 'function' ? next(this.apps) : next, options)));
  }

  /**
   * Queues a tick right behind a change, before any offer round or status batch that arrives
   * meanwhile: the change's scheduled instances exist (and offers are revived) before the next
   * offers are looked at, so no offer round in between declines everything for `refuseMs`.
   */
  private thenTick<T>(change: Promise<T>): Promise<T> {
    void this.exclusive(() => this.tick());
    return change;
  }

  private async deployNow(next: ReadonlyMap<string, App>, options: { force?: boolean; restart?: string[] }): Promise<DeploymentRef> {
    const now = this.now();
    const id = randomUUID();
    const version = formatVersion(new Date(now));
    const touched = [...new Set([...this.apps.keys(), ...next.keys()])].filter(
      (appId) => this.apps.get(appId) !== next.get(appId) || options.restart?.includes(appId),
    );
    const original = new Map(touched.flatMap((appId) => (this.apps.has(appId) ? [[appId, this.apps.get(appId)!] as const] : [])));
    const target = new Map(touched.flatMap((appId) => (next.has(appId) ? [[appId, next.get(appId)!] as const] : [])));
    const plan = planDeployment(deployables(new Map(this.apps)), deployables(new Map(next)), { id, version, ...(options.restart ? { restart: options.restart } : {}) });
    const admission = admitDeployment(
      plan,
      [...this.deployments.values()].map((d) => d.plan),
      { force: options.force ?? false },
    );
    if (admission.kind === 'conflict') {
      const ids = admission.conflicts.map((c) => c.deploymentId);
      throw new ConflictError(`App is locked by one or more deployments. Override with the option '?force=true'. Deployments: ${ids.join(', ')}`, {
        details: { deployments: ids.map((d) => ({ id: d })) },
      });
    }
    for (const cancel of admission.cancel) await this.finishDeployment(cancel, 'cancelled');

    const record: DeploymentRecord = {
      id,
      version,
      original: [...original.values()],
      target: [...target.values()],
      restart: options.restart ?? [],
      steps: plan.steps,
      step: 0,
      startedAt: now,
      reachedStep: {},
    };
    await this.state.putDeployment(record);
    for (const app of target.values()) {
      if (this.versions.get(app.id)?.some((v) => v.version === app.version)) continue;
      await this.state.putAppVersion(app);
      this.versions.set(app.id, [...(this.versions.get(app.id) ?? []), app]);
    }
    for (const appId of original.keys()) {
      if (next.has(appId)) continue;
      await this.state.deleteApp(appId);
      this.versions.delete(appId);
    }
    this.apps.clear();
    for (const [appId, app] of next) this.apps.set(appId, app);
    const running = this.running(record, startProgress(now));
    this.deployments.set(id, running);
    this.events.emit('deployment_info', { plan: planJson(running), currentStep: stepJson(running, 0) });
    this.requestTick();
    return { deploymentId: id, version };
  }

  /**
   * `DELETE /v2/deployments/{id}`: with `force`, stops the deployment where it is; without, stops
   * it and starts a (forced) deployment back to the apps' definitions before it.
   */
  cancelDeployment(id: string, options: { force: boolean }): Promise<DeploymentRef | undefined> {
    return this.thenTick(this.exclusive(async () => {
      const deployment = this.deployments.get(id);
      if (!deployment) return undefined;
      await this.finishDeployment(id, 'cancelled');
      if (options.force) return undefined;
      return this.deployNow(this.reverted(deployment), { force: true });
    }));
  }

  /** The apps with `deployment`'s changes undone (as `revertApps` decides), versions stamped now. */
  private reverted(deployment: RunningDeployment): Map<string, App> {
    const current = new Map(this.apps);
    const revertedIds = revertApps(deployment.plan, deployables(current));
    const out = new Map<string, App>();
    const version = formatVersion(new Date(this.now()));
    for (const appId of revertedIds.keys()) {
      const before = deployment.original.get(appId);
      const now = current.get(appId);
      const changed = deployment.plan.target.get(appId) !== deployment.plan.original.get(appId);
      if (changed && before) out.set(appId, { ...before, version, versionInfo: { lastScalingAt: version, lastConfigChangeAt: version } });
      else if (now) out.set(appId, now);
    }
    return out;
  }

  /** Kills instances; with `scale`, the apps' instance counts go down by as many. */
  killInstances(taskIds: readonly string[], options: { scale?: boolean; wipe?: boolean } = {}): Promise<{ killed: InstanceRecord[]; deployment?: DeploymentRef }> {
    return this.thenTick(this.exclusive(() => this.killNow(taskIds, options)));
  }

  private async killNow(taskIds: readonly string[], options: { scale?: boolean; wipe?: boolean }): Promise<{ killed: InstanceRecord[]; deployment?: DeploymentRef }> {
    const killed = taskIds.map((id) => this.instances.get(id)).filter((i) => i !== undefined);
    for (const instance of killed) await this.kill(instance, options.wipe ? 'wipe' : 'kill');
    let deployment: DeploymentRef | undefined;
    if (options.scale) {
      const next = new Map(this.apps);
      const version = formatVersion(new Date(this.now()));
      for (const instance of killed) {
        const app = next.get(instance.appId);
        if (app) next.set(app.id, { ...app, instances: Math.max(0, app.instances - 1), version, versionInfo: { lastScalingAt: version, lastConfigChangeAt: app.versionInfo?.lastConfigChangeAt ?? version } });
      }
      deployment = await this.deployNow(next, { force: true });
    }
    this.requestTick();
    return { killed, ...(deployment ? { deployment } : {}) };
  }

  // ---- the tick ------------------------------------------------------------------------------

  /** Runs a tick soon (coalesced). */
  requestTick(): void {
    if (this.stopped || this.tickScheduled) return;
    this.tickScheduled = true;
    setImmediate(() => {
      void this.exclusive(() => {
        this.tickScheduled = false;
        return this.tick();
      });
    });
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      this.expireUnreachable();
      this.checkReadiness();
      for (const deployment of [...this.deployments.values()]) await this.advance(deployment);
      const appIds = new Set([...this.apps.keys(), ...[...this.instances.values()].map((i) => i.appId)]);
      for (const deployment of this.deployments.values()) for (const id of deployment.target.keys()) appIds.add(id);
      for (const appId of appIds) await this.converge(appId);
      await this.resendKills();
      await this.adjustOffers();
    } catch (error) {
      this.log.error({ err: String(error), stack: (error as Error).stack }, 'tick failed');
    }
  }

  /**
   * What an app should run now, and how: from the deployment that acts on it (its action in the
   * current step; before its first step the original definition, after its last the target), or
   * else its current definition.
   */
  private goalOf(appId: string): { mode: 'scale' | 'restart' | 'stop'; app: App | undefined; deployment?: RunningDeployment } {
    for (const deployment of this.deployments.values()) {
      const steps = deployment.plan.steps;
      const current = deployment.record.step;
      const indices = steps.flatMap((s, i) => (s.actions.some((a) => a.app === appId) ? [i] : []));
      if (indices.length === 0) continue;
      const original = deployment.original.get(appId);
      const target = deployment.target.get(appId);
      const reached = indices.filter((i) => i <= current);
      if (reached.length === 0) return original ? { mode: 'scale', app: original } : { mode: 'stop', app: undefined };
      const at = reached.at(-1)!;
      const action = steps[at]!.actions.find((a) => a.app === appId)!.action;
      const inStep = at === current ? deployment : undefined;
      switch (action) {
        case 'StopApplication':
          return { mode: 'stop', app: undefined };
        case 'StartApplication':
          return { mode: 'scale', app: target ? { ...target, instances: 0 } : undefined };
        case 'RestartApplication':
          return inStep ? { mode: 'restart', app: target, deployment: inStep } : { mode: 'scale', app: target };
        default:
          return { mode: 'scale', app: target };
      }
    }
    const app = this.apps.get(appId);
    return app ? { mode: 'scale', app } : { mode: 'stop', app: undefined };
  }

  /** Launches and kills what the app's goal asks for. */
  private async converge(appId: string): Promise<void> {
    const goal = this.goalOf(appId);
    const instances = this.liveInstances(appId);
    if (goal.mode === 'stop' || !goal.app) {
      for (const instance of instances) if (instance.state !== 'killing') await this.kill(instance, 'kill');
      return;
    }
    const app = goal.app;
    const target = toDeployableApp(app);
    this.backoffOf(target);
    if (goal.mode === 'restart' && goal.deployment) {
      const actions = this.restartActions(goal.deployment, app, instances);
      goal.deployment.record.reachedStep[appId] = actions.step.index;
      await this.launch(app, actions.launch);
      for (const id of actions.kill) await this.kill(this.instances.get(id), 'kill');
      return;
    }
    const decision = scaleDecision(target, { instances: instances.map((i) => view(i)) });
    await this.launch(app, decision.launch);
    for (const id of decision.kill) await this.kill(this.instances.get(id), 'kill');
  }

  /**
   * The restart algorithm's next move for an app. New instances run the target's config; for a
   * restart without a config change (`POST /v2/apps/{id}/restart`) they are also younger than the
   * deployment.
   */
  private restartActions(deployment: RunningDeployment, app: App, instances: InstanceRecord[]) {
    const target = toDeployableApp(app);
    const previous = deployment.original.get(app.id);
    const forced = deployment.record.restart.includes(app.id);
    const isNew = (i: InstanceRecord) => i.configHash === target.configHash && (!forced || i.createdAt >= deployment.record.startedAt);
    return nextRestartActions({
      target,
      old: instances.filter((i) => !isNew(i)).map((i) => view(i)),
      new: instances.filter(isNew).map((i) => view(i)),
      oldHasHealthChecks: (previous ?? app).healthChecks.length > 0,
      reachedStep: deployment.record.reachedStep[app.id] ?? 0,
    });
  }

  /** Whether an action of a deployment's current step is done. */
  private actionDone(deployment: RunningDeployment, action: { action: string; app: string }): boolean {
    const instances = this.liveInstances(action.app);
    const target = deployment.target.get(action.app);
    switch (action.action) {
      case 'StartApplication':
        return true;
      case 'StopApplication':
        return instances.length === 0;
      case 'RestartApplication':
        return target !== undefined && this.restartActions(deployment, target, instances).complete;
      default: {
        if (!target) return true;
        const d = toDeployableApp(target);
        return instances.length === target.instances && instances.every((i) => isHealthyAndReady(view(i), d));
      }
    }
  }

  /** Moves a deployment on: next step, success, or failure at its deadline. */
  private async advance(deployment: RunningDeployment): Promise<void> {
    const { plan, record } = deployment;
    const now = this.now();
    while (record.step < plan.steps.length && plan.steps[record.step]!.actions.every((a) => this.actionDone(deployment, a))) {
      record.step++;
      if (record.step < plan.steps.length) {
        this.events.emit('deployment_step_success', { plan: planJson(deployment), currentStep: stepJson(deployment, record.step - 1) });
        await this.state.putDeployment(record);
        this.events.emit('deployment_info', { plan: planJson(deployment), currentStep: stepJson(deployment, record.step) });
      }
    }
    if (record.step >= plan.steps.length) {
      await this.finishDeployment(record.id, 'success');
      return;
    }
    const healthy = plan.steps[record.step]!.actions.reduce((n, a) => n + this.healthyNew(deployment, a.app), 0);
    deployment.mark = recordProgress(deployment.mark, { step: record.step + 1, healthy }, now);
    const verdict = judgeProgress({ plan, mark: deployment.mark, now, policy: policyOf(plan) });
    if (verdict.kind === 'continue') return;
    this.log.warn({ deploymentId: record.id, reason: verdict.reason }, verdict.message);
    await this.finishDeployment(record.id, 'failed', { reason: verdict.reason, message: verdict.message });
    if (verdict.rollback) await this.deployNow(this.reverted(deployment), { force: true });
  }

  private healthyNew(deployment: RunningDeployment, appId: string): number {
    const target = deployment.target.get(appId);
    if (!target) return 0;
    const d = toDeployableApp(target);
    const fresh = (i: InstanceRecord) => i.configHash === d.configHash && (!deployment.record.restart.includes(appId) || i.createdAt >= deployment.record.startedAt);
    return this.liveInstances(appId).filter((i) => fresh(i) && isHealthyAndReady(view(i), d)).length;
  }

  private async finishDeployment(id: string, outcome: 'success' | 'failed' | 'cancelled', failure?: { reason: string; message: string }): Promise<void> {
    const deployment = this.deployments.get(id);
    if (!deployment) return;
    this.deployments.delete(id);
    await this.state.deleteDeployment(id);
    const plan = planJson(deployment);
    if (outcome === 'success') {
      this.events.emit('deployment_success', { id, plan });
      for (const appId of deployment.original.keys()) if (!deployment.target.has(appId)) this.events.emit('app_terminated_event', { appId });
    } else {
      this.events.emit('deployment_failed', { id, plan, reason: failure?.reason ?? 'CANCELLED', message: failure?.message ?? `deployment ${id} was cancelled` });
    }
    this.requestTick();
  }

  // ---- instances ------------------------------------------------------------------------------

  /** The app's instances that count: all but unreachable ones past `inactiveAfterSeconds`. */
  liveInstances(appId: string): InstanceRecord[] {
    const app = this.apps.get(appId);
    const now = this.now();
    return [...this.instances.values()].filter((i) => i.appId === appId && !isInactive(i, app, now));
  }

  private backoffOf(app: DeployableApp): LaunchBackoff {
    const entry = this.backoffs.get(app.id);
    const backoff = entry ? entry.backoff.forConfig(app).settle(this.now()) : LaunchBackoff.initial(app);
    this.backoffs.set(app.id, { backoff });
    return backoff;
  }

  /**
   * `DELETE /v2/queue/{appId}/delay`: the app's launch delay is reset, so its waiting instances
   * launch with the next offers. False when no instance of the app waits to launch.
   */
  resetDelay(appId: string): boolean {
    if (![...this.instances.values()].some((i) => i.appId === appId && i.state === 'scheduled')) return false;
    const entry = this.backoffs.get(appId);
    if (entry) entry.backoff = entry.backoff.reset();
    this.requestTick();
    return true;
  }

  /** The launch delay of an app: seconds left, 0 when it may launch. */
  delaySeconds(appId: string): number {
    return this.backoffs.get(appId)?.backoff.timeLeftSeconds(this.now()) ?? 0;
  }

  /** Makes `count` scheduled instances of `app` (written before any launch is sent). */
  private async launch(app: App, count: number): Promise<void> {
    if (count <= 0) return;
    const now = this.now();
    const hash = configHash(app);
    const made: InstanceRecord[] = [];
    for (let n = 0; n < count; n++) {
      made.push({ taskId: taskIdFor(app.id, randomUUID()), appId: app.id, version: app.version ?? '', configHash: hash, state: 'scheduled', createdAt: now, ports: [] });
    }
    for (const instance of made) this.instances.set(instance.taskId, instance);
    await Promise.all(made.map((i) => this.state.putInstance(i)));
    if (!this.queuedSince.has(app.id)) this.queuedSince.set(app.id, now);
  }

  /** Kills an instance: a scheduled one is just forgotten. */
  private async kill(instance: InstanceRecord | undefined, how: 'kill' | 'wipe'): Promise<void> {
    if (!instance) return;
    if (instance.state === 'scheduled' || how === 'wipe') {
      this.instances.delete(instance.taskId);
      await this.state.deleteInstance(instance.taskId);
      if (instance.state === 'scheduled') return;
    } else {
      instance.state = 'killing';
      instance.killSentAt = this.now();
      await this.state.putInstance(instance);
    }
    await this.client.kill([{ taskId: instance.taskId, ...(instance.agentId ? { agentId: instance.agentId } : {}) }]).catch((error: unknown) => {
      this.log.warn({ taskId: instance.taskId, err: String(error) }, 'kill failed; it will be sent again');
    });
  }

  /** Kills not answered for a while are sent again. */
  private async resendKills(): Promise<void> {
    const now = this.now();
    const due = [...this.instances.values()].filter((i) => i.state === 'killing' && now - (i.killSentAt ?? 0) > 10_000);
    for (const instance of due) {
      instance.killSentAt = now;
      await this.client.kill([{ taskId: instance.taskId, ...(instance.agentId ? { agentId: instance.agentId } : {}) }]).catch(() => {});
    }
  }

  /** Unreachable instances past `expungeAfterSeconds` are forgotten (and killed, should they come back). */
  private expireUnreachable(): void {
    const now = this.now();
    for (const instance of [...this.instances.values()]) {
      if (instance.state !== 'unreachable' || instance.unreachableSince === undefined) continue;
      const strategy = this.apps.get(instance.appId)?.unreachableStrategy;
      if (strategy === undefined || strategy === 'disabled') continue;
      if (now - instance.unreachableSince < strategy.expungeAfterSeconds * 1000) continue;
      this.log.info({ taskId: instance.taskId }, 'expunging an instance unreachable for too long');
      this.instances.delete(instance.taskId);
      void this.state.deleteInstance(instance.taskId);
      void this.client.kill([{ taskId: instance.taskId, ...(instance.agentId ? { agentId: instance.agentId } : {}) }]).catch(() => {});
    }
  }

  /** Readiness checks: an HTTP GET from here to the task's host and named port, until it answers ready. */
  private checkReadiness(): void {
    for (const taskId of this.readinessResults.keys()) if (!this.instances.has(taskId)) this.readinessResults.delete(taskId);
    for (const instance of this.instances.values()) {
      if (instance.state !== 'running' || instance.ready || this.readinessInFlight.has(instance.taskId)) continue;
      const app = this.versionOf(instance);
      const check = app?.readinessChecks[0];
      if (!app || !check) continue;
      const index = app.portDefinitions.findIndex((p) => p.name === check.portName);
      const port = instance.ports[index];
      if (port === undefined || instance.hostname === undefined) continue;
      this.readinessInFlight.add(instance.taskId);
      const url = `${check.protocol.toLowerCase()}://${instance.hostname}:${port}${check.path}`;
      void fetch(url, { signal: AbortSignal.timeout(check.timeoutSeconds * 1000) })
        .then(async (answer) => {
          const ready = check.httpStatusCodesForReady.includes(answer.status);
          const body = check.preserveLastResponse ? await answer.text() : undefined;
          if (!check.preserveLastResponse) await answer.body?.cancel();
          if (this.instances.get(instance.taskId) !== instance) return;
          const contentType = answer.headers.get('content-type') ?? undefined;
          this.readinessResults.set(instance.taskId, { ready, status: answer.status, ...(contentType ? { contentType } : {}), ...(body !== undefined ? { body } : {}) });
          if (ready) {
            instance.ready = true;
            await this.state.putInstance(instance);
            this.requestTick();
          }
        })
        .catch(() => {
          if (this.instances.get(instance.taskId) === instance) this.readinessResults.set(instance.taskId, { ready: false });
        })
        .finally(() => {
          const timer = setTimeout(() => this.readinessInFlight.delete(instance.taskId), check.intervalSeconds * 1000);
          timer.unref();
        });
    }
  }

  /** The app definition an instance was launched with. */
  versionOf(instance: InstanceRecord): App | undefined {
    const current = this.apps.get(instance.appId);
    if (current?.version === instance.version) return current;
    for (const deployment of this.deployments.values()) {
      for (const app of [...deployment.original.values(), ...deployment.target.values()]) {
        if (app.id === instance.appId && app.version === instance.version) return app;
      }
    }
    return this.versions.get(instance.appId)?.find((v) => v.version === instance.version) ?? current;
  }

  // ---- offers ---------------------------------------------------------------------------------

  /** The scheduled instances whose app may launch now, by app. */
  private launchable(): Map<string, InstanceRecord[]> {
    const now = this.now();
    const out = new Map<string, InstanceRecord[]>();
    for (const instance of this.instances.values()) {
      if (instance.state !== 'scheduled') continue;
      const backoff = this.backoffs.get(instance.appId)?.backoff;
      if (backoff && !backoff.launchAllowed(now)) continue;
      const list = out.get(instance.appId) ?? [];
      list.push(instance);
      out.set(instance.appId, list);
    }
    return out;
  }

  /** Revives offers when more instances wait than before, suppresses them when none does. */
  private async adjustOffers(): Promise<void> {
    let count = 0;
    for (const list of this.launchable().values()) count += list.length;
    for (const appId of [...this.queuedSince.keys()]) {
      if (![...this.instances.values()].some((i) => i.appId === appId && i.state === 'scheduled')) {
        this.queuedSince.delete(appId);
        this.offerStats.delete(appId);
      }
    }
    const grew = count > this.lastLaunchable;
    this.lastLaunchable = count;
    try {
      if (count > 0 && (this.suppressed || grew)) {
        this.suppressed = false;
        await this.client.revive();
      } else if (count === 0 && !this.suppressed) {
        this.suppressed = true;
        await this.client.suppress();
      }
    } catch (error) {
      this.log.warn({ err: String(error) }, 'revive or suppress failed');
      this.suppressed = !this.suppressed;
    }
  }

  private async onOffers(offers: readonly Offer[]): Promise<void> {
    if (this.stopped) return;
    const waiting = this.launchable();
    if (waiting.size === 0) {
      await this.client.decline(offers.map((o) => o.id), { refuseMs: this.refuseMs }).catch(() => {});
      return;
    }
    const demands: TaskDemand[] = [];
    const apps = new Map<string, App>();
    const firstDemand = new Map<string, TaskDemand>();
    for (const [appId, instances] of waiting) {
      const app = this.versionOf(instances[0]!);
      if (!app) continue;
      apps.set(appId, app);
      const role = defaultTaskRole(app);
      const shared = {
        name: appIdToHostname(app.id),
        group: app.id,
        resources: taskResources(app, [], role),
        constraints: toPlacementConstraints(app.constraints),
        ...(app.requirePorts ? { requirePorts: app.portDefinitions.map((p) => p.port) } : { ports: app.portDefinitions.length }),
      };
      for (const instance of instances) {
        const demand: TaskDemand = { ...shared, taskId: instance.taskId };
        demands.push(demand);
        if (!firstDemand.has(appId)) firstDemand.set(appId, demand);
      }
    }
    const existing = this.existingTasks();
    const placement = placeTasks(offers, demands, { existing });
    const offerById = new Map(offers.map((o) => [o.id, o]));
    const launches: { offerIds: string[]; operations: Operation[] }[] = [];
    const now = this.now();
    const staged: InstanceRecord[] = [];
    for (const accept of placement.accepts) {
      const tasks: TaskInfo[] = [];
      for (const op of accept.operations) {
        if (op.type !== 'LAUNCH') continue;
        for (const placed of op.tasks) {
          const instance = this.instances.get(placed.taskId);
          const app = instance ? apps.get(instance.appId) : undefined;
          const offer = offerById.get(placement.offerByTask[placed.taskId] ?? '');
          if (!instance || !app || !offer) continue;
          const ports = placement.ports[placed.taskId] ?? [];
          tasks.push(buildTaskInfo({ app, taskId: placed.taskId, agentId: offer.agentId, hostname: offer.hostname, ports, resources: placed.resources }));
          Object.assign(instance, { state: 'staging', agentId: offer.agentId, hostname: offer.hostname, ports, stagedAt: now });
          staged.push(instance);
        }
      }
      if (tasks.length > 0) launches.push({ offerIds: accept.offerIds, operations: [{ type: 'LAUNCH', tasks }] });
    }
    // The unused offers go back at once, alongside the launches (they launch nothing).
    const declined =
      placement.declineOfferIds.length > 0
        ? this.client.decline(placement.declineOfferIds, { refuseMs: placement.unplaced.length > 0 ? 1000 : this.refuseMs }).catch(() => {})
        : undefined;
    // Written before the launch is sent: a restart never launches an instance twice.
    await Promise.all(staged.map((i) => this.state.putInstance(i)));
    await Promise.all([
      ...launches.map((l) =>
        this.client.accept(l.offerIds, l.operations, { refuseMs: this.refuseMs }).catch((error: unknown) => {
          this.log.warn({ err: String(error) }, 'accept failed; reconciliation will tell what ran');
        }),
      ),
      declined,
    ]);
    this.options.onLaunch?.(staged.length);
    this.recordOfferStats(offers, placement.unplaced.map((u) => u.demand), firstDemand, staged, existing);
    if (staged.length > 0) this.requestTick();
  }

  private existingTasks(): ExistingTask[] {
    const out: ExistingTask[] = [];
    for (const instance of this.instances.values()) {
      if (instance.agentId === undefined || instance.hostname === undefined) continue;
      out.push({ group: instance.appId, hostname: instance.hostname, agentId: instance.agentId, attributes: {} });
    }
    return out;
  }

  /** Records, for each app left waiting, why each offer did not fit it. */
  private recordOfferStats(
    offers: readonly Offer[],
    unplaced: readonly TaskDemand[],
    firstDemand: ReadonlyMap<string, TaskDemand>,
    staged: readonly InstanceRecord[],
    existing: ExistingTask[],
  ): void {
    const timestamp = new Date(this.now()).toISOString();
    const waitingApps = new Set(unplaced.map((d) => d.group ?? d.name));
    for (const appId of new Set(staged.map((i) => i.appId))) {
      const stats = this.statsOf(appId);
      stats.processedOffersCount += offers.length;
      stats.lastUsedOfferAt = timestamp;
    }
    for (const appId of waitingApps) {
      const demand = firstDemand.get(appId);
      if (!demand) continue;
      const stats = this.statsOf(appId);
      const tally = new Map<DeclineReason, number>();
      stats.lastUnusedOffers = [];
      for (const offer of offers) {
        const details = placeTasks([offer], [demand], { existing }).unplaced[0]?.reasons ?? [];
        if (details.length === 0) continue;
        const reason = [...new Set(details.map(declineReason))];
        for (const r of reason) tally.set(r, (tally.get(r) ?? 0) + 1);
        stats.lastUnusedOffers.push({ offerId: offer.id, agentId: offer.agentId, hostname: offer.hostname, timestamp, reason, details });
      }
      stats.processedOffersCount += offers.length;
      stats.unusedOffersCount += stats.lastUnusedOffers.length;
      if (stats.lastUnusedOffers.length > 0) stats.lastUnusedOfferAt = timestamp;
      stats.rejectSummaryLastOffers = DECLINE_REASONS.map((r) => ({ reason: r, declined: tally.get(r) ?? 0, processed: offers.length }));
    }
  }

  private statsOf(appId: string): OfferStats {
    let stats = this.offerStats.get(appId);
    if (!stats) {
      stats = { processedOffersCount: 0, unusedOffersCount: 0, rejectSummaryLastOffers: [], lastUnusedOffers: [] };
      this.offerStats.set(appId, stats);
    }
    return stats;
  }

  // ---- status updates -------------------------------------------------------------------------

  /**
   * A batch of status updates: applied in memory one after the other, then the changed instances
   * written (in parallel, one write per instance) and unknown tasks killed; the batch is
   * acknowledged when this resolves, so every write it needs has landed by then. Events follow the
   * writes. See "State in the Store" in docs/marathon.md for what is written and what is not.
   */
  private async onStatuses(statuses: readonly TaskStatus[]): Promise<void> {
    const batch: StatusBatch = { writes: new Map(), kills: [], events: [] };
    for (const status of statuses) this.applyStatus(status, batch);
    const pending: Promise<unknown>[] = [...batch.writes].map(([taskId, record]) => (record ? this.state.putInstance(record) : this.state.deleteInstance(taskId)));
    if (batch.kills.length > 0) pending.push(this.client.kill(batch.kills).catch(() => {}));
    try {
      await Promise.all(pending);
    } finally {
      for (const emit of batch.events) emit();
      this.requestTick();
    }
  }

  /** Applies one status update in memory, noting in `batch` what to write, kill and emit. */
  private applyStatus(status: TaskStatus, batch: StatusBatch): void {
    const instance = this.instances.get(status.taskId);
    if (!instance) {
      // A task Marathon does not know (expunged, or from before a wipe): it should not run.
      if (!isTerminalState(status.state) && status.state !== 'TASK_UNREACHABLE') {
        batch.kills.push({ taskId: status.taskId, ...(status.agentId ? { agentId: status.agentId } : {}) });
      }
      return;
    }
    const now = this.now();
    const before = { state: instance.state, healthy: instance.healthy };
    if (status.message !== undefined) instance.message = status.message;
    if (status.agentId && !instance.agentId) instance.agentId = status.agentId;
    if (isTerminalState(status.state)) {
      this.instances.delete(instance.taskId);
      batch.writes.set(instance.taskId, undefined);
      const backoff = this.backoffs.get(instance.appId);
      if (FAILURE_STATES.has(status.state) && backoff) backoff.backoff = backoff.backoff.onFailure(now);
      if (status.state !== 'TASK_KILLED' || instance.state !== 'killing') {
        this.lastFailures.set(instance.appId, {
          appId: instance.appId,
          host: instance.hostname ?? '',
          message: status.message ?? '',
          state: status.state,
          taskId: instance.taskId,
          timestamp: new Date(status.timestampMs).toISOString(),
          version: instance.version,
          slaveId: instance.agentId ?? null,
        });
      }
      batch.events.push(() => this.emitStatus(instance, status));
      return;
    }
    switch (status.state) {
      case 'TASK_STAGING':
        if (instance.state === 'scheduled') instance.state = 'staging';
        break;
      case 'TASK_STARTING':
        if (instance.state !== 'killing') instance.state = 'starting';
        break;
      case 'TASK_RUNNING':
        if (instance.state !== 'killing') instance.state = 'running';
        delete instance.unreachableSince;
        instance.startedAt ??= status.timestampMs;
        if (status.healthy !== undefined) instance.healthy = status.healthy;
        if (before.state !== 'running') {
          const backoff = this.backoffs.get(instance.appId);
          if (backoff) backoff.backoff = backoff.backoff.onSuccess(now);
        }
        break;
      case 'TASK_KILLING':
        instance.state = 'killing';
        break;
      case 'TASK_UNREACHABLE':
        if (instance.state !== 'unreachable') instance.unreachableSince = now;
        instance.state = 'unreachable';
        break;
      default:
        break;
    }
    if (before.state === instance.state && before.healthy === instance.healthy) return;
    // staging → starting is not written: the deployment logic does not tell the two apart, and a
    // new leader learns the task's real state by reconciling it (it has an agent) anyway.
    const transient = before.state === 'staging' && instance.state === 'starting' && before.healthy === instance.healthy;
    if (!transient) batch.writes.set(instance.taskId, instance);
    const stateChanged = before.state !== instance.state;
    const alive = before.healthy !== instance.healthy ? instance.healthy : undefined;
    batch.events.push(() => {
      if (stateChanged) this.emitStatus(instance, status);
      if (alive !== undefined) {
        this.events.emit('health_status_changed_event', { appId: instance.appId, taskId: instance.taskId, instanceId: instance.taskId, version: instance.version, alive });
      }
    });
  }

  private emitStatus(instance: InstanceRecord, status: TaskStatus): void {
    this.events.emit('status_update_event', {
      slaveId: instance.agentId ?? status.agentId ?? null,
      taskId: instance.taskId,
      taskStatus: status.state,
      message: status.message ?? '',
      appId: instance.appId,
      host: instance.hostname ?? '',
      ports: instance.ports,
      version: instance.version,
    });
    this.events.emit('instance_changed_event', {
      instanceId: instance.taskId,
      condition: status.state.replace(/^TASK_/, '').toLowerCase().replace(/^./, (c) => c.toUpperCase()),
      runSpecId: instance.appId,
      agentId: instance.agentId ?? null,
      host: instance.hostname ?? '',
      runSpecVersion: instance.version,
    });
  }
}

function deployables(apps: ReadonlyMap<string, App>): Map<string, DeployableApp> {
  return new Map([...apps].map(([id, app]) => [id, toDeployableApp(app)]));
}

/** Whether an unreachable instance is past `inactiveAfterSeconds` (a replacement is launched). */
function isInactive(instance: InstanceRecord, app: App | undefined, now: number): boolean {
  if (instance.state !== 'unreachable' || instance.unreachableSince === undefined) return false;
  const strategy = app?.unreachableStrategy;
  if (strategy === undefined || strategy === 'disabled') return false;
  return now - instance.unreachableSince >= strategy.inactiveAfterSeconds * 1000;
}

/** An instance as the deployment code sees it. */
function view(instance: InstanceRecord): InstanceView {
  const state = instance.state === 'running' ? 'running' : instance.state === 'killing' ? 'killing' : 'staging';
  return { id: instance.taskId, startedAt: instance.startedAt ?? instance.createdAt, state, healthy: instance.healthy ?? false, ready: instance.ready ?? false };
}

/** Whether an instance serves (running, and healthy when its app has health checks). */
export function instanceHealthy(instance: InstanceRecord, app: App | undefined): boolean {
  return isHealthy(view(instance), (app?.healthChecks.length ?? 0) > 0);
}

/** Marathon's reason for one of `placeTasks`' reasons. */
function declineReason(detail: string): DeclineReason {
  if (detail.startsWith('constraint') || detail.includes('constraint')) return 'UnfulfilledConstraint';
  if (/insufficient cpus/.test(detail)) return 'InsufficientCpus';
  if (/insufficient mem/.test(detail)) return 'InsufficientMemory';
  if (/insufficient disk/.test(detail)) return 'InsufficientDisk';
  if (/insufficient gpus/.test(detail)) return 'InsufficientGpus';
  if (/port/.test(detail)) return 'InsufficientPorts';
  if (/\(.+\)/.test(detail)) return 'UnfulfilledRole';
  return 'UnfulfilledConstraint';
}

/** A deployment in Marathon's `/v2/deployments` plan form. */
export function planJson(deployment: RunningDeployment): Record<string, unknown> {
  return {
    id: deployment.record.id,
    version: deployment.record.version,
    original: { apps: [...deployment.original.values()] },
    target: { apps: [...deployment.target.values()] },
    steps: deployment.plan.steps.map((s) => ({ actions: s.actions.map((a) => ({ action: a.action, app: a.app })) })),
  };
}

function stepJson(deployment: RunningDeployment, index: number): Record<string, unknown> {
  return { actions: (deployment.plan.steps[index]?.actions ?? []).map((a) => ({ action: a.action, app: a.app })) };
}
