/**
 * The progress of one batch job as a pure state machine over plain, storable data: no timers,
 * no I/O — every transition takes `now` (ms) and returns the effects a scheduler must carry out
 * (kill an attempt, report the job's end). Transitions update the {@link JobState} in place (it
 * is the hot path of a scheduler with many tasks); `structuredClone` it to keep an old one.
 *
 * Each task is `PENDING`, `LAUNCHING`, `RUNNING`, `SUCCEEDED`, `FAILED` (its last attempt failed
 * and no retry is left; `attempt` says which), `RETRY_WAIT` (until `retryAtMs`) or `CANCELLED`.
 *
 * - A stage is ready when every stage it depends on has succeeded (all its tasks SUCCEEDED);
 *   only tasks of ready stages are launchable, and at most `parallelism` tasks are LAUNCHING or
 *   RUNNING at once. A gang stage's tasks are launchable all together or not at all.
 * - A failed attempt (TASK_FAILED, TASK_ERROR, TASK_KILLED not asked for, a timeout) is retried
 *   after `backoffMs · 2^(failures-1)` (capped at ten minutes) while `failures ≤ retries`; an
 *   attempt lost to the infrastructure (TASK_LOST, TASK_DROPPED, TASK_GONE…, TASK_UNKNOWN) is
 *   retried at once without counting, up to `maxLosses` times. In a gang stage a failure sends
 *   the whole gang back to RETRY_WAIT (the others' attempts killed), as MPI jobs need.
 * - A task that exhausts its retries fails the job: its other tasks are cancelled (live attempts
 *   killed). The deadline (`deadlineSeconds`) fails the job the same way; so does
 *   {@link cancelJob}, with state CANCELLED.
 * - An attempt RUNNING longer than `timeoutMs` is killed and counts as failed.
 *
 * Statuses are matched by launch id (`<taskId>` for attempt 1, `<taskId>.<n>` after), so late
 * statuses of old attempts are ignored.
 *
 * @example
 * ```ts
 * const job = createJobState(spec, { jobId: 'wc-1', now: Date.now() });
 * for (const taskId of launchableTasks(job)) launch(taskInfo(taskId, markLaunching(job, taskId, Date.now())));
 * client.on('UPDATE', (e) => e.statuses.forEach((s) => act(applyTaskStatus(job, s, Date.now()))));
 * setTimeout(() => act(advanceJob(job, Date.now())), nextWakeAt(job)! - Date.now());
 * ```
 * @module
 */

import { InvalidOperationError, type TaskState } from '@stoa/sdk';
import type { JobSpec } from '../spec/schema.js';
import { expandJob, launchIdOf } from './expand.js';
import type { TaskInput, TaskOutput } from './outputs.js';

/** Where one task of a batch job stands. */
export type BatchTaskState = 'PENDING' | 'LAUNCHING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'RETRY_WAIT' | 'CANCELLED';

/** Every {@link BatchTaskState}. */
export const BATCH_TASK_STATES: readonly BatchTaskState[] = ['PENDING', 'LAUNCHING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'RETRY_WAIT', 'CANCELLED'];

/** Where a job stands. */
export type JobRunState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** Why a job ended other than by succeeding. */
export type JobEndReason = 'TASK_FAILED' | 'DEADLINE_EXCEEDED' | 'CANCELLED' | 'GANG_UNSCHEDULABLE';

/** The longest backoff between retries. */
export const MAX_BACKOFF_MS = 10 * 60 * 1000;
/** How many attempts lost to the infrastructure a task survives by default. */
export const DEFAULT_MAX_LOSSES = 5;

/** One task's progress. */
export interface TaskProgress {
  taskId: string;
  stage: string;
  index: number;
  state: BatchTaskState;
  /** Attempts launched so far (the current or last one's number). */
  attempt: number;
  /** Failed attempts, counted against `retries`. */
  failures: number;
  /** Attempts lost to the infrastructure, counted against the job's `maxLosses`. */
  losses: number;
  retries: number;
  backoffMs: number;
  timeoutMs?: number;
  /** The id the current attempt was launched under, while it is LAUNCHING or RUNNING. */
  launchId?: string;
  /** The bundle the current attempt was launched in (the task id the agent knows), if it was. */
  bundleId?: string;
  /** The agent of the current or last attempt. */
  agentId?: string;
  /** Since when it has been launchable: the delay-scheduling clock. Set while PENDING in a ready stage. */
  pendingSinceMs?: number;
  /** When a RETRY_WAIT ends. */
  retryAtMs?: number;
  launchedAtMs?: number;
  startedAtMs?: number;
  /** When the RUNNING attempt times out. */
  timeoutAtMs?: number;
  endedAtMs?: number;
  /** What the last attempt left behind. */
  output?: TaskOutput;
  /** Why the last attempt failed, or why the task was cancelled. */
  message?: string;
}

/** One stage: its tasks and a count of them by state. */
export interface StagePlan {
  name: string;
  dependsOn: string[];
  gang: boolean;
  taskIds: string[];
  /** How many of its tasks are in each state. */
  counts: Record<BatchTaskState, number>;
  /** Attempts that failed or were lost, over the stage's life. */
  failedAttempts: number;
}

/** A job's progress: plain data (JSON-serialisable), to keep in a Store. */
export interface JobState {
  v: 1;
  jobId: string;
  state: JobRunState;
  reason?: JobEndReason;
  message?: string;
  createdAtMs: number;
  endedAtMs?: number;
  deadlineAtMs?: number;
  parallelism?: number;
  maxLosses: number;
  /** In the spec's order. */
  stages: StagePlan[];
  tasks: Record<string, TaskProgress>;
  /** The launch id of every LAUNCHING or RUNNING attempt → its task id. */
  launches: Record<string, string>;
}

/** What a scheduler must do after a transition. */
export type JobEffect =
  /** Kill an attempt (timed out, or its job or gang ended): KILL `launchId` (or the bundle it is in) on `agentId`. */
  | { type: 'KILL'; taskId: string; launchId: string; agentId?: string; bundleId?: string }
  /** The job ended. */
  | { type: 'JOB_ENDED'; state: Exclude<JobRunState, 'RUNNING'>; reason?: JobEndReason; message: string };

/** A task status as {@link applyTaskStatus} takes it: a `TaskStatus` fits, plus the decoded output. */
export interface BatchStatusUpdate {
  /** The launch id (the TaskInfo's `taskId`). */
  taskId: string;
  state: TaskState;
  message?: string;
  agentId?: string;
  /** The output the batch executor sent in the status' `data`, decoded. */
  output?: TaskOutput;
}

/** A stage's progress, for people and APIs. */
export interface StageProgress {
  stage: string;
  /** WAITING for its dependencies, RUNNING (ready, not all done), or how it ended. */
  state: 'WAITING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  total: number;
  /** SUCCEEDED. */
  done: number;
  /** LAUNCHING or RUNNING. */
  running: number;
  /** FAILED for good. */
  failed: number;
  /** PENDING or RETRY_WAIT. */
  pending: number;
  cancelled: number;
  /** Attempts that failed or were lost (retried or not). */
  failedAttempts: number;
}

/** Options of {@link createJobState}. */
export interface CreateJobStateOptions {
  /** The job run's id. @default spec.name */
  jobId?: string;
  /** When the job was submitted (its deadline counts from here). */
  now: number;
  /** Attempts lost to the infrastructure a task survives. @default 5 */
  maxLosses?: number;
}

const ACTIVE: ReadonlySet<BatchTaskState> = new Set(['LAUNCHING', 'RUNNING']);
const DONE: ReadonlySet<BatchTaskState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const LOST_STATES: ReadonlySet<TaskState> = new Set(['TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR', 'TASK_UNKNOWN']);
const FAILED_STATES: ReadonlySet<TaskState> = new Set(['TASK_FAILED', 'TASK_ERROR', 'TASK_KILLED']);

function zeroCounts(): Record<BatchTaskState, number> {
  return { PENDING: 0, LAUNCHING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, RETRY_WAIT: 0, CANCELLED: 0 };
}

/** A new job: every task PENDING, those of stages without dependencies launchable from `now`. */
export function createJobState(spec: JobSpec, options: CreateJobStateOptions): JobState {
  const { now } = options;
  const planned = expandJob(spec, options.jobId);
  const stages: StagePlan[] = spec.stages.map((s) => ({ name: s.name, dependsOn: [...s.dependsOn], gang: s.gang, taskIds: [], counts: zeroCounts(), failedAttempts: 0 }));
  const tasks: Record<string, TaskProgress> = {};
  for (const p of planned) {
    const stage = stages[p.stageIndex]!;
    stage.taskIds.push(p.taskId);
    stage.counts.PENDING++;
    tasks[p.taskId] = {
      taskId: p.taskId,
      stage: p.stage,
      index: p.index,
      state: 'PENDING',
      attempt: 0,
      failures: 0,
      losses: 0,
      retries: p.retries,
      backoffMs: p.backoffMs,
      ...(p.timeoutMs !== undefined ? { timeoutMs: p.timeoutMs } : {}),
      ...(stage.dependsOn.length === 0 ? { pendingSinceMs: now } : {}),
    };
  }
  return {
    v: 1,
    jobId: options.jobId ?? spec.name,
    state: 'RUNNING',
    createdAtMs: now,
    ...(spec.deadlineSeconds !== undefined ? { deadlineAtMs: now + spec.deadlineSeconds * 1000 } : {}),
    ...(spec.parallelism !== undefined ? { parallelism: spec.parallelism } : {}),
    maxLosses: options.maxLosses ?? DEFAULT_MAX_LOSSES,
    stages,
    tasks,
    launches: {},
  };
}

function stageOf(job: JobState, name: string): StagePlan {
  const stage = job.stages.find((s) => s.name === name);
  if (stage === undefined) throw new InvalidOperationError(`job ${job.jobId} has no stage ${name}`, { details: { jobId: job.jobId, stage: name } });
  return stage;
}

/**
 * Per stage, a position in its `taskIds` before which no task is PENDING: where
 * {@link launchableTasks} starts looking, so a stage of 100,000 tasks is not walked from the
 * start at every offer. Kept beside the state (which stays plain data); a restored state starts at 0.
 */
const pendingFrom = new WeakMap<StagePlan, number>();

function setState(job: JobState, task: TaskProgress, state: BatchTaskState): void {
  const stage = stageOf(job, task.stage);
  const counts = stage.counts;
  counts[task.state]--;
  counts[state]++;
  task.state = state;
  if (state === 'PENDING') {
    const at = stage.taskIds[task.index] === task.taskId ? task.index : 0;
    if (at < (pendingFrom.get(stage) ?? 0)) pendingFrom.set(stage, at);
  }
}

function stageSucceeded(stage: StagePlan): boolean {
  return stage.counts.SUCCEEDED === stage.taskIds.length;
}

/** Whether a stage may run: every stage it depends on has succeeded. */
export function isStageReady(job: JobState, stage: string): boolean {
  return stageOf(job, stage).dependsOn.every((dep) => stageSucceeded(stageOf(job, dep)));
}

/** How many tasks are LAUNCHING or RUNNING. */
export function activeCount(job: JobState): number {
  let n = 0;
  for (const s of job.stages) n += s.counts.LAUNCHING + s.counts.RUNNING;
  return n;
}

/**
 * The tasks a scheduler may launch now, in stage order then index order: PENDING tasks of ready
 * stages, no more than `parallelism` allows (minus those LAUNCHING or RUNNING), and the tasks of a
 * gang stage all together or none of them (launch them all — {@link markLaunching} each — before
 * asking again: a gang partly launched is no longer launchable). Empty once the job has ended.
 * `limit` stops the walk early (a gang stage larger than what is left is skipped whole).
 */
export function launchableTasks(job: JobState, limit = Number.POSITIVE_INFINITY): string[] {
  if (job.state !== 'RUNNING') return [];
  let budget = Math.min(limit, job.parallelism === undefined ? Number.POSITIVE_INFINITY : job.parallelism - activeCount(job));
  const out: string[] = [];
  for (const stage of job.stages) {
    if (budget <= 0) break;
    if (stage.counts.PENDING === 0 || !isStageReady(job, stage.name)) continue;
    if (stage.gang) {
      if (stage.counts.PENDING === stage.taskIds.length && budget >= stage.taskIds.length) {
        out.push(...stage.taskIds);
        budget -= stage.taskIds.length;
      }
      continue;
    }
    const ids = stage.taskIds;
    let i = pendingFrom.get(stage) ?? 0;
    let firstPending: number | undefined;
    for (; i < ids.length && budget > 0; i++) {
      if (job.tasks[ids[i]!]!.state === 'PENDING') {
        firstPending ??= i;
        out.push(ids[i]!);
        budget--;
      }
    }
    pendingFrom.set(stage, firstPending ?? i);
  }
  return out;
}

/**
 * Records that the scheduler launches a task's next attempt (PENDING → LAUNCHING) and returns the
 * id to launch it under.
 * @throws `InvalidOperationError` when the task is not PENDING in a ready stage, the job has
 * ended, or `parallelism` is reached
 */
export function markLaunching(job: JobState, taskId: string, now: number, where: { agentId?: string; bundleId?: string } = {}): string {
  const task = job.tasks[taskId];
  const refuse = (why: string) => new InvalidOperationError(`cannot launch ${taskId}: ${why}`, { details: { jobId: job.jobId, taskId } });
  if (task === undefined) throw refuse('no such task');
  if (job.state !== 'RUNNING') throw refuse(`the job is ${job.state}`);
  if (task.state !== 'PENDING') throw refuse(`it is ${task.state}`);
  if (!isStageReady(job, task.stage)) throw refuse(`stage ${task.stage} waits for ${stageOf(job, task.stage).dependsOn.join(', ')}`);
  if (job.parallelism !== undefined && activeCount(job) >= job.parallelism) throw refuse(`${job.parallelism} tasks already run (parallelism)`);
  task.attempt++;
  const launchId = launchIdOf(taskId, task.attempt);
  setState(job, task, 'LAUNCHING');
  task.launchId = launchId;
  task.launchedAtMs = now;
  if (where.agentId !== undefined) task.agentId = where.agentId;
  if (where.bundleId !== undefined) task.bundleId = where.bundleId;
  delete task.pendingSinceMs;
  delete task.startedAtMs;
  delete task.timeoutAtMs;
  delete task.endedAtMs;
  delete task.output;
  delete task.message;
  job.launches[launchId] = taskId;
  return launchId;
}

/**
 * Applies a status of an attempt. Statuses of attempts no longer current (an earlier attempt, a
 * killed gang member, a cancelled job) are ignored.
 */
export function applyTaskStatus(job: JobState, update: BatchStatusUpdate, now: number): JobEffect[] {
  const taskId = job.launches[update.taskId];
  if (taskId === undefined || job.state !== 'RUNNING') return [];
  const task = job.tasks[taskId]!;
  if (update.agentId !== undefined) task.agentId = update.agentId;
  const effects: JobEffect[] = [];
  if (update.state === 'TASK_RUNNING') {
    if (task.state === 'LAUNCHING') {
      setState(job, task, 'RUNNING');
      task.startedAtMs = now;
      if (task.timeoutMs !== undefined) task.timeoutAtMs = now + task.timeoutMs;
    }
  } else if (update.state === 'TASK_FINISHED') {
    endAttempt(job, task);
    setState(job, task, 'SUCCEEDED');
    task.endedAtMs = now;
    if (update.output !== undefined) task.output = update.output;
    onSucceeded(job, task, now, effects);
  } else if (FAILED_STATES.has(update.state) || LOST_STATES.has(update.state)) {
    if (update.output !== undefined) task.output = update.output;
    const why = update.message ?? update.output?.error ?? update.state;
    failAttempt(job, task, now, `${update.state}: ${why}`, !LOST_STATES.has(update.state), effects);
  }
  // STAGING, STARTING, KILLING: nothing changes. UNREACHABLE: the agent may come back; the timeout still runs.
  return effects;
}

/**
 * Moves the job's clock to `now`: RETRY_WAITs that are over become PENDING, RUNNING attempts past
 * their timeout are killed and fail, and a job past its deadline fails.
 */
export function advanceJob(job: JobState, now: number): JobEffect[] {
  const effects: JobEffect[] = [];
  if (job.state !== 'RUNNING') return effects;
  if (job.deadlineAtMs !== undefined && now >= job.deadlineAtMs) {
    endJob(job, now, 'FAILED', 'DEADLINE_EXCEEDED', `the job's deadline passed ${Math.round((job.deadlineAtMs - job.createdAtMs) / 1000)} s after it was submitted`, effects);
    return effects;
  }
  for (const stage of job.stages) {
    if (stage.counts.RETRY_WAIT === 0 && stage.counts.RUNNING === 0) continue;
    for (const taskId of stage.taskIds) {
      if (job.state !== 'RUNNING') return effects;
      const task = job.tasks[taskId]!;
      if (task.state === 'RETRY_WAIT' && task.retryAtMs !== undefined && task.retryAtMs <= now) {
        setState(job, task, 'PENDING');
        delete task.retryAtMs;
        task.pendingSinceMs = now;
      } else if (task.state === 'RUNNING' && task.timeoutAtMs !== undefined && task.timeoutAtMs <= now) {
        effects.push(killOf(task));
        failAttempt(job, task, now, `timed out after ${formatSeconds(task.timeoutMs ?? 0)}`, true, effects);
      }
    }
  }
  return effects;
}

/** Cancels a running job: its tasks CANCELLED, live attempts killed. Nothing happens to a job that has ended. */
export function cancelJob(job: JobState, now: number, message = 'cancelled'): JobEffect[] {
  const effects: JobEffect[] = [];
  if (job.state === 'RUNNING') endJob(job, now, 'CANCELLED', 'CANCELLED', message, effects);
  return effects;
}

/**
 * Fails a running job for a reason found outside the state machine (a gang that never fits):
 * its tasks CANCELLED, live attempts killed. Nothing happens to a job that has ended.
 */
export function failJob(job: JobState, now: number, reason: JobEndReason, message: string): JobEffect[] {
  const effects: JobEffect[] = [];
  if (job.state === 'RUNNING') endJob(job, now, 'FAILED', reason, message, effects);
  return effects;
}

/**
 * Makes a job's derived fields agree with its tasks again — each stage's `counts`, `launches`
 * (LAUNCHING and RUNNING attempts by launch id), the locality clocks of PENDING tasks in ready
 * stages (restarted at `now`) — after its tasks were restored from storage.
 */
export function recountJob(job: JobState, now: number): void {
  job.launches = {};
  for (const stage of job.stages) {
    stage.counts = zeroCounts();
    for (const taskId of stage.taskIds) {
      const task = job.tasks[taskId]!;
      stage.counts[task.state]++;
      if (ACTIVE.has(task.state) && task.launchId !== undefined) job.launches[task.launchId] = taskId;
    }
  }
  for (const stage of job.stages) {
    if (!isStageReady(job, stage.name)) continue;
    for (const taskId of stage.taskIds) {
      const task = job.tasks[taskId]!;
      if (task.state === 'PENDING') task.pendingSinceMs = now;
    }
  }
}

/** When {@link advanceJob} next has something to do (a retry, a timeout, the deadline); undefined when nothing is due. */
export function nextWakeAt(job: JobState): number | undefined {
  if (job.state !== 'RUNNING') return undefined;
  let at = job.deadlineAtMs;
  const earlier = (t: number | undefined) => {
    if (t !== undefined && (at === undefined || t < at)) at = t;
  };
  for (const stage of job.stages) {
    if (stage.counts.RETRY_WAIT === 0 && stage.counts.RUNNING === 0) continue;
    for (const taskId of stage.taskIds) {
      const task = job.tasks[taskId]!;
      if (task.state === 'RETRY_WAIT') earlier(task.retryAtMs);
      else if (task.state === 'RUNNING') earlier(task.timeoutAtMs);
    }
  }
  return at;
}

/** Each stage's progress, in the spec's order. */
export function stageProgress(job: JobState): StageProgress[] {
  return job.stages.map((stage) => {
    const c = stage.counts;
    const total = stage.taskIds.length;
    const state: StageProgress['state'] =
      c.SUCCEEDED === total
        ? 'SUCCEEDED'
        : c.FAILED > 0
          ? 'FAILED'
          : c.CANCELLED > 0
            ? 'CANCELLED'
            : isStageReady(job, stage.name)
              ? 'RUNNING'
              : 'WAITING';
    return {
      stage: stage.name,
      state,
      total,
      done: c.SUCCEEDED,
      running: c.LAUNCHING + c.RUNNING,
      failed: c.FAILED,
      pending: c.PENDING + c.RETRY_WAIT,
      cancelled: c.CANCELLED,
      failedAttempts: stage.failedAttempts,
    };
  });
}

/** The results of a task's parents (every task of the stages its stage depends on), in stage then index order. */
export function taskInputs(job: JobState, taskId: string): TaskInput[] {
  const task = job.tasks[taskId];
  if (task === undefined) return [];
  const out: TaskInput[] = [];
  for (const dep of stageOf(job, task.stage).dependsOn) {
    for (const parentId of stageOf(job, dep).taskIds) {
      const parent = job.tasks[parentId]!;
      const result = parent.output?.result;
      out.push({ taskId: parentId, stage: parent.stage, index: parent.index, ...(result !== undefined ? { result } : {}) });
    }
  }
  return out;
}

// ---- inside ---------------------------------------------------------------------------------

function killOf(task: TaskProgress): JobEffect {
  return {
    type: 'KILL',
    taskId: task.taskId,
    launchId: task.launchId!,
    ...(task.agentId !== undefined ? { agentId: task.agentId } : {}),
    ...(task.bundleId !== undefined ? { bundleId: task.bundleId } : {}),
  };
}

function endAttempt(job: JobState, task: TaskProgress): void {
  if (task.launchId !== undefined) delete job.launches[task.launchId];
  delete task.launchId;
  delete task.bundleId;
  delete task.timeoutAtMs;
}

function backoffOf(task: TaskProgress): number {
  return Math.min(MAX_BACKOFF_MS, task.backoffMs * 2 ** Math.min(task.failures - 1, 30));
}

/** One attempt failed (`counts`) or was lost: retry, or fail the job. */
function failAttempt(job: JobState, task: TaskProgress, now: number, message: string, counts: boolean, effects: JobEffect[]): void {
  endAttempt(job, task);
  const stage = stageOf(job, task.stage);
  stage.failedAttempts++;
  task.message = message;
  task.endedAtMs = now;
  if (counts) task.failures++;
  else task.losses++;
  const exhausted = counts ? task.failures > task.retries : task.losses > job.maxLosses;
  if (exhausted) {
    setState(job, task, 'FAILED');
    const attempts = `${task.attempt} attempt${task.attempt === 1 ? '' : 's'}`;
    endJob(job, now, 'FAILED', 'TASK_FAILED', `task ${task.taskId} failed after ${attempts}: ${message}`, effects);
    return;
  }
  const retryAtMs = now + (counts ? backoffOf(task) : 0);
  const members = stage.gang ? stage.taskIds.map((id) => job.tasks[id]!) : [task];
  for (const member of members) {
    if (member !== task && ACTIVE.has(member.state)) {
      effects.push(killOf(member));
      endAttempt(job, member);
      member.message = `gang member ${task.taskId} failed`;
    }
    if (member !== task && member.state !== 'SUCCEEDED' && !ACTIVE.has(member.state)) continue;
    if (member !== task) delete member.output;
    if (retryAtMs <= now) {
      setState(job, member, 'PENDING');
      member.pendingSinceMs = now;
    } else {
      setState(job, member, 'RETRY_WAIT');
      member.retryAtMs = retryAtMs;
    }
  }
}

function onSucceeded(job: JobState, task: TaskProgress, now: number, effects: JobEffect[]): void {
  const stage = stageOf(job, task.stage);
  if (!stageSucceeded(stage)) return;
  if (job.stages.every(stageSucceeded)) {
    job.state = 'SUCCEEDED';
    job.endedAtMs = now;
    job.message = `all ${Object.keys(job.tasks).length} tasks succeeded`;
    effects.push({ type: 'JOB_ENDED', state: 'SUCCEEDED', message: job.message });
    return;
  }
  // Stages this one unblocked start their locality clocks now.
  for (const next of job.stages) {
    if (!next.dependsOn.includes(stage.name) || !isStageReady(job, next.name)) continue;
    for (const id of next.taskIds) {
      const t = job.tasks[id]!;
      if (t.state === 'PENDING') t.pendingSinceMs = now;
    }
  }
}

function endJob(job: JobState, now: number, state: 'FAILED' | 'CANCELLED', reason: JobEndReason, message: string, effects: JobEffect[]): void {
  job.state = state;
  job.reason = reason;
  job.message = message;
  job.endedAtMs = now;
  for (const stage of job.stages) {
    for (const taskId of stage.taskIds) {
      const task = job.tasks[taskId]!;
      if (DONE.has(task.state)) continue;
      if (ACTIVE.has(task.state)) effects.push(killOf(task));
      endAttempt(job, task);
      setState(job, task, 'CANCELLED');
      task.message = `cancelled: ${message}`;
      task.endedAtMs = now;
      delete task.retryAtMs;
      delete task.pendingSinceMs;
    }
  }
  effects.push({ type: 'JOB_ENDED', state, reason, message });
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
