/**
 * What a batch task leaves behind, and how a reduce stage receives it. A task's
 * {@link TaskOutput} (exit code, stdout tail, result value) travels from the batch executor to the
 * scheduler in the `data` of its terminal status; the job state keeps it; a task of a stage with
 * `dependsOn` gets its parents' results as {@link TaskInput}s — a module function as its `inputs`
 * argument, a command as a JSON file whose path is in `STOA_INPUTS`.
 *
 * Results are for small values (counts, paths, summaries): each is limited (64 KiB by default,
 * as JSON) because it rides in a status update and, through the inputs, in the TaskInfo of every
 * child task. Bulky output belongs in shared storage, its location in the result.
 *
 * @module
 */

import type { JsonValue } from '../spec/schema.js';

/** The default limit of one task's result, as JSON text, in bytes. */
export const DEFAULT_RESULT_LIMIT_BYTES = 64 * 1024;
/** The default length of the stdout (and stderr) tail kept of a command task, in bytes. */
export const DEFAULT_STDOUT_TAIL_BYTES = 16 * 1024;

/** What one attempt of a task left behind. */
export interface TaskOutput {
  /** The exit code of a command task. */
  exitCode?: number;
  /** The last bytes of a command task's stdout (UTF-8). */
  stdoutTail?: string;
  /** The last bytes of a command task's stderr (UTF-8). */
  stderrTail?: string;
  /** The value a module function returned, or the JSON a command wrote to `$STOA_RESULT`. */
  result?: JsonValue;
  /** Why it failed: the error a function threw, a timeout, a signal. */
  error?: string;
  /** How long it ran, in milliseconds. */
  durationMs?: number;
}

/** The result of one parent task, as a task of a dependent stage receives it. */
export interface TaskInput {
  /** The parent's task id, `<job>.<stage>.<index>`. */
  taskId: string;
  stage: string;
  index: number;
  /** What the parent returned; absent when it returned nothing. */
  result?: JsonValue;
}
