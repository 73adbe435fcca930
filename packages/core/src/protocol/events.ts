/**
 * Messages to everyone: LEADER_ELECTED on `stoa.master.leader`, and the cluster event stream on
 * `stoa.events.<kind>` (tasks, agents and frameworks added, updated, removed; batched per turn),
 * which the master's HTTP API also serves as server-sent events, one event each.
 *
 * @module
 */

import { z } from 'zod';
import { AgentIdSchema, FrameworkIdSchema, MillisSchema, VersionSchema } from './common.js';
import { AgentSummarySchema, FrameworkSummarySchema, TaskSummarySchema } from './operator.js';

/** A new leader announces itself. Agents and frameworks re-register with it. */
export const LeaderElectedSchema = z.object({
  v: VersionSchema,
  type: z.literal('LEADER_ELECTED'),
  epoch: z.number().int().nonnegative(),
  masterId: z.string(),
  hostname: z.string().optional(),
  httpUrl: z.string().optional(),
});

const ev = { v: VersionSchema, timestampMs: MillisSchema };

/** One event of the cluster event stream. The subject's last token is the event's `kind`. */
export const ClusterEventSchema = z.discriminatedUnion('type', [
  z.object({ ...ev, type: z.literal('TASK_ADDED'), task: TaskSummarySchema }),
  z.object({ ...ev, type: z.literal('TASK_UPDATED'), task: TaskSummarySchema }),
  z.object({ ...ev, type: z.literal('AGENT_ADDED'), agent: AgentSummarySchema }),
  z.object({ ...ev, type: z.literal('AGENT_UPDATED'), agent: AgentSummarySchema }),
  z.object({ ...ev, type: z.literal('AGENT_REMOVED'), agentId: AgentIdSchema }),
  z.object({ ...ev, type: z.literal('FRAMEWORK_ADDED'), framework: FrameworkSummarySchema }),
  z.object({ ...ev, type: z.literal('FRAMEWORK_UPDATED'), framework: FrameworkSummarySchema }),
  z.object({ ...ev, type: z.literal('FRAMEWORK_REMOVED'), frameworkId: FrameworkIdSchema }),
]);

/**
 * What travels on `stoa.events.<kind>`: the events of one kind the master produced in one turn of
 * its event loop (a burst of 10,000 task updates is one message, not 10,000).
 */
export const ClusterEventBatchSchema = z.object({ v: VersionSchema, events: z.array(ClusterEventSchema).min(1) });

/** The `kind` token of a cluster event's subject. */
export function clusterEventKind(type: ClusterEvent['type']): 'task' | 'agent' | 'framework' {
  return type.startsWith('TASK') ? 'task' : type.startsWith('AGENT') ? 'agent' : 'framework';
}

/** A leader announcement. */
export type LeaderElected = z.infer<typeof LeaderElectedSchema>;
/** A cluster event. */
export type ClusterEvent = z.infer<typeof ClusterEventSchema>;
/** A batch of cluster events of one kind. */
export type ClusterEventBatch = z.infer<typeof ClusterEventBatchSchema>;
