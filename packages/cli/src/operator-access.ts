/**
 * How the `stoa` commands talk to a master: over NATS with the SDK's `OperatorClient`, or over the
 * master's HTTP API when the cluster runs on the in-process bus (then only HTTP reaches it).
 *
 * @module
 */

import { fromWire, type OperatorCall, type TaskState, UnavailableError } from '@stoa/core';
import { type ClusterAddress, OperatorClient } from '@stoa/sdk';

/** The calls the commands use. */
export interface OperatorAccess {
  call(call: OperatorCall): Promise<unknown>;
  close(): Promise<void>;
}

/** The HTTP face of the operator API, reached by route. */
class HttpOperator implements OperatorAccess {
  constructor(private readonly base: string) {}

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      });
    } catch (error) {
      throw new UnavailableError(`cannot reach the master at ${this.base}: ${(error as Error).message}`, { cause: error });
    }
    const json = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string; field?: string } };
    if (!res.ok) {
      const e = json.error;
      throw fromWire({ code: (e?.code as never) ?? 'INTERNAL', message: e?.message ?? `HTTP ${res.status}`, ...(e?.field ? { details: { field: e.field } } : {}) });
    }
    return json;
  }

  call(call: OperatorCall): Promise<unknown> {
    switch (call.type) {
      case 'GET_HEALTH':
        return this.request('GET', '/health');
      case 'GET_MASTER':
        return this.request('GET', '/api/v1/master');
      case 'GET_STATE':
        return this.request('GET', '/api/v1/state');
      case 'GET_AGENTS':
        return this.request('GET', '/api/v1/agents');
      case 'GET_FRAMEWORKS':
        return this.request('GET', '/api/v1/frameworks');
      case 'GET_ROLES':
        return this.request('GET', '/api/v1/roles');
      case 'GET_TASKS': {
        const q = new URLSearchParams();
        if (call.state) q.set('state', call.state);
        if (call.frameworkId) q.set('framework_id', call.frameworkId);
        if (call.agentId) q.set('agent_id', call.agentId);
        if (call.offset !== undefined) q.set('offset', String(call.offset));
        if (call.limit !== undefined) q.set('limit', String(call.limit));
        return this.request('GET', `/api/v1/tasks?${q}`);
      }
      case 'KILL_TASKS':
        return Promise.all(call.taskIds.map((id) => this.request('POST', `/api/v1/tasks/${encodeURIComponent(id)}/kill`)));
      case 'DRAIN_AGENT':
        return this.request('POST', `/api/v1/agents/${encodeURIComponent(call.agentId)}/drain`, {
          ...(call.gracePeriodMs !== undefined ? { gracePeriodMs: call.gracePeriodMs } : {}),
          ...(call.markGone !== undefined ? { markGone: call.markGone } : {}),
        });
      case 'READ_FILE': {
        if (!call.path) return this.request('GET', `/api/v1/tasks/${encodeURIComponent(call.taskId)}/files`);
        const q = new URLSearchParams();
        if (call.offset !== undefined) q.set('offset', String(call.offset));
        if (call.length !== undefined) q.set('length', String(call.length));
        return this.request('GET', `/api/v1/tasks/${encodeURIComponent(call.taskId)}/files/${call.path}?${q}`).then((r) => {
          const { data, ...rest } = r as { data: string };
          return { ...rest, data: new TextEncoder().encode(data) };
        });
      }
      default:
        throw new UnavailableError(`${call.type} is not available over HTTP from the stoa command; use NATS (--nats)`);
    }
  }

  async close(): Promise<void> {}
}

/** Opens operator access: NATS when the address has it, else HTTP. */
export async function openOperator(address: ClusterAddress, timeoutMs = 5000): Promise<OperatorAccess> {
  if (address.natsUrl) {
    const client = await OperatorClient.connect({ servers: address.natsUrl, subjectPrefix: address.subjectPrefix, timeoutMs });
    return { call: (c) => client.call(c), close: () => client.close() };
  }
  if (address.masterHttp) return new HttpOperator(address.masterHttp);
  throw new UnavailableError('the cluster address has neither a NATS URL nor an HTTP endpoint');
}

/** The task states, for `--state` validation. */
export type { TaskState };
