/**
 * What the Chronos page reads and sends: the shapes of `/v1/scheduler` and the calls its buttons
 * make (run now, enable/disable, kill, delete). The API answers 422 with
 * `{message, details: [{path: '/schedule', errors}]}` or `{message, field}`; {@link fieldErrorsOf}
 * turns either into errors per top-level field.
 */

import { ApiError, request } from '../../lib/api';

/** The root of Chronos' REST API. */
export const API = '/v1/scheduler';

/** A job as `GET /v1/scheduler/jobs` returns it: its definition with Chronos' statistics. */
export interface ChronosJob {
  name: string;
  description: string;
  command: string;
  shell: boolean;
  arguments: string[];
  schedule?: string;
  scheduleTimeZone?: string;
  parents?: string[];
  retries: number;
  retryDelayMs: number;
  softError: boolean;
  disabled: boolean;
  concurrent: boolean;
  concurrencyPolicy: string;
  cpus: number;
  mem: number;
  disk: number;
  constraints: unknown[];
  environmentVariables: { name: string; value: string }[];
  uris: string[];
  owner: string;
  ownerName: string;
  maxCompletionTime?: number;
  highPriority: boolean;
  epsilon: string;
  startingDeadlineSeconds?: number;
  catchUp: string;
  successCount: number;
  errorCount: number;
  /** ISO 8601, `''` when never. */
  lastSuccess: string;
  /** ISO 8601, `''` when never. */
  lastError: string;
  errorsSinceLastSuccess: number;
}

/** The last status of a job: the later of its last success and last error, `fresh` when it never ended. */
export type LastStatus = 'success' | 'failure' | 'fresh';

/** Whether a job has runs under way. */
export type Activity = 'idle' | 'queued' | 'running';

/** One entry of `GET /v1/scheduler/jobs/summary`. */
export interface JobSummary {
  name: string;
  status: LastStatus;
  state: Activity;
  schedule: string;
  parents: string[];
  disabled: boolean;
}

/** A run of a job, as `GET /v1/scheduler/job/{name}/runs` lists them (newest first). */
export interface ChronosRun {
  id: string;
  job: string;
  trigger: 'schedule' | 'parent' | 'manual';
  scheduledAt?: number;
  status: 'QUEUED' | 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'KILLED' | 'SKIPPED';
  attempt: number;
  startedAt?: number;
  runningAt?: number;
  endedAt?: number;
  exitCode?: number;
  taskIds: string[];
  message?: string;
  queuedAt: number;
  notBefore?: number;
}

/** `GET /v1/scheduler/job/stat/{name}`: run-time percentiles (ms) of the job's successful runs. */
export interface JobStat {
  histogram: { median: number; mean: number; '75thPercentile': number; '95thPercentile': number; '99thPercentile': number; count: number };
}

/** The names of the events on `/v1/scheduler/events`. */
export const EVENT_TYPES = ['job_added', 'job_updated', 'job_removed', 'run_queued', 'run_launched', 'run_running', 'run_finished', 'runs_missed'] as const;

/** The URL of one job. */
export const jobPath = (name: string): string => `${API}/job/${encodeURIComponent(name)}`;

/** Starts a run of the job now; resolves to the new run's id. */
export async function runNow(name: string): Promise<string> {
  const answer = await request<{ run: string }>('PUT', jobPath(name));
  return answer.run;
}

/** Writes the job back with `disabled` set: Chronos has no separate switch, the definition carries it. */
export async function setDisabled(job: ChronosJob, disabled: boolean): Promise<void> {
  const endpoint = job.parents && job.parents.length > 0 ? 'dependency' : 'iso8601';
  await request('POST', `${API}/${endpoint}`, { ...job, disabled });
}

/** Kills the job's active runs; resolves to how many. */
export async function killRuns(name: string): Promise<number> {
  const answer = await request<{ killed: number }>('DELETE', `${API}/task/kill/${encodeURIComponent(name)}`);
  return answer.killed;
}

/** Deletes a job; with `force`, its children take its parents (or its schedule). */
export async function deleteJob(name: string, force = false): Promise<void> {
  await request('DELETE', `${jobPath(name)}${force ? '?force=true' : ''}`);
}

/** Whether an error is Chronos refusing to delete a job that has children (409). */
export function hasChildren(error: unknown): boolean {
  return error instanceof ApiError && error.status === 409;
}

/**
 * Errors per top-level field (`schedule`, `parents`, `cpus`…) from a 422 answer; errors of the
 * whole body are under `''`. Empty for any other error.
 */
export function fieldErrorsOf(error: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!(error instanceof ApiError) || error.status !== 422 || typeof error.body !== 'object' || error.body === null) return out;
  const body = error.body as { message?: unknown; field?: unknown; details?: unknown };
  const add = (path: string, message: string) => {
    const field = path.replace(/^\//, '').split(/[./]/)[0] ?? '';
    const list = out[field] ?? [];
    list.push(message);
    out[field] = list;
  };
  if (Array.isArray(body.details)) {
    for (const d of body.details as { path?: unknown; errors?: unknown }[]) {
      const path = typeof d.path === 'string' ? d.path : '';
      for (const e of Array.isArray(d.errors) ? d.errors : []) add(path, String(e));
    }
  } else if (typeof body.field === 'string') {
    // A single-field error repeats the field at the start of its message: drop it there.
    add(body.field, String(body.message ?? 'is invalid').replace(/^[\w.]+: /, ''));
  }
  return out;
}

/** The time of the job's last ended run (ms) and how it ended, or undefined when it never ran. */
export function lastRunOf(job: Pick<ChronosJob, 'lastSuccess' | 'lastError'>): { at: number; status: 'success' | 'failure' } | undefined {
  const ok = job.lastSuccess ? Date.parse(job.lastSuccess) : Number.NaN;
  const bad = job.lastError ? Date.parse(job.lastError) : Number.NaN;
  if (Number.isNaN(ok) && Number.isNaN(bad)) return undefined;
  if (Number.isNaN(bad) || ok > bad) return { at: ok, status: 'success' };
  return { at: bad, status: 'failure' };
}
