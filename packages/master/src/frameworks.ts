/**
 * The framework lifecycle on the master: SUBSCRIBE (new, or failover with its id), heartbeats both
 * ways (any call counts), disconnection after missed heartbeats (offers rescinded, tasks kept),
 * teardown when `failoverTimeoutMs` passes or on request (tasks killed, id retired), and
 * UPDATE_FRAMEWORK.
 *
 * @module
 */

import {
  add,
  type FrameworkInfo,
  type FrameworkSummary,
  InvalidOperationError,
  type Resource,
  type Subscribed,
  UnauthorizedError,
} from '@stoa/core';
import { agentDrained } from './agents.js';
import type { MasterContext } from './context.js';
import { rescindAll } from './offers.js';
import type { FrameworkRecord } from './records.js';

/** A week, Mesos' usual failover timeout for long-running frameworks. */
const DEFAULT_FAILOVER_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

function record(ctx: MasterContext, id: string, info: FrameworkInfo, principal: string): FrameworkRecord {
  const now = ctx.now();
  return {
    id,
    principal,
    info: { ...info, id },
    state: 'CONNECTED',
    registeredMs: now,
    lastSeenMs: now,
    seq: 0,
    tasks: new Map(),
    offers: new Set(),
    suppressedRoles: new Set(),
    partitionAware: info.capabilities?.includes('PARTITION_AWARE') ?? false,
  };
}

function allocatorView(fw: FrameworkRecord) {
  return { roles: fw.info.roles ?? ['*'], gpuAware: fw.info.capabilities?.includes('GPU_RESOURCES') ?? false, suppressedRoles: [...fw.suppressedRoles] };
}

/**
 * SUBSCRIBE. The principal of the subject must be the framework's. A known id is a failover: the
 * framework keeps its tasks, its outstanding offers are rescinded, and events restart at seq 0.
 */
export async function subscribe(ctx: MasterContext, principal: string, info: FrameworkInfo, suppressedRoles: string[] | undefined): Promise<Subscribed> {
  if (info.principal !== principal) {
    throw new UnauthorizedError(`a framework of principal ${info.principal} cannot subscribe as ${principal}`, { details: { principal } });
  }
  const id = info.id ?? ctx.newId('f');
  if (ctx.completedFrameworks.has(id)) {
    throw new InvalidOperationError(`framework ${id} was torn down; subscribe without an id to start anew`, { details: { frameworkId: id } });
  }
  let fw = ctx.frameworks.get(id);
  if (fw && fw.principal !== principal) throw new UnauthorizedError(`framework ${id} belongs to another principal`, { details: { frameworkId: id } });
  if (fw) {
    rescindAll(ctx, fw.offers);
    fw.info = { ...info, id };
    fw.state = 'CONNECTED';
    fw.lastSeenMs = ctx.now();
    fw.partitionAware = info.capabilities?.includes('PARTITION_AWARE') ?? false;
    delete fw.failoverDeadlineMs;
    if (suppressedRoles) fw.suppressedRoles = new Set(suppressedRoles);
    await ctx.registry.saveFramework(fw);
    ctx.allocator.updateFramework(id, allocatorView(fw));
    ctx.allocator.setFrameworkActive(id, true);
    ctx.publishEvent({ type: 'FRAMEWORK_UPDATED', framework: frameworkSummary(ctx, fw) });
    ctx.log.info({ frameworkId: id, name: info.name }, 'framework failed over');
  } else {
    fw = record(ctx, id, info, principal);
    if (suppressedRoles) fw.suppressedRoles = new Set(suppressedRoles);
    await ctx.registry.saveFramework(fw);
    ctx.frameworks.set(id, fw);
    ctx.allocator.addFramework(id, allocatorView(fw));
    ctx.publishEvent({ type: 'FRAMEWORK_ADDED', framework: frameworkSummary(ctx, fw) });
    ctx.log.info({ frameworkId: id, name: info.name }, 'framework subscribed');
  }
  fw.seq = 0;
  fw.streamId = ctx.newId('s');
  ctx.requestAllocation();
  return { frameworkId: id, heartbeatIntervalMs: ctx.options.heartbeatIntervalMs, masterId: ctx.masterId, epoch: ctx.epoch, streamId: fw.streamId };
}

/**
 * A framework an agent reports (re-registration after a master failover) that has not yet
 * re-subscribed: it is known but disconnected, and its failover clock runs.
 */
export function adoptFramework(ctx: MasterContext, info: FrameworkInfo): void {
  if (!info.id || ctx.frameworks.has(info.id) || ctx.completedFrameworks.has(info.id)) return;
  const fw = record(ctx, info.id, info, info.principal);
  fw.state = 'DISCONNECTED';
  fw.failoverDeadlineMs = ctx.now() + (info.failoverTimeoutMs ?? DEFAULT_FAILOVER_TIMEOUT_MS);
  ctx.frameworks.set(fw.id, fw);
  ctx.allocator.addFramework(fw.id, allocatorView(fw));
  ctx.allocator.setFrameworkActive(fw.id, false);
  ctx.publishEvent({ type: 'FRAMEWORK_ADDED', framework: frameworkSummary(ctx, fw) });
}

/** Disconnects a framework: no offers, tasks keep running until the failover timeout. */
export function disconnect(ctx: MasterContext, fw: FrameworkRecord, why: string): void {
  if (fw.state !== 'CONNECTED') return;
  fw.state = 'DISCONNECTED';
  fw.failoverDeadlineMs = ctx.now() + (fw.info.failoverTimeoutMs ?? DEFAULT_FAILOVER_TIMEOUT_MS);
  ctx.allocator.setFrameworkActive(fw.id, false);
  rescindAll(ctx, fw.offers);
  ctx.publishEvent({ type: 'FRAMEWORK_UPDATED', framework: frameworkSummary(ctx, fw) });
  ctx.log.warn({ frameworkId: fw.id, why, failoverDeadlineMs: fw.failoverDeadlineMs }, 'framework disconnected');
}

/** Disconnects silent frameworks and tears down those past their failover deadline. */
export function checkFrameworks(ctx: MasterContext): void {
  const now = ctx.now();
  const silentSince = now - ctx.options.heartbeatIntervalMs * ctx.options.maxMissedHeartbeats;
  for (const fw of [...ctx.frameworks.values()]) {
    if (fw.state === 'CONNECTED' && fw.lastSeenMs < silentSince) disconnect(ctx, fw, 'missed heartbeats');
    if (fw.state === 'DISCONNECTED' && fw.failoverDeadlineMs !== undefined && fw.failoverDeadlineMs <= now) {
      teardown(ctx, fw, 'failover timeout passed');
    }
  }
}

/** Tears a framework down: its tasks are killed, its offers rescinded, its id retired. */
export function teardown(ctx: MasterContext, fw: FrameworkRecord, why: string): void {
  rescindAll(ctx, fw.offers);
  const agents = new Set<string>();
  for (const task of fw.tasks.values()) {
    ctx.outbox.kill(task.agentId, { frameworkId: fw.id, taskId: task.taskId });
    agents.add(task.agentId);
  }
  // Agents running its executors hear it too, also those whose executors have no task left.
  for (const agent of ctx.agents.values()) {
    for (const key of agent.executors.keys()) if (key.startsWith(`${fw.id}\u0000`)) agents.add(agent.id);
  }
  for (const agentId of agents) ctx.sendAgentCommand(agentId, { type: 'SHUTDOWN_FRAMEWORK', frameworkId: fw.id });
  if (fw.state === 'CONNECTED') ctx.sendFrameworkEvent(fw, { type: 'ERROR', message: `framework removed: ${why}`, code: 'FRAMEWORK_REMOVED' });
  fw.state = 'COMPLETED';
  ctx.frameworks.delete(fw.id);
  ctx.completedFrameworks.add(fw.id);
  // The allocator forgets the framework, so its resources are free at once; the kills leave in
  // the same turn, and the agents' KILLED updates are acknowledged on the framework's behalf.
  ctx.allocator.removeFramework(fw.id);
  for (const task of fw.tasks.values()) ctx.agents.get(task.agentId)?.tasks.delete(`${fw.id}\u0000${task.taskId}`);
  // A draining agent whose last tasks were this framework's is drained now.
  for (const agentId of agents) {
    const agent = ctx.agents.get(agentId);
    if (agent) agentDrained(ctx, agent);
  }
  void ctx.registry.saveFramework(fw, true);
  ctx.publishEvent({ type: 'FRAMEWORK_REMOVED', frameworkId: fw.id });
  ctx.log.warn({ frameworkId: fw.id, why }, 'framework torn down');
  ctx.requestAllocation();
}

/** UPDATE_FRAMEWORK: roles, capabilities and the rest of FrameworkInfo change in place. */
export async function updateFramework(ctx: MasterContext, fw: FrameworkRecord, info: FrameworkInfo, suppressedRoles: string[] | undefined): Promise<void> {
  if (info.principal !== fw.principal) throw new UnauthorizedError('a framework cannot change its principal', { details: { frameworkId: fw.id } });
  fw.info = { ...info, id: fw.id };
  fw.partitionAware = info.capabilities?.includes('PARTITION_AWARE') ?? false;
  if (suppressedRoles) fw.suppressedRoles = new Set(suppressedRoles);
  await ctx.registry.saveFramework(fw);
  ctx.allocator.updateFramework(fw.id, allocatorView(fw));
  ctx.publishEvent({ type: 'FRAMEWORK_UPDATED', framework: frameworkSummary(ctx, fw) });
  ctx.requestAllocation();
}

/** SUPPRESS: no offers for these roles (all of the framework's when none are named). */
export function suppress(ctx: MasterContext, fw: FrameworkRecord, roles: string[] | undefined): void {
  const list = roles ?? fw.info.roles ?? ['*'];
  for (const r of list) fw.suppressedRoles.add(r);
  ctx.allocator.suppress(fw.id, list);
}

/** REVIVE: offers again for these roles, and decline filters cleared. */
export function revive(ctx: MasterContext, fw: FrameworkRecord, roles: string[] | undefined): void {
  const list = roles ?? fw.info.roles ?? ['*'];
  for (const r of list) fw.suppressedRoles.delete(r);
  ctx.allocator.revive(fw.id, list);
  ctx.requestAllocation();
}

/** The operator's view of a framework. */
export function frameworkSummary(ctx: MasterContext, fw: FrameworkRecord): FrameworkSummary {
  let used: Resource[] = [];
  for (const t of fw.tasks.values()) used = add(used, t.info.resources);
  let offered: Resource[] = [];
  for (const id of fw.offers) {
    const o = ctx.offers.get(id);
    if (o) offered = add(offered, o.resources);
  }
  const summary: FrameworkSummary = {
    id: fw.id,
    info: fw.info,
    state: fw.state,
    registeredMs: fw.registeredMs,
    used,
    offered,
    share: ctx.allocator.frameworkShare(fw.id),
    taskCount: fw.tasks.size,
    suppressedRoles: [...fw.suppressedRoles],
  };
  if (fw.failoverDeadlineMs !== undefined) summary.failoverDeadlineMs = fw.failoverDeadlineMs;
  return summary;
}
