import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerHeap } from './heap.js';

describe('TimerHeap', () => {
  it('pops in time order, ties in insertion order', () => {
    const h = new TimerHeap();
    h.set('c', 3);
    h.set('a', 1);
    h.set('b', 1);
    h.set('d', 0);
    expect(h.peek()?.id).toBe('d');
    expect([h.pop(), h.pop(), h.pop(), h.pop(), h.pop()].map((e) => e?.id)).toEqual(['d', 'a', 'b', 'c', undefined]);
  });

  it('moves and removes entries by id', () => {
    const h = new TimerHeap();
    for (const [id, t] of [['a', 5], ['b', 6], ['c', 7]] as const) h.set(id, t);
    h.set('c', 1);
    expect(h.peek()?.id).toBe('c');
    h.set('c', 10);
    expect(h.peek()?.id).toBe('a');
    expect(h.delete('a')).toBe(true);
    expect(h.delete('a')).toBe(false);
    expect(h.timeOf('b')).toBe(6);
    expect(h.has('a')).toBe(false);
    expect(h.size).toBe(2);
    h.assertValid();
  });

  it('stays a valid heap with 100k entries under updates and removals', () => {
    const h = new TimerHeap();
    let x = 12345;
    const rand = () => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x;
    };
    for (let i = 0; i < 100_000; i++) h.set(`j${i}`, rand() % 1_000_000);
    for (let i = 0; i < 50_000; i++) h.set(`j${rand() % 100_000}`, rand() % 1_000_000);
    for (let i = 0; i < 100_000; i += 3) h.delete(`j${i}`);
    h.assertValid();
    let last = -1;
    let popped = 0;
    for (let e = h.pop(); e !== undefined; e = h.pop()) {
      expect(e.time >= last).toBe(true);
      last = e.time;
      popped++;
    }
    expect(popped).toBe(100_000 - Math.ceil(100_000 / 3));
  });

  it('property: behaves like a sorted map under random sets, deletes and pops', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.integer({ min: 0, max: 30 }), time: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('pop' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const h = new TimerHeap();
        const model = new Map<string, { time: number; seq: number }>();
        let seq = 0;
        for (const o of ops) {
          if (o.kind === 'set') {
            h.set(String(o.id), o.time);
            model.set(String(o.id), { time: o.time, seq: seq++ });
          } else if (o.kind === 'delete') {
            expect(h.delete(String(o.id))).toBe(model.delete(String(o.id)));
          } else {
            const sorted = [...model].sort((a, b) => a[1].time - b[1].time || a[1].seq - b[1].seq);
            const got = h.pop();
            expect(got?.id).toBe(sorted[0]?.[0]);
            if (sorted[0]) model.delete(sorted[0][0]);
          }
          h.assertValid();
          expect(h.size).toBe(model.size);
        }
      }),
    );
  });
});
