/**
 * The allocator's bookkeeping of amounts: resource names interned to small indices, and amounts
 * kept in arrays of integer milli-units indexed by name (scalars × 1000, and the number of
 * elements of ranges and sets × 1000), so that running totals add and subtract exactly and a
 * dominant share is a short loop. Also the two list operations the allocator needs beyond the
 * core algebra: trimming an offer down to caps, and taking back what a holder has.
 *
 * @example
 * ```ts
 * const names = new ResourceNames(new Set(['gpus']));
 * const q: number[] = [];
 * addQuantities(names, parseResources('cpus:2;mem:1024'), q);
 * toRecord(names, q); // { cpus: 2, mem: 1024 }
 * ```
 * @module
 */

import { normalize, rangesCount, type Resource, subtract, subtractRanges, trySubtract, UNRESERVED_ROLE, type ValueRange } from '@stoa/core';

/** Milli-units per unit. */
export const MILLI = 1000;

/** Natural units to milli-units, as the core algebra rounds them. */
export function toMilli(value: number): number {
  return Math.round(value * MILLI);
}

/** Resource names interned to dense indices, with whether each counts in DRF shares. */
export class ResourceNames {
  /** The names by index. */
  readonly names: string[] = [];
  /** Per index: whether the name counts in dominant shares (scalar and not excluded). */
  readonly inShare: boolean[] = [];
  /** Per index: whether the name is a scalar resource. */
  readonly scalar: boolean[] = [];
  private readonly index = new Map<string, number>();

  /** @param excluded Names left out of shares (scarce resources such as `gpus`). */
  constructor(private readonly excluded: ReadonlySet<string>) {}

  /** The number of names interned. */
  get count(): number {
    return this.names.length;
  }

  /** The index of `name`, interning it; `scalar` says whether it is a scalar resource. */
  intern(name: string, scalar = true): number {
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.names.length;
      this.index.set(name, i);
      this.names.push(name);
      this.inShare.push(scalar && !this.excluded.has(name));
      this.scalar.push(scalar);
    } else if (!scalar) {
      // A name seen once as ranges or a set (ports) never counts in shares.
      this.inShare[i] = false;
      this.scalar[i] = false;
    }
    return i;
  }

  /** The index of `name`, or −1 when it was never seen. */
  find(name: string): number {
    return this.index.get(name) ?? -1;
  }
}

/** The amount of one resource entry in milli-units. */
export function amountMilli(r: Resource): number {
  switch (r.type) {
    case 'SCALAR':
      return r.scalar === undefined || !(r.scalar > 0) ? 0 : toMilli(r.scalar);
    case 'RANGES':
      return r.ranges === undefined ? 0 : rangesCount(r.ranges) * MILLI;
    case 'SET':
      return (r.set?.length ?? 0) * MILLI;
  }
}

/**
 * Adds (or with `sign` −1 subtracts) the amounts of `rs` into `out`, and the unreserved part
 * into `unreservedOut` when given. Arrays grow as needed.
 */
export function addQuantities(names: ResourceNames, rs: readonly Resource[], out: number[], unreservedOut?: number[], sign = 1): void {
  for (let k = 0; k < rs.length; k++) {
    const r = rs[k]!;
    const i = names.intern(r.name, r.type === 'SCALAR');
    const m = amountMilli(r) * sign;
    out[i] = (out[i] ?? 0) + m;
    if (unreservedOut !== undefined && (r.role ?? UNRESERVED_ROLE) === UNRESERVED_ROLE) unreservedOut[i] = (unreservedOut[i] ?? 0) + m;
  }
}

/** Adds `b` (times `sign`) into `a`, element by element. */
export function addInto(a: number[], b: readonly number[], sign = 1): void {
  for (let i = 0; i < b.length; i++) {
    const v = b[i];
    if (v !== undefined && v !== 0) a[i] = (a[i] ?? 0) + v * sign;
  }
}

/** Sets every element to zero, keeping the length. */
export function zero(a: number[]): void {
  a.fill(0);
}

/** Whether any element is positive. */
export function anyPositive(a: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] ?? 0) > 0) return true;
  return false;
}

/** The dominant share of `alloc` in `total`: the largest `alloc/total` over names that count. */
export function dominantShare(names: ResourceNames, alloc: readonly number[], total: readonly number[]): number {
  let share = 0;
  const inShare = names.inShare;
  const n = alloc.length;
  for (let i = 0; i < n; i++) {
    const a = alloc[i];
    if (a === undefined || a <= 0 || !inShare[i]) continue;
    const t = total[i];
    if (t === undefined || t <= 0) continue;
    const s = a / t;
    if (s > share) share = s;
  }
  return share;
}

/** Amounts as a record in natural units, zeros left out. */
export function toRecord(names: ResourceNames, q: readonly number[]): Record<string, number> {
  const out: [string, number][] = [];
  for (let i = 0; i < q.length; i++) {
    const v = q[i] ?? 0;
    if (v !== 0) out.push([names.names[i]!, v / MILLI]);
  }
  // fromEntries defines own properties, so a resource named `__proto__` cannot do harm.
  return Object.fromEntries(out);
}

/** A record in natural units as a milli array (names interned as scalars). */
export function fromRecord(names: ResourceNames, record: Readonly<Record<string, number>>): number[] {
  const out: number[] = [];
  for (const [name, value] of Object.entries(record)) out[names.intern(name)] = toMilli(value);
  return out;
}

function takeRanges(ranges: readonly ValueRange[], count: number): ValueRange[] {
  const out: ValueRange[] = [];
  let left = count;
  for (const r of ranges) {
    if (left <= 0) break;
    const n = r.end - r.begin + 1;
    if (n <= left) {
      out.push(r);
      left -= n;
    } else {
      out.push({ begin: r.begin, end: r.begin + left - 1 });
      left = 0;
    }
  }
  return out;
}

/** The entry cut down to `milli` of its amount (whole elements for ranges and sets). */
function cut(r: Resource, milli: number): Resource | undefined {
  switch (r.type) {
    case 'SCALAR':
      return milli > 0 ? { ...r, scalar: milli / MILLI } : undefined;
    case 'RANGES': {
      const n = Math.floor(milli / MILLI);
      return n > 0 ? { ...r, ranges: takeRanges(r.ranges ?? [], n) } : undefined;
    }
    case 'SET': {
      const n = Math.floor(milli / MILLI);
      return n > 0 ? { ...r, set: (r.set ?? []).slice(0, n) } : undefined;
    }
  }
}

/**
 * `rs` (normalized) cut down so that, name by name, the whole amount stays within `capTotal` and
 * the unreserved amount within `capUnreserved` (milli arrays; a missing element is no cap).
 * Unreserved entries give way first under `capTotal`, so reservations survive a limit longest.
 * Returns `rs` itself when nothing had to go; the result stays normalized.
 */
export function trimResources(
  names: ResourceNames,
  rs: readonly Resource[],
  capTotal: readonly (number | undefined)[] | undefined,
  capUnreserved: readonly (number | undefined)[] | undefined,
): readonly Resource[] {
  const left: (number | undefined)[] = capTotal === undefined ? [] : capTotal.slice();
  const kept: (Resource | undefined)[] = rs.slice();
  let changed = false;
  // Two passes: reserved entries take their share of a total cap first, then unreserved ones.
  for (let pass = 0; pass < 2; pass++) {
    for (let k = 0; k < rs.length; k++) {
      const r = rs[k]!;
      const isUnreserved = (r.role ?? UNRESERVED_ROLE) === UNRESERVED_ROLE;
      if (isUnreserved !== (pass === 1)) continue;
      const i = names.intern(r.name, r.type === 'SCALAR');
      let cap = left[i];
      if (isUnreserved) {
        const u = capUnreserved?.[i];
        if (u !== undefined && (cap === undefined || u < cap)) cap = u;
      }
      if (cap === undefined) continue;
      const amount = amountMilli(r);
      if (amount <= cap) {
        if (left[i] !== undefined) left[i] = left[i]! - amount;
        continue;
      }
      const part = cut(r, cap);
      kept[k] = part;
      changed = true;
      if (left[i] !== undefined) left[i] = left[i]! - (part === undefined ? 0 : amountMilli(part));
    }
  }
  if (!changed) return rs;
  const out: Resource[] = [];
  for (const r of kept) if (r !== undefined) out.push(r);
  return out;
}

function sameKind(a: Resource, b: Resource): boolean {
  return (
    a.name === b.name &&
    a.type === b.type &&
    (a.role ?? UNRESERVED_ROLE) === (b.role ?? UNRESERVED_ROLE) &&
    JSON.stringify(a.reservation ?? null) === JSON.stringify(b.reservation ?? null) &&
    JSON.stringify(a.disk ?? null) === JSON.stringify(b.disk ?? null)
  );
}

/** The part of `want` that `have` holds (both single entries of the same kind). */
function overlap(have: Resource, want: Resource): Resource | undefined {
  switch (want.type) {
    case 'SCALAR': {
      const m = Math.min(amountMilli(have), amountMilli(want));
      return m > 0 ? { ...want, scalar: m / MILLI } : undefined;
    }
    case 'RANGES': {
      const h = have.ranges ?? [];
      const both = subtractRanges(h, subtractRanges(h, want.ranges ?? []));
      return both.length > 0 ? { ...want, ranges: both } : undefined;
    }
    case 'SET': {
      const h = new Set(have.set ?? []);
      const both = (want.set ?? []).filter((x) => h.has(x));
      return both.length > 0 ? { ...want, set: both } : undefined;
    }
  }
}

/**
 * Takes `want` out of `have` as far as `have` holds it: `taken` is what was there (all of `want`
 * in the usual case), `rest` what remains of `have`. Both normalized.
 */
export function takeFrom(have: readonly Resource[], want: readonly Resource[]): { taken: Resource[]; rest: Resource[] } {
  const whole = trySubtract(have, want);
  if (whole !== undefined) return { taken: normalize(want), rest: whole };
  let rest: readonly Resource[] = have;
  const taken: Resource[] = [];
  for (const e of normalize(want)) {
    const r = trySubtract(rest, [e]);
    if (r !== undefined) {
      rest = r;
      taken.push(e);
      continue;
    }
    const h = rest.find((x) => sameKind(x, e));
    const part = h === undefined ? undefined : overlap(h, e);
    if (part === undefined) continue;
    rest = subtract(rest, [part]);
    taken.push(part);
  }
  return { taken: normalize(taken), rest: normalize(rest) };
}
