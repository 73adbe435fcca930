/**
 * The Store conformance suite on {@link NatsKvStore} over one `nats-server` (bucket R1), and what
 * is particular to it: binding an existing bucket, the bucket's settings, its own connection,
 * error mapping, durability across a server restart.
 *
 * @module
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NotFoundError, UnavailableError, ValidationError } from '@stoa/core';
import { freePort, type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsKvStore } from '../src/nats/nats-kv-store.js';
import { describeStoreConformance, takeEntries } from './store-conformance.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

let nats: NatsServerHandle;
let admin: NatsConnection;
let buckets = 0;

beforeAll(async () => {
  nats = await startNats();
  admin = await connect({ servers: nats.servers, maxReconnectAttempts: -1 });
});

afterAll(async () => {
  await admin?.close();
  await nats?.stop();
});

/** Cleanup on a throwaway server: a bucket left behind (the admin connection still reconnecting after a restart) harms nothing. */
async function dropBucket(bucket: string): Promise<void> {
  try {
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete(`KV_${bucket}`);
  } catch {
    // left behind
  }
}

describeStoreConformance('NatsKvStore (single server, R1)', async () => {
  const bucket = `conf-${++buckets}`;
  const store = await NatsKvStore.connect({ servers: nats.servers, bucket });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropBucket(bucket);
    },
  };
});

describe('NatsKvStore (single server)', () => {
  it('opens over a connection it leaves open, and binds a bucket that exists', async () => {
    const bucket = `bind-${++buckets}`;
    const nc = await connect({ servers: nats.servers });
    try {
      const first = await NatsKvStore.open(nc, { bucket, history: 5 });
      const rev = await first.put('k', bytes('v'));
      // A second open with other settings binds the bucket as it is.
      const second = await NatsKvStore.open(nc, { bucket, history: 1 });
      expect((await second.get('k'))?.revision).toBe(rev);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(`KV_${bucket}`);
      expect(info.config.max_msgs_per_subject).toBe(5);
      expect(info.config.num_replicas).toBe(1);
      expect(info.config.allow_direct).toBe(false);
      expect(first.kind).toBe('nats-kv');
      expect(first.bucket).toBe(bucket);
      await first.close();
      expect(first.state).toBe('closed');
      expect(UnavailableError.isInstance(await first.get('k').catch((e: unknown) => e))).toBe(true);
      expect(nc.isClosed()).toBe(false);
      expect(str((await second.get('k'))!.value)).toBe('v');
      await second.close();
    } finally {
      await nc.close();
      await dropBucket(bucket);
    }
  });

  it("uses the default bucket 'stoa', and connect() closes its own connection", async () => {
    const store = await NatsKvStore.connect({ servers: nats.servers });
    try {
      expect(store.bucket).toBe('stoa');
      await store.put('hello', bytes('world'));
      expect(store.state).toBe('open');
    } finally {
      await store.close();
      await dropBucket('stoa');
    }
    expect(store.state).toBe('closed');
  });

  it('throws UnavailableError when its connection is closed underneath', async () => {
    const bucket = `under-${++buckets}`;
    const nc = await connect({ servers: nats.servers });
    const store = await NatsKvStore.open(nc, { bucket });
    const watch = await store.watch();
    const iterator = watch[Symbol.asyncIterator]();
    const ended = iterator.next();
    await nc.close();
    expect((await ended).done).toBe(true);
    expect(store.state).toBe('closed');
    expect(UnavailableError.isInstance(await store.put('k', bytes('v')).catch((e: unknown) => e))).toBe(true);
    await store.close();
    await dropBucket(bucket);
  });

  it('refuses invalid options with ValidationError', async () => {
    for (const options of [{ bucket: 'a.b' }, { bucket: '' }, { replicas: 0 }, { history: 0 }, { maxAgeMs: -1 }, { timeoutMs: 1.5 }]) {
      const error = await NatsKvStore.open(admin, options).catch((e: unknown) => e);
      expect(ValidationError.isInstance(error), JSON.stringify(options)).toBe(true);
    }
  });

  it('fails with UnavailableError when no server answers', async () => {
    const port = await freePort();
    const error = await NatsKvStore.connect({ servers: `nats://127.0.0.1:${port}` }).catch((e: unknown) => e);
    expect(UnavailableError.isInstance(error), String(error)).toBe(true);
  });

  it('maps a vanished bucket: a write finds no responder, a read no stream', async () => {
    const bucket = `gone-${++buckets}`;
    const store = await NatsKvStore.open(admin, { bucket });
    try {
      await dropBucket(bucket);
      const put = await store.put('k', bytes('v')).catch((e: unknown) => e);
      expect(UnavailableError.isInstance(put), String(put)).toBe(true);
      const get = await store.get('k').catch((e: unknown) => e);
      expect(NotFoundError.isInstance(get), String(get)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('drops values older than the bucket TTL (maxAgeMs)', async () => {
    const bucket = `ttl-${++buckets}`;
    const store = await NatsKvStore.open(admin, { bucket, maxAgeMs: 1000 });
    try {
      const jsm = await jetstreamManager(admin);
      expect((await jsm.streams.info(`KV_${bucket}`)).config.max_age).toBe(1_000_000_000);
      await store.put('short', bytes('lived'));
      expect(await store.get('short')).not.toBeNull();
      await waitFor(async () => (await store.get('short')) === null, { timeoutMs: 10_000, what: 'the value to expire' });
    } finally {
      await store.close();
      await dropBucket(bucket);
    }
  });

  it('goes on watching after the server restarts, from where it was', async () => {
    const bucket = `rewatch-${++buckets}`;
    const store = await NatsKvStore.connect({ servers: nats.servers, bucket, timeoutMs: 1000, watchCheckMs: 500 });
    const watch = await store.watch({ key: 'w.>', include: 'updates' });
    try {
      const iterator = watch[Symbol.asyncIterator]();
      await store.put('w.before', bytes('1'));
      expect((await takeEntries(iterator, 1, 'before the restart')).map((e) => e.key)).toEqual(['w.before']);
      await nats.restart();
      // The consumer died with the server; the watch makes a new one after the last revision.
      await waitFor(() => store.put('w.after', bytes('2')), { timeoutMs: 20_000, what: 'a put after the restart' });
      const [after] = await takeEntries(iterator, 1, 'after the restart', 20_000);
      expect(after?.key).toBe('w.after');
    } finally {
      watch.stop();
      await store.close();
      await dropBucket(bucket);
    }
  });

  it('keeps its data across a server restart, and the store reconnects', async () => {
    const bucket = `restart-${++buckets}`;
    const store = await NatsKvStore.connect({ servers: nats.servers, bucket, timeoutMs: 1000 });
    try {
      const rev = await store.put('durable', bytes('yes'));
      await nats.restart();
      const e = await waitFor(() => store.get('durable'), { timeoutMs: 20_000, what: 'a read after the restart' });
      expect(str(e.value)).toBe('yes');
      expect(e.revision).toBe(rev);
      // A write may still time out while JetStream finishes recovering on a loaded machine; it lands.
      expect(await waitFor(() => store.put('after', bytes('x')), { timeoutMs: 20_000, what: 'a write after the restart' })).toBeGreaterThan(rev);
    } finally {
      await store.close();
      await dropBucket(bucket);
    }
  });
});
