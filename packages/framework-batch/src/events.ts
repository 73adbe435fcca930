/**
 * What the batch framework tells its listeners (the `/v1/events` stream, `stoa batch submit
 * --wait`): jobs submitted and ended, progress per stage (at most a few times a second per job),
 * and each attempt's end.
 *
 * @module
 */

import type { TaskState } from '@stoa/sdk';
import type { BatchTaskState, JobEndReason, JobRunState, StageProgress } from './plan/job-state.js';

/** An event of the batch framework, discriminated on `type`. */
export type BatchEvent =
  /** A job was accepted. */
  | { type: 'JOB_SUBMITTED'; jobId: string; name: string; atMs: number }
  /** A job's progress per stage (throttled: at most one per job per `progressIntervalMs`). */
  | { type: 'JOB_PROGRESS'; jobId: string; state: JobRunState; stages: StageProgress[]; atMs: number }
  /** An attempt of a task ended (and what became of the task). */
  | {
      type: 'TASK_ENDED';
      jobId: string;
      taskId: string;
      launchId: string;
      /** The attempt's last state, as the agent reported it. */
      taskState: TaskState;
      /** Where the task stands now: SUCCEEDED, RETRY_WAIT, PENDING (lost, tried again), FAILED, CANCELLED. */
      state: BatchTaskState;
      message?: string;
      exitCode?: number;
      atMs: number;
    }
  /** A job ended. */
  | { type: 'JOB_ENDED'; jobId: string; state: Exclude<JobRunState, 'RUNNING'>; reason?: JobEndReason; message: string; atMs: number };

/** A listener of {@link BatchEvent}s. */
export type BatchEventListener = (event: BatchEvent) => void;
