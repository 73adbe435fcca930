/**
 * The operator API end to end: HTTP on a free port (reads with filters and paging, drain,
 * teardown, weights, quota, reservations, validation, metrics, the SSE event stream), the same
 * calls over the bus through the SDK's OperatorClient, and garbage on the wire.
 */

import {
  AgentCallReplySchema,
  type AgentSummary,
  type ClusterEvent,
  decode,
  type FrameworkSummary,
  NotFoundError,
  OperatorReplySchema,
  type Resource,
  type RoleSummary,
  SchedulerCallReplySchema,
  subjects,
  type TaskSummary,
  ValidationError,
} from '@stoa/core';
import { OperatorClient } from '@stoa/sdk';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorBody, http, register, type TestMaster, startTestMaster, type TransportFactory, type TransportKind, transportFactory } from './cluster.js';
import { FakeAgent, FakeFramework, taskFor } from './peers.js';

const s = subjects();

type Tasks = { tasks: TaskSummary[]; total: number };

function suite(kind: TransportKind) {
  describe(`operator API over ${kind}`, () => {
    let nats: NatsServerHandle | undefined;
    let transports: TransportFactory;
    const cleanup: Array<() => unknown> = [];

    beforeAll(async () => {
      if (kind === 'nats') nats = await startNats({ jetstream: false });
    });
    afterAll(async () => {
      await nats?.stop();
    });
    afterEach(async () => {
      for (const f of cleanup.splice(0).reverse()) await f();
    });

    const start = async (options: Parameters<typeof startTestMaster>[1] = {}): Promise<TestMaster> => {
      transports = transportFactory(kind, () => nats!);
      cleanup.push(() => transports.close());
      const t = await startTestMaster(await transports.open(), options);
      cleanup.push(() => t.master.stop());
      return t;
    };
    const agent = async (hostname: string, resources = 'cpus:4;mem:4096') => {
      const a = FakeAgent.make(await transports.open(), hostname, resources);
      await register(a);
      cleanup.push(() => a.stop());
      return a;
    };
    const framework = async (name: string, extra: Parameters<typeof FakeFramework.make>[2] = {}) => {
      const f = FakeFramework.make(await transports.open(), name, extra);
      await f.subscribe();
      cleanup.push(() => f.stop());
      return f;
    };
    /** Launches tasks (`id@hostname`) on the framework's current offers. */
    const launch = async (fw: FakeFramework, agents: FakeAgent[], plan: Record<string, string>) => {
      const offers = await fw.waitOffers(new Set(), agents.length);
      const byHost = new Map(offers.map((o) => [o.hostname, o]));
      const tasks = Object.entries(plan).map(([taskId, host]) => taskFor(byHost.get(host)!, taskId));
      await fw.accept(
        offers.map((o) => o.id),
        [{ type: 'LAUNCH', tasks }],
      );
      for (const a of agents) if (Object.values(plan).includes(a.info.hostname)) await a.waitCommand('RUN_TASKS');
    };

    it('serves health, state, agents, frameworks and filtered, paged tasks, over HTTP and NATS alike', async () => {
      const { master, url, transport } = await start();
      const h0 = await agent('h0');
      const h1 = await agent('h1');
      const fw = await framework('alpha');
      await launch(fw, [h0, h1], { t0: 'h0', t1: 'h0', t2: 'h0', t3: 'h1', t4: 'h1' });
      await h0.update(fw.frameworkId, [
        { taskId: 't0', state: 'TASK_RUNNING' },
        { taskId: 't1', state: 'TASK_RUNNING' },
      ]);
      await h1.update(fw.frameworkId, [
        { taskId: 't3', state: 'TASK_RUNNING' },
        { taskId: 't4', state: 'TASK_FINISHED' },
      ]);

      expect(await http(url, '/health')).toEqual({ status: 200, body: { healthy: true, leader: true } });
      const state = (await http<{ master: { masterId: string }; agents: AgentSummary[]; frameworks: FrameworkSummary[]; taskCounts: Record<string, number> }>(url, '/api/v1/state')).body;
      expect(state.master.masterId).toBe(master.masterId);
      expect(state.agents.map((a) => a.hostname).sort()).toEqual(['h0', 'h1']);
      expect(state.frameworks.map((f) => f.id)).toEqual([fw.frameworkId]);
      expect(state.taskCounts).toEqual({ TASK_RUNNING: 3, TASK_STAGING: 1, TASK_FINISHED: 1 });
      const agents = (await http<{ agents: AgentSummary[] }>(url, '/api/v1/agents')).body.agents;
      expect(agents.find((a) => a.id === h0.agentId)).toMatchObject({ state: 'ACTIVE', taskCount: 3 });
      const frameworks = (await http<{ frameworks: FrameworkSummary[] }>(url, '/api/v1/frameworks')).body.frameworks;
      expect(frameworks[0]).toMatchObject({ id: fw.frameworkId, state: 'CONNECTED', taskCount: 4 });

      const ids = async (query: string) => {
        const r = await http<Tasks>(url, `/api/v1/tasks${query}`);
        expect(r.status).toBe(200);
        return { ids: r.body.tasks.map((t) => t.taskId).sort(), total: r.body.total };
      };
      expect(await ids('')).toEqual({ ids: ['t0', 't1', 't2', 't3', 't4'], total: 5 });
      expect(await ids('?state=TASK_RUNNING')).toEqual({ ids: ['t0', 't1', 't3'], total: 3 });
      expect(await ids('?state=TASK_FINISHED')).toEqual({ ids: ['t4'], total: 1 });
      expect(await ids(`?agent_id=${h0.agentId}`)).toEqual({ ids: ['t0', 't1', 't2'], total: 3 });
      expect(await ids(`?framework_id=${fw.frameworkId}&state=TASK_RUNNING&agent_id=${h1.agentId}`)).toEqual({ ids: ['t3'], total: 1 });
      expect(await ids('?framework_id=f-nobody')).toEqual({ ids: [], total: 0 });
      // Pages of two: disjoint, complete, each with the full total.
      const pages = await Promise.all([0, 2, 4].map((offset) => ids(`?offset=${offset}&limit=2`)));
      expect(pages.map((p) => p.ids.length)).toEqual([2, 2, 1]);
      expect(pages.every((p) => p.total === 5)).toBe(true);
      expect(pages.flatMap((p) => p.ids).sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
      expect(await ids('?offset=5&limit=2')).toEqual({ ids: [], total: 5 });

      // The operator API on the bus gives the same answers.
      const ops = await OperatorClient.connect({ transport });
      expect(await ops.health()).toEqual({ healthy: true, leader: true });
      expect((await ops.master()).masterId).toBe(master.masterId);
      expect((await ops.agents()).agents).toHaveLength(2);
      expect((await ops.frameworks()).frameworks.map((f) => f.id)).toEqual([fw.frameworkId]);
      const running = await ops.tasks({ state: 'TASK_RUNNING', agentId: h0.agentId });
      expect({ ids: running.tasks.map((t) => t.taskId).sort(), total: running.total }).toEqual({ ids: ['t0', 't1'], total: 2 });
      expect((await ops.tasks({ offset: 1, limit: 3 })).tasks.map((t) => t.taskId)).toEqual(
        (await http<Tasks>(url, '/api/v1/tasks?offset=1&limit=3')).body.tasks.map((t) => t.taskId),
      );
      expect((await ops.state()).taskCounts).toEqual(state.taskCounts);
    });

    it('drains an agent: DRAIN and KILL_TASKS for its tasks, no offers of it, DRAINED once they are killed', async () => {
      const { url } = await start();
      const h0 = await agent('h0');
      const h1 = await agent('h1');
      const fw = await framework('alpha');
      await launch(fw, [h0, h1], { t0: 'h0', t1: 'h0', t2: 'h1' });
      await h0.update(fw.frameworkId, [
        { taskId: 't0', state: 'TASK_RUNNING' },
        { taskId: 't1', state: 'TASK_RUNNING' },
      ]);

      const drained = await http(url, `/api/v1/agents/${h0.agentId}/drain`, { body: { gracePeriodMs: 2000 } });
      expect(drained).toEqual({ status: 200, body: {} });
      const [drain] = await h0.waitCommand('DRAIN');
      expect(drain!.gracePeriodMs).toBe(2000);
      const kills = (await h0.waitCommand('KILL_TASKS')).flatMap((k) => k.kills);
      expect(kills.map((k) => k.taskId).sort()).toEqual(['t0', 't1']);
      expect(kills.every((k) => k.killPolicy?.gracePeriodMs === 2000)).toBe(true);
      expect(h1.commands.filter((c) => c.type === 'KILL_TASKS' || c.type === 'DRAIN')).toEqual([]);
      const stateOf = async (id: string) => (await http<{ agents: AgentSummary[] }>(url, '/api/v1/agents')).body.agents.find((a) => a.id === id)?.state;
      expect(await stateOf(h0.agentId)).toBe('DRAINING');

      // REVIVE clears the decline filters: the next cycle offers h1's free part, never h0's.
      const before = fw.events.length;
      await fw.call({ v: 1, type: 'REVIVE', frameworkId: fw.frameworkId });
      await waitFor(() => fw.events.slice(before).some((e) => e.type === 'OFFERS' && e.offers.some((o) => o.agentId === h1.agentId)), { what: 'an offer of h1' });
      const offered = fw.events.slice(before).flatMap((e) => (e.type === 'OFFERS' ? e.offers : []));
      expect(offered.filter((o) => o.agentId === h0.agentId)).toEqual([]);

      await h0.update(fw.frameworkId, [{ taskId: 't0', state: 'TASK_KILLED', reason: 'REASON_AGENT_DRAINING' }]);
      expect(await stateOf(h0.agentId)).toBe('DRAINING');
      await h0.update(fw.frameworkId, [{ taskId: 't1', state: 'TASK_KILLED', reason: 'REASON_AGENT_DRAINING' }]);
      await waitFor(async () => (await stateOf(h0.agentId)) === 'DRAINED', { what: 'h0 drained' });
      expect((await fw.waitStatus('t1', 'TASK_KILLED')).reason).toBe('REASON_AGENT_DRAINING');

      // Reactivated, it is offered again.
      expect((await http(url, `/api/v1/agents/${h0.agentId}/reactivate`, { method: 'POST' })).status).toBe(200);
      const taken = new Set(fw.offers().map((o) => o.id));
      await fw.call({ v: 1, type: 'REVIVE', frameworkId: fw.frameworkId });
      await waitFor(() => fw.offers().some((o) => !taken.has(o.id) && o.agentId === h0.agentId && o.resources.some((r) => r.name === 'cpus' && r.scalar === 4)), {
        what: 'h0 offered whole again',
      });
      expect(await stateOf(h0.agentId)).toBe('ACTIVE');
    });

    it('marks a drained agent gone when the drain asks for it, once its last task is killed', async () => {
      const { url } = await start();
      const h0 = await agent('h0');
      const fw = await framework('alpha');
      await launch(fw, [h0], { t0: 'h0' });
      await h0.update(fw.frameworkId, [{ taskId: 't0', state: 'TASK_RUNNING' }]);
      expect((await http(url, `/api/v1/agents/${h0.agentId}/drain`, { body: { markGone: true } })).status).toBe(200);
      await h0.waitCommand('KILL_TASKS');
      await h0.update(fw.frameworkId, [{ taskId: 't0', state: 'TASK_KILLED' }]);
      await fw.waitStatus('t0', 'TASK_KILLED');
      await waitFor(async () => (await http<{ agents: AgentSummary[] }>(url, '/api/v1/agents')).body.agents.find((a) => a.id === h0.agentId)?.state === 'GONE', {
        what: 'h0 gone',
      });
      // The task ended by its kill, not by the agent's removal.
      expect(fw.statuses('t0').map((st) => st.state)).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
      await expect(h0.reregister([])).rejects.toThrow(/marked gone/);
      // A second drain of a gone agent: 404.
      const again = await http<ErrorBody>(url, `/api/v1/agents/${h0.agentId}/drain`, { method: 'POST' });
      expect(again.status).toBe(404);
    });

    it('tears a framework down over HTTP, and answers 404 for unknown agents and frameworks', async () => {
      const { url } = await start();
      const h0 = await agent('h0');
      const fw = await framework('alpha');
      await launch(fw, [h0], { t0: 'h0' });

      expect((await http(url, `/api/v1/frameworks/${fw.frameworkId}/teardown`, { method: 'POST' })).status).toBe(200);
      expect((await h0.waitCommand('KILL_TASKS'))[0]!.kills).toEqual([{ frameworkId: fw.frameworkId, taskId: 't0' }]);
      expect((await h0.waitCommand('SHUTDOWN_FRAMEWORK'))[0]!.frameworkId).toBe(fw.frameworkId);
      expect((await fw.waitEvent('ERROR')).code).toBe('FRAMEWORK_REMOVED');
      expect((await http<{ frameworks: unknown[] }>(url, '/api/v1/frameworks')).body.frameworks).toEqual([]);

      const gone = await http<ErrorBody>(url, `/api/v1/frameworks/${fw.frameworkId}/teardown`, { method: 'POST' });
      expect(gone.status).toBe(404);
      expect(gone.body.error.code).toBe('NOT_FOUND');
      for (const action of ['drain', 'deactivate', 'reactivate', 'gone']) {
        const r = await http<ErrorBody>(url, `/api/v1/agents/a-nobody/${action}`, { method: 'POST' });
        expect({ action, status: r.status, code: r.body.error.code }).toEqual({ action, status: 404, code: 'NOT_FOUND' });
      }
      expect((await http<ErrorBody>(url, '/api/v1/tasks/nothing/kill', { method: 'POST' })).status).toBe(404);
    });

    it('sets weights and quota, and offers a reservation only to its role', async () => {
      const { url } = await start();
      expect((await http(url, '/api/v1/weights', { body: [{ role: 'r', weight: 2 }] })).status).toBe(200);
      expect((await http(url, '/api/v1/quota', { body: { quotas: [{ role: 'r', guarantee: { cpus: 1 }, limit: { cpus: 3 } }] } })).status).toBe(200);
      const roles = (await http<{ roles: RoleSummary[] }>(url, '/api/v1/roles')).body.roles;
      expect(roles.find((r) => r.role === 'r')).toMatchObject({ weight: 2, quota: { role: 'r', guarantee: { cpus: 1 }, limit: { cpus: 3 } } });
      // Lift the quota again so it does not shape the offers below.
      expect((await http(url, '/api/v1/quota', { body: { quotas: [{ role: 'r' }] } })).status).toBe(200);

      const h0 = await agent('h0');
      const reserved: Resource[] = [
        { name: 'cpus', type: 'SCALAR', scalar: 2, role: 'r', reservation: { type: 'DYNAMIC', principal: 'ops' } },
        { name: 'mem', type: 'SCALAR', scalar: 1024, role: 'r', reservation: { type: 'DYNAMIC', principal: 'ops' } },
      ];
      expect((await http(url, '/api/v1/reservations', { body: { agentId: h0.agentId, resources: reserved } })).status).toBe(200);
      const [update] = await h0.waitCommand('UPDATE_RESOURCES');
      expect(update!.resources.filter((r) => r.role === 'r').map((r) => [r.name, r.scalar])).toEqual([
        ['cpus', 2],
        ['mem', 1024],
      ]);
      const summary = (await http<{ agents: AgentSummary[] }>(url, '/api/v1/agents')).body.agents[0]!;
      expect(summary.resources.some((r) => r.role === 'r' && r.name === 'cpus' && r.scalar === 2)).toBe(true);

      // A framework of another role is offered only the unreserved part…
      const other = await framework('other', { roles: ['x'] });
      const [o1] = await other.waitOffers(new Set());
      expect(o1!.resources.filter((r) => r.role === 'r')).toEqual([]);
      expect(o1!.resources.find((r) => r.name === 'cpus')?.scalar).toBe(2);
      // …and one of role r the reserved part.
      const mine = await framework('mine', { roles: ['r'] });
      const [o2] = await mine.waitOffers(new Set());
      expect(o2!.role).toBe('r');
      expect(o2!.resources.filter((r) => r.role === 'r').map((r) => [r.name, r.scalar])).toEqual([
        ['cpus', 2],
        ['mem', 1024],
      ]);
      // Unreserving rescinds the offers that hold it and gives the agent its plain total back.
      expect((await http(url, '/api/v1/reservations', { body: { agentId: h0.agentId, resources: reserved, action: 'unreserve' } })).status).toBe(200);
      await waitFor(() => mine.all('RESCIND').some((e) => e.offerIds.includes(o2!.id)), { what: 'the reserved offer rescinded' });
      const after = (await http<{ agents: AgentSummary[] }>(url, '/api/v1/agents')).body.agents[0]!;
      expect(after.resources.every((r) => (r.role ?? '*') === '*')).toBe(true);
      // Reserving more than is free is refused.
      const tooMuch = await http<ErrorBody>(url, '/api/v1/reservations', {
        body: { agentId: h0.agentId, resources: [{ name: 'cpus', type: 'SCALAR', scalar: 64, role: 'r', reservation: { type: 'DYNAMIC' } }] },
      });
      expect(tooMuch.status).toBe(409);
    });

    it('answers invalid requests with 400 and the field', async () => {
      const { url } = await start();
      const h0 = await agent('h0');
      const bad = async (path: string, init: { method?: string; body?: unknown } = {}) => {
        const r = await http<ErrorBody>(url, path, init);
        return { status: r.status, code: r.body.error.code, field: r.body.error.field };
      };
      const invalid = (field: string) => ({ status: 400, code: 'VALIDATION_ERROR', field });
      expect(await bad('/api/v1/tasks?state=TASK_SLEEPING')).toEqual(invalid('state'));
      expect(await bad('/api/v1/tasks?limit=0')).toEqual(invalid('limit'));
      expect(await bad('/api/v1/tasks?offset=-1')).toEqual(invalid('offset'));
      expect(await bad('/api/v1/tasks?colour=red')).toEqual(invalid('colour'));
      expect(await bad(`/api/v1/agents/${h0.agentId}/drain`, { method: 'POST', body: '{"gracePeriodMs": 10' })).toEqual(invalid('body'));
      expect(await bad(`/api/v1/agents/${h0.agentId}/drain`, { body: { gracePeriodMs: -1 } })).toEqual(invalid('gracePeriodMs'));
      expect(await bad(`/api/v1/agents/${h0.agentId}/drain`, { body: { graceMs: 10 } })).toEqual(invalid('graceMs'));
      expect(await bad('/api/v1/quota', { body: { quotas: [{ role: 'r', guarantee: { cpus: -1 } }] } })).toEqual(invalid('quotas.0.guarantee.cpus'));
      expect(await bad('/api/v1/quota', { body: { quotas: [{ role: 'r', guarantee: { cpus: 4 }, limit: { cpus: 2 } }] } })).toEqual(invalid('quotas.0.guarantee.cpus'));
      expect(await bad('/api/v1/quota', { body: { quotas: [{ role: 'r' }], colour: 'red' } })).toEqual(invalid('colour'));
      expect((await bad('/api/v1/weights', { body: [{ role: 'r', weight: -1 }] })).status).toBe(400);
      expect((await bad('/api/v1/reservations', { body: { agentId: h0.agentId } })).field).toBe('resources');
      // Nothing of it took effect: the agent is not draining and r has no quota.
      const agents = (await http<{ agents: AgentSummary[] }>(url, '/api/v1/agents')).body.agents;
      expect(agents[0]!.state).toBe('ACTIVE');
      expect((await http<{ roles: RoleSummary[] }>(url, '/api/v1/roles')).body.roles.find((r) => r.role === 'r')).toBeUndefined();
    });

    it('serves Prometheus metrics', async () => {
      const { url } = await start();
      const h0 = await agent('h0');
      await agent('h1');
      const fw = await framework('alpha');
      await launch(fw, [h0], { t0: 'h0' });
      await h0.update(fw.frameworkId, [{ taskId: 't0', state: 'TASK_RUNNING' }]);
      const taken = new Set(fw.offers().map((o) => o.id));
      await fw.call({ v: 1, type: 'REVIVE', frameworkId: fw.frameworkId });
      // A fresh offer of h1 is outstanding now (h0's leftover may be too).
      await waitFor(() => fw.offers().some((o) => o.hostname === 'h1' && !taken.has(o.id)), { what: 'a fresh offer of h1' });

      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      const value = (name: string, labels: Record<string, string>) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
        return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
      };
      expect(value('stoa_master_agents', { state: 'ACTIVE' })).toBe(2);
      expect(value('stoa_master_tasks', { state: 'TASK_RUNNING' })).toBe(1);
      expect(value('stoa_master_resources', { resource: 'cpus', role: '*', kind: 'total' })).toBe(8);
      expect(value('stoa_master_resources', { resource: 'cpus', kind: 'used' })).toBe(1);
      expect(value('stoa_master_resources', { resource: 'cpus', kind: 'offered' })).toBeGreaterThanOrEqual(4);
      expect(value('stoa_master_messages_in_total', { channel: 'agent' })).toBeGreaterThanOrEqual(3);
      expect(value('stoa_master_messages_in_total', { channel: 'scheduler' })).toBeGreaterThanOrEqual(3);
      expect(text).toMatch(/^stoa_master_allocation_cycle_seconds_count [1-9]\d*$/m);
      expect(text).toContain('# TYPE stoa_master_allocation_cycle_seconds histogram');
      expect(text).toContain('# TYPE stoa_master_messages_invalid_total counter');
    });

    it('streams cluster events as server-sent events while they happen', async () => {
      const { url } = await start();
      const abort = new AbortController();
      cleanup.push(() => abort.abort());
      const res = await fetch(`${url}/api/v1/events`, { signal: abort.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events: { event: string; data: string }[] = [];
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      const reading = (async () => {
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const field = (name: string) =>
              block
                .split('\n')
                .filter((l) => l.startsWith(`${name}:`))
                .map((l) => l.slice(name.length + 1).trimStart())
                .join('\n');
            events.push({ event: field('event'), data: field('data') });
            end = buffer.indexOf('\n\n');
          }
        }
      })().catch(() => {});
      await waitFor(() => events.some((e) => e.event === 'subscribed'), { what: 'the stream to open' });

      // Nothing has happened yet; now an agent and a task arrive.
      expect(events.map((e) => e.event)).toEqual(['subscribed']);
      const h0 = await agent('h0');
      const added = await waitFor(() => events.find((e) => e.event === 'AGENT_ADDED'), { what: 'AGENT_ADDED' });
      expect((JSON.parse(added.data) as Extract<ClusterEvent, { type: 'AGENT_ADDED' }>).agent.id).toBe(h0.agentId);
      const fw = await framework('alpha');
      await launch(fw, [h0], { t0: 'h0' });
      const task = await waitFor(() => events.find((e) => e.event === 'TASK_ADDED'), { what: 'TASK_ADDED' });
      expect((JSON.parse(task.data) as Extract<ClusterEvent, { type: 'TASK_ADDED' }>).task).toMatchObject({ taskId: 't0', frameworkId: fw.frameworkId, state: 'TASK_STAGING' });
      await h0.update(fw.frameworkId, [{ taskId: 't0', state: 'TASK_RUNNING' }]);
      const updated = await waitFor(() => events.find((e) => e.event === 'TASK_UPDATED'), { what: 'TASK_UPDATED' });
      expect(JSON.parse(updated.data).task.state).toBe('TASK_RUNNING');
      expect(events.map((e) => e.event)).toContain('FRAMEWORK_ADDED');
      abort.abort();
      await reading;
    });

    it('answers garbage on the wire with PROTOCOL_ERROR, counts it, and keeps working', async () => {
      const { master, url, transport } = await start();
      const garbage = new Uint8Array([0xc1, 0xff, 0x00, 0x13]);
      const wrongShape = new Uint8Array([0x81, 0xa1, 0x76, 0x01]); // msgpack of { v: 1 }
      for (const bytes of [garbage, wrongShape]) {
        const scheduler = decode(SchedulerCallReplySchema, (await transport.request(s.schedulerCalls('x'), bytes, { timeoutMs: 5000 })).data);
        expect(scheduler.ok ? undefined : scheduler.error.code).toBe('PROTOCOL_ERROR');
        const agentReply = decode(AgentCallReplySchema, (await transport.request(s.agentCalls('x'), bytes, { timeoutMs: 5000 })).data);
        expect(agentReply.ok ? undefined : agentReply.error.code).toBe('PROTOCOL_ERROR');
        const operatorReply = decode(OperatorReplySchema, (await transport.request(s.operator, bytes, { timeoutMs: 5000 })).data);
        expect(operatorReply.ok ? undefined : operatorReply.error.code).toBe('VALIDATION_ERROR');
      }
      // Published without a reply subject: dropped and counted all the same.
      transport.publish(s.schedulerCalls('x'), garbage);
      transport.publish(s.agentCalls('x'), garbage);
      await transport.flush();
      const invalid = async (channel: string) => {
        const text = await (await fetch(`${url}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('stoa_master_messages_invalid_total{') && l.includes(`channel="${channel}"`));
        return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
      };
      await waitFor(async () => (await invalid('scheduler')) === 3 && (await invalid('agent')) === 3, { what: 'three invalid messages counted per channel' });
      expect(await invalid('operator')).toBe(2);

      // Still working.
      const h0 = await agent('h0');
      const fw = await framework('alpha');
      const [offer] = await fw.waitOffers(new Set());
      expect(offer!.agentId).toBe(h0.agentId);
      expect(master.state).toBe('running');
    });

    it('runs operator writes over the bus with typed errors', async () => {
      const { master, transport } = await start();
      const h0 = await agent('h0');
      const fw = await framework('alpha');
      await launch(fw, [h0], { t0: 'h0', t1: 'h0' });
      const ops = await OperatorClient.connect({ transport });

      await ops.updateWeights([{ role: 'w', weight: 4 }]);
      await ops.updateQuota([{ role: 'w', limit: { cpus: 2 } }]);
      expect((await ops.roles()).roles.find((r) => r.role === 'w')).toMatchObject({ weight: 4, quota: { limit: { cpus: 2 } } });
      const quotaError = await ops.updateQuota([{ role: 'w', guarantee: { cpus: 3 }, limit: { cpus: 2 } }]).catch((e: unknown) => e);
      expect(ValidationError.isInstance(quotaError)).toBe(true);
      expect((quotaError as ValidationError).details.field).toBe('quotas.0.guarantee.cpus');

      await ops.killTasks(['t1']);
      expect((await h0.waitCommand('KILL_TASKS'))[0]!.kills).toEqual([{ frameworkId: fw.frameworkId, taskId: 't1' }]);
      await ops.deactivateAgent(h0.agentId);
      expect((await ops.agents()).agents[0]!.state).toBe('DEACTIVATED');
      await ops.reactivateAgent(h0.agentId);
      await ops.drainAgent(h0.agentId, { gracePeriodMs: 100 });
      await h0.waitCommand('DRAIN');
      expect((await ops.agents()).agents[0]!.state).toBe('DRAINING');
      await ops.teardown(fw.frameworkId);
      await waitFor(() => master.context.completedFrameworks.has(fw.frameworkId), { what: 'framework torn down' });
      // Teardown freed its tasks: the draining agent is drained.
      await waitFor(async () => (await ops.agents()).agents[0]!.state === 'DRAINED', { what: 'h0 drained after the teardown' });

      for (const attempt of [() => ops.drainAgent('a-nobody'), () => ops.teardown(fw.frameworkId), () => ops.killTasks(['t0'])]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(NotFoundError.isInstance(error)).toBe(true);
      }
      await ops.close();
    });
  });
}

suite('memory');
suite('nats');
