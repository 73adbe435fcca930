/**
 * Where and in which order runs launch, over real NATS with a real master and two small agents
 * (one cpu each, on racks `a` and `b`): `highPriority` jobs go first when offers are short (queued
 * runs and runs prepared for the same fire time alike), runs due at one moment spread over the
 * agents, constraints pick the agent, and a run that fits nowhere waits without holding up the others.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../src/run/run.js';
import { type ChronosCluster, NEVER, startChronosCluster, startIn } from './chronos-cluster.js';

let cluster: ChronosCluster;

beforeAll(async () => {
  cluster = await startChronosCluster({
    agents: [
      { name: 'rack-a', resources: 'cpus:1;mem:1024;disk:100', attributes: 'rack:a' },
      { name: 'rack-b', resources: 'cpus:1;mem:1024;disk:100', attributes: 'rack:b' },
    ],
  });
});
afterEach(() => cluster.cleanup());
afterAll(() => cluster?.stop());

/** A job that takes the whole cpu of the rack-a agent: only one such run at a time. */
const onRackA = { cpus: 1, mem: 32, disk: 0, constraints: [['rack', 'EQUALS', 'a']] };

const ended = (r: Run | undefined) => r !== undefined && ['SUCCEEDED', 'FAILED', 'KILLED'].includes(r.status);

describe('placement over NATS', () => {
  it('launches a queued highPriority run before an older normal one when offers are short', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    await cluster.api(c, 'POST', '/iso8601', { name: 'blocker', command: 'sleep 60', schedule: NEVER, ...onRackA });
    await cluster.api(c, 'POST', '/iso8601', { name: 'normal', command: 'sleep 0.5', schedule: NEVER, ...onRackA });
    await cluster.api(c, 'POST', '/iso8601', { name: 'urgent', command: 'sleep 0.5', schedule: NEVER, highPriority: true, ...onRackA });
    await cluster.api(c, 'PUT', '/job/blocker');
    await waitFor(async () => (await cluster.runsOf(c, 'blocker'))[0]?.status === 'RUNNING', { timeoutMs: 10_000, what: 'the blocker running' });
    // The normal run is queued first; neither fits while the blocker holds the cpu.
    await cluster.api(c, 'PUT', '/job/normal');
    await cluster.api(c, 'PUT', '/job/urgent');
    const summary = (await cluster.api(c, 'GET', '/jobs/summary')).data.jobs as { name: string; state: string }[];
    expect(summary.filter((j) => j.name === 'normal' || j.name === 'urgent').map((j) => j.state)).toEqual(['queued', 'queued']);
    expect((await cluster.api(c, 'DELETE', '/task/kill/blocker')).data).toEqual({ killed: 1 });

    await waitFor(async () => ended((await cluster.runsOf(c, 'normal'))[0]) && ended((await cluster.runsOf(c, 'urgent'))[0]), {
      timeoutMs: 20_000,
      what: 'both runs to end',
    });
    const normal = (await cluster.runsOf(c, 'normal'))[0]!;
    const urgent = (await cluster.runsOf(c, 'urgent'))[0]!;
    expect([normal.status, urgent.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(normal.queuedAt).toBeLessThanOrEqual(urgent.queuedAt);
    // The high-priority run took the freed cpu; the older one waited for it to end.
    expect(urgent.startedAt!).toBeLessThan(normal.startedAt!);
    expect(normal.startedAt!).toBeGreaterThanOrEqual(urgent.endedAt!);
  });

  it('launches the highPriority one first of runs prepared for the same fire time', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    // Further out than Chronos sends prepared runs ahead (5 s): both runs join the same batch,
    // sent together at due − 5 s, whatever the load (sooner, the first could go before the second exists).
    const start = startIn(7000);
    // The normal job is added (and its run prepared) first.
    await cluster.api(c, 'POST', '/iso8601', { name: 'normal-due', command: 'sleep 0.5', schedule: `R1/${start}/PT1M`, ...onRackA });
    await cluster.api(c, 'POST', '/iso8601', { name: 'urgent-due', command: 'sleep 0.5', schedule: `R1/${start}/PT1M`, highPriority: true, ...onRackA });
    await waitFor(async () => ended((await cluster.runsOf(c, 'normal-due'))[0]) && ended((await cluster.runsOf(c, 'urgent-due'))[0]), {
      timeoutMs: 20_000,
      what: 'both runs to end',
    });
    const normal = (await cluster.runsOf(c, 'normal-due'))[0]!;
    const urgent = (await cluster.runsOf(c, 'urgent-due'))[0]!;
    expect([normal.status, urgent.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(normal.scheduledAt).toBe(Date.parse(start));
    expect(urgent.scheduledAt).toBe(Date.parse(start));
    expect(urgent.startedAt!).toBeLessThan(normal.startedAt!);
    expect(normal.startedAt!).toBeGreaterThanOrEqual(urgent.endedAt!);
  });

  it("places runs by Chronos' and Marathon's constraints; a run that fits nowhere waits without blocking others", async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const out = join(cluster.dir, 'hosts.txt');
    const small = { cpus: 0.1, mem: 32, disk: 0 };
    const job = (name: string, constraints: string[][]) => ({ name, command: `echo "${name} $HOST" >> ${out}`, schedule: NEVER, constraints, ...small });
    // Queued first: a run no agent can take.
    await cluster.api(c, 'POST', '/iso8601', job('nowhere', [['rack', 'EQUALS', 'z']]));
    await cluster.api(c, 'PUT', '/job/nowhere');
    const cases: [string, string[][], string][] = [
      ['equals', [['rack', 'EQUALS', 'b']], 'rack-b'],
      ['like', [['rack', 'LIKE', '[b-c]']], 'rack-b'],
      ['unlike', [['rack', 'UNLIKE', 'b']], 'rack-a'],
      ['cluster', [['hostname', 'CLUSTER', 'rack-a']], 'rack-a'],
    ];
    for (const [name, constraints] of cases) {
      expect((await cluster.api(c, 'POST', '/iso8601', job(name, constraints))).status).toBe(204);
      await cluster.api(c, 'PUT', `/job/${name}`);
    }
    await waitFor(async () => {
      for (const [name] of cases) if ((await cluster.runsOf(c, name))[0]?.status !== 'SUCCEEDED') return false;
      return true;
    }, { timeoutMs: 15_000, what: 'every placeable run to succeed' });
    const hosts = new Map(readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]));
    for (const [name, , host] of cases) expect(hosts.get(name)).toBe(host);
    expect((await cluster.runsOf(c, 'nowhere'))[0]!.status).toBe('QUEUED');
    // An unknown operator is refused naming the constraint.
    const bad = await cluster.api(c, 'POST', '/iso8601', job('bad', [['rack', 'NEAR', 'a']]));
    expect(bad.status).toBe(422);
    expect(bad.data.details[0].path).toMatch(/^\/constraints/);
    // The waiting run can be killed; it never launched.
    expect((await cluster.api(c, 'DELETE', '/task/kill/nowhere')).data).toEqual({ killed: 1 });
    expect((await cluster.runsOf(c, 'nowhere'))[0]).toMatchObject({ status: 'KILLED', taskIds: [] });
  });

  it('spreads runs due at one moment over the agents instead of filling the first', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const out = join(cluster.dir, 'spread.txt');
    const start = startIn(7000);
    // Four small runs: any one agent could take them all.
    const names = ['s0', 's1', 's2', 's3'];
    for (const name of names) {
      await cluster.api(c, 'POST', '/iso8601', { name, command: `echo "${name} $HOST" >> ${out}`, schedule: `R1/${start}/PT1M`, cpus: 0.1, mem: 16, disk: 0 });
    }
    await waitFor(async () => {
      for (const name of names) if ((await cluster.runsOf(c, name))[0]?.status !== 'SUCCEEDED') return false;
      return true;
    }, { timeoutMs: 20_000, what: 'the four runs to succeed' });
    const hosts = readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(' ')[1]);
    expect(hosts.filter((h) => h === 'rack-a')).toHaveLength(2);
    expect(hosts.filter((h) => h === 'rack-b')).toHaveLength(2);
  });

});
