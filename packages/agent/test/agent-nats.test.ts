/**
 * The agent over a real nats-server: an agent process killed with SIGKILL mid-run and started
 * again on the same work dir (re-attaching to a live task, reporting one that ended meanwhile,
 * losing and repeating no update; and, for a custom executor's tasks, losing no update it replied
 * to and forgetting none it had seen acknowledged), and 2,000 simulated agents in one process.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ExecutorCall,
  ExecutorCallReplySchema,
  ExecutorCallSchema,
  type ExecutorEvent,
  ExecutorEventSchema,
  type ExecutorInfo,
  ExecutorSubscribeReplySchema,
  encode,
  parseResources,
  safeDecode,
  subjects,
  type TaskInfo,
  type TaskStatus,
} from '@stoa/core';
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

/** Kills what still runs with `dir` in its environment (an executor a detached agent left). */
function killLeftovers(dir: string): void {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').includes(dir)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
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

  it('survives kill -9 right after answering an executor: no update it took is lost, none it saw acknowledged comes back', async () => {
    await using nats = await startNats();
    const masterTransport = await NatsTransport.connect({ servers: nats.url });
    const executorTransport = await NatsTransport.connect({ servers: nats.url });
    const workDir = mkdtempSync(join(tmpdir(), 'stoa-agent-k9x-'));
    cleanups.push(async () => {
      killLeftovers(workDir);
      await executorTransport.close();
      await masterTransport.close();
      rmSync(workDir, { recursive: true, force: true });
    });
    const master = FakeMaster.start({ transport: masterTransport });
    const args = ['--nats', nats.url, '--work-dir', workDir, '--resources', 'cpus:2;mem:1024', '--hostname', 'k9x-host', '--log-level', 'warn'];
    const first = spawnAgent(args);
    const agentId = await master.waitRegistered(1, 30_000).catch((error: unknown) => {
      throw new Error(`the agent did not register: ${first.output()}`, { cause: error });
    });
    await waitFor(() => master.ping(agentId, 0, { timeoutMs: 500 }).then((p) => p.ok), { what: 'the agent to answer pings' });

    // The test plays the executor: the agent runs `sleep` as its process, the calls come from here.
    const s = subjects();
    const executor: ExecutorInfo = { executorId: 'ex-k9', command: { value: 'exec sleep 120' }, resources: parseResources('cpus:0.5;mem:64') };
    const events: ExecutorEvent[] = [];
    executorTransport.subscribe(s.executor(agentId, executor.executorId), {
      callback: (msg) => {
        const r = safeDecode(ExecutorEventSchema, msg.data);
        if (r.ok) events.push(r.value);
      },
    });
    await executorTransport.flush();
    const call = async (body: Pick<ExecutorCall, 'type'> & Record<string, unknown>) => {
      const bytes = encode(ExecutorCallSchema, { v: 1, executorId: executor.executorId, frameworkId: 'fw-1', ...body } as ExecutorCall);
      const reply = await executorTransport.request(s.executorCalls(agentId, executor.executorId), bytes, { timeoutMs: 5000 });
      return reply.data;
    };
    const count = 200;
    const tasks: TaskInfo[] = Array.from({ length: count }, (_, i) => ({ taskId: `b${i}`, name: `b${i}`, agentId, resources: parseResources('cpus:0.001;mem:1'), executor }));
    master.send(agentId, { type: 'RUN_TASKS', launches: [{ framework: testFramework(), tasks }] });
    // Before its process runs, the agent does not know the executor yet: SUBSCRIBE until it takes it.
    const subscribed = async () => {
      const r = safeDecode(ExecutorSubscribeReplySchema, await call({ type: 'SUBSCRIBE' }));
      return r.ok && r.value.ok;
    };
    await waitFor(subscribed, { timeoutMs: 20_000, what: 'the executor subscribed' });
    const launched = () => events.flatMap((e) => (e.type === 'LAUNCH' ? e.tasks.map((t) => t.taskId) : []));
    await waitFor(() => launched().length === count, { timeoutMs: 20_000, what: `${count} tasks launched to the executor` });

    const finished = (from: number, to: number): TaskStatus[] =>
      tasks.slice(from, to).map((t) => ({ taskId: t.taskId, state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR', executorId: executor.executorId, timestampMs: Date.now(), uuid: randomUUID() }));
    const update = async (statuses: TaskStatus[]) => {
      const reply = safeDecode(ExecutorCallReplySchema, await call({ type: 'UPDATE', statuses }));
      expect(reply.ok && reply.value.ok).toBe(true);
    };
    // The first half ends and is acknowledged while the agent lives: it forgets those tasks.
    const early = finished(0, count / 2);
    await update(early);
    for (const st of early) master.ack(agentId, await master.waitUpdate((u) => u.status.uuid === st.uuid, `update of ${st.taskId}`));
    // Commands reach the agent in order: once it answers this ping, it has taken every ack before it.
    expect((await master.ping(agentId, 1, { timeoutMs: 5000 })).ok).toBe(true);
    // The second half: the agent's reply says it has them; it dies at once.
    const late = finished(count / 2, count);
    await update(late);
    first.child.kill('SIGKILL');
    await first.exited;

    master.autoAck = true;
    const second = spawnAgent(args);
    await master.waitRegistered(2, 30_000).catch((error: unknown) => {
      throw new Error(`the agent did not re-register: ${second.output()}`, { cause: error });
    });
    const re = master.registrations[1]!;
    expect(re.type).toBe('REREGISTER');
    if (re.type === 'REREGISTER') {
      expect(re.executors.map((e) => e.executor.executorId)).toEqual([executor.executorId]);
      const listed = new Map(re.tasks.map((t) => [t.task.taskId, t.state]));
      for (const st of early) expect(listed.has(st.taskId)).toBe(false);
      for (const st of late) expect(listed.get(st.taskId)).toBe('TASK_FINISHED');
    }
    for (const st of late) await master.waitUpdate((u) => u.status.uuid === st.uuid, `update of ${st.taskId} after the restart`, 15_000);
    await waitFor(() => late.every((st) => events.some((e) => e.type === 'ACKNOWLEDGED' && e.uuid === st.uuid)), { timeoutMs: 15_000, what: 'every late update acknowledged back to the executor' });
    expect(master.duplicatesAfterAck).toBe(0);
    for (const t of tasks) expect(master.statesOf(t.taskId)).toEqual(['TASK_FINISHED']);

    // The restarted agent holds the executor it re-attached to: it can shut it down.
    master.send(agentId, { type: 'SHUTDOWN_EXECUTOR', frameworkId: 'fw-1', executorId: executor.executorId });
    await waitFor(() => master.otherCalls.some((c) => c.type === 'EXECUTOR_EXITED'), { timeoutMs: 20_000, what: 'the executor shut down and reported' });
    second.child.kill('SIGTERM');
    await second.exited;
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
