import { existsSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { NatsServerNotFoundError, startNats, startNatsCluster, waitFor } from '../src/index.js';

describe('startNats', () => {
  it('starts a JetStream server on a free port, survives kill/restart on the same port, and cleans up', async () => {
    const nats = await startNats();
    const dir = nats.storeDir;
    try {
      expect(nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      const nc = await connect({ servers: nats.url });
      const sub = nc.subscribe('ping', { max: 1 });
      nc.publish('ping', 'x');
      for await (const m of sub) expect(m.string()).toBe('x');
      await nc.close();

      const before = nats.pid;
      await nats.kill();
      expect(nats.running).toBe(false);
      await nats.restart();
      expect(nats.running).toBe(true);
      expect(nats.pid).not.toBe(before);
      const again = await connect({ servers: nats.url });
      await again.close();
    } finally {
      await nats.stop();
    }
    expect(nats.running).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it('names the Debian package when the binary is missing', async () => {
    const saved = process.env.STOA_NATS_SERVER;
    process.env.STOA_NATS_SERVER = '/nonexistent/nats-server';
    try {
      const error = await startNats().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NatsServerNotFoundError);
      expect(String((error as Error).message)).toContain('apt-get install -y nats-server');
    } finally {
      if (saved === undefined) delete process.env.STOA_NATS_SERVER;
      else process.env.STOA_NATS_SERVER = saved;
    }
  });
});

describe('startNatsCluster', () => {
  it('routes messages across three nodes and keeps going with one killed', async () => {
    await using cluster = await startNatsCluster({ nodes: 3 });
    expect(cluster.nodes).toHaveLength(3);
    const a = await connect({ servers: cluster.nodes[0]!.url });
    const b = await connect({ servers: cluster.nodes[2]!.url });
    try {
      const got: string[] = [];
      b.subscribe('x.>', {
        callback: (_e, m) => {
          got.push(m.string());
        },
      });
      await b.flush();
      // Route interest propagates asynchronously: publish until the other side sees one.
      await waitFor(
        async () => {
          a.publish('x.1', 'hello');
          await a.flush();
          return got.length > 0;
        },
        { what: 'a message routed from node 1 to node 3' },
      );
      await cluster.nodes[1]!.kill();
      const before = got.length;
      await waitFor(
        async () => {
          a.publish('x.2', 'still');
          await a.flush();
          return got.length > before;
        },
        { what: 'routing with node 2 killed' },
      );
      expect(got).toContain('still');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
