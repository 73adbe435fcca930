/**
 * Custom executors end to end over a real nats-server: the real master, a real agent with the
 * process containerizer, and a framework on `SchedulerClient` launching tasks on the example
 * executor (`examples/custom-executor/executor.ts`, built on `ExecutorClient`). Tasks reach
 * TASK_FINISHED through one shared executor; when that executor's process is killed, its live
 * task fails with REASON_EXECUTOR_TERMINATED and the framework hears FAILURE; the framework's
 * SHUTDOWN of an executor makes it leave by itself.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ExecutorInfo, MemoryStore, parseResources, type SchedulerEvent, type TaskInfo, type TaskStatus } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { startMaster } from '@stoa/master';
import { contains, SchedulerClient, subtract } from '@stoa/sdk';
import { startNats, waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../src/index.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const executorPath = join(repoRoot, 'examples', 'custom-executor', 'executor.ts');

/** The example executor, run with tsx and the repository's tsconfig from its sandbox. */
function demoExecutor(): ExecutorInfo {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const tsconfig = process.env.TSX_TSCONFIG_PATH ?? join(repoRoot, 'tsconfig.json');
  return {
    executorId: 'demo-executor',
    resources: parseResources('cpus:1;mem:512'),
    command: { value: `exec node --import ${tsx} ${executorPath}`, environment: { TSX_TSCONFIG_PATH: tsconfig } },
  };
}

describe('custom executors over NATS', () => {
  it('runs tasks through the example executor, and fails the live ones when it dies', async () => {
    const nats = await startNats({ jetstream: false });
    cleanups.push(() => nats.stop());
    const masterTransport = await NatsTransport.connect({ servers: nats.url, name: 'master' });
    const agentTransport = await NatsTransport.connect({ servers: nats.url, name: 'agent' });
    cleanups.push(() => masterTransport.close(), () => agentTransport.close());
    const master = await startMaster({ transport: masterTransport, store: new MemoryStore(), http: false, allocationIntervalMs: 200 });
    cleanups.push(() => master.stop());
    const workDir = mkdtempSync(join(tmpdir(), 'stoa-executors-e2e-'));
    cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
    const agent = await startAgent({ transport: agentTransport, workDir, resources: 'cpus:4;mem:4096;disk:1000', executorNatsUrl: nats.url, killGracePeriodMs: 1000 });
    cleanups.push(() => agent.stop({ killTasks: true }));
    await agent.waitRegistered();

    const client = await SchedulerClient.connect({ servers: nats.url, framework: { name: 'executors-e2e', principal: 'e2e' } });
    cleanups.push(() => client.close());
    const executor = demoExecutor();
    const perTask = parseResources('cpus:0.1;mem:32');
    const pending: TaskInfo[] = [];
    const statuses: TaskStatus[] = [];
    const failures: Extract<SchedulerEvent, { type: 'FAILURE' }>[] = [];
    const launch = (taskId: string, command: string) =>
      pending.push({ taskId, name: taskId, agentId: '', resources: perTask, executor, data: new TextEncoder().encode(command) });
    client.on('OFFERS', async (event) => {
      for (const offer of event.offers) {
        const tasks: TaskInfo[] = [];
        let left = subtract(offer.resources, executor.resources);
        while (pending.length > 0 && contains(left, perTask)) {
          tasks.push({ ...pending.shift()!, agentId: offer.agentId });
          left = subtract(left, perTask);
        }
        if (tasks.length > 0) await client.accept(offer.id, [{ type: 'LAUNCH', tasks }]);
        else await client.decline(offer.id, { refuseMs: 60_000 });
      }
    });
    client.on('UPDATE', (event) => {
      statuses.push(...event.statuses);
    });
    client.on('FAILURE', (event) => {
      failures.push(event);
    });
    const stateOf = (taskId: string) => statuses.filter((s) => s.taskId === taskId).at(-1);

    for (const id of ['t1', 't2', 't3']) launch(id, `echo "$STOA_TASK_ID says hello"`);
    await client.revive();
    await waitFor(() => ['t1', 't2', 't3'].every((id) => stateOf(id)?.state === 'TASK_FINISHED'), { timeoutMs: 45_000, what: 'three tasks finished' }).catch((error: unknown) => {
      throw new Error(`statuses seen: ${JSON.stringify(statuses.map((s) => [s.taskId, s.state, s.message]))}`, { cause: error });
    });
    for (const id of ['t1', 't2', 't3']) {
      expect(statuses.filter((s) => s.taskId === id).map((s) => s.state)).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
      expect(stateOf(id)).toMatchObject({ source: 'SOURCE_EXECUTOR', executorId: 'demo-executor', agentId: agent.agentId });
    }
    const executors = agent.executors();
    expect(executors).toHaveLength(1); // one executor ran all three
    expect(readFileSync(join(executors[0]!.sandboxDir, 'stdout'), 'utf8')).toContain('t2 says hello');

    launch('long', 'sleep 60');
    await client.revive();
    await waitFor(() => stateOf('long')?.state === 'TASK_RUNNING', { timeoutMs: 20_000, what: 'the long task running' });
    expect(agent.executors()).toHaveLength(1); // reused
    const pid = JSON.parse(readFileSync(join(executors[0]!.sandboxDir, '.stoa', 'pid'), 'utf8')).pid as number;
    process.kill(-pid, 'SIGKILL');

    await waitFor(() => stateOf('long')?.state === 'TASK_FAILED', { timeoutMs: 20_000, what: 'the long task failed' });
    expect(stateOf('long')).toMatchObject({ reason: 'REASON_EXECUTOR_TERMINATED', source: 'SOURCE_AGENT' });
    const failure = await waitFor(() => failures[0], { timeoutMs: 20_000, what: 'a FAILURE event' });
    expect(failure).toMatchObject({ agentId: agent.agentId, executorId: 'demo-executor', status: 137 });
    await waitFor(() => agent.executors().length === 0, { what: 'the executor gone from the agent' });

    // The next task starts a new executor; the framework's SHUTDOWN of it reaches it, and it leaves by itself.
    launch('after', 'true');
    await client.revive();
    await waitFor(() => stateOf('after')?.state === 'TASK_FINISHED', { timeoutMs: 20_000, what: 'a task on a new executor finished' });
    const second = agent.executors()[0]!;
    expect(second.sandboxDir).not.toBe(executors[0]!.sandboxDir);
    await client.shutdown(agent.agentId!, 'demo-executor');
    await waitFor(() => agent.executors().length === 0, { timeoutMs: 20_000, what: 'the executor shut down' });
    expect(readFileSync(join(second.sandboxDir, '.stoa', 'exit'), 'utf8')).toBe('0\n');
  });
});
