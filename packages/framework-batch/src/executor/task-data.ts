/**
 * What a batch task carries to the batch executor and back, as msgpack in the protocol's opaque
 * byte fields: a {@link BatchTaskPayload} in `TaskInfo.data` (what to run, its index, args, env and
 * its parents' results), and a {@link TaskOutput} in the `data` of the task's terminal status
 * (exit code, stdout and stderr tails, the result value, the error). The TaskStatus's own
 * `exitCode` and `message` are set too, so tools that do not know batch still show something useful.
 *
 * @example
 * ```ts
 * client.on('UPDATE', (e) => {
 *   for (const s of e.statuses) applyTaskStatus(job, { ...s, output: decodeTaskOutput(s.data) }, Date.now());
 * });
 * ```
 * @module
 */

import { decode, encode, safeDecode } from '@stoa/sdk';
import { z } from 'zod';
import type { TaskInput, TaskOutput } from '../plan/outputs.js';
import type { JsonValue } from '../spec/schema.js';

const JsonSchema = z.json();

/** What the batch executor reads in a task's `data`. */
export const BatchTaskPayloadSchema = z.object({
  /** The format's version. */
  v: z.literal(1),
  jobId: z.string().min(1),
  stage: z.string().min(1),
  index: z.number().int().nonnegative(),
  count: z.number().int().positive(),
  run: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('command'), command: z.string().min(1) }),
    z.object({ kind: z.literal('module'), module: z.string().min(1), export: z.string().min(1) }),
  ]),
  args: JsonSchema.optional(),
  /** The task's environment (`STOA_*` included). */
  env: z.record(z.string(), z.string()),
  /** The results of the task's parents. */
  inputs: z.array(z.object({ taskId: z.string(), stage: z.string(), index: z.number().int().nonnegative(), result: JsonSchema.optional() })).optional(),
});

/** What the batch executor reads in a task's `data`. */
export type BatchTaskPayload = Omit<z.output<typeof BatchTaskPayloadSchema>, 'args' | 'inputs'> & { args?: JsonValue; inputs?: TaskInput[] };

/** A task's output as it rides in its terminal status' `data`. */
export const TaskOutputSchema = z.object({
  exitCode: z.number().int().optional(),
  stdoutTail: z.string().optional(),
  stderrTail: z.string().optional(),
  result: JsonSchema.optional(),
  error: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
});

/** Encodes a task's payload for `TaskInfo.data`. @throws `ProtocolError` when it is not valid */
export function encodeTaskPayload(payload: BatchTaskPayload): Uint8Array {
  return encode(BatchTaskPayloadSchema, payload);
}

/** Decodes a task's payload. @throws `ProtocolError` when the bytes are not one */
export function decodeTaskPayload(data: Uint8Array): BatchTaskPayload {
  return decode(BatchTaskPayloadSchema, data) as BatchTaskPayload;
}

/** Encodes a task's output for `TaskStatus.data`. @throws `ProtocolError` when it is not valid */
export function encodeTaskOutput(output: TaskOutput): Uint8Array {
  return encode(TaskOutputSchema, output);
}

/** Decodes the output in a status' `data`; undefined when there is none or it is not one (a status of another executor). */
export function decodeTaskOutput(data: Uint8Array | undefined): TaskOutput | undefined {
  if (data === undefined || data.length === 0) return undefined;
  const r = safeDecode(TaskOutputSchema, data);
  return r.ok ? (r.value as TaskOutput) : undefined;
}
