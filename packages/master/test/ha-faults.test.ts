/**
 * Master high availability under real faults: three `stoa master` processes on a three-node NATS
 * cluster (the registry an R3 KV bucket), simulated agents and a framework on the SDK in this
 * process. The leader is killed with SIGKILL while tasks launch, a NATS node is killed under a
 * running cluster, and the leader is frozen with SIGSTOP past its lease and woken again. Every
 * task must run exactly once — counted as container launches at the agents, since status updates
 * are at-least-once — and the framework must hear TASK_RUNNING for every one.
 */
import { type SimulatedAgentsHandle, startSimulatedAgents } from '@stoa/agent';
import { decode, type Store, type Transport } from '@stoa/core';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { jetstreamManager } from '@nats-io/jetstream';
import { type NatsClusterHandle, startNatsCluster, waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseSchema } from '@stoa/core';
import { countLaunches, exactlyOnce, type HaFramework, startHaFramework, taskIds } from './fixtures/ha-framework.js';
import { type MasterProcess, remotePortsOf, startMasterProcess, waitForLeader } from './fixtures/master-processes.js';

const BUCKET = 'stoa-ha';
const LEASE_MS = 1000;
const RENEW_MS = Math.floor(LEASE_MS / 4);
/** Room for a loaded 2-core machine running three masters, three servers and this process. */
const SLACK_MS = 2000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

interface Cluster {
  nats: NatsClusterHandle;
  masters: MasterProcess[];
  agents: SimulatedAgentsHandle;
  launches: Map<string, number>;
  fw: HaFramework;
}

async function cluster(options: { agents: number; perOffer: number; onAccept?: (n: number) => void; beforeMasters?: (nats: NatsClusterHandle) => Promise<string | undefined> }): Promise<Cluster> {
  const nats = await startNatsCluster({ nodes: 3 });
  cleanups.push(() => nats.stop());
  const masters: MasterProcess[] = [];
  cleanups.push(() => Promise.all(masters.map((m) => m.stop())));
  const start = (masterId: string, servers: string[]) =>
    startMasterProcess({
      servers,
      bucket: BUCKET,
      replicas: 3,
      masterId,
      leaseMs: LEASE_MS,
      args: ['--ping-interval-ms', '1000', '--heartbeat-interval-ms', '1000', '--agent-recovery-timeout-ms', '20000'],
    }).then((m) => {
      masters.push(m);
      return m;
    });
  // A first master given one server only, started (and leading) before the others.
  const firstOn = await options.beforeMasters?.(nats);
  if (firstOn) await waitForLeader([await start('m1', [firstOn])]);
  await Promise.all((firstOn ? ['m2', 'm3'] : ['m1', 'm2', 'm3']).map((id) => start(id, nats.servers)));
  masters.sort((a, b) => a.masterId.localeCompare(b.masterId));
  const transport: Transport = await NatsTransport.connect({ servers: nats.servers, name: 'ha-agents' });
  cleanups.push(() => transport.close());
  const agents = await startSimulatedAgents({ transport, count: options.agents, resources: 'cpus:8;mem:8192', statusRetry: { initialMs: 200, maxMs: 2000 } });
  cleanups.push(() => agents.stop());
  const launches = countLaunches(agents);
  await agents.waitRegistered();
  const fw = await startHaFramework({ servers: nats.servers, perOffer: options.perOffer, ...(options.onAccept ? { onAccept: options.onAccept } : {}) });
  cleanups.push(() => fw.close());
  return { nats, masters, agents, launches, fw };
}

async function allRunning(c: Cluster, ids: readonly string[], timeoutMs: number): Promise<void> {
  await waitFor(() => ids.every((id) => c.fw.running.has(id)), {
    timeoutMs,
    intervalMs: 50,
    what: `the framework to hear TASK_RUNNING for all ${ids.length} tasks (heard ${ids.filter((id) => c.fw.running.has(id)).length})`,
  });
  // The agents catch up with the framework's view (RUNNING is reported after the launch).
  await waitFor(() => exactlyOnce(c.agents, c.launches, ids) === undefined, { timeoutMs: 10_000, intervalMs: 50, what: 'the agents to run every task once' }).catch(() => {});
  expect(exactlyOnce(c.agents, c.launches, ids)).toBeUndefined();
  expect(c.fw.anomalies).toEqual([]);
}

interface StateView {
  master: { masterId: string };
  agents: { state: string; taskCount: number }[];
  taskCounts: Record<string, number>;
}

/** GET /api/v1/state through `via` (a follower redirects to the leader), until the leader's view shows what is expected. */
async function leaderState(via: MasterProcess, expectAgents: number, expectRunning: number): Promise<StateView> {
  let last = '';
  return waitFor(
    async () => {
      const res = await fetch(`${via.httpUrl}/api/v1/state`, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) return undefined;
      const state = (await res.json()) as StateView;
      const active = state.agents.filter((a) => a.state === 'ACTIVE').length;
      const tasks = state.agents.reduce((n, a) => n + a.taskCount, 0);
      last = `${state.master.masterId}: ${active} active agents, ${tasks} tasks on them, taskCounts ${JSON.stringify(state.taskCounts)}`;
      return active === expectAgents && tasks === expectRunning && state.taskCounts.TASK_RUNNING === expectRunning ? state : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `the leader's state to show ${expectAgents} agents and ${expectRunning} running tasks` },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last seen ${last}`);
  });
}

describe('master high availability under real faults', { timeout: 90_000 }, () => {
  it('kill -9 of the leader while 1,000 tasks launch: a new leader within the lease, every task runs once, the framework hears every one', async () => {
    const total = 1000;
    const ids = taskIds('k', total);
    let killAt = 0;
    let onAccept: (n: number) => void = () => {};
    const c = await cluster({ agents: 20, perOffer: 5, onAccept: (n) => onAccept(n) });
    const leader = await waitForLeader(c.masters);
    const others = c.masters.filter((m) => m !== leader);
    const killed = new Promise<void>((resolve) => {
      onAccept = (n) => {
        if (killAt !== 0 || n < total * 0.4) return;
        // A few ms after the ACCEPTs went out: some reach the leader, which may answer some.
        killAt = -1;
        setTimeout(() => {
          killAt = performance.now();
          leader.signal('SIGKILL');
          resolve();
        }, 3);
      };
    });
    c.fw.add(ids);
    await killed;
    const launchedBeforeKill = c.fw.launches();
    const runningAtKill = c.fw.running.size;
    const next = await waitForLeader(others, { timeoutMs: 15_000 });
    const electionMs = performance.now() - killAt;
    console.log(
      `kill -9 leader ${leader.masterId} after ${launchedBeforeKill} launches (${runningAtKill} running): ${next.masterId} leads after ${Math.round(electionMs)} ms (lease ${LEASE_MS} ms, renewal ${RENEW_MS} ms)`,
    );
    expect(electionMs).toBeLessThan(LEASE_MS + RENEW_MS + SLACK_MS);
    expect(runningAtKill).toBeLessThan(total);

    await allRunning(c, ids, 60_000);
    console.log(
      `  all ${total} running ${Math.round(performance.now() - killAt)} ms after the kill; failed ACCEPTs ${JSON.stringify(c.fw.acceptErrors)}; launched again ${JSON.stringify(c.fw.requeueReasons())}`,
    );
    const state = await leaderState(others.find((m) => m !== next)!, 20, total);
    expect(state.master.masterId).toBe(next.masterId);
  });

  it('kill of the NATS node that both the leader and the registry stream lead from: a master leads again, new tasks launch, operator reads work', async () => {
    const first = taskIds('a', 100);
    const second = taskIds('b', 100);
    let lease: Store | undefined;
    let victimName: string | undefined;
    // The registry bucket is made first, so the server that leads its stream (R3) is known; the
    // first master connects to that server alone (it learns the others from the cluster) and leads.
    const c = await cluster({
      agents: 10,
      perOffer: 10,
      beforeMasters: async (nats) => {
        const transport = await NatsTransport.connect({ servers: nats.servers, name: 'ha-bucket-maker' });
        cleanups.push(() => transport.close());
        await NatsKvStore.open(transport.connection, { bucket: BUCKET, replicas: 3 });
        const info = await (await jetstreamManager(transport.connection)).streams.info(`KV_${BUCKET}`);
        victimName = info.cluster?.leader;
        const victimUrl = nats.nodes.find((n) => n.name === victimName)?.url;
        // Reads the lease from a server that survives, giving up fast while the stream has no leader.
        const reader = await NatsTransport.connect({ servers: nats.servers.filter((u) => u !== victimUrl), name: 'ha-lease-reader' });
        cleanups.push(() => reader.close());
        lease = await NatsKvStore.open(reader.connection, { bucket: BUCKET, replicas: 3, timeoutMs: 250 });
        return victimUrl;
      },
    });
    const victim = c.nats.nodes.find((n) => n.name === victimName)!;
    c.fw.add(first);
    await allRunning(c, first, 30_000);
    const leader = await waitForLeader(c.masters);
    // Linux /proc: the leader's connections, to tell that it is on the victim.
    const onVictim = remotePortsOf(leader.pid).includes(victim.port);
    expect(onVictim).toBe(true);

    const revisionAtKill = (await lease!.get('master.leader'))!.revision;
    const killedAt = performance.now();
    await victim.kill();
    // The stream has a new leader (a read is answered), then the lease is renewed again (three
    // writes) by the master that leads.
    let backMs = 0;
    const renewed = await waitFor(
      async () => {
        const entry = await lease!.get('master.leader');
        backMs ||= performance.now() - killedAt;
        return entry && entry.revision >= revisionAtKill + 3 ? entry : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 50, what: 'three renewals of the lease after the kill' },
    );
    const renewedMs = performance.now() - killedAt;
    const holder = decode(LeaseSchema, renewed.value).masterId;
    const next = await waitForLeader(c.masters, { timeoutMs: 15_000 });
    expect(next.masterId).toBe(holder);
    console.log(
      `killed NATS ${victim.name} (the leader ${leader.masterId}'s server and the registry stream's leader): the stream answers again after ${Math.round(backMs)} ms; ${next !== leader ? `${next.masterId} took` : leader.logLines('no longer leading: now a follower').length > 0 ? `${leader.masterId} lost and took again` : `${leader.masterId} kept`} the lease, renewed 3 times by ${Math.round(renewedMs)} ms`,
    );
    // Once the store answers, a leader within a lease (a read sent while it did not is given up) and two renewals.
    expect(renewedMs - backMs).toBeLessThan(LEASE_MS + 3 * RENEW_MS + SLACK_MS);

    c.fw.add(second);
    await allRunning(c, [...first, ...second], 45_000);
    console.log(`  100 new tasks running ${Math.round(performance.now() - killedAt)} ms after the kill`);
    // Reads, at the leader and through each follower (redirected).
    const leaderNow = await waitForLeader(c.masters, { timeoutMs: 15_000 });
    for (const m of c.masters) {
      const state = await leaderState(m, 10, 200);
      expect(state.master.masterId).toBe(leaderNow.masterId);
    }
    const tasks = (await (await fetch(`${leaderNow.httpUrl}/api/v1/tasks?state=TASK_RUNNING&limit=1000`)).json()) as { total: number };
    expect(tasks.total).toBe(200);
  });

  it('SIGSTOP of the leader past its lease, then SIGCONT: a new leader takes over, the old one follows, nothing launches twice', async () => {
    const before = taskIds('p', 100);
    const around = taskIds('q', 100);
    const after = taskIds('r', 100);
    let onAccept: (n: number) => void = () => {};
    const c = await cluster({ agents: 10, perOffer: 5, onAccept: (n) => onAccept(n) });
    c.fw.add(before);
    await allRunning(c, before, 30_000);
    const leader = await waitForLeader(c.masters);
    const others = c.masters.filter((m) => m !== leader);

    // Freeze the leader in the middle of the next batch.
    let stoppedAt = 0;
    const base = c.fw.launches();
    const stopped = new Promise<void>((resolve) => {
      onAccept = (n) => {
        if (stoppedAt !== 0 || n - base < around.length / 2) return;
        stoppedAt = performance.now();
        leader.signal('SIGSTOP');
        resolve();
      };
    });
    c.fw.add(around);
    await stopped;
    const next = await waitForLeader(others, { timeoutMs: 15_000 });
    const electionMs = performance.now() - stoppedAt;
    console.log(`SIGSTOP leader ${leader.masterId}: ${next.masterId} leads after ${Math.round(electionMs)} ms`);
    expect(electionMs).toBeLessThan(LEASE_MS + RENEW_MS + SLACK_MS);

    // Wake it while the new leader launches, and launch more.
    leader.signal('SIGCONT');
    c.fw.add(after);
    await waitFor(async () => (await leader.info())?.leader === false, { timeoutMs: 10_000, what: 'the woken master to answer as a follower' });
    const who = await leader.info();
    expect(who).toMatchObject({ leader: false, leaderId: next.masterId, leaderUrl: next.httpUrl });
    const redirect = await fetch(`${leader.httpUrl}/api/v1/state`, { redirect: 'manual' });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe(`${next.httpUrl}/api/v1/state`);
    await waitFor(() => leader.logLines('no longer leading: now a follower').length > 0, { timeoutMs: 5000, what: 'the woken master to log that it follows' });

    const all = [...before, ...around, ...after];
    await allRunning(c, all, 45_000);
    // Still one leader, the new one; the woken master never took the lease back.
    expect((await waitForLeader(c.masters)).masterId).toBe(next.masterId);
    const state = await leaderState(leader, 10, all.length);
    expect(state.master.masterId).toBe(next.masterId);
    console.log(
      `  ${all.length} tasks running, each launched once; failed ACCEPTs ${JSON.stringify(c.fw.acceptErrors)}; launched again ${JSON.stringify(c.fw.requeueReasons())}`,
    );
  });
});
