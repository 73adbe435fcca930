/**
 * Valid example messages of every channel, built by functions so tests, benchmarks and the
 * protocol reference use the same shapes. Exported from `@stoa/core/internal`.
 *
 * @module
 */

import type { AgentCall, AgentCommand } from './protocol/agent.js';
import type { ClusterEvent, LeaderElected } from './protocol/events.js';
import type { ExecutorCall, ExecutorEvent } from './protocol/executor.js';
import type { AgentSummary, FrameworkSummary, OperatorCall, TaskSummary } from './protocol/operator.js';
import type { Resource } from './protocol/resources.js';
import type { Offer, SchedulerCall, SchedulerEvent } from './protocol/scheduler.js';
import type { TaskInfo, TaskStatus } from './protocol/task.js';

/** The resources of a typical agent. */
export function exampleAgentResources(): Resource[] {
  return [
    { name: 'cpus', type: 'SCALAR', scalar: 8 },
    { name: 'mem', type: 'SCALAR', scalar: 32768 },
    { name: 'disk', type: 'SCALAR', scalar: 100000 },
    { name: 'ports', type: 'RANGES', ranges: [{ begin: 31000, end: 32000 }] },
  ];
}

/** An offer of agent `a-<i>` to framework `f-1`. */
export function exampleOffer(i: number): Offer {
  return {
    id: `o-${i}`,
    frameworkId: 'f-1',
    agentId: `a-${i}`,
    hostname: `host-${i}.rack-${i % 10}.example`,
    role: '*',
    resources: exampleAgentResources(),
    attributes: { rack: `r${i % 10}`, zone: `z${i % 3}` },
    domain: { region: 'eu-1', zone: `z${i % 3}`, rack: `r${i % 10}` },
  };
}

/** A shell task on agent `a-<i>`. */
export function exampleTask(i: number): TaskInfo {
  return {
    taskId: `web.instance-${i}`,
    name: 'web',
    agentId: `a-${i}`,
    resources: [
      { name: 'cpus', type: 'SCALAR', scalar: 0.5 },
      { name: 'mem', type: 'SCALAR', scalar: 256 },
      { name: 'ports', type: 'RANGES', ranges: [{ begin: 31000 + (i % 1000), end: 31000 + (i % 1000) }] },
    ],
    command: { value: 'node server.js', environment: { NODE_ENV: 'production' } },
    healthCheck: { type: 'HTTP', http: { port: 31000 + (i % 1000), path: '/health' }, intervalMs: 10000 },
    killPolicy: { gracePeriodMs: 5000 },
    labels: { app: 'web' },
  };
}

/** A status of task `i`. */
export function exampleStatus(i: number): TaskStatus {
  return {
    taskId: `web.instance-${i}`,
    state: 'TASK_RUNNING',
    source: 'SOURCE_EXECUTOR',
    agentId: `a-${i % 1000}`,
    timestampMs: 1_764_000_000_000 + i,
    uuid: `5f0c7d3e-0000-4000-8000-${String(i).padStart(12, '0')}`,
    healthy: true,
  };
}

/** One example of every scheduler call. */
export function exampleSchedulerCalls(): SchedulerCall[] {
  const frameworkId = 'f-1';
  return [
    { v: 1, type: 'SUBSCRIBE', frameworkInfo: { name: 'marathon', principal: 'marathon', roles: ['*'], failoverTimeoutMs: 60000, capabilities: ['PARTITION_AWARE'] } },
    { v: 1, type: 'TEARDOWN', frameworkId },
    { v: 1, type: 'ACCEPT', frameworkId, offerIds: ['o-1', 'o-2'], operations: [{ type: 'LAUNCH', tasks: [exampleTask(1), exampleTask(2)] }], filters: { refuseMs: 5000 } },
    { v: 1, type: 'DECLINE', frameworkId, offerIds: ['o-3'], filters: { refuseMs: 30000 } },
    { v: 1, type: 'REVIVE', frameworkId, roles: ['*'] },
    { v: 1, type: 'SUPPRESS', frameworkId },
    { v: 1, type: 'DISCONNECT', frameworkId, streamId: 's-7' },
    { v: 1, type: 'KILL', frameworkId, kills: [{ taskId: 'web.instance-1', killPolicy: { gracePeriodMs: 1000 } }] },
    { v: 1, type: 'SHUTDOWN', frameworkId, agentId: 'a-1', executorId: 'e-1' },
    { v: 1, type: 'ACKNOWLEDGE', frameworkId, acks: [{ agentId: 'a-1', taskId: 'web.instance-1', uuid: 'u-1' }] },
    { v: 1, type: 'RECONCILE', frameworkId, tasks: [] },
    { v: 1, type: 'MESSAGE', frameworkId, agentId: 'a-1', executorId: 'e-1', data: new Uint8Array([1, 2, 3]) },
    { v: 1, type: 'UPDATE_FRAMEWORK', frameworkId, frameworkInfo: { id: frameworkId, name: 'marathon', principal: 'marathon', roles: ['web'] } },
    { v: 1, type: 'HEARTBEAT', frameworkId },
  ];
}

/** One example of every scheduler event. */
export function exampleSchedulerEvents(): SchedulerEvent[] {
  return [
    { v: 1, seq: 0, type: 'SUBSCRIBED', frameworkId: 'f-1', heartbeatIntervalMs: 15000, masterId: 'm-1', epoch: 3, streamId: 's-7' },
    { v: 1, seq: 1, type: 'OFFERS', offers: [exampleOffer(1), exampleOffer(2)] },
    { v: 1, seq: 2, type: 'INVERSE_OFFERS', inverseOffers: [{ id: 'io-1', frameworkId: 'f-1', agentId: 'a-1', unavailableFromMs: 1_764_000_000_000 }] },
    { v: 1, seq: 3, type: 'RESCIND', offerIds: ['o-1'] },
    { v: 1, seq: 4, type: 'UPDATE', statuses: [exampleStatus(1), exampleStatus(2)] },
    { v: 1, seq: 5, type: 'MESSAGE', agentId: 'a-1', executorId: 'e-1', data: new Uint8Array([9]) },
    { v: 1, seq: 6, type: 'FAILURE', agentId: 'a-1', executorId: 'e-1', status: 137 },
    { v: 1, seq: 7, type: 'ERROR', message: 'framework removed', code: 'FRAMEWORK_REMOVED' },
    { v: 1, seq: 8, type: 'HEARTBEAT' },
  ];
}

/** One example of every agent call. */
export function exampleAgentCalls(): AgentCall[] {
  const agentInfo = { hostname: 'host-1', resources: exampleAgentResources(), attributes: { rack: 'r1' }, domain: { zone: 'z1' } };
  return [
    { v: 1, type: 'REGISTER', agentInfo },
    {
      v: 1,
      type: 'REREGISTER',
      agentId: 'a-1',
      agentInfo: { ...agentInfo, id: 'a-1' },
      tasks: [{ frameworkId: 'f-1', task: exampleTask(1), state: 'TASK_RUNNING', status: exampleStatus(1) }],
      executors: [],
    },
    { v: 1, type: 'STATUS_UPDATE', agentId: 'a-1', updates: [{ frameworkId: 'f-1', status: exampleStatus(1) }] },
    { v: 1, type: 'EXECUTOR_MESSAGE', agentId: 'a-1', frameworkId: 'f-1', executorId: 'e-1', data: new Uint8Array([1]) },
    { v: 1, type: 'EXECUTOR_EXITED', agentId: 'a-1', frameworkId: 'f-1', executorId: 'e-1', status: 1 },
    { v: 1, type: 'UNREGISTER', agentId: 'a-1' },
  ];
}

/** One example of every agent command. */
export function exampleAgentCommands(): AgentCommand[] {
  const framework = { id: 'f-1', name: 'marathon', principal: 'marathon' };
  return [
    { v: 1, epoch: 3, type: 'PING', seq: 42 },
    { v: 1, epoch: 3, type: 'RUN_TASKS', launches: [{ framework, tasks: [exampleTask(1)] }] },
    { v: 1, epoch: 3, type: 'KILL_TASKS', kills: [{ frameworkId: 'f-1', taskId: 'web.instance-1' }] },
    { v: 1, epoch: 3, type: 'SHUTDOWN_EXECUTOR', frameworkId: 'f-1', executorId: 'e-1' },
    { v: 1, epoch: 3, type: 'SHUTDOWN_FRAMEWORK', frameworkId: 'f-1' },
    { v: 1, epoch: 3, type: 'ACKNOWLEDGE', acks: [{ frameworkId: 'f-1', taskId: 'web.instance-1', uuid: 'u-1' }] },
    { v: 1, epoch: 3, type: 'FRAMEWORK_MESSAGE', frameworkId: 'f-1', executorId: 'e-1', data: new Uint8Array([7]) },
    { v: 1, epoch: 3, type: 'DRAIN', gracePeriodMs: 10000 },
    { v: 1, epoch: 3, type: 'UPDATE_RESOURCES', resources: exampleAgentResources() },
    { v: 1, epoch: 3, type: 'READ_FILE', taskId: 'web.instance-1', path: 'stdout', offset: 0, length: 4096 },
  ];
}

/** One example of every executor call and event. */
export function exampleExecutorMessages(): { calls: ExecutorCall[]; events: ExecutorEvent[] } {
  const ids = { executorId: 'e-1', frameworkId: 'f-1' };
  return {
    calls: [
      { v: 1, type: 'SUBSCRIBE', ...ids },
      { v: 1, type: 'UPDATE', ...ids, statuses: [exampleStatus(1)] },
      { v: 1, type: 'MESSAGE', ...ids, data: new Uint8Array([1]) },
    ],
    events: [
      { v: 1, type: 'LAUNCH', tasks: [exampleTask(1)] },
      { v: 1, type: 'LAUNCH_GROUP', tasks: [exampleTask(1), exampleTask(2)] },
      { v: 1, type: 'KILL', taskId: 'web.instance-1' },
      { v: 1, type: 'ACKNOWLEDGED', taskId: 'web.instance-1', uuid: 'u-1' },
      { v: 1, type: 'MESSAGE', data: new Uint8Array([2]) },
      { v: 1, type: 'SHUTDOWN', gracePeriodMs: 3000 },
      { v: 1, type: 'ERROR', message: 'bad launch' },
    ],
  };
}

/** One example of every operator call. */
export function exampleOperatorCalls(): OperatorCall[] {
  return [
    { v: 1, type: 'GET_HEALTH' },
    { v: 1, type: 'GET_MASTER' },
    { v: 1, type: 'GET_STATE' },
    { v: 1, type: 'GET_AGENTS' },
    { v: 1, type: 'GET_FRAMEWORKS' },
    { v: 1, type: 'GET_TASKS', state: 'TASK_RUNNING', limit: 50 },
    { v: 1, type: 'GET_ROLES' },
    { v: 1, type: 'DRAIN_AGENT', agentId: 'a-1', gracePeriodMs: 30000 },
    { v: 1, type: 'DEACTIVATE_AGENT', agentId: 'a-1' },
    { v: 1, type: 'REACTIVATE_AGENT', agentId: 'a-1' },
    { v: 1, type: 'MARK_AGENT_GONE', agentId: 'a-1' },
    { v: 1, type: 'TEARDOWN', frameworkId: 'f-1' },
    { v: 1, type: 'UPDATE_WEIGHTS', weights: [{ role: 'web', weight: 2 }] },
    { v: 1, type: 'UPDATE_QUOTA', quotas: [{ role: 'web', guarantee: { cpus: 4 }, limit: { cpus: 16 } }] },
    { v: 1, type: 'RESERVE_RESOURCES', agentId: 'a-1', resources: [{ name: 'cpus', type: 'SCALAR', scalar: 1, role: 'web', reservation: { type: 'DYNAMIC', principal: 'ops' } }] },
    { v: 1, type: 'UNRESERVE_RESOURCES', agentId: 'a-1', resources: [{ name: 'cpus', type: 'SCALAR', scalar: 1, role: 'web', reservation: { type: 'DYNAMIC', principal: 'ops' } }] },
    { v: 1, type: 'KILL_TASKS', taskIds: ['web.instance-1'] },
    { v: 1, type: 'READ_FILE', taskId: 'web.instance-1', path: 'stdout' },
  ];
}

/** A leader announcement and one cluster event. */
export function exampleBroadcasts(): { leader: LeaderElected; events: ClusterEvent[] } {
  const t = 1_764_000_000_000;
  const { resources, ...taskRest } = exampleTask(1);
  const task: TaskSummary = { taskId: taskRest.taskId, frameworkId: 'f-1', agentId: 'a-1', name: taskRest.name, state: 'TASK_STAGING', resources };
  const agent: AgentSummary = {
    id: 'a-1',
    hostname: 'host-1',
    state: 'ACTIVE',
    resources: exampleAgentResources(),
    used: resources,
    offered: [],
    attributes: { rack: 'r1' },
    registeredMs: t,
    taskCount: 1,
  };
  const framework: FrameworkSummary = {
    id: 'f-1',
    info: { id: 'f-1', name: 'marathon', principal: 'marathon' },
    state: 'CONNECTED',
    registeredMs: t,
    used: resources,
    offered: [],
    share: 0.0625,
    taskCount: 1,
    suppressedRoles: [],
  };
  return {
    leader: { v: 1, type: 'LEADER_ELECTED', epoch: 4, masterId: 'm-2', httpUrl: 'http://127.0.0.1:5050' },
    events: [
      { v: 1, timestampMs: t, type: 'TASK_ADDED', task },
      { v: 1, timestampMs: t, type: 'TASK_UPDATED', task: { ...task, state: 'TASK_RUNNING', status: exampleStatus(1) } },
      { v: 1, timestampMs: t, type: 'AGENT_ADDED', agent },
      { v: 1, timestampMs: t, type: 'AGENT_UPDATED', agent: { ...agent, state: 'DRAINING' } },
      { v: 1, timestampMs: t, type: 'AGENT_REMOVED', agentId: 'a-1' },
      { v: 1, timestampMs: t, type: 'FRAMEWORK_ADDED', framework },
      { v: 1, timestampMs: t, type: 'FRAMEWORK_UPDATED', framework: { ...framework, state: 'DISCONNECTED', failoverDeadlineMs: t + 60000 } },
      { v: 1, timestampMs: t, type: 'FRAMEWORK_REMOVED', frameworkId: 'f-1' },
    ],
  };
}
