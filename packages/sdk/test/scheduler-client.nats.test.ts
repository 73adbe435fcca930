/**
 * The scheduler client over a real `nats-server`: it opens its own connection from `servers` and
 * closes it, runs the offer → launch → update → acknowledge loop, waits for a master that starts
 * late, re-subscribes after the master goes silent, and recovers dropped updates.
 */

import { decode, parseResources, SchedulerEventSchema, type TaskInfo, type Transport } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LossyTransport } from '../src/lossy-transport.js';
import { SchedulerClient } from '../src/scheduler-client.js';
import { FakeMaster } from './fake-master.js';

let nats: NatsServerHandle | undefined;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  nats = await startNats({ jetstream: false });
});

afterAll(async () => {
  await nats?.stop();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function connectTransport(name: string): Promise<NatsTransport> {
  const transport = await NatsTransport.connect({ servers: nats!.servers, name });
  cleanups.push(() => transport.close());
  return transport;
}

async function startMaster(options: { heartbeatIntervalMs?: number } = {}): Promise<FakeMaster> {
  const transport = await connectTransport('fake-master');
  const master = FakeMaster.start({ transport, ...options });
  await transport.flush();
  cleanups.push(() => master.stop());
  return master;
}

const framework = { name: 'nats-test', principal: 'alice' };

function launchable(taskId: string, agentId = 'agent-1'): TaskInfo {
  return { taskId, name: taskId, agentId, resources: parseResources('cpus:1'), command: { value: 'true' } };
}

describe('SchedulerClient over NATS', () => {
  it('connects with servers, launches, acknowledges and closes the connection it opened', async () => {
    const master = await startMaster();
    const client = await SchedulerClient.connect({ servers: nats!.servers, framework });
    expect(client.state).toBe('subscribed');
    expect(master.callsOf('SUBSCRIBE')[0]?.frameworkInfo.id).toBe(client.frameworkId);
    const own = (client as unknown as { transport: Transport }).transport;
    expect(own.kind).toBe('nats');

    client.on('OFFERS', async (event) => {
      await client.accept(
        event.offers.map((o) => o.id),
        event.offers.map((o) => ({ type: 'LAUNCH' as const, tasks: [launchable(`t-${o.agentId}`, o.agentId)] })),
      );
    });
    master.send(client.frameworkId, { type: 'OFFERS', offers: [master.offer(client.frameworkId, 'a1'), master.offer(client.frameworkId, 'a2')] });
    const accept = await master.waitCall('ACCEPT');
    expect(accept.operations).toHaveLength(2);
    master.setTaskState(client.frameworkId, 't-a1', 'TASK_RUNNING', { uuid: 'u-1', agentId: 'a1' });
    master.setTaskState(client.frameworkId, 't-a2', 'TASK_RUNNING', { uuid: 'u-2', agentId: 'a2' });
    await waitFor(() => master.callsOf('ACKNOWLEDGE').flatMap((c) => c.acks).length === 2, { what: 'both updates acknowledged' });
    expect(master.callsOf('ACKNOWLEDGE').flatMap((c) => c.acks.map((a) => a.uuid)).sort()).toEqual(['u-1', 'u-2']);
    expect(client.tasks.get('t-a2')?.state).toBe('TASK_RUNNING');

    await client.close();
    expect(client.state).toBe('closed');
    expect(await client.closed).toBeUndefined();
    expect(own.isClosed).toBe(true);
  });

  it('splits an ACCEPT of more tasks than one message holds into several, by agent, each under the NATS payload limit', async () => {
    const master = await startMaster();
    const client = await SchedulerClient.connect({ servers: nats!.servers, framework });
    cleanups.push(() => client.close());
    const agents = ['a1', 'a2', 'a3', 'a4'];
    const perAgent = 3000;
    const offers = agents.map((a) => master.offer(client.frameworkId, a));
    const accepted = new Promise<void>((resolve, reject) => {
      client.on('OFFERS', async (event) => {
        // 12,000 tasks (about 1.3 MB encoded): one message would exceed the server's 1 MB max_payload.
        const tasks = event.offers.flatMap((o) => Array.from({ length: perAgent }, (_, i) => launchable(`t-${o.agentId}-${i}`, o.agentId)));
        await client.accept(
          event.offers.map((o) => o.id),
          [{ type: 'LAUNCH', tasks }],
        ).then(resolve, reject);
      });
    });
    master.send(client.frameworkId, { type: 'OFFERS', offers });
    await accepted;
    const calls = master.callsOf('ACCEPT');
    // Whole agents per call: an agent's offer travels with its tasks, and no call exceeds 2,000 tasks.
    expect(calls).toHaveLength(agents.length);
    for (const call of calls) {
      const tasks = call.operations.flatMap((op) => (op.type === 'LAUNCH' ? op.tasks : []));
      const offerAgents = call.offerIds.map((id) => offers.find((o) => o.id === id)!.agentId);
      expect(new Set(tasks.map((t) => t.agentId))).toEqual(new Set(offerAgents));
    }
    const all = calls.flatMap((c) => c.operations.flatMap((op) => (op.type === 'LAUNCH' ? op.tasks.map((t) => t.taskId) : [])));
    expect(all).toHaveLength(agents.length * perAgent);
    expect(new Set(all).size).toBe(all.length);
    expect(client.tasks.size).toBe(agents.length * perAgent);
  });

  it('retries while no master answers (no responders) and subscribes once one starts', async () => {
    const transport = await connectTransport('late-client');
    let attempts = 0;
    const counting = new Proxy(transport, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === 'request') {
          return (...args: Parameters<Transport['request']>) => {
            attempts++;
            return target.request(...args);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const connecting = SchedulerClient.connect({ transport: counting, framework, subscribeBackoff: { initialBackoffMs: 10, maxBackoffMs: 50 } });
    await waitFor(() => attempts >= 3, { what: 'three SUBSCRIBE attempts with no master' });
    const master = await startMaster();
    const client = await connecting;
    cleanups.push(() => client.close());
    expect(client.state).toBe('subscribed');
    expect(master.callsOf('SUBSCRIBE')).toHaveLength(1);
  });

  it('re-subscribes with the same id after the master goes silent', async () => {
    const master = await startMaster({ heartbeatIntervalMs: 40 });
    const transport = await connectTransport('client');
    const client = await SchedulerClient.connect({
      transport,
      framework,
      requestTimeoutMs: 200,
      subscribeBackoff: { initialBackoffMs: 10, maxBackoffMs: 50 },
    });
    cleanups.push(() => client.close());
    await master.waitCall('HEARTBEAT');
    master.silent = true;
    await waitFor(() => client.state === 'subscribing', { what: 'the client to notice the silence' });
    master.silent = false;
    await waitFor(() => client.state === 'subscribed', { what: 're-subscribed' });
    expect(new Set(master.callsOf('SUBSCRIBE').map((c) => c.frameworkInfo.id))).toEqual(new Set([client.frameworkId]));
    expect(transport.isClosed).toBe(false);
  });

  it('recovers updates lost on the way through reconciliation', async () => {
    const master = await startMaster();
    const inner = await connectTransport('lossy-client');
    const lossy = new LossyTransport(inner);
    const client = await SchedulerClient.connect({ transport: lossy, framework, reconcile: { initialBackoffMs: 30, maxBackoffMs: 100 } });
    cleanups.push(() => client.close());
    await master.waitCall('RECONCILE');
    const offer = master.offer(client.frameworkId);
    await client.accept(offer.id, [
      { type: 'LAUNCH', tasks: [launchable('x'), launchable('y')] },
    ]);
    const rule = lossy.drop({ subject: 'stoa.framework.>', select: (m) => decode(SchedulerEventSchema, m.data).type === 'UPDATE', limit: 1 });
    master.setTaskState(client.frameworkId, 'x', 'TASK_FINISHED');
    master.setTaskState(client.frameworkId, 'y', 'TASK_RUNNING');
    await waitFor(() => client.tasks.get('x')?.state === 'TASK_FINISHED' && client.tasks.get('y')?.state === 'TASK_RUNNING', {
      what: 'both states known',
    });
    expect(rule.dropped).toBe(1);
    expect(client.stats.seqGaps).toBe(1);
  });
});
