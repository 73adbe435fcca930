/**
 * Offers: made from the allocator's allocations, rescinded when they time out or their agent or
 * framework goes away, and consumed by ACCEPT and DECLINE.
 *
 * ACCEPT validates every operation before anything is applied: each task's resources must fit in
 * what is left of one offer on the task's agent (ports included, since ranges are resources), and
 * task ids must be unique within the framework. An invalid task gets TASK_ERROR with a reason; if
 * any offer id is unknown, nothing is launched and every task gets TASK_DROPPED (TASK_LOST for
 * frameworks that are not partition-aware). What the framework did not use returns to the pool,
 * with its decline filter.
 *
 * @module
 */

import {
  add,
  contains,
  type Filters,
  isEmpty,
  normalize,
  type Offer,
  type Operation,
  type Resource,
  stripReservations,
  subtract,
  type TaskInfo,
} from '@stoa/core';
import { type MasterContext, taskSummary } from './context.js';
import type { AgentRecord, FrameworkRecord, OfferRecord, TaskRecord } from './records.js';
import { taskKey } from './records.js';
import { masterStatus } from './tasks.js';

/** An allocation the allocator decided: resources of one agent for one framework and role. */
export interface AllocationLike {
  frameworkId: string;
  agentId: string;
  role: string;
  resources: Resource[];
}

/** Turns allocations into offers and queues them to their frameworks. */
export function makeOffers(ctx: MasterContext, allocations: readonly AllocationLike[]): void {
  const now = ctx.now();
  for (const a of allocations) {
    const fw = ctx.frameworks.get(a.frameworkId);
    const agent = ctx.agents.get(a.agentId);
    if (!fw || !agent || fw.state !== 'CONNECTED' || agent.state !== 'ACTIVE') {
      ctx.allocator.recover(a.frameworkId, a.agentId, a.resources, { nowMs: now, role: a.role });
      continue;
    }
    const id = ctx.newId('o');
    const record: OfferRecord = { id, frameworkId: fw.id, agentId: agent.id, role: a.role, resources: a.resources, createdMs: now };
    ctx.offers.set(id, record);
    fw.offers.add(id);
    agent.offers.add(id);
    const offer: Offer = {
      id,
      frameworkId: fw.id,
      agentId: agent.id,
      hostname: agent.info.hostname,
      role: a.role,
      resources: a.resources,
      attributes: agent.info.attributes,
    };
    if (agent.info.domain) offer.domain = agent.info.domain;
    const executorIds = runningExecutors(agent, fw.id);
    if (executorIds) offer.executorIds = executorIds;
    ctx.outbox.offer(offer);
    ctx.metrics.offersMade.inc();
  }
}

/**
 * The ids of `frameworkId`'s executors running on `agent`, as an offer tells them (so a framework
 * does not set aside an executor's resources again for a task it launches on an executor that runs).
 */
function runningExecutors(agent: AgentRecord, frameworkId: string): string[] | undefined {
  if (agent.executors.size === 0) return undefined;
  const prefix = `${frameworkId}\u0000`;
  const ids: string[] = [];
  for (const key of agent.executors.keys()) if (key.startsWith(prefix)) ids.push(key.slice(prefix.length));
  return ids.length > 0 ? ids : undefined;
}

/** Removes an offer from the books; its resources go back to the pool (with a filter when `refuseMs` > 0). */
function releaseOffer(ctx: MasterContext, offer: OfferRecord, resources: Resource[], refuseMs: number): void {
  ctx.offers.delete(offer.id);
  ctx.frameworks.get(offer.frameworkId)?.offers.delete(offer.id);
  ctx.agents.get(offer.agentId)?.offers.delete(offer.id);
  ctx.allocator.recover(offer.frameworkId, offer.agentId, resources, { nowMs: ctx.now(), role: offer.role, ...(refuseMs > 0 ? { refuseMs } : {}) });
}

/** Rescinds an offer: the framework is told, the resources return to the pool. */
export function rescindOffer(ctx: MasterContext, offerId: string): void {
  const offer = ctx.offers.get(offerId);
  if (!offer) return;
  releaseOffer(ctx, offer, offer.resources, 0);
  ctx.outbox.rescind(offer.frameworkId, offer.id);
  ctx.metrics.offersRescinded.inc();
  ctx.requestAllocation();
}

/** Rescinds every outstanding offer in `ids` (copied first: rescinding mutates the sets). */
export function rescindAll(ctx: MasterContext, ids: Iterable<string>): void {
  for (const id of [...ids]) rescindOffer(ctx, id);
}

/** Rescinds offers older than the offer timeout. Offers are kept in creation order, so this stops at the first young one. */
export function expireOffers(ctx: MasterContext): void {
  const timeout = ctx.options.offerTimeoutMs;
  if (timeout <= 0) return;
  const cutoff = ctx.now() - timeout;
  for (const offer of ctx.offers.values()) {
    if (offer.createdMs > cutoff) break;
    rescindOffer(ctx, offer.id);
  }
}

/** DECLINE: the offers' resources return to the pool with a filter. */
export function decline(ctx: MasterContext, fw: FrameworkRecord, offerIds: string[], filters: Filters | undefined): void {
  const refuseMs = filters?.refuseMs ?? ctx.options.defaultRefuseMs;
  for (const id of offerIds) {
    const offer = ctx.offers.get(id);
    if (offer && offer.frameworkId === fw.id) releaseOffer(ctx, offer, offer.resources, refuseMs);
  }
  ctx.metrics.offersDeclined.inc(offerIds.length);
  ctx.requestAllocation();
}

/** What is left of one offer while an ACCEPT is checked. */
interface Remaining {
  offer: OfferRecord;
  left: Resource[];
}

/** ACCEPT: validates and applies the operations, then returns what was not used. */
export function accept(
  ctx: MasterContext,
  fw: FrameworkRecord,
  offerIds: string[],
  operations: Operation[],
  filters: Filters | undefined,
): void {
  const refuseMs = filters?.refuseMs ?? ctx.options.defaultRefuseMs;
  const byAgent = new Map<string, Remaining[]>();
  const valid: OfferRecord[] = [];
  let invalidOffer: string | undefined;
  for (const id of new Set(offerIds)) {
    const offer = ctx.offers.get(id);
    if (!offer || offer.frameworkId !== fw.id) {
      invalidOffer ??= id;
      continue;
    }
    valid.push(offer);
  }
  if (invalidOffer !== undefined) {
    // Nothing is applied: the framework acted on an offer that is gone (rescinded, expired, not its own).
    for (const offer of valid) releaseOffer(ctx, offer, offer.resources, 0);
    const state = fw.partitionAware ? 'TASK_DROPPED' : 'TASK_LOST';
    for (const task of tasksOf(operations)) {
      ctx.outbox.status(fw.id, masterStatus(ctx, task.taskId, state, 'REASON_INVALID_OFFERS', `offer ${invalidOffer} is no longer valid`, task.agentId));
    }
    ctx.metrics.invalidAccepts.inc();
    ctx.requestAllocation();
    return;
  }
  for (const offer of valid) {
    ctx.offers.delete(offer.id);
    fw.offers.delete(offer.id);
    ctx.agents.get(offer.agentId)?.offers.delete(offer.id);
    const list = byAgent.get(offer.agentId);
    const entry = { offer, left: offer.resources };
    if (list) list.push(entry);
    else byAgent.set(offer.agentId, [entry]);
  }

  const seen = new Set<string>();
  const executorsInAccept = new Set<string>();
  const now = ctx.now();
  for (const op of operations) {
    switch (op.type) {
      case 'LAUNCH':
        for (const task of op.tasks) {
          const checked = checkTask(ctx, fw, task, seen, byAgent, executorsInAccept);
          if (typeof checked === 'string') {
            ctx.outbox.status(fw.id, masterStatus(ctx, task.taskId, 'TASK_ERROR', 'REASON_TASK_INVALID', checked, task.agentId));
            ctx.metrics.invalidTasks.inc();
            continue;
          }
          checked.holder.left = subtract(checked.holder.left, checked.needed);
          launchTask(ctx, fw, task, checked.holder.offer.role, now);
        }
        break;
      case 'LAUNCH_GROUP': {
        // All or none: check every task against a scratch copy of what is left.
        const scratch = new Map([...byAgent].map(([k, v]) => [k, v.map((r) => ({ ...r }))]));
        const groupSeen = new Set(seen);
        let problem: string | undefined;
        const picks: Remaining[] = [];
        const needed = op.executor.resources;
        for (const task of op.tasks) {
          if (task.agentId !== op.tasks[0]?.agentId) {
            problem = 'every task of a group must be on one agent';
            break;
          }
          const r = checkTask(ctx, fw, task, groupSeen, scratch, executorsInAccept);
          if (typeof r === 'string') {
            problem = r;
            break;
          }
          r.holder.left = subtract(r.holder.left, r.needed);
          picks.push(r.holder);
        }
        const first = picks[0];
        if (!problem && first && !isEmpty(needed)) {
          if (contains(first.left, needed)) first.left = subtract(first.left, needed);
          else problem = "the offers do not hold the group executor's resources";
        }
        if (problem || !first) {
          for (const task of op.tasks) {
            ctx.outbox.status(fw.id, masterStatus(ctx, task.taskId, 'TASK_ERROR', 'REASON_TASK_GROUP_INVALID', problem ?? 'empty group', task.agentId));
          }
          ctx.metrics.invalidTasks.inc(op.tasks.length);
          break;
        }
        for (const [k, v] of scratch) byAgent.set(k, v);
        for (const task of op.tasks) seen.add(task.taskId);
        const records = op.tasks.map((task) => launchTask(ctx, fw, task, first.offer.role, now, false));
        ctx.outbox.launchGroup(first.offer.agentId, { framework: frameworkForAgent(fw), tasks: records.map((r) => r.info), groupExecutor: op.executor });
        break;
      }
      case 'RESERVE':
      case 'UNRESERVE':
      case 'CREATE':
      case 'DESTROY':
        applyResourceOperation(ctx, fw, op, byAgent);
        break;
    }
  }

  for (const list of byAgent.values()) {
    for (const { offer, left } of list) {
      if (!isEmpty(left)) ctx.allocator.recover(fw.id, offer.agentId, left, { refuseMs, nowMs: now, role: offer.role });
    }
  }
  ctx.requestAllocation();
}

function tasksOf(operations: Operation[]): TaskInfo[] {
  return operations.flatMap((op) => (op.type === 'LAUNCH' || op.type === 'LAUNCH_GROUP' ? op.tasks : []));
}

/**
 * What launching a task takes from an offer: its resources, plus its executor's when that executor
 * does not run on the agent yet (an executor's resources are held once, while it runs).
 */
function resourcesFor(ctx: MasterContext, fw: FrameworkRecord, task: TaskInfo, executorsInAccept: Set<string>): Resource[] {
  if (!task.executor) return task.resources;
  const key = `${fw.id}\u0000${task.executor.executorId}`;
  const running = ctx.agents.get(task.agentId)?.executors.has(key) || executorsInAccept.has(`${task.agentId}\u0000${key}`);
  return running ? task.resources : add(task.resources, task.executor.resources);
}

/** Checks one task; returns the offer that holds it (and what it takes), or why it cannot launch. */
function checkTask(
  ctx: MasterContext,
  fw: FrameworkRecord,
  task: TaskInfo,
  seen: Set<string>,
  byAgent: Map<string, Remaining[]>,
  executorsInAccept: Set<string>,
): { holder: Remaining; needed: Resource[] } | string {
  if (fw.tasks.has(task.taskId) || seen.has(task.taskId)) return `task id ${task.taskId} is already in use by this framework`;
  const offers = byAgent.get(task.agentId);
  if (!offers) return `no offer of agent ${task.agentId} is in this ACCEPT`;
  if (isEmpty(task.resources)) return 'a task needs resources';
  const needed = resourcesFor(ctx, fw, task, executorsInAccept);
  for (const r of offers) {
    if (contains(r.left, needed)) {
      seen.add(task.taskId);
      if (task.executor) executorsInAccept.add(`${task.agentId}\u0000${fw.id}\u0000${task.executor.executorId}`);
      return { holder: r, needed };
    }
  }
  return `the offers of agent ${task.agentId} do not hold the task's resources (what is left: ${describe(offers.flatMap((r) => r.left))})`;
}

function describe(resources: Resource[]): string {
  return resources
    .map((r) => (r.type === 'SCALAR' ? `${r.name}:${r.scalar}` : r.type === 'RANGES' ? `${r.name}:${(r.ranges ?? []).map((x) => `${x.begin}-${x.end}`).join(',')}` : `${r.name}:{${(r.set ?? []).join(',')}}`))
    .join(';');
}

function frameworkForAgent(fw: FrameworkRecord) {
  return { ...fw.info, id: fw.id };
}

/** Records a task as STAGING and queues it to its agent (unless it is part of a group, queued by the caller). */
function launchTask(ctx: MasterContext, fw: FrameworkRecord, task: TaskInfo, role: string, now: number, queue = true): TaskRecord {
  const record: TaskRecord = { taskId: task.taskId, frameworkId: fw.id, agentId: task.agentId, info: task, role, state: 'TASK_STAGING', launchedMs: now, updatedMs: now };
  fw.tasks.set(task.taskId, record);
  const agent = ctx.agents.get(task.agentId) as AgentRecord;
  agent.tasks.set(taskKey(fw.id, task.taskId), record);
  if (task.executor) agent.executors.set(`${fw.id}\u0000${task.executor.executorId}`, task.executor);
  if (queue) ctx.outbox.launch(task.agentId, frameworkForAgent(fw), task);
  ctx.metrics.taskTransition(undefined, 'TASK_STAGING');
  ctx.publishEvent({ type: 'TASK_ADDED', task: taskSummary(record) });
  return record;
}

/**
 * The resources an operation consumes and produces: RESERVE turns unreserved resources into the
 * given reserved ones, UNRESERVE the reverse; CREATE turns plain disk into the given persistent
 * volumes, DESTROY the reverse.
 */
export function resourceOperationForms(op: Extract<Operation, { type: 'RESERVE' | 'UNRESERVE' | 'CREATE' | 'DESTROY' }>): { from: Resource[]; to: Resource[] } {
  switch (op.type) {
    case 'RESERVE':
      return { from: stripReservations(op.resources), to: normalize(op.resources) };
    case 'UNRESERVE':
      return { from: normalize(op.resources), to: stripReservations(op.resources) };
    case 'CREATE':
      return { from: normalize(op.volumes.map(({ disk: _disk, ...plain }) => plain)), to: normalize(op.volumes) };
    case 'DESTROY':
      return { from: normalize(op.volumes), to: normalize(op.volumes.map(({ disk: _disk, ...plain }) => plain)) };
  }
}

/**
 * Applies RESERVE, UNRESERVE, CREATE or DESTROY inside an ACCEPT: the consumed form must be in the
 * offers; the agent's total changes durably, and the produced form is what the framework may use
 * for the rest of the ACCEPT (and is offered to it again afterwards).
 */
function applyResourceOperation(
  ctx: MasterContext,
  fw: FrameworkRecord,
  op: Extract<Operation, { type: 'RESERVE' | 'UNRESERVE' | 'CREATE' | 'DESTROY' }>,
  byAgent: Map<string, Remaining[]>,
): void {
  const agent = ctx.agents.get(op.agentId);
  const offers = byAgent.get(op.agentId);
  const { from, to } = resourceOperationForms(op);
  const holder = offers?.find((r) => contains(r.left, from));
  if (!agent || !holder || isEmpty(from)) {
    ctx.log.warn({ frameworkId: fw.id, op: op.type, agentId: op.agentId }, 'resource operation refused: not within the offers');
    ctx.metrics.invalidOperations.inc();
    return;
  }
  holder.left = add(subtract(holder.left, from), to);
  // The allocator holds `from` for this framework: give it back, change the total, hold `to`.
  const now = ctx.now();
  ctx.allocator.recover(fw.id, agent.id, from, { nowMs: now, role: holder.offer.role });
  agent.total = add(subtract(agent.total, from), to);
  ctx.allocator.updateAgentTotal(agent.id, agent.total);
  ctx.allocator.allocate(fw.id, agent.id, holder.offer.role, to);
  void ctx.registry.saveAgent(agent);
  ctx.outbox.updateResources(agent.id, agent.total);
}
