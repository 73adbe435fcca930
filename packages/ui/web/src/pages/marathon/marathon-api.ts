/**
 * What the Marathon page reads and sends: the shapes of Marathon's v2 REST API (apps with their
 * counts, tasks, deployments, the launch queue) and the calls its buttons make. A 422 answers
 * `{message, details: [{path: '/cpus', errors}]}`; {@link validationDetailsOf} reads it.
 */

import { ApiError, request } from '../../lib/api';

/** The path that lists apps with everything the apps view shows. */
export const APPS_PATH = '/v2/apps?embed=apps.counts&embed=apps.deployments&embed=apps.lastTaskFailure';

/** Marathon's event types, as named on the `/v2/events` stream. */
export const EVENT_TYPES = [
  'api_post_event',
  'deployment_info',
  'deployment_success',
  'deployment_failed',
  'deployment_step_success',
  'status_update_event',
  'health_status_changed_event',
  'instance_changed_event',
  'app_terminated_event',
] as const;

/** A health check of an app, as stored (defaults applied). */
export interface HealthCheck {
  protocol: string;
  portIndex?: number;
  port?: number;
  path?: string;
  command?: { value: string };
  gracePeriodSeconds?: number;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  maxConsecutiveFailures?: number;
  delaySeconds?: number;
}

/** The last failed task of an app. */
export interface TaskFailure {
  appId: string;
  host: string;
  message: string;
  state: string;
  taskId: string;
  timestamp: string;
  version: string;
}

/** An app as `GET /v2/apps` answers it: its definition, plus the embedded status. */
export interface MarathonApp {
  id: string;
  cmd?: string;
  args?: string[];
  instances: number;
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
  portDefinitions?: { port: number; protocol: string; name?: string }[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  constraints?: unknown[];
  healthChecks?: HealthCheck[];
  upgradeStrategy?: { minimumHealthCapacity: number; maximumOverCapacity: number };
  version?: string;
  versionInfo?: { lastScalingAt: string; lastConfigChangeAt: string };
  tasksStaged?: number;
  tasksRunning?: number;
  tasksHealthy?: number;
  tasksUnhealthy?: number;
  deployments?: { id: string }[];
  lastTaskFailure?: TaskFailure;
  tasks?: MarathonTask[];
  [field: string]: unknown;
}

/** A launched task of an app. */
export interface MarathonTask {
  id: string;
  appId: string;
  host: string;
  ports: number[];
  slaveId: string | null;
  state: string;
  stagedAt: string | null;
  startedAt: string | null;
  version: string;
  healthCheckResults?: { alive: boolean; consecutiveFailures: number }[];
  message?: string;
}

/** A deployment in progress, as `GET /v2/deployments` lists it. */
export interface Deployment {
  id: string;
  version: string;
  affectedApps: string[];
  steps: { actions: { action: string; app: string }[] }[];
  currentActions: { action: string; app: string }[];
  /** 1-based. */
  currentStep: number;
  totalSteps: number;
}

/** Per decline reason, how many of the latest round's offers it turned down. */
export interface RejectSummary {
  reason: string;
  declined: number;
  processed: number;
}

/** An app waiting to launch instances, as `GET /v2/queue` lists it. */
export interface QueueItem {
  count: number;
  delay: { timeLeftSeconds: number; overdue: boolean };
  since: string;
  app: { id: string; instances?: number; cpus?: number; mem?: number; disk?: number; gpus?: number };
  processedOffersSummary: {
    processedOffersCount: number;
    unusedOffersCount: number;
    lastUnusedOfferAt?: string;
    lastUsedOfferAt?: string;
    rejectSummaryLastOffers: RejectSummary[];
  };
  lastUnusedOffers: { offer: { id: string; agentId: string; hostname: string }; timestamp: string; reason: string[]; details: string[] }[];
}

/** What a change answers: the deployment that carries it out. */
export interface DeploymentRef {
  deploymentId: string;
  version: string;
}

/** One failing field of a 422, in Marathon's path form (`/healthChecks(0)/portIndex`, `/` for the whole app). */
export interface ValidationDetail {
  path: string;
  errors: string[];
}

/** The field errors of a 422 answer, or undefined when the error is of another kind. */
export function validationDetailsOf(error: unknown): ValidationDetail[] | undefined {
  if (!(error instanceof ApiError) || error.status !== 422) return undefined;
  const body = error.body as { details?: unknown } | undefined;
  if (!body || !Array.isArray(body.details)) return undefined;
  return body.details.flatMap((d: unknown) => {
    const item = d as { path?: unknown; errors?: unknown };
    if (typeof item?.path !== 'string') return [];
    const errors = Array.isArray(item.errors) ? item.errors.map(String) : [];
    return [{ path: item.path, errors }];
  });
}

/** Whether an error is Marathon's 409 "locked by a deployment", which `?force=true` overrides. */
export function isLocked(error: unknown): boolean {
  return error instanceof ApiError && error.status === 409 && Array.isArray((error.body as { deployments?: unknown } | undefined)?.deployments);
}

/** The URL path of an app (`/shop/web` → `/v2/apps/shop/web`), each segment escaped. */
export function appPath(appId: string): string {
  return `/v2/apps${appId.split('/').map(encodeURIComponent).join('/')}`;
}

const forced = (force: boolean) => (force ? '?force=true' : '');

/** The calls behind the page's buttons. */
export const marathon = {
  /** `POST /v2/apps`. */
  create: (definition: unknown, force = false) => request<MarathonApp & { deploymentId: string }>('POST', `/v2/apps${forced(force)}`, definition),
  /** `PUT /v2/apps/{id}`: replaces the whole definition. */
  replace: (appId: string, definition: unknown, force = false) => request<DeploymentRef>('PUT', `${appPath(appId)}${forced(force)}`, definition),
  /** `PATCH /v2/apps/{id}` with `{instances}`: only the number of instances changes (PUT would replace the definition). */
  scale: (appId: string, instances: number, force = false) => request<DeploymentRef>('PATCH', `${appPath(appId)}${forced(force)}`, { instances }),
  /** `POST /v2/apps/{id}/restart`. */
  restart: (appId: string, force = false) => request<DeploymentRef>('POST', `${appPath(appId)}/restart${forced(force)}`),
  /** `DELETE /v2/apps/{id}`. */
  destroy: (appId: string, force = false) => request<DeploymentRef>('DELETE', `${appPath(appId)}${forced(force)}`),
  /** `PUT /v2/apps/{id}` with `{version}`: back to a stored version. */
  rollback: (appId: string, version: string, force = false) => request<DeploymentRef>('PUT', `${appPath(appId)}${forced(force)}`, { version }),
  /** `DELETE /v2/apps/{id}/tasks/{taskId}`: the task is replaced unless `scale`. */
  killTask: (appId: string, taskId: string, scale = false) =>
    request<unknown>('DELETE', `${appPath(appId)}/tasks/${encodeURIComponent(taskId)}${scale ? '?scale=true' : ''}`),
  /** `DELETE /v2/queue/{id}/delay`: the app's launch backoff starts over, so it launches at the next offer. */
  resetDelay: (appId: string) => request<undefined>('DELETE', `/v2/queue${appId.split('/').map(encodeURIComponent).join('/')}/delay`),
  /** `DELETE /v2/deployments/{id}`: without force a deployment rolling back; with it, stopped where it is. */
  cancelDeployment: (id: string, force: boolean) => request<DeploymentRef | undefined>('DELETE', `/v2/deployments/${encodeURIComponent(id)}${forced(force)}`),
};

