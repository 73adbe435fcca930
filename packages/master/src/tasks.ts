/**
 * The task state machine on the master: status updates from agents (relayed to frameworks,
 * batched), terminal tasks returning their resources, kills, and reconciliation with Mesos'
 * answers.
 *
 * @module
 */

import { isTerminalState, type TaskState, type TaskStatus, type TaskStatusReason } from '@stoa/core';
import { agentDrained } from './agents.js';
import { type MasterContext, taskSummary } from './context.js';
import { type AgentRecord, type FrameworkRecord, type TaskRecord, taskKey } from './records.js';

/**
 * Applies one status update from an agent and relays it to its framework. Updates for a
 * disconnected framework are not relayed: the agent retries them until it is back.
 */
export function applyStatusUpdate(ctx: MasterContext, agent: AgentRecord, frameworkId: string, status: TaskStatus): void {
  const fw = ctx.frameworks.get(frameworkId);
  if (!fw) {
    if (ctx.completedFrameworks.has(frameworkId) && status.uuid) {
      // Nobody will ever acknowledge it: acknowledge on the framework's behalf so the agent stops retrying.
      ctx.outbox.ack(agent.id, { frameworkId, taskId: status.taskId, uuid: status.uuid });
    }
    // An unknown framework may still re-subscribe (after a master failover): the agent retries.
    return;
  }
  // A retried update of a task already finished is relayed again (at-least-once) but changes nothing.
  const task = agent.tasks.get(taskKey(frameworkId, status.taskId));
  if (task) {
    const previous = task.state;
    task.status = status;
    if (task.state !== status.state) {
      task.state = status.state;
      task.updatedMs = ctx.now();
      ctx.metrics.taskTransition(previous, status.state);
      ctx.publishEvent({ type: 'TASK_UPDATED', task: taskSummary(task) });
    }
    if (isTerminalState(status.state)) finishTask(ctx, task);
  }
  if (fw.state === 'CONNECTED') ctx.outbox.status(frameworkId, status);
  ctx.metrics.statusUpdates.inc();
}

/** Moves a live task to the completed list and returns its resources to the pool. */
export function finishTask(ctx: MasterContext, task: TaskRecord): void {
  const key = taskKey(task.frameworkId, task.taskId);
  const agent = ctx.agents.get(task.agentId);
  const fw = ctx.frameworks.get(task.frameworkId);
  const wasLive = agent?.tasks.delete(key) === true;
  fw?.tasks.delete(task.taskId);
  if (wasLive && fw) {
    ctx.allocator.recover(task.frameworkId, task.agentId, task.info.resources, { nowMs: ctx.now(), role: task.role });
    ctx.requestAllocation();
  }
  ctx.completedTasks.delete(key);
  ctx.completedTasks.set(key, task);
  if (ctx.completedTasks.size > ctx.options.maxCompletedTasks) {
    const oldest = ctx.completedTasks.keys().next().value;
    if (oldest !== undefined) ctx.completedTasks.delete(oldest);
  }
  if (agent?.state === 'DRAINING' && agent.tasks.size === 0) agentDrained(ctx, agent);
}

/** A status the master makes itself (no uuid: it needs no acknowledgement). */
export function masterStatus(
  ctx: MasterContext,
  taskId: string,
  state: TaskState,
  reason: TaskStatusReason,
  message: string,
  agentId?: string,
): TaskStatus {
  const status: TaskStatus = { taskId, state, source: 'SOURCE_MASTER', reason, message, timestampMs: ctx.now() };
  if (agentId) status.agentId = agentId;
  return status;
}

/**
 * Marks a live task with a state the master decided (UNREACHABLE, LOST, GONE, DROPPED…), tells the
 * framework, and finishes it when the state is terminal.
 */
export function setTaskState(ctx: MasterContext, task: TaskRecord, state: TaskState, reason: TaskStatusReason, message: string): void {
  const status = masterStatus(ctx, task.taskId, state, reason, message, task.agentId);
  const previous = task.state;
  task.state = state;
  task.status = status;
  task.updatedMs = ctx.now();
  ctx.metrics.taskTransition(previous, state);
  ctx.publishEvent({ type: 'TASK_UPDATED', task: taskSummary(task) });
  ctx.outbox.status(task.frameworkId, status);
  if (isTerminalState(state)) finishTask(ctx, task);
}

/** Kills tasks of a framework: live ones through their agents; unknown ones answered at once. */
export function killTasks(
  ctx: MasterContext,
  fw: FrameworkRecord,
  kills: { taskId: string; agentId?: string | undefined; killPolicy?: { gracePeriodMs?: number | undefined } | undefined }[],
): void {
  for (const kill of kills) {
    const task = fw.tasks.get(kill.taskId);
    if (task) {
      const agent = ctx.agents.get(task.agentId);
      if (agent && agent.state !== 'UNREACHABLE' && agent.state !== 'GONE') {
        ctx.outbox.kill(task.agentId, kill.killPolicy ? { frameworkId: fw.id, taskId: task.taskId, killPolicy: kill.killPolicy } : { frameworkId: fw.id, taskId: task.taskId });
        continue;
      }
    }
    const done = ctx.completedTasks.get(taskKey(fw.id, kill.taskId));
    if (done?.status) {
      ctx.outbox.status(fw.id, { ...done.status, uuid: undefined, reason: 'REASON_RECONCILIATION', timestampMs: ctx.now() });
      continue;
    }
    // Mesos answers a kill of a task it does not know with the reconciliation answer.
    const answer = unknownTaskAnswer(ctx, fw, kill.taskId, kill.agentId ?? task?.agentId);
    if (answer) ctx.outbox.status(fw.id, answer);
  }
}

/**
 * Mesos' answer for a task the master does not know, by what it knows of the agent; none while
 * the agent is recovering (a new leader has not heard from it yet: the framework asks again).
 */
function unknownTaskAnswer(ctx: MasterContext, fw: FrameworkRecord, taskId: string, agentId: string | undefined): TaskStatus | undefined {
  const agent = agentId ? ctx.agents.get(agentId) : undefined;
  if (agent?.recovering) return undefined;
  const lost = (pa: TaskState) => (fw.partitionAware ? pa : 'TASK_LOST');
  if (agentId && !agent) return masterStatus(ctx, taskId, 'TASK_UNKNOWN', 'REASON_RECONCILIATION', 'agent unknown', agentId);
  if (agent?.state === 'UNREACHABLE') return masterStatus(ctx, taskId, lost('TASK_UNREACHABLE'), 'REASON_RECONCILIATION', 'agent unreachable', agentId);
  if (agent?.state === 'GONE') return masterStatus(ctx, taskId, lost('TASK_GONE'), 'REASON_RECONCILIATION', 'agent gone', agentId);
  return masterStatus(ctx, taskId, lost('TASK_GONE'), 'REASON_RECONCILIATION', 'task unknown', agentId);
}

/** Answers RECONCILE: explicit (the listed tasks) or implicit (every live task). */
export function reconcile(ctx: MasterContext, fw: FrameworkRecord, tasks: { taskId: string; agentId?: string | undefined }[]): void {
  if (tasks.length === 0) {
    for (const task of fw.tasks.values()) ctx.outbox.status(fw.id, reconciled(ctx, task));
    return;
  }
  for (const { taskId, agentId } of tasks) {
    const task = fw.tasks.get(taskId) ?? ctx.completedTasks.get(taskKey(fw.id, taskId));
    const answer = task ? reconciled(ctx, task) : unknownTaskAnswer(ctx, fw, taskId, agentId);
    if (answer) ctx.outbox.status(fw.id, answer);
  }
}

function reconciled(ctx: MasterContext, task: TaskRecord): TaskStatus {
  const base = task.status ?? masterStatus(ctx, task.taskId, task.state, 'REASON_RECONCILIATION', 'launched', task.agentId);
  const { uuid: _uuid, ...rest } = base;
  return { ...rest, state: task.state, reason: 'REASON_RECONCILIATION', timestampMs: ctx.now() };
}
