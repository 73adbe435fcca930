/**
 * Custom executors on the agent, against the scripted fake master over the in-memory transport.
 * The executor's process is a real one (`sleep`, started by the process containerizer), and a
 * scripted fake executor speaks the executor protocol in its place, so every edge (never
 * subscribing, ignoring a kill, re-sending updates, dying) can be driven on cue.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encode,
  type ExecutorCall,
  ExecutorCallReplySchema,
  ExecutorCallSchema,
  type ExecutorEvent,
  ExecutorEventSchema,
  type ExecutorInfo,
  ExecutorSubscribeReplySchema,
  MemoryBus,
  MemoryTransport,
  parseResources,
  safeDecode,
  type StatusUpdate,
  subjects,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
  type Transport,
  type TransportSubscription,
} from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentHandle, type AgentOptions, type ContainerLaunch, type Containerizer, ProcessContainerizer, startAgent } from '../src/index.js';
import { commandTask, FakeMaster, testFramework } from './fake-master.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const s = subjects();

/** Plays an executor: sends calls on its calls subject, records the agent's events. */
class FakeExecutor {
  readonly events: ExecutorEvent[] = [];
  private sub: TransportSubscription | undefined;

  constructor(
    private readonly transport: Transport,
    readonly agentId: string,
    readonly executorId: string,
    readonly frameworkId = 'fw-1',
  ) {}

  listen(): void {
    this.sub = this.transport.subscribe(s.executor(this.agentId, this.executorId), {
      callback: (msg) => {
        const r = safeDecode(ExecutorEventSchema, msg.data);
        if (r.ok) this.events.push(r.value);
      },
    });
  }

  async call(body: { type: 'UPDATE'; statuses: TaskStatus[] } | { type: 'MESSAGE'; data: Uint8Array }) {
    const call = { v: 1, executorId: this.executorId, frameworkId: this.frameworkId, ...body } as ExecutorCall;
    const reply = await this.transport.request(s.executorCalls(this.agentId, this.executorId), encodeCall(call), { timeoutMs: 2000 });
    const r = safeDecode(ExecutorCallReplySchema, reply.data);
    if (!r.ok) throw r.error;
    return r.value;
  }

  async subscribe(extra: { unacknowledgedTasks?: TaskInfo[]; unacknowledgedUpdates?: TaskStatus[] } = {}) {
    if (this.sub === undefined) this.listen();
    const call: ExecutorCall = { v: 1, type: 'SUBSCRIBE', executorId: this.executorId, frameworkId: this.frameworkId, ...extra };
    const reply = await this.transport.request(s.executorCalls(this.agentId, this.executorId), encodeCall(call), { timeoutMs: 2000 });
    const r = safeDecode(ExecutorSubscribeReplySchema, reply.data);
    if (!r.ok) throw r.error;
    return r.value;
  }

  /** Sends one status; returns it as sent. */
  async update(taskId: string, state: TaskState, uuid = crypto.randomUUID()): Promise<TaskStatus> {
    const status: TaskStatus = { taskId, state, source: 'SOURCE_EXECUTOR', executorId: this.executorId, timestampMs: Date.now(), uuid };
    const reply = await this.call({ type: 'UPDATE', statuses: [status] });
    expect(reply.ok).toBe(true);
    return status;
  }

  launched(): string[] {
    return this.events.flatMap((e) => (e.type === 'LAUNCH' || e.type === 'LAUNCH_GROUP' ? e.tasks.map((t) => t.taskId) : []));
  }

  async waitEvent<T extends ExecutorEvent['type']>(type: T, pred: (e: Extract<ExecutorEvent, { type: T }>) => boolean = () => true, what: string = type) {
    return waitFor(() => this.events.find((e): e is Extract<ExecutorEvent, { type: T }> => e.type === type && pred(e as Extract<ExecutorEvent, { type: T }>)), { what });
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}

function encodeCall(call: ExecutorCall): Uint8Array {
  return encode(ExecutorCallSchema, call);
}

/** A process containerizer that records what it launches. */
function recording(inner: Containerizer): Containerizer & { launches: ContainerLaunch[] } {
  const launches: ContainerLaunch[] = [];
  return {
    launches,
    kind: inner.kind,
    isolation: () => inner.isolation(),
    launch: (l) => {
      launches.push(l);
      return inner.launch(l);
    },
    wait: (id) => inner.wait(id),
    kill: (id, grace) => inner.kill(id, grace),
    usage: (id) => inner.usage(id),
    recover: (known) => inner.recover(known),
    cleanup: (id) => inner.cleanup(id),
    close: (o) => inner.close(o),
  };
}

interface Setup {
  master: FakeMaster;
  agent: AgentHandle;
  agentId: string;
  workDir: string;
  transport: MemoryTransport;
  containerizer: Containerizer & { launches: ContainerLaunch[] };
  restart(extra?: Partial<AgentOptions>): Promise<AgentHandle>;
  executor(executorId?: string, frameworkId?: string): FakeExecutor;
}

async function setup(options: Partial<AgentOptions> = {}): Promise<Setup> {
  const bus = new MemoryBus();
  const masterTransport = MemoryTransport.create({ bus });
  const agentTransport = MemoryTransport.create({ bus });
  const executorTransport = MemoryTransport.create({ bus });
  const workDir = mkdtempSync(join(tmpdir(), 'stoa-executors-'));
  const master = FakeMaster.start({ transport: masterTransport, autoAck: true });
  let inner = await ProcessContainerizer.create({ workDir });
  let containerizer = recording(inner);
  const agents: AgentHandle[] = [];
  const base: AgentOptions = {
    transport: agentTransport,
    workDir,
    hostname: 'exec-host',
    resources: 'cpus:4;mem:2048;disk:1000',
    statusRetry: { initialMs: 50, maxMs: 200 },
    registerRetry: { initialMs: 20, maxMs: 100 },
    requestTimeoutMs: 300,
    killGracePeriodMs: 500,
    executorNatsUrl: 'nats://example:4222',
    executorShutdownGracePeriodMs: 300,
    ...options,
  };
  const start = async (extra: Partial<AgentOptions> = {}) => {
    const a = await startAgent({ ...base, containerizer, ...extra });
    agents.push(a);
    return a;
  };
  const fakes: FakeExecutor[] = [];
  cleanups.push(async () => {
    master.autoAck = true;
    for (const f of fakes) f.stop();
    for (const a of agents) await a.stop({ killTasks: true }).catch(() => {});
    await inner.close({ killAll: true });
    master.stop();
    await agentTransport.close();
    await masterTransport.close();
    await executorTransport.close();
    rmSync(workDir, { recursive: true, force: true });
  });
  const agent = await start();
  await agent.waitRegistered();
  const setupObject: Setup = {
    master,
    agent,
    agentId: agent.agentId!,
    workDir,
    transport: agentTransport,
    containerizer,
    restart: async (extra = {}) => {
      // A new containerizer, as a restarted agent process would have.
      inner = await ProcessContainerizer.create({ workDir });
      containerizer = recording(inner);
      setupObject.containerizer = containerizer;
      return start(extra);
    },
    executor: (executorId = 'ex-1', frameworkId = 'fw-1') => {
      const f = new FakeExecutor(executorTransport, agent.agentId!, executorId, frameworkId);
      fakes.push(f);
      return f;
    },
  };
  return setupObject;
}

const small = parseResources('cpus:0.1;mem:32');

function executorInfo(executorId = 'ex-1', command = 'exec sleep 300', resources = 'cpus:0.5;mem:64'): ExecutorInfo {
  return { executorId, command: { value: command }, resources: parseResources(resources) };
}

function executorTask(taskId: string, executor: ExecutorInfo = executorInfo(), extra: Partial<TaskInfo> = {}): TaskInfo {
  return { taskId, name: taskId, agentId: 'unknown', resources: small, executor, data: new TextEncoder().encode(`run ${taskId}`), ...extra };
}

function run(master: FakeMaster, agentId: string, tasks: TaskInfo[], framework = testFramework()): void {
  master.send(agentId, { type: 'RUN_TASKS', launches: [{ framework, tasks }] });
}

async function waitState(master: FakeMaster, taskId: string, state: TaskState, timeoutMs = 10_000): Promise<StatusUpdate> {
  return master.waitUpdate((u) => u.status.taskId === taskId && u.status.state === state, `${taskId} ${state}`, timeoutMs);
}

function exitedCalls(master: FakeMaster) {
  return master.otherCalls.filter((c) => c.type === 'EXECUTOR_EXITED');
}

describe('custom executors', () => {
  it('starts an executor once, launches tasks when it subscribes, forwards its updates and passes acknowledgements back', async () => {
    const t = await setup();
    const ex = t.executor();
    run(t.master, t.agentId, [executorTask('a'), executorTask('b')]);
    await waitFor(() => t.containerizer.launches.length === 1, { what: 'the executor launched' });
    const launch = t.containerizer.launches[0]!;
    expect(launch.command.value).toBe('exec sleep 300');
    expect(launch.sandboxDir).toBe(join(t.workDir, 'sandboxes', 'fw-1', 'executors', 'ex-1', launch.sandboxDir.split('/').pop()!));
    expect(launch.env).toMatchObject({
      STOA_NATS_URL: 'nats://example:4222',
      STOA_AGENT_ID: t.agentId,
      STOA_FRAMEWORK_ID: 'fw-1',
      STOA_EXECUTOR_ID: 'ex-1',
      STOA_EXECUTOR_SUBJECT: `stoa.executor.${t.agentId}.ex-1`,
      STOA_EXECUTOR_CALLS_SUBJECT: `stoa.executor.${t.agentId}.ex-1.calls`,
      STOA_SUBJECT_PREFIX: 'stoa',
      STOA_SANDBOX: launch.sandboxDir,
      HOST: 'exec-host',
    });
    await waitFor(() => t.agent.executors()[0]?.state === 'registering', { what: 'the executor waiting to subscribe' });
    expect(ex.events).toHaveLength(0); // nothing before SUBSCRIBE

    const reply = await ex.subscribe();
    expect(reply.ok && reply.result.agentId).toBe(t.agentId);
    expect(reply.ok && reply.result.executorInfo.executorId).toBe('ex-1');
    expect(reply.ok && reply.result.frameworkInfo.id).toBe('fw-1');
    const first = await ex.waitEvent('LAUNCH');
    expect(first.tasks.map((task) => task.taskId)).toEqual(['a', 'b']); // one batch
    expect(t.agent.tasks().find((task) => task.taskId === 'a')?.sandboxDir).toBe(launch.sandboxDir);

    // A later task reuses the running executor.
    run(t.master, t.agentId, [executorTask('c')]);
    await waitFor(() => ex.launched().includes('c'), { what: 'c launched on the same executor' });
    expect(t.containerizer.launches).toHaveLength(1);

    const running = await ex.update('a', 'TASK_RUNNING');
    const forwarded = await waitState(t.master, 'a', 'TASK_RUNNING');
    expect(forwarded.status).toMatchObject({ uuid: running.uuid, source: 'SOURCE_EXECUTOR', executorId: 'ex-1', agentId: t.agentId });
    await ex.waitEvent('ACKNOWLEDGED', (e) => e.uuid === running.uuid, 'ACKNOWLEDGED of a RUNNING');
    const finished = await ex.update('a', 'TASK_FINISHED');
    await ex.waitEvent('ACKNOWLEDGED', (e) => e.uuid === finished.uuid, 'ACKNOWLEDGED of a FINISHED');
    expect(t.master.statesOf('a')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    await waitFor(() => !t.agent.tasks().some((task) => task.taskId === 'a'), { what: 'a forgotten' });
    expect(t.agent.executors()).toMatchObject([{ executorId: 'ex-1', kind: 'custom', state: 'running' }]);
  });

  it('counts the executor against the agent and refuses what does not fit, or an executor id of another framework', async () => {
    const t = await setup({ resources: 'cpus:1;mem:1024' });
    const ex = t.executor();
    // 0.5 cpus for the executor + 0.6 for the task do not fit in 1.
    run(t.master, t.agentId, [executorTask('big', executorInfo(), { resources: parseResources('cpus:0.6;mem:32') })]);
    const refused = await waitState(t.master, 'big', 'TASK_ERROR');
    expect(refused.status.message).toMatch(/the task and its executor need/);
    run(t.master, t.agentId, [executorTask('fits', executorInfo(), { resources: parseResources('cpus:0.4;mem:32') })]);
    await ex.subscribe();
    await waitFor(() => ex.launched().includes('fits'), { what: 'fits launched' });
    // The running executor's 0.5 and this task's 0.4 leave 0.1: a plain 0.2 task does not fit.
    run(t.master, t.agentId, [commandTask('plain', 'exit 0', { resources: parseResources('cpus:0.2;mem:32') })]);
    expect((await waitState(t.master, 'plain', 'TASK_ERROR')).status.message).toMatch(/insufficient resources/);
    run(t.master, t.agentId, [executorTask('other', executorInfo(), { resources: small })], testFramework('fw-2'));
    expect((await waitState(t.master, 'other', 'TASK_ERROR')).status.message).toMatch(/in use on this agent by another framework/);
  });

  it('kills an executor that does not subscribe in time and fails its tasks', async () => {
    const t = await setup({ executorRegistrationTimeoutMs: 300 });
    run(t.master, t.agentId, [executorTask('late')]);
    const failed = await waitState(t.master, 'late', 'TASK_FAILED');
    expect(failed.status.reason).toBe('REASON_EXECUTOR_REGISTRATION_TIMEOUT');
    expect(failed.status.source).toBe('SOURCE_AGENT');
    await waitFor(() => exitedCalls(t.master).length === 1, { what: 'EXECUTOR_EXITED' });
    expect(exitedCalls(t.master)[0]).toMatchObject({ frameworkId: 'fw-1', executorId: 'ex-1' });
    await waitFor(() => t.agent.executors().length === 0, { what: 'the executor forgotten' });
  });

  it('kills a queued task at once, sends KILL for a launched one, and kills an executor that ignores it', async () => {
    const t = await setup({ executorRegistrationTimeoutMs: 60_000 });
    const ex = t.executor();
    run(t.master, t.agentId, [executorTask('queued', executorInfo(), { killPolicy: { gracePeriodMs: 200 } })]);
    await waitFor(() => t.agent.executors()[0]?.state === 'registering', { what: 'the executor started' });
    t.master.send(t.agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: 'fw-1', taskId: 'queued' }] });
    expect((await waitState(t.master, 'queued', 'TASK_KILLED')).status.reason).toBe('REASON_TASK_KILLED_DURING_LAUNCH');

    await ex.subscribe();
    run(t.master, t.agentId, [executorTask('polite', executorInfo(), { killPolicy: { gracePeriodMs: 200 } }), executorTask('stubborn', executorInfo(), { killPolicy: { gracePeriodMs: 200 } })]);
    await waitFor(() => ex.launched().includes('stubborn'), { what: 'both launched' });
    expect(ex.launched()).not.toContain('queued');
    await ex.update('polite', 'TASK_RUNNING');
    await ex.update('stubborn', 'TASK_RUNNING');
    t.master.send(t.agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: 'fw-1', taskId: 'polite' }] });
    const kill = await ex.waitEvent('KILL', (e) => e.taskId === 'polite');
    expect(kill.killPolicy?.gracePeriodMs).toBe(200);
    await ex.update('polite', 'TASK_KILLED');
    await waitState(t.master, 'polite', 'TASK_KILLED');

    t.master.send(t.agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: 'fw-1', taskId: 'stubborn' }] });
    await ex.waitEvent('KILL', (e) => e.taskId === 'stubborn');
    // It never reports: a second past the grace period the agent kills the executor itself.
    const killed = await waitState(t.master, 'stubborn', 'TASK_KILLED');
    expect(killed.status.source).toBe('SOURCE_AGENT');
    await waitFor(() => exitedCalls(t.master).length === 1, { what: 'EXECUTOR_EXITED' });
  });

  it('fails the live tasks of an executor that dies, tells the master, and frees its resources', async () => {
    const t = await setup({ resources: 'cpus:1;mem:1024' });
    const ex = t.executor();
    run(t.master, t.agentId, [executorTask('live'), executorTask('done')]);
    await ex.subscribe();
    await waitFor(() => ex.launched().length === 2, { what: 'both launched' });
    await ex.update('live', 'TASK_RUNNING');
    await ex.update('done', 'TASK_FINISHED');
    await waitState(t.master, 'done', 'TASK_FINISHED');
    const pid = JSON.parse(readFileSync(join(t.agent.executors()[0]!.sandboxDir, '.stoa', 'pid'), 'utf8')).pid as number;
    process.kill(-pid, 'SIGKILL');
    const failed = await waitState(t.master, 'live', 'TASK_FAILED');
    expect(failed.status).toMatchObject({ reason: 'REASON_EXECUTOR_TERMINATED', source: 'SOURCE_AGENT', executorId: 'ex-1' });
    expect(t.master.statesOf('done')).toEqual(['TASK_FINISHED']);
    await waitFor(() => exitedCalls(t.master).length === 1, { what: 'EXECUTOR_EXITED' });
    expect(exitedCalls(t.master)[0]).toMatchObject({ executorId: 'ex-1', status: 137 });
    // Its 0.5 cpus are free again: a task of 0.8 fits.
    run(t.master, t.agentId, [commandTask('after', 'exit 0', { resources: parseResources('cpus:0.8;mem:32') })]);
    await waitState(t.master, 'after', 'TASK_FINISHED');
  });

  it('relays shutdowns and messages both ways, and kills an executor that outlives its shutdown grace', async () => {
    const t = await setup();
    const ex = t.executor();
    run(t.master, t.agentId, [executorTask('m')]);
    await ex.subscribe();
    await waitFor(() => ex.launched().includes('m'), { what: 'm launched' });
    await ex.update('m', 'TASK_RUNNING');

    t.master.send(t.agentId, { type: 'FRAMEWORK_MESSAGE', frameworkId: 'fw-1', executorId: 'ex-1', data: new Uint8Array([1, 2, 3]) });
    const message = await ex.waitEvent('MESSAGE');
    expect([...message.data]).toEqual([1, 2, 3]);
    expect((await ex.call({ type: 'MESSAGE', data: new Uint8Array([9]) })).ok).toBe(true);
    const relayed = t.master.otherCalls.find((c) => c.type === 'EXECUTOR_MESSAGE');
    expect(relayed).toMatchObject({ frameworkId: 'fw-1', executorId: 'ex-1', agentId: t.agentId });

    t.master.send(t.agentId, { type: 'SHUTDOWN_EXECUTOR', frameworkId: 'fw-1', executorId: 'ex-1' });
    expect((await ex.waitEvent('SHUTDOWN')).gracePeriodMs).toBe(300);
    const killed = await waitState(t.master, 'm', 'TASK_KILLED');
    expect(killed.status.source).toBe('SOURCE_AGENT');
    await waitFor(() => exitedCalls(t.master).length === 1, { what: 'EXECUTOR_EXITED' });
    // A new task for it starts a new executor.
    run(t.master, t.agentId, [executorTask('n')]);
    await waitFor(() => t.containerizer.launches.length === 2, { what: 'a second executor' });
  });

  it('takes a re-subscription with unacknowledged updates without forwarding any twice', async () => {
    const t = await setup();
    t.master.autoAck = false;
    const ex = t.executor();
    run(t.master, t.agentId, [executorTask('r')]);
    await ex.subscribe();
    await waitFor(() => ex.launched().includes('r'), { what: 'r launched' });
    const running = await ex.update('r', 'TASK_RUNNING');
    await waitState(t.master, 'r', 'TASK_RUNNING');
    const lost: TaskStatus = { taskId: 'r', state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR', executorId: 'ex-1', timestampMs: Date.now(), uuid: crypto.randomUUID() };
    // The executor thinks neither was taken (say the agent restarted): it re-subscribes with both.
    const again = await ex.subscribe({ unacknowledgedTasks: [executorTask('r')], unacknowledgedUpdates: [running, lost] });
    expect(again.ok).toBe(true);
    t.master.ack(t.agentId, t.master.updatesOf('r')[0]!);
    await ex.waitEvent('ACKNOWLEDGED', (e) => e.uuid === running.uuid, 'ACKNOWLEDGED of RUNNING');
    const finished = await waitState(t.master, 'r', 'TASK_FINISHED');
    expect(finished.status.uuid).toBe(lost.uuid);
    t.master.ack(t.agentId, finished);
    await ex.waitEvent('ACKNOWLEDGED', (e) => e.uuid === lost.uuid, 'ACKNOWLEDGED of FINISHED');
    // Re-sent once more after its acknowledgement: answered, not forwarded.
    await ex.subscribe({ unacknowledgedUpdates: [lost] });
    await waitFor(() => ex.events.filter((e) => e.type === 'ACKNOWLEDGED' && e.uuid === lost.uuid).length === 2, { what: 'a second ACKNOWLEDGED' });
    expect(new Set(t.master.updatesOf('r').map((u) => u.status.uuid)).size).toBe(2);
    expect(ex.launched()).toEqual(['r']);
  });

  it('runs a group without an executor command as the default executor: together, and all killed when one fails', async () => {
    const t = await setup();
    const group: ExecutorInfo = { executorId: 'default', type: 'DEFAULT', resources: parseResources('cpus:0.1;mem:32') };
    t.master.send(t.agentId, {
      type: 'RUN_TASKS',
      launches: [{ framework: testFramework(), tasks: [commandTask('g-ok', 'sleep 60'), commandTask('g-bad', 'exit 3'), commandTask('g-also', 'sleep 60')], groupExecutor: group }],
    });
    expect((await waitState(t.master, 'g-bad', 'TASK_FAILED')).status.exitCode).toBe(3);
    await waitState(t.master, 'g-ok', 'TASK_KILLED');
    await waitState(t.master, 'g-also', 'TASK_KILLED');
    expect(t.containerizer.launches.map((l) => l.command.value).sort()).toEqual(['exit 3', 'sleep 60', 'sleep 60']);
    await waitFor(() => t.agent.executors().length === 0, { what: 'the group ended' });

    // A group whose executor has a command goes to that executor, as one LAUNCH_GROUP.
    const ex = t.executor('grouped');
    t.master.send(t.agentId, {
      type: 'RUN_TASKS',
      launches: [{ framework: testFramework(), tasks: [commandTask('x1', 'a'), commandTask('x2', 'b')], groupExecutor: executorInfo('grouped') }],
    });
    await waitFor(() => t.agent.executors()[0]?.state === 'registering', { what: 'the group executor started' });
    await ex.subscribe();
    const launched = await ex.waitEvent('LAUNCH_GROUP');
    expect(launched.tasks.map((task) => task.taskId)).toEqual(['x1', 'x2']);
  });

  it('re-attaches to a live executor after a restart, and reports one that ended while it was away', async () => {
    const t = await setup();
    const one = t.executor('one');
    const two = t.executor('two');
    run(t.master, t.agentId, [executorTask('t1', executorInfo('one')), executorTask('t2', executorInfo('two'))]);
    await one.subscribe();
    await two.subscribe();
    await waitFor(() => one.launched().includes('t1') && two.launched().includes('t2'), { what: 'both launched' });
    await one.update('t1', 'TASK_RUNNING');
    await two.update('t2', 'TASK_RUNNING');
    await waitFor(() => t.agent.stats().updatesPending === 0, { what: 'updates acknowledged' });
    const twoSandbox = t.agent.executors().find((e) => e.executorId === 'two')!.sandboxDir;

    await t.agent.stop(); // executors keep running
    const pid = JSON.parse(readFileSync(join(twoSandbox, '.stoa', 'pid'), 'utf8')).pid as number;
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => existsSync(join(twoSandbox, '.stoa', 'exit')) || !isAlive(pid), { what: 'executor two dead' });

    const again = await t.restart();
    await t.master.waitRegistered(2);
    const re = t.master.registrations[1]!;
    const failed = await waitState(t.master, 't2', 'TASK_FAILED');
    expect(failed.status.reason).toBe('REASON_EXECUTOR_TERMINATED');
    await waitFor(() => exitedCalls(t.master).some((c) => c.type === 'EXECUTOR_EXITED' && c.executorId === 'two'), { what: 'EXECUTOR_EXITED of two' });
    // The live one goes on talking to the new agent without noticing.
    const finished = await one.update('t1', 'TASK_FINISHED');
    await one.waitEvent('ACKNOWLEDGED', (e) => e.uuid === finished.uuid, 'ACKNOWLEDGED from the new agent');
    expect(again.executors().map((e) => e.executorId)).toEqual(['one']);
    // Recovery found two dead before registering: only the live one is re-registered.
    expect(re.type === 'REREGISTER' && re.executors.map((e) => e.executor.executorId)).toEqual(['one']);
    expect(t.master.statesOf('t1')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
