/**
 * What a batch task carries to the batch executor and back, as msgpack in the protocol's opaque
 * byte fields: a {@link BatchTaskPayload} in `TaskInfo.data` (what to run, its index, args, env and
 * its parents' results), and a {@link TaskOutput} in the `data` of the task's terminal status
 * (exit code, stdout and stderr tails, the result value, the error). The TaskStatus's own
 * `exitCode` and `message` are set too, so tools that do not know batch still show something useful.
 *
 * A **bundle** carries many short tasks of one stage in one TaskInfo (a {@link BatchBundlePayload}
 * in its `data`, each member with its own launch id): the executor runs each member as a task of
 * its own and reports the members that ended in the bundle's statuses (a {@link BundleReport} in
 * the `data` of its TASK_RUNNING updates and of its terminal one). See docs/batch.md, "Bundles".
 *
 * @example
 * ```ts
 * client.on('UPDATE', (e) => {
 *   for (const s of e.statuses) applyTaskStatus(job, { ...s, output: decodeTaskOutput(s.data) }, Date.now());
 * });
 * ```
 * @module
 */

import { decode, decodeRaw, encode, encodeTrusted, safeDecode, validate } from '@stoa/sdk';
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

const TaskOutputShape = {
  exitCode: z.number().int().optional(),
  stdoutTail: z.string().optional(),
  stderrTail: z.string().optional(),
  result: JsonSchema.optional(),
  error: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
};

/** What the batch executor reads in the `data` of a bundle: its members, and the inputs they share. */
export const BatchBundlePayloadSchema = z.object({
  v: z.literal(1),
  /** The members: each a task payload (without `inputs`) and the id its attempt was launched under. */
  members: z
    .array(BatchTaskPayloadSchema.omit({ inputs: true }).extend({ launchId: z.string().min(1), timeoutMs: z.number().int().positive().optional() }))
    .min(1),
  /** The results of the parents of the members' stage (the same for every member). */
  inputs: BatchTaskPayloadSchema.shape.inputs,
});

/** What the batch executor reads in the `data` of a bundle. */
export type BatchBundlePayload = {
  v: 1;
  members: (Omit<BatchTaskPayload, 'inputs'> & { launchId: string; timeoutMs?: number })[];
  inputs?: TaskInput[];
};

/** The states a bundle member ends in. */
export const MEMBER_END_STATES = ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED'] as const;

/** What the `data` of a bundle's status carries: the members that ended since its last status. */
export const BundleReportSchema = z.object({
  v: z.literal(1),
  ended: z.array(
    z.object({
      launchId: z.string().min(1),
      state: z.enum(MEMBER_END_STATES),
      message: z.string().optional(),
      reason: z.string().optional(),
      output: z.object(TaskOutputShape),
    }),
  ),
});

/** One member's end, as a bundle's status reports it. */
export interface MemberEnd {
  launchId: string;
  state: (typeof MEMBER_END_STATES)[number];
  message?: string;
  /** The protocol's reason code, e.g. REASON_MAX_COMPLETION_TIME_REACHED. */
  reason?: string;
  output: TaskOutput;
}

/** What the `data` of a bundle's status carries. */
export interface BundleReport {
  v: 1;
  ended: MemberEnd[];
}

/** A task's output as it rides in its terminal status' `data`. */
export const TaskOutputSchema = z.object(TaskOutputShape);

/** Encodes a task's payload for `TaskInfo.data`. @throws `ProtocolError` when it is not valid */
export function encodeTaskPayload(payload: BatchTaskPayload): Uint8Array {
  return encode(BatchTaskPayloadSchema, payload);
}

/** Decodes a task's payload. @throws `ProtocolError` when the bytes are not one */
export function decodeTaskPayload(data: Uint8Array): BatchTaskPayload {
  return decode(BatchTaskPayloadSchema, data) as BatchTaskPayload;
}

/**
 * Encodes a bundle for `TaskInfo.data`. Its members are built from a validated job spec, so they
 * are not validated again here (a bundle holds many of them); the executor validates what it gets.
 */
export function encodeBundlePayload(payload: BatchBundlePayload): Uint8Array {
  return encodeTrusted(payload);
}

/**
 * Decodes what a task's `data` holds: one task, or a bundle of them.
 * @throws `ProtocolError` when the bytes are neither
 */
export function decodeTaskData(data: Uint8Array): { kind: 'task'; payload: BatchTaskPayload } | { kind: 'bundle'; bundle: BatchBundlePayload } {
  const raw = decodeRaw(data) as { members?: unknown } | null | undefined;
  if (raw !== null && typeof raw === 'object' && raw.members !== undefined) {
    return { kind: 'bundle', bundle: validate(BatchBundlePayloadSchema, raw, 'bundle') as BatchBundlePayload };
  }
  return { kind: 'task', payload: validate(BatchTaskPayloadSchema, raw, 'task data') as BatchTaskPayload };
}

/** Encodes a bundle's report for `TaskStatus.data`. @throws `ProtocolError` when it is not valid */
export function encodeBundleReport(report: BundleReport): Uint8Array {
  return encode(BundleReportSchema, report);
}

/** Decodes a bundle's report; undefined when there is none or it is not one. */
export function decodeBundleReport(data: Uint8Array | undefined): BundleReport | undefined {
  if (data === undefined || data.length === 0) return undefined;
  const r = safeDecode(BundleReportSchema, data);
  return r.ok ? (r.value as BundleReport) : undefined;
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
