/**
 * Marathon and lost agents over a real nats-server with real process agents: an agent that
 * stops answering makes its task `TASK_UNREACHABLE`; `unreachableStrategy.inactiveAfterSeconds`
 * later a replacement runs elsewhere while the unreachable task is still listed,
 * `expungeAfterSeconds` later it is forgotten, and when the agent comes back the forgotten task
 * is killed. And `killSelection` on scale-down: `YOUNGEST_FIRST` keeps the oldest task,
 * `OLDEST_FIRST` the youngest.
 */

import { waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthyTasks, type Json, type MarathonCluster, startMarathonCluster, webApp } from './marathon-cluster.js';

let cluster: MarathonCluster;

beforeAll(async () => {
  // Agents are pinged every 300 ms; four missed pings make one unreachable.
  cluster = await startMarathonCluster({ agents: 2, portBase: 36000, master: { pingIntervalMs: 300, maxMissedPings: 4 } });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('marathon failures over NATS', () => {
  it('replaces an unreachable task after inactiveAfterSeconds, forgets it after expungeAfterSeconds, and kills it when its agent returns', async () => {
    const created = await cluster.call('POST', '/v2/apps', webApp('/far', { unreachableStrategy: { inactiveAfterSeconds: 1, expungeAfterSeconds: 8 } }));
    expect(created.status).toBe(201);
    const [lost] = await cluster.waitHealthy('/far', 1);
    await cluster.waitDeployments('far deployed');
    const index = Number(String(lost.host).split('.')[3]) - 2;
    const otherHost = `127.0.0.${(1 - index) + 2}`;

    await cluster.stopAgent(index);
    const unreachableAt = await waitFor(async () => ((await cluster.tasksOf('/far')).find((t) => t.id === lost.id)?.state === 'TASK_UNREACHABLE' ? Date.now() : undefined), {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: 'the task unreachable',
    });
    // Inactive: a replacement runs on the other agent while the unreachable task is still known.
    const replacement = await waitFor(
      async () => {
        const tasks = await cluster.tasksOf('/far');
        const fresh = healthyTasks(tasks).find((t) => t.id !== lost.id);
        return fresh && tasks.some((t) => t.id === lost.id && t.state === 'TASK_UNREACHABLE') ? fresh : undefined;
      },
      // Usually about 2 s; a loaded machine may fail a first replacement's health checks.
      { timeoutMs: 30_000, intervalMs: 50, what: 'a healthy replacement beside the unreachable task' },
    );
    expect(replacement.host).toBe(otherHost);
    expect((await cluster.call('GET', '/v2/apps/far')).json.app).toMatchObject({ instances: 1, tasksRunning: 1, tasksHealthy: 1 });

    // Expunged: forgotten, no sooner than expungeAfterSeconds after it became unreachable.
    const goneAt = await waitFor(async () => ((await cluster.tasksOf('/far')).some((t) => t.id === lost.id) ? undefined : Date.now()), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'the unreachable task expunged',
    });
    expect(goneAt - unreachableAt).toBeGreaterThanOrEqual(7_000);
    expect((await cluster.tasksOf('/far')).map((t) => t.id)).toEqual([replacement.id]);

    // The agent comes back with the task still running: Marathon does not know it any more and kills it.
    const agent = await cluster.restartAgent(index);
    await agent.waitRegistered();
    await waitFor(() => !agent.tasks().some((t) => t.taskId === lost.id && (t.state === 'TASK_RUNNING' || t.state === 'TASK_STARTING')), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'the returning task killed',
    });
    const tasks = await cluster.waitHealthy('/far', 1);
    expect(tasks[0].id).toBe(replacement.id);
    expect(cluster.agentTasks('far').map((t) => t.taskId)).toEqual([replacement.id]);
    expect((await cluster.call('DELETE', '/v2/apps/far')).status).toBe(200);
    await cluster.waitDeployments('far removed');
  }, 120_000);

  it('kills the youngest or the oldest tasks first on scale-down, as killSelection says', async () => {
    const ids = ['/young', '/old'];
    await Promise.all([
      cluster.call('POST', '/v2/apps', webApp('/young', { killSelection: 'YOUNGEST_FIRST' })),
      cluster.call('POST', '/v2/apps', webApp('/old', { killSelection: 'OLDEST_FIRST' })),
    ]);
    // One more task at a time, so their start times differ.
    for (const count of [1, 2, 3]) {
      if (count > 1) for (const id of ids) expect((await cluster.call('PATCH', `/v2/apps${id}`, { instances: count })).status).toBe(200);
      for (const id of ids) await cluster.waitHealthy(id, count);
      await cluster.waitDeployments(`scaled to ${count}`);
    }
    const byAge = async (id: string) => (await cluster.tasksOf(id)).sort((a: Json, b: Json) => Date.parse(a.startedAt) - Date.parse(b.startedAt)).map((t: Json) => t.id as string);
    const young = await byAge('/young');
    const old = await byAge('/old');
    expect(new Set(young).size).toBe(3);

    for (const id of ids) expect((await cluster.call('PATCH', `/v2/apps${id}`, { instances: 1 })).status).toBe(200);
    await cluster.waitDeployments('scaled down to 1');
    // YOUNGEST_FIRST keeps the oldest; OLDEST_FIRST keeps the youngest.
    expect((await cluster.waitHealthy('/young', 1))[0].id).toBe(young[0]);
    expect((await cluster.waitHealthy('/old', 1))[0].id).toBe(old[2]);
    for (const id of ids) await cluster.call('DELETE', `/v2/apps${id}`);
    await cluster.waitDeployments('young and old removed');
  });
});
