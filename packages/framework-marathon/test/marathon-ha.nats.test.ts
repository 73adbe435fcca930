/**
 * Marathon's high availability over a real nats-server with a real process agent: a follower
 * forwards the API to the leader (with `X-Marathon-Leader`), a follower takes over at once when
 * the leader stops, and after the lease runs out when the leader crashes (its NATS connections
 * cut) — keeping the running tasks, launching nothing twice, and serving changes.
 */

import { waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, type MarathonCluster, startMarathonCluster } from './marathon-cluster.js';

let cluster: MarathonCluster;

beforeAll(async () => {
  cluster = await startMarathonCluster({ agents: 1, portBase: 38000 });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** The ids of the running tasks of an app, once there are `count`. */
async function running(appId: string, count: number, base: string): Promise<string[]> {
  const tasks = await waitFor(
    async () => {
      const list = ((await cluster.call('GET', `/v2/apps${appId}/tasks`, undefined, base)).json?.tasks ?? []) as Json[];
      return list.length === count && list.every((t) => t.state === 'TASK_RUNNING') ? list : undefined;
    },
    { timeoutMs: 25_000, intervalMs: 100, what: `${count} running tasks of ${appId} at ${base}` },
  );
  return tasks.map((t) => t.id as string).sort();
}

describe('marathon HA over NATS', () => {
  it('proxies from a follower, hands over on stop, and takes over from a crashed leader', async () => {
    const first = cluster.marathon;
    const second = await cluster.startAnotherMarathon('m2');
    expect(second.isLeader).toBe(false);

    // A follower forwards changes, reads and the event stream to the leader, and says who leads.
    const viaFollower = await cluster.listenEvents(['deployment_success'], second.httpUrl);
    const created = await cluster.call('POST', '/v2/apps', { id: '/kept', cmd: 'sleep 3600', cpus: 0.02, mem: 16, instances: 2 }, second.httpUrl);
    expect(created.status).toBe(201);
    expect(created.headers.get('x-marathon-leader')).toBe(first.httpUrl);
    expect(first.scheduler?.apps.has('/kept')).toBe(true);
    const tasks = await running('/kept', 2, second.httpUrl);
    await waitFor(() => viaFollower.events.some((e) => e.eventType === 'deployment_success' && e.id === created.json.deploymentId), {
      timeoutMs: 15_000,
      what: 'deployment_success streamed through the follower',
    });
    await viaFollower.stop();
    const leader = await cluster.call('GET', '/v2/leader', undefined, second.httpUrl);
    expect(leader.json).toEqual({ leader: new URL(first.httpUrl).host });
    const info = await cluster.call('GET', '/v2/info', undefined, second.httpUrl);
    expect(info.json).toMatchObject({ elected: true, leader: new URL(first.httpUrl).host });
    const ping = await cluster.call('GET', '/ping', undefined, second.httpUrl);
    expect(ping.json).toBe('pong');
    expect(ping.headers.get('x-marathon-leader')).toBe(first.httpUrl);

    // A clean stop gives the lease up: the follower leads at once and keeps the tasks.
    await first.stop();
    await second.waitLeading();
    cluster.marathon = second;
    expect(await running('/kept', 2, second.httpUrl)).toEqual(tasks);

    // A crash gives nothing up: the next follower takes over once the lease has run out.
    const third = await cluster.startAnotherMarathon('m3');
    expect((await cluster.call('GET', '/v2/apps/kept', undefined, third.httpUrl)).headers.get('x-marathon-leader')).toBe(second.httpUrl);
    const crashedAt = Date.now();
    await cluster.crashMarathon(second);
    await waitFor(() => third.isLeader, { timeoutMs: 20_000, intervalMs: 50, what: 'm3 leading after the crash' });
    cluster.marathon = third;
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(1000); // the lease (1.5 s) had to run out
    expect(await running('/kept', 2, third.httpUrl)).toEqual(tasks);
    const scaled = await cluster.call('PATCH', '/v2/apps/kept', { instances: 3 }, third.httpUrl);
    expect(scaled.status).toBe(200);
    expect(scaled.headers.get('x-marathon-leader')).toBe(third.httpUrl);
    await cluster.waitDeployments('scaled by the new leader');
    const after = await running('/kept', 3, third.httpUrl);
    expect(after).toEqual(expect.arrayContaining(tasks));
    // Nothing launched twice: the agent ran exactly the three tasks Marathon knows.
    expect([...cluster.seenTasks.keys()].filter((id) => id.startsWith('kept.')).sort()).toEqual(after);
    expect(cluster.agentTasks('kept').map((t) => t.taskId).sort()).toEqual(after);
  });
});
