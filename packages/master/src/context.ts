/**
 * What the master's state machines share: resolved options, the clock, the records, the outbox,
 * the allocator, the registry and the metrics. `master.ts` builds it; the modules take it.
 *
 * @module
 */

import type { AgentCommand, ClusterEvent, Resource, SchedulerEvent, TaskSummary } from '@stoa/core';
import type { Logger } from 'pino';
import type { Allocator } from './allocator/index.js';
import type { MasterMetrics } from './metrics.js';
import type { ResolvedMasterOptions } from './options.js';
import type { DistributiveOmit, Outbox } from './outbox.js';
import type { AgentRecord, FrameworkRecord, OfferRecord, TaskRecord } from './records.js';
import type { Registry } from './registry/registry.js';

/** Everything the state machines share. */
export interface MasterContext {
  readonly options: ResolvedMasterOptions;
  readonly masterId: string;
  /** The leader's epoch: commands carry it; agents drop older ones. */
  epoch: number;
  now(): number;
  readonly log: Logger;
  readonly outbox: Outbox;
  /** Replaced (empty) when this master stops leading. */
  allocator: Allocator;
  readonly registry: Registry;
  readonly metrics: MasterMetrics;
  readonly agents: Map<string, AgentRecord>;
  readonly frameworks: Map<string, FrameworkRecord>;
  readonly offers: Map<string, OfferRecord>;
  /** Terminal tasks, oldest first, bounded by `maxCompletedTasks`. */
  readonly completedTasks: Map<string, TaskRecord>;
  /** Ids of torn-down frameworks: they may not subscribe again. */
  readonly completedFrameworks: Set<string>;
  /** Asks for an allocation cycle soon (batched). */
  requestAllocation(): void;
  /** Sends one command to an agent now (not batched: for rare commands). */
  sendAgentCommand(agentId: string, command: DistributiveOmit<AgentCommand, 'v' | 'epoch'>): void;
  /** Sends one event to a framework now (not batched: for rare events). */
  sendFrameworkEvent(fw: FrameworkRecord, event: DistributiveOmit<SchedulerEvent, 'v' | 'seq'>): void;
  /** An operator's RESERVE or UNRESERVE of an agent's free resources. */
  operatorReservation(kind: 'RESERVE' | 'UNRESERVE', agentId: string, resources: Resource[]): Promise<Record<string, never>>;
  /** Lists a task's sandbox or reads a slice of a file in it, through its agent. */
  readTaskFile(taskId: string, path: string, offset?: number, length?: number): Promise<unknown>;
  /** Publishes a cluster event (NATS `stoa.events.<kind>` and the HTTP event stream). */
  publishEvent(event: DistributiveClusterEvent): void;
  /** Makes a fresh unique id with a prefix. */
  newId(prefix: string): string;
}

/** A cluster event without `v` and `timestampMs` (the publisher adds them). */
export type DistributiveClusterEvent = ClusterEvent extends infer E ? (E extends unknown ? Omit<E, 'v' | 'timestampMs'> : never) : never;

/** The summary of a task for the operator API and events. */
export function taskSummary(task: TaskRecord): TaskSummary {
  const summary: TaskSummary = {
    taskId: task.taskId,
    frameworkId: task.frameworkId,
    agentId: task.agentId,
    name: task.info.name,
    state: task.state,
    resources: task.info.resources,
    startedMs: task.launchedMs,
  };
  if (task.status) summary.status = task.status;
  return summary;
}
