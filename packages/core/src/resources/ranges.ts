/**
 * Inclusive integer ranges as sets of numbers, and port allocation on top of them.
 *
 * Every function accepts ranges in any order, overlapping or not, and returns fresh ranges that
 * are sorted, disjoint and merged where adjacent (`[1-3]` + `[4-6]` = `[1-6]`). Inputs are never
 * modified.
 *
 * @example
 * ```ts
 * const free = [{ begin: 31000, end: 31009 }];
 * const got = allocatePorts(free, 2, [31005]);
 * // got = { ports: [31005, 31000], remaining: [{ begin: 31001, end: 31004 }, { begin: 31006, end: 31009 }] }
 * rangesCount(got!.remaining);   // 8
 * ```
 * @module
 */

import { ValidationError } from '../errors.js';
import type { ValueRange } from '../protocol/resources.js';

/** Whether ranges are already sorted, valid, disjoint and non-adjacent. */
export function isNormalizedRanges(ranges: readonly ValueRange[]): boolean {
  let previousEnd = -2;
  for (const r of ranges) {
    if (r.begin > r.end || r.begin <= previousEnd + 1) return false;
    previousEnd = r.end;
  }
  return true;
}

/** Sorts and merges ranges into a fresh list; ranges with `begin > end` are empty and dropped. */
export function normalizeRanges(ranges: readonly ValueRange[]): ValueRange[] {
  const sorted: ValueRange[] = [];
  for (const r of ranges) if (r.begin <= r.end) sorted.push(r);
  sorted.sort((x, y) => x.begin - y.begin);
  const out: ValueRange[] = [];
  let current: ValueRange | undefined;
  for (const r of sorted) {
    if (current !== undefined && r.begin <= current.end + 1) {
      if (r.end > current.end) current.end = r.end;
    } else {
      current = { begin: r.begin, end: r.end };
      out.push(current);
    }
  }
  return out;
}

/** The ranges themselves when normalized (no copy), else a normalized copy. */
function normalizedRanges(ranges: readonly ValueRange[]): readonly ValueRange[] {
  return isNormalizedRanges(ranges) ? ranges : normalizeRanges(ranges);
}

/** How many distinct numbers the ranges hold (overlaps counted once). */
export function rangesCount(ranges: readonly ValueRange[]): number {
  let count = 0;
  for (const r of normalizedRanges(ranges)) count += r.end - r.begin + 1;
  return count;
}

/** Whether `value` lies in one of the ranges. */
export function rangesContain(ranges: readonly ValueRange[], value: number): boolean {
  for (const r of ranges) if (r.begin <= value && value <= r.end) return true;
  return false;
}

/** Whether every number of `inner` lies in `outer`. */
export function rangesCover(outer: readonly ValueRange[], inner: readonly ValueRange[]): boolean {
  const o = normalizedRanges(outer);
  const n = normalizedRanges(inner);
  let i = 0;
  for (const r of n) {
    // `o` is merged, so a range of `inner` must sit inside a single range of `outer`.
    while (i < o.length && o[i]!.end < r.begin) i++;
    const candidate = o[i];
    if (candidate === undefined || candidate.begin > r.begin || candidate.end < r.end) return false;
  }
  return true;
}

/** The union of two lists of ranges. */
export function addRanges(a: readonly ValueRange[], b: readonly ValueRange[]): ValueRange[] {
  return normalizeRanges(a.concat(b));
}

/** The numbers of `a` that are not in `b` (a set difference: `b` need not lie inside `a`). */
export function subtractRanges(a: readonly ValueRange[], b: readonly ValueRange[]): ValueRange[] {
  const from = normalizedRanges(a);
  const cut = normalizedRanges(b);
  const out: ValueRange[] = [];
  let j = 0;
  for (const r of from) {
    let begin = r.begin;
    while (j < cut.length && cut[j]!.end < begin) j++;
    for (let k = j; k < cut.length && begin <= r.end; k++) {
      const c = cut[k]!;
      if (c.begin > r.end) break;
      if (c.begin > begin) out.push({ begin, end: c.begin - 1 });
      if (c.end + 1 > begin) begin = c.end + 1;
    }
    if (begin <= r.end) out.push({ begin, end: r.end });
  }
  return out;
}

function assertPort(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`${field} must be a non-negative integer, got ${value}`, { details: { field } });
  }
}

/** The ranges that hold exactly the given numbers (duplicates allowed, any order). */
export function portsToRanges(ports: readonly number[]): ValueRange[] {
  for (const p of ports) assertPort(p, 'ports');
  const sorted = ports.slice().sort((x, y) => x - y);
  const out: ValueRange[] = [];
  let current: ValueRange | undefined;
  for (const p of sorted) {
    if (current !== undefined && p <= current.end + 1) {
      if (p > current.end) current.end = p;
    } else {
      current = { begin: p, end: p };
      out.push(current);
    }
  }
  return out;
}

/** Ports taken from a pool, and what is left of the pool. */
export interface PortAllocation {
  /** The ports taken: the requested ones in the order given, then the lowest free ones. */
  ports: number[];
  /** The pool without the ports taken, normalized. */
  remaining: ValueRange[];
}

/**
 * Takes `count` ports from `available`: every port of `requested` (which all must be free and
 * distinct), then the lowest free ports for the rest. Returns `undefined` when that cannot be
 * done; throws a {@link ValidationError} when the call itself is wrong (a negative or
 * fractional count, or more requested ports than `count`).
 */
export function allocatePorts(
  available: readonly ValueRange[],
  count: number,
  requested: readonly number[] = [],
): PortAllocation | undefined {
  assertPort(count, 'count');
  if (requested.length > count) {
    throw new ValidationError(`${requested.length} requested ports do not fit in a count of ${count}`, {
      details: { field: 'requested' },
    });
  }
  let pool = normalizedRanges(available);
  for (let i = 0; i < requested.length; i++) {
    const port = requested[i]!;
    if (!rangesContain(pool, port) || requested.indexOf(port) !== i) return undefined;
  }
  if (requested.length > 0) pool = subtractRanges(pool, portsToRanges(requested));

  const ports = requested.slice();
  const remaining: ValueRange[] = [];
  let need = count - requested.length;
  for (const r of pool) {
    let begin = r.begin;
    while (need > 0 && begin <= r.end) {
      ports.push(begin++);
      need--;
    }
    if (begin <= r.end) remaining.push({ begin, end: r.end });
  }
  return need > 0 ? undefined : { ports, remaining };
}
