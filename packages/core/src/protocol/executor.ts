/**
 * The executor channel between an agent and a custom executor process it started.
 *
 * The agent sends events on `stoa.executor.<agentId>.<executorId>`; the executor sends calls as
 * requests on `stoa.executor.<agentId>.<executorId>.calls` (a subject of its own, so neither side
 * hears its own messages). The agent passes both subjects and the NATS URL to the executor in its
 * environment (`STOA_EXECUTOR_SUBJECT`, `STOA_EXECUTOR_CALLS_SUBJECT`, `STOA_NATS_URL`).
 * An UPDATE's reply means the agent has checkpointed it; ACKNOWLEDGED follows when the framework
 * acknowledged it.
 *
 * @module
 */

import { z } from 'zod';
import { AgentIdSchema, BytesSchema, ExecutorIdSchema, FrameworkIdSchema, MillisSchema, replySchema, TaskIdSchema, VersionSchema } from './common.js';
import { FrameworkInfoSchema } from './scheduler.js';
import { ExecutorInfoSchema, KillPolicySchema, TaskInfoSchema, TaskStatusSchema } from './task.js';

const call = { v: VersionSchema, executorId: ExecutorIdSchema, frameworkId: FrameworkIdSchema };

/** A call from an executor to its agent. */
export const ExecutorCallSchema = z.discriminatedUnion('type', [
  z.object({
    ...call,
    type: z.literal('SUBSCRIBE'),
    /** Tasks it still runs (after an agent restart). */
    unacknowledgedTasks: z.array(TaskInfoSchema).optional(),
    /** Updates it sent that were not yet acknowledged. */
    unacknowledgedUpdates: z.array(TaskStatusSchema).optional(),
  }),
  z.object({ ...call, type: z.literal('UPDATE'), statuses: z.array(TaskStatusSchema).min(1) }),
  z.object({ ...call, type: z.literal('MESSAGE'), data: BytesSchema }),
]);

/** What the agent answers to SUBSCRIBE. */
export const ExecutorSubscribedSchema = z.object({
  agentId: AgentIdSchema,
  executorInfo: ExecutorInfoSchema,
  frameworkInfo: FrameworkInfoSchema,
});

/** The reply to an executor's SUBSCRIBE. */
export const ExecutorSubscribeReplySchema = replySchema(ExecutorSubscribedSchema);

/** The reply to other executor calls. */
export const ExecutorCallReplySchema = replySchema(z.object({}).loose());

const ev = { v: VersionSchema };

/** An event from the agent to an executor. */
export const ExecutorEventSchema = z.discriminatedUnion('type', [
  z.object({ ...ev, type: z.literal('LAUNCH'), tasks: z.array(TaskInfoSchema).min(1) }),
  z.object({ ...ev, type: z.literal('LAUNCH_GROUP'), tasks: z.array(TaskInfoSchema).min(1) }),
  z.object({ ...ev, type: z.literal('KILL'), taskId: TaskIdSchema, killPolicy: KillPolicySchema.optional() }),
  z.object({ ...ev, type: z.literal('ACKNOWLEDGED'), taskId: TaskIdSchema, uuid: z.string().min(1) }),
  z.object({ ...ev, type: z.literal('MESSAGE'), data: BytesSchema }),
  z.object({ ...ev, type: z.literal('SHUTDOWN'), gracePeriodMs: MillisSchema.optional() }),
  z.object({ ...ev, type: z.literal('ERROR'), message: z.string() }),
]);

/** A call from an executor. */
export type ExecutorCall = z.infer<typeof ExecutorCallSchema>;
/** What an executor's SUBSCRIBE answers. */
export type ExecutorSubscribed = z.infer<typeof ExecutorSubscribedSchema>;
/** An event to an executor. */
export type ExecutorEvent = z.infer<typeof ExecutorEventSchema>;
