/**
 * The JSON shapes of Marathon's REST API, made from the scheduler's state: apps with their
 * counts, tasks, deployments and last failure; tasks; deployments; the launch queue with why
 * offers were declined (Marathon 1.x's `processedOffersSummary`).
 *
 * @example
 * ```ts
 * c.json({ apps: apps.map((app) => appJson(scheduler, app, embed)) });
 * ```
 * @module
 */

import type { App } from '../app/schema.js';
import { configHash } from '../app/version.js';
import { instanceHealthy, type MarathonScheduler, type RunningDeployment } from '../scheduler.js';
import type { InstanceRecord } from '../state.js';

/** What `embed` asks to add to each app (`apps.tasks`, `apps.counts`, `apps.deployments`, `apps.lastTaskFailure`). */
export interface AppEmbed {
  tasks: boolean;
  counts: boolean;
  deployments: boolean;
  lastTaskFailure: boolean;
}

/** Reads `embed` query values, with or without the `apps.`/`app.` prefix. */
export function parseEmbed(values: readonly string[], defaults: Partial<AppEmbed> = {}): AppEmbed {
  const names = new Set(values.map((v) => v.replace(/^apps?\./, '')));
  return {
    tasks: names.has('tasks') || (defaults.tasks ?? false),
    counts: names.has('counts') || (defaults.counts ?? true),
    deployments: names.has('deployments') || (defaults.deployments ?? true),
    lastTaskFailure: names.has('lastTaskFailure') || (defaults.lastTaskFailure ?? false),
  };
}

const TASK_STATES: Record<InstanceRecord['state'], string> = {
  scheduled: 'TASK_STAGING',
  staging: 'TASK_STAGING',
  starting: 'TASK_STARTING',
  running: 'TASK_RUNNING',
  killing: 'TASK_KILLING',
  unreachable: 'TASK_UNREACHABLE',
};

/** A task (an instance that was launched) as `/v2/tasks` shows it. */
export function taskJson(scheduler: MarathonScheduler, instance: InstanceRecord): Record<string, unknown> {
  const app = scheduler.versionOf(instance);
  const check = app?.healthChecks[0];
  return {
    id: instance.taskId,
    appId: instance.appId,
    host: instance.hostname ?? '',
    ports: instance.ports,
    servicePorts: app?.portDefinitions.map((p) => p.port) ?? [],
    slaveId: instance.agentId ?? null,
    state: TASK_STATES[instance.state],
    stagedAt: instance.stagedAt === undefined ? null : new Date(instance.stagedAt).toISOString(),
    startedAt: instance.startedAt === undefined ? null : new Date(instance.startedAt).toISOString(),
    version: instance.version,
    ipAddresses: [],
    ...(check === undefined || instance.healthy === undefined
      ? {}
      : { healthCheckResults: [{ alive: instance.healthy, consecutiveFailures: instance.healthy ? 0 : 1, instanceId: instance.taskId, taskId: instance.taskId }] }),
    ...(instance.message === undefined ? {} : { message: instance.message }),
  };
}

/** The launched (not merely scheduled) instances of an app, or of every app. */
export function launchedInstances(scheduler: MarathonScheduler, appId?: string): InstanceRecord[] {
  return [...scheduler.instances.values()].filter((i) => i.state !== 'scheduled' && (appId === undefined || i.appId === appId));
}

/** The deployments that act on an app. */
function deploymentsOf(scheduler: MarathonScheduler, appId: string): RunningDeployment[] {
  return [...scheduler.deployments.values()].filter((d) => d.plan.steps.some((s) => s.actions.some((a) => a.app === appId)));
}

/** An app as `/v2/apps` shows it, with what `embed` asks for. */
export function appJson(scheduler: MarathonScheduler, app: App, embed: AppEmbed): Record<string, unknown> {
  const instances = launchedInstances(scheduler, app.id);
  const out: Record<string, unknown> = { ...app };
  if (embed.counts) {
    const healthChecked = app.healthChecks.length > 0;
    out.tasksStaged = instances.filter((i) => i.state === 'staging' || i.state === 'starting').length;
    out.tasksRunning = instances.filter((i) => i.state === 'running').length;
    out.tasksHealthy = healthChecked ? instances.filter((i) => instanceHealthy(i, app)).length : 0;
    out.tasksUnhealthy = healthChecked ? instances.filter((i) => i.state === 'running' && i.healthy === false).length : 0;
  }
  if (embed.deployments) out.deployments = deploymentsOf(scheduler, app.id).map((d) => ({ id: d.record.id }));
  if (embed.tasks) out.tasks = instances.map((i) => taskJson(scheduler, i));
  if (embed.lastTaskFailure) {
    const failure = scheduler.lastFailures.get(app.id);
    if (failure) out.lastTaskFailure = failure;
  }
  return out;
}

/**
 * The readiness-check results of the app's instances of the deployment's target (Marathon's
 * `readinessCheckResults`): one per running instance of the new version, once checked.
 */
function readinessCheckResults(scheduler: MarathonScheduler, deployment: RunningDeployment, appId: string): Record<string, unknown>[] {
  const target = deployment.target.get(appId);
  const check = target?.readinessChecks[0];
  if (!target || !check) return [];
  const hash = configHash(target);
  return [...scheduler.instances.values()].flatMap((i) => {
    const answer = scheduler.readinessResults.get(i.taskId);
    if (i.appId !== appId || i.configHash !== hash || (!answer && !i.ready)) return [];
    const lastResponse =
      answer?.status === undefined ? undefined : { status: answer.status, contentType: answer.contentType ?? '', body: answer.body ?? '' };
    return [{ name: check.name, taskId: i.taskId, ready: i.ready === true, ...(lastResponse ? { lastResponse } : {}) }];
  });
}

/** A deployment as `/v2/deployments` shows it. */
export function deploymentJson(deployment: RunningDeployment, scheduler: MarathonScheduler): Record<string, unknown> {
  const { record, plan } = deployment;
  const affectedApps = [...new Set(plan.steps.flatMap((s) => s.actions.map((a) => a.app)))].sort();
  const current = plan.steps[record.step]?.actions ?? [];
  return {
    id: record.id,
    version: record.version,
    affectedApps,
    affectedPods: [],
    steps: plan.steps.map((s) => ({ actions: s.actions.map((a) => ({ action: a.action, app: a.app })) })),
    currentActions: current.map((a) => ({ action: a.action, app: a.app, readinessCheckResults: readinessCheckResults(scheduler, deployment, a.app) })),
    currentStep: Math.min(record.step + 1, plan.steps.length),
    totalSteps: plan.steps.length,
  };
}

/** The launch queue as `/v2/queue` shows it: per app waiting to launch, how many, the delay, and why offers did not fit. */
export function queueJson(scheduler: MarathonScheduler): Record<string, unknown> {
  const waiting = new Map<string, number>();
  for (const instance of scheduler.instances.values()) {
    if (instance.state === 'scheduled') waiting.set(instance.appId, (waiting.get(instance.appId) ?? 0) + 1);
  }
  const queue = [...waiting].map(([appId, count]) => {
    const app = scheduler.apps.get(appId);
    const stats = scheduler.offerStats.get(appId);
    const timeLeftSeconds = scheduler.delaySeconds(appId);
    return {
      count,
      delay: { timeLeftSeconds, overdue: timeLeftSeconds === 0 },
      since: new Date(scheduler.queuedSince.get(appId) ?? Date.now()).toISOString(),
      app: app ? appJson(scheduler, app, parseEmbed([], { counts: false, deployments: false })) : { id: appId },
      processedOffersSummary: {
        processedOffersCount: stats?.processedOffersCount ?? 0,
        unusedOffersCount: stats?.unusedOffersCount ?? 0,
        ...(stats?.lastUnusedOfferAt ? { lastUnusedOfferAt: stats.lastUnusedOfferAt } : {}),
        ...(stats?.lastUsedOfferAt ? { lastUsedOfferAt: stats.lastUsedOfferAt } : {}),
        rejectSummaryLastOffers: stats?.rejectSummaryLastOffers ?? [],
        rejectSummaryLaunchAttempt: stats?.rejectSummaryLastOffers ?? [],
      },
      lastUnusedOffers: (stats?.lastUnusedOffers ?? []).map((o) => ({
        offer: { id: o.offerId, agentId: o.agentId, hostname: o.hostname },
        timestamp: o.timestamp,
        reason: o.reason,
        details: o.details,
      })),
    };
  });
  return { queue };
}
