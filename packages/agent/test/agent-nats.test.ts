/**
 * The agent over a real nats-server: an agent process killed with SIGKILL mid-run and started
 * again on the same work dir (re-attaching to a live task, reporting one that ended meanwhile,
 * losing and repeating no update), and 2,000 simulated agents in one process.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatsTransport } from '@stoa/core/nats';
import { startNats, waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulatedAgents } from '../src/index.js';
import { commandTask, FakeMaster, testFramework } from './fake-master.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs `stoa-agent` as a child process from the sources (tsx resolves `@stoa/*` by the root tsconfig's paths). */
function spawnAgent(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/agent/src/bin.ts', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, output: () => out, exited };
}

describe('agent over NATS', () => {
  it('survives kill -9: re-attaches to a live task, reports one that ended meanwhile, loses and repeats nothing', async () => {
    await using nats = await startNats();
    const masterTransport = await NatsTransport.connect({ servers: nats.url });
    cleanups.push(() => masterTransport.close());
    const master = FakeMaster.start({ transport: masterTransport, autoAck: true });
    const workDir = mkdtempSync(join(tmpdir(), 'stoa-agent-k9-'));
    const triggers = mkdtempSync(join(tmpdir(), 'stoa-agent-k9t-'));
    cleanups.push(() => {
      rmSync(workDir, { recursive: true, force: true });
      rmSync(triggers, { recursive: true, force: true });
    });
    const args = ['--nats', nats.url, '--work-dir', workDir, '--resources', 'cpus:2;mem:1024;ports:[31000-31009]', '--hostname', 'k9-host', '--log-level', 'warn'];

    const first = spawnAgent(args);
    const agentId = await master.waitRegistered(1, 30_000).catch((error: unknown) => {
      throw new Error(`the agent did not register: ${first.output()}`, { cause: error });
    });
    // The agent subscribes to its commands when the reply to REGISTER reaches it; wait for that.
    await waitFor(() => master.ping(agentId, 0, { timeoutMs: 500 }).then((p) => p.ok), { what: 'the agent to answer pings' });
    const go = join(triggers, 'go');
    const done = join(triggers, 'done');
    master.send(agentId, {
      type: 'RUN_TASKS',
      launches: [
        {
          framework: testFramework(),
          tasks: [
            commandTask('long', 'sleep 60', { killPolicy: { gracePeriodMs: 500 } }),
            commandTask('short', `while [ ! -f ${go} ]; do sleep 0.05; done; touch ${done}; exit 5`),
          ],
        },
      ],
    });
    await master.waitUpdate((u) => u.status.taskId === 'long' && u.status.state === 'TASK_RUNNING', 'long running');
    await master.waitUpdate((u) => u.status.taskId === 'short' && u.status.state === 'TASK_RUNNING', 'short running');
    // Commands reach the agent in order: once it answers this ping, it has taken every ack before it.
    expect((await master.ping(agentId, 1, { timeoutMs: 5000 })).ok).toBe(true);

    first.child.kill('SIGKILL');
    await first.exited;
    writeFileSync(go, '');
    await waitFor(() => existsSync(done), { what: 'the short task to end while the agent is dead' });

    const second = spawnAgent(args);
    await master.waitRegistered(2, 30_000).catch((error: unknown) => {
      throw new Error(`the agent did not re-register: ${second.output()}`, { cause: error });
    });
    const re = master.registrations[1]!;
    expect(re.type).toBe('REREGISTER');
    if (re.type === 'REREGISTER') {
      expect(re.agentId).toBe(agentId);
      expect(re.tasks.find((t) => t.task.taskId === 'long')?.state).toBe('TASK_RUNNING');
    }
    const failed = await master.waitUpdate((u) => u.status.taskId === 'short' && u.status.state === 'TASK_FAILED', 'short failed', 15_000);
    expect(failed.status.exitCode).toBe(5);

    master.send(agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: 'fw-1', taskId: 'long' }] });
    await master.waitUpdate((u) => u.status.taskId === 'long' && u.status.state === 'TASK_KILLED', 'long killed', 15_000);

    expect(master.statesOf('long')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED']);
    expect(master.statesOf('short')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
    expect(master.duplicatesAfterAck).toBe(0);
    const uuids = master.updates.map((u) => u.status.uuid);
    expect(new Set(uuids).size).toBe(uuids.length);

    second.child.kill('SIGTERM');
    await second.exited;
    expect(second.child.exitCode).toBe(0);
  });

  it('runs 2,000 simulated agents in one process, each registering and running a task', async () => {
    await using nats = await startNats();
    const masterTransport = await NatsTransport.connect({ servers: nats.url });
    const agentTransport = await NatsTransport.connect({ servers: nats.url });
    cleanups.push(async () => {
      await agentTransport.close();
      await masterTransport.close();
    });
    const master = FakeMaster.start({ transport: masterTransport, autoAck: true });
    const count = 2000;
    const sim = await startSimulatedAgents({ transport: agentTransport, count, resources: 'cpus:4;mem:8192', attributes: (i) => ({ rack: `r${i % 20}` }) });
    cleanups.push(() => sim.stop());
    await sim.waitRegistered();
    await agentTransport.flush();
    expect(master.registrations).toHaveLength(count);
    const ids = sim.agents.map((a) => a.agentId!);
    expect(new Set(ids).size).toBe(count);
    for (const [i, agentId] of ids.entries()) {
      master.send(agentId, {
        type: 'RUN_TASKS',
        launches: [{ framework: testFramework(), tasks: [commandTask(`sim-${i}`, 'run', { agentId, labels: { 'stoa.sim.runForMs': '20' } })] }],
      });
    }
    const finished = () => master.updates.filter((u) => u.status.state === 'TASK_FINISHED').length;
    await waitFor(() => finished() === count, { timeoutMs: 60_000, what: `${count} finished tasks` });
    await waitFor(() => sim.agents.every((a) => a.tasks().length === 0), { timeoutMs: 30_000, what: 'every task forgotten after its ack' });
  });
});
