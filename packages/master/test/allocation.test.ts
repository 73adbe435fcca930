/**
 * Allocation end to end: weighted DRF converges to the weights as tasks come and go, a quota
 * guarantee is served before other roles' fair share, and a limit holds at every allocation
 * cycle. Weights and quota are set through the HTTP operator API; shares are read from the master
 * (GET_ROLES) and, at every cycle, from its allocator.
 */

import { type RoleSummary, scalar } from '@stoa/core';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MasterHandle } from '../src/index.js';
import { handleOperatorCall } from '../src/operator/operator.js';
import { GreedyScheduler, http, registerAgents, startTestMaster, type TransportFactory, type TransportKind, transportFactory } from './cluster.js';
import { type FakeAgent, FakeFramework } from './peers.js';

/** 20 agents of cpus:4;mem:4096. */
const AGENTS = 20;
const CLUSTER_CPUS = AGENTS * 4;

/** Allocated cpus by role, as GET_ROLES reports them. */
async function rolesCpus(master: MasterHandle): Promise<Record<string, number>> {
  const { roles } = (await handleOperatorCall(master.context, { v: 1, type: 'GET_ROLES' }, { startedMs: 0 })) as { roles: RoleSummary[] };
  return Object.fromEntries(roles.map((r) => [r.role, r.allocated.cpus ?? 0]));
}

/**
 * Records the allocated cpus of every role after each allocation cycle, so "never exceeded" is
 * checked at every cycle rather than at a few samples.
 */
function watchCycles(master: MasterHandle): Array<Record<string, number>> {
  const history: Array<Record<string, number>> = [];
  const allocator = master.context.allocator;
  const run = allocator.runCycle.bind(allocator);
  allocator.runCycle = (nowMs: number) => {
    const out = run(nowMs);
    history.push(Object.fromEntries(allocator.roleSummaries().map((r) => [r.role, r.allocated.cpus ?? 0])));
    return out;
  };
  return history;
}

/** Everything offered was answered and every cpu of the cluster is held by a task. */
function settled(master: MasterHandle, schedulers: GreedyScheduler[], cpus = CLUSTER_CPUS): boolean {
  return (
    master.context.offers.size === 0 &&
    schedulers.every((s) => s.idle) &&
    (master.context.allocator.allocatedResources().cpus ?? 0) === cpus &&
    schedulers.reduce((n, s) => n + s.usedCpus, 0) === cpus
  );
}

function suite(kind: TransportKind) {
  describe(`allocation over ${kind}`, () => {
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

    /** A master; its agents register now, or when the test calls `addAgents` (`later`). */
    const cluster = async (later = false) => {
      transports = transportFactory(kind, () => nats!);
      cleanup.push(() => transports.close());
      const transport = await transports.open();
      // Offers always hold a cpu, so nothing is offered that no task could use.
      const t = await startTestMaster(transport, { minAllocatable: [{ cpus: 1 }], allocationIntervalMs: 100 });
      cleanup.push(() => t.master.stop());
      const byId = new Map<string, FakeAgent>();
      const addAgents = async () => {
        const agents = await registerAgents(await transports.open(), AGENTS);
        cleanup.push(() => {
          for (const a of agents) a.stop();
        });
        for (const a of agents) byId.set(a.agentId, a);
      };
      if (!later) await addAgents();
      return { ...t, agents: byId, addAgents };
    };

    const greedy = async (name: string, role: string, capCpus = CLUSTER_CPUS) => {
      const fw = FakeFramework.make(await transports.open(), name, { roles: [role] });
      await fw.subscribe();
      const scheduler = new GreedyScheduler(fw, { capCpus }).start();
      cleanup.push(() => {
        scheduler.stop();
        fw.stop();
      });
      return scheduler;
    };

    it('converges to shares in proportion to the weights as tasks finish', async () => {
      const { master, url, agents } = await cluster();
      expect((await http(url, '/api/v1/weights', { body: [{ role: 'a', weight: 1 }, { role: 'b', weight: 3 }] })).status).toBe(200);

      // `a` comes first and takes the whole cluster; `b` starts with nothing.
      const a = await greedy('fa', 'a');
      await waitFor(() => settled(master, [a]), { what: 'a holding the cluster' });
      const b = await greedy('fb', 'b');
      expect(await rolesCpus(master)).toMatchObject({ a: CLUSTER_CPUS });

      // Each round a fifth of every framework's tasks finish; what they free goes by weighted DRF.
      const ratios: number[] = [];
      for (let round = 0; round < 16; round++) {
        await Promise.all([a.finish(Math.ceil(a.live.size / 5), agents), b.finish(Math.ceil(b.live.size / 5), agents)]);
        await waitFor(() => settled(master, [a, b]), { what: `round ${round} settled` });
        const cpus = await rolesCpus(master);
        expect(cpus.a! + cpus.b!).toBe(CLUSTER_CPUS);
        expect({ a: a.usedCpus, b: b.usedCpus }).toEqual({ a: cpus.a, b: cpus.b });
        ratios.push(cpus.b! / CLUSTER_CPUS);
      }
      // Weighted 1:3 is a quarter and three quarters; the last rounds hover there (whole agents'
      // free cpus go to one framework per cycle, so a round can overshoot by a few cpus).
      const tail = ratios.slice(-6);
      const mean = tail.reduce((x, y) => x + y, 0) / tail.length;
      expect(mean).toBeGreaterThan(0.7);
      expect(mean).toBeLessThan(0.8);
      for (const r of tail) expect(Math.abs(r - 0.75)).toBeLessThan(0.1);
      expect([...a.failures, ...b.failures]).toEqual([]);
      // The framework summaries agree with the roles.
      const frameworks = (await http<{ frameworks: { info: { name: string }; share: number }[] }>(url, '/api/v1/frameworks')).body.frameworks;
      const share = (name: string) => frameworks.find((f) => f.info.name === name)!.share;
      expect(share('fb') / share('fa')).toBeGreaterThan(2);
    });

    it('serves a quota guarantee before other roles, even a heavier one', async () => {
      const { master, url, addAgents } = await cluster(true);
      const history = watchCycles(master);
      // Without the guarantee, weight 10 against 1 would leave q about 7 cpus.
      expect((await http(url, '/api/v1/weights', { body: { weights: [{ role: 'g', weight: 10 }] } })).status).toBe(200);
      expect((await http(url, '/api/v1/quota', { body: { quotas: [{ role: 'q', guarantee: { cpus: 30 } }] } })).status).toBe(200);

      // Both ask at once: both are subscribed before the first agent arrives.
      const [q, g] = await Promise.all([greedy('fq', 'q'), greedy('fg', 'g')]);
      await addAgents();
      await waitFor(() => settled(master, [q, g]), { what: 'the cluster allocated' });
      const cpus = await rolesCpus(master);
      expect(cpus.q).toBeGreaterThanOrEqual(30);
      expect(cpus.g).toBe(CLUSTER_CPUS - cpus.q!);
      // At no cycle did g hold more than what the guarantee leaves.
      expect(history.length).toBeGreaterThan(0);
      for (const h of history) expect(h.g ?? 0).toBeLessThanOrEqual(CLUSTER_CPUS - 30);

      const roles = (await http<{ roles: RoleSummary[] }>(url, '/api/v1/roles')).body.roles;
      expect(roles.find((r) => r.role === 'q')?.quota).toMatchObject({ role: 'q', guarantee: { cpus: 30 } });
      expect(roles.find((r) => r.role === 'g')?.weight).toBe(10);
    });

    it('never exceeds a limit, through churn, until the limit is lifted', async () => {
      const { master, url, agents } = await cluster();
      const history = watchCycles(master);
      expect((await http(url, '/api/v1/quota', { body: { quotas: [{ role: 'g', limit: { cpus: 40 } }] } })).status).toBe(200);

      const g = await greedy('fg', 'g');
      await waitFor(() => settled(master, [g], 40), { what: 'g at its limit' });
      for (let round = 0; round < 5; round++) {
        await g.finish(7, agents);
        await waitFor(() => settled(master, [g], 40), { what: `g back at its limit in round ${round}` });
      }
      expect(Math.max(...history.map((h) => h.g ?? 0))).toBe(40);
      expect(master.context.allocator.totalResources().cpus).toBe(CLUSTER_CPUS);
      // The other half of the cluster lay free the whole time, and g was offered none of it.
      const offered = g.fw.all('OFFERS').flatMap((e) => e.offers);
      expect(offered.reduce((n, o) => n + scalar(o.resources, 'cpus'), 0)).toBe(40 + 5 * 7);

      // A quota with neither guarantee nor limit removes it: g may grow to the whole cluster.
      expect((await http(url, '/api/v1/quota', { body: { quotas: [{ role: 'g' }] } })).status).toBe(200);
      await waitFor(() => settled(master, [g]), { what: 'g holding the cluster' });
      expect(await rolesCpus(master)).toMatchObject({ g: CLUSTER_CPUS });
    });
  });
}

suite('memory');
suite('nats');
