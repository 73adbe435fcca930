/**
 * A master failover as a framework lives through it, against the real master and simulated agents
 * over a real nats-server: the registry is on JetStream KV, master 1 goes away (stopped, or cut off
 * so that its lease has to lapse), master 2 takes over with a new epoch, and the SDK client
 * re-subscribes with its id by itself, learns through reconciliation that every task still runs,
 * and launches again.
 */

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LeaderElectedSchema, safeDecode, subjects, type TaskStatus } from '@stoa/core';
import { NatsKvStore, type NatsTransport } from '@stoa/core/nats';
import type { MasterHandle } from '@stoa/master';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { SchedulerClient } from '../src/scheduler-client.js';
import { TaskLauncher } from './fixtures/task-launcher.js';
import { TestCluster } from './master-cluster.js';

const TASKS = 20;
const LEASE_MS = 1500;

let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** A master as a process of its own would run: its own connection, the registry in a shared bucket. */
async function startMasterOn(c: TestCluster, bucket: string): Promise<{ master: MasterHandle; transport: NatsTransport }> {
  const transport = await c.transport('master');
  const store = await NatsKvStore.open(transport.connection, { bucket });
  c.defer(() => store.close());
  const master = await c.startMaster({ transport, store, leaseMs: LEASE_MS });
  return { master, transport };
}

/**
 * Runs a framework with {@link TASKS} tasks through a failover; `end` makes master 1 go away.
 * Returns how long after master 2's start the client was subscribed again, and after what.
 */
async function rideOutFailover(end: (master: { master: MasterHandle; transport: NatsTransport }) => Promise<void>): Promise<void> {
  const c = await TestCluster.start({ jetstream: true });
  cluster = c;
  const bucket = `sdk-failover-${randomUUID().slice(0, 8)}`;
  const first = await startMasterOn(c, bucket);
  const agents = await c.startAgents(4);

  // When LEADER_ELECTED goes out, as anyone listening hears it.
  const observer = await c.transport('observer');
  const electedAt = new Map<number, number>();
  observer.subscribe(subjects('stoa').leader, {
    callback: (msg) => {
      const r = safeDecode(LeaderElectedSchema, msg.data);
      if (r.ok) electedAt.set(r.value.epoch, performance.now());
    },
  });

  const client = await SchedulerClient.connect({
    transport: await c.transport('framework'),
    framework: { name: 'survivor', principal: 'alice', failoverTimeoutMs: 60_000 },
    reconcile: { initialBackoffMs: 200, maxBackoffMs: 1000 },
    // Long enough that only LEADER_ELECTED, not the end of a backoff, can explain a quick return.
    subscribeBackoff: { initialBackoffMs: 10_000, maxBackoffMs: 10_000 },
  });
  c.defer(() => client.close());
  const subscribedAt: number[] = [];
  const statuses: TaskStatus[] = [];
  client.on('SUBSCRIBED', () => {
    subscribedAt.push(performance.now());
  });
  client.on('UPDATE', (event) => {
    statuses.push(...event.statuses);
  });
  const launcher = new TaskLauncher(client, { idPrefix: 'long-' });
  const ids = await launcher.launch(TASKS);
  await waitFor(() => ids.every((id) => client.tasks.get(id)?.state === 'TASK_RUNNING'), { what: 'every task running' });
  await waitFor(() => c.unacknowledgedUpdates() === 0, { what: 'every update acknowledged' });
  const frameworkId = client.frameworkId;
  const onAgents = c.runningOnAgents(frameworkId);
  expect(onAgents).toHaveLength(TASKS);
  expect(client.stats.subscriptions).toBe(1);

  await end(first);
  await waitFor(() => client.state === 'subscribing', { what: 'the client to notice that master 1 is gone' });

  const heardBefore = statuses.length;
  const startedAt = performance.now();
  const second = await startMasterOn(c, bucket);
  await second.master.waitLeading();
  expect(second.master.epoch).toBeGreaterThan(first.master.epoch);

  await waitFor(() => client.state === 'subscribed' && client.subscription?.masterId === second.master.masterId, {
    timeoutMs: 20_000,
    intervalMs: 1,
    what: 'the client to re-subscribe with master 2',
  });
  await waitFor(() => subscribedAt.length === 2, { what: 'SUBSCRIBED from master 2' });
  const elected = await waitFor(() => electedAt.get(second.master.epoch), { what: 'LEADER_ELECTED of master 2' });
  const resubscribed = subscribedAt[1]!;
  console.log(
    `master failover: master 2 led ${(elected - startedAt).toFixed(0)} ms after it started; the client was subscribed again ` +
      `${(resubscribed - startedAt).toFixed(0)} ms after master 2 started (${(resubscribed - elected).toFixed(0)} ms after LEADER_ELECTED)`,
  );
  expect(resubscribed - elected).toBeLessThan(2000);
  expect(client.frameworkId).toBe(frameworkId);
  expect(client.subscription?.epoch).toBe(second.master.epoch);
  expect(client.stats.subscriptions).toBe(2);

  // Agents re-register with master 2, and reconciliation settles every task at TASK_RUNNING.
  await waitFor(() => agents.agents.every((a) => a.state === 'registered' && a.epoch === second.master.epoch), { what: 'agents re-registered' });
  await waitFor(() => second.master.context.frameworks.get(frameworkId)?.tasks.size === TASKS, { what: 'master 2 to know every task' });
  await waitFor(
    () => ids.every((id) => statuses.slice(heardBefore).some((s) => s.taskId === id && s.reason === 'REASON_RECONCILIATION')),
    { timeoutMs: 20_000, what: 'a reconciliation answer for every task from master 2' },
  );
  expect(statuses.slice(heardBefore).filter((s) => s.state !== 'TASK_RUNNING')).toEqual([]);
  expect(ids.every((id) => client.tasks.get(id)?.state === 'TASK_RUNNING')).toBe(true);
  expect(c.runningOnAgents(frameworkId)).toEqual(onAgents);
  expect(second.master.context.frameworks.get(frameworkId)?.state).toBe('CONNECTED');

  // New launches go through master 2.
  const more = await launcher.launch(5);
  await waitFor(() => more.every((id) => client.tasks.get(id)?.state === 'TASK_RUNNING'), { what: 'the new tasks running' });
  expect(c.runningOnAgents(frameworkId)).toHaveLength(TASKS + 5);
  await waitFor(() => c.unacknowledgedUpdates() === 0, { what: 'the new tasks’ updates acknowledged' });
}

describe('a master failover is ridden out: same framework id, tasks kept, launches work again', () => {
  it('when master 1 stops (giving its lease up)', async () => {
    await rideOutFailover(async ({ master, transport }) => {
      await master.stop();
      await transport.close();
    });
  });

  it('when master 1 is cut off (master 2 waits for its lease to lapse)', async () => {
    await rideOutFailover(async ({ transport }) => {
      // Its connection goes as in a crash: it can neither renew its lease nor give it up.
      await transport.close();
    });
  });
});
