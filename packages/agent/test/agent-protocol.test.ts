/**
 * The agent against a scripted fake master over the in-memory transport, with real processes:
 * registration, pings, fencing, the life of a task, reliable and ordered status updates, kills,
 * health checks, sandboxes, and recovery after a restart in the same process.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTrusted, MemoryBus, MemoryTransport, type StatusUpdate, type TaskInfo, type TaskState, type Transport } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpoint } from '../src/checkpoint.js';
import { type AgentHandle, type AgentOptions, startAgent } from '../src/index.js';
import { commandTask, FakeMaster, type FakeMasterOptions, testFramework } from './fake-master.js';

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

/** Set by `agent-protocol.nats.test.ts`, which runs this file's tests over a real nats-server. */
function natsUrl(): string | undefined {
  return (globalThis as { __stoaAgentTestNatsUrl?: string }).__stoaAgentTestNatsUrl;
}

async function setup(options: Partial<AgentOptions> = {}, masterOptions: Partial<FakeMasterOptions> = {}): Promise<Setup> {
  const bus = new MemoryBus();
  const url = natsUrl();
  const masterTransport: Transport = url ? await NatsTransport.connect({ servers: url }) : MemoryTransport.create({ bus });
  const agentTransport: Transport = url ? await NatsTransport.connect({ servers: url }) : MemoryTransport.create({ bus });
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'stoa-agent-'));
  const master = FakeMaster.start({ transport: masterTransport, ...masterOptions });
  const base: AgentOptions = {
    transport: agentTransport,
    workDir,
    hostname: 'test-host',
    resources: 'cpus:2;mem:1024;disk:1000;ports:[31000-31009]',
    statusRetry: { initialMs: 50, maxMs: 200 },
    registerRetry: { initialMs: 20, maxMs: 100 },
    requestTimeoutMs: 300,
    killGracePeriodMs: 1000,
    ...options,
  };
  const agents: AgentHandle[] = [];
  const start = async (extra: Partial<AgentOptions> = {}) => {
    const a = await startAgent({ ...base, ...extra });
    agents.push(a);
    return a;
  };
  cleanups.push(async () => {
    master.autoAck = true;
    master.silent = false;
    master.attach();
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

function run(master: FakeMaster, agentId: string, tasks: TaskInfo[], framework = testFramework()): void {
  master.send(agentId, { type: 'RUN_TASKS', launches: [{ framework, tasks }] });
}

function distinctStates(master: FakeMaster, taskId: string): TaskState[] {
  return master.statesOf(taskId);
}

async function waitState(master: FakeMaster, taskId: string, state: TaskState, timeoutMs = 10_000): Promise<StatusUpdate> {
  return master.waitUpdate((u) => u.status.taskId === taskId && u.status.state === state, `${taskId} ${state}`, timeoutMs);
}

describe('agent registration', () => {
  it('registers, persists its id, and answers pings', async () => {
    const { master, agent, agentId, workDir } = await setup();
    expect(agent.state).toBe('registered');
    const reg = master.registrations[0]!;
    expect(reg.type).toBe('REGISTER');
    if (reg.type === 'REGISTER') {
      expect(reg.agentInfo.hostname).toBe('test-host');
      expect(reg.agentInfo.containerizers).toEqual(['process']);
    }
    expect(JSON.parse(readFileSync(join(workDir, 'meta', 'agent.json'), 'utf8')).agentId).toBe(agentId);
    const pong = await master.ping(agentId, 7);
    expect(pong).toEqual({ v: 1, ok: true, result: { agentId, seq: 7 } });
  });

  it('keeps retrying registration until a master answers', async () => {
    const bus = new MemoryBus();
    const agentTransport = MemoryTransport.create({ bus });
    const masterTransport = MemoryTransport.create({ bus });
    const workDir = mkdtempSync(join(tmpdir(), 'stoa-agent-'));
    const agent = await startAgent({ transport: agentTransport, workDir, resources: 'cpus:1;mem:128', registerRetry: { initialMs: 10, maxMs: 50 }, requestTimeoutMs: 200 });
    const master = FakeMaster.start({ transport: masterTransport });
    master.silent = true;
    cleanups.push(async () => {
      await agent.stop();
      await agentTransport.close();
      await masterTransport.close();
      rmSync(workDir, { recursive: true, force: true });
    });
    expect(agent.state).toBe('registering');
    master.silent = false;
    await agent.waitRegistered();
    expect(agent.agentId).toBe('agent-1');
  });

  it('re-registers with a new leader and then drops commands of the old epoch', async () => {
    const { master, agent, agentId } = await setup();
    master.announceLeader(5);
    await master.waitRegistered(2);
    const re = master.registrations[1]!;
    expect(re.type).toBe('REREGISTER');
    await waitFor(() => agent.state === 'registered' && agent.epoch === 5, { what: 're-registered at epoch 5' });
    run(master, agentId, [commandTask('fresh', 'exit 0')]);
    master.send(agentId, { type: 'RUN_TASKS', launches: [{ framework: testFramework(), tasks: [commandTask('stale', 'exit 0')] }] }, 4);
    await expect(master.ping(agentId, 1, { epoch: 1, timeoutMs: 200 })).rejects.toThrow();
    await waitFor(() => agent.stats().staleCommands === 2, { what: 'two stale commands counted' });
    // The epoch-5 command went through; the epoch-4 one and the epoch-1 ping did not.
    await waitState(master, 'fresh', 'TASK_STARTING');
    expect(master.updatesOf('stale')).toEqual([]);
  });

  it('drops and counts messages that do not decode', async () => {
    const { master, agent, agentId, bus } = await setup();
    const url = natsUrl();
    const raw: Transport = url ? await NatsTransport.connect({ servers: url }) : MemoryTransport.create({ bus });
    cleanups.push(() => raw.close());
    raw.publish(`stoa.agent.${agentId}`, new Uint8Array([0xc1, 0xff, 0x00]));
    raw.publish(`stoa.agent.${agentId}`, encodeTrusted({ v: 1, type: 'NOPE', epoch: 1 }));
    raw.publish('stoa.master.leader', new Uint8Array([1, 2, 3]));
    await waitFor(() => agent.stats().invalidMessages === 3, { what: 'three invalid messages counted' });
    expect((await master.ping(agentId, 1)).ok).toBe(true);
  });
});

describe('agent tasks', () => {
  it('runs a task: STARTING, RUNNING, FINISHED, each only after the previous one was acknowledged', async () => {
    const { master, agent, agentId, workDir } = await setup();
    run(master, agentId, [commandTask('ok', 'exit 0')]);
    const starting = await waitState(master, 'ok', 'TASK_STARTING');
    // The process ends at once, but nothing after STARTING may go out before its ack.
    await waitFor(() => agent.tasks()[0]?.state === 'TASK_FINISHED', { what: 'the task to finish on the agent' });
    expect(distinctStates(master, 'ok')).toEqual(['TASK_STARTING']);
    master.ack(agentId, starting);
    const running = await waitState(master, 'ok', 'TASK_RUNNING');
    expect(distinctStates(master, 'ok')).toEqual(['TASK_STARTING', 'TASK_RUNNING']);
    expect(running.status.source).toBe('SOURCE_EXECUTOR');
    master.ack(agentId, running);
    const finished = await waitState(master, 'ok', 'TASK_FINISHED');
    expect(finished.status.exitCode).toBe(0);
    expect(finished.status.agentId).toBe(agentId);
    expect(distinctStates(master, 'ok')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    const sandbox = agent.tasks()[0]!.sandboxDir;
    expect(sandbox.startsWith(join(workDir, 'sandboxes', 'fw-1', 'ok'))).toBe(true);
    // The master has the update: the checkpoint had it first (written ahead of the send).
    const onDisk = Checkpoint.read(workDir);
    expect(onDisk.tasks.find((t) => t.task.taskId === 'ok')?.state).toBe('TASK_FINISHED');
    expect(onDisk.journals.find((j) => j.taskId === 'ok')?.pending.map((u) => u.status.uuid)).toEqual([finished.status.uuid]);
    master.ack(agentId, finished);
    await waitFor(() => agent.tasks().length === 0, { what: 'the task to be forgotten' });
    await waitFor(() => Checkpoint.read(workDir).tasks.length === 0, { what: 'the checkpoint to forget the task' });
    expect(Checkpoint.read(workDir).journals).toEqual([]);
  });

  it('reports a failing command with its exit code', async () => {
    const { master, agentId } = await setup({}, { autoAck: true });
    run(master, agentId, [commandTask('bad', 'exit 3')]);
    const failed = await waitState(master, 'bad', 'TASK_FAILED');
    expect(failed.status.exitCode).toBe(3);
    expect(failed.status.reason).toBe('REASON_COMMAND_EXECUTOR_FAILED');
    expect(distinctStates(master, 'bad')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
  });

  it('gives the task its environment, and serves its sandbox over READ_FILE', async () => {
    const { master, agentId } = await setup({}, { autoAck: true });
    const task = commandTask('env', 'echo "$STOA_TASK_ID $STOA_FRAMEWORK_ID $STOA_AGENT_ID $HOST $PORT $PORT1 $PORTS $EXTRA"; test -d "$STOA_SANDBOX"', {
      resources: [
        { name: 'cpus', type: 'SCALAR', scalar: 0.1 },
        { name: 'ports', type: 'RANGES', ranges: [{ begin: 31002, end: 31003 }] },
      ],
    });
    task.command!.environment = { EXTRA: 'x' };
    run(master, agentId, [task]);
    await waitState(master, 'env', 'TASK_FINISHED');
    const listing = await master.readFile(agentId, 'env', '');
    expect(listing.ok && listing.result.entries?.map((e) => e.name)).toContain('stdout');
    const out = await master.readFile(agentId, 'env', 'stdout', { frameworkId: 'fw-1' });
    expect(out.ok && Buffer.from(out.result.data!).toString().trim()).toBe(`env fw-1 ${agentId} test-host 31002 31003 31002,31003 x`);
    const outside = await master.readFile(agentId, 'env', '../../../../meta/agent.json');
    expect(outside.ok).toBe(false);
    const unknown = await master.readFile(agentId, 'nope', '');
    expect(!unknown.ok && unknown.error.code).toBe('NOT_FOUND');
  });

  it('refuses tasks it cannot run with TASK_ERROR', async () => {
    const { master, agent, agentId } = await setup({}, { autoAck: true });
    const big = commandTask('big', 'exit 0', { resources: [{ name: 'cpus', type: 'SCALAR', scalar: 3 }] });
    const executor = commandTask('exec', 'exit 0');
    delete executor.command;
    executor.executor = { executorId: 'e1', resources: [] }; // no command, and none running to reuse
    const noValue = commandTask('novalue', 'x');
    noValue.command = { shell: false, arguments: ['a'] };
    const groupTask = commandTask('group', 'x');
    groupTask.command = { shell: false, arguments: ['a'] }; // the default executor runs command values only
    master.send(agentId, {
      type: 'RUN_TASKS',
      launches: [
        { framework: testFramework(), tasks: [big, executor, noValue] },
        { framework: testFramework('fw-2'), tasks: [groupTask], groupExecutor: { executorId: 'g', resources: [] } },
      ],
    });
    for (const id of ['big', 'exec', 'novalue']) {
      const u = await waitState(master, id, 'TASK_ERROR');
      expect(u.status.reason).toBe('REASON_TASK_INVALID');
    }
    expect((await waitState(master, 'group', 'TASK_ERROR')).status.reason).toBe('REASON_TASK_GROUP_INVALID');
    expect((await waitState(master, 'big', 'TASK_ERROR')).status.message).toMatch(/insufficient resources/);
    expect((await waitState(master, 'exec', 'TASK_ERROR')).status.message).toMatch(/executor e1 has no command/);
    await waitFor(() => agent.tasks().length === 0 && agent.stats().updatesPending === 0, { what: 'all acknowledged' });
  });

  it('counts resources of live tasks only', async () => {
    const { master, agentId } = await setup({ resources: 'cpus:1;mem:256' }, { autoAck: true });
    const one = (id: string, cmd: string) => commandTask(id, cmd, { resources: [{ name: 'cpus', type: 'SCALAR', scalar: 0.6 }] });
    run(master, agentId, [one('first', 'sleep 30'), one('second', 'exit 0')]);
    await waitState(master, 'first', 'TASK_RUNNING');
    expect((await waitState(master, 'second', 'TASK_ERROR')).status.message).toMatch(/insufficient resources/);
    master.send(agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: 'fw-1', taskId: 'first' }] });
    await waitState(master, 'first', 'TASK_KILLED');
    run(master, agentId, [one('third', 'exit 0')]);
    await waitState(master, 'third', 'TASK_FINISHED');
  });

  it('kills a task that traps SIGTERM only after it had its grace, with TASK_KILLING first', async () => {
    const { master, agent, agentId } = await setup({}, { autoAck: true });
    const trap = commandTask('trap', "trap 'echo term > got-term; exit 0' TERM; while :; do sleep 0.05; done", { killPolicy: { gracePeriodMs: 5000 } });
    const stubborn = commandTask('stubborn', "trap '' TERM; while :; do sleep 0.05; done", { killPolicy: { gracePeriodMs: 400 } });
    run(master, agentId, [trap, stubborn], testFramework('fw-1', ['TASK_KILLING_STATE']));
    await waitState(master, 'trap', 'TASK_RUNNING');
    await waitState(master, 'stubborn', 'TASK_RUNNING');
    const t0 = Date.now();
    master.send(agentId, {
      type: 'KILL_TASKS',
      kills: [
        { frameworkId: 'fw-1', taskId: 'trap' },
        { frameworkId: 'fw-1', taskId: 'stubborn' },
      ],
    });
    const killedTrap = await waitState(master, 'trap', 'TASK_KILLED');
    expect(distinctStates(master, 'trap')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    expect(killedTrap.status.signal).toBeUndefined();
    const sandbox = (await master.readFile(agentId, 'trap', 'got-term')).ok;
    expect(sandbox).toBe(true);
    const killedStubborn = await waitState(master, 'stubborn', 'TASK_KILLED');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    expect(killedStubborn.status.signal).toBe('SIGKILL');
    await waitFor(() => agent.tasks().length === 0, { what: 'tasks forgotten' });
  });

  it('answers a kill of an unknown task with TASK_LOST', async () => {
    const { master, agentId } = await setup({}, { autoAck: true });
    master.send(agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: 'fw-1', taskId: 'ghost' }] });
    const lost = await waitState(master, 'ghost', 'TASK_LOST');
    expect(lost.status.reason).toBe('REASON_TASK_UNKNOWN');
  });

  it('fails a task whose URI cannot be fetched, naming the URI', async () => {
    const { master, agentId } = await setup({}, { autoAck: true });
    const task = commandTask('fetch', 'exit 0');
    task.command!.uris = [{ value: 'file:///nonexistent/stoa-missing.tgz' }];
    run(master, agentId, [task]);
    const failed = await waitState(master, 'fetch', 'TASK_FAILED');
    expect(failed.status.reason).toBe('REASON_FETCHER_FAILED');
    expect(failed.status.message).toContain('file:///nonexistent/stoa-missing.tgz');
  });

  it('kills a task at its maxCompletionTimeMs', async () => {
    const { master, agentId } = await setup({}, { autoAck: true });
    run(master, agentId, [commandTask('slow', 'sleep 30', { maxCompletionTimeMs: 200, killPolicy: { gracePeriodMs: 100 } })]);
    const failed = await waitState(master, 'slow', 'TASK_FAILED');
    expect(failed.status.reason).toBe('REASON_MAX_COMPLETION_TIME_REACHED');
  });

  it('reports health changes and kills a task that stays unhealthy', async () => {
    const { master, agentId } = await setup({}, { autoAck: true });
    const task = commandTask('health', 'touch healthy; sleep 0.6; rm healthy; sleep 30', {
      healthCheck: { type: 'COMMAND', command: { value: 'test -f healthy' }, delayMs: 0, intervalMs: 100, timeoutMs: 1000, gracePeriodMs: 0, consecutiveFailures: 2 },
      killPolicy: { gracePeriodMs: 200 },
    });
    run(master, agentId, [task]);
    const healthy = await master.waitUpdate((u) => u.status.taskId === 'health' && u.status.healthy === true, 'healthy');
    expect(healthy.status.state).toBe('TASK_RUNNING');
    expect(healthy.status.reason).toBe('REASON_TASK_HEALTH_CHECK_STATUS_UPDATED');
    const killed = await waitState(master, 'health', 'TASK_KILLED');
    expect(killed.status.healthy).toBe(false);
    expect(killed.status.reason).toBe('REASON_TASK_HEALTH_CHECK_FAILED');
  });

  it('kills all tasks of a framework on SHUTDOWN_FRAMEWORK and all tasks on DRAIN', async () => {
    const { master, agentId } = await setup({}, { autoAck: true });
    run(master, agentId, [commandTask('a1', 'sleep 30'), commandTask('a2', 'sleep 30')], testFramework('fw-a'));
    run(master, agentId, [commandTask('b1', 'sleep 30')], testFramework('fw-b'));
    for (const id of ['a1', 'a2', 'b1']) await waitState(master, id, 'TASK_RUNNING');
    master.send(agentId, { type: 'SHUTDOWN_FRAMEWORK', frameworkId: 'fw-a' });
    expect((await waitState(master, 'a1', 'TASK_KILLED')).status.reason).toBe('REASON_FRAMEWORK_REMOVED');
    await waitState(master, 'a2', 'TASK_KILLED');
    expect(master.updatesOf('b1').some((u) => u.status.state === 'TASK_KILLED')).toBe(false);
    master.send(agentId, { type: 'DRAIN', gracePeriodMs: 100 });
    expect((await waitState(master, 'b1', 'TASK_KILLED')).status.reason).toBe('REASON_AGENT_DRAINING');
  });
});

describe('status-update delivery', () => {
  it('retries while nobody answers and while the master does not ack, then delivers in order', async () => {
    const { master, agent, agentId } = await setup();
    master.detach(); // no responders
    run(master, agentId, [commandTask('r', 'exit 0')]);
    await waitFor(() => agent.stats().updatesRetried >= 2, { what: 'resends with nobody listening' });
    expect(master.updates).toHaveLength(0);
    master.attach();
    master.silent = true; // timeouts
    const before = agent.stats().updatesRetried;
    await waitFor(() => agent.stats().updatesRetried >= before + 2, { what: 'resends while the master is silent' });
    expect(master.updates).toHaveLength(0);
    master.silent = false; // answers, but does not ack
    await waitFor(() => master.updatesOf('r').length >= 3, { what: 'the same update three times' });
    expect(distinctStates(master, 'r')).toEqual(['TASK_STARTING']);
    master.autoAck = true;
    master.ack(agentId, master.updatesOf('r')[0]!);
    await waitState(master, 'r', 'TASK_FINISHED');
    expect(distinctStates(master, 'r')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    await waitFor(() => agent.tasks().length === 0, { what: 'forgotten after the last ack' });
  });

  it('sends updates of many tasks in one message', async () => {
    const { master, agentId } = await setup({ resources: 'cpus:10;mem:4096' }, { autoAck: true });
    const tasks = Array.from({ length: 10 }, (_, i) => commandTask(`m${i}`, 'exit 0', { resources: [{ name: 'cpus', type: 'SCALAR', scalar: 0.5 }] }));
    run(master, agentId, tasks);
    for (let i = 0; i < 10; i++) await waitState(master, `m${i}`, 'TASK_FINISHED');
    expect(master.statusCalls).toBeLessThan(master.updates.length);
  });
});

describe('agent recovery in one process', () => {
  it('re-attaches to a running task after a restart and reports one that ended meanwhile', async () => {
    const s = await setup({}, { autoAck: true });
    const { master, agentId } = s;
    run(master, agentId, [commandTask('long', 'sleep 30'), commandTask('short', 'while [ ! -f go ]; do sleep 0.05; done; touch done; exit 7')]);
    await waitState(master, 'long', 'TASK_RUNNING');
    await waitState(master, 'short', 'TASK_RUNNING');
    const shortSandbox = s.agent.tasks().find((t) => t.taskId === 'short')!.sandboxDir;
    await s.agent.stop(); // detach: the tasks keep running
    writeFileSync(join(shortSandbox, 'go'), '');
    await waitFor(() => existsSync(join(shortSandbox, 'done')), { what: 'the short task to end while the agent is away' });
    const again = await s.restart();
    await again.waitRegistered();
    const re = master.registrations.at(-1)!;
    expect(re.type).toBe('REREGISTER');
    if (re.type === 'REREGISTER') {
      expect(re.agentId).toBe(agentId);
      const states = new Map(re.tasks.map((t) => [t.task.taskId, t.state]));
      expect(states.get('long')).toBe('TASK_RUNNING');
      // Either its end was found at recovery, or the re-attached watch sees it just after.
      expect(['TASK_RUNNING', 'TASK_FAILED']).toContain(states.get('short'));
    }
    const failed = await waitState(master, 'short', 'TASK_FAILED');
    expect(failed.status.exitCode).toBe(7);
    expect(again.tasks().find((t) => t.taskId === 'long')?.state).toBe('TASK_RUNNING');
    master.send(agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: 'fw-1', taskId: 'long' }] });
    await waitState(master, 'long', 'TASK_KILLED');
    for (const id of ['long', 'short']) {
      const uuids = master.updatesOf(id).map((u) => u.status.uuid);
      expect(new Set(uuids).size).toBe(distinctStates(master, id).length);
    }
  });
});

describe('agent odds and ends', () => {
  it('re-registers when pings stop for three intervals', async () => {
    const { master } = await setup({}, { pingIntervalMs: 50 });
    await master.waitRegistered(2, 5000);
    expect(master.registrations[1]!.type).toBe('REREGISTER');
  });

  it('with recover: cleanup, kills the tasks of the earlier run', async () => {
    const s = await setup({}, { autoAck: true });
    const { master, agentId } = s;
    run(master, agentId, [commandTask('old', 'sleep 30')]);
    await waitState(master, 'old', 'TASK_RUNNING');
    await s.agent.stop();
    const again = await s.restart({ recover: 'cleanup' });
    await again.waitRegistered();
    const failed = await waitState(master, 'old', 'TASK_FAILED');
    expect(failed.status.reason).toBe('REASON_AGENT_RESTARTED');
    await waitFor(() => again.tasks().length === 0, { what: 'the old task forgotten' });
  });

  it('exports Prometheus metrics', async () => {
    const { master, agent, agentId } = await setup({}, { autoAck: true });
    run(master, agentId, [commandTask('m', 'exit 0')]);
    await waitState(master, 'm', 'TASK_FINISHED');
    master.send(agentId, { type: 'PING', seq: 1 }, 0);
    await waitFor(() => agent.stats().staleCommands === 1, { what: 'a stale ping' });
    const text = await agent.metrics.metrics();
    expect(text).toMatch(/stoa_agent_status_updates_sent_total \d+/);
    expect(text).toContain('stoa_agent_stale_commands_total 1');
    expect(text).toContain('stoa_agent_registrations_total 1');
  });

  it('runs simulated tasks without a work dir, as their labels say', async () => {
    const bus = new MemoryBus();
    const masterTransport = MemoryTransport.create({ bus });
    const agentTransport = MemoryTransport.create({ bus });
    const master = FakeMaster.start({ transport: masterTransport, autoAck: true });
    await using agent = await startAgent({ transport: agentTransport, containerizer: 'simulated', resources: 'cpus:4;mem:4096' });
    cleanups.push(async () => {
      await agentTransport.close();
      await masterTransport.close();
    });
    await agent.waitRegistered();
    const agentId = agent.agentId!;
    const sim = (id: string, labels: Record<string, string>, extra: Partial<TaskInfo> = {}) => commandTask(id, 'simulated', { labels, ...extra });
    run(master, agentId, [
      sim('ok', { 'stoa.sim.runForMs': '10' }),
      sim('fails', { 'stoa.sim.runForMs': '10', 'stoa.sim.exitCode': '4' }),
      sim('healthy', {}, { healthCheck: { type: 'TCP', tcp: { port: 1 } } }),
    ]);
    await waitState(master, 'ok', 'TASK_FINISHED');
    expect((await waitState(master, 'fails', 'TASK_FAILED')).status.exitCode).toBe(4);
    expect((await waitState(master, 'healthy', 'TASK_RUNNING')).status.healthy).toBe(true);
    const listing = await master.readFile(agentId, 'ok', '');
    expect(!listing.ok && listing.error.code).toBe('NOT_FOUND');
  });
});
