/**
 * The agent channel: calls an agent makes to the leading master (request/reply on
 * `stoa.master.agent.<principal>`) and the commands the master sends it (on `stoa.agent.<agentId>`).
 *
 * Every command carries the master's `epoch`; an agent drops commands of an epoch older than the
 * newest it has seen (fencing of a deposed leader). PING is a request: the agent answers with PONG.
 * Commands are batched per agent: one RUN_TASKS carries every launch for that agent from one
 * allocation pass, one ACKNOWLEDGE many acknowledgements.
 *
 * @example
 * ```ts
 * const reg: AgentCall = { v: 1, type: 'REGISTER', agentInfo };
 * const reply = decode(RegisterReplySchema, (await transport.request(s.agentCalls('agents'), encode(AgentCallSchema, reg))).data);
 * ```
 * @module
 */

import { z } from 'zod';
import {
  AgentIdSchema,
  BytesSchema,
  ExecutorIdSchema,
  FrameworkIdSchema,
  MillisSchema,
  replySchema,
  TaskIdSchema,
  VersionSchema,
} from './common.js';
import { AttributesSchema, FaultDomainSchema, ResourcesSchema } from './resources.js';
import { FrameworkInfoSchema } from './scheduler.js';
import { ExecutorInfoSchema, KillPolicySchema, TaskInfoSchema, TaskStateSchema, TaskStatusSchema } from './task.js';

/** The isolation an agent achieved on its machine. */
export const IsolationSchema = z.object({
  /** `cgroup-v2`, `cgroup-v1`, or `none` (processes only). */
  kind: z.enum(['cgroup-v2', 'cgroup-v1', 'none']),
  /** Which limits are enforced. */
  memory: z.boolean(),
  cpu: z.boolean(),
  /** Why it is what it is (no controllers, not root…). */
  note: z.string().optional(),
});

/** What an agent says about itself. */
export const AgentInfoSchema = z.object({
  /** Absent on first registration; the master assigns it. */
  id: AgentIdSchema.optional(),
  hostname: z.string().min(1),
  /** Total resources, including static reservations. */
  resources: ResourcesSchema,
  attributes: AttributesSchema,
  domain: FaultDomainSchema.optional(),
  /** Containerizers it runs (`process`, `simulated`). */
  containerizers: z.array(z.string()).optional(),
  isolation: IsolationSchema.optional(),
  /** The agent's software version. */
  version: z.string().optional(),
  /** Where the agent serves sandbox files, when it does over HTTP. */
  filesUrl: z.string().optional(),
});

/** A status update from an agent: one task's status, which the framework must acknowledge. */
export const StatusUpdateSchema = z.object({
  frameworkId: FrameworkIdSchema,
  status: TaskStatusSchema,
});

/** A task as an agent reports it on re-registration. */
export const AgentTaskSchema = z.object({
  frameworkId: FrameworkIdSchema,
  task: TaskInfoSchema,
  state: TaskStateSchema,
  /** The latest status the agent sent (acknowledged or not). */
  status: TaskStatusSchema.optional(),
});

const base = { v: VersionSchema };
const agent = { v: VersionSchema, agentId: AgentIdSchema };

/** A call from an agent to the master. */
export const AgentCallSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('REGISTER'), agentInfo: AgentInfoSchema }),
  z.object({
    ...agent,
    type: z.literal('REREGISTER'),
    agentInfo: AgentInfoSchema,
    tasks: z.array(AgentTaskSchema),
    executors: z.array(z.object({ frameworkId: FrameworkIdSchema, executor: ExecutorInfoSchema })),
    /** Frameworks the agent has tasks of, so a fresh leader can rebuild them. */
    frameworks: z.array(FrameworkInfoSchema).optional(),
  }),
  z.object({ ...agent, type: z.literal('STATUS_UPDATE'), updates: z.array(StatusUpdateSchema).min(1) }),
  z.object({
    ...agent,
    type: z.literal('EXECUTOR_MESSAGE'),
    frameworkId: FrameworkIdSchema,
    executorId: ExecutorIdSchema,
    data: BytesSchema,
  }),
  z.object({
    ...agent,
    type: z.literal('EXECUTOR_EXITED'),
    frameworkId: FrameworkIdSchema,
    executorId: ExecutorIdSchema,
    status: z.number().int().optional(),
  }),
  z.object({ ...agent, type: z.literal('UNREGISTER') }),
]);

/** The reply to REGISTER and REREGISTER. */
export const RegisteredSchema = z.object({
  agentId: AgentIdSchema,
  masterId: z.string(),
  epoch: z.number().int().nonnegative(),
  /** The master pings this often. */
  pingIntervalMs: MillisSchema,
});

/** The reply to REGISTER and REREGISTER. */
export const RegisterReplySchema = replySchema(RegisteredSchema);

/** The reply to other agent calls. */
export const AgentCallReplySchema = replySchema(z.object({}).loose());

/** One framework's launches on this agent. */
export const LaunchSchema = z.object({
  framework: FrameworkInfoSchema.extend({ id: FrameworkIdSchema }),
  tasks: z.array(TaskInfoSchema).min(1),
  /** Set for LAUNCH_GROUP: the executor that runs the group, all tasks or none. */
  groupExecutor: ExecutorInfoSchema.optional(),
});

const cmd = { v: VersionSchema, epoch: z.number().int().nonnegative() };

/** A command from the master to an agent. */
export const AgentCommandSchema = z.discriminatedUnion('type', [
  z.object({ ...cmd, type: z.literal('PING'), seq: z.number().int().nonnegative() }),
  z.object({ ...cmd, type: z.literal('RUN_TASKS'), launches: z.array(LaunchSchema).min(1) }),
  z.object({
    ...cmd,
    type: z.literal('KILL_TASKS'),
    kills: z.array(z.object({ frameworkId: FrameworkIdSchema, taskId: TaskIdSchema, killPolicy: KillPolicySchema.optional() })).min(1),
  }),
  z.object({ ...cmd, type: z.literal('SHUTDOWN_EXECUTOR'), frameworkId: FrameworkIdSchema, executorId: ExecutorIdSchema }),
  z.object({ ...cmd, type: z.literal('SHUTDOWN_FRAMEWORK'), frameworkId: FrameworkIdSchema }),
  z.object({
    ...cmd,
    type: z.literal('ACKNOWLEDGE'),
    acks: z.array(z.object({ frameworkId: FrameworkIdSchema, taskId: TaskIdSchema, uuid: z.string().min(1) })).min(1),
  }),
  z.object({ ...cmd, type: z.literal('FRAMEWORK_MESSAGE'), frameworkId: FrameworkIdSchema, executorId: ExecutorIdSchema, data: BytesSchema }),
  z.object({
    ...cmd,
    type: z.literal('DRAIN'),
    /** Kill grace for the agent's tasks. @default each task's own */
    gracePeriodMs: MillisSchema.optional(),
  }),
  z.object({
    ...cmd,
    type: z.literal('UPDATE_RESOURCES'),
    /** The agent's total resources with dynamic reservations and volumes applied (to checkpoint). */
    resources: ResourcesSchema,
  }),
  z.object({
    ...cmd,
    type: z.literal('READ_FILE'),
    frameworkId: FrameworkIdSchema.optional(),
    taskId: TaskIdSchema,
    /** A path inside the task's sandbox; empty lists the sandbox. */
    path: z.string(),
    offset: z.number().int().nonnegative().optional(),
    length: z.number().int().nonnegative().optional(),
  }),
]);

/** What the agent answers to PING. */
export const PongSchema = replySchema(z.object({ agentId: AgentIdSchema, seq: z.number().int().nonnegative() }));

/** What the agent answers to READ_FILE: a listing or a slice of a file. */
export const ReadFileReplySchema = replySchema(
  z.object({
    entries: z.array(z.object({ name: z.string(), size: z.number().int().nonnegative(), mtimeMs: MillisSchema, dir: z.boolean() })).optional(),
    data: BytesSchema.optional(),
    offset: z.number().int().nonnegative().optional(),
    size: z.number().int().nonnegative().optional(),
  }),
);

/** The isolation in force. */
export type Isolation = z.infer<typeof IsolationSchema>;
/** An agent's description of itself. */
export type AgentInfo = z.infer<typeof AgentInfoSchema>;
/** A status update to relay. */
export type StatusUpdate = z.infer<typeof StatusUpdateSchema>;
/** A task reported on re-registration. */
export type AgentTask = z.infer<typeof AgentTaskSchema>;
/** A call from an agent. */
export type AgentCall = z.infer<typeof AgentCallSchema>;
/** The answer to (re)registration. */
export type Registered = z.infer<typeof RegisteredSchema>;
/** One framework's launches on an agent. */
export type Launch = z.infer<typeof LaunchSchema>;
/** A command to an agent. */
export type AgentCommand = z.infer<typeof AgentCommandSchema>;
/** The type of an agent command. */
export type AgentCommandType = AgentCommand['type'];
