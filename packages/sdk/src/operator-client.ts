/**
 * A typed client for the master's operator API over NATS (`stoa.master.operator`): the same calls
 * the HTTP operator API serves, with results validated against their schemas.
 *
 * @example
 * ```ts
 * const ops = await OperatorClient.connect({ servers: 'nats://127.0.0.1:4222' });
 * const { agents } = await ops.agents();
 * await ops.drainAgent(agents[0].id, { gracePeriodMs: 10_000 });
 * await ops.close();
 * ```
 * @module
 */

import {
  decode,
  encode,
  fromWire,
  type OperatorCall,
  OperatorCallSchema,
  OperatorReplySchema,
  OperatorResults,
  type Quota,
  type Resource,
  subjects,
  type TaskState,
  type Transport,
  type Weight,
} from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import type { z } from 'zod';

/** Options of {@link OperatorClient.connect}. */
export interface OperatorClientOptions {
  /** NATS server URL(s); the client opens (and closes) its own connection. */
  servers?: string | string[];
  /** An existing transport instead (left open by `close()`). */
  transport?: Transport;
  /** The cluster's subject prefix. @default 'stoa' */
  subjectPrefix?: string;
  /** How long a call may take. @default 5000 */
  timeoutMs?: number;
}

type CallOf<T extends OperatorCall['type']> = Omit<Extract<OperatorCall, { type: T }>, 'v' | 'type'>;

/** The operator API over NATS. */
export class OperatorClient {
  private constructor(
    private readonly transport: Transport,
    private readonly ownsTransport: boolean,
    private readonly subject: string,
    private readonly timeoutMs: number,
  ) {}

  /** Connects (or wraps a given transport). */
  static async connect(options: OperatorClientOptions = {}): Promise<OperatorClient> {
    const transport = options.transport ?? (await NatsTransport.connect({ servers: options.servers ?? 'nats://127.0.0.1:4222', name: 'stoa-operator' }));
    return new OperatorClient(transport, !options.transport, subjects(options.subjectPrefix).operator, options.timeoutMs ?? 5000);
  }

  /** Sends one call and returns its (unvalidated) result; failures are typed Stoa errors. */
  async call(call: OperatorCall): Promise<unknown> {
    const reply = await this.transport.request(this.subject, encode(OperatorCallSchema, call), { timeoutMs: this.timeoutMs });
    const r = decode(OperatorReplySchema, reply.data);
    if (!r.ok) throw fromWire(r.error);
    return r.result;
  }

  private async read<T extends keyof typeof OperatorResults>(type: T, extra: object = {}): Promise<z.output<(typeof OperatorResults)[T]>> {
    const result = await this.call({ v: 1, type, ...extra } as OperatorCall);
    return OperatorResults[type].parse(result) as z.output<(typeof OperatorResults)[T]>;
  }

  /** Whether the master is healthy and leading. */
  health() {
    return this.read('GET_HEALTH');
  }
  /** The leading master's identity. */
  master() {
    return this.read('GET_MASTER');
  }
  /** Everything at once. */
  state() {
    return this.read('GET_STATE');
  }
  /** Agents. */
  agents() {
    return this.read('GET_AGENTS');
  }
  /** Frameworks. */
  frameworks() {
    return this.read('GET_FRAMEWORKS');
  }
  /** Tasks, filtered and paged. */
  tasks(filter: { state?: TaskState; frameworkId?: string; agentId?: string; offset?: number; limit?: number } = {}) {
    return this.read('GET_TASKS', filter);
  }
  /** Roles with weights, quota and allocation. */
  roles() {
    return this.read('GET_ROLES');
  }
  /** Drains an agent: no new offers, its tasks killed with grace. */
  async drainAgent(agentId: string, options: Omit<CallOf<'DRAIN_AGENT'>, 'agentId'> = {}): Promise<void> {
    await this.call({ v: 1, type: 'DRAIN_AGENT', agentId, ...options });
  }
  /** Stops offering an agent; its tasks keep running. */
  async deactivateAgent(agentId: string): Promise<void> {
    await this.call({ v: 1, type: 'DEACTIVATE_AGENT', agentId });
  }
  /** Offers an agent again. */
  async reactivateAgent(agentId: string): Promise<void> {
    await this.call({ v: 1, type: 'REACTIVATE_AGENT', agentId });
  }
  /** Declares an agent gone for good (its tasks become TASK_GONE_BY_OPERATOR). */
  async markAgentGone(agentId: string): Promise<void> {
    await this.call({ v: 1, type: 'MARK_AGENT_GONE', agentId });
  }
  /** Tears a framework down (its tasks are killed). */
  async teardown(frameworkId: string): Promise<void> {
    await this.call({ v: 1, type: 'TEARDOWN', frameworkId });
  }
  /** Sets role weights. */
  async updateWeights(weights: Weight[]): Promise<void> {
    await this.call({ v: 1, type: 'UPDATE_WEIGHTS', weights });
  }
  /** Sets role quotas (a quota without guarantee and limit removes it). */
  async updateQuota(quotas: Quota[]): Promise<void> {
    await this.call({ v: 1, type: 'UPDATE_QUOTA', quotas });
  }
  /** Reserves an agent's free resources for a role (pass them in reserved form). */
  async reserve(agentId: string, resources: Resource[]): Promise<void> {
    await this.call({ v: 1, type: 'RESERVE_RESOURCES', agentId, resources });
  }
  /** Releases a dynamic reservation. */
  async unreserve(agentId: string, resources: Resource[]): Promise<void> {
    await this.call({ v: 1, type: 'UNRESERVE_RESOURCES', agentId, resources });
  }
  /** Kills tasks (their frameworks see TASK_KILLED). */
  async killTasks(taskIds: string[]): Promise<void> {
    await this.call({ v: 1, type: 'KILL_TASKS', taskIds });
  }
  /** Lists a task's sandbox (`path` empty) or reads a slice of a file in it. */
  async readFile(taskId: string, path = '', range: { offset?: number; length?: number } = {}): Promise<{ entries?: { name: string; size: number; mtimeMs: number; dir: boolean }[]; data?: Uint8Array; offset?: number; size?: number }> {
    return (await this.call({ v: 1, type: 'READ_FILE', taskId, path, ...range })) as { data?: Uint8Array };
  }

  /** Closes the connection it opened (a given transport is left open). */
  async close(): Promise<void> {
    if (this.ownsTransport) await this.transport.close();
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
