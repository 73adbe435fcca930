import { MemoryBus, MemoryTransport, type TransportMsg } from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { LossyTransport } from './lossy-transport.js';

const bytes = (n: number) => new Uint8Array([n]);
const open: { close(): Promise<void> }[] = [];

function setup(random?: () => number) {
  const bus = new MemoryBus();
  const sender = MemoryTransport.create({ bus });
  const lossy = new LossyTransport(MemoryTransport.create({ bus }), random ? { random } : {});
  open.push(sender, lossy);
  return { sender, lossy };
}

/** A repeatable random source (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe('LossyTransport', () => {
  it('drops the messages a predicate picks, on matching subjects only, from callback subscriptions', async () => {
    const { sender, lossy } = setup();
    const got: string[] = [];
    lossy.subscribe('a.>', { callback: (m) => got.push(`${m.subject}:${m.data[0]}`) });
    const rule = lossy.drop({ subject: 'a.x', select: (_m, index) => index === 1 || index === 3 });
    for (let i = 0; i < 5; i++) sender.publish('a.x', bytes(i));
    sender.publish('a.y', bytes(9));
    await waitFor(() => got.length === 4, { what: 'four messages' });
    expect(got).toEqual(['a.x:0', 'a.x:2', 'a.x:4', 'a.y:9']);
    expect(rule.dropped).toBe(2);
    expect(rule.droppedMessages.map((m) => m.data[0])).toEqual([1, 3]);
    expect(lossy.dropped).toBe(2);
  });

  it('drops a chosen fraction, repeatably with a seeded random', async () => {
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const { sender, lossy } = setup(seeded(42));
      let got = 0;
      lossy.subscribe('f', { callback: () => got++ });
      const rule = lossy.drop({ subject: 'f', fraction: 0.25 });
      for (let i = 0; i < 400; i++) sender.publish('f', bytes(i));
      await waitFor(() => got + rule.dropped === 400, { what: 'all messages seen' });
      counts.push(rule.dropped);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBeGreaterThan(60);
    expect(counts[0]).toBeLessThan(140);
  });

  it('stops after its limit, and lets everything through once removed', async () => {
    const { sender, lossy } = setup();
    let got = 0;
    lossy.subscribe('s', { callback: () => got++ });
    const rule = lossy.drop({ subject: 's', limit: 2 });
    for (let i = 0; i < 5; i++) sender.publish('s', bytes(i));
    await waitFor(() => got === 3, { what: 'three messages' });
    rule.remove();
    const other = lossy.drop({ subject: 's' });
    lossy.clear();
    sender.publish('s', bytes(5));
    await waitFor(() => got === 4, { what: 'a fourth message' });
    expect(rule.dropped).toBe(2);
    expect(other.dropped).toBe(0);
  });

  it('skips dropped messages in iterated subscriptions', async () => {
    const { sender, lossy } = setup();
    const sub = lossy.subscribe('it');
    lossy.drop({ subject: 'it', select: (m) => m.data[0]! % 2 === 1 });
    for (let i = 0; i < 6; i++) sender.publish('it', bytes(i));
    const got: number[] = [];
    for await (const m of sub as AsyncIterable<TransportMsg>) {
      got.push(m.data[0]!);
      if (got.length === 3) break;
    }
    expect(got).toEqual([0, 2, 4]);
    expect(sub.isClosed).toBe(true);
  });

  it('passes requests and replies through untouched', async () => {
    const { sender, lossy } = setup();
    sender.subscribe('svc', { callback: (m) => m.respond(bytes(7)) });
    lossy.drop({ subject: '>' });
    const reply = await lossy.request('svc', bytes(1), { timeoutMs: 1000 });
    expect(reply.data[0]).toBe(7);
    expect(lossy.kind).toBe('lossy(memory)');
    await lossy.close();
    expect(lossy.isClosed).toBe(true);
  });
});
