/**
 * The operator API's one implementation: every operator call, answered from the master's records.
 * The NATS face (`stoa.master.operator`) and the HTTP face (hono) both call {@link handleOperatorCall}.
 *
 * @module
 */

import { NotFoundError, type OperatorCall, type RoleSummary, type TaskSummary, ValidationError } from '@stoa/core';
import {
  agentSummary,
  deactivateAgent,
  drainAgent,
  markAgentGone,
  reactivateAgent,
} from '../agents.js';
import { type MasterContext, taskSummary } from '../context.js';
import { frameworkSummary, teardown } from '../frameworks.js';
import { killTasks } from '../tasks.js';

/** What the master says about itself. */
export function masterInfo(ctx: MasterContext, startedMs: number, httpUrl: string | undefined) {
  return {
    masterId: ctx.masterId,
    epoch: ctx.epoch,
    leader: true,
    ...(ctx.options.hostname ? { hostname: ctx.options.hostname } : {}),
    ...(httpUrl ? { httpUrl } : {}),
    startedMs,
    version: '0.1.0',
  };
}

function roles(ctx: MasterContext): RoleSummary[] {
  return ctx.allocator.roleSummaries().map((r) => {
    const summary: RoleSummary = { role: r.role, weight: r.weight, allocated: r.allocated, frameworkIds: r.frameworkIds };
    if (r.quota) summary.quota = r.quota;
    return summary;
  });
}

function tasks(ctx: MasterContext, call: Extract<OperatorCall, { type: 'GET_TASKS' }>): { tasks: TaskSummary[]; total: number } {
  const offset = call.offset ?? 0;
  const limit = call.limit ?? 100;
  const out: TaskSummary[] = [];
  let total = 0;
  const consider = (task: { state: string; frameworkId: string; agentId: string }) =>
    (!call.state || task.state === call.state) && (!call.frameworkId || task.frameworkId === call.frameworkId) && (!call.agentId || task.agentId === call.agentId);
  const visit = (task: Parameters<typeof taskSummary>[0]) => {
    if (!consider(task)) return;
    if (total >= offset && out.length < limit) out.push(taskSummary(task));
    total++;
  };
  for (const fw of ctx.frameworks.values()) for (const t of fw.tasks.values()) visit(t);
  // Newest completed first.
  const completed = [...ctx.completedTasks.values()];
  for (let i = completed.length - 1; i >= 0; i--) visit(completed[i]!);
  return { tasks: out, total };
}

/** Answers one operator call (reads from a snapshot of the records; writes through the state machines). */
export async function handleOperatorCall(ctx: MasterContext, call: OperatorCall, info: { startedMs: number; httpUrl?: string }): Promise<unknown> {
  switch (call.type) {
    case 'GET_HEALTH':
      return { healthy: true, leader: true };
    case 'GET_MASTER':
      return masterInfo(ctx, info.startedMs, info.httpUrl);
    case 'GET_AGENTS':
      return { agents: [...ctx.agents.values()].map((a) => agentSummary(ctx, a)) };
    case 'GET_FRAMEWORKS':
      return { frameworks: [...ctx.frameworks.values()].map((f) => frameworkSummary(ctx, f)) };
    case 'GET_TASKS':
      return tasks(ctx, call);
    case 'GET_ROLES':
      return { roles: roles(ctx) };
    case 'GET_STATE':
      return {
        master: masterInfo(ctx, info.startedMs, info.httpUrl),
        agents: [...ctx.agents.values()].map((a) => agentSummary(ctx, a)),
        frameworks: [...ctx.frameworks.values()].map((f) => frameworkSummary(ctx, f)),
        roles: roles(ctx),
        taskCounts: ctx.metrics.taskCounts(),
      };
    case 'DRAIN_AGENT':
      drainAgent(ctx, call.agentId, call.gracePeriodMs, call.markGone);
      return {};
    case 'DEACTIVATE_AGENT':
      deactivateAgent(ctx, call.agentId);
      return {};
    case 'REACTIVATE_AGENT':
      reactivateAgent(ctx, call.agentId);
      return {};
    case 'MARK_AGENT_GONE':
      markAgentGone(ctx, call.agentId);
      return {};
    case 'TEARDOWN': {
      const fw = ctx.frameworks.get(call.frameworkId);
      if (!fw) throw new NotFoundError(`no framework ${call.frameworkId}`, { details: { kind: 'framework', id: call.frameworkId } });
      teardown(ctx, fw, 'torn down by an operator');
      return {};
    }
    case 'UPDATE_WEIGHTS':
      for (const w of call.weights) await ctx.registry.saveWeight(w.role, w.weight);
      for (const w of call.weights) ctx.allocator.setWeight(w.role, w.weight);
      ctx.requestAllocation();
      return {};
    case 'UPDATE_QUOTA':
      for (const [i, q] of call.quotas.entries()) validateQuota(q, i);
      for (const q of call.quotas) await ctx.registry.saveQuota(q);
      for (const q of call.quotas) {
        if (q.guarantee || q.limit) ctx.allocator.setQuota(q.role, { ...(q.guarantee ? { guarantee: q.guarantee } : {}), ...(q.limit ? { limit: q.limit } : {}) });
        else ctx.allocator.removeQuota(q.role);
      }
      ctx.requestAllocation();
      return {};
    case 'RESERVE_RESOURCES':
    case 'UNRESERVE_RESOURCES':
      return ctx.operatorReservation(call.type === 'RESERVE_RESOURCES' ? 'RESERVE' : 'UNRESERVE', call.agentId, call.resources);
    case 'KILL_TASKS': {
      for (const taskId of call.taskIds) {
        const owner = [...ctx.frameworks.values()].find((f) => f.tasks.has(taskId));
        if (!owner) throw new NotFoundError(`no live task ${taskId}`, { details: { kind: 'task', id: taskId } });
        killTasks(ctx, owner, [{ taskId }]);
      }
      return {};
    }
    case 'READ_FILE':
      return ctx.readTaskFile(call.taskId, call.path, call.offset, call.length);
  }
}

function validateQuota(q: { role: string; guarantee?: Record<string, number> | undefined; limit?: Record<string, number> | undefined }, index: number): void {
  if (!q.guarantee || !q.limit) return;
  for (const [name, amount] of Object.entries(q.guarantee)) {
    const limit = q.limit[name];
    if (limit !== undefined && limit < amount) {
      throw new ValidationError(`quota of role ${q.role}: the guarantee of ${name} (${amount}) exceeds its limit (${limit})`, {
        details: { field: `quotas.${index}.guarantee.${name}` },
      });
    }
  }
}
