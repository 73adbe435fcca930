/**
 * The cluster Marathon's integration tests run on: a real nats-server with JetStream, a real
 * master, real agents (process containerizer, hostnames 127.0.0.2, .3, …, each with a port range
 * of its own) and Marathon with its state in a JetStream KV bucket; plus the REST helpers the
 * tests share (`call`, `tasksOf`, `waitHealthy`, `waitDeployments`, …).
 *
 * Each test file starts one cluster in `beforeAll` with a `portBase` of its own (the files may
 * run side by side) and stops it in `afterAll`.
 *
 * @example
 * ```ts
 * let cluster: MarathonCluster;
 * beforeAll(async () => { cluster = await startMarathonCluster({ agents: 2, portBase: 35000 }); });
 * afterAll(() => cluster?.stop());
 * ```
 * @module
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentHandle, startAgent } from '@stoa/agent';
import { MemoryStore } from '@stoa/core';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { type MasterHandle, startMaster } from '@stoa/master';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { type MarathonHandle, type MarathonOptions, startMarathon } from '../src/service.js';

/** An HTTP server on $PORT0 that answers 200 with the app version, or 500 on every path when FAIL is set. */
export const SERVER = `node -e "require('http').createServer((q,s)=>{s.statusCode=process.env.FAIL?500:200;s.end(process.env.MARATHON_APP_VERSION||'')}).listen(+process.env.PORT0)"`;

/** An HTTP health check on the first port, quick enough for tests. */
export const HEALTH = { protocol: 'HTTP', path: '/', portIndex: 0, gracePeriodSeconds: 3, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 2, delaySeconds: 0 };

/** A JSON answer, read loosely as tests do. */
export type Json = ReturnType<typeof JSON.parse>;

/** An app running {@link SERVER} with {@link HEALTH}, small, with a short launch backoff. */
export function webApp(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, cmd: SERVER, cpus: 0.05, mem: 32, instances: 1, healthChecks: [HEALTH], backoffSeconds: 1, backoffFactor: 1, maxLaunchDelaySeconds: 2, ...extra };
}

/** A running task of the app as `/v2/apps/{id}/tasks` shows it whose health check passes. */
export function healthyTasks(tasks: Json[]): Json[] {
  return tasks.filter((t) => t.state === 'TASK_RUNNING' && t.healthCheckResults?.[0]?.alive === true);
}

/** Options of {@link startMarathonCluster}. */
export interface MarathonClusterOptions {
  /** How many agents. @default 3 */
  agents?: number;
  /** The first host port of the agents' ranges: agent i offers `[portBase + 200 i, portBase + 200 i + 199]`. */
  portBase: number;
  /** Master options (timings). */
  master?: { pingIntervalMs?: number; maxMissedPings?: number; agentReregisterTimeoutMs?: number };
  /** Options of the first Marathon (the store, transport and port are the fixture's). */
  marathon?: Partial<MarathonOptions>;
}

/** An answer of the REST API. */
export interface Answer {
  status: number;
  json: Json;
  headers: Headers;
}

/** A `/v2/events` stream being read. */
export interface EventListener {
  /** The events so far, parsed, in order (`event_stream_attached` first). */
  readonly events: Json[];
  /** Closes the stream. */
  stop(): Promise<void>;
}

/** A running cluster. See the module documentation. */
export interface MarathonCluster {
  readonly nats: NatsServerHandle;
  readonly master: MasterHandle;
  /** The agents, by index; {@link restartAgent} replaces an entry. */
  readonly agents: AgentHandle[];
  /** The store of the first Marathon (and of {@link startAnotherMarathon} by default). */
  readonly store: NatsKvStore;
  /** The Marathon the helpers talk to; a test that replaces it sets it. */
  marathon: MarathonHandle;
  /** Every task id the agents were ever seen to run, with its latest state. */
  readonly seenTasks: Map<string, string>;
  /** The agents' temp dir (and any other temp files a test wants cleaned up). */
  readonly workDir: string;
  /** A new NATS connection, closed with the cluster. */
  connect(name: string): Promise<NatsTransport>;
  /**
   * Starts another Marathon on the same bucket (stopped with the cluster unless the test stops
   * it), on NATS connections of its own, so that {@link crashMarathon} can cut them.
   */
  startAnotherMarathon(marathonId: string, options?: Partial<MarathonOptions>): Promise<MarathonHandle>;
  /**
   * Cuts the NATS connections of a Marathon from {@link startAnotherMarathon} at once, as a crash
   * would: no lease given up, no goodbye to the master. Its HTTP server stays up until `stop()`.
   */
  crashMarathon(handle: MarathonHandle): Promise<void>;
  /** Stops agent `index` without killing its tasks (they keep running, detached). */
  stopAgent(index: number): Promise<void>;
  /** Starts agent `index` again on its work dir: it re-attaches to its tasks and re-registers. */
  restartAgent(index: number): Promise<AgentHandle>;
  /** One REST call to `base` (the current Marathon by default). */
  call(method: string, path: string, body?: unknown, base?: string): Promise<Answer>;
  /** The tasks of an app. */
  tasksOf(appId: string): Promise<Json[]>;
  /** Waits until no deployment runs. */
  waitDeployments(what: string, timeoutMs?: number): Promise<void>;
  /** Waits until the app has exactly `count` tasks, all running and healthy; returns them. */
  waitHealthy(appId: string, count: number, timeoutMs?: number): Promise<Json[]>;
  /** The live tasks of the agents whose ids start with `<prefix>.` (an app's path with `/` as `_`). */
  agentTasks(prefix: string): { taskId: string; state: string }[];
  /** Listens to `/v2/events` (of `types`, or all): the events arrive in `events`; `stop()` closes the stream. */
  listenEvents(types?: string[], base?: string): Promise<EventListener>;
  /** Stops everything and removes the temp dir. */
  stop(): Promise<void>;
}

/** `work`, or a rejection once `ms` passed (a crashed Marathon's stop may wait on a dead connection). */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Starts a cluster for Marathon's integration tests. */
export async function startMarathonCluster(options: MarathonClusterOptions): Promise<MarathonCluster> {
  const transports: NatsTransport[] = [];
  const extraMarathons = new Set<MarathonHandle>();
  const connectionsOf = new Map<MarathonHandle, NatsTransport[]>();
  const seenTasks = new Map<string, string>();
  const agents: AgentHandle[] = [];
  const stoppedAgents = new Set<number>();
  const workDir = mkdtempSync(join(tmpdir(), 'stoa-marathon-e2e-'));
  const nats = await startNats({ jetstream: true });
  const connect = async (name: string): Promise<NatsTransport> => {
    const t = await NatsTransport.connect({ servers: nats.url, name });
    transports.push(t);
    return t;
  };
  const master = await startMaster({ transport: await connect('master'), store: new MemoryStore(), http: false, allocationIntervalMs: 100, ...options.master });
  const agentOptions = async (i: number) => {
    const base = options.portBase + i * 200;
    return {
      transport: await connect(`agent-${i}`),
      workDir: join(workDir, `agent-${i}`),
      hostname: `127.0.0.${i + 2}`,
      resources: `cpus:4;mem:4096;disk:1000;ports:[${base}-${base + 199}]`,
      killGracePeriodMs: 300,
    };
  };
  for (let i = 0; i < (options.agents ?? 3); i++) agents.push(await startAgent(await agentOptions(i)));
  await Promise.all(agents.map((a) => a.waitRegistered()));
  const storeConnection = await connect('marathon-store');
  const store = await NatsKvStore.open(storeConnection.connection, { bucket: 'marathon-e2e' });
  const marathonOptions = async (marathonId: string, extra: Partial<MarathonOptions> = {}): Promise<MarathonOptions> => ({
    transport: extra.transport ?? (await connect(marathonId)),
    store,
    httpPort: 0,
    leaseMs: 1500,
    marathonId,
    refuseMs: 1000,
    ...options.marathon,
    ...extra,
  });
  const first = await startMarathon(await marathonOptions('m1'));
  await first.waitLeading();
  const watcher = setInterval(() => {
    for (const agent of agents) for (const t of agent.tasks()) seenTasks.set(t.taskId, t.state);
  }, 20);

  const cluster: MarathonCluster = {
    nats,
    master,
    agents,
    store,
    marathon: first,
    seenTasks,
    workDir,
    connect,
    async startAnotherMarathon(marathonId, extra) {
      const storeConnection = await connect(`${marathonId}-store`);
      const ownStore = await NatsKvStore.open(storeConnection.connection, { bucket: 'marathon-e2e' });
      const transport = await connect(marathonId);
      const handle = await startMarathon(await marathonOptions(marathonId, { transport, store: ownStore, ...extra }));
      extraMarathons.add(handle);
      connectionsOf.set(handle, [transport, storeConnection]);
      return handle;
    },
    async crashMarathon(handle) {
      for (const t of connectionsOf.get(handle) ?? []) await t.close();
    },
    async stopAgent(index) {
      stoppedAgents.add(index);
      await agents[index]!.stop();
    },
    async restartAgent(index) {
      const agent = await startAgent(await agentOptions(index));
      agents[index] = agent;
      stoppedAgents.delete(index);
      return agent;
    },
    async call(method, path, body, base = cluster.marathon.httpUrl) {
      const answer = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await answer.text();
      const isJson = answer.headers.get('content-type')?.includes('json') ?? false;
      return { status: answer.status, json: isJson && text !== '' ? JSON.parse(text) : text, headers: answer.headers };
    },
    async tasksOf(appId) {
      const { json } = await cluster.call('GET', `/v2/apps${appId}/tasks`);
      return json?.tasks ?? [];
    },
    async waitDeployments(what, timeoutMs = 25_000) {
      await waitFor(async () => (await cluster.call('GET', '/v2/deployments')).json?.length === 0, { timeoutMs, intervalMs: 100, what });
    },
    waitHealthy(appId, count, timeoutMs = 25_000) {
      return waitFor(
        async () => {
          const tasks = await cluster.tasksOf(appId);
          return tasks.length === count && healthyTasks(tasks).length === count ? tasks : undefined;
        },
        { timeoutMs, intervalMs: 100, what: `${count} healthy tasks of ${appId}` },
      );
    },
    agentTasks(prefix) {
      return agents
        .filter((_, i) => !stoppedAgents.has(i))
        .flatMap((a) => a.tasks())
        .filter((t) => t.taskId.startsWith(`${prefix}.`) && (t.state === 'TASK_RUNNING' || t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING'));
    },
    async listenEvents(types = [], base = cluster.marathon.httpUrl) {
      const query = types.map((t) => `event_type=${encodeURIComponent(t)}`).join('&');
      const answer = await fetch(`${base}/v2/events${query ? `?${query}` : ''}`, { headers: { accept: 'text/event-stream' } });
      const reader = answer.body!.pipeThrough(new TextDecoderStream()).getReader();
      const events: Json[] = [];
      let buffer = '';
      const reading = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const data = buffer
              .slice(0, end)
              .split('\n')
              .filter((line) => line.startsWith('data: '))
              .map((line) => line.slice('data: '.length))
              .join('\n');
            if (data !== '') events.push(JSON.parse(data));
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
          }
        }
      })().catch(() => {});
      // Attached once the stream's first event arrived: later events are not missed.
      await waitFor(() => events.length > 0, { timeoutMs: 10_000, what: 'the event stream attached' });
      return {
        events,
        async stop() {
          await reader.cancel().catch(() => {});
          await reading;
        },
      };
    },
    async stop() {
      clearInterval(watcher);
      for (const handle of extraMarathons) await withDeadline(handle.stop(), 10_000).catch(() => {});
      await withDeadline(cluster.marathon.stop(), 10_000).catch(() => {});
      await withDeadline(first.stop(), 10_000).catch(() => {});
      // A stopped agent left its tasks running: start it again so that its tasks are killed too.
      for (const index of [...stoppedAgents]) await cluster.restartAgent(index).catch(() => {});
      await Promise.all(agents.map((a, i) => (stoppedAgents.has(i) ? Promise.resolve() : a.stop({ killTasks: true }))));
      await master.stop();
      await store.close().catch(() => {});
      for (const t of transports) await t.close().catch(() => {});
      await nats.stop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  return cluster;
}
