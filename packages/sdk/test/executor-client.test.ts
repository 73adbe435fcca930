/**
 * The executor client against a scripted fake agent over the in-memory transport: the environment
 * it reads, subscription (and retrying it while the agent is away), events as callbacks and as an
 * async iterable (with those that came before anyone listened), reliable updates that survive the
 * agent going away, acknowledgements, messages, refusals and closing.
 */

import {
  encode,
  type ExecutorCall,
  ExecutorCallReplySchema,
  ExecutorCallSchema,
  type ExecutorEvent,
  ExecutorEventSchema,
  ExecutorSubscribeReplySchema,
  MemoryBus,
  MemoryTransport,
  NotFoundError,
  parseResources,
  safeDecode,
  subjects,
  type TaskInfo,
  type TransportMsg,
  type TransportSubscription,
  ValidationError,
  type WireErrorData,
} from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecutorClient, type ExecutorClientOptions } from '../src/executor-client.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const s = subjects();
const AGENT = 'agent-1';
const EXECUTOR = 'ex-1';
const FRAMEWORK = 'fw-1';

/** Plays the agent's side of one executor's channel. */
class FakeAgent {
  readonly calls: ExecutorCall[] = [];
  /** Answer SUBSCRIBE with this error instead, while set. */
  refuse: WireErrorData | undefined;
  /** Answer nothing while true. */
  silent = false;
  /** Answer UPDATE this long after it arrives. */
  delayMs = 0;
  private sub: TransportSubscription | undefined;

  constructor(private readonly transport: MemoryTransport) {}

  attach(): void {
    this.sub = this.transport.subscribe(s.executorCalls(AGENT, EXECUTOR), { callback: (msg) => this.onCall(msg) });
  }

  detach(): void {
    this.sub?.unsubscribe();
  }

  send(event: ExecutorEvent): void {
    this.transport.publish(s.executor(AGENT, EXECUTOR), encode(ExecutorEventSchema, event));
  }

  callsOf<T extends ExecutorCall['type']>(type: T): Extract<ExecutorCall, { type: T }>[] {
    return this.calls.filter((c): c is Extract<ExecutorCall, { type: T }> => c.type === type);
  }

  private onCall(msg: TransportMsg): void {
    const r = safeDecode(ExecutorCallSchema, msg.data);
    if (!r.ok) return;
    this.calls.push(r.value);
    if (this.silent) return;
    if (r.value.type === 'SUBSCRIBE') {
      if (this.refuse) {
        msg.respond(encode(ExecutorSubscribeReplySchema, { v: 1, ok: false, error: this.refuse }));
        return;
      }
      const result = {
        agentId: AGENT,
        executorInfo: { executorId: EXECUTOR, resources: parseResources('cpus:0.1;mem:32') },
        frameworkInfo: { id: FRAMEWORK, name: 'fw', principal: 'alice' },
      };
      msg.respond(encode(ExecutorSubscribeReplySchema, { v: 1, ok: true, result }));
      return;
    }
    if (r.value.type === 'UPDATE' && r.value.statuses.some((u) => u.taskId === 'unknown')) {
      msg.respond(encode(ExecutorCallReplySchema, { v: 1, ok: false, error: { code: 'NOT_FOUND', message: 'no task unknown here' } }));
      return;
    }
    const reply = encode(ExecutorCallReplySchema, { v: 1, ok: true, result: {} });
    if (r.value.type === 'UPDATE' && this.delayMs > 0) setTimeout(() => msg.respond(reply), this.delayMs);
    else msg.respond(reply);
  }
}

const env = {
  STOA_AGENT_ID: AGENT,
  STOA_FRAMEWORK_ID: FRAMEWORK,
  STOA_EXECUTOR_ID: EXECUTOR,
  STOA_EXECUTOR_SUBJECT: s.executor(AGENT, EXECUTOR),
  STOA_EXECUTOR_CALLS_SUBJECT: s.executorCalls(AGENT, EXECUTOR),
  STOA_SUBJECT_PREFIX: 'stoa',
};

function setup(): { agent: FakeAgent; connect(extra?: Partial<ExecutorClientOptions>): Promise<ExecutorClient> } {
  const bus = new MemoryBus();
  const agentTransport = MemoryTransport.create({ bus });
  const executorTransport = MemoryTransport.create({ bus });
  const agent = new FakeAgent(agentTransport);
  cleanups.push(async () => {
    agent.detach();
    await agentTransport.close();
    await executorTransport.close();
  });
  return {
    agent,
    async connect(extra = {}) {
      const client = await ExecutorClient.connect({ transport: executorTransport, env, requestTimeoutMs: 200, subscribeBackoff: { initialBackoffMs: 10, maxBackoffMs: 50 }, ...extra });
      cleanups.push(() => client.close());
      return client;
    },
  };
}

function task(taskId: string): TaskInfo {
  return { taskId, name: taskId, agentId: AGENT, resources: parseResources('cpus:0.1'), command: { value: 'true' } };
}

describe('ExecutorClient', () => {
  it('subscribes from the environment the agent gives it and hands out events that came before anyone listened', async () => {
    const { agent, connect } = setup();
    agent.attach();
    const client = await connect();
    expect(client.state).toBe('subscribed');
    expect(client.subscription?.frameworkInfo.id).toBe(FRAMEWORK);
    expect([client.agentId, client.frameworkId, client.executorId]).toEqual([AGENT, FRAMEWORK, EXECUTOR]);
    expect(agent.callsOf('SUBSCRIBE')[0]).toMatchObject({ executorId: EXECUTOR, frameworkId: FRAMEWORK, unacknowledgedTasks: [], unacknowledgedUpdates: [] });

    agent.send({ v: 1, type: 'LAUNCH', tasks: [task('a'), task('b')] });
    await waitFor(() => client.tasks.size === 2, { what: 'the launch to arrive' });
    const seen: string[] = [];
    client.on('LAUNCH', (e) => seen.push(...e.tasks.map((t) => t.taskId)));
    const iterator = client.events();
    await waitFor(() => seen.length === 2, { what: 'the replayed launch' });
    expect(seen).toEqual(['a', 'b']);
    agent.send({ v: 1, type: 'KILL', taskId: 'a' });
    const first = await iterator.next();
    expect(first.value?.type).toBe('LAUNCH');
    const second = await iterator.next();
    expect(second.value).toMatchObject({ type: 'KILL', taskId: 'a' });
    await client.close();
    expect((await iterator.next()).done).toBe(true);
    expect(await client.closed).toBeUndefined();
  });

  it('fills in updates, forgets them when acknowledged, and forgets a task once its end is', async () => {
    const { agent, connect } = setup();
    agent.attach();
    const client = await connect();
    agent.send({ v: 1, type: 'LAUNCH', tasks: [task('a')] });
    await waitFor(() => client.tasks.has('a'), { what: 'a launched' });
    const before = Date.now();
    const running = await client.update({ taskId: 'a', state: 'TASK_RUNNING', message: 'up' });
    expect(running).toMatchObject({ taskId: 'a', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', executorId: EXECUTOR, message: 'up' });
    expect(running.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(running.timestampMs).toBeGreaterThanOrEqual(before);
    expect(agent.callsOf('UPDATE')[0]?.statuses).toEqual([running]);
    const finished = await client.update({ taskId: 'a', state: 'TASK_FINISHED' });
    expect(client.unacknowledgedUpdates.map((u) => u.uuid)).toEqual([running.uuid, finished.uuid]);

    agent.send({ v: 1, type: 'ACKNOWLEDGED', taskId: 'a', uuid: running.uuid! });
    await waitFor(() => client.unacknowledgedUpdates.length === 1, { what: 'RUNNING acknowledged' });
    expect(client.tasks.has('a')).toBe(true);
    agent.send({ v: 1, type: 'ACKNOWLEDGED', taskId: 'a', uuid: finished.uuid! });
    await waitFor(() => client.unacknowledgedUpdates.length === 0 && !client.tasks.has('a'), { what: 'the end acknowledged' });
  });

  it('sends the updates given in one turn as one UPDATE, in order, and what comes meanwhile in the next', async () => {
    const { agent, connect } = setup();
    agent.attach();
    const client = await connect();
    agent.send({ v: 1, type: 'LAUNCH', tasks: [task('a'), task('b'), task('c')] });
    await waitFor(() => client.tasks.size === 3, { what: 'a, b and c launched' });
    const first = [
      client.update({ taskId: 'a', state: 'TASK_RUNNING' }),
      client.update({ taskId: 'b', state: 'TASK_RUNNING' }),
      client.update({ taskId: 'a', state: 'TASK_FINISHED' }),
    ];
    const sent = await Promise.all(first);
    const updates = agent.callsOf('UPDATE');
    expect(updates).toHaveLength(1);
    expect(updates[0]!.statuses.map((u) => u.uuid)).toEqual(sent.map((u) => u.uuid));
    expect(updates[0]!.statuses.map((u) => `${u.taskId}:${u.state}`)).toEqual(['a:TASK_RUNNING', 'b:TASK_RUNNING', 'a:TASK_FINISHED']);

    // Given while an UPDATE is on its way: they wait for it and then go together.
    agent.delayMs = 30;
    const second = client.update({ taskId: 'b', state: 'TASK_FINISHED' });
    await waitFor(() => agent.callsOf('UPDATE').length === 2, { what: 'the second UPDATE' });
    const third = [client.update({ taskId: 'c', state: 'TASK_RUNNING' }), client.update({ taskId: 'c', state: 'TASK_FINISHED' })];
    await new Promise((resolve) => setTimeout(resolve, 5));
    const fourth = client.update({ taskId: 'c', state: 'TASK_FINISHED', message: 'again' });
    await Promise.all([second, ...third, fourth]);
    expect(agent.callsOf('UPDATE').map((c) => c.statuses.map((u) => `${u.taskId}:${u.state}`))).toEqual([
      ['a:TASK_RUNNING', 'b:TASK_RUNNING', 'a:TASK_FINISHED'],
      ['b:TASK_FINISHED'],
      ['c:TASK_RUNNING', 'c:TASK_FINISHED', 'c:TASK_FINISHED'],
    ]);
    expect(client.unacknowledgedUpdates).toHaveLength(7);
  });

  it('sends each status of a refused UPDATE on its own, so only the refused one is rejected', async () => {
    const { agent, connect } = setup();
    agent.attach();
    const client = await connect();
    agent.send({ v: 1, type: 'LAUNCH', tasks: [task('a')] });
    await waitFor(() => client.tasks.has('a'), { what: 'a launched' });
    const results = await Promise.allSettled([
      client.update({ taskId: 'a', state: 'TASK_RUNNING' }),
      client.update({ taskId: 'unknown', state: 'TASK_RUNNING' }),
      client.update({ taskId: 'a', state: 'TASK_FINISHED' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'NOT_FOUND' });
    expect(agent.callsOf('UPDATE').map((c) => c.statuses.map((u) => u.taskId))).toEqual([['a', 'unknown', 'a'], ['a'], ['unknown'], ['a']]);
    expect(client.unacknowledgedUpdates.map((u) => u.state)).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
  });

  it('splits a long run of updates into calls of at most 256 statuses, in order', async () => {
    const { agent, connect } = setup();
    agent.attach();
    const client = await connect();
    const tasks = Array.from({ length: 600 }, (_, i) => task(`t${i}`));
    agent.send({ v: 1, type: 'LAUNCH', tasks });
    await waitFor(() => client.tasks.size === 600, { what: 'the tasks launched' });
    await Promise.all(tasks.map((t) => client.update({ taskId: t.taskId, state: 'TASK_FINISHED' })));
    const calls = agent.callsOf('UPDATE');
    expect(calls.map((c) => c.statuses.length)).toEqual([256, 256, 88]);
    expect(calls.flatMap((c) => c.statuses.map((u) => u.taskId))).toEqual(tasks.map((t) => t.taskId));
  });

  it('keeps trying to subscribe while the agent is away', async () => {
    const { agent, connect } = setup();
    const connecting = connect(); // nobody listens yet: no responders
    agent.silent = true;
    agent.attach(); // listening, not answering: requests time out
    await waitFor(() => agent.callsOf('SUBSCRIBE').length >= 2, { what: 'a retried SUBSCRIBE' });
    agent.silent = false;
    const client = await connecting;
    expect(client.state).toBe('subscribed');
  });

  it('gives up after connectTimeoutMs, and at once when the agent refuses', async () => {
    const { agent, connect } = setup();
    await expect(connect({ connectTimeoutMs: 150 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    agent.attach();
    agent.refuse = { code: 'NOT_FOUND', message: 'no such executor' };
    const refused = await connect().catch((e: unknown) => e);
    expect(NotFoundError.isInstance(refused)).toBe(true);
    expect(agent.callsOf('SUBSCRIBE')).toHaveLength(1);
  });

  it('re-subscribes with what is unacknowledged when an update finds no agent, and resolves once it is taken', async () => {
    const { agent, connect } = setup();
    agent.attach();
    const client = await connect();
    agent.send({ v: 1, type: 'LAUNCH', tasks: [task('a'), task('b')] });
    await waitFor(() => client.tasks.size === 2, { what: 'a and b launched' });
    const running = await client.update({ taskId: 'a', state: 'TASK_RUNNING' });
    agent.send({ v: 1, type: 'ACKNOWLEDGED', taskId: 'a', uuid: running.uuid! });
    await waitFor(() => client.unacknowledgedUpdates.length === 0, { what: 'RUNNING acknowledged' });

    agent.detach(); // the agent restarts: no responders
    const finishing = client.update({ taskId: 'a', state: 'TASK_FINISHED' });
    await waitFor(() => client.state === 'subscribing', { what: 'the client to notice' });
    let settled = false;
    void finishing.then(() => {
      settled = true;
    });
    agent.attach();
    const finished = await finishing;
    expect(settled).toBe(true);
    expect(client.state).toBe('subscribed');
    const again = agent.callsOf('SUBSCRIBE')[1]!;
    // a has an acknowledged update: only b is an unacknowledged task.
    expect(again.unacknowledgedTasks?.map((t) => t.taskId)).toEqual(['b']);
    expect(again.unacknowledgedUpdates?.map((u) => u.uuid)).toEqual([finished.uuid]);
    expect(agent.callsOf('UPDATE').filter((c) => c.statuses[0]?.uuid === finished.uuid)).toHaveLength(0); // carried by SUBSCRIBE
  });

  it('sends messages, rejects updates the agent refuses, and rejects calls after close', async () => {
    const { agent, connect } = setup();
    agent.attach();
    const client = await connect();
    await client.message(new Uint8Array([7]));
    expect([...(agent.callsOf('MESSAGE')[0]?.data ?? [])]).toEqual([7]);
    await expect(client.update({ taskId: '', state: 'TASK_RUNNING' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await expect(client.update({ taskId: 'unknown', state: 'TASK_RUNNING' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(client.unacknowledgedUpdates).toHaveLength(0);
    expect(client.state).toBe('subscribed');
    await client.close();
    await expect(client.update({ taskId: 'a', state: 'TASK_RUNNING' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('says what is missing when it does not run under an agent', async () => {
    const error = await ExecutorClient.connect({ env: {}, transport: MemoryTransport.create() }).catch((e: unknown) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/STOA_AGENT_ID/);
  });
});
