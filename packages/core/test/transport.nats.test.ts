/**
 * The transport conformance suite against {@link NatsTransport} on a real `nats-server`, plus what
 * only a network transport does: losing its server and finding it again.
 *
 * @module
 */

import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../src/errors.js';
import { NatsTransport } from '../src/nats/nats-transport.js';
import type { TransportMsg, TransportStatus } from '../src/transport/transport.js';
import { describeTransportConformance } from './transport-conformance.js';

let server: NatsServerHandle | undefined;

beforeAll(async () => {
  server = await startNats({ jetstream: false });
});

afterAll(async () => {
  await server?.stop();
});

describeTransportConformance('nats', async () => {
  const url = server!.url;
  const a = await NatsTransport.connect({ servers: url, name: 'conformance-a' });
  const b = await NatsTransport.connect({ servers: url, name: 'conformance-b' }).catch(async (error) => {
    await a.close();
    throw error;
  });
  return {
    a,
    b,
    async cleanup() {
      await a.close();
      await b.close();
    },
  };
});

describe('NatsTransport', () => {
  it('fails to connect with UnavailableError when no server listens', async () => {
    const error = await NatsTransport.connect({ servers: 'nats://127.0.0.1:1', timeoutMs: 2000 }).then(
      async (t) => {
        await t.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(UnavailableError.isInstance(error), String(error)).toBe(true);
  });

  it('exposes its connection and kind', async () => {
    await using t = await NatsTransport.connect({ servers: server!.url });
    expect(t.kind).toBe('nats');
    expect(t.connection.isClosed()).toBe(false);
    expect(t.state).toBe('open');
  });

  it('reports disconnect and reconnect when the server restarts, and keeps subscriptions', async () => {
    await using nats = await startNats({ jetstream: false });
    const a = await NatsTransport.connect({ servers: nats.url, reconnectTimeWaitMs: 50 });
    const b = await NatsTransport.connect({ servers: nats.url, reconnectTimeWaitMs: 50 });
    try {
      const statusesA: TransportStatus[] = [];
      const statusesB: TransportStatus[] = [];
      a.onStatus((s) => statusesA.push(s));
      b.onStatus((s) => statusesB.push(s));
      const got: TransportMsg[] = [];
      b.subscribe('restart.sub', { callback: (m) => void got.push(m) });
      await b.flush();
      a.publish('restart.sub', new Uint8Array([1]));
      await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'a message before the restart' });

      await nats.restart();

      const reconnected = (list: TransportStatus[]) => list.some((s) => s.type === 'reconnect');
      await waitFor(() => reconnected(statusesA) && reconnected(statusesB), { timeoutMs: 15_000, what: 'both clients to reconnect' });
      expect(statusesA.map((s) => s.type)).toContain('disconnect');
      expect(statusesB.map((s) => s.type)).toContain('disconnect');
      expect(statusesB.findIndex((s) => s.type === 'disconnect')).toBeLessThan(statusesB.findIndex((s) => s.type === 'reconnect'));

      // b resubscribed on reconnect; its flush makes sure the server has the SUB before a publishes.
      await b.flush();
      a.publish('restart.sub', new Uint8Array([2]));
      await waitFor(() => got.length === 2, { timeoutMs: 5000, what: 'a message after the restart' });
      expect(got[1]?.data[0]).toBe(2);
    } finally {
      await a.close();
      await b.close();
    }
  }, 30_000);
});
