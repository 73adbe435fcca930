/**
 * What a scheduler puts in its TaskInfos to run tasks on the batch executor:
 * {@link batchExecutorInfo} (the ExecutorInfo: how the agent starts the executor, and the
 * resources its container gets — which bound how many tasks it runs at once) and
 * {@link batchTaskInfo} (one planned task as a TaskInfo, its payload in `data`).
 *
 * @example
 * ```ts
 * const executor = batchExecutorInfo({ resources: 'cpus:2;mem:1024' });
 * const launchId = markLaunching(job, task.taskId, Date.now(), { agentId: offer.agentId });
 * const info = batchTaskInfo(task, { agentId: offer.agentId, launchId, executor, inputs: taskInputs(job, task.taskId) });
 * await client.accept(offer.id, [{ type: 'LAUNCH', tasks: [info] }]);
 * ```
 * @module
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ExecutorInfo, parseResources, type Resource, type TaskInfo, ValidationError } from '@stoa/sdk';
import type { PlannedTask } from '../plan/expand.js';
import type { TaskInput } from '../plan/outputs.js';
import { type BatchTaskPayload, encodeBundlePayload, encodeTaskPayload } from './task-data.js';

/** The batch executor's id on every agent, unless told otherwise. */
export const BATCH_EXECUTOR_ID = 'stoa-batch';

/**
 * The largest payload a batch TaskInfo carries by default (its `data`: args, env and the parents'
 * results), well under NATS' default 1 MiB message limit, since one LAUNCH may carry many tasks.
 */
export const DEFAULT_MAX_TASK_DATA_BYTES = 512 * 1024;

/** Options of {@link batchExecutorInfo}. */
export interface BatchExecutorInfoOptions {
  /** @default 'stoa-batch' */
  executorId?: string;
  /** @default 'stoa batch executor' */
  name?: string;
  /**
   * The executor's resources: its container's limits, shared by the tasks it runs at once (a task
   * starts when the running ones leave room for it).
   * @default 'cpus:1;mem:512'
   */
  resources?: Resource[] | string;
  /** At most this many tasks at once (`STOA_BATCH_MAX_CONCURRENCY`). @default bounded by `resources` alone */
  maxConcurrency?: number;
  /** How much of a command's stdout and stderr comes back (`STOA_BATCH_STDOUT_TAIL_BYTES`). @default 16384 */
  stdoutTailBytes?: number;
  /** The largest result a task may return, as JSON (`STOA_BATCH_RESULT_LIMIT_BYTES`). @default 65536 */
  resultLimitBytes?: number;
  /** SIGTERM → SIGKILL grace for commands killed without a kill policy (`STOA_BATCH_KILL_GRACE_MS`). @default 3000 */
  killGracePeriodMs?: number;
  /** TASK_RUNNING only for tasks still running after this long (`STOA_BATCH_RUNNING_DELAY_MS`). @default 0 (always) */
  runningDelayMs?: number;
  /** More environment for the executor and its tasks. */
  environment?: Record<string, string>;
  /**
   * The shell command that starts the executor.
   * @default `node <this package>/executor/main.js`; from sources, `node --import <tsx> …/main.ts`
   * with `TSX_TSCONFIG_PATH` (env, else the repository's tsconfig.json) so `@stoa/*` resolve to sources
   */
  command?: string;
}

/** How to start the executor from this installation: the built `main.js`, or `main.ts` through tsx. */
function defaultCommand(): { command: string; environment: Record<string, string> } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const main = join(dirname(here), 'main.ts');
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const repoTsconfig = join(dirname(here), '..', '..', '..', '..', 'tsconfig.json');
    const tsconfig = process.env.TSX_TSCONFIG_PATH ?? (existsSync(repoTsconfig) ? repoTsconfig : undefined);
    return { command: `exec node --import ${shellQuote(tsx)} ${shellQuote(main)}`, environment: tsconfig !== undefined ? { TSX_TSCONFIG_PATH: tsconfig } : {} };
  }
  // Built: this module is bundled into dist/index.js, the executor is dist/executor/main.js.
  const built = [join(dirname(here), 'executor', 'main.js'), join(dirname(here), 'main.js')].find((p) => existsSync(p)) ?? join(dirname(here), 'executor', 'main.js');
  return { command: `exec node ${shellQuote(built)}`, environment: {} };
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The ExecutorInfo of the batch executor, for the `executor` of batch tasks' TaskInfos. */
export function batchExecutorInfo(options: BatchExecutorInfoOptions = {}): ExecutorInfo {
  const resources = typeof options.resources === 'string' ? parseResources(options.resources) : (options.resources ?? parseResources('cpus:1;mem:512'));
  const start = options.command !== undefined ? { command: options.command, environment: {} } : defaultCommand();
  const environment: Record<string, string> = { ...start.environment, ...options.environment };
  if (options.maxConcurrency !== undefined) environment.STOA_BATCH_MAX_CONCURRENCY = String(options.maxConcurrency);
  if (options.stdoutTailBytes !== undefined) environment.STOA_BATCH_STDOUT_TAIL_BYTES = String(options.stdoutTailBytes);
  if (options.resultLimitBytes !== undefined) environment.STOA_BATCH_RESULT_LIMIT_BYTES = String(options.resultLimitBytes);
  if (options.killGracePeriodMs !== undefined) environment.STOA_BATCH_KILL_GRACE_MS = String(options.killGracePeriodMs);
  if (options.runningDelayMs !== undefined) environment.STOA_BATCH_RUNNING_DELAY_MS = String(options.runningDelayMs);
  return {
    executorId: options.executorId ?? BATCH_EXECUTOR_ID,
    name: options.name ?? 'stoa batch executor',
    resources,
    command: { value: start.command, environment },
    labels: { 'stoa.batch/executor': 'v1' },
  };
}

/** Options of {@link batchTaskInfo}. */
export interface BatchTaskInfoOptions {
  /** The agent of the offer it is launched on. */
  agentId: string;
  /** The executor to run it (from {@link batchExecutorInfo}). */
  executor: ExecutorInfo;
  /** The id of this attempt (from `markLaunching`). @default task.taskId */
  launchId?: string;
  /** Its parents' results (from `taskInputs`). @default none */
  inputs?: TaskInput[];
  /** The resources to launch it with (say, re-roled for a reservation). @default task.resources */
  resources?: Resource[];
  /** Refuse a payload larger than this. @default 524288 */
  maxDataBytes?: number;
}

/**
 * A planned task as the TaskInfo that launches it on the batch executor; its timeout becomes
 * `maxCompletionTimeMs`.
 * @throws `ValidationError` when the payload (mostly the parents' results) is over `maxDataBytes`
 */
export function batchTaskInfo(task: PlannedTask, options: BatchTaskInfoOptions): TaskInfo {
  const data = encodeTaskPayload({
    ...payloadOf(task),
    ...(options.inputs !== undefined && options.inputs.length > 0 ? { inputs: options.inputs } : {}),
  });
  const limit = options.maxDataBytes ?? DEFAULT_MAX_TASK_DATA_BYTES;
  if (data.length > limit) {
    throw new ValidationError(
      `task ${task.taskId} would carry ${data.length} bytes (args, env and ${options.inputs?.length ?? 0} parent results), over the limit of ${limit}: return smaller results (a path to the data, say)`,
      { details: { field: 'inputs', taskId: task.taskId, bytes: data.length, limit } },
    );
  }
  return {
    taskId: options.launchId ?? task.taskId,
    name: `${task.jobId}.${task.stage}`,
    agentId: options.agentId,
    resources: options.resources ?? task.resources,
    executor: options.executor,
    ...(task.timeoutMs !== undefined ? { maxCompletionTimeMs: task.timeoutMs } : {}),
    labels: { 'stoa.batch/job': task.jobId, 'stoa.batch/stage': task.stage, 'stoa.batch/index': String(task.index) },
    data,
  };
}

/** What the executor reads of a planned task, its parents' results aside. */
function payloadOf(task: PlannedTask): Omit<BatchTaskPayload, 'inputs'> {
  return {
    v: 1,
    jobId: task.jobId,
    stage: task.stage,
    index: task.index,
    count: task.count,
    run: task.run,
    ...(task.args !== undefined ? { args: task.args } : {}),
    env: task.env,
  };
}

/** Options of {@link batchBundleInfo}. */
export interface BatchBundleInfoOptions {
  /** The agent of the offer it is launched on. */
  agentId: string;
  /** The executor to run it (from {@link batchExecutorInfo}). */
  executor: ExecutorInfo;
  /** The bundle's task id. */
  bundleId: string;
  /** The launch id of each member's attempt, in the order of the tasks. */
  launchIds: readonly string[];
  /** The results of the parents of the members' stage. @default none */
  inputs?: TaskInput[];
  /** One member's resources (say, re-roled for a reservation). @default the first task's */
  resources?: Resource[];
  /** Refuse a payload larger than this. @default 524288 */
  maxDataBytes?: number;
}

/**
 * Planned tasks of one stage as one TaskInfo that launches them all on the batch executor (a
 * bundle): its resources are the members' together, its data their payloads and launch ids.
 * @throws `ValidationError` when the payload is over `maxDataBytes`
 */
export function batchBundleInfo(tasks: readonly PlannedTask[], options: BatchBundleInfoOptions): TaskInfo {
  const first = tasks[0]!;
  const data = encodeBundlePayload({
    v: 1,
    members: tasks.map((task, i) => ({
      launchId: options.launchIds[i]!,
      ...payloadOf(task),
      ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
    })),
    ...(options.inputs !== undefined && options.inputs.length > 0 ? { inputs: options.inputs } : {}),
  });
  const limit = options.maxDataBytes ?? DEFAULT_MAX_TASK_DATA_BYTES;
  if (data.length > limit) {
    throw new ValidationError(`bundle ${options.bundleId} of ${tasks.length} tasks would carry ${data.length} bytes, over the limit of ${limit}`, {
      details: { field: 'inputs', taskId: options.bundleId, bytes: data.length, limit },
    });
  }
  const one = options.resources ?? first.resources;
  return {
    taskId: options.bundleId,
    name: `${first.jobId}.${first.stage}`,
    agentId: options.agentId,
    resources: one.map((r) => (r.type === 'SCALAR' ? { ...r, scalar: (r.scalar ?? 0) * tasks.length } : r)),
    executor: options.executor,
    labels: { 'stoa.batch/job': first.jobId, 'stoa.batch/stage': first.stage, 'stoa.batch/bundle': String(tasks.length) },
    data,
  };
}
