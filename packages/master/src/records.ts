/**
 * The master's in-memory records: plain objects in maps, mutated by the state machines in
 * `agents.ts`, `frameworks.ts`, `offers.ts` and `tasks.ts`. The operator side reads them and never
 * blocks the hot paths.
 *
 * @module
 */

import type {
  AgentInfo,
  AgentSummary,
  ExecutorInfo,
  FrameworkInfo,
  FrameworkSummary,
  Resource,
  TaskInfo,
  TaskState,
  TaskStatus,
} from '@stoa/core';

/** An agent's lifecycle state as the master sees it. */
export type AgentState = AgentSummary['state'];
/** A framework's lifecycle state as the master sees it. */
export type FrameworkState = FrameworkSummary['state'];

/** A task the master knows of. */
export interface TaskRecord {
  taskId: string;
  frameworkId: string;
  agentId: string;
  info: TaskInfo;
  /** The role its resources were allocated to. */
  role: string;
  state: TaskState;
  /** The latest status, when one arrived. */
  status?: TaskStatus;
  launchedMs: number;
  /** When it last changed state. */
  updatedMs: number;
}

/** An agent. */
export interface AgentRecord {
  id: string;
  /** The principal it registered under (the subject's). */
  principal: string;
  info: AgentInfo;
  /** Total resources, with dynamic reservations applied. */
  total: Resource[];
  state: AgentState;
  registeredMs: number;
  /** Consecutive pings without an answer. */
  missedPings: number;
  /** When it became unreachable. */
  unreachableMs?: number;
  /** Live tasks on it by `frameworkId\0taskId`. */
  tasks: Map<string, TaskRecord>;
  /** Executors on it by `frameworkId\0executorId`. */
  executors: Map<string, ExecutorInfo>;
  /** Outstanding offer ids on it. */
  offers: Set<string>;
  /** Known from the registry after a change of leader, not yet re-registered. */
  recovering?: boolean;
  /** Drain options while draining. */
  drain?: { gracePeriodMs?: number; markGone?: boolean };
}

/** A framework. */
export interface FrameworkRecord {
  id: string;
  principal: string;
  info: FrameworkInfo;
  state: FrameworkState;
  registeredMs: number;
  /** The id of its current subscription (new at every SUBSCRIBE), which DISCONNECT must name. */
  streamId?: string;
  /** Any call counts as a heartbeat. */
  lastSeenMs: number;
  /** Set while disconnected: when it will be torn down. */
  failoverDeadlineMs?: number;
  /** The next event's sequence number (SUBSCRIBED is 0). */
  seq: number;
  /** Live tasks by task id. */
  tasks: Map<string, TaskRecord>;
  /** Outstanding offer ids. */
  offers: Set<string>;
  suppressedRoles: Set<string>;
  partitionAware: boolean;
}

/** An outstanding offer. */
export interface OfferRecord {
  id: string;
  frameworkId: string;
  agentId: string;
  role: string;
  resources: Resource[];
  createdMs: number;
}

/** A key for maps of tasks by framework and task id. */
export function taskKey(frameworkId: string, taskId: string): string {
  return `${frameworkId}\u0000${taskId}`;
}
