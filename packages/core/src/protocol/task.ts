/**
 * Tasks: what a framework launches (TaskInfo, CommandInfo, ExecutorInfo, HealthCheck, KillPolicy)
 * and what it hears back (TaskStatus with state, source and reason). Mesos v1 names, camelCase
 * fields, durations in milliseconds.
 *
 * @example
 * ```ts
 * const task: TaskInfo = {
 *   taskId: 'hello-1', name: 'hello', agentId: offer.agentId,
 *   resources: [{ name: 'cpus', type: 'SCALAR', scalar: 0.1 }],
 *   command: { value: 'echo hello' },
 * };
 * if (isTerminalState(status.state)) done.add(status.taskId);
 * ```
 * @module
 */

import { z } from 'zod';
import { ResourcesSchema } from './resources.js';
import {
  AgentIdSchema,
  BytesSchema,
  ExecutorIdSchema,
  FrameworkIdSchema,
  LabelsSchema,
  MillisSchema,
  TaskIdSchema,
} from './common.js';

/** Every task state, as in Mesos. */
export const TaskStates = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_UNREACHABLE',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
] as const;

/** A task state. */
export const TaskStateSchema = z.enum(TaskStates);
/** A task state. */
export type TaskState = z.infer<typeof TaskStateSchema>;

const TERMINAL: ReadonlySet<TaskState> = new Set<TaskState>([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
]);

/**
 * Whether a state is terminal: the task will not run again. TASK_UNREACHABLE is not terminal (the
 * agent may come back); TASK_LOST is, for frameworks that are not partition-aware.
 */
export function isTerminalState(state: TaskState): boolean {
  return TERMINAL.has(state);
}

/** Who produced a status. */
export const TaskStatusSourceSchema = z.enum(['SOURCE_MASTER', 'SOURCE_AGENT', 'SOURCE_EXECUTOR']);

/** Why a status was produced; Mesos' reasons plus a few of Stoa's own. */
export const TaskStatusReasonSchema = z.enum([
  'REASON_COMMAND_EXECUTOR_FAILED',
  'REASON_CONTAINER_LAUNCH_FAILED',
  'REASON_CONTAINER_LIMITATION',
  'REASON_CONTAINER_LIMITATION_DISK',
  'REASON_CONTAINER_LIMITATION_MEMORY',
  'REASON_CONTAINER_PREEMPTED',
  'REASON_EXECUTOR_REGISTRATION_TIMEOUT',
  'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
  'REASON_EXECUTOR_TERMINATED',
  'REASON_EXECUTOR_UNREACHABLE',
  'REASON_FETCHER_FAILED',
  'REASON_FRAMEWORK_REMOVED',
  'REASON_GC_ERROR',
  'REASON_INVALID_FRAMEWORKID',
  'REASON_INVALID_OFFERS',
  'REASON_MASTER_DISCONNECTED',
  'REASON_MAX_COMPLETION_TIME_REACHED',
  'REASON_RECONCILIATION',
  'REASON_RESOURCES_UNKNOWN',
  'REASON_AGENT_DISCONNECTED',
  'REASON_AGENT_DRAINING',
  'REASON_AGENT_REMOVED',
  'REASON_AGENT_REMOVED_BY_OPERATOR',
  'REASON_AGENT_REREGISTERED',
  'REASON_AGENT_RESTARTED',
  'REASON_AGENT_UNKNOWN',
  'REASON_TASK_CHECK_STATUS_UPDATED',
  'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED',
  'REASON_TASK_HEALTH_CHECK_FAILED',
  'REASON_TASK_GROUP_INVALID',
  'REASON_TASK_GROUP_UNAUTHORIZED',
  'REASON_TASK_INVALID',
  'REASON_TASK_UNAUTHORIZED',
  'REASON_TASK_UNKNOWN',
  'REASON_TASK_KILLED_DURING_LAUNCH',
]);

/** A URI the agent's fetcher puts into the sandbox before the task starts. */
export const CommandUriSchema = z.object({
  /** `http(s)://…`, `file://…` or a plain path on the agent. */
  value: z.string().min(1),
  /** Set the executable bit. @default false */
  executable: z.boolean().optional(),
  /** Extract `.tar.gz`, `.tgz`, `.zip`. @default true */
  extract: z.boolean().optional(),
  /** Keep a copy in the agent's cache. @default false */
  cache: z.boolean().optional(),
  /** The file name in the sandbox. @default the URI's last path segment */
  outputFile: z.string().min(1).optional(),
});

/** What to run: a shell command (`shell`, the default) or an argv (`shell: false`). */
export const CommandInfoSchema = z.object({
  /** Run `value` through `sh -c`. @default true */
  shell: z.boolean().optional(),
  /** The shell command, or the program when `shell` is false. */
  value: z.string().optional(),
  /** argv (without `shell`); `arguments[0]` is the program name as the process sees it. */
  arguments: z.array(z.string()).optional(),
  /** Environment variables added to the task's. */
  environment: z.record(z.string(), z.string()).optional(),
  /** Files to fetch into the sandbox first. */
  uris: z.array(CommandUriSchema).optional(),
  /** The user to run as, when the agent may switch users. */
  user: z.string().optional(),
});

/** How a task is killed: SIGTERM to its process group, SIGKILL after the grace period. */
export const KillPolicySchema = z.object({
  /** @default 3000 */
  gracePeriodMs: MillisSchema.optional(),
});

/** A health check the agent runs; results ride in status updates only when they change. */
export const HealthCheckSchema = z
  .object({
    type: z.enum(['HTTP', 'HTTPS', 'TCP', 'COMMAND']),
    /** Wait before the first check. @default 15000 */
    delayMs: MillisSchema.optional(),
    /** Between checks. @default 10000 */
    intervalMs: MillisSchema.optional(),
    /** One check's time limit. @default 20000 */
    timeoutMs: MillisSchema.optional(),
    /** Failures in this window after start do not count. @default 10000 */
    gracePeriodMs: MillisSchema.optional(),
    /** Kill the task after this many consecutive failures (0 = never). @default 3 */
    consecutiveFailures: z.number().int().nonnegative().optional(),
    http: z
      .object({
        port: z.number().int().min(1).max(65535),
        path: z.string().optional(),
        /** Status codes that count as healthy. @default 200–399 */
        statuses: z.array(z.number().int()).optional(),
      })
      .optional(),
    tcp: z.object({ port: z.number().int().min(1).max(65535) }).optional(),
    command: CommandInfoSchema.optional(),
  })
  .superRefine((check, ctx) => {
    const need = check.type === 'HTTP' || check.type === 'HTTPS' ? 'http' : check.type === 'TCP' ? 'tcp' : 'command';
    if (!check[need]) ctx.addIssue({ code: 'custom', path: [need], message: `a ${check.type} health check needs "${need}"` });
  });

/** A custom executor: a process the agent starts that runs tasks itself, through the executor protocol. */
export const ExecutorInfoSchema = z.object({
  executorId: ExecutorIdSchema,
  frameworkId: FrameworkIdSchema.optional(),
  name: z.string().optional(),
  /** `DEFAULT` runs task groups; `CUSTOM` runs `command`. @default 'CUSTOM' */
  type: z.enum(['DEFAULT', 'CUSTOM']).optional(),
  command: CommandInfoSchema.optional(),
  resources: ResourcesSchema,
  labels: LabelsSchema.optional(),
});

/** A task to launch: on one agent, with resources from that agent's offers. */
export const TaskInfoSchema = z
  .object({
    taskId: TaskIdSchema,
    name: z.string(),
    agentId: AgentIdSchema,
    resources: ResourcesSchema,
    /** What to run (exactly one of `command` and `executor`). */
    command: CommandInfoSchema.optional(),
    /** A custom executor that runs this task. */
    executor: ExecutorInfoSchema.optional(),
    healthCheck: HealthCheckSchema.optional(),
    killPolicy: KillPolicySchema.optional(),
    /** Kill the task (TASK_FAILED, REASON_MAX_COMPLETION_TIME_REACHED) if it runs longer. */
    maxCompletionTimeMs: MillisSchema.optional(),
    /**
     * Do not start the task before this time (ms since the epoch, the agent's clock). The agent
     * takes the task at once — resources held, sandbox made, URIs fetched, TASK_STARTING sent — and
     * starts its process at this time, then reports TASK_RUNNING. A scheduler that launches a little
     * ahead of a due time so gets its task running on time, whatever the launch path costs. A time
     * already past starts the task at once.
     */
    startAtMs: MillisSchema.optional(),
    labels: LabelsSchema.optional(),
    /** Opaque data for a custom executor. */
    data: BytesSchema.optional(),
  })
  .superRefine((task, ctx) => {
    if (!task.command === !task.executor) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'a task needs exactly one of "command" and "executor"' });
    }
  });

/** The state of a health check as it rides in a status. */
export const CheckStatusSchema = z.object({
  healthy: z.boolean(),
  consecutiveFailures: z.number().int().nonnegative().optional(),
  message: z.string().optional(),
});

/** Resource usage of a running task, read by the agent. */
export const TaskUsageSchema = z.object({
  cpuUserSeconds: z.number().nonnegative().optional(),
  cpuSystemSeconds: z.number().nonnegative().optional(),
  rssBytes: z.number().nonnegative().optional(),
  timestampMs: MillisSchema,
});

/** The status of one task. `uuid` is present when the framework must acknowledge it. */
export const TaskStatusSchema = z.object({
  taskId: TaskIdSchema,
  state: TaskStateSchema,
  source: TaskStatusSourceSchema,
  reason: TaskStatusReasonSchema.optional(),
  message: z.string().optional(),
  agentId: AgentIdSchema.optional(),
  executorId: ExecutorIdSchema.optional(),
  timestampMs: MillisSchema,
  /** Set on updates that need an ACKNOWLEDGE; absent on reconciliation answers. */
  uuid: z.string().min(1).optional(),
  /** Health, when the task has a health check and it has an answer. */
  healthy: z.boolean().optional(),
  /** The exit code of the task's process, when it exited. */
  exitCode: z.number().int().optional(),
  /** The signal that ended the process, when one did. */
  signal: z.string().optional(),
  data: BytesSchema.optional(),
  labels: LabelsSchema.optional(),
});

/** A URI to fetch. */
export type CommandUri = z.infer<typeof CommandUriSchema>;
/** What to run. */
export type CommandInfo = z.infer<typeof CommandInfoSchema>;
/** How to kill. */
export type KillPolicy = z.infer<typeof KillPolicySchema>;
/** A health check. */
export type HealthCheck = z.infer<typeof HealthCheckSchema>;
/** A custom executor. */
export type ExecutorInfo = z.infer<typeof ExecutorInfoSchema>;
/** A task to launch. */
export type TaskInfo = z.infer<typeof TaskInfoSchema>;
/** Where a status came from. */
export type TaskStatusSource = z.infer<typeof TaskStatusSourceSchema>;
/** Why a status was produced. */
export type TaskStatusReason = z.infer<typeof TaskStatusReasonSchema>;
/** A health check's state. */
export type CheckStatus = z.infer<typeof CheckStatusSchema>;
/** Usage of a task. */
export type TaskUsage = z.infer<typeof TaskUsageSchema>;
/** The status of a task. */
export type TaskStatus = z.infer<typeof TaskStatusSchema>;
