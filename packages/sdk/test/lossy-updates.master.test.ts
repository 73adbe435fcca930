/**
 * Lost events against the real master and simulated agents over a real nats-server: the
 * framework's connection drops a share of its UPDATE events on purpose, and the client still ends
 * up knowing how every task ended (reconciliation answers what the master knows; the agents resend
 * what was never acknowledged), and every update is acknowledged in the end.
 */

import { isTerminalState, SchedulerEventSchema, safeDecode, type TaskState } from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, expect, it } from 'vitest';
import { LossyTransport } from '../src/lossy-transport.js';
import { SchedulerClient } from '../src/scheduler-client.js';
import { TaskLauncher } from './fixtures/task-launcher.js';
import { TestCluster } from './master-cluster.js';

const TASKS = 200;
const DROP = 0.3;

let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** A seeded generator (mulberry32), so a failing run can be repeated. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

it(`recovers ${DROP * 100} % of UPDATE events dropped on purpose: every terminal state known, every update acknowledged`, async () => {
  const c = await TestCluster.start();
  cluster = c;
  await c.startMaster();
  const agents = await c.startAgents(4, { statusRetry: { initialMs: 500, maxMs: 1000 } });

  const seed = Date.now() >>> 0;
  const lossy = new LossyTransport(await c.transport('framework'), { random: seeded(seed) });
  const rule = lossy.drop({
    subject: 'stoa.framework.>',
    select: (msg) => {
      const event = safeDecode(SchedulerEventSchema, msg.data);
      return event.ok && event.value.type === 'UPDATE';
    },
    fraction: DROP,
  });
  const client = await SchedulerClient.connect({
    transport: lossy,
    framework: { name: 'lossy', principal: 'alice' },
    reconcile: { initialBackoffMs: 100, maxBackoffMs: 1000 },
  });
  c.defer(() => client.close());

  // How each task's end was first heard: in the agent's own update, or in a reconciliation answer.
  const endHeardBy = new Map<string, 'update' | 'reconciliation'>();
  const ends = new Map<string, TaskState>();
  client.on('UPDATE', (event) => {
    for (const s of event.statuses) {
      if (!isTerminalState(s.state) || endHeardBy.has(s.taskId)) continue;
      endHeardBy.set(s.taskId, s.reason === 'REASON_RECONCILIATION' ? 'reconciliation' : 'update');
      ends.set(s.taskId, s.state);
    }
  });

  const started = Date.now();
  const ids = await new TaskLauncher(client, {
    idPrefix: 'short-',
    labels: (i) => ({ 'stoa.sim.runForMs': String(100 + ((i * 37) % 400)) }),
  }).launch(TASKS);
  expect(ids).toHaveLength(TASKS);

  await waitFor(() => ids.every((id) => client.tasks.get(id)?.terminal === true), {
    timeoutMs: 30_000,
    what: `the client to know how all ${TASKS} tasks ended (seed ${seed})`,
  });
  const knownMs = Date.now() - started;
  expect(ids.every((id) => client.tasks.get(id)?.state === 'TASK_FINISHED')).toBe(true);
  expect([...ends.values()].every((state) => state === 'TASK_FINISHED')).toBe(true);

  await waitFor(() => c.unacknowledgedUpdates() === 0 && c.agentTasks(client.frameworkId).length === 0, {
    timeoutMs: 20_000,
    what: `the agents to have every update acknowledged (seed ${seed})`,
  });
  const ackedMs = Date.now() - started;
  const agentStats = agents.agents.map((a) => a.stats());
  const sent = agentStats.reduce((n, s) => n + s.updatesSent, 0);
  const acked = agentStats.reduce((n, s) => n + s.updatesAcked, 0);
  const retried = agentStats.reduce((n, s) => n + s.updatesRetried, 0);
  const byReconciliation = [...endHeardBy.values()].filter((how) => how === 'reconciliation').length;
  console.log(
    `lossy updates (seed ${seed}): ${rule.dropped} UPDATE events dropped, ${client.stats.seqGaps} gaps seen, ` +
      `${client.stats.reconcileCalls} reconcile calls; all ${TASKS} ends known after ${knownMs} ms, ` +
      `${byReconciliation} first through reconciliation; agents sent ${sent} updates, resent ${retried}, all ${acked} acknowledged after ${ackedMs} ms`,
  );

  expect(rule.dropped).toBeGreaterThan(0);
  expect(client.stats.seqGaps).toBeGreaterThan(0);
  // Gaps made the client reconcile. (Whether a task's end was first heard through reconciliation
  // depends on what the dropped events carried: with few drops, only STARTING or RUNNING ones, whose
  // tasks' ends then arrived in later events.)
  expect(client.stats.reconcileCalls).toBeGreaterThan(0);
  // Every update the agents produced was acknowledged by the framework, none on its behalf.
  expect(acked).toBe(sent);
  expect(client.stats.acknowledged).toBeGreaterThanOrEqual(acked);
});
