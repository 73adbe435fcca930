/**
 * The agent's sandbox GC and per-task usage, against the scripted fake master over the in-memory
 * transport: sandboxes of acknowledged tasks and ended executors go after the delay, live ones
 * stay (across a restart too), and running tasks' usage shows in `tasks()` and the metrics.
 */

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encode,
  type ExecutorCall,
  ExecutorCallReplySchema,
  ExecutorCallSchema,
  MemoryBus,
  MemoryTransport,
  parseResources,
  safeDecode,
  type StatusUpdate,
  subjects,
  type TaskInfo,
  type TaskState,
} from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentHandle, type AgentOptions, SimulatedContainerizer, startAgent } from '../src/index.js';
import { commandTask, FakeMaster, testFramework } from './fake-master.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  master: FakeMaster;
  agent: AgentHandle;
  agentId: string;
  workDir: string;
  bus: MemoryBus;
  restart(extra?: Partial<AgentOptions>): Promise<AgentHandle>;
}

async function setup(options: Partial<AgentOptions> = {}, before?: (workDir: string) => void): Promise<Setup> {
  const bus = new MemoryBus();
  const masterTransport = MemoryTransport.create({ bus });
  const agentTransport = MemoryTransport.create({ bus });
  const workDir = mkdtempSync(join(tmpdir(), 'stoa-agent-gc-'));
  before?.(workDir);
  const master = FakeMaster.start({ transport: masterTransport, autoAck: true });
  const base: AgentOptions = {
    transport: agentTransport,
    workDir,
    hostname: 'test-host',
    resources: 'cpus:2;mem:1024;disk:1000',
    statusRetry: { initialMs: 50, maxMs: 200 },
    registerRetry: { initialMs: 20, maxMs: 100 },
    requestTimeoutMs: 300,
    killGracePeriodMs: 500,
    executorShutdownGracePeriodMs: 300,
    ...options,
  };
  const agents: AgentHandle[] = [];
  const start = async (extra: Partial<AgentOptions> = {}) => {
    const a = await startAgent({ ...base, ...extra });
    agents.push(a);
    return a;
  };
  cleanups.push(async () => {
    for (const a of agents) await a.stop({ killTasks: true });
    master.stop();
    await agentTransport.close();
    await masterTransport.close();
    rmSync(workDir, { recursive: true, force: true });
  });
  const agent = await start();
  await agent.waitRegistered();
  return { master, agent, agentId: agent.agentId!, workDir, bus, restart: start };
}

async function waitState(master: FakeMaster, taskId: string, state: TaskState): Promise<StatusUpdate> {
  return master.waitUpdate((u) => u.status.taskId === taskId && u.status.state === state, `${taskId} ${state}`);
}

async function metric(agent: AgentHandle, name: string): Promise<{ value: number; labels: Record<string, string | number> }[]> {
  const m = agent.metrics.getSingleMetric(name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  return (await m.get()).values.map((v) => ({ value: v.value, labels: v.labels as Record<string, string | number> }));
}

async function metricValue(agent: AgentHandle, name: string): Promise<number> {
  return (await metric(agent, name))[0]?.value ?? 0;
}

describe('sandbox GC on the agent', () => {
  it('removes the sandbox of an acknowledged task after the delay, and keeps live ones', async () => {
    const t = await setup({ sandboxGcDelayMs: 300 });
    t.master.send(t.agentId, { type: 'RUN_TASKS', launches: [{ framework: testFramework(), tasks: [commandTask('live', 'exec sleep 30'), commandTask('done', 'echo hi')] }] });
    await waitState(t.master, 'live', 'TASK_RUNNING');
    await waitState(t.master, 'done', 'TASK_FINISHED');
    const doneDir = join(t.workDir, 'sandboxes', 'fw-1', 'done');
    const liveSandbox = t.agent.tasks().find((v) => v.taskId === 'live')!.sandboxDir;
    expect(existsSync(doneDir)).toBe(true); // acknowledged just now: the delay has not passed
    await waitFor(() => !existsSync(doneDir), { what: 'the finished task sandbox removed' });
    expect(await metricValue(t.agent, 'stoa_agent_sandboxes_removed_total')).toBe(1);
    expect(await metricValue(t.agent, 'stoa_agent_sandbox_bytes_freed_total')).toBeGreaterThanOrEqual(3); // "hi\n" at least
    expect(existsSync(join(liveSandbox, 'stdout'))).toBe(true);
    expect(t.agent.tasks().map((v) => v.taskId)).toEqual(['live']);
  });

  it('removes what an earlier run left when it starts, but not the sandboxes of tasks it re-attaches to', async () => {
    const stale = (workDir: string) => {
      const dir = join(workDir, 'sandboxes', 'fw-old', 'gone', 'r1');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'stdout'), 'old output');
      const t = (Date.now() - 2 * 3600_000) / 1000;
      utimesSync(join(dir, 'stdout'), t, t);
      utimesSync(dir, t, t);
    };
    const t = await setup({ sandboxGcDelayMs: 3600_000 }, stale);
    await waitFor(() => !existsSync(join(t.workDir, 'sandboxes', 'fw-old')), { what: 'the stale sandbox removed at start' });
    t.master.send(t.agentId, { type: 'RUN_TASKS', launches: [{ framework: testFramework(), tasks: [commandTask('keeper', 'exec sleep 30')] }] });
    await waitState(t.master, 'keeper', 'TASK_RUNNING');
    const sandbox = t.agent.tasks()[0]!.sandboxDir;
    await t.agent.stop(); // the task keeps running
    stale(t.workDir);
    const again = await t.restart({ sandboxGcDelayMs: 0 });
    await waitFor(() => !existsSync(join(t.workDir, 'sandboxes', 'fw-old')), { what: 'the stale sandbox removed at restart' });
    expect(again.tasks()[0]).toMatchObject({ taskId: 'keeper', state: 'TASK_RUNNING', sandboxDir: sandbox });
    expect(existsSync(join(sandbox, 'stdout'))).toBe(true);
    expect(await metricValue(again, 'stoa_agent_sandboxes_scheduled')).toBe(0);
  });

  it('keeps an executor sandbox while the executor runs, and removes it once it ended', async () => {
    const t = await setup({ sandboxGcDelayMs: 100, executorNatsUrl: 'nats://example:4222' });
    const executor = { executorId: 'ex-1', command: { value: 'exec sleep 300' }, resources: parseResources('cpus:0.5;mem:64') };
    const task: TaskInfo = { taskId: 'on-ex', name: 'on-ex', agentId: 'unknown', resources: parseResources('cpus:0.1;mem:32'), executor };
    t.master.send(t.agentId, { type: 'RUN_TASKS', launches: [{ framework: testFramework(), tasks: [task] }] });
    const exDir = join(t.workDir, 'sandboxes', 'fw-1', 'executors', 'ex-1');
    await waitFor(() => t.agent.executors()[0]?.sandboxDir, { what: 'the executor started' });
    // Play the executor: subscribe, then finish the task.
    const transport = MemoryTransport.create({ bus: t.bus });
    cleanups.push(() => transport.close());
    const s = subjects();
    const call = async (body: Record<string, unknown>) => {
      const c = { v: 1, executorId: 'ex-1', frameworkId: 'fw-1', ...body } as ExecutorCall;
      return transport.request(s.executorCalls(t.agentId, 'ex-1'), encode(ExecutorCallSchema, c), { timeoutMs: 2000 });
    };
    await call({ type: 'SUBSCRIBE' });
    await waitFor(() => t.agent.executors()[0]?.state === 'running', { what: 'the executor subscribed' });
    const reply = await call({
      type: 'UPDATE',
      statuses: [{ taskId: 'on-ex', state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR', executorId: 'ex-1', timestampMs: Date.now(), uuid: crypto.randomUUID() }],
    });
    expect(safeDecode(ExecutorCallReplySchema, reply.data)).toMatchObject({ ok: true, value: { ok: true } });
    await waitFor(() => t.agent.tasks().length === 0, { what: 'the task forgotten once acknowledged' });
    // Its sandbox is the executor's, which still runs: nothing is scheduled.
    expect(await metricValue(t.agent, 'stoa_agent_sandboxes_scheduled')).toBe(0);
    expect(readdirSync(exDir)).toHaveLength(1);
    t.master.send(t.agentId, { type: 'SHUTDOWN_EXECUTOR', frameworkId: 'fw-1', executorId: 'ex-1' });
    await waitFor(() => !existsSync(exDir), { what: 'the executor sandbox removed' });
    expect(await metricValue(t.agent, 'stoa_agent_sandboxes_removed_total')).toBe(1);
  });
});

describe('task usage', () => {
  it('reads the usage of running tasks under the process containerizer, and drops it when they end', async () => {
    const t = await setup({ usageIntervalMs: 50 });
    t.master.send(t.agentId, { type: 'RUN_TASKS', launches: [{ framework: testFramework(), tasks: [commandTask('busy', 'while :; do :; done')] }] });
    await waitState(t.master, 'busy', 'TASK_RUNNING');
    const first = await waitFor(() => {
      const u = t.agent.tasks()[0]?.usage;
      return u !== undefined && (u.rssBytes ?? 0) > 0 && (u.cpuUserSeconds ?? 0) + (u.cpuSystemSeconds ?? 0) > 0 ? u : undefined;
    }, { what: 'a usage reading with rss and cpu time' });
    const cpuOf = (u: typeof first) => (u.cpuUserSeconds ?? 0) + (u.cpuSystemSeconds ?? 0);
    await waitFor(() => {
      const u = t.agent.tasks()[0]?.usage;
      return u !== undefined && u.timestampMs > first.timestampMs && cpuOf(u) > cpuOf(first);
    }, { what: 'cpu seconds growing' });

    const cpu = await metric(t.agent, 'stoa_agent_task_cpu_seconds_total');
    expect(cpu).toHaveLength(1);
    expect(cpu[0]!.labels).toEqual({ task_id: 'busy', framework_id: 'fw-1' });
    expect(cpu[0]!.value).toBeGreaterThan(0);
    const rss = await metric(t.agent, 'stoa_agent_task_rss_bytes');
    expect(rss[0]!.value).toBeGreaterThan(0);

    t.master.send(t.agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: 'fw-1', taskId: 'busy' }] });
    await waitState(t.master, 'busy', 'TASK_KILLED');
    expect(t.agent.tasks().find((v) => v.taskId === 'busy')?.usage).toBeUndefined();
    expect(await metric(t.agent, 'stoa_agent_task_cpu_seconds_total')).toEqual([]);
    expect(await metric(t.agent, 'stoa_agent_task_rss_bytes')).toEqual([]);
  });

  it('polls the simulated containerizer without a crash, and shows no usage (it measures none)', async () => {
    const sim = new SimulatedContainerizer({});
    cleanups.push(() => sim.close({ killAll: true }));
    let reads = 0;
    const usage = sim.usage.bind(sim);
    sim.usage = async (id: string) => {
      reads++;
      return usage(id);
    };
    const t = await setup({ containerizer: sim, workDir: undefined, usageIntervalMs: 20 });
    t.master.send(t.agentId, { type: 'RUN_TASKS', launches: [{ framework: testFramework(), tasks: [commandTask('sim', 'whatever')] }] });
    await waitState(t.master, 'sim', 'TASK_RUNNING');
    await waitFor(() => reads >= 3, { what: 'three usage reads' });
    expect(t.agent.tasks()[0]).toMatchObject({ taskId: 'sim', state: 'TASK_RUNNING' });
    expect(t.agent.tasks()[0]!.usage).toBeUndefined();
    expect(await metric(t.agent, 'stoa_agent_task_cpu_seconds_total')).toEqual([]);
  });

  it('refuses a negative interval', async () => {
    const bus = new MemoryBus();
    const transport = MemoryTransport.create({ bus });
    cleanups.push(() => transport.close());
    await expect(startAgent({ transport, containerizer: 'simulated', usageIntervalMs: -1 })).rejects.toThrow(/usageIntervalMs/);
  });
});
