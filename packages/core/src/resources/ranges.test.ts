import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { expand, RANGE_DOMAIN, rangesArb } from './arbitraries.js';
import {
  addRanges,
  allocatePorts,
  isNormalizedRanges,
  normalizeRanges,
  portsToRanges,
  rangesContain,
  rangesCount,
  rangesCover,
  subtractRanges,
} from './ranges.js';

const r = (begin: number, end: number) => ({ begin, end });
const sorted = (s: Set<number>) => [...s].sort((x, y) => x - y);

describe('normalizeRanges', () => {
  it('sorts, merges overlapping and adjacent ranges, and drops empty ones', () => {
    expect(normalizeRanges([r(10, 12), r(1, 3), r(4, 6), r(5, 8), r(9, 7)])).toEqual([r(1, 8), r(10, 12)]);
  });
  it('does not modify its input', () => {
    const input = [r(4, 6), r(1, 3)];
    normalizeRanges(input);
    expect(input).toEqual([r(4, 6), r(1, 3)]);
  });
  it('recognizes normalized ranges', () => {
    expect(isNormalizedRanges([r(1, 3), r(5, 6)])).toBe(true);
    expect(isNormalizedRanges([r(1, 3), r(4, 6)])).toBe(false);
    expect(isNormalizedRanges([r(5, 6), r(1, 3)])).toBe(false);
    expect(isNormalizedRanges([r(3, 1)])).toBe(false);
  });
});

describe('addRanges / subtractRanges', () => {
  it('unites', () => {
    expect(addRanges([r(1, 3)], [r(4, 6)])).toEqual([r(1, 6)]);
    expect(addRanges([r(1, 3)], [r(6, 9), r(2, 4)])).toEqual([r(1, 4), r(6, 9)]);
  });
  it('subtracts, splitting ranges', () => {
    expect(subtractRanges([r(1, 10)], [r(3, 4), r(8, 8)])).toEqual([r(1, 2), r(5, 7), r(9, 10)]);
    expect(subtractRanges([r(1, 10)], [r(0, 20)])).toEqual([]);
    expect(subtractRanges([r(1, 3), r(5, 9)], [r(2, 6)])).toEqual([r(1, 1), r(7, 9)]);
    expect(subtractRanges([r(1, 3)], [])).toEqual([r(1, 3)]);
  });
});

describe('rangesCount / rangesContain / rangesCover', () => {
  it('counts distinct numbers', () => {
    expect(rangesCount([r(31000, 32000)])).toBe(1001);
    expect(rangesCount([r(1, 5), r(3, 7)])).toBe(7);
    expect(rangesCount([])).toBe(0);
  });
  it('finds a number', () => {
    expect(rangesContain([r(1, 3), r(8, 9)], 8)).toBe(true);
    expect(rangesContain([r(1, 3), r(8, 9)], 5)).toBe(false);
  });
  it('checks that one list lies inside another', () => {
    expect(rangesCover([r(1, 3), r(4, 9)], [r(2, 6)])).toBe(true);
    expect(rangesCover([r(1, 3), r(5, 9)], [r(2, 6)])).toBe(false);
    expect(rangesCover([r(1, 3)], [])).toBe(true);
  });
});

describe('portsToRanges', () => {
  it('turns ports into merged ranges', () => {
    expect(portsToRanges([5, 1, 2, 3, 9, 2])).toEqual([r(1, 3), r(5, 5), r(9, 9)]);
    expect(portsToRanges([])).toEqual([]);
  });
  it('rejects negative and fractional ports', () => {
    expect(() => portsToRanges([1.5])).toThrow(ValidationError);
    expect(() => portsToRanges([-1])).toThrow(ValidationError);
  });
});

describe('allocatePorts', () => {
  const pool = [r(31000, 31004), r(31010, 31010)];
  it('takes the lowest free ports', () => {
    expect(allocatePorts(pool, 3)).toEqual({ ports: [31000, 31001, 31002], remaining: [r(31003, 31004), r(31010, 31010)] });
  });
  it('gives nothing for a count of zero', () => {
    expect(allocatePorts(pool, 0)).toEqual({ ports: [], remaining: pool });
  });
  it('takes requested ports first, then fills up with the lowest', () => {
    expect(allocatePorts(pool, 3, [31010, 31001])).toEqual({
      ports: [31010, 31001, 31000],
      remaining: [r(31002, 31004)],
    });
  });
  it('fails when a requested port is taken, repeated, or the pool is too small', () => {
    expect(allocatePorts(pool, 1, [31005])).toBeUndefined();
    expect(allocatePorts(pool, 2, [31001, 31001])).toBeUndefined();
    expect(allocatePorts(pool, 7)).toBeUndefined();
    expect(allocatePorts([], 1)).toBeUndefined();
  });
  it('rejects a bad call', () => {
    expect(() => allocatePorts(pool, -1)).toThrow(ValidationError);
    expect(() => allocatePorts(pool, 1.5)).toThrow(ValidationError);
    expect(() => allocatePorts(pool, 1, [31000, 31001])).toThrow(ValidationError);
  });
});

describe('range laws (brute force over 0..48)', () => {
  const runs = { numRuns: 300 };
  it('addRanges is the union', () => {
    fc.assert(
      fc.property(rangesArb, rangesArb, (a, b) => {
        const got = addRanges(a, b);
        expect(isNormalizedRanges(got)).toBe(true);
        expect(sorted(expand(got))).toEqual(sorted(new Set([...expand(a), ...expand(b)])));
      }),
      runs,
    );
  });
  it('subtractRanges is the difference', () => {
    fc.assert(
      fc.property(rangesArb, rangesArb, (a, b) => {
        const got = subtractRanges(a, b);
        const cut = expand(b);
        expect(isNormalizedRanges(got)).toBe(true);
        expect(sorted(expand(got))).toEqual(sorted(expand(a)).filter((n) => !cut.has(n)));
      }),
      runs,
    );
  });
  it('count, contain and cover agree with the sets', () => {
    fc.assert(
      fc.property(rangesArb, rangesArb, fc.integer({ min: 0, max: RANGE_DOMAIN }), (a, b, n) => {
        const sa = expand(a);
        expect(rangesCount(a)).toBe(sa.size);
        expect(rangesContain(a, n)).toBe(sa.has(n));
        expect(rangesCover(a, b)).toBe([...expand(b)].every((x) => sa.has(x)));
        expect(portsToRanges([...sa])).toEqual(normalizeRanges(a));
      }),
      runs,
    );
  });
  it('allocatePorts takes distinct free ports and leaves exactly the rest', () => {
    fc.assert(
      fc.property(
        rangesArb,
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.integer({ min: 0, max: RANGE_DOMAIN }), { maxLength: 3 }),
        (available, extra, requested) => {
          const free = expand(available);
          const got = allocatePorts(available, requested.length + extra, requested);
          const fits = new Set(requested).size === requested.length && requested.every((p) => free.has(p)) && free.size >= requested.length + extra;
          expect(got !== undefined).toBe(fits);
          if (got === undefined) return;
          expect(got.ports.length).toBe(requested.length + extra);
          expect(new Set(got.ports).size).toBe(got.ports.length);
          expect(got.ports.slice(0, requested.length)).toEqual(requested);
          for (const p of got.ports) expect(free.has(p)).toBe(true);
          expect(isNormalizedRanges(got.remaining)).toBe(true);
          const left = expand(got.remaining);
          for (const p of got.ports) expect(left.has(p)).toBe(false);
          expect(sorted(new Set([...left, ...got.ports]))).toEqual(sorted(free));
          // The ports not requested are the lowest free ones.
          const rest = sorted(free).filter((p) => !requested.includes(p)).slice(0, extra);
          expect(got.ports.slice(requested.length)).toEqual(rest);
        },
      ),
      runs,
    );
  });
});
