/**
 * The agent lifecycle on the master: REGISTER (a new id, admitted to the registry), REREGISTER
 * (with its tasks, also after a master failover or a partition), pings with allowed misses,
 * UNREACHABLE (TASK_UNREACHABLE to partition-aware frameworks, TASK_LOST to others), GONE after
 * the re-register timeout (TASK_GONE), drain, deactivate, reactivate and mark-gone.
 *
 * @module
 */

import {
  type AgentInfo,
  type AgentSummary,
  type AgentTask,
  add,
  type ExecutorInfo,
  type FrameworkInfo,
  isTerminalState,
  NotFoundError,
  InvalidOperationError,
  type Registered,
  type Resource,
} from '@stoa/core';
import { type MasterContext, taskSummary } from './context.js';
import { adoptFramework } from './frameworks.js';
import { rescindAll } from './offers.js';
import { type AgentRecord, type TaskRecord, taskKey } from './records.js';
import { setTaskState } from './tasks.js';

function newAgentRecord(id: string, principal: string, info: AgentInfo, total: Resource[], registeredMs: number): AgentRecord {
  return {
    id,
    principal,
    info: { ...info, id },
    total,
    state: 'ACTIVE',
    registeredMs,
    missedPings: 0,
    tasks: new Map(),
    executors: new Map(),
    offers: new Set(),
  };
}

function registered(ctx: MasterContext, agentId: string): Registered {
  return { agentId, masterId: ctx.masterId, epoch: ctx.epoch, pingIntervalMs: ctx.options.pingIntervalMs };
}

/**
 * REGISTER: a new agent is admitted to the registry and its resources join the pool. The agent may
 * propose its id (so it listens for commands before it asks); a REGISTER repeated for an id this
 * master already admitted under the same principal is answered again, not admitted twice.
 */
export async function registerAgent(ctx: MasterContext, principal: string, info: AgentInfo): Promise<Registered> {
  const known = info.id ? ctx.agents.get(info.id) : undefined;
  if (known) {
    if (known.principal !== principal || known.state === 'GONE') {
      throw new InvalidOperationError(`agent id ${info.id} is taken`, { details: { agentId: info.id } });
    }
    return registered(ctx, known.id);
  }
  const id = info.id ?? ctx.newId('a');
  const agent = newAgentRecord(id, principal, info, info.resources, ctx.now());
  await ctx.registry.saveAgent(agent);
  ctx.agents.set(id, agent);
  ctx.allocator.addAgent(id, agent.total, { active: true });
  ctx.publishEvent({ type: 'AGENT_ADDED', agent: agentSummary(ctx, agent) });
  ctx.log.info({ agentId: id, hostname: info.hostname }, 'agent registered');
  ctx.requestAllocation();
  return registered(ctx, id);
}

/**
 * REREGISTER: an agent we know (back from a partition, or re-registering with a new leader) or
 * one we do not (admitted by an earlier leader whose registry we did not have). Its tasks become
 * the truth: tasks it reports are (re)adopted; tasks we had on it that it no longer has are lost.
 */
export async function reregisterAgent(
  ctx: MasterContext,
  principal: string,
  agentId: string,
  info: AgentInfo,
  tasks: AgentTask[],
  executors: { frameworkId: string; executor: ExecutorInfo }[],
  frameworks: FrameworkInfo[],
): Promise<Registered> {
  let agent = ctx.agents.get(agentId);
  if (agent && agent.principal !== principal) throw new InvalidOperationError(`agent ${agentId} belongs to another principal`, { details: { agentId } });
  if (agent?.state === 'GONE') throw new InvalidOperationError(`agent ${agentId} was marked gone; start it with a fresh work dir`, { details: { agentId } });
  const wasUnreachable = agent?.state === 'UNREACHABLE';
  if (!agent) {
    agent = newAgentRecord(agentId, principal, info, info.resources, ctx.now());
    ctx.agents.set(agentId, agent);
    ctx.allocator.addAgent(agentId, agent.total, { active: true });
    await ctx.registry.saveAgent(agent);
    ctx.publishEvent({ type: 'AGENT_ADDED', agent: agentSummary(ctx, agent) });
  } else {
    agent.info = { ...info, id: agentId };
    delete agent.recovering;
    if (agent.state === 'UNREACHABLE') agent.state = 'ACTIVE';
    delete agent.unreachableMs;
    ctx.allocator.setAgentActive(agentId, agent.state === 'ACTIVE');
  }
  agent.missedPings = 0;
  for (const fwInfo of frameworks) if (fwInfo.id) adoptFramework(ctx, fwInfo);

  const reported = new Set<string>();
  for (const t of tasks) {
    const key = taskKey(t.frameworkId, t.task.taskId);
    reported.add(key);
    if (isTerminalState(t.state)) continue;
    const fw = ctx.frameworks.get(t.frameworkId);
    const existing = agent.tasks.get(key);
    if (existing) {
      const previous = existing.state;
      existing.state = t.state;
      ctx.metrics.taskTransition(previous, t.state);
      if (t.status) existing.status = t.status;
      if (previous === 'TASK_UNREACHABLE' && fw) {
        const base = t.status ?? { taskId: t.task.taskId, source: 'SOURCE_MASTER' as const, timestampMs: ctx.now() };
        ctx.outbox.status(fw.id, { ...base, state: t.state, uuid: undefined, reason: 'REASON_AGENT_REREGISTERED', agentId, timestampMs: ctx.now() });
      }
      continue;
    }
    if (ctx.completedTasks.get(key)?.state === 'TASK_LOST') {
      // Its framework was told it is lost: it must not find it running again.
      ctx.outbox.kill(agentId, { frameworkId: t.frameworkId, taskId: t.task.taskId });
      continue;
    }
    if (!fw) continue;
    const record: TaskRecord = { taskId: t.task.taskId, frameworkId: t.frameworkId, agentId, info: t.task, role: '*', state: t.state, launchedMs: ctx.now(), updatedMs: ctx.now() };
    if (t.status) record.status = t.status;
    agent.tasks.set(key, record);
    fw.tasks.set(record.taskId, record);
    ctx.allocator.allocate(fw.id, agentId, roleOf(t.task.resources, fw.info.roles), t.task.resources);
    ctx.metrics.taskTransition(undefined, t.state);
    ctx.publishEvent({ type: 'TASK_ADDED', task: taskSummary(record) });
  }
  for (const task of [...agent.tasks.values()]) {
    if (!reported.has(taskKey(task.frameworkId, task.taskId)) && task.state !== 'TASK_STAGING') {
      const fw = ctx.frameworks.get(task.frameworkId);
      setTaskState(ctx, task, fw?.partitionAware ? 'TASK_GONE' : 'TASK_LOST', 'REASON_AGENT_REREGISTERED', 'the agent re-registered without this task');
    }
  }
  for (const { frameworkId, executor } of executors) agent.executors.set(`${frameworkId}\u0000${executor.executorId}`, executor);
  ctx.publishEvent({ type: 'AGENT_UPDATED', agent: agentSummary(ctx, agent) });
  ctx.log.info({ agentId, tasks: tasks.length, wasUnreachable }, 'agent re-registered');
  ctx.requestAllocation();
  return registered(ctx, agentId);
}

/** The role of a task's resources: a reserved role if they carry one, else the framework's first. */
function roleOf(resources: Resource[], roles: string[] | undefined): string {
  for (const r of resources) if (r.role && r.role !== '*') return r.role;
  return roles?.[0] ?? '*';
}

/** An agent stopped answering pings (or asked to leave): its offers go, its tasks are unreachable. */
export function markUnreachable(ctx: MasterContext, agent: AgentRecord, why: string): void {
  if (agent.state === 'UNREACHABLE' || agent.state === 'GONE') return;
  agent.state = 'UNREACHABLE';
  agent.unreachableMs = ctx.now();
  ctx.allocator.setAgentActive(agent.id, false);
  rescindAll(ctx, agent.offers);
  for (const task of [...agent.tasks.values()]) {
    const fw = ctx.frameworks.get(task.frameworkId);
    // LOST is terminal for a framework that is not partition-aware: if the agent comes back with
    // the task, re-registration finds it among the completed tasks and kills it.
    setTaskState(ctx, task, fw?.partitionAware ? 'TASK_UNREACHABLE' : 'TASK_LOST', 'REASON_AGENT_DISCONNECTED', `agent ${agent.id} is unreachable: ${why}`);
  }
  ctx.publishEvent({ type: 'AGENT_UPDATED', agent: agentSummary(ctx, agent) });
  ctx.log.warn({ agentId: agent.id, why }, 'agent unreachable');
}

/** An agent is gone for good: its tasks are GONE, it leaves the pool and the registry marks it. */
export function markGone(ctx: MasterContext, agent: AgentRecord, byOperator: boolean): void {
  if (agent.state === 'GONE') return;
  // Its tasks end below; a drain that asked to mark it gone once drained must not do it again.
  delete agent.drain;
  rescindAll(ctx, agent.offers);
  for (const task of [...agent.tasks.values()]) {
    const fw = ctx.frameworks.get(task.frameworkId);
    const state = byOperator ? 'TASK_GONE_BY_OPERATOR' : fw?.partitionAware ? 'TASK_GONE' : 'TASK_LOST';
    setTaskState(ctx, task, state, byOperator ? 'REASON_AGENT_REMOVED_BY_OPERATOR' : 'REASON_AGENT_REMOVED', `agent ${agent.id} is gone`);
  }
  agent.tasks.clear();
  agent.state = 'GONE';
  ctx.allocator.removeAgent(agent.id);
  void ctx.registry.saveAgent(agent, true);
  ctx.publishEvent({ type: 'AGENT_REMOVED', agentId: agent.id });
  ctx.log.warn({ agentId: agent.id, byOperator }, 'agent gone');
}

/** Unreachable agents past the re-register timeout become GONE. */
export function expireUnreachable(ctx: MasterContext): void {
  const cutoff = ctx.now() - ctx.options.agentReregisterTimeoutMs;
  for (const agent of ctx.agents.values()) {
    if (agent.state === 'UNREACHABLE' && (agent.unreachableMs ?? 0) <= cutoff) markGone(ctx, agent, false);
  }
}

/** Counts a ping's outcome. */
export function pingAnswered(agent: AgentRecord): void {
  agent.missedPings = 0;
}

/** Counts a missed ping; past the allowed misses the agent is unreachable. */
export function pingMissed(ctx: MasterContext, agent: AgentRecord): void {
  agent.missedPings++;
  if (agent.missedPings >= ctx.options.maxMissedPings) markUnreachable(ctx, agent, `${agent.missedPings} pings missed`);
}

function requireAgent(ctx: MasterContext, agentId: string): AgentRecord {
  const agent = ctx.agents.get(agentId);
  if (!agent || agent.state === 'GONE') throw new NotFoundError(`no agent ${agentId}`, { details: { kind: 'agent', id: agentId } });
  return agent;
}

/** DRAIN_AGENT: no new offers; its tasks are killed with grace; DRAINED when none is left. */
export function drainAgent(ctx: MasterContext, agentId: string, gracePeriodMs?: number, markGoneWhenDrained?: boolean): void {
  const agent = requireAgent(ctx, agentId);
  agent.state = agent.tasks.size === 0 ? 'DRAINED' : 'DRAINING';
  agent.drain = { ...(gracePeriodMs !== undefined ? { gracePeriodMs } : {}), ...(markGoneWhenDrained ? { markGone: true } : {}) };
  ctx.allocator.setAgentActive(agent.id, false);
  rescindAll(ctx, agent.offers);
  // DRAIN first, so the agent kills its tasks as drained (REASON_AGENT_DRAINING) and stops its
  // executors; the KILL_TASKS after it name what the master knows of, for an agent that missed it.
  ctx.sendAgentCommand(agent.id, gracePeriodMs !== undefined ? { type: 'DRAIN', gracePeriodMs } : { type: 'DRAIN' });
  for (const task of agent.tasks.values()) {
    ctx.outbox.kill(agent.id, gracePeriodMs !== undefined ? { frameworkId: task.frameworkId, taskId: task.taskId, killPolicy: { gracePeriodMs } } : { frameworkId: task.frameworkId, taskId: task.taskId });
  }
  ctx.publishEvent({ type: 'AGENT_UPDATED', agent: agentSummary(ctx, agent) });
  if (agent.state === 'DRAINED' && markGoneWhenDrained) markGone(ctx, agent, true);
}

/** The last task of a draining agent ended: it is DRAINED, and gone if the drain asked for it. */
export function agentDrained(ctx: MasterContext, agent: AgentRecord): void {
  if (agent.state !== 'DRAINING' || agent.tasks.size > 0) return;
  agent.state = 'DRAINED';
  ctx.publishEvent({ type: 'AGENT_UPDATED', agent: agentSummary(ctx, agent) });
  if (agent.drain?.markGone) markGone(ctx, agent, true);
}

/** DEACTIVATE_AGENT: no new offers; tasks keep running. */
export function deactivateAgent(ctx: MasterContext, agentId: string): void {
  const agent = requireAgent(ctx, agentId);
  if (agent.state !== 'ACTIVE') return;
  agent.state = 'DEACTIVATED';
  ctx.allocator.setAgentActive(agent.id, false);
  rescindAll(ctx, agent.offers);
  ctx.publishEvent({ type: 'AGENT_UPDATED', agent: agentSummary(ctx, agent) });
}

/** REACTIVATE_AGENT: offers again (also ends a drain). */
export function reactivateAgent(ctx: MasterContext, agentId: string): void {
  const agent = requireAgent(ctx, agentId);
  if (agent.state === 'UNREACHABLE') throw new InvalidOperationError(`agent ${agentId} is unreachable`, { details: { agentId } });
  agent.state = 'ACTIVE';
  delete agent.drain;
  ctx.allocator.setAgentActive(agent.id, true);
  ctx.publishEvent({ type: 'AGENT_UPDATED', agent: agentSummary(ctx, agent) });
  ctx.requestAllocation();
}

/** MARK_AGENT_GONE by an operator. */
export function markAgentGone(ctx: MasterContext, agentId: string): void {
  markGone(ctx, requireAgent(ctx, agentId), true);
}

/** The operator's view of an agent. */
export function agentSummary(ctx: MasterContext, agent: AgentRecord): AgentSummary {
  let used: Resource[] = [];
  for (const t of agent.tasks.values()) used = add(used, t.info.resources);
  let offered: Resource[] = [];
  for (const id of agent.offers) {
    const o = ctx.offers.get(id);
    if (o) offered = add(offered, o.resources);
  }
  const summary: AgentSummary = {
    id: agent.id,
    hostname: agent.info.hostname,
    state: agent.state,
    resources: agent.total,
    used,
    offered,
    attributes: agent.info.attributes,
    info: agent.info,
    registeredMs: agent.registeredMs,
    taskCount: agent.tasks.size,
  };
  if (agent.info.domain) summary.domain = agent.info.domain;
  return summary;
}
