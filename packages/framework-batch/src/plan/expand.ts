/**
 * Expansion: a resolved {@link JobSpec} becomes its tasks, one {@link PlannedTask} per stage index,
 * with ids `<job>.<stage>.<index>` and the environment every batch task sees:
 * `STOA_JOB_ID`, `STOA_STAGE`, `STOA_TASK_INDEX` and `STOA_TASK_COUNT`.
 * Expansion is deterministic: the same spec and job id give the same tasks, so a scheduler may
 * store the spec and expand it again after a restart.
 *
 * A retry is launched under its own id, `<job>.<stage>.<index>.<attempt>` (attempts from 2), so
 * a late status of an earlier attempt is never taken for the current one; {@link launchIdOf} and
 * {@link parseTaskId} convert.
 *
 * @example
 * ```ts
 * const tasks = expandJob(spec, 'wordcount-7');
 * tasks[0].taskId;   // 'wordcount-7.map.0'
 * tasks[0].env;      // { STOA_JOB_ID: 'wordcount-7', STOA_STAGE: 'map', STOA_TASK_INDEX: '0', STOA_TASK_COUNT: '20', … }
 * ```
 * @module
 */

import type { Resource } from '@stoa/sdk';
import { ValidationError } from '@stoa/sdk';
import { type JobSpec, type JsonValue, NAME_PATTERN, type PreferSpec, type TaskResourcesSpec, type TaskRun } from '../spec/schema.js';

/** One task of a job, ready to be launched (by a scheduler) and run (by the batch executor). */
export interface PlannedTask {
  /** `<job>.<stage>.<index>`. */
  taskId: string;
  jobId: string;
  stage: string;
  /** The stage's position in the spec. */
  stageIndex: number;
  /** The task's index in its stage, 0…count-1. */
  index: number;
  /** How many tasks its stage has. */
  count: number;
  run: TaskRun;
  args?: JsonValue;
  /** The spec's env plus `STOA_JOB_ID`, `STOA_STAGE`, `STOA_TASK_INDEX`, `STOA_TASK_COUNT`. */
  env: Record<string, string>;
  /** What it needs, as core resources (unreserved; a scheduler may re-role them). */
  resources: Resource[];
  retries: number;
  backoffMs: number;
  timeoutMs?: number;
  prefer: PreferSpec;
  /** Delay scheduling: the wait per locality level. */
  localityWaitMs: number;
  gang: boolean;
  gangTimeoutMs: number;
}

/** Turns a spec's resources into core resources (`mem` and `disk` in MB). */
export function toResources(spec: TaskResourcesSpec): Resource[] {
  const out: Resource[] = [
    { name: 'cpus', type: 'SCALAR', scalar: spec.cpus },
    { name: 'mem', type: 'SCALAR', scalar: spec.mem },
  ];
  if (spec.disk !== undefined && spec.disk > 0) out.push({ name: 'disk', type: 'SCALAR', scalar: spec.disk });
  if (spec.gpus !== undefined && spec.gpus > 0) out.push({ name: 'gpus', type: 'SCALAR', scalar: spec.gpus });
  return out;
}

/** The id of task `index` of `stage` in job `jobId`. */
export function taskIdOf(jobId: string, stage: string, index: number): string {
  return `${jobId}.${stage}.${index}`;
}

/** The id attempt `attempt` (from 1) of a task is launched under: the task's id, then `<taskId>.<attempt>` for retries. */
export function launchIdOf(taskId: string, attempt: number): string {
  return attempt <= 1 ? taskId : `${taskId}.${attempt}`;
}

/** The parts of a task's or a launch's id; undefined when it is not one of a batch job. */
export function parseTaskId(id: string): { jobId: string; stage: string; index: number; attempt: number; taskId: string } | undefined {
  const parts = id.split('.');
  if (parts.length !== 3 && parts.length !== 4) return undefined;
  const [jobId, stage, indexText, attemptText] = parts as [string, string, string, string | undefined];
  if (!NAME_PATTERN.test(jobId) || !NAME_PATTERN.test(stage) || !/^(0|[1-9]\d*)$/.test(indexText)) return undefined;
  if (attemptText !== undefined && !/^[1-9]\d*$/.test(attemptText)) return undefined;
  const attempt = attemptText === undefined ? 1 : Number(attemptText);
  if (attempt < 2 && attemptText !== undefined) return undefined;
  return { jobId, stage, index: Number(indexText), attempt, taskId: taskIdOf(jobId, stage, Number(indexText)) };
}

/**
 * The tasks of a job, stage by stage in the spec's order, index by index.
 * @param jobId the job run's id (a name: letters, digits, `-`, `_`, no dots) @default spec.name
 * @throws `ValidationError` when `jobId` is not a name
 */
export function expandJob(spec: JobSpec, jobId: string = spec.name): PlannedTask[] {
  if (!NAME_PATTERN.test(jobId)) {
    throw new ValidationError(`job id "${jobId}" is not a name: letters, digits, "-" and "_", at most 63 characters`, { details: { field: 'jobId' } });
  }
  const out: PlannedTask[] = [];
  spec.stages.forEach((stage, stageIndex) => {
    const count = stage.tasks.length;
    stage.tasks.forEach((task, index) => {
      out.push({
        taskId: taskIdOf(jobId, stage.name, index),
        jobId,
        stage: stage.name,
        stageIndex,
        index,
        count,
        run: task.run,
        ...(task.args !== undefined ? { args: task.args } : {}),
        env: {
          ...task.env,
          STOA_JOB_ID: jobId,
          STOA_STAGE: stage.name,
          STOA_TASK_INDEX: String(index),
          STOA_TASK_COUNT: String(count),
        },
        resources: toResources(task.resources),
        retries: task.retries,
        backoffMs: task.backoffSeconds * 1000,
        ...(task.timeoutSeconds !== undefined ? { timeoutMs: task.timeoutSeconds * 1000 } : {}),
        prefer: task.prefer,
        localityWaitMs: stage.localityWaitSeconds * 1000,
        gang: stage.gang,
        gangTimeoutMs: stage.gangTimeoutSeconds * 1000,
      });
    });
  });
  return out;
}
