/** ExpiryHeap: pops in time order, popUntil stops at now. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryHeap } from './expiry-heap.js';

describe('ExpiryHeap', () => {
  it('pops entries due by now, earliest first, and keeps the rest', () => {
    const heap = new ExpiryHeap();
    for (const atMs of [30, 10, 20, 40]) heap.push({ atMs, agentId: `a${atMs}`, frameworkId: 'f' });
    const seen: number[] = [];
    heap.popUntil(25, (e) => seen.push(e.atMs));
    expect(seen).toEqual([10, 20]);
    expect(heap.peekMs()).toBe(30);
    expect(heap.size).toBe(2);
    heap.clear();
    expect(heap.pop()).toBeUndefined();
  });

  it('is a heap: pops any input in sorted order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 })), (times) => {
        const heap = new ExpiryHeap();
        for (const atMs of times) heap.push({ atMs, agentId: 'a', frameworkId: 'f' });
        const out: number[] = [];
        for (let e = heap.pop(); e !== undefined; e = heap.pop()) out.push(e.atMs);
        expect(out).toEqual([...times].sort((a, b) => a - b));
      }),
    );
  });
});
