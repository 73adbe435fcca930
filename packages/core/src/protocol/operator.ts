/**
 * The operator channel: request/reply on `stoa.master.operator`, the same calls the master's HTTP
 * operator API serves. Reads return snapshots; writes (drain, teardown, weights, quota,
 * reservations) answer once the master has recorded them.
 *
 * @example
 * ```ts
 * const call: OperatorCall = { v: 1, type: 'GET_TASKS', state: 'TASK_RUNNING', limit: 100 };
 * ```
 * @module
 */

import { z } from 'zod';
import { AgentIdSchema, FrameworkIdSchema, MillisSchema, replySchema, RoleSchema, TaskIdSchema, VersionSchema } from './common.js';
import { AgentInfoSchema } from './agent.js';
import { AttributesSchema, FaultDomainSchema, ResourcesSchema } from './resources.js';
import { FrameworkInfoSchema } from './scheduler.js';
import { TaskStateSchema, TaskStatusSchema } from './task.js';

/** Scalar quantities by resource name (`{ cpus: 4, mem: 4096 }`), as quota speaks. */
export const QuantitiesSchema = z.record(z.string(), z.number().finite().nonnegative());

/** A role's quota: what it is guaranteed and what it may never exceed, kept apart. */
export const QuotaSchema = z.object({
  role: RoleSchema,
  guarantee: QuantitiesSchema.optional(),
  limit: QuantitiesSchema.optional(),
});

/** A role's weight in fair sharing. */
export const WeightSchema = z.object({ role: RoleSchema, weight: z.number().positive().finite() });

const op = { v: VersionSchema };

/** A call from an operator to the master. */
export const OperatorCallSchema = z.discriminatedUnion('type', [
  z.object({ ...op, type: z.literal('GET_HEALTH') }),
  z.object({ ...op, type: z.literal('GET_MASTER') }),
  z.object({ ...op, type: z.literal('GET_STATE') }),
  z.object({ ...op, type: z.literal('GET_AGENTS') }),
  z.object({ ...op, type: z.literal('GET_FRAMEWORKS') }),
  z.object({
    ...op,
    type: z.literal('GET_TASKS'),
    state: TaskStateSchema.optional(),
    frameworkId: FrameworkIdSchema.optional(),
    agentId: AgentIdSchema.optional(),
    offset: z.number().int().nonnegative().optional(),
    /** @default 100 */
    limit: z.number().int().min(1).max(10_000).optional(),
  }),
  z.object({ ...op, type: z.literal('GET_ROLES') }),
  z.object({ ...op, type: z.literal('DRAIN_AGENT'), agentId: AgentIdSchema, gracePeriodMs: MillisSchema.optional(), markGone: z.boolean().optional() }),
  z.object({ ...op, type: z.literal('DEACTIVATE_AGENT'), agentId: AgentIdSchema }),
  z.object({ ...op, type: z.literal('REACTIVATE_AGENT'), agentId: AgentIdSchema }),
  z.object({ ...op, type: z.literal('MARK_AGENT_GONE'), agentId: AgentIdSchema }),
  z.object({ ...op, type: z.literal('TEARDOWN'), frameworkId: FrameworkIdSchema }),
  z.object({ ...op, type: z.literal('UPDATE_WEIGHTS'), weights: z.array(WeightSchema).min(1) }),
  z.object({ ...op, type: z.literal('UPDATE_QUOTA'), quotas: z.array(QuotaSchema).min(1) }),
  z.object({ ...op, type: z.literal('RESERVE_RESOURCES'), agentId: AgentIdSchema, resources: ResourcesSchema }),
  z.object({ ...op, type: z.literal('UNRESERVE_RESOURCES'), agentId: AgentIdSchema, resources: ResourcesSchema }),
  /** A Stoa extension: an operator may kill a task (the framework sees TASK_KILLED). */
  z.object({ ...op, type: z.literal('KILL_TASKS'), taskIds: z.array(TaskIdSchema).min(1) }),
  z.object({
    ...op,
    type: z.literal('READ_FILE'),
    taskId: TaskIdSchema,
    path: z.string(),
    offset: z.number().int().nonnegative().optional(),
    length: z.number().int().nonnegative().optional(),
  }),
]);

/** An agent as the master sees it. */
export const AgentSummarySchema = z.object({
  id: AgentIdSchema,
  hostname: z.string(),
  state: z.enum(['ACTIVE', 'DEACTIVATED', 'DRAINING', 'DRAINED', 'UNREACHABLE', 'GONE']),
  resources: ResourcesSchema,
  used: ResourcesSchema,
  offered: ResourcesSchema,
  attributes: AttributesSchema,
  domain: FaultDomainSchema.optional(),
  info: AgentInfoSchema.optional(),
  registeredMs: MillisSchema,
  taskCount: z.number().int().nonnegative(),
});

/** A framework as the master sees it. */
export const FrameworkSummarySchema = z.object({
  id: FrameworkIdSchema,
  info: FrameworkInfoSchema,
  state: z.enum(['CONNECTED', 'DISCONNECTED', 'INACTIVE', 'COMPLETED']),
  registeredMs: MillisSchema,
  /** When it will be torn down if it does not come back. */
  failoverDeadlineMs: MillisSchema.optional(),
  used: ResourcesSchema,
  offered: ResourcesSchema,
  /** Its dominant share of the cluster. */
  share: z.number().nonnegative(),
  taskCount: z.number().int().nonnegative(),
  suppressedRoles: z.array(RoleSchema),
});

/** A task as the master sees it. */
export const TaskSummarySchema = z.object({
  taskId: TaskIdSchema,
  frameworkId: FrameworkIdSchema,
  agentId: AgentIdSchema,
  name: z.string(),
  state: TaskStateSchema,
  resources: ResourcesSchema,
  status: TaskStatusSchema.optional(),
  startedMs: MillisSchema.optional(),
});

/** A role with its weight, quota, and what its frameworks hold. */
export const RoleSummarySchema = z.object({
  role: RoleSchema,
  weight: z.number(),
  quota: QuotaSchema.optional(),
  allocated: QuantitiesSchema,
  frameworkIds: z.array(FrameworkIdSchema),
});

/** The leading master's identity. */
export const MasterInfoSchema = z.object({
  masterId: z.string(),
  epoch: z.number().int().nonnegative(),
  leader: z.boolean(),
  hostname: z.string().optional(),
  httpUrl: z.string().optional(),
  startedMs: MillisSchema,
  version: z.string(),
});

/** The reply to an operator call. The result's shape depends on the call (see {@link OperatorResults}). */
export const OperatorReplySchema = replySchema(z.unknown());

/** The result schemas of operator reads. */
export const OperatorResults = {
  GET_HEALTH: z.object({ healthy: z.boolean(), leader: z.boolean() }),
  GET_MASTER: MasterInfoSchema,
  GET_AGENTS: z.object({ agents: z.array(AgentSummarySchema) }),
  GET_FRAMEWORKS: z.object({ frameworks: z.array(FrameworkSummarySchema) }),
  GET_TASKS: z.object({ tasks: z.array(TaskSummarySchema), total: z.number().int().nonnegative() }),
  GET_ROLES: z.object({ roles: z.array(RoleSummarySchema) }),
  GET_STATE: z.object({
    master: MasterInfoSchema,
    agents: z.array(AgentSummarySchema),
    frameworks: z.array(FrameworkSummarySchema),
    roles: z.array(RoleSummarySchema),
    taskCounts: z.record(z.string(), z.number().int().nonnegative()),
  }),
} as const;

/** Scalar quantities by name. */
export type Quantities = z.infer<typeof QuantitiesSchema>;
/** A role's quota. */
export type Quota = z.infer<typeof QuotaSchema>;
/** A role's weight. */
export type Weight = z.infer<typeof WeightSchema>;
/** A call from an operator. */
export type OperatorCall = z.infer<typeof OperatorCallSchema>;
/** The type of an operator call. */
export type OperatorCallType = OperatorCall['type'];
/** An agent as the master sees it. */
export type AgentSummary = z.infer<typeof AgentSummarySchema>;
/** A framework as the master sees it. */
export type FrameworkSummary = z.infer<typeof FrameworkSummarySchema>;
/** A task as the master sees it. */
export type TaskSummary = z.infer<typeof TaskSummarySchema>;
/** A role summary. */
export type RoleSummary = z.infer<typeof RoleSummarySchema>;
/** The master's identity. */
export type MasterInfo = z.infer<typeof MasterInfoSchema>;
