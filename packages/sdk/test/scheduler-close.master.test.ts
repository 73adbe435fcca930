/**
 * Closing a SchedulerClient against the real master over a real nats-server: the master hears it
 * at once (DISCONNECT), not after missed heartbeats — the framework is disconnected with its tasks
 * kept, and the offer it held goes to another framework now. A goodbye of an older subscription
 * (after the framework subscribed again elsewhere) changes nothing. Heartbeats and offer timeouts
 * are a minute here, so neither can be what frees the offer.
 */

import { encode, type FrameworkInfo, type Offer, SchedulerCallSchema, subjects } from '@stoa/core';
import type { MasterHandle } from '@stoa/master';
import { waitFor } from '@stoa/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SchedulerClient } from '../src/scheduler-client.js';
import { TaskLauncher } from './fixtures/task-launcher.js';
import { TestCluster } from './master-cluster.js';

let cluster: TestCluster;
let master: MasterHandle;

beforeEach(async () => {
  cluster = await TestCluster.start();
  master = await cluster.startMaster({ heartbeatIntervalMs: 60_000, offerTimeoutMs: 60_000, allocationIntervalMs: 50 });
  await cluster.startAgents(1, { resources: 'cpus:4;mem:4096' });
});

afterEach(async () => {
  await cluster?.stop();
});

function framework(id: string, name: string): FrameworkInfo {
  return { id, name, principal: 'alice', failoverTimeoutMs: 60_000 };
}

/** A client that keeps every offer it gets (it neither accepts nor declines). */
async function holder(id: string, name: string): Promise<{ client: SchedulerClient; offers: Offer[] }> {
  const client = await SchedulerClient.connect({ servers: cluster.nats.servers, framework: framework(id, name) });
  cluster.defer(() => client.close());
  const offers: Offer[] = [];
  client.on('OFFERS', (e) => {
    offers.push(...e.offers);
  });
  return { client, offers };
}

describe('closing a scheduler client', () => {
  it('disconnects its framework at once: its offer goes to another framework, its tasks stay', async () => {
    const a = await holder('fw-leaving', 'leaving');
    const launcher = new TaskLauncher(a.client, { idPrefix: 'stay-', resources: 'cpus:1;mem:32' });
    const [taskId] = await launcher.launch(1);
    launcher.stop();
    await waitFor(() => cluster.runningOnAgents('fw-leaving').length === 1, { what: "A's task running" });
    // A holds the next offer of the agent (what its task leaves); B, subscribed after, gets nothing meanwhile.
    const mark = a.offers.length;
    await a.client.revive();
    await waitFor(() => a.offers.length > mark, { what: 'an offer A holds' });
    const agentId = a.offers[mark]!.agentId;
    const b = await holder('fw-staying', 'staying');
    expect(b.offers).toEqual([]);

    await a.client.close();
    await waitFor(() => master.context.frameworks.get('fw-leaving')?.state === 'DISCONNECTED', { what: 'A disconnected' });
    await waitFor(() => b.offers.some((o) => o.agentId === agentId), { what: 'the agent offered to B' });
    // A's task runs on: the framework is only disconnected, within its failover timeout.
    expect(cluster.runningOnAgents('fw-leaving')).toEqual([taskId]);
    expect(master.context.frameworks.get('fw-leaving')?.failoverDeadlineMs).toBeGreaterThan(Date.now());
  });

  it('ignores the goodbye of a subscription the framework has left behind', async () => {
    const first = await holder('fw-moved', 'moved');
    const oldStream = first.client.subscription!.streamId!;
    expect(oldStream).toBeTruthy();
    // The framework subscribes again from another client (a new leader of it, say).
    const second = await holder('fw-moved', 'moved');
    expect(second.client.subscription!.streamId).not.toBe(oldStream);
    // The old subscription's DISCONNECT arrives after the new SUBSCRIBE.
    const transport = await cluster.transport('late-goodbye');
    transport.publish(subjects().schedulerCalls('alice'), encode(SchedulerCallSchema, { v: 1, type: 'DISCONNECT', frameworkId: 'fw-moved', streamId: oldStream }));
    await transport.flush();
    // A call after it is answered in order: by then the DISCONNECT was handled.
    await second.client.revive();
    expect(master.context.frameworks.get('fw-moved')?.state).toBe('CONNECTED');
  });
});
