/**
 * What the batch page reads and sends: the shapes of the batch framework's `/v1/jobs` API, and
 * the calls its buttons make (submit a spec, cancel a job).
 */

import { ApiError, request } from '../../lib/api';

/** Where a job stands. */
export type JobRunState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** Where one task stands. */
export type BatchTaskState = 'PENDING' | 'LAUNCHING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'RETRY_WAIT' | 'CANCELLED';

/** A stage's progress: its tasks counted by where they stand. */
export interface StageProgress {
  stage: string;
  state: 'WAITING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  total: number;
  done: number;
  running: number;
  failed: number;
  pending: number;
  cancelled: number;
  failedAttempts: number;
  /** The stages it waits for (in a job's detail). */
  dependsOn?: string[];
  /** All its tasks start together or not at all (in a job's detail). */
  gang?: boolean;
}

/** A job as `GET /v1/jobs` lists it. */
export interface BatchJob {
  jobId: string;
  name: string;
  state: JobRunState;
  reason?: string;
  message?: string;
  role: string;
  weight: number;
  createdAtMs: number;
  endedAtMs?: number;
  deadlineAtMs?: number;
  tasks: number;
  stages: StageProgress[];
}

/** What one attempt of a task left behind. */
export interface TaskOutput {
  exitCode?: number;
  stdoutTail?: string;
  stderrTail?: string;
  result?: unknown;
  error?: string;
  durationMs?: number;
}

/** One task of a job. */
export interface BatchTask {
  taskId: string;
  stage: string;
  index: number;
  state: BatchTaskState;
  attempt: number;
  failures: number;
  losses: number;
  timeoutMs?: number;
  launchId?: string;
  agentId?: string;
  retryAtMs?: number;
  launchedAtMs?: number;
  startedAtMs?: number;
  endedAtMs?: number;
  output?: TaskOutput;
  message?: string;
}

/**
 * A job's detail, `GET /v1/jobs/{id}`: `tasks` is the list of tasks for jobs of at most 1000 tasks
 * (or with `?tasks=true`), else still the count as in the summary.
 */
export type BatchJobDetail = Omit<BatchJob, 'tasks'> & { tasks: number | BatchTask[] };

/** The names of the events on `/v1/events`. */
export const EVENT_TYPES = ['JOB_SUBMITTED', 'JOB_PROGRESS', 'TASK_ENDED', 'JOB_ENDED'] as const;

/** The URL of one job. */
export const jobPath = (jobId: string): string => `/v1/jobs/${encodeURIComponent(jobId)}`;

/** The URL of one task. */
export const taskPath = (jobId: string, taskId: string): string => `${jobPath(jobId)}/tasks/${encodeURIComponent(taskId)}`;

/** Cancels a job: its tasks are killed. */
export async function cancelJob(jobId: string): Promise<BatchJob> {
  return request<BatchJob>('DELETE', jobPath(jobId));
}

/** One problem the API found in a spec. */
export interface SpecIssue {
  path: string;
  message: string;
  line?: number;
}

/** Submits a spec (YAML or JSON text), its relative module paths resolved against `baseDir` when given. */
export async function submitSpec(text: string, baseDir?: string): Promise<BatchJob> {
  const res = await fetch(`/v1/jobs${baseDir ? `?baseDir=${encodeURIComponent(baseDir)}` : ''}`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'text/plain' },
    body: text,
  });
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) throw new ApiError(res.status, body);
  return body as BatchJob;
}

/** The issues of a 422 answer to a submit, or none for any other error. */
export function specIssuesOf(error: unknown): SpecIssue[] {
  if (!(error instanceof ApiError) || error.status !== 422) return [];
  const e = (error.body as { error?: { issues?: unknown; field?: unknown; message?: unknown } } | undefined)?.error;
  if (Array.isArray(e?.issues)) return e.issues as SpecIssue[];
  if (typeof e?.field === 'string') return [{ path: e.field, message: String(e.message ?? 'is invalid') }];
  return [];
}

/** How long a job has run: to its end, or to now while it runs. */
export function jobDuration(job: Pick<BatchJob, 'createdAtMs' | 'endedAtMs'>, now = Date.now()): number {
  return (job.endedAtMs ?? now) - job.createdAtMs;
}
