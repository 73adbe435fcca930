/** RankedList: order by key then name, positions kept, moves on rekey. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Ranked, RankedList, ranksBefore } from './ranked-list.js';

function item(name: string, key = 0): Ranked {
  return { key, name, pos: -1 };
}

function assertOrdered(list: RankedList<Ranked>): void {
  list.items.forEach((x, i) => {
    expect(x.pos).toBe(i);
    if (i > 0) expect(ranksBefore(x, list.items[i - 1]!)).toBe(false);
  });
}

describe('RankedList', () => {
  it('orders by key, then by name', () => {
    const list = new RankedList<Ranked>();
    for (const [name, key] of [['b', 1], ['a', 1], ['c', 0]] as const) list.insert(item(name, key));
    expect(list.items.map((x) => x.name)).toEqual(['c', 'a', 'b']);
    assertOrdered(list);
  });

  it('moves a member when its key changes, and removes members', () => {
    const list = new RankedList<Ranked>();
    const xs = ['a', 'b', 'c', 'd'].map((n) => item(n));
    for (const x of xs) list.insert(x);
    list.rekey(xs[0]!, 5);
    expect(list.items.map((x) => x.name)).toEqual(['b', 'c', 'd', 'a']);
    list.rekey(xs[0]!, -1);
    expect(list.items.map((x) => x.name)).toEqual(['a', 'b', 'c', 'd']);
    list.remove(xs[1]!);
    expect(list.has(xs[1]!)).toBe(false);
    expect(xs[1]!.pos).toBe(-1);
    list.remove(xs[1]!); // no-op
    list.rekey(xs[1]!, 3); // a non-member only changes its key
    expect(xs[1]!.key).toBe(3);
    expect(list.size).toBe(3);
    assertOrdered(list);
  });

  it('stays ordered under any sequence of inserts, rekeys, removes and resorts', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom('insert', 'rekey', 'remove', 'mutate'), fc.nat(9), fc.integer({ min: 0, max: 5 })),
          { maxLength: 80 },
        ),
        (ops) => {
          const list = new RankedList<Ranked>();
          const pool = Array.from({ length: 10 }, (_, i) => item(`n${i}`));
          let mutated = false;
          for (const [op, i, key] of ops) {
            const x = pool[i]!;
            if (op === 'insert' && !list.has(x)) list.insert(x);
            else if (op === 'rekey' && !mutated) list.rekey(x, key);
            else if (op === 'remove') list.remove(x);
            else if (op === 'mutate') {
              x.key = key;
              mutated = true;
            }
            if (mutated && op !== 'mutate') {
              list.resort();
              mutated = false;
            }
            if (!mutated) assertOrdered(list);
          }
        },
      ),
    );
  });
});
