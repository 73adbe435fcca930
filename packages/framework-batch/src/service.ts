/**
 * The batch framework as a service: {@link startBatch} elects a leader among its instances by a
 * Store lease (`batch.leader`), runs the {@link BatchScheduler} on the leader, and serves the REST
 * API on every instance (followers proxy to the leader). `stoa batch serve` and `stoa dev` start it.
 *
 * @example
 * ```ts
 * import { startBatch } from '@stoa/framework-batch';
 * await using batch = await startBatch({ servers: 'nats://127.0.0.1:4222' });
 * await fetch(`${batch.httpUrl}/v1/jobs`, { method: 'POST', body: yamlText });
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import { LeaderElector, type Lease, type Store, type Transport, ValidationError } from '@stoa/sdk';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { type Logger, pino } from 'pino';
import { startHttpApi } from './api/http.js';
import { type BatchExecutorInfoOptions, batchExecutorInfo } from './executor/executor-info.js';
import { BatchMetrics } from './metrics.js';
import { BatchScheduler } from './scheduler.js';
import { JobStateStore } from './state.js';

/** The default port of the batch API. */
export const DEFAULT_BATCH_PORT = 4500;

/** How many tasks go on one offer at most, unless `maxTasksPerOffer` says otherwise. */
export const DEFAULT_MAX_TASKS_PER_OFFER = 1000;

/** How many module tasks of one stage go in one bundle at most, unless `bundleSize` says otherwise. */
export const DEFAULT_BUNDLE_SIZE = 64;

/** Options of {@link startBatch}; every field is optional. */
export interface BatchOptions {
  /** An open transport to the cluster (not closed by `stop()`). @default a NATS connection to `servers` */
  transport?: Transport;
  /** NATS server URL(s), when no `transport` is given. @default env STOA_NATS_URL, else 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** Where jobs are kept (not closed by `stop()`). @default the JetStream KV bucket `bucket` on the NATS connection */
  store?: Store;
  /** The JetStream KV bucket, when no `store` is given. @default 'stoa-batch' */
  bucket?: string;
  /** Replicas of that bucket. @default 1 */
  replicas?: number;
  /** The API's port; 0 picks a free one; `false` serves no API. @default 4500 */
  httpPort?: number | false;
  /** The address the API listens on. @default '127.0.0.1' */
  host?: string;
  /** The framework's name. @default 'batch' */
  frameworkName?: string;
  /** The principal it subscribes as. @default 'batch' */
  principal?: string;
  /** The role of jobs whose spec names none. @default '*' */
  role?: string;
  /** The cluster's subject prefix. @default 'stoa' */
  subjectPrefix?: string;
  /** How long the master keeps the framework's tasks while no instance is subscribed. @default 604800000 (a week) */
  failoverTimeoutMs?: number;
  /** The leader lease (renewed every quarter of it). @default 5000 */
  leaseMs?: number;
  /** This instance's id. @default a random one */
  instanceId?: string;
  /** The batch executor (its resources bound how many tasks it runs at once). @default `batchExecutorInfo({ resources: 'cpus:1;mem:512', runningDelayMs: 1000 })` */
  executor?: BatchExecutorInfoOptions;
  /** The most tasks launched on one offer (bundle members counted one by one). @default 1000 ({@link DEFAULT_MAX_TASKS_PER_OFFER}) */
  maxTasksPerOffer?: number;
  /**
   * At most this many module tasks of one stage (those without a timeout) are launched on one
   * offer as one bundle: one task for the master and the agent, each member still run, retried
   * and reported as a task of its own by the batch executor. 1 launches every task alone.
   * @default 64 ({@link DEFAULT_BUNDLE_SIZE})
   */
  bundleSize?: number;
  /** LAUNCHING attempts older than this are reconciled. @default 60000 */
  launchTimeoutMs?: number;
  /** A gang stage that gave its offers back this many times in a row fails its job. @default 5 */
  maxGangReleases?: number;
  /** How long after a change the state is written. @default 100 */
  flushDelayMs?: number;
  /** At most one progress event per job per this interval. @default 250 */
  progressIntervalMs?: number;
  /** A pino logger. @default silent */
  logger?: Logger;
  /** The clock (ms since the epoch). @default Date.now */
  clock?: () => number;
}

/** A running batch framework instance. */
export interface BatchHandle extends AsyncDisposable {
  /** The API's URL; empty without one. */
  readonly httpUrl: string;
  /** This instance's id. */
  readonly instanceId: string;
  /** Whether this instance leads (and runs the scheduler). */
  readonly isLeader: boolean;
  /** The scheduler, while this instance leads and it has started. */
  readonly scheduler: BatchScheduler | undefined;
  /** Resolves once this instance leads and its scheduler has subscribed. */
  waitLeading(): Promise<void>;
  /** Stops: the scheduler closes (the framework's tasks run on), state is written, the lease released. */
  stop(): Promise<void>;
}

/** Starts a batch framework instance. */
export async function startBatch(options: BatchOptions = {}): Promise<BatchHandle> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const instanceId = options.instanceId ?? `batch-${randomUUID().slice(0, 8)}`;
  const clock = options.clock ?? Date.now;
  const owned: (() => Promise<unknown>)[] = [];
  let transport = options.transport;
  if (transport === undefined) {
    const nats = await NatsTransport.connect({ servers: options.servers ?? process.env.STOA_NATS_URL ?? 'nats://127.0.0.1:4222', name: `stoa-batch-${instanceId}` });
    transport = nats;
    owned.push(() => nats.drain().catch(() => nats.close()));
  }
  let store = options.store;
  if (store === undefined) {
    if (!(transport instanceof NatsTransport)) throw new ValidationError('give a store: without one the batch framework needs a NATS transport for its JetStream bucket', { details: { field: 'store' } });
    const kv = await NatsKvStore.open(transport.connection, { bucket: options.bucket ?? 'stoa-batch', replicas: options.replicas ?? 1 });
    store = kv;
    owned.unshift(() => kv.close());
  }
  const states = new JobStateStore(store, { flushDelayMs: options.flushDelayMs ?? 100, logger });
  const executor = batchExecutorInfo({ resources: 'cpus:1;mem:512', runningDelayMs: 1000, ...options.executor });

  let scheduler: BatchScheduler | undefined;
  let starting: Promise<void> = Promise.resolve();
  let leader: Lease | undefined;
  let readyWaiters: (() => void)[] = [];
  const metrics = new BatchMetrics({
    runningJobs: () => scheduler?.counts().runningJobs ?? 0,
    activeTasks: () => scheduler?.counts().activeTasks ?? 0,
    leading: () => scheduler !== undefined,
  });
  const makeScheduler = () =>
    new BatchScheduler({
      transport: transport!,
      states,
      executor,
      frameworkName: options.frameworkName ?? 'batch',
      principal: options.principal ?? 'batch',
      role: options.role ?? '*',
      failoverTimeoutMs: options.failoverTimeoutMs ?? 7 * 24 * 3600 * 1000,
      subjectPrefix: options.subjectPrefix ?? 'stoa',
      maxTasksPerOffer: options.maxTasksPerOffer ?? DEFAULT_MAX_TASKS_PER_OFFER,
      bundleSize: options.bundleSize ?? DEFAULT_BUNDLE_SIZE,
      launchTimeoutMs: options.launchTimeoutMs ?? 60_000,
      maxGangReleases: options.maxGangReleases ?? 5,
      progressIntervalMs: options.progressIntervalMs ?? 250,
      clock,
      logger,
      metrics,
    });

  const http =
    options.httpPort === false
      ? undefined
      : await startHttpApi({
          port: options.httpPort ?? DEFAULT_BATCH_PORT,
          host: options.host ?? '127.0.0.1',
          metrics,
          scheduler: () => scheduler,
          leaderUrl: () => (leader?.masterId !== instanceId ? leader?.httpUrl : undefined),
        });
  if (http !== undefined) owned.unshift(() => http.close());

  const elector = new LeaderElector(store, {
    masterId: instanceId,
    key: 'batch.leader',
    leaseMs: options.leaseMs ?? 5000,
    ...(http !== undefined ? { info: { httpUrl: http.url } } : {}),
    onLeader: (lease) => {
      leader = lease;
    },
    // Started in the background: the elector must go on renewing the lease meanwhile.
    onElected: () => {
      starting = starting.then(async () => {
        const s = makeScheduler();
        try {
          await s.start();
        } catch (error) {
          logger.error({ err: (error as Error).message }, 'the batch scheduler could not start');
          await s.stop();
          return;
        }
        if (elector.state !== 'leader') {
          await s.stop();
          return;
        }
        scheduler = s;
        logger.info({ instanceId, frameworkId: s.frameworkId }, 'leading: the batch scheduler runs');
        for (const w of readyWaiters.splice(0)) w();
      });
    },
    onDeposed: async (why) => {
      logger.info({ instanceId, why }, 'no longer leading');
      starting = starting.then(async () => {
        const s = scheduler;
        scheduler = undefined;
        await s?.stop();
      });
      await starting;
    },
    onError: (error) => logger.warn({ err: (error as Error).message }, 'leader election'),
  });
  await elector.start();

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await starting;
      const s = scheduler;
      scheduler = undefined;
      await s?.stop();
      await states.close();
      await elector.stop();
      for (const close of owned) await close().catch(() => {});
      readyWaiters = [];
    })();
    return stopping;
  };
  return {
    get httpUrl() {
      return http?.url ?? '';
    },
    instanceId,
    get isLeader() {
      return scheduler !== undefined;
    },
    get scheduler() {
      return scheduler;
    },
    waitLeading: () => (scheduler !== undefined ? Promise.resolve() : new Promise<void>((resolve) => readyWaiters.push(resolve))),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
