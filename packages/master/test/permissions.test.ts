/**
 * NATS as the first authorizer: nats-server runs with `docs/nats-permissions.conf` as it is, the
 * master, an agent and two frameworks connect as their own users, and a framework can neither hear
 * another principal's events nor call on its subject; what it may send on its own subject about
 * another principal's framework the master refuses.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Transport, type TransportStatus, UnauthorizedError, encode, SchedulerCallSchema, subjects } from '@stoa/core';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { OperatorClient, SchedulerClient } from '@stoa/sdk';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type MasterHandle, startMaster } from '../src/index.js';
import { register } from './cluster.js';
import { FakeAgent, FakeFramework, taskFor } from './peers.js';

const CONF = fileURLToPath(new URL('../../../docs/nats-permissions.conf', import.meta.url));
const s = subjects();

/** The users and passwords the doc declares (`user: x` followed by `password: "y"`). */
function usersOf(conf: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const m of conf.matchAll(/user:\s*(\w+)\s*\n\s*password:\s*"([^"]+)"/g)) users.set(m[1]!, m[2]!);
  return users;
}

/**
 * The doc's authorization block plus one test-only user: testkit's readiness probe connects without
 * credentials, so `no_auth_user` maps it to a user that may only ask JetStream for account info.
 */
function serverConfig(conf: string): string {
  const probe = '{ user: probe, password: probe, permissions: { publish: { allow: ["$JS.API.INFO"] }, subscribe: { allow: ["_INBOX.>"] } } }';
  const withProbe = conf.replace(/users = \[/, `users = [\n    ${probe}`);
  if (withProbe === conf) throw new Error('no `users = [` in the permissions doc');
  return `${withProbe}\nno_auth_user: probe\n`;
}

/** Collects the errors a connection's status reports (permission violations arrive this way). */
function statusErrors(transport: Transport): unknown[] {
  const errors: unknown[] = [];
  transport.onStatus((st: TransportStatus) => {
    if (st.type === 'error') errors.push(st.error);
  });
  return errors;
}

function violation(errors: unknown[], subject: string): unknown {
  return errors.find((e) => UnauthorizedError.isInstance(e) && e.message.includes(subject));
}

describe('NATS permissions from docs/nats-permissions.conf', () => {
  const conf = readFileSync(CONF, 'utf8');
  const users = usersOf(conf);
  let nats: NatsServerHandle;
  const open: NatsTransport[] = [];
  let master: MasterHandle | undefined;
  let store: NatsKvStore | undefined;
  const peers: Array<{ stop(): void }> = [];

  const as = async (user: string): Promise<NatsTransport> => {
    const pass = users.get(user);
    if (pass === undefined) throw new Error(`the permissions doc has no user ${user}`);
    const t = await NatsTransport.connect({ servers: nats.url, user, pass, name: `test-${user}`, maxReconnectAttempts: 0 });
    open.push(t);
    return t;
  };

  /** The master as user `master`, with its registry in JetStream KV over the same connection. */
  const startCluster = async () => {
    const mt = await as('master');
    store = await NatsKvStore.open(mt.connection, { bucket: `perm-${Date.now().toString(36)}` });
    master = await startMaster({ transport: mt, store, http: false, pingIntervalMs: 50, maxMissedPings: 2 });
    const agent = FakeAgent.make(await as('agents'), 'h1', 'cpus:4;mem:4096');
    await register(agent);
    peers.push(agent);
    const alice = FakeFramework.make(await as('alice'), 'alice');
    const bob = FakeFramework.make(await as('bob'), 'bob');
    peers.push(alice, bob);
    return { master, agent, alice, bob };
  };

  beforeAll(async () => {
    expect([...users.keys()]).toEqual(expect.arrayContaining(['master', 'alice', 'bob', 'agents', 'operator']));
    nats = await startNats({ jetstream: true, extraConfig: serverConfig(conf) });
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) p.stop();
    await master?.stop();
    master = undefined;
    await store?.close();
    store = undefined;
    for (const t of open.splice(0)) await t.close();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('refuses a connection with a wrong password', async () => {
    const error = await NatsTransport.connect({ servers: nats.url, user: 'alice', pass: 'wrong', maxReconnectAttempts: 0 }).catch((e: unknown) => e);
    expect(UnauthorizedError.isInstance(error)).toBe(true);
  });

  it('lets every component do its work under its own user', async () => {
    const { agent, alice, bob } = await startCluster();
    const aliceId = await alice.subscribe();
    const [offer] = await alice.waitOffers(new Set());
    await bob.subscribe();
    await bob.waitEvent('SUBSCRIBED');
    await alice.accept([offer!.id], [{ type: 'LAUNCH', tasks: [taskFor(offer!, 'a1')] }]);
    await agent.waitCommand('RUN_TASKS');
    const [update] = await agent.update(aliceId, [{ taskId: 'a1', state: 'TASK_RUNNING' }]);
    const running = await alice.waitStatus('a1', 'TASK_RUNNING');
    await alice.call({ v: 1, type: 'ACKNOWLEDGE', frameworkId: aliceId, acks: [{ agentId: agent.agentId, taskId: 'a1', uuid: running.uuid! }] });
    expect((await agent.waitCommand('ACKNOWLEDGE'))[0]!.acks[0]!.uuid).toBe(update!.uuid);

    // Agents answer the master's PINGs on its inbox (allow_responses), so the agent stays active.
    let pings = 0;
    agent.transport.subscribe(s.agentCommands(agent.agentId), { callback: () => pings++ });
    await waitFor(() => pings >= 4, { what: 'four pings at the agent' });
    expect(master!.context.agents.get(agent.agentId)).toMatchObject({ state: 'ACTIVE', missedPings: 0 });

    // The registry went to JetStream KV through the master's user.
    expect(await store!.get(`agents.${agent.agentId}`)).toBeDefined();

    // The operator user reaches the operator API over NATS.
    const ops = await OperatorClient.connect({ transport: await as('operator') });
    const state = await ops.state();
    expect(state.agents.map((a) => a.id)).toEqual([agent.agentId]);
    expect(state.frameworks.map((f) => f.info.principal).sort()).toEqual(['alice', 'bob']);
  });

  it("runs the SDK's SchedulerClient under its framework's user", async () => {
    const { agent } = await startCluster();
    const bobTransport = await as('bob');
    const bobErrors = statusErrors(bobTransport);
    const client = await SchedulerClient.connect({ transport: bobTransport, framework: { name: 'bob-sdk', principal: 'bob' } });
    try {
      for await (const event of client.events({ signal: AbortSignal.timeout(5000) })) {
        if (event.type === 'OFFERS' && !client.tasks.has('sdk-1')) {
          const offer = event.offers[0]!;
          await client.accept([offer.id], [{ type: 'LAUNCH', tasks: [taskFor(offer, 'sdk-1')] }]);
          await agent.waitCommand('RUN_TASKS');
          await agent.update(client.frameworkId, [{ taskId: 'sdk-1', state: 'TASK_RUNNING' }]);
        }
        if (event.type === 'UPDATE' && event.statuses.some((st) => st.taskId === 'sdk-1' && st.state === 'TASK_RUNNING')) break;
      }
      // The client acknowledges by itself: its ACKNOWLEDGE reaches the agent through the master.
      await agent.waitCommand('ACKNOWLEDGE');
      expect(client.tasks.get('sdk-1')?.state).toBe('TASK_RUNNING');
      expect(bobErrors).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it("keeps a framework from hearing another principal's events", async () => {
    const { alice, bob } = await startCluster();
    await alice.subscribe();
    // Alice leaves the one agent to bob.
    const [mine] = await alice.waitOffers(new Set());
    await alice.decline([mine!.id], 60_000);
    const aliceErrors = statusErrors(alice.transport);
    const overheard: string[] = [];
    const forbidden = ['stoa.framework.bob.>', 'stoa.framework.>', 'stoa.agent.>', 'stoa.events.>', 'stoa.master.>'];
    const spies = forbidden.map((subject) => alice.transport.subscribe(subject, { callback: (m) => overheard.push(m.subject) }));
    for (const subject of forbidden) {
      await waitFor(() => violation(aliceErrors, subject), { what: `a permissions violation for alice's subscription to ${subject}` });
    }
    // The server refused them, and the client closed them.
    await Promise.all(spies.map((spy) => spy.closed));

    const bobId = await bob.subscribe();
    const bobOffers = await bob.waitOffers(new Set());
    expect(bobOffers[0]!.frameworkId).toBe(bobId);
    // Alice's own stream still works, and nothing of bob's reached her.
    await alice.call({ v: 1, type: 'RECONCILE', frameworkId: alice.frameworkId, tasks: [] });
    expect(overheard).toEqual([]);
    expect(alice.events.every((e) => e.type !== 'OFFERS' || e.offers.every((o) => o.frameworkId === alice.frameworkId))).toBe(true);
  });

  it("keeps a framework from acting on another principal's framework", async () => {
    const { agent, alice, bob } = await startCluster();
    const bobId = await bob.subscribe();
    const [offer] = await bob.waitOffers(new Set());
    await alice.subscribe();
    await bob.accept([offer!.id], [{ type: 'LAUNCH', tasks: [taskFor(offer!, 'keep'), taskFor(offer!, 'barrier')] }]);
    await agent.waitCommand('RUN_TASKS');
    await agent.update(bobId, [
      { taskId: 'keep', state: 'TASK_RUNNING' },
      { taskId: 'barrier', state: 'TASK_RUNNING' },
    ]);
    await bob.waitStatus('keep', 'TASK_RUNNING');

    // On bob's subject: NATS refuses the request (and a plain publish) before the master sees it.
    const aliceErrors = statusErrors(alice.transport);
    const kill = { v: 1 as const, type: 'KILL' as const, frameworkId: bobId, kills: [{ taskId: 'keep' }] };
    const viaBob = await alice.call(kill, 'bob').catch((e: unknown) => e);
    // (The transport reports it as UnavailableError today: nats.js wraps the violation in a
    // RequestError, which core's error mapping reads as a cancelled request. The message is exact.)
    expect((viaBob as Error).message).toContain('Permissions Violation for Publish to "stoa.master.scheduler.bob"');
    alice.transport.publish(s.schedulerCalls('bob'), encode(SchedulerCallSchema, kill));
    await waitFor(() => violation(aliceErrors, s.schedulerCalls('bob')), { what: "a permissions violation for alice's publish on bob's subject" });

    // On her own subject: the master refuses a call naming bob's framework.
    const viaAlice = await alice.call(kill).catch((e: unknown) => e);
    expect(UnauthorizedError.isInstance(viaAlice)).toBe(true);
    expect((viaAlice as Error).message).toMatch(/another principal/);
    // Nor may she subscribe as bob through her subject.
    const spoof = await alice.call({ v: 1, type: 'SUBSCRIBE', frameworkInfo: { name: 'spoof', principal: 'bob', id: bobId } }).catch((e: unknown) => e);
    expect(UnauthorizedError.isInstance(spoof)).toBe(true);

    // Bob's own kill goes through: the agent's commands are ordered, so once it arrives any kill
    // of alice's would have arrived before it.
    await bob.call({ v: 1, type: 'KILL', frameworkId: bobId, kills: [{ taskId: 'barrier' }] });
    await agent.waitCommand('KILL_TASKS');
    const kills = agent.commands.flatMap((c) => (c.type === 'KILL_TASKS' ? c.kills : []));
    expect(kills).toEqual([{ frameworkId: bobId, taskId: 'barrier' }]);
    expect(master!.context.frameworks.get(bobId)?.tasks.get('keep')?.state).toBe('TASK_RUNNING');
  });

  it('keeps an agent from forging framework events and a framework from forging agent calls', async () => {
    const { agent, alice } = await startCluster();
    await alice.subscribe();
    const agentErrors = statusErrors(agent.transport);
    const aliceErrors = statusErrors(alice.transport);
    agent.transport.publish(s.frameworkEvents('alice', alice.frameworkId), new Uint8Array([0x80]));
    alice.transport.publish(s.agentCalls('agents'), new Uint8Array([0x80]));
    alice.transport.publish(s.operator, new Uint8Array([0x80]));
    await waitFor(() => violation(agentErrors, s.frameworkEvents('alice', alice.frameworkId)), { what: 'the agent refused on a framework subject' });
    await waitFor(() => violation(aliceErrors, s.agentCalls('agents')), { what: 'alice refused on the agent subject' });
    await waitFor(() => violation(aliceErrors, s.operator), { what: 'alice refused on the operator subject' });
    const invalid = await master!.context.metrics.messagesInvalid.get();
    expect(invalid.values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });
});
