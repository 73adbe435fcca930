import { MemoryBus, MemoryStore, MemoryTransport, parseResources, type Store, type Transport, UnauthorizedError } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type MasterHandle, type MasterOptions, startMaster } from '../src/index.js';
import { FakeAgent, FakeFramework, taskFor } from './peers.js';

interface Env {
  master: MasterHandle;
  transport: Transport;
  store: Store;
  cleanup: Array<() => Promise<void> | void>;
}

type Connect = () => Promise<{ transport: Transport; close: () => Promise<void> }>;

function suite(name: string, connect: () => Connect) {
  describe(`master over ${name}`, () => {
    let env: Env;
    const start = async (options: Partial<MasterOptions> = {}) => {
      const c = await connect()();
      const store = new MemoryStore();
      const master = await startMaster({ transport: c.transport, store, http: false, ...options });
      env = { master, transport: c.transport, store, cleanup: [c.close, () => master.stop()] };
      return env;
    };
    afterEach(async () => {
      for (const f of env?.cleanup.reverse() ?? []) await f();
    });

    it('offers an agent to a framework, launches a task, relays its updates and the acknowledgement', async () => {
      const { transport } = await start();
      const agent = FakeAgent.make(transport, 'h1');
      await agent.register();
      const fw = FakeFramework.make(transport, 'alpha');
      const id = await fw.subscribe();
      expect((await fw.waitEvent('SUBSCRIBED')).seq).toBe(0);
      const [offer] = await fw.waitOffers(new Set());
      expect(offer).toMatchObject({ agentId: agent.agentId, hostname: 'h1', frameworkId: id });
      expect(offer!.resources.find((r) => r.name === 'cpus')?.scalar).toBe(4);

      await fw.accept([offer!.id], [{ type: 'LAUNCH', tasks: [taskFor(offer!, 't1')] }]);
      const [run] = await agent.waitCommand('RUN_TASKS');
      expect(run!.launches[0]!.tasks.map((t) => t.taskId)).toEqual(['t1']);
      expect(run!.epoch).toBe(env.master.epoch);

      const [status] = await agent.update(id, [{ taskId: 't1', state: 'TASK_RUNNING' }]);
      const got = await fw.waitStatus('t1', 'TASK_RUNNING');
      expect(got.uuid).toBe(status!.uuid);
      await fw.call({ v: 1, type: 'ACKNOWLEDGE', frameworkId: id, acks: [{ agentId: agent.agentId, taskId: 't1', uuid: got.uuid! }] });
      const [ack] = await agent.waitCommand('ACKNOWLEDGE');
      expect(ack!.acks).toEqual([{ frameworkId: id, taskId: 't1', uuid: got.uuid }]);

      // The unused part of the offer comes back (after the default refuse filter, so revive to see it now).
      await fw.call({ v: 1, type: 'REVIVE', frameworkId: id });
      const [again] = await fw.waitOffers(new Set([offer!.id]));
      expect(again!.resources.find((r) => r.name === 'cpus')?.scalar).toBe(3);

      // Events are numbered without gaps.
      const seqs = fw.events.map((e) => e.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i));
      agent.stop();
      fw.stop();
    });

    it('holds a decline filter for refuseMs, and REVIVE clears it', async () => {
      const { transport } = await start();
      const agent = FakeAgent.make(transport, 'h1');
      await agent.register();
      const fw = FakeFramework.make(transport, 'alpha');
      const id = await fw.subscribe();
      const [first] = await fw.waitOffers(new Set());
      const declinedAt = Date.now();
      await fw.decline([first!.id], 400);
      const [second] = await fw.waitOffers(new Set([first!.id]), 1, 5000);
      const gap = Date.now() - declinedAt;
      expect(gap).toBeGreaterThanOrEqual(400);
      expect(second!.agentId).toBe(agent.agentId);

      await fw.decline([second!.id], 60_000);
      await fw.call({ v: 1, type: 'REVIVE', frameworkId: id });
      const [third] = await fw.waitOffers(new Set([first!.id, second!.id]), 1, 3000);
      expect(third!.agentId).toBe(agent.agentId);
      agent.stop();
      fw.stop();
    });

    it('refuses invalid launches without applying anything', async () => {
      const { transport } = await start();
      const agent = FakeAgent.make(transport, 'h1');
      await agent.register();
      const fw = FakeFramework.make(transport, 'alpha', { capabilities: ['PARTITION_AWARE'] });
      const id = await fw.subscribe();
      const [offer] = await fw.waitOffers(new Set());

      // An offer that does not exist: nothing launches, every task is dropped.
      await fw.accept([offer!.id, 'o-missing'], [{ type: 'LAUNCH', tasks: [taskFor(offer!, 'dropped')] }]);
      const dropped = await fw.waitStatus('dropped', 'TASK_DROPPED');
      expect(dropped.reason).toBe('REASON_INVALID_OFFERS');

      await fw.call({ v: 1, type: 'REVIVE', frameworkId: id });
      const [fresh] = await fw.waitOffers(new Set([offer!.id]));
      // Too big, a port outside the offer, a duplicate id: TASK_ERROR each; the good one launches.
      await fw.accept(
        [fresh!.id],
        [
          {
            type: 'LAUNCH',
            tasks: [taskFor(fresh!, 'big', 'cpus:64'), taskFor(fresh!, 'port', 'cpus:0.1;ports:[80-80]'), taskFor(fresh!, 'good'), taskFor(fresh!, 'good')],
          },
        ],
      );
      expect((await fw.waitStatus('big', 'TASK_ERROR')).message).toContain('do not hold');
      expect((await fw.waitStatus('port', 'TASK_ERROR')).reason).toBe('REASON_TASK_INVALID');
      expect((await fw.waitStatus('good', 'TASK_ERROR')).message).toContain('already in use');
      const [run] = await agent.waitCommand('RUN_TASKS');
      expect(run!.launches.flatMap((l) => l.tasks.map((t) => t.taskId))).toEqual(['good']);
      agent.stop();
      fw.stop();
    });

    it('isolates principals: a framework cannot act on another principal’s framework', async () => {
      const { transport } = await start();
      const a = FakeFramework.make(transport, 'alice');
      const aId = await a.subscribe();
      const b = FakeFramework.make(transport, 'bob');
      await b.subscribe();
      const error = await b.call({ v: 1, type: 'KILL', frameworkId: aId, kills: [{ taskId: 'x' }] }, 'bob').catch((e: unknown) => e);
      expect(UnauthorizedError.isInstance(error)).toBe(true);
      const spoof = await FakeFramework.make(transport, 'mallory', { principal: 'alice' })
        .subscribe()
        .then(() => 'subscribed');
      expect(spoof).toBe('subscribed'); // same principal: allowed
      const cross = await new FakeFramework(transport, { name: 'x', principal: 'alice' }).call(
        { v: 1, type: 'SUBSCRIBE', frameworkInfo: { name: 'x', principal: 'alice' } },
        'bob',
      ).catch((e: unknown) => e);
      expect(UnauthorizedError.isInstance(cross)).toBe(true);
      a.stop();
      b.stop();
    });

    it('marks a silent agent unreachable and brings its tasks back when it re-registers', async () => {
      const { transport } = await start({ pingIntervalMs: 100, maxMissedPings: 2 });
      const agent = FakeAgent.make(transport, 'h1');
      await agent.register();
      const fw = FakeFramework.make(transport, 'alpha', { capabilities: ['PARTITION_AWARE'] });
      const id = await fw.subscribe();
      const [offer] = await fw.waitOffers(new Set());
      const task = taskFor(offer!, 't1');
      await fw.accept([offer!.id], [{ type: 'LAUNCH', tasks: [task] }]);
      await agent.waitCommand('RUN_TASKS');
      await agent.update(id, [{ taskId: 't1', state: 'TASK_RUNNING' }]);
      await fw.waitStatus('t1', 'TASK_RUNNING');

      agent.answerPings = false;
      const unreachable = await fw.waitStatus('t1', 'TASK_UNREACHABLE', 5000);
      expect(unreachable.source).toBe('SOURCE_MASTER');

      agent.answerPings = true;
      await agent.reregister([{ frameworkId: id, task, state: 'TASK_RUNNING' }]);
      const back = await waitFor(() => fw.statuses('t1').find((st) => st.state === 'TASK_RUNNING' && st.reason === 'REASON_AGENT_REREGISTERED'), {
        what: 't1 running again',
      });
      expect(back.agentId).toBe(agent.agentId);
      agent.stop();
      fw.stop();
    });

    it('tears down a framework on the agents running its executors, also when they have no task left', async () => {
      const { transport } = await start();
      const agent = FakeAgent.make(transport, 'h1');
      await agent.register();
      const fw = FakeFramework.make(transport, 'alpha');
      const id = await fw.subscribe();
      const [offer] = await fw.waitOffers(new Set());
      const { command: _command, ...base } = taskFor(offer!, 'on-executor');
      const executor = { executorId: 'ex-1', command: { value: 'run-executor' }, resources: parseResources('cpus:0.5;mem:64') };
      await fw.accept([offer!.id], [{ type: 'LAUNCH', tasks: [{ ...base, executor }] }]);
      await agent.waitCommand('RUN_TASKS');
      await agent.update(id, [{ taskId: 'on-executor', state: 'TASK_FINISHED' }]);
      await fw.waitStatus('on-executor', 'TASK_FINISHED');
      await fw.call({ v: 1, type: 'TEARDOWN', frameworkId: id });
      const [shutdown] = await agent.waitCommand('SHUTDOWN_FRAMEWORK');
      expect(shutdown!.frameworkId).toBe(id);
      agent.stop();
      fw.stop();
    });

    it("names the framework's executors running on an agent in its offers, and only its own", async () => {
      const { transport } = await start();
      const agent = FakeAgent.make(transport, 'h1');
      await agent.register();
      const fw = FakeFramework.make(transport, 'alpha');
      const id = await fw.subscribe();
      const [offer] = await fw.waitOffers(new Set());
      expect(offer!.executorIds).toBeUndefined();
      const { command: _command, ...base } = taskFor(offer!, 'on-executor');
      const executor = { executorId: 'ex-1', command: { value: 'run-executor' }, resources: parseResources('cpus:0.5;mem:64') };
      await fw.accept([offer!.id], [{ type: 'LAUNCH', tasks: [{ ...base, executor }] }], 0);
      await agent.waitCommand('RUN_TASKS');
      await agent.update(id, [{ taskId: 'on-executor', state: 'TASK_RUNNING' }]);
      await fw.waitStatus('on-executor', 'TASK_RUNNING');
      const [next] = await fw.waitOffers(new Set([offer!.id]));
      expect(next!.executorIds).toEqual(['ex-1']);

      // Another framework's offers on the same agent do not name alpha's executor.
      await fw.decline([next!.id], 60_000);
      const other = FakeFramework.make(transport, 'beta');
      await other.subscribe();
      const [theirs] = await other.waitOffers(new Set());
      expect(theirs!.agentId).toBe(agent.agentId);
      expect(theirs!.executorIds).toBeUndefined();
      agent.stop();
      fw.stop();
      other.stop();
    });

    it('lets a framework RESERVE part of an offer for its role, use it, and UNRESERVE it', async () => {
      const { transport } = await start();
      const agent = FakeAgent.make(transport, 'h1');
      await agent.register();
      const fw = FakeFramework.make(transport, 'alpha', { roles: ['web'] });
      const id = await fw.subscribe();
      const [offer] = await fw.waitOffers(new Set());
      const reserved = [{ name: 'cpus', type: 'SCALAR' as const, scalar: 1, role: 'web', reservation: { type: 'DYNAMIC' as const, principal: 'alpha' } }];
      await fw.accept([offer!.id], [{ type: 'RESERVE', agentId: offer!.agentId, resources: reserved }]);
      const [update] = await agent.waitCommand('UPDATE_RESOURCES');
      expect(update!.resources).toContainEqual(expect.objectContaining({ name: 'cpus', role: 'web', scalar: 1 }));

      await fw.call({ v: 1, type: 'REVIVE', frameworkId: id });
      const [next] = await fw.waitOffers(new Set([offer!.id]));
      expect(next!.resources).toContainEqual(expect.objectContaining({ name: 'cpus', role: 'web', scalar: 1 }));
      expect(next!.resources.filter((r) => r.name === 'cpus' && r.role === '*').reduce((a, r) => a + (r.scalar ?? 0), 0)).toBe(3);

      // A task may use the reserved cpus, and UNRESERVE gives them back to everyone.
      const task = { ...taskFor(next!, 'on-reserved'), resources: [...reserved, { name: 'mem', type: 'SCALAR' as const, scalar: 64 }] };
      await fw.accept([next!.id], [{ type: 'LAUNCH', tasks: [task] }]);
      const [run] = await agent.waitCommand('RUN_TASKS');
      expect(run!.launches[0]!.tasks[0]!.taskId).toBe('on-reserved');
      await agent.update(id, [{ taskId: 'on-reserved', state: 'TASK_FINISHED' }]);
      await fw.waitStatus('on-reserved', 'TASK_FINISHED');
      await fw.call({ v: 1, type: 'REVIVE', frameworkId: id });
      const [third] = await fw.waitOffers(new Set([offer!.id, next!.id]));
      await fw.accept([third!.id], [{ type: 'UNRESERVE', agentId: third!.agentId, resources: reserved }]);
      const updates = await agent.waitCommand('UPDATE_RESOURCES', 2);
      expect(updates[1]!.resources.filter((r) => r.name === 'cpus').map((r) => [r.role ?? '*', r.scalar])).toEqual([['*', 4]]);
      agent.stop();
      fw.stop();
    });

    it('keeps tasks of a framework that fails over in time, and tears down one that does not', async () => {
      const { transport } = await start({ heartbeatIntervalMs: 100, maxMissedHeartbeats: 2 });
      const agent = FakeAgent.make(transport, 'h1');
      await agent.register();
      const fw = FakeFramework.make(transport, 'alpha', { failoverTimeoutMs: 60_000 });
      const id = await fw.subscribe();
      const [offer] = await fw.waitOffers(new Set());
      await fw.accept([offer!.id], [{ type: 'LAUNCH', tasks: [taskFor(offer!, 'keep')] }]);
      await agent.waitCommand('RUN_TASKS');
      await agent.update(id, [{ taskId: 'keep', state: 'TASK_RUNNING' }]);
      // Silence: the fake framework sends no heartbeats, so the master disconnects it.
      await waitFor(() => env.master.context.frameworks.get(id)?.state === 'DISCONNECTED', { what: 'framework disconnected' });
      fw.stop();
      const again = new FakeFramework(transport, { ...fw.info, id });
      await again.subscribe(id);
      await again.call({ v: 1, type: 'RECONCILE', frameworkId: id, tasks: [{ taskId: 'keep' }] });
      expect((await again.waitStatus('keep', 'TASK_RUNNING')).reason).toBe('REASON_RECONCILIATION');
      expect(agent.commands.filter((c) => c.type === 'KILL_TASKS')).toEqual([]);
      again.stop();

      const short = FakeFramework.make(transport, 'beta', { failoverTimeoutMs: 200 });
      const shortId = await short.subscribe();
      const [o2] = await short.waitOffers(new Set(), 1, 8000);
      await short.accept([o2!.id], [{ type: 'LAUNCH', tasks: [taskFor(o2!, 'doomed')] }]);
      await agent.update(shortId, [{ taskId: 'doomed', state: 'TASK_RUNNING' }]);
      const kills = await agent.waitCommand('KILL_TASKS', 1, 8000);
      expect(kills.flatMap((k) => k.kills)).toContainEqual({ frameworkId: shortId, taskId: 'doomed' });
      await agent.waitCommand('SHUTDOWN_FRAMEWORK');
      await waitFor(() => env.master.context.completedFrameworks.has(shortId), { what: 'framework torn down' });
      // A torn-down id may not come back.
      await expect(short.subscribe(shortId)).rejects.toThrow(/torn down/);
      agent.stop();
      short.stop();
    });
  });
}

let nats: NatsServerHandle;
beforeAll(async () => {
  nats = await startNats({ jetstream: false });
});
afterAll(async () => {
  await nats?.stop();
});

suite('MemoryTransport', () => async () => {
  const bus = new MemoryBus();
  const transport = MemoryTransport.create({ bus });
  return { transport, close: () => transport.close() };
});

suite('NATS', () => async () => {
  const transport = await NatsTransport.connect({ servers: nats.url });
  return { transport, close: () => transport.close() };
});
