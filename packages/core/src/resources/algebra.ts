/**
 * The resource algebra: adding, subtracting and comparing lists of resources, the way the
 * master's allocator and the agents' bookkeeping need it.
 *
 * Resources combine when their identity matches (name, type, role, reservation, disk info):
 * scalars add, ranges and sets unite. Scalars are kept in milli-units (three decimals, as Mesos
 * does) so that `a + b − b` is exactly `a`. (Ranges and sets unite, so for them that law needs
 * `a` and `b` apart, as the ports of two tasks are.) Every result is normalized: one entry per identity,
 * no zero or empty entries, ranges sorted and merged, sets sorted, an explicit `role`, entries
 * ordered by name, then role. Inputs may be in any form and are never modified; results may share
 * entry objects with an input that was already normalized, so treat them as immutable.
 *
 * The functions are allocation-light on normalized input, which is what they return: the
 * allocator calls them for every agent on every cycle.
 *
 * @example
 * ```ts
 * const total = parseResources('cpus:4;mem:1024;ports:[31000-32000]');
 * const used = parseResources('cpus:1.5;mem:256;ports:[31000-31000]');
 * const free = subtract(total, used);     // cpus:2.5;mem:768;ports:[31001-32000]
 * contains(free, used);                   // true
 * quantities(free);                       // { cpus: 2.5, mem: 768, ports: 1000 }
 * ```
 * @module
 */

import { InvalidOperationError, ValidationError } from '../errors.js';
import type { ReservationInfo, Resource, ValueRange } from '../protocol/resources.js';
import { UNRESERVED_ROLE } from '../protocol/resources.js';
import {
  compareIdentity,
  copyDisk,
  copyReservation,
  isCanonicalExtras,
  reservationOf,
  roleOf,
  sameIdentity,
} from './identity.js';
import { isNormalizedRanges, normalizeRanges, rangesCount, rangesCover, subtractRanges } from './ranges.js';

/** Scalars are exact to this many units per 1 (three decimals). */
const MILLI = 1000;

function toMilli(value: number | undefined): number {
  return value === undefined || !(value > 0) ? 0 : Math.round(value * MILLI);
}

/** One identity being accumulated: scalars in milli-units, ranges and set items unsorted. */
interface Slot {
  readonly identity: Resource;
  milli: number;
  ranges: ValueRange[];
  set: string[];
}

function newSlot(r: Resource): Slot {
  const role = roleOf(r);
  const identity: Resource = { name: r.name, type: r.type, role };
  const reservation = reservationOf(r);
  if (reservation !== undefined) identity.reservation = copyReservation(reservation);
  const disk = copyDisk(r.disk);
  if (disk !== undefined) identity.disk = disk;
  return { identity, milli: 0, ranges: [], set: [] };
}

function hasQuantity(r: Resource): boolean {
  switch (r.type) {
    case 'SCALAR':
      return toMilli(r.scalar) > 0;
    case 'RANGES':
      return r.ranges?.some((x) => x.begin <= x.end) === true;
    case 'SET':
      return r.set !== undefined && r.set.length > 0;
  }
}

function collect(slots: Slot[], rs: readonly Resource[]): void {
  for (const r of rs) {
    if (!hasQuantity(r)) continue;
    let slot = slots.find((s) => sameIdentity(s.identity, r));
    if (slot === undefined) {
      slot = newSlot(r);
      slots.push(slot);
    }
    if (r.type === 'SCALAR') slot.milli += toMilli(r.scalar);
    else if (r.type === 'RANGES') for (const x of r.ranges!) slot.ranges.push(x);
    else for (const x of r.set!) slot.set.push(x);
  }
}

function sortedUnique(items: string[]): string[] {
  items.sort();
  let n = 0;
  for (let i = 0; i < items.length; i++) if (i === 0 || items[i] !== items[n - 1]) items[n++] = items[i]!;
  items.length = n;
  return items;
}

/** Turns slots into normalized resources: values finished, empties dropped, canonical order. */
function finish(slots: readonly Slot[]): Resource[] {
  const out: Resource[] = [];
  for (const slot of slots) {
    const r = slot.identity;
    if (r.type === 'SCALAR') {
      if (slot.milli <= 0) continue;
      r.scalar = slot.milli / MILLI;
    } else if (r.type === 'RANGES') {
      const ranges = normalizeRanges(slot.ranges);
      if (ranges.length === 0) continue;
      r.ranges = ranges;
    } else {
      if (slot.set.length === 0) continue;
      r.set = sortedUnique(slot.set);
    }
    out.push(r);
  }
  return out.sort(compareIdentity);
}

function isNormalizedEntry(r: Resource): boolean {
  if (r.role === undefined || !isCanonicalExtras(r)) return false;
  switch (r.type) {
    case 'SCALAR': {
      const s = r.scalar;
      return s !== undefined && s > 0 && Math.round(s * MILLI) / MILLI === s && r.ranges === undefined && r.set === undefined;
    }
    case 'RANGES':
      return r.ranges !== undefined && r.ranges.length > 0 && isNormalizedRanges(r.ranges) && r.scalar === undefined && r.set === undefined;
    case 'SET': {
      const set = r.set;
      if (set === undefined || set.length === 0 || r.scalar !== undefined || r.ranges !== undefined) return false;
      for (let i = 1; i < set.length; i++) if (!(set[i - 1]! < set[i]!)) return false;
      return true;
    }
  }
}

/** Whether `rs` is already in the form {@link normalize} gives (checked in one pass, no copies). */
export function isNormalized(rs: readonly Resource[]): boolean {
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i]!;
    if (!isNormalizedEntry(r)) return false;
    if (i > 0 && compareIdentity(rs[i - 1]!, r) >= 0) return false;
  }
  return true;
}

/** `rs` itself when normalized, else a normalized copy. */
function normalized(rs: readonly Resource[]): readonly Resource[] {
  return isNormalized(rs) ? rs : normalize(rs);
}

/**
 * The canonical form of a list of resources: one entry per identity, zero scalars and empty
 * ranges or sets dropped, scalars rounded to milli-units, ranges sorted and merged, sets sorted,
 * `role` explicit, ordered by name then role. Always returns fresh objects.
 */
export function normalize(rs: readonly Resource[]): Resource[] {
  const slots: Slot[] = [];
  collect(slots, rs);
  return finish(slots);
}

/** The sum of two lists of resources. */
export function add(a: readonly Resource[], b: readonly Resource[]): Resource[] {
  const slots: Slot[] = [];
  collect(slots, a);
  collect(slots, b);
  return finish(slots);
}

/** What `b` asks for that `a` lacks: the identity of the first entry not covered, or undefined. */
function shortfall(slots: Slot[], b: readonly Resource[]): Resource | undefined {
  for (const r of normalized(b)) {
    const slot = slots.find((s) => sameIdentity(s.identity, r));
    if (slot === undefined) return r;
    if (r.type === 'SCALAR') {
      const milli = toMilli(r.scalar);
      if (milli > slot.milli) return r;
      slot.milli -= milli;
    } else if (r.type === 'RANGES') {
      if (!rangesCover(slot.ranges, r.ranges!)) return r;
      slot.ranges = subtractRanges(slot.ranges, r.ranges!);
    } else {
      for (const item of r.set!) {
        const at = slot.set.indexOf(item);
        if (at < 0) return r;
        slot.set.splice(at, 1);
      }
    }
  }
  return undefined;
}

function sortedSlots(a: readonly Resource[]): Slot[] {
  const slots: Slot[] = [];
  collect(slots, a);
  for (const slot of slots) {
    if (slot.identity.type === 'RANGES') slot.ranges = normalizeRanges(slot.ranges);
    else if (slot.identity.type === 'SET') slot.set = sortedUnique(slot.set);
  }
  return slots;
}

/** `a − b`, or `undefined` when `a` does not contain `b`. */
export function trySubtract(a: readonly Resource[], b: readonly Resource[]): Resource[] | undefined {
  const slots = sortedSlots(a);
  return shortfall(slots, b) === undefined ? finish(slots) : undefined;
}

/**
 * `a − b`. Throws an {@link InvalidOperationError} when `a` does not contain `b` (so it never
 * yields a negative quantity); `details` names the first resource short.
 */
export function subtract(a: readonly Resource[], b: readonly Resource[]): Resource[] {
  const slots = sortedSlots(a);
  const short = shortfall(slots, b);
  if (short !== undefined) {
    const role = roleOf(short);
    throw new InvalidOperationError(`cannot subtract resources not held: not enough '${short.name}' for role '${role}'`, {
      details: { field: short.name, name: short.name, role, resource: short },
    });
  }
  return finish(slots);
}

function covers(have: Resource, want: Resource): boolean {
  switch (want.type) {
    case 'SCALAR':
      return have.scalar! >= want.scalar!;
    case 'RANGES':
      return rangesCover(have.ranges!, want.ranges!);
    case 'SET': {
      // Both sorted: one merge pass.
      const h = have.set!;
      let i = 0;
      for (const item of want.set!) {
        while (i < h.length && h[i]! < item) i++;
        if (h[i] !== item) return false;
      }
      return true;
    }
  }
}

/** Whether `a` holds at least everything in `b`, identity by identity. */
export function contains(a: readonly Resource[], b: readonly Resource[]): boolean {
  const have = normalized(a);
  for (const want of normalized(b)) {
    const match = have.find((h) => sameIdentity(h, want));
    if (match === undefined || !covers(match, want)) return false;
  }
  return true;
}

/** Whether the resources amount to nothing (no entry with a positive quantity). */
export function isEmpty(rs: readonly Resource[]): boolean {
  return !rs.some(hasQuantity);
}

function sameValue(a: Resource, b: Resource): boolean {
  switch (a.type) {
    case 'SCALAR':
      return a.scalar === b.scalar;
    case 'RANGES': {
      const x = a.ranges!;
      const y = b.ranges!;
      return x.length === y.length && x.every((r, i) => r.begin === y[i]!.begin && r.end === y[i]!.end);
    }
    case 'SET': {
      const x = a.set!;
      const y = b.set!;
      return x.length === y.length && x.every((s, i) => s === y[i]);
    }
  }
}

/** Whether two lists hold the same resources, whatever their form. */
export function equals(a: readonly Resource[], b: readonly Resource[]): boolean {
  const x = normalized(a);
  const y = normalized(b);
  return x.length === y.length && x.every((r, i) => sameIdentity(r, y[i]!) && sameValue(r, y[i]!));
}

/** The total of the scalar resource `name` over all roles and reservations (0 if none). */
export function scalar(rs: readonly Resource[], name: string): number {
  let milli = 0;
  for (const r of rs) if (r.name === name && r.type === 'SCALAR') milli += toMilli(r.scalar);
  return milli / MILLI;
}

/**
 * The amount of each resource by name over all roles: scalar totals, and the number of
 * elements of ranges and sets (ports count). What DRF computes shares from.
 */
export function quantities(rs: readonly Resource[]): Record<string, number> {
  const milli = new Map<string, number>();
  for (const r of normalized(rs)) {
    const amount = r.type === 'SCALAR' ? toMilli(r.scalar) : (r.type === 'RANGES' ? rangesCount(r.ranges!) : r.set!.length) * MILLI;
    milli.set(r.name, (milli.get(r.name) ?? 0) + amount);
  }
  // fromEntries defines own properties, so a resource named `__proto__` cannot do harm.
  return Object.fromEntries(Array.from(milli, ([name, m]) => [name, m / MILLI]));
}

/** The unreserved (`'*'`) part. */
export function unreserved(rs: readonly Resource[]): Resource[] {
  return normalized(rs).filter((r) => r.role === UNRESERVED_ROLE);
}

/** The part reserved for exactly `role` (statically or dynamically); empty for `'*'`. */
export function reservedFor(rs: readonly Resource[], role: string): Resource[] {
  if (role === UNRESERVED_ROLE) return [];
  return normalized(rs).filter((r) => r.role === role);
}

/**
 * The part a framework in `role` may be offered: unreserved resources, and those reserved for
 * `role` or for a parent of it in the role hierarchy (`eng` serves `eng/web`).
 */
export function allocatableTo(rs: readonly Resource[], role: string): Resource[] {
  return normalized(rs).filter((r) => {
    const own = r.role!;
    return own === UNRESERVED_ROLE || own === role || (role.length > own.length && role.startsWith(own) && role[own.length] === '/');
  });
}

/**
 * The RESERVE operation's effect on its resources: the same quantities, reserved for `role`.
 * Throws an {@link InvalidOperationError} if any of them is already reserved.
 */
export function reserve(
  rs: readonly Resource[],
  role: string,
  reservation: ReservationInfo = { type: 'DYNAMIC' },
): Resource[] {
  if (role === UNRESERVED_ROLE || role.length === 0) {
    throw new ValidationError(`cannot reserve for role '${role}'`, { details: { field: 'role' } });
  }
  const moved = normalized(rs).map((r) => {
    if (r.role !== UNRESERVED_ROLE) {
      throw new InvalidOperationError(`'${r.name}' is already reserved for role '${r.role}'`, {
        details: { field: r.name, name: r.name, role: r.role },
      });
    }
    return { ...r, role, reservation };
  });
  return normalize(moved);
}

/**
 * The UNRESERVE operation's effect on its resources: the same quantities, unreserved. Throws an
 * {@link InvalidOperationError} unless every one is dynamically reserved and holds no persistent
 * volume (static reservations belong to the agent's configuration; volumes must be destroyed
 * first).
 */
export function unreserve(rs: readonly Resource[]): Resource[] {
  const moved = normalized(rs).map((r) => {
    if (r.reservation?.type !== 'DYNAMIC' || r.disk?.persistence !== undefined) {
      const why = r.disk?.persistence !== undefined ? 'holds a persistent volume' : 'is not dynamically reserved';
      throw new InvalidOperationError(`cannot unreserve '${r.name}' of role '${r.role}': it ${why}`, {
        details: { field: r.name, name: r.name, role: r.role },
      });
    }
    return unreservedCopy(r);
  });
  return normalize(moved);
}

function unreservedCopy(r: Resource): Resource {
  const { reservation: _, ...rest } = r;
  return { ...rest, role: UNRESERVED_ROLE };
}

/** The same quantities with every reservation dropped (all `'*'`); disk info is kept. */
export function stripReservations(rs: readonly Resource[]): Resource[] {
  return normalize(normalized(rs).map(unreservedCopy));
}
