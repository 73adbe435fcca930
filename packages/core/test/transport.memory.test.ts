/**
 * The transport conformance suite against {@link MemoryTransport}, plus what only the in-memory
 * transport promises: separate buses do not hear each other, a drain also delivers what other
 * transports queued, and a rough throughput figure.
 *
 * @module
 */

import { describe, expect, it } from 'vitest';
import { MemoryBus, MemoryTransport } from '../src/transport/memory.js';
import type { TransportMsg } from '../src/transport/transport.js';
import { describeTransportConformance } from './transport-conformance.js';

describeTransportConformance('memory', async () => {
  const bus = new MemoryBus();
  const a = MemoryTransport.create({ bus });
  const b = MemoryTransport.create({ bus });
  return {
    a,
    b,
    async cleanup() {
      await a.close();
      await b.close();
    },
  };
});

describe('MemoryTransport', () => {
  it('keeps separate buses apart', async () => {
    const a = MemoryTransport.create();
    const b = MemoryTransport.create();
    try {
      const got: TransportMsg[] = [];
      b.subscribe('mem.apart', { callback: (m) => void got.push(m) });
      a.publish('mem.apart', new Uint8Array([1]));
      await a.flush();
      await b.flush();
      expect(got).toHaveLength(0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('delivers on drain what another transport published just before, without a flush', async () => {
    const bus = new MemoryBus();
    const a = MemoryTransport.create({ bus });
    const b = MemoryTransport.create({ bus });
    try {
      let count = 0;
      b.subscribe('mem.drain', { callback: () => void count++ });
      for (let i = 0; i < 50; i++) a.publish('mem.drain', new Uint8Array([i]));
      expect(b.state).toBe('open');
      const draining = b.drain();
      expect(b.state).toBe('draining');
      expect(() => b.subscribe('mem.drain.more')).toThrow(/draining/);
      await draining;
      expect(count).toBe(50);
      expect(b.state).toBe('closed');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses subjects NATS would refuse', async () => {
    await using t = MemoryTransport.create();
    for (const subject of ['', 'a..b', 'a.>.b', 'a b', '.a']) {
      expect(() => t.subscribe(subject), subject).toThrow(/invalid subject/);
    }
  });

  it('hands the published buffer itself to subscribers (no copy)', async () => {
    const bus = new MemoryBus();
    await using a = MemoryTransport.create({ bus });
    await using b = MemoryTransport.create({ bus });
    const data = new Uint8Array([1, 2, 3]);
    const got: TransportMsg[] = [];
    b.subscribe('mem.nocopy', { callback: (m) => void got.push(m) });
    a.publish('mem.nocopy', data);
    await a.flush();
    expect(got[0]?.data).toBe(data);
  });

  it('moves at least 100,000 messages a second from publish to callback', async () => {
    const bus = new MemoryBus();
    const a = MemoryTransport.create({ bus });
    const b = MemoryTransport.create({ bus });
    try {
      const count = 200_000;
      let received = 0;
      b.subscribe('mem.bench', { callback: () => void received++ });
      const data = new Uint8Array(64);
      const started = performance.now();
      for (let i = 0; i < count; i++) a.publish('mem.bench', data);
      await a.flush();
      const seconds = (performance.now() - started) / 1000;
      expect(received).toBe(count);
      const rate = Math.round(count / seconds);
      console.info(`MemoryTransport: ${rate.toLocaleString('en')} msgs/s publish→callback`);
      expect(rate).toBeGreaterThan(100_000);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
