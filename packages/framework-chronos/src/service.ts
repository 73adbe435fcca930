/**
 * The Chronos service: one instance of the framework. Every instance serves the REST API and
 * contends for the lease `chronos.leader` in the Store; the leader runs the {@link JobRunner}
 * (schedule, launches, statuses), followers forward API requests to it. Failures of runs go to
 * the event stream and, when configured, to a webhook.
 *
 * @example
 * ```ts
 * import { startChronos } from '@stoa/framework-chronos';
 * await using chronos = await startChronos({ servers: 'nats://127.0.0.1:4222', httpPort: 4400 });
 * console.log(chronos.httpUrl); // http://127.0.0.1:4400
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { LeaderElector, type Store, type Transport } from '@stoa/sdk';
import { type Logger, pino } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createApi } from './api/http.js';
import type { EngineClock, EngineTimers } from './engine/engine.js';
import { type ChronosEvent, JobRunner } from './scheduler.js';
import { ChronosState } from './state.js';

/** Options of {@link startChronos}. Give `transport` or `servers`, and `store` or (with NATS) `bucket`. */
export interface ChronosOptions {
  /** An open transport to the cluster; not closed by `stop()`. */
  transport?: Transport;
  /** NATS URL(s) to connect to when no `transport` is given. @default process.env.STOA_NATS_URL ?? 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** Where jobs and runs live; not closed by `stop()`. @default a JetStream KV bucket `bucket` on the NATS connection */
  store?: Store;
  /** The JetStream KV bucket when no `store` is given. @default 'stoa-chronos' */
  bucket?: string;
  /** Port of the REST API (0: a free one). @default 4400 */
  httpPort?: number;
  /** Address the REST API listens on. @default '127.0.0.1' */
  host?: string;
  /** The URL other instances use to reach this one. @default `http://<host>:<port>` */
  advertisedUrl?: string;
  /** The framework's name at the master. @default 'chronos' */
  frameworkName?: string;
  /** The framework's principal. @default 'chronos' */
  principal?: string;
  /** The role of its tasks. @default '*' */
  role?: string;
  /** The cluster's subject prefix. @default 'stoa' */
  subjectPrefix?: string;
  /** Leader lease length (ms); renewed every quarter. @default 5000 */
  leaseMs?: number;
  /** How long the master keeps tasks when no instance is subscribed. @default one week */
  failoverTimeoutMs?: number;
  /** This instance's id. @default a random one */
  chronosId?: string;
  /** A URL that receives a JSON POST for every failed run (retried 3 times). @default none */
  failureWebhook?: string;
  /** A pino logger. @default silent */
  logger?: Logger;
  /** The clock of the schedule. @default the system clock */
  clock?: EngineClock;
  /** The timers of the schedule and retries. @default setTimeout / clearTimeout */
  timers?: EngineTimers;
  /** Told of every event of the runner, while this instance leads (as the event stream is). */
  onEvent?: (event: ChronosEvent) => void;
}

/** A running Chronos instance. */
export interface ChronosHandle extends AsyncDisposable {
  /** The REST API, `http://host:port`. */
  readonly httpUrl: string;
  /** This instance's id. */
  readonly chronosId: string;
  /** Whether this instance leads (runs jobs). */
  readonly isLeader: boolean;
  /** The runner, while this instance leads; for tests and the dev cluster. */
  readonly runner: JobRunner | undefined;
  /** Resolves once this instance leads. */
  waitLeading(): Promise<void>;
  /** Stops: gives up the lease (another instance takes over at once), closes the API. Tasks keep running. */
  stop(): Promise<void>;
}

/** The JSON a failure webhook receives. */
export interface FailureNotification {
  type: 'job_failed';
  job: string;
  owner: string;
  ownerName: string;
  runId: string | undefined;
  attempt: number | undefined;
  message: string | undefined;
  at: string;
}

function metricsOf(registry: Registry) {
  return {
    runs: new Counter({ name: 'chronos_runs_finished_total', help: 'Runs ended, by outcome', labelNames: ['outcome'], registers: [registry] }),
    lateness: new Histogram({
      name: 'chronos_run_lateness_seconds',
      help: 'Task RUNNING minus the due time of scheduled runs',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    leader: new Gauge({ name: 'chronos_leader', help: '1 while this instance leads', registers: [registry] }),
    queued: new Gauge({ name: 'chronos_queued_runs', help: 'Runs waiting for an offer', registers: [registry] }),
  };
}

/** Posts a notification; a refused or failed post is sent again 3 times, after 1, 2 and 4 s. */
async function postWithRetries(url: string, body: FailureNotification, log: Logger): Promise<void> {
  const attempts = 4;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
      if (answer.ok) return;
      log.warn({ url, status: answer.status, attempt }, 'failure webhook refused the notification');
    } catch (error) {
      log.warn({ url, err: String(error), attempt }, 'failure webhook unreachable');
    }
    if (attempt === attempts) break;
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt).unref());
  }
  log.error({ url, job: body.job, runId: body.runId }, 'failure webhook: notification dropped after 4 attempts');
}

/** Starts one Chronos instance. See the module documentation. */
export async function startChronos(options: ChronosOptions = {}): Promise<ChronosHandle> {
  const log = options.logger ?? pino({ level: 'silent' });
  const chronosId = options.chronosId ?? `chronos-${randomUUID().slice(0, 8)}`;
  const ownsTransport = options.transport === undefined;
  const transport =
    options.transport ?? (await NatsTransport.connect({ servers: options.servers ?? process.env.STOA_NATS_URL ?? 'nats://127.0.0.1:4222', name: chronosId }));
  let ownsStore = false;
  let store = options.store;
  if (store === undefined) {
    if (!(transport instanceof NatsTransport)) throw new TypeError('startChronos needs a store when its transport is not NATS');
    store = await NatsKvStore.open(transport.connection, { bucket: options.bucket ?? 'stoa-chronos' });
    ownsStore = true;
  }
  const state = new ChronosState(store);
  const registry = new Registry();
  const metrics = metricsOf(registry);
  const listeners = new Set<(event: ChronosEvent) => void>();
  let runner: JobRunner | undefined;
  let starting: Promise<void> | undefined;
  let leadingWaiters: (() => void)[] = [];

  const onEvent = (event: ChronosEvent): void => {
    options.onEvent?.(event);
    if (event.type === 'run_finished' && event.outcome !== undefined) metrics.runs.inc({ outcome: event.outcome });
    if (event.type === 'run_running' && event.run?.trigger === 'schedule' && event.run.runningAt !== undefined && event.run.scheduledAt !== undefined) {
      metrics.lateness.observe(Math.max(0, event.run.runningAt - event.run.scheduledAt) / 1000);
    }
    if (event.type === 'run_finished' && (event.outcome === 'failure' || event.outcome === 'soft-failure')) {
      log.warn({ job: event.job, run: event.run?.id, message: event.message }, 'job failed');
      if (options.failureWebhook !== undefined) {
        // The event names the owner: the runner may not be published yet (a status heard while
        // it starts), or the job deleted since.
        void postWithRetries(
          options.failureWebhook,
          {
            type: 'job_failed',
            job: event.job,
            owner: event.owner ?? '',
            ownerName: event.ownerName ?? '',
            runId: event.run?.id,
            attempt: event.run?.attempt,
            message: event.message,
            at: event.at,
          },
          log,
        );
      }
    }
    for (const listener of listeners) listener(event);
  };

  const app = createApi({
    runner: () => runner,
    leaderUrl: () => {
      const lease = elector.leader;
      return lease && lease.masterId !== chronosId ? lease.httpUrl : undefined;
    },
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    metrics: registry,
    instanceId: chronosId,
  });
  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.httpPort ?? 4400, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const httpUrl = options.advertisedUrl ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const queueTimer = setInterval(() => metrics.queued.set(runner?.queueLength ?? 0), 1000);
  queueTimer.unref();

  const lead = async (): Promise<void> => {
    log.info({ chronosId }, 'elected: starting the job runner');
    try {
      const started = await JobRunner.start({
        state,
        transport,
        frameworkName: options.frameworkName ?? 'chronos',
        principal: options.principal ?? 'chronos',
        role: options.role ?? '*',
        ...(options.subjectPrefix ? { subjectPrefix: options.subjectPrefix } : {}),
        ...(options.failoverTimeoutMs !== undefined ? { failoverTimeoutMs: options.failoverTimeoutMs } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.timers ? { timers: options.timers } : {}),
        logger: log,
        onEvent,
      });
      if (elector.state !== 'leader') {
        await started.stop();
        return;
      }
      runner = started;
      metrics.leader.set(1);
      for (const wake of leadingWaiters) wake();
      leadingWaiters = [];
    } catch (error) {
      log.error({ err: String(error) }, 'the job runner did not start');
    }
  };

  const elector: LeaderElector = new LeaderElector(store, {
    masterId: chronosId,
    key: 'chronos.leader',
    info: { httpUrl },
    leaseMs: options.leaseMs ?? 5000,
    onElected: () => {
      starting = lead();
    },
    onDeposed: async (why) => {
      log.warn({ chronosId, why }, 'deposed: stopping the job runner');
      await starting;
      const r = runner;
      runner = undefined;
      metrics.leader.set(0);
      await r?.stop();
    },
    onError: (error) => log.warn({ err: String(error) }, 'leader election'),
  });
  await elector.start();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(queueTimer);
      await elector.stop();
      await starting;
      await runner?.stop();
      runner = undefined;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Event streams stay open otherwise.
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      if (ownsStore) await store.close();
      if (ownsTransport) await transport.drain().catch(() => transport.close());
    })();
    return stopping;
  };

  return {
    httpUrl,
    chronosId,
    get isLeader() {
      return runner !== undefined;
    },
    get runner() {
      return runner;
    },
    waitLeading: () => (runner !== undefined ? Promise.resolve() : new Promise<void>((resolve) => leadingWaiters.push(resolve))),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
