/**
 * The Marathon service: one instance of the framework. Every instance serves the REST API and
 * contends for the lease `marathon.leader` in the Store; the leader subscribes to the master (with
 * the framework id kept in the Store, so a new leader fails over to the same framework and keeps
 * its tasks) and runs the {@link MarathonScheduler}; followers forward API requests to it.
 *
 * @example
 * ```ts
 * import { startMarathon } from '@stoa/framework-marathon';
 * await using marathon = await startMarathon({ servers: 'nats://127.0.0.1:4222', httpPort: 8080 });
 * console.log(marathon.httpUrl); // http://127.0.0.1:8080
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { LeaderElector, SchedulerClient, type Store, type Transport } from '@stoa/sdk';
import { type Logger, pino } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { createApi } from './api/http.js';
import { EventBus } from './events.js';
import { MarathonScheduler } from './scheduler.js';
import { MarathonState } from './state.js';

/** Options of {@link startMarathon}. Give `transport` or `servers`, and `store` or (with NATS) `bucket`. */
export interface MarathonOptions {
  /** An open transport to the cluster; not closed by `stop()`. */
  transport?: Transport;
  /** NATS URL(s) to connect to when no `transport` is given. @default process.env.STOA_NATS_URL ?? 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** Where apps, deployments and instances live; not closed by `stop()`. @default a JetStream KV bucket `bucket` */
  store?: Store;
  /** The JetStream KV bucket when no `store` is given. @default 'stoa-marathon' */
  bucket?: string;
  /** Replicas of that bucket. @default 1 */
  replicas?: number;
  /** Port of the REST API (0: a free one). @default 8080 */
  httpPort?: number;
  /** Address the REST API listens on. @default '127.0.0.1' */
  host?: string;
  /** The framework's name at the master. @default 'marathon' */
  frameworkName?: string;
  /** The framework's principal. @default 'marathon' */
  principal?: string;
  /** The role of its tasks. @default '*' */
  role?: string;
  /** The cluster's subject prefix. @default 'stoa' */
  subjectPrefix?: string;
  /** Leader lease length (ms), renewed every quarter. @default 5000 */
  leaseMs?: number;
  /** How long the master keeps the tasks when no instance is subscribed. @default one week */
  failoverTimeoutMs?: number;
  /** This instance's id. @default a random one */
  marathonId?: string;
  /** A pino logger. @default silent */
  logger?: Logger;
  /** The clock of the scheduler (epoch ms). @default Date.now */
  clock?: () => number;
  /** The decline filter for offers nothing fits (ms). @default 5000 */
  refuseMs?: number;
}

/** A running Marathon instance. */
export interface MarathonHandle extends AsyncDisposable {
  /** The REST API, `http://host:port`. */
  readonly httpUrl: string;
  /** This instance's id. */
  readonly marathonId: string;
  /** Whether this instance leads (runs the scheduler). */
  readonly isLeader: boolean;
  /** The scheduler, while this instance leads; for tests and the dev cluster. */
  readonly scheduler: MarathonScheduler | undefined;
  /** Resolves once this instance leads and its scheduler runs. */
  waitLeading(): Promise<void>;
  /** Stops: gives up the lease (another instance takes over at once) and closes the API. Tasks keep running. */
  stop(): Promise<void>;
}

/** Starts one Marathon instance. See the module documentation. */
export async function startMarathon(options: MarathonOptions = {}): Promise<MarathonHandle> {
  const log = options.logger ?? pino({ level: 'silent' });
  const marathonId = options.marathonId ?? `marathon-${randomUUID().slice(0, 8)}`;
  const ownsTransport = options.transport === undefined;
  const transport =
    options.transport ?? (await NatsTransport.connect({ servers: options.servers ?? process.env.STOA_NATS_URL ?? 'nats://127.0.0.1:4222', name: marathonId }));
  let store = options.store;
  let ownsStore = false;
  if (store === undefined) {
    if (!(transport instanceof NatsTransport)) throw new TypeError('startMarathon needs a store when its transport is not NATS');
    store = await NatsKvStore.open(transport.connection, { bucket: options.bucket ?? 'stoa-marathon', replicas: options.replicas ?? 1 });
    ownsStore = true;
  }
  const state = new MarathonState(store);
  const events = new EventBus({ logger: log });
  const registry = new Registry();
  const launched = new Counter({ name: 'marathon_tasks_launched_total', help: 'Tasks launched', registers: [registry] });
  const leaderGauge = new Gauge({ name: 'marathon_leader', help: '1 while this instance leads', registers: [registry] });

  let scheduler: MarathonScheduler | undefined;
  let client: SchedulerClient | undefined;
  let httpUrl = '';
  let stopped = false;
  let leadingWaiters: (() => void)[] = [];
  let transition: Promise<void> = Promise.resolve();
  const gauge = (name: string, help: string, read: (s: MarathonScheduler) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(scheduler ? read(scheduler) : 0);
      },
    });
  gauge('marathon_apps', 'Apps', (s) => s.apps.size);
  gauge('marathon_instances', 'Instances (scheduled and launched)', (s) => s.instances.size);
  gauge('marathon_deployments', 'Deployments in progress', (s) => s.deployments.size);

  const lead = async (): Promise<void> => {
    const loaded = await state.load();
    const info = {
      name: options.frameworkName ?? 'marathon',
      principal: options.principal ?? 'marathon',
      roles: [options.role ?? '*'],
      failoverTimeoutMs: options.failoverTimeoutMs ?? 7 * 24 * 3600 * 1000,
      checkpoint: true,
      capabilities: ['PARTITION_AWARE' as const],
      ...(loaded.frameworkId ? { id: loaded.frameworkId } : {}),
    };
    const connected = await SchedulerClient.connect({ transport, framework: info, subjectPrefix: options.subjectPrefix ?? 'stoa', logger: log.child({ part: 'scheduler-client' }) });
    if (stopped || !elector.isLeading()) {
      await connected.close();
      return;
    }
    client = connected;
    if (loaded.frameworkId !== connected.frameworkId) await state.putFrameworkId(connected.frameworkId);
    events.setCallbackUrls(loaded.callbackUrls);
    scheduler = await MarathonScheduler.start({
      client: connected,
      state,
      loaded,
      events,
      logger: log.child({ part: 'scheduler' }),
      ...(options.clock ? { now: options.clock } : {}),
      ...(options.refuseMs !== undefined ? { refuseMs: options.refuseMs } : {}),
      onLaunch: (n) => launched.inc(n),
    });
    leaderGauge.set(1);
    log.info({ marathonId, frameworkId: connected.frameworkId }, 'leading');
    for (const resolve of leadingWaiters) resolve();
    leadingWaiters = [];
  };

  const follow = async (why: string): Promise<void> => {
    leaderGauge.set(0);
    const running = scheduler;
    const subscribed = client;
    scheduler = undefined;
    client = undefined;
    await running?.stop();
    await subscribed?.close();
    if (running) log.info({ marathonId, why }, 'no longer leading');
  };

  const elector = new LeaderElector(store, {
    masterId: marathonId,
    key: 'marathon.leader',
    info: { get httpUrl() {
      return httpUrl;
    } } as { httpUrl: string },
    leaseMs: options.leaseMs ?? 5000,
    onElected: () => {
      transition = transition.then(() => lead()).catch((error: unknown) => log.error({ err: String(error) }, 'could not start leading'));
    },
    onDeposed: (why) => {
      transition = transition.then(() => follow(why));
      return transition;
    },
    onError: (error) => log.warn({ err: String(error) }, 'leader election'),
  });

  const api = createApi({
    scheduler: () => (elector.isLeading() ? scheduler : undefined),
    events,
    leadership: () => ({ leading: elector.isLeading() && scheduler !== undefined, leaderUrl: elector.leader?.httpUrl }),
    registry,
    abdicate: async () => {
      await elector.stop();
      await transition;
      if (!stopped) await elector.start();
    },
    saveCallbackUrls: (urls) => state.putCallbackUrls(urls),
    selfUrl: () => httpUrl,
    info: () => ({
      name: 'marathon',
      version: '1.9.0-stoa',
      buildref: 'stoa',
      elected: elector.isLeading(),
      leader: elector.leader?.httpUrl ? new URL(elector.leader.httpUrl).host : null,
      frameworkId: client?.frameworkId ?? null,
      marathon_config: {
        framework_name: options.frameworkName ?? 'marathon',
        mesos_role: options.role ?? '*',
        leader_proxy_connection_timeout_ms: 5000,
        failover_timeout: Math.round((options.failoverTimeoutMs ?? 7 * 24 * 3600 * 1000) / 1000),
        ha: true,
      },
      http_config: { http_port: Number(new URL(httpUrl).port) },
      event_subscriber: { type: 'http_callback', http_endpoints: events.callbackUrls },
    }),
  });

  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: api.fetch, port: options.httpPort ?? 8080, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  httpUrl = `http://${host}:${port}`;
  await elector.start();

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await elector.stop();
    await transition;
    await follow('stopped');
    events.close();
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (ownsStore) await store.close();
    if (ownsTransport) await transport.close();
  };

  return {
    get httpUrl() {
      return httpUrl;
    },
    marathonId,
    get isLeader() {
      return elector.isLeading() && scheduler !== undefined;
    },
    get scheduler() {
      return scheduler;
    },
    waitLeading: () =>
      scheduler !== undefined && elector.isLeading()
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            leadingWaiters.push(resolve);
          }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
