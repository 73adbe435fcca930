/**
 * Agent partitions and offer timeouts, with short timers: an agent silent past the re-register
 * timeout is GONE (TASK_GONE to partition-aware frameworks); a framework that is not
 * partition-aware hears TASK_LOST and its task is killed when the agent comes back with it; an
 * offer nobody answers is rescinded and offered again.
 */

import type { AgentSummary } from '@stoa/core';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, register, type TestMaster, startTestMaster, type TransportFactory, type TransportKind, transportFactory } from './cluster.js';
import { FakeAgent, FakeFramework, taskFor } from './peers.js';

function suite(kind: TransportKind) {
  describe(`agent and offer lifecycle over ${kind}`, () => {
    let nats: NatsServerHandle | undefined;
    let transports: TransportFactory;
    const cleanup: Array<() => unknown> = [];

    beforeAll(async () => {
      if (kind === 'nats') nats = await startNats({ jetstream: false });
    });
    afterAll(async () => {
      await nats?.stop();
    });
    afterEach(async () => {
      for (const f of cleanup.splice(0).reverse()) await f();
    });

    const start = async (options: Parameters<typeof startTestMaster>[1]): Promise<TestMaster> => {
      transports = transportFactory(kind, () => nats!);
      cleanup.push(() => transports.close());
      const t = await startTestMaster(await transports.open(), { pingIntervalMs: 50, maxMissedPings: 2, allocationIntervalMs: 50, ...options });
      cleanup.push(() => t.master.stop());
      return t;
    };
    const agent = async (hostname: string) => {
      const a = FakeAgent.make(await transports.open(), hostname, 'cpus:4;mem:4096');
      await register(a);
      cleanup.push(() => a.stop());
      return a;
    };
    const framework = async (name: string, partitionAware: boolean) => {
      const f = FakeFramework.make(await transports.open(), name, partitionAware ? { capabilities: ['PARTITION_AWARE'] } : {});
      await f.subscribe();
      cleanup.push(() => f.stop());
      return f;
    };
    /** Launches one task of cpus:1 on the framework's first offer and reports it running. */
    const runTask = async (fw: FakeFramework, a: FakeAgent, taskId: string) => {
      const [offer] = await fw.waitOffers(new Set());
      const task = taskFor(offer!, taskId);
      await fw.accept([offer!.id], [{ type: 'LAUNCH', tasks: [task] }]);
      await waitFor(() => a.commands.some((c) => c.type === 'RUN_TASKS' && c.launches.some((l) => l.tasks.some((t) => t.taskId === taskId))), {
        what: `RUN_TASKS for ${taskId}`,
      });
      await a.update(fw.frameworkId, [{ taskId, state: 'TASK_RUNNING' }]);
      await fw.waitStatus(taskId, 'TASK_RUNNING');
      return task;
    };

    it('makes an agent unreachable past the re-register timeout GONE, and tells a partition-aware framework TASK_GONE', async () => {
      const { master, url } = await start({ agentReregisterTimeoutMs: 300 });
      const h0 = await agent('h0');
      const fw = await framework('aware', true);
      const task = await runTask(fw, h0, 't0');

      h0.answerPings = false;
      const unreachable = await fw.waitStatus('t0', 'TASK_UNREACHABLE');
      expect(unreachable).toMatchObject({ source: 'SOURCE_MASTER', reason: 'REASON_AGENT_DISCONNECTED', agentId: h0.agentId });
      const stateOf = async () => (await http<{ agents: AgentSummary[] }>(url, '/api/v1/agents')).body.agents.find((a) => a.id === h0.agentId)?.state;
      expect(await stateOf()).toBe('UNREACHABLE');

      const gone = await fw.waitStatus('t0', 'TASK_GONE');
      expect(gone).toMatchObject({ source: 'SOURCE_MASTER', reason: 'REASON_AGENT_REMOVED' });
      expect(gone.timestampMs - unreachable.timestampMs).toBeGreaterThanOrEqual(300);
      expect(await stateOf()).toBe('GONE');
      expect(master.context.allocator.totalResources().cpus ?? 0).toBe(0);
      // A gone agent may not come back under its id, and was never told to kill anything.
      h0.answerPings = true;
      await expect(h0.reregister([{ frameworkId: fw.frameworkId, task, state: 'TASK_RUNNING' }])).rejects.toThrow(/marked gone/);
      expect(h0.commands.filter((c) => c.type === 'KILL_TASKS')).toEqual([]);
      expect(fw.statuses('t0').map((st) => st.state)).toEqual(['TASK_RUNNING', 'TASK_UNREACHABLE', 'TASK_GONE']);
    });

    it('tells a framework that is not partition-aware TASK_LOST, and kills the task when its agent comes back with it', async () => {
      const { master } = await start({ agentReregisterTimeoutMs: 60_000 });
      const h0 = await agent('h0');
      const plain = await framework('plain', false);
      const lostTask = await runTask(plain, h0, 'lost');
      // What plain left of the agent is filtered for it a while: the next framework is offered it.
      const aware = await framework('aware', true);
      const keptTask = await runTask(aware, h0, 'kept');

      h0.answerPings = false;
      const lost = await plain.waitStatus('lost', 'TASK_LOST');
      expect(lost).toMatchObject({ source: 'SOURCE_MASTER', reason: 'REASON_AGENT_DISCONNECTED' });
      await aware.waitStatus('kept', 'TASK_UNREACHABLE');

      // The agent comes back with both tasks still running.
      h0.answerPings = true;
      await h0.reregister([
        { frameworkId: plain.frameworkId, task: lostTask, state: 'TASK_RUNNING' },
        { frameworkId: aware.frameworkId, task: keptTask, state: 'TASK_RUNNING' },
      ]);
      const kills = (await h0.waitCommand('KILL_TASKS')).flatMap((k) => k.kills);
      expect(kills).toEqual([{ frameworkId: plain.frameworkId, taskId: 'lost' }]);
      // The partition-aware framework gets its task back; the other never hears it running again.
      const back = await waitFor(() => aware.statuses('kept').find((st) => st.state === 'TASK_RUNNING' && st.reason === 'REASON_AGENT_REREGISTERED'), {
        what: 'kept running again',
      });
      expect(back.agentId).toBe(h0.agentId);
      expect(plain.statuses('lost').map((st) => st.state)).toEqual(['TASK_RUNNING', 'TASK_LOST']);
      expect(master.context.frameworks.get(plain.frameworkId)?.tasks.has('lost')).toBe(false);
      expect(master.context.frameworks.get(aware.frameworkId)?.tasks.get('kept')?.state).toBe('TASK_RUNNING');
      // Only the kept task holds resources on the agent.
      expect(master.context.allocator.agentAllocations(h0.agentId).map((a) => a.frameworkId)).not.toContain(plain.frameworkId);
    });

    it('rescinds an offer nobody answers, and offers its resources again', async () => {
      const { master, url } = await start({ offerTimeoutMs: 200 });
      const h0 = await agent('h0');
      const fw = await framework('slow', false);
      const [first] = await fw.waitOffers(new Set());
      const offeredAt = Date.now();
      const rescind = await fw.waitEvent('RESCIND');
      expect(rescind.offerIds).toEqual([first!.id]);
      expect(Date.now() - offeredAt).toBeGreaterThanOrEqual(150);
      const [second] = await fw.waitOffers(new Set([first!.id]));
      expect(second).toMatchObject({ agentId: h0.agentId });
      expect(second!.resources).toEqual(first!.resources);
      // The fresh offer works (answered at once, well within its timeout)…
      await fw.accept([second!.id], [{ type: 'LAUNCH', tasks: [taskFor(second!, 'on-time')] }]);
      const [run] = await h0.waitCommand('RUN_TASKS');
      expect(run!.launches.flatMap((l) => l.tasks.map((t) => t.taskId))).toEqual(['on-time']);

      // …while acting on the rescinded one launches nothing: the task is LOST, with the reason.
      await fw.accept([first!.id], [{ type: 'LAUNCH', tasks: [taskFor(first!, 'late')] }]);
      expect((await fw.waitStatus('late', 'TASK_LOST')).reason).toBe('REASON_INVALID_OFFERS');
      expect(h0.commands.filter((c) => c.type === 'RUN_TASKS')).toHaveLength(1);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(Number(/^stoa_master_offers_rescinded_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
      expect(master.context.frameworks.get(fw.frameworkId)?.tasks.has('on-time')).toBe(true);
    });
  });
}

suite('memory');
suite('nats');
