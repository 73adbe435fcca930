/**
 * Several masters on one registry: one leads, followers redirect, a new leader takes over when the
 * leader stops or cannot renew its lease, and agents and frameworks follow it.
 */
import { startSimulatedAgents } from '@stoa/agent';
import { parseResources, type Store, type TaskInfo, UnavailableError } from '@stoa/core';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { SchedulerClient } from '@stoa/sdk';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type MasterHandle, startMaster } from '../src/index.js';

let nats: NatsServerHandle;
const cleanups: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  nats = await startNats({ jetstream: true });
});
afterAll(async () => {
  await nats?.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

let bucketSeq = 0;

/** A store whose writes and reads fail while `broken` is set: a master cut off from JetStream. */
function breakable(store: Store): Store & { broken: boolean } {
  const s = Object.create(store) as Store & { broken: boolean };
  s.broken = false;
  const fail = () => Promise.reject(new UnavailableError('cut off from the store'));
  s.update = (k, v, r) => (s.broken ? fail() : store.update(k, v, r));
  s.get = (k) => (s.broken ? fail() : store.get(k));
  s.put = (k, v) => (s.broken ? fail() : store.put(k, v));
  return s;
}

async function master(bucket: string, wrap?: (s: Store) => Store): Promise<MasterHandle> {
  const transport = await NatsTransport.connect({ servers: nats.url });
  const kv = await NatsKvStore.open(transport.connection, { bucket });
  const m = await startMaster({ transport, store: wrap ? wrap(kv) : kv, http: { port: 0 }, leaseMs: 600, pingIntervalMs: 200, heartbeatIntervalMs: 200 });
  cleanups.push(async () => {
    await m.stop();
    await transport.close();
  });
  return m;
}

async function cluster(agentCount: number) {
  const transport = await NatsTransport.connect({ servers: nats.url });
  cleanups.push(() => transport.close());
  const agents = await startSimulatedAgents({ transport, count: agentCount, resources: 'cpus:4;mem:4096;ports:[31000-31099]' });
  cleanups.push(() => agents.stop());
  return agents;
}

async function framework(taskCount: number) {
  const client = await SchedulerClient.connect({ servers: nats.url, framework: { name: 'ha', principal: 'ha', failoverTimeoutMs: 60_000, capabilities: ['PARTITION_AWARE'] } });
  cleanups.push(() => client.close());
  let launched = 0;
  const running = new Set<string>();
  client.on('OFFERS', async (event) => {
    const tasks: TaskInfo[] = [];
    const used: string[] = [];
    for (const offer of event.offers) {
      if (launched >= taskCount) break;
      tasks.push({ taskId: `t-${launched++}`, name: 'ha', agentId: offer.agentId, resources: parseResources('cpus:0.5;mem:32'), command: { value: 'run' } });
      used.push(offer.id);
    }
    if (tasks.length > 0) await client.accept(used, [{ type: 'LAUNCH', tasks }]);
    const rest = event.offers.filter((o) => !used.includes(o.id)).map((o) => o.id);
    if (rest.length > 0) await client.decline(rest, { refuseMs: 100 });
  });
  client.on('UPDATE', (event) => {
    for (const s of event.statuses) if (s.state === 'TASK_RUNNING') running.add(s.taskId);
  });
  return { client, running, launchedCount: () => launched };
}

describe('master high availability', () => {
  it('elects one leader; a follower redirects HTTP to it and answers who leads', async () => {
    const bucket = `ha-${++bucketSeq}`;
    const a = await master(bucket);
    const b = await master(bucket);
    const [leader, follower] = a.isLeader ? [a, b] : [b, a];
    expect(leader.isLeader).toBe(true);
    expect(follower.isLeader).toBe(false);
    const redirect = await fetch(`${follower.httpUrl}/api/v1/state`, { redirect: 'manual' });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe(`${leader.httpUrl}/api/v1/state`);
    const who = (await (await fetch(`${follower.httpUrl}/api/v1/master`)).json()) as { leader: boolean; leaderId: string };
    expect(who).toMatchObject({ leader: false, leaderId: leader.masterId });
    const state = (await (await fetch(`${follower.httpUrl}/api/v1/state`)).json()) as { master: { masterId: string } };
    expect(state.master.masterId).toBe(leader.masterId);
  });

  it('a follower takes over when the leader stops; agents re-register and the framework keeps its tasks', async () => {
    const bucket = `ha-${++bucketSeq}`;
    const a = await master(bucket);
    const b = await master(bucket);
    const [leader, follower] = a.isLeader ? [a, b] : [b, a];
    const agents = await cluster(5);
    await agents.waitRegistered();
    const fw = await framework(10);
    await waitFor(() => fw.running.size === 10, { what: '10 tasks running', timeoutMs: 15_000 });
    const epoch = leader.epoch;

    await leader.stop();
    await follower.waitLeading();
    expect(follower.epoch).toBeGreaterThan(epoch);
    // Agents re-register with the new leader, tasks and all.
    await waitFor(() => [...follower.context.agents.values()].filter((x) => !x.recovering && x.state === 'ACTIVE').length === 5, {
      what: 'every agent re-registered with the new leader',
      timeoutMs: 15_000,
    });
    await waitFor(() => follower.context.frameworks.get(fw.client.frameworkId)?.state === 'CONNECTED', { what: 'the framework re-subscribed', timeoutMs: 15_000 });
    const tasks = [...follower.context.frameworks.get(fw.client.frameworkId)!.tasks.values()];
    expect(tasks.map((t) => t.state).sort()).toEqual(Array(10).fill('TASK_RUNNING'));
    // Nothing was launched twice: the agents run exactly 10 tasks.
    const live = agents.agents.flatMap((x) => x.tasks()).filter((t) => t.state === 'TASK_RUNNING');
    expect(live).toHaveLength(10);
  });

  it('a leader that cannot renew its lease stops acting before another takes over', async () => {
    const bucket = `ha-${++bucketSeq}`;
    let cut: (Store & { broken: boolean }) | undefined;
    const a = await master(bucket, (s) => (cut = breakable(s)));
    const b = await master(bucket);
    expect(a.isLeader).toBe(true);
    const agents = await cluster(2);
    await agents.waitRegistered();

    cut!.broken = true;
    const brokeAt = performance.now();
    await waitFor(() => !a.isLeader, { what: 'the cut-off leader to stop leading', timeoutMs: 5000 });
    const stoppedAt = performance.now();
    await b.waitLeading();
    const tookOverAt = performance.now();
    expect(stoppedAt).toBeLessThanOrEqual(tookOverAt);
    expect(tookOverAt - brokeAt).toBeLessThan(600 + 200 + 500); // lease + one renewal + slack
    expect(a.context.agents.size).toBe(0); // the deposed master forgot its state
    await waitFor(() => b.context.agents.size === 2 && [...b.context.agents.values()].every((x) => !x.recovering), {
      what: 'agents re-registered with the new leader',
      timeoutMs: 10_000,
    });
    expect(agents.agents.every((x) => x.epoch === b.epoch)).toBe(true);
  });
});
