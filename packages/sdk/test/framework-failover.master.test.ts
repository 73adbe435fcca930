/**
 * A framework that dies and comes back, against the real master and simulated agents over a real
 * nats-server: restarted with the same id within its failover timeout, it keeps its tasks (the
 * new client learns them through reconciliation and can kill them); another principal cannot
 * take its id over.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type FrameworkInfo, type TaskStatus, UnauthorizedError, UnavailableError } from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SchedulerClient } from '../src/scheduler-client.js';
import { TaskLauncher } from './fixtures/task-launcher.js';
import { TestCluster } from './master-cluster.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const TASKS = 20;

let cluster: TestCluster;

beforeEach(async () => {
  cluster = await TestCluster.start();
  await cluster.startMaster();
  await cluster.startAgents(4);
});

afterEach(async () => {
  await cluster?.stop();
});

function framework(id: string, principal = 'alice'): FrameworkInfo {
  return { id, name: 'restartable', principal, failoverTimeoutMs: 60_000 };
}

/** A first framework process, in this process: launches {@link TASKS} tasks and waits until they all run. */
async function launchWithA(client: SchedulerClient): Promise<string[]> {
  const ids = await new TaskLauncher(client, { idPrefix: 'keep-' }).launch(TASKS);
  await waitFor(() => ids.every((id) => client.tasks.get(id)?.state === 'TASK_RUNNING'), { what: 'A to see every task running' });
  await waitFor(() => cluster.runningOnAgents(client.frameworkId).length === TASKS, { what: 'the agents to run every task' });
  return ids;
}

/**
 * Connects B with A's id and checks that it takes over: SUBSCRIBED, every task reported running
 * by reconciliation and shown in `B.tasks`, nothing killed, and a kill through B works.
 */
async function expectTakeOver(frameworkId: string, taskIds: string[]): Promise<void> {
  const onAgents = cluster.runningOnAgents(frameworkId);
  expect(onAgents).toEqual([...taskIds].sort());

  const b = await SchedulerClient.connect({
    transport: await cluster.transport('framework-b'),
    framework: framework(frameworkId),
    reconcile: { initialBackoffMs: 200, maxBackoffMs: 1000 },
  });
  cluster.defer(() => b.close());
  const subscribed: string[] = [];
  const statuses: TaskStatus[] = [];
  b.on('SUBSCRIBED', (event) => {
    subscribed.push(event.frameworkId);
  });
  b.on('UPDATE', (event) => {
    statuses.push(...event.statuses);
  });

  expect(b.frameworkId).toBe(frameworkId);
  expect(b.subscription?.frameworkId).toBe(frameworkId);
  await waitFor(() => subscribed.length > 0, { what: 'SUBSCRIBED' });
  expect(subscribed).toEqual([frameworkId]);

  await waitFor(() => taskIds.every((id) => b.tasks.get(id)?.state === 'TASK_RUNNING'), {
    what: 'B to learn every task running through reconciliation',
  });
  expect(b.tasks.size).toBe(TASKS);
  expect(b.stats.reconcileCalls).toBeGreaterThan(0);
  // What B heard is what reconciliation answers (and resends of updates A never acknowledged).
  expect(statuses.filter((s) => s.state !== 'TASK_RUNNING')).toEqual([]);
  expect(statuses.some((s) => s.reason === 'REASON_RECONCILIATION')).toBe(true);
  // Nothing was killed: the agents run exactly what they ran before.
  expect(cluster.runningOnAgents(frameworkId)).toEqual(onAgents);

  const [victim, ...rest] = taskIds as [string, ...string[]];
  await b.kill(victim);
  await waitFor(() => b.tasks.get(victim)?.state === 'TASK_KILLED', { what: `${victim} killed` });
  await waitFor(() => !cluster.runningOnAgents(frameworkId).includes(victim), { what: `the agent to stop ${victim}` });
  expect(cluster.runningOnAgents(frameworkId)).toEqual([...rest].sort());
  expect(rest.every((id) => b.tasks.get(id)?.state === 'TASK_RUNNING')).toBe(true);
  await waitFor(() => cluster.unacknowledgedUpdates() === 0, { what: 'B to acknowledge TASK_KILLED' });
}

describe('a framework restarted within its failover timeout keeps its tasks', () => {
  it('after its client was closed without teardown', async () => {
    const id = 'fw-closed';
    const a = await SchedulerClient.connect({ servers: cluster.nats.servers, framework: framework(id) });
    cluster.defer(() => a.close());
    const ids = await launchWithA(a);
    await a.close();
    expect(await a.closed).toBeUndefined();
    await expectTakeOver(id, ids);
  });

  it('after its connection was closed under it', async () => {
    const id = 'fw-cut';
    const transport = await cluster.transport('framework-a');
    const a = await SchedulerClient.connect({ transport, framework: framework(id) });
    cluster.defer(() => a.close());
    const ids = await launchWithA(a);
    await transport.close();
    expect(UnavailableError.isInstance(await a.closed)).toBe(true);
    expect(a.state).toBe('closed');
    await expectTakeOver(id, ids);
  });

  it('after its process was killed with SIGKILL', async () => {
    const id = 'fw-killed';
    const child = spawnFramework([cluster.nats.url, id, 'alice', String(TASKS)]);
    const line = await waitFor(() => /^READY (.*)$/m.exec(child.output())?.[1], {
      timeoutMs: 40_000,
      what: 'the framework process to launch its tasks',
    }).catch((error: unknown) => {
      throw new Error(`the framework process did not get ready; its output:\n${child.output()}`, { cause: error });
    });
    const { tasks } = JSON.parse(line) as { tasks: string[] };
    expect(tasks).toHaveLength(TASKS);
    await waitFor(() => cluster.runningOnAgents(id).length === TASKS, { what: 'the agents to run every task' });
    child.process.kill('SIGKILL');
    await child.exited;
    expect(child.process.signalCode).toBe('SIGKILL');
    await expectTakeOver(id, tasks);
  });
});

describe('a framework id', () => {
  it('cannot be taken over by another principal', async () => {
    const id = 'fw-owned';
    const a = await SchedulerClient.connect({ servers: cluster.nats.servers, framework: framework(id, 'alice') });
    cluster.defer(() => a.close());
    const ids = await new TaskLauncher(a, { idPrefix: 'owned-' }).launch(2);
    await waitFor(() => cluster.runningOnAgents(id).length === 2, { what: 'both tasks running' });

    const error = await SchedulerClient.connect({ servers: cluster.nats.servers, framework: framework(id, 'mallory'), connectTimeoutMs: 10_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(UnauthorizedError.isInstance(error)).toBe(true);
    // The owner is untouched: still subscribed once, its tasks running.
    expect(a.state).toBe('subscribed');
    expect(a.stats.subscriptions).toBe(1);
    expect(cluster.runningOnAgents(id)).toEqual([...ids].sort());
  });
});

/** Runs `fixtures/framework-process.ts` from the sources; killed in the cluster's cleanup if still running. */
function spawnFramework(args: string[]): { process: ChildProcess; output: () => string; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/sdk/test/fixtures/framework-process.ts', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cluster.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { process: child, output: () => out, exited };
}
