/**
 * The scheduler channel: calls a framework makes to the leading master (request/reply on
 * `stoa.master.scheduler.<principal>`) and the events the master sends it (on
 * `stoa.framework.<principal>.<frameworkId>`, each with a per-framework `seq`).
 *
 * Batching is part of the protocol: one OFFERS event carries many offers, one UPDATE many
 * statuses, one ACKNOWLEDGE many acknowledgements, one KILL many kills, and one ACCEPT may accept
 * offers of many agents (every task names its agent; the master groups them).
 *
 * Subscription: a framework picks its id (or reuses it for failover), subscribes to its event
 * subject, then sends SUBSCRIBE; the reply and the first event (SUBSCRIBED, which resets `seq`)
 * confirm it. A master also accepts SUBSCRIBE without an id and assigns one in the reply.
 *
 * @example
 * ```ts
 * const call: SchedulerCall = { v: 1, type: 'DECLINE', frameworkId, offerIds: ['o-1'], filters: { refuseMs: 5000 } };
 * transport.request(subjects().schedulerCalls('alice'), encode(SchedulerCallSchema, call));
 * ```
 * @module
 */

import { z } from 'zod';
import {
  AgentIdSchema,
  BytesSchema,
  ExecutorIdSchema,
  FrameworkIdSchema,
  LabelsSchema,
  MillisSchema,
  OfferIdSchema,
  PrincipalSchema,
  replySchema,
  RoleSchema,
  TaskIdSchema,
  VersionSchema,
} from './common.js';
import { AttributesSchema, FaultDomainSchema, ResourcesSchema } from './resources.js';
import { ExecutorInfoSchema, KillPolicySchema, TaskInfoSchema, TaskStatusSchema } from './task.js';

/** What a framework can do beyond the basics (Mesos capability names). */
export const FrameworkCapabilitySchema = z.enum([
  'MULTI_ROLE',
  'PARTITION_AWARE',
  'GPU_RESOURCES',
  'RESERVATION_REFINEMENT',
  'TASK_KILLING_STATE',
  'REGION_AWARE',
]);

/** A framework's identity and wishes, sent with SUBSCRIBE and UPDATE_FRAMEWORK. */
export const FrameworkInfoSchema = z.object({
  /** Set to fail over to an existing framework (or to choose the id of a new one). */
  id: FrameworkIdSchema.optional(),
  name: z.string().min(1).max(256),
  /** Must equal the principal in the subject the call came on. */
  principal: PrincipalSchema,
  /** The roles it takes offers for. @default ['*'] */
  roles: z.array(RoleSchema).min(1).optional(),
  /** How long its tasks survive its disconnection before it is torn down. @default 604800000 (a week) */
  failoverTimeoutMs: MillisSchema.optional(),
  /** Whether agents checkpoint its tasks to survive agent restarts. @default true */
  checkpoint: z.boolean().optional(),
  capabilities: z.array(FrameworkCapabilitySchema).optional(),
  labels: LabelsSchema.optional(),
  /** The user tasks run as by default. */
  user: z.string().optional(),
  hostname: z.string().optional(),
  webuiUrl: z.string().optional(),
});

/** Resources of one agent offered to one framework for one role. */
export const OfferSchema = z.object({
  id: OfferIdSchema,
  frameworkId: FrameworkIdSchema,
  agentId: AgentIdSchema,
  hostname: z.string(),
  /** The role the resources are allocated to. */
  role: RoleSchema,
  resources: ResourcesSchema,
  attributes: AttributesSchema,
  domain: FaultDomainSchema.optional(),
  /** Executors of this framework already running on the agent. */
  executorIds: z.array(ExecutorIdSchema).optional(),
});

/** A request to give resources back (maintenance, draining). */
export const InverseOfferSchema = z.object({
  id: OfferIdSchema,
  frameworkId: FrameworkIdSchema,
  agentId: AgentIdSchema,
  /** When the agent becomes unavailable. */
  unavailableFromMs: MillisSchema,
  /** For how long, when known. */
  durationMs: MillisSchema.optional(),
});

/** How long declined resources stay away from this framework. */
export const FiltersSchema = z.object({
  /** @default 5000 */
  refuseMs: MillisSchema.optional(),
});

/** A persistent volume to create or destroy: a `disk` resource with `disk.persistence`. */
const VolumeOperationFields = { agentId: AgentIdSchema, volumes: ResourcesSchema };

/** One operation of an ACCEPT. Every operation names the agent whose offers it uses. */
export const OperationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('LAUNCH'), tasks: z.array(TaskInfoSchema).min(1) }),
  z.object({
    type: z.literal('LAUNCH_GROUP'),
    /** The executor that runs the group (type DEFAULT). */
    executor: ExecutorInfoSchema,
    /** Tasks launched together, all or none, on the executor's agent. */
    tasks: z.array(TaskInfoSchema).min(1),
  }),
  z.object({ type: z.literal('RESERVE'), agentId: AgentIdSchema, resources: ResourcesSchema }),
  z.object({ type: z.literal('UNRESERVE'), agentId: AgentIdSchema, resources: ResourcesSchema }),
  z.object({ type: z.literal('CREATE'), ...VolumeOperationFields }),
  z.object({ type: z.literal('DESTROY'), ...VolumeOperationFields }),
]);

const base = { v: VersionSchema };
const fw = { v: VersionSchema, frameworkId: FrameworkIdSchema };

/** A call from a framework to the master. */
export const SchedulerCallSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('SUBSCRIBE'),
    frameworkInfo: FrameworkInfoSchema,
    /** Roles to start suppressed. */
    suppressedRoles: z.array(RoleSchema).optional(),
  }),
  z.object({ ...fw, type: z.literal('TEARDOWN') }),
  /**
   * The scheduler leaves without ending the framework (it stops, or another instance takes over):
   * the master marks it disconnected at once (its offers rescinded, its tasks kept until
   * `failoverTimeoutMs`) instead of after missed heartbeats. Only the subscription named by
   * `streamId` (from SUBSCRIBED) is ended: a newer one of the same framework is left alone.
   */
  z.object({ ...fw, type: z.literal('DISCONNECT'), streamId: z.string().min(1) }),
  z.object({
    ...fw,
    type: z.literal('ACCEPT'),
    offerIds: z.array(OfferIdSchema).min(1),
    operations: z.array(OperationSchema),
    /** For what was offered and not used. */
    filters: FiltersSchema.optional(),
  }),
  z.object({ ...fw, type: z.literal('DECLINE'), offerIds: z.array(OfferIdSchema).min(1), filters: FiltersSchema.optional() }),
  z.object({ ...fw, type: z.literal('REVIVE'), roles: z.array(RoleSchema).optional() }),
  z.object({ ...fw, type: z.literal('SUPPRESS'), roles: z.array(RoleSchema).optional() }),
  z.object({
    ...fw,
    type: z.literal('KILL'),
    kills: z
      .array(z.object({ taskId: TaskIdSchema, agentId: AgentIdSchema.optional(), killPolicy: KillPolicySchema.optional() }))
      .min(1),
  }),
  z.object({ ...fw, type: z.literal('SHUTDOWN'), agentId: AgentIdSchema, executorId: ExecutorIdSchema }),
  z.object({
    ...fw,
    type: z.literal('ACKNOWLEDGE'),
    acks: z.array(z.object({ agentId: AgentIdSchema, taskId: TaskIdSchema, uuid: z.string().min(1) })).min(1),
  }),
  z.object({
    ...fw,
    type: z.literal('RECONCILE'),
    /** Explicit: these tasks; empty: implicit, every task the master knows of. */
    tasks: z.array(z.object({ taskId: TaskIdSchema, agentId: AgentIdSchema.optional() })),
  }),
  z.object({ ...fw, type: z.literal('MESSAGE'), agentId: AgentIdSchema, executorId: ExecutorIdSchema, data: BytesSchema }),
  z.object({
    ...fw,
    type: z.literal('UPDATE_FRAMEWORK'),
    frameworkInfo: FrameworkInfoSchema,
    suppressedRoles: z.array(RoleSchema).optional(),
  }),
  z.object({ ...fw, type: z.literal('HEARTBEAT') }),
]);

/** What SUBSCRIBE answers (and what the SUBSCRIBED event carries). */
export const SubscribedSchema = z.object({
  frameworkId: FrameworkIdSchema,
  /** The master sends HEARTBEAT events this often; the framework should send its own as often. */
  heartbeatIntervalMs: MillisSchema,
  masterId: z.string(),
  /** The leader's epoch: it grows with every change of leader. */
  epoch: z.number().int().nonnegative(),
  /** This subscription's id, for DISCONNECT (new at every SUBSCRIBE). */
  streamId: z.string().optional(),
});

/** The reply to SUBSCRIBE. */
export const SubscribeReplySchema = replySchema(SubscribedSchema);

/** The reply to every other scheduler call: success or a typed error. */
export const SchedulerCallReplySchema = replySchema(z.object({}).loose());

const ev = { v: VersionSchema, seq: z.number().int().nonnegative() };

/** An event from the master to a framework. */
export const SchedulerEventSchema = z.discriminatedUnion('type', [
  z.object({ ...ev, type: z.literal('SUBSCRIBED'), ...SubscribedSchema.shape }),
  z.object({ ...ev, type: z.literal('OFFERS'), offers: z.array(OfferSchema) }),
  z.object({ ...ev, type: z.literal('INVERSE_OFFERS'), inverseOffers: z.array(InverseOfferSchema) }),
  z.object({ ...ev, type: z.literal('RESCIND'), offerIds: z.array(OfferIdSchema) }),
  z.object({ ...ev, type: z.literal('UPDATE'), statuses: z.array(TaskStatusSchema) }),
  z.object({ ...ev, type: z.literal('MESSAGE'), agentId: AgentIdSchema, executorId: ExecutorIdSchema, data: BytesSchema }),
  z.object({
    ...ev,
    type: z.literal('FAILURE'),
    agentId: AgentIdSchema.optional(),
    executorId: ExecutorIdSchema.optional(),
    /** The executor's exit status, when an executor ended. */
    status: z.number().int().optional(),
  }),
  z.object({ ...ev, type: z.literal('ERROR'), message: z.string(), code: z.string().optional() }),
  z.object({ ...ev, type: z.literal('HEARTBEAT') }),
]);

/** A framework capability. */
export type FrameworkCapability = z.infer<typeof FrameworkCapabilitySchema>;
/** A framework's identity and wishes. */
export type FrameworkInfo = z.infer<typeof FrameworkInfoSchema>;
/** An offer. */
export type Offer = z.infer<typeof OfferSchema>;
/** An inverse offer. */
export type InverseOffer = z.infer<typeof InverseOfferSchema>;
/** Decline filters. */
export type Filters = z.infer<typeof FiltersSchema>;
/** An operation of an ACCEPT. */
export type Operation = z.infer<typeof OperationSchema>;
/** A call from a framework. */
export type SchedulerCall = z.infer<typeof SchedulerCallSchema>;
/** The type of a scheduler call. */
export type SchedulerCallType = SchedulerCall['type'];
/** What SUBSCRIBE answers. */
export type Subscribed = z.infer<typeof SubscribedSchema>;
/** An event to a framework. */
export type SchedulerEvent = z.infer<typeof SchedulerEventSchema>;
/** The type of a scheduler event. */
export type SchedulerEventType = SchedulerEvent['type'];
