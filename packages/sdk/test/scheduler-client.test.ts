/**
 * The scheduler client against the scripted fake master over `MemoryTransport`: the
 * subscription handshake, calls, acknowledgements, heartbeats, re-subscription, gap detection
 * and reconciliation, including recovery from events dropped on purpose.
 */

import {
  decode,
  encodeTrusted,
  InvalidOperationError,
  MemoryBus,
  MemoryTransport,
  NotFoundError,
  NotLeaderError,
  parseResources,
  type SchedulerEvent,
  SchedulerEventSchema,
  type TaskInfo,
  type TaskStatus,
  TimeoutError,
  type Transport,
  UnauthorizedError,
  UnavailableError,
} from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { LossyTransport } from '../src/lossy-transport.js';
import { SchedulerClient, type SchedulerClientOptions } from '../src/scheduler-client.js';
import { FakeMaster, type FakeMasterOptions } from './fake-master.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Lets the event loop turn a few times (delivery on MemoryTransport takes one turn): not a sleep. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Wraps a transport and logs `subscribe <subject>` and `request <subject>` in order. */
function recording(inner: Transport, log: string[]): Transport {
  return new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === 'subscribe' || prop === 'request') {
        return (subject: string, ...rest: unknown[]) => {
          log.push(`${prop} ${subject}`);
          return (value as (...args: unknown[]) => unknown).call(target, subject, ...rest);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function task(taskId: string, agentId = 'agent-1'): TaskInfo {
  return { taskId, name: taskId, agentId, resources: parseResources('cpus:0.1;mem:32'), command: { value: 'true' } };
}

interface Setup {
  bus: MemoryBus;
  master: FakeMaster;
  client: SchedulerClient;
  clientTransport: Transport;
}

function startMaster(bus: MemoryBus, options: Partial<FakeMasterOptions> = {}): FakeMaster {
  const transport = MemoryTransport.create({ bus });
  const master = FakeMaster.start({ transport, ...options });
  cleanups.push(async () => {
    master.stop();
    await transport.close();
  });
  return master;
}

function clientOptions(transport: Transport, options: Partial<SchedulerClientOptions> = {}): SchedulerClientOptions {
  return {
    transport,
    framework: { name: 'test', principal: 'alice' },
    requestTimeoutMs: 500,
    subscribeBackoff: { initialBackoffMs: 5, maxBackoffMs: 40 },
    reconcile: { initialBackoffMs: 30, maxBackoffMs: 120 },
    ...options,
  };
}

async function setup(
  options: { master?: Partial<FakeMasterOptions>; client?: Partial<SchedulerClientOptions>; wrap?: (t: Transport) => Transport } = {},
): Promise<Setup> {
  const bus = new MemoryBus();
  const master = startMaster(bus, options.master);
  const raw = MemoryTransport.create({ bus });
  cleanups.push(() => raw.close());
  const clientTransport = options.wrap ? options.wrap(raw) : raw;
  const client = await SchedulerClient.connect(clientOptions(clientTransport, options.client));
  cleanups.push(() => client.close());
  // The implicit reconciliation every subscription starts with, so tests begin from a quiet state.
  await master.waitCall('RECONCILE', (c) => c.tasks.length === 0);
  return { bus, master, client, clientTransport };
}

/** Launches tasks through an offer, the way a framework does. */
async function launch(s: Setup, ...taskIds: string[]): Promise<void> {
  const offer = s.master.offer(s.client.frameworkId);
  await s.client.accept([offer.id], [{ type: 'LAUNCH', tasks: taskIds.map((id) => task(id)) }]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('subscription', () => {
  it('subscribes to its event subject before sending SUBSCRIBE with an id it chose', async () => {
    const log: string[] = [];
    const s = await setup({ wrap: (t) => recording(t, log) });
    const id = s.client.frameworkId;
    expect(id).toMatch(UUID);
    expect(s.client.state).toBe('subscribed');
    const eventSub = log.indexOf(`subscribe stoa.framework.alice.${id}`);
    const subscribeCall = log.indexOf('request stoa.master.scheduler.alice');
    expect(eventSub).toBeGreaterThanOrEqual(0);
    expect(subscribeCall).toBeGreaterThan(eventSub);
    const [call] = s.master.callsOf('SUBSCRIBE');
    expect(call?.frameworkInfo).toMatchObject({ id, name: 'test', principal: 'alice' });
    expect(s.client.subscription).toEqual({ frameworkId: id, heartbeatIntervalMs: 60_000, masterId: 'fake-master', epoch: 1 });
  });

  it('hands SUBSCRIBED, which came before anyone listened, to the first listener', async () => {
    const s = await setup();
    const events = s.client.events();
    const first = await events.next();
    expect(first.value).toMatchObject({ type: 'SUBSCRIBED', seq: 0, frameworkId: s.client.frameworkId });
    await events.return?.();
  });

  it('fails over with a given framework id', async () => {
    const s = await setup({ client: { framework: { name: 'test', principal: 'alice', id: 'my-framework', roles: ['web'] } } });
    expect(s.client.frameworkId).toBe('my-framework');
    expect(s.master.callsOf('SUBSCRIBE')[0]?.frameworkInfo).toMatchObject({ id: 'my-framework', roles: ['web'] });
  });

  it('retries while no master answers and subscribes once one starts', async () => {
    const bus = new MemoryBus();
    const log: string[] = [];
    const transport = MemoryTransport.create({ bus });
    cleanups.push(() => transport.close());
    const connecting = SchedulerClient.connect(clientOptions(recording(transport, log)));
    await waitFor(() => log.filter((l) => l.startsWith('request')).length >= 3, { what: 'three SUBSCRIBE attempts' });
    const master = startMaster(bus);
    const client = await connecting;
    cleanups.push(() => client.close());
    expect(client.state).toBe('subscribed');
    expect(master.callsOf('SUBSCRIBE')).toHaveLength(1);
    expect(master.callsOf('SUBSCRIBE')[0]?.frameworkInfo.id).toBe(client.frameworkId);
  });

  it('gives up after connectTimeoutMs with a TimeoutError', async () => {
    const transport = MemoryTransport.create({ bus: new MemoryBus() });
    cleanups.push(() => transport.close());
    const error = await SchedulerClient.connect(clientOptions(transport, { connectTimeoutMs: 100 })).catch((e: unknown) => e);
    expect(TimeoutError.isInstance(error)).toBe(true);
  });

  it('rejects at once when the master refuses the subscription', async () => {
    const bus = new MemoryBus();
    const master = startMaster(bus);
    master.failNext('SUBSCRIBE', { code: 'UNAUTHORIZED', message: 'not yours' });
    const transport = MemoryTransport.create({ bus });
    cleanups.push(() => transport.close());
    const error = await SchedulerClient.connect(clientOptions(transport)).catch((e: unknown) => e);
    expect(UnauthorizedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe('not yours');
    expect(master.callsOf('SUBSCRIBE')).toHaveLength(1);
  });

  it('refuses invalid options with a ValidationError naming the field', async () => {
    const transport = MemoryTransport.create({ bus: new MemoryBus() });
    cleanups.push(() => transport.close());
    const error = await SchedulerClient.connect(clientOptions(transport, { framework: { name: 'x', principal: 'a.b' } })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VALIDATION_ERROR', field: 'framework.principal' });
  });
});

describe('calls', () => {
  it('accepts offers with operations and tracks the launched tasks', async () => {
    const s = await setup();
    const accepted = deferred();
    s.client.on('OFFERS', async (event) => {
      const ops = event.offers.map((o) => ({ type: 'LAUNCH' as const, tasks: [task(`t-${o.agentId}`, o.agentId)] }));
      await s.client.accept(
        event.offers.map((o) => o.id),
        ops,
        { refuseMs: 1000 },
      );
      accepted.resolve();
    });
    const offers = [s.master.offer(s.client.frameworkId, 'a1'), s.master.offer(s.client.frameworkId, 'a2')];
    s.master.send(s.client.frameworkId, { type: 'OFFERS', offers });
    const call = await s.master.waitCall('ACCEPT');
    await accepted.promise;
    expect(call.offerIds).toEqual(offers.map((o) => o.id));
    expect(call.filters).toEqual({ refuseMs: 1000 });
    expect(call.operations.flatMap((op) => (op.type === 'LAUNCH' ? op.tasks.map((t) => [t.taskId, t.agentId]) : []))).toEqual([
      ['t-a1', 'a1'],
      ['t-a2', 'a2'],
    ]);
    expect(s.client.tasks.get('t-a1')).toMatchObject({ agentId: 'a1', state: undefined, terminal: false });
    s.master.setTaskState(s.client.frameworkId, 't-a1', 'TASK_RUNNING');
    await waitFor(() => s.client.tasks.get('t-a1')?.state === 'TASK_RUNNING', { what: 't-a1 running in the view' });
    s.master.setTaskState(s.client.frameworkId, 't-a1', 'TASK_FINISHED');
    await waitFor(() => s.client.tasks.get('t-a1')?.terminal, { what: 't-a1 terminal in the view' });
    expect([...s.client.tasks.nonTerminal()].map((t) => t.taskId)).toEqual(['t-a2']);
  });

  it('throws the typed error the master answers, and forgets launches it refused', async () => {
    const s = await setup();
    s.master.failNext('ACCEPT', { code: 'INVALID_OPERATION', message: 'offer rescinded', details: { offerId: 'o' } });
    const error = await launch(s, 'refused').catch((e: unknown) => e);
    expect(InvalidOperationError.isInstance(error)).toBe(true);
    expect((error as InvalidOperationError).details).toEqual({ offerId: 'o' });
    expect(s.client.tasks.has('refused')).toBe(false);
    s.master.failNext('DECLINE', { code: 'NOT_FOUND', message: 'no such offer' });
    await expect(s.client.decline('o-1')).rejects.toSatisfy((e) => NotFoundError.isInstance(e));
  });

  it('sends the other calls with the framework id', async () => {
    const s = await setup();
    await launch(s, 'k1');
    const id = s.client.frameworkId;
    await s.client.decline(['o-1', 'o-2'], { refuseMs: 5000 });
    await s.client.suppress();
    await s.client.revive('web');
    await s.client.kill('k1');
    await s.client.kill([{ taskId: 'x', agentId: 'a9', killPolicy: { gracePeriodMs: 10 } }, 'unknown-task']);
    await s.client.shutdown('agent-1', 'exec-1');
    await s.client.message('agent-1', 'exec-1', new Uint8Array([1, 2]));
    await s.client.reconcile(['k1']);
    await s.client.updateFramework({ labels: { team: 'a' } });
    const calls = s.master.calls.map((c) => c.call).filter((c) => c.type !== 'SUBSCRIBE' && c.type !== 'RECONCILE' && c.type !== 'ACCEPT');
    expect(calls.every((c) => 'frameworkId' in c && c.frameworkId === id)).toBe(true);
    expect(s.master.callsOf('DECLINE')[0]).toMatchObject({ offerIds: ['o-1', 'o-2'], filters: { refuseMs: 5000 } });
    expect(s.master.callsOf('SUPPRESS')[0]?.roles).toBeUndefined();
    expect(s.master.callsOf('REVIVE')[0]?.roles).toEqual(['web']);
    expect(s.master.callsOf('KILL').map((c) => c.kills)).toEqual([
      [{ taskId: 'k1', agentId: 'agent-1' }],
      [{ taskId: 'x', agentId: 'a9', killPolicy: { gracePeriodMs: 10 } }, { taskId: 'unknown-task' }],
    ]);
    expect(s.master.callsOf('SHUTDOWN')[0]).toMatchObject({ agentId: 'agent-1', executorId: 'exec-1' });
    expect(Array.from(s.master.callsOf('MESSAGE')[0]?.data ?? [])).toEqual([1, 2]);
    expect(s.master.callsOf('RECONCILE').some((c) => c.tasks.length === 1 && c.tasks[0]?.taskId === 'k1')).toBe(true);
    expect(s.master.callsOf('UPDATE_FRAMEWORK')[0]?.frameworkInfo).toMatchObject({ id, name: 'test', principal: 'alice', labels: { team: 'a' } });
    expect(s.client.framework.labels).toEqual({ team: 'a' });
  });

  it('keeps suppressed roles across a re-subscription', async () => {
    const s = await setup({ client: { framework: { name: 'test', principal: 'alice', roles: ['web', 'batch'] } } });
    await s.client.suppress('batch');
    s.master.announceLeader(2);
    const again = await s.master.waitCall('SUBSCRIBE', () => true, { nth: 2 });
    expect(again.suppressedRoles).toEqual(['batch']);
  });

  it('teardown sends TEARDOWN and closes the client', async () => {
    const s = await setup();
    await s.client.teardown();
    expect(s.master.callsOf('TEARDOWN')).toHaveLength(1);
    expect(s.client.state).toBe('closed');
    await expect(s.client.decline('o')).rejects.toSatisfy((e) => UnavailableError.isInstance(e));
  });
});

describe('acknowledgements', () => {
  it('acknowledges statuses with a uuid once, after the handlers resolve, in one batched call', async () => {
    const s = await setup();
    const gate = deferred();
    const seen: TaskStatus[] = [];
    s.client.on('UPDATE', async (event) => {
      seen.push(...event.statuses);
      await gate.promise;
    });
    const base = { source: 'SOURCE_AGENT', agentId: 'agent-1', timestampMs: 1 } as const;
    s.master.send(s.client.frameworkId, {
      type: 'UPDATE',
      statuses: [
        { ...base, taskId: 'a', state: 'TASK_RUNNING', uuid: 'u1' },
        { ...base, taskId: 'b', state: 'TASK_RUNNING', uuid: 'u2' },
        { ...base, taskId: 'c', state: 'TASK_RUNNING' },
      ],
    });
    s.master.send(s.client.frameworkId, { type: 'UPDATE', statuses: [{ ...base, taskId: 'd', state: 'TASK_FAILED', uuid: 'u3' }] });
    await waitFor(() => seen.length === 4, { what: 'both updates handled' });
    await turns();
    expect(s.master.callsOf('ACKNOWLEDGE')).toHaveLength(0);
    gate.resolve();
    const ack = await s.master.waitCall('ACKNOWLEDGE');
    expect(ack.acks).toEqual([
      { agentId: 'agent-1', taskId: 'a', uuid: 'u1' },
      { agentId: 'agent-1', taskId: 'b', uuid: 'u2' },
      { agentId: 'agent-1', taskId: 'd', uuid: 'u3' },
    ]);
    await turns();
    expect(s.master.callsOf('ACKNOWLEDGE')).toHaveLength(1);
    await waitFor(() => s.client.stats.acknowledged === 3, { what: 'three acknowledged' });
  });

  it('acknowledges an UPDATE from events() when the loop asks for the next event', async () => {
    const s = await setup();
    const gate = deferred();
    const got: SchedulerEvent[] = [];
    const consumer = (async () => {
      for await (const event of s.client.events()) {
        got.push(event);
        if (event.type === 'UPDATE') await gate.promise;
        if (event.type === 'HEARTBEAT') break;
      }
    })();
    s.master.setTaskState(s.client.frameworkId, 'x', 'TASK_RUNNING', { uuid: 'ux' });
    await waitFor(() => got.some((e) => e.type === 'UPDATE'), { what: 'the UPDATE in the loop' });
    await turns();
    expect(s.master.callsOf('ACKNOWLEDGE')).toHaveLength(0);
    gate.resolve();
    const ack = await s.master.waitCall('ACKNOWLEDGE');
    expect(ack.acks).toEqual([{ agentId: 'agent-1', taskId: 'x', uuid: 'ux' }]);
    s.master.send(s.client.frameworkId, { type: 'HEARTBEAT' });
    await consumer;
    expect(got.map((e) => e.type)).toEqual(['SUBSCRIBED', 'UPDATE', 'HEARTBEAT']);
  });

  it('does not acknowledge statuses whose handler failed (the agent sends them again)', async () => {
    const s = await setup();
    let calls = 0;
    s.client.on('UPDATE', () => {
      calls++;
      if (calls === 1) throw new Error('boom');
    });
    s.client.on('UPDATE', async () => {
      if (calls === 2) throw new Error('async boom');
    });
    s.master.setTaskState(s.client.frameworkId, 'x', 'TASK_RUNNING', { uuid: 'u1' });
    s.master.setTaskState(s.client.frameworkId, 'x', 'TASK_RUNNING', { uuid: 'u2' });
    s.master.setTaskState(s.client.frameworkId, 'x', 'TASK_RUNNING', { uuid: 'u3' });
    const ack = await s.master.waitCall('ACKNOWLEDGE');
    expect(ack.acks.map((a) => a.uuid)).toEqual(['u3']);
    expect(s.client.state).toBe('subscribed');
  });

  it('with autoAcknowledge false leaves acknowledging to the framework', async () => {
    const s = await setup({ client: { autoAcknowledge: false } });
    const statuses: TaskStatus[] = [];
    s.client.on('UPDATE', (event) => {
      statuses.push(...event.statuses);
    });
    s.master.setTaskState(s.client.frameworkId, 'm1', 'TASK_RUNNING', { uuid: 'um1', agentId: 'a7' });
    s.master.setTaskState(s.client.frameworkId, 'm2', 'TASK_RUNNING', { uuid: false });
    await waitFor(() => statuses.length === 2, { what: 'two statuses' });
    await turns();
    expect(s.master.callsOf('ACKNOWLEDGE')).toHaveLength(0);
    await s.client.acknowledge(statuses);
    expect(s.master.callsOf('ACKNOWLEDGE').map((c) => c.acks)).toEqual([[{ agentId: 'a7', taskId: 'm1', uuid: 'um1' }]]);
  });

  it('ends an events() iterator when its signal aborts, while callbacks keep hearing events', async () => {
    const s = await setup();
    const controller = new AbortController();
    const got: string[] = [];
    const consumer = (async () => {
      for await (const event of s.client.events({ signal: controller.signal })) {
        got.push(event.type);
        if (event.type === 'RESCIND') controller.abort();
      }
    })();
    let rescinds = 0;
    s.client.on('RESCIND', () => {
      rescinds++;
    });
    s.master.send(s.client.frameworkId, { type: 'RESCIND', offerIds: ['o1'] });
    await consumer;
    s.master.send(s.client.frameworkId, { type: 'RESCIND', offerIds: ['o2'] });
    await waitFor(() => rescinds === 2, { what: 'the second RESCIND heard by the callback' });
    expect(got).toEqual(['SUBSCRIBED', 'RESCIND']);
  });

  it('an unsubscribed handler hears nothing more', async () => {
    const s = await setup();
    let heard = 0;
    const off = s.client.on('HEARTBEAT', () => {
      heard++;
    });
    s.master.send(s.client.frameworkId, { type: 'HEARTBEAT' });
    await waitFor(() => heard === 1, { what: 'one heartbeat heard' });
    off();
    const other = deferred();
    s.client.on('RESCIND', () => other.resolve());
    s.master.send(s.client.frameworkId, { type: 'HEARTBEAT' });
    s.master.send(s.client.frameworkId, { type: 'RESCIND', offerIds: ['o'] });
    await other.promise;
    expect(heard).toBe(1);
  });
});

describe('liveness', () => {
  it('sends heartbeats at the interval the master gave', async () => {
    const s = await setup({ master: { heartbeatIntervalMs: 50 } });
    await s.master.waitCall('HEARTBEAT', () => true, { nth: 3 });
    expect(s.master.callsOf('HEARTBEAT').every((c) => c.frameworkId === s.client.frameworkId)).toBe(true);
    expect(s.client.stats.subscriptions).toBe(1);
  });

  it('re-subscribes with the same id when the master goes silent', async () => {
    const s = await setup({ master: { heartbeatIntervalMs: 25 }, client: { requestTimeoutMs: 100 } });
    s.master.silent = true;
    await waitFor(() => s.client.state === 'subscribing', { what: 'the client to notice the silence' });
    await s.master.waitCall('SUBSCRIBE', () => true, { nth: 2 });
    s.master.silent = false;
    await waitFor(() => s.client.state === 'subscribed', { what: 're-subscribed' });
    const ids = s.master.callsOf('SUBSCRIBE').map((c) => c.frameworkInfo.id);
    expect(new Set(ids)).toEqual(new Set([s.client.frameworkId]));
    expect(s.client.stats.resubscribes).toBe(1);
    expect(s.client.stats.subscriptions).toBe(2);
  });

  it('re-subscribes when a new leader is elected, and ignores announcements of old epochs', async () => {
    const s = await setup({ master: { epoch: 3 } });
    s.master.announceLeader(2);
    s.master.announceLeader(4, 'master-b');
    await s.master.waitCall('SUBSCRIBE', () => true, { nth: 2 });
    await waitFor(() => s.client.subscription?.epoch === 4, { what: 'subscribed at epoch 4' });
    expect(s.client.subscription?.masterId).toBe('master-b');
    expect(s.master.callsOf('SUBSCRIBE')).toHaveLength(2);
    expect(s.master.callsOf('SUBSCRIBE')[1]?.frameworkInfo.id).toBe(s.client.frameworkId);
  });

  it('re-subscribes when a call meets a master that does not lead', async () => {
    const s = await setup();
    s.master.failNext('DECLINE', { code: 'NOT_LEADER', message: 'ask master-b' });
    await expect(s.client.decline('o')).rejects.toSatisfy((e) => NotLeaderError.isInstance(e));
    await s.master.waitCall('SUBSCRIBE', () => true, { nth: 2 });
    await waitFor(() => s.client.state === 'subscribed', { what: 're-subscribed' });
  });

  it('makes calls wait for a re-subscription in progress', async () => {
    const s = await setup({ client: { requestTimeoutMs: 2000 } });
    s.master.stop();
    s.master.announceLeader(2, 'master-b');
    await waitFor(() => s.client.state === 'subscribing', { what: 're-subscribing' });
    const declined = s.client.decline('o-9');
    const next = startMaster(s.bus, { epoch: 2, masterId: 'master-b' });
    await declined;
    expect(next.callsOf('DECLINE')).toHaveLength(1);
    expect(s.client.subscription?.masterId).toBe('master-b');
  });

  it('fails calls with UnavailableError when the re-subscription takes longer than requestTimeoutMs', async () => {
    const s = await setup({ client: { requestTimeoutMs: 100 } });
    s.master.stop();
    s.master.announceLeader(2);
    await waitFor(() => s.client.state === 'subscribing', { what: 're-subscribing' });
    await expect(s.client.decline('o')).rejects.toSatisfy((e) => UnavailableError.isInstance(e));
  });

  it('re-subscribes when a heartbeat finds no master, and comes back when one starts', async () => {
    const s = await setup({ master: { heartbeatIntervalMs: 25 } });
    s.master.stop();
    await waitFor(() => s.client.state === 'subscribing', { what: 're-subscribing' });
    startMaster(s.bus, { heartbeatIntervalMs: 25 });
    await waitFor(() => s.client.state === 'subscribed', { what: 'subscribed to the new master' });
  });
});

describe('gaps and reconciliation', () => {
  it('reconciles the known non-terminal tasks on a seq gap', async () => {
    const s = await setup();
    await launch(s, 't1', 't2', 't3');
    s.master.setTaskState(s.client.frameworkId, 't3', 'TASK_FINISHED');
    await waitFor(() => s.client.tasks.get('t3')?.terminal, { what: 't3 finished' });
    const before = s.master.callsOf('RECONCILE').length;
    s.master.skipSeq(s.client.frameworkId, 2);
    s.master.send(s.client.frameworkId, { type: 'HEARTBEAT' });
    const call = await s.master.waitCall('RECONCILE', (c) => c.tasks.length > 0);
    expect(call.tasks.map((t) => t.taskId).sort()).toEqual(['t1', 't2']);
    expect(call.tasks.every((t) => t.agentId === 'agent-1')).toBe(true);
    expect(s.master.callsOf('RECONCILE').length).toBe(before + 1);
    expect(s.client.stats.seqGaps).toBe(1);
    // The fake master answers with the true states (still STAGING); no retry follows.
    await waitFor(() => s.client.tasks.get('t1')?.state === 'TASK_STAGING', { what: 't1 reconciled' });
  });

  it('after a re-subscription reconciles explicitly and once implicitly', async () => {
    const s = await setup();
    await launch(s, 'r1');
    const before = s.master.callsOf('RECONCILE').length;
    expect(s.master.callsOf('RECONCILE')[0]?.tasks).toEqual([]); // the first subscription: implicit only
    s.master.announceLeader(2);
    await s.master.waitCall('SUBSCRIBE', () => true, { nth: 2 });
    await waitFor(() => s.master.callsOf('RECONCILE').length >= before + 2, { what: 'two RECONCILE calls' });
    const after = s.master.callsOf('RECONCILE').slice(before);
    expect(after.map((c) => c.tasks.map((t) => t.taskId))).toEqual([['r1'], []]);
  });

  it('asks again with backoff until every task has an answer', async () => {
    const s = await setup({ master: { answerReconcile: false } });
    await launch(s, 'q1', 'q2');
    s.master.skipSeq(s.client.frameworkId);
    s.master.send(s.client.frameworkId, { type: 'HEARTBEAT' });
    await s.master.waitCall('RECONCILE', (c) => c.tasks.length === 2, { nth: 3 });
    s.master.setTaskState(s.client.frameworkId, 'q1', 'TASK_RUNNING', { uuid: false });
    await s.master.waitCall('RECONCILE', (c) => c.tasks.length === 1 && c.tasks[0]?.taskId === 'q2');
    s.master.answerReconcile = true;
    await waitFor(() => s.client.tasks.get('q2')?.state === 'TASK_STAGING', { what: 'q2 answered' });
  });

  it('recovers task states from updates dropped on purpose', async () => {
    let lossy: LossyTransport | undefined;
    const s = await setup({
      wrap: (t) => {
        lossy = new LossyTransport(t);
        return lossy;
      },
    });
    const rule = lossy!.drop({
      subject: 'stoa.framework.>',
      select: (msg) => decode(SchedulerEventSchema, msg.data).type === 'UPDATE',
      limit: 2,
    });
    await launch(s, 'l1', 'l2', 'l3');
    const handled: string[] = [];
    s.client.on('UPDATE', (e) => {
      for (const st of e.statuses) handled.push(`${st.taskId}:${st.state}`);
    });
    s.master.setTaskState(s.client.frameworkId, 'l1', 'TASK_RUNNING');
    s.master.setTaskState(s.client.frameworkId, 'l2', 'TASK_FAILED');
    s.master.setTaskState(s.client.frameworkId, 'l3', 'TASK_RUNNING');
    await waitFor(() => rule.dropped === 2, { what: 'two updates dropped' });
    await waitFor(() => s.client.tasks.get('l1')?.state === 'TASK_RUNNING' && s.client.tasks.get('l2')?.state === 'TASK_FAILED', {
      what: 'the dropped states recovered',
    });
    expect(s.client.stats.seqGaps).toBe(1);
    expect(handled).toContain('l1:TASK_RUNNING');
    expect(handled).toContain('l2:TASK_FAILED');
  });

  it('recovers every task when a share of all events is lost for a while', async () => {
    let lossy: LossyTransport | undefined;
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const s = await setup({
      master: { heartbeatIntervalMs: 20 },
      wrap: (t) => {
        lossy = new LossyTransport(t, { random });
        return lossy;
      },
    });
    const ids = Array.from({ length: 30 }, (_, i) => `p${i}`);
    await launch(s, ...ids);
    const rule = lossy!.drop({ subject: 'stoa.framework.>', fraction: 0.4, limit: 40 });
    for (const id of ids) s.master.setTaskState(s.client.frameworkId, id, 'TASK_RUNNING');
    await waitFor(() => ids.every((id) => s.client.tasks.get(id)?.state === 'TASK_RUNNING'), {
      what: 'every task running in the view',
    });
    expect(rule.dropped).toBeGreaterThan(0);
    expect(s.client.stats.seqGaps).toBeGreaterThan(0);
  });

  it('counts and drops invalid events without stopping', async () => {
    const s = await setup();
    const heard: string[] = [];
    s.client.on('RESCIND', (e) => {
      heard.push(...e.offerIds);
    });
    s.master.sendRaw(s.client.frameworkId, new Uint8Array([0xc1, 0xff, 0x00]));
    s.master.sendRaw(s.client.frameworkId, encodeTrusted({ v: 2, seq: 1, type: 'RESCIND', offerIds: ['bad'] }));
    s.master.sendRaw(s.client.frameworkId, encodeTrusted({ v: 1, seq: 1, type: 'NOPE' }));
    s.master.send(s.client.frameworkId, { type: 'RESCIND', offerIds: ['good'] });
    await waitFor(() => heard.length === 1, { what: 'the valid event' });
    expect(heard).toEqual(['good']);
    expect(s.client.stats.invalidEvents).toBe(3);
    expect(s.client.stats.seqGaps).toBe(0);
    expect(s.client.state).toBe('subscribed');
  });

  it('learns tasks it did not launch from updates (a restarted framework)', async () => {
    const s = await setup();
    s.master.setTaskState(s.client.frameworkId, 'old-task', 'TASK_RUNNING', { uuid: false, agentId: 'a3' });
    await waitFor(() => s.client.tasks.get('old-task'), { what: 'old-task in the view' });
    expect(s.client.tasks.get('old-task')).toMatchObject({ agentId: 'a3', state: 'TASK_RUNNING', info: undefined });
    expect(s.client.tasks.forget('old-task')).toBe(true);
    expect(s.client.tasks.size).toBe(0);
  });

  it('keeps only the newest terminal tasks', async () => {
    const s = await setup({ client: { retainTerminalTasks: 2 } });
    await launch(s, 'x1', 'x2', 'x3', 'live');
    for (const id of ['x1', 'x2', 'x3']) s.master.setTaskState(s.client.frameworkId, id, 'TASK_FINISHED');
    await waitFor(() => s.client.tasks.get('x3')?.terminal, { what: 'x3 finished' });
    expect([...s.client.tasks.values()].map((t) => t.taskId).sort()).toEqual(['live', 'x2', 'x3']);
  });
});

describe('close', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;

  it('leaves no timers behind, ends iterators and refuses calls', async () => {
    const baseline = timers();
    const bus = new MemoryBus();
    const masterTransport = MemoryTransport.create({ bus });
    const master = FakeMaster.start({ transport: masterTransport, heartbeatIntervalMs: 20 });
    const transport = MemoryTransport.create({ bus });
    const client = await SchedulerClient.connect(clientOptions(transport, { reconcile: { initialBackoffMs: 200, maxBackoffMs: 60_000 } }));
    await client.accept('o', [{ type: 'LAUNCH', tasks: [task('c1')] }]);
    // Leave a reconciliation retry pending (the master does not answer it) and heartbeats running.
    master.answerReconcile = false;
    master.skipSeq(client.frameworkId);
    await master.waitCall('RECONCILE', (c) => c.tasks.length === 1);
    await master.waitCall('HEARTBEAT');
    const events = client.events();
    expect((await events.next()).value).toMatchObject({ type: 'SUBSCRIBED' });
    expect(timers()).toBeGreaterThan(baseline);
    await client.close();
    await client.close();
    expect(client.state).toBe('closed');
    expect(await client.closed).toBeUndefined();
    // The iterator hands out what had already arrived, then ends.
    const rest: SchedulerEvent[] = [];
    for await (const event of events) rest.push(event);
    expect(rest.every((e) => e.seq > 0)).toBe(true);
    await expect(client.decline('o')).rejects.toSatisfy((e) => UnavailableError.isInstance(e));
    expect(transport.isClosed).toBe(false); // a given transport stays open
    master.stop();
    await masterTransport.close();
    await transport.close();
    await waitFor(() => timers() <= baseline, { what: `timers back to ${baseline}`, timeoutMs: 2000 });
  });

  it('stops with the error when the transport closes under it', async () => {
    const s = await setup();
    await s.clientTransport.close();
    expect(UnavailableError.isInstance(await s.client.closed)).toBe(true);
    expect(s.client.state).toBe('closed');
  });

  it('supports await using', async () => {
    const bus = new MemoryBus();
    const master = startMaster(bus);
    const transport = MemoryTransport.create({ bus });
    cleanups.push(() => transport.close());
    let escaped: SchedulerClient | undefined;
    {
      await using client = await SchedulerClient.connect(clientOptions(transport));
      escaped = client;
      expect(master.callsOf('SUBSCRIBE')).toHaveLength(1);
    }
    expect(escaped.state).toBe('closed');
  });
});
