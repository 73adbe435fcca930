/**
 * {@link NatsKvStore} on a 3-node NATS cluster with the bucket replicated three times (R3): the
 * Store conformance suite, and writes that go on while a node is killed — no acknowledged write
 * may be lost, and the killed node catches up when it comes back.
 *
 * @module
 */
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { StoaError } from '@stoa/core';
import { type NatsClusterHandle, type NatsNode, startNatsCluster, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NatsKvStore, type NatsKvStoreOptions } from '../src/nats/nats-kv-store.js';
import { describeStoreConformance } from './store-conformance.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

let cluster: NatsClusterHandle;
let admin: NatsConnection;
let buckets = 0;

beforeAll(async () => {
  cluster = await startNatsCluster({ nodes: 3 });
  admin = await connect({ servers: cluster.servers, maxReconnectAttempts: -1, name: 'admin' });
}, 60_000);

afterAll(async () => {
  await admin?.close();
  await cluster?.stop();
});

async function dropBucket(bucket: string): Promise<void> {
  const jsm = await jetstreamManager(admin, { checkAPI: false });
  await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
}

/** The stream's info, asked again while the cluster settles after a kill (the admin may reconnect). */
function streamInfo(bucket: string): Promise<StreamInfo> {
  return waitFor(
    async () => {
      const jsm = await jetstreamManager(admin, { checkAPI: false });
      return jsm.streams.info(`KV_${bucket}`);
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `the info of KV_${bucket}` },
  );
}

/**
 * Runs `call` until it succeeds, retrying what our errors call retryable, up to a deadline. The
 * pause between attempts is a retry backoff (a put without a stream leader fails at once), not a
 * wait for some condition.
 */
async function retrying<T>(call: () => Promise<T>, what: string, timeoutMs = 30_000): Promise<{ value: T; attempts: number; ms: number }> {
  const start = Date.now();
  for (let attempts = 1; ; attempts++) {
    try {
      return { value: await call(), attempts, ms: Date.now() - start };
    } catch (error) {
      if (!StoaError.isInstance(error) || !error.retryable || Date.now() - start > timeoutMs) {
        throw new Error(`${what} failed after ${attempts} attempts in ${Date.now() - start} ms`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** attempts, 250)));
    }
  }
}

/** Opens an R3 bucket, retrying while the cluster's JetStream settles. */
function openR3(nc: NatsConnection, options: NatsKvStoreOptions): Promise<NatsKvStore> {
  return retrying(() => NatsKvStore.open(nc, { replicas: 3, ...options }), `open ${options.bucket}`).then((r) => r.value);
}

describeStoreConformance('NatsKvStore (3-node cluster, R3)', async () => {
  const bucket = `conf-${++buckets}`;
  const store = await retrying(() => NatsKvStore.connect({ servers: cluster.servers, bucket, replicas: 3 }), 'connect').then((r) => r.value);
  expect((await streamInfo(bucket)).config.num_replicas).toBe(3);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropBucket(bucket);
    },
  };
});

describe('NatsKvStore on a 3-node cluster while a node is killed', () => {
  const closers: Array<() => Promise<unknown>> = [];

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    // Whatever a failed test left down comes back for the next one.
    for (const node of cluster.nodes) if (!node.running) await node.restart();
  });

  /**
   * Writes `count` keys one after the other, killing `victim` (not awaited: mid-stream) before
   * put number `killAt`; a put that fails retryably is retried. Returns what was acknowledged.
   */
  async function writeThroughKill(store: NatsKvStore, victim: NatsNode, count: number, killAt: number) {
    const acked = new Map<string, { value: string; revision: number }>();
    let longestMs = 0;
    let retried = 0;
    let killed: Promise<void> | undefined;
    for (let i = 0; i < count; i++) {
      if (i === killAt) killed = victim.kill();
      const key = `fault.k${i}`;
      const value = `value-${i}`;
      const { value: revision, attempts, ms } = await retrying(() => store.put(key, bytes(value)), `put ${key}`, 60_000);
      acked.set(key, { value, revision });
      longestMs = Math.max(longestMs, ms);
      retried += attempts - 1;
    }
    await killed;
    return { acked, longestMs, retried };
  }

  async function expectAllReadable(store: NatsKvStore, acked: Map<string, { value: string; revision: number }>): Promise<void> {
    for (const [key, { value, revision }] of acked) {
      const { value: e } = await retrying(() => store.get(key), `get ${key}`);
      expect(e, key).not.toBeNull();
      expect(str(e!.value), key).toBe(value);
      expect(e!.revision, key).toBeGreaterThanOrEqual(revision);
    }
    const { value: keys } = await retrying(() => store.keys('fault.>'), 'keys');
    expect(keys.length).toBe(acked.size);
  }

  /** Restarts the node and waits until its replica of the bucket is current. */
  async function restartAndCatchUp(node: NatsNode, bucket: string): Promise<number> {
    const start = Date.now();
    await node.restart();
    await waitFor(
      async () => {
        const info = await streamInfo(bucket);
        if (info.cluster?.leader === node.name) return true;
        const replica = info.cluster?.replicas?.find((r) => r.name === node.name);
        // The server leaves out `lag` and `offline` when they are 0 and false.
        return replica?.current === true && !replica.offline && (replica.lag ?? 0) === 0;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: `${node.name} to catch up on KV_${bucket}` },
    );
    return Date.now() - start;
  }

  /** Reads everything through a connection to `node` alone, then writes through it. */
  async function checkThrough(node: NatsNode, bucket: string, acked: Map<string, { value: string; revision: number }>): Promise<void> {
    const nc = await connect({ servers: node.url, name: `check-${node.name}` });
    closers.push(() => nc.close());
    const store = await NatsKvStore.open(nc, { bucket });
    closers.push(() => store.close());
    await expectAllReadable(store, acked);
    const { value: rev } = await retrying(() => store.put('fault.after', bytes('ok')), 'put after the restart');
    expect(str((await store.get('fault.after'))!.value)).toBe('ok');
    expect(rev).toBeGreaterThan(Math.max(...[...acked.values()].map((a) => a.revision)));
  }

  it('loses no acknowledged put when the stream leader is killed', { timeout: 120_000 }, async () => {
    const bucket = `fault-leader-${++buckets}`;
    closers.push(() => dropBucket(bucket));
    const setupStore = await openR3(admin, { bucket });
    await setupStore.close();
    const leaderName = (await streamInfo(bucket)).cluster?.leader;
    const leader = cluster.nodes.find((n) => n.name === leaderName);
    expect(leader, `the leader ${leaderName}`).toBeDefined();
    // The writer is connected to another node first, so this is a failover, not a reconnect.
    const servers = [...cluster.nodes.filter((n) => n !== leader).map((n) => n.url), leader!.url];
    const nc = await connect({ servers, noRandomize: true, maxReconnectAttempts: -1, name: 'writer' });
    closers.push(() => nc.close());
    expect(nc.info?.server_name).not.toBe(leaderName);
    const store = await NatsKvStore.open(nc, { bucket, timeoutMs: 2000 });
    closers.push(() => store.close());

    const { acked, longestMs, retried } = await writeThroughKill(store, leader!, 400, 100);
    const newLeader = (await streamInfo(bucket)).cluster?.leader;
    console.info(`[store.nats-cluster] leader ${leaderName} killed: longest put ${longestMs} ms, ${retried} retries, new leader ${newLeader}`);
    expect(acked.size).toBe(400);
    expect(newLeader).not.toBe(leaderName);
    await expectAllReadable(store, acked);

    const catchUpMs = await restartAndCatchUp(leader!, bucket);
    console.info(`[store.nats-cluster] ${leaderName} restarted and caught up in ${catchUpMs} ms`);
    await checkThrough(leader!, bucket, acked);
  });

  it('goes on watching when the server of the watch consumer is killed', { timeout: 120_000 }, async () => {
    const bucket = `fault-watch-${++buckets}`;
    closers.push(() => dropBucket(bucket));
    const nc = await connect({ servers: cluster.servers, maxReconnectAttempts: -1, name: 'watcher' });
    closers.push(() => nc.close());
    const store = await openR3(nc, { bucket, timeoutMs: 2000, watchCheckMs: 1000 });
    closers.push(() => store.close());
    const watch = await store.watch({ key: 'fault.>', include: 'updates' });
    closers.push(async () => watch.stop());
    // The watch's consumer is the only one on the stream; the meta leader knows where it lives.
    const jsm = await jetstreamManager(admin, { checkAPI: false });
    const host = await waitFor(async () => (await jsm.consumers.list(`KV_${bucket}`).next())[0]?.cluster?.leader, {
      what: 'the watch consumer to be listed',
    });
    const victim = cluster.nodes.find((n) => n.name === host)!;
    expect(victim, `the node ${host}`).toBeDefined();

    const ackedAt = new Map<string, number>();
    const seen = new Map<string, string>();
    let maxLagMs = 0;
    let lastRevision = 0;
    const reading = (async () => {
      for await (const e of watch) {
        expect(e.revision).toBeGreaterThan(lastRevision);
        lastRevision = e.revision;
        seen.set(e.key, str(e.value));
        const at = ackedAt.get(e.key);
        if (at !== undefined) maxLagMs = Math.max(maxLagMs, Date.now() - at);
        if (seen.size === 300) return;
      }
    })();
    let killed: Promise<void> | undefined;
    for (let i = 0; i < 300; i++) {
      if (i === 50) killed = victim.kill();
      await retrying(() => store.put(`fault.k${i}`, bytes(`value-${i}`)), `put ${i}`, 60_000);
      ackedAt.set(`fault.k${i}`, Date.now());
    }
    await killed;
    await waitFor(() => seen.size === 300, { timeoutMs: 30_000, what: `the watch to see all 300 keys (it has ${seen.size})` });
    await reading;
    console.info(`[store.nats-cluster] watch consumer's node ${host} killed: the watch lagged at most ${maxLagMs} ms behind an ack`);
    for (let i = 0; i < 300; i++) expect(seen.get(`fault.k${i}`)).toBe(`value-${i}`);
    await victim.restart();
  });

  it('loses no acknowledged put when the node the writer is connected to is killed', { timeout: 120_000 }, async () => {
    const bucket = `fault-conn-${++buckets}`;
    closers.push(() => dropBucket(bucket));
    const setupStore = await openR3(admin, { bucket });
    await setupStore.close();
    const nc = await connect({ servers: cluster.servers, maxReconnectAttempts: -1, name: 'writer' });
    closers.push(() => nc.close());
    const victim = cluster.nodes.find((n) => n.name === nc.info?.server_name);
    expect(victim, `the node of ${nc.getServer()}`).toBeDefined();
    const role = (await streamInfo(bucket)).cluster?.leader === victim!.name ? 'leader' : 'follower';
    const store = await NatsKvStore.open(nc, { bucket, timeoutMs: 2000 });
    closers.push(() => store.close());

    const { acked, longestMs, retried } = await writeThroughKill(store, victim!, 400, 100);
    console.info(
      `[store.nats-cluster] connected node ${victim!.name} (${role}) killed: longest put ${longestMs} ms, ${retried} retries, ` +
        `reconnected to ${nc.info?.server_name}`,
    );
    expect(acked.size).toBe(400);
    expect(nc.info?.server_name).not.toBe(victim!.name);
    await expectAllReadable(store, acked);

    const catchUpMs = await restartAndCatchUp(victim!, bucket);
    console.info(`[store.nats-cluster] ${victim!.name} restarted and caught up in ${catchUpMs} ms`);
    await checkThrough(victim!, bucket, acked);
  });
});
