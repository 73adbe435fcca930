/**
 * fast-check arbitraries of resources for the algebra's property tests: small domains, several
 * roles and reservations, and inputs in un-normalized form (overlapping ranges, repeated set
 * items, implicit roles, unrounded scalars).
 *
 * @example
 * ```ts
 * fc.assert(fc.property(resourcesArb(), (rs) => isNormalized(normalize(rs))));
 * ```
 * @module
 */

import fc from 'fast-check';
import type { DiskInfo, ReservationInfo, Resource, ResourceType, ValueRange } from '../protocol/resources.js';

/** The names the arbitraries use, with their kinds. */
export const KINDS: Readonly<Record<string, ResourceType>> = {
  cpus: 'SCALAR',
  mem: 'SCALAR',
  disk: 'SCALAR',
  gpus: 'SCALAR',
  ports: 'RANGES',
  zones: 'SET',
};

/** The largest number the range arbitraries produce, so brute-force checks stay small. */
export const RANGE_DOMAIN = 48;

/** Roles, including the unreserved `*` and a nested role. */
export const roleArb = fc.constantFrom('*', 'ops', 'web', 'eng', 'eng/web');

/** Ranges over `0..RANGE_DOMAIN`, unsorted and overlapping. */
export const rangesArb: fc.Arbitrary<ValueRange[]> = fc.array(
  fc.tuple(fc.integer({ min: 0, max: RANGE_DOMAIN - 6 }), fc.integer({ min: 0, max: 6 })).map(([begin, length]) => ({
    begin,
    end: begin + length,
  })),
  { maxLength: 5 },
);

/** Scalars: mostly exact milli-units, sometimes unrounded, sometimes zero. */
export const scalarArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64_000 }).map((m) => m / 1000) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 64, noNaN: true }) },
  { weight: 1, arbitrary: fc.constant(0) },
);

const setArb = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 4 });

const reservationArb: fc.Arbitrary<ReservationInfo | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant<ReservationInfo>({ type: 'STATIC' }),
  fc.constantFrom<ReservationInfo>({ type: 'DYNAMIC', principal: 'alice' }, { type: 'DYNAMIC', principal: 'bob' }),
  fc.constantFrom<ReservationInfo>(
    { type: 'DYNAMIC', principal: 'alice', labels: { team: 'a' } },
    { type: 'DYNAMIC', principal: 'alice', labels: { tier: '1', team: 'b' } },
  ),
);

const diskArb: fc.Arbitrary<DiskInfo | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.record<DiskInfo>({
      persistence: fc.record({ id: fc.constantFrom('v1', 'v2') }),
      volume: fc.constant({ containerPath: '/data', mode: 'RW' as const }),
    }),
  },
);

/**
 * One resource. With `text`, only what the text form can show: roles with STATIC reservations
 * and no disk info.
 */
export function resourceArb(options: { text?: boolean } = {}): fc.Arbitrary<Resource> {
  return fc
    .record({
      name: fc.constantFrom(...Object.keys(KINDS)),
      role: roleArb,
      implicitRole: fc.boolean(),
      reservation: options.text ? fc.constantFrom<ReservationInfo | undefined>(undefined, { type: 'STATIC' }) : reservationArb,
      disk: options.text ? fc.constant(undefined) : diskArb,
      scalar: scalarArb,
      ranges: rangesArb,
      set: setArb,
    })
    .map((g) => {
      const type = KINDS[g.name]!;
      const r: Resource = { name: g.name, type };
      if (type === 'SCALAR') r.scalar = g.scalar;
      else if (type === 'RANGES') r.ranges = g.ranges;
      else r.set = g.set;
      if (g.role !== '*' || !g.implicitRole) r.role = g.role;
      if (g.role !== '*' && g.reservation !== undefined) r.reservation = g.reservation;
      if (g.name === 'disk' && g.disk !== undefined) r.disk = g.disk;
      return r;
    });
}

/** A list of resources in any form. */
export function resourcesArb(options: { text?: boolean } = {}): fc.Arbitrary<Resource[]> {
  return fc.array(resourceArb(options), { maxLength: 8 });
}

/** The numbers the ranges hold, for brute-force comparison. */
export function expand(ranges: readonly ValueRange[]): Set<number> {
  const out = new Set<number>();
  for (const r of ranges) for (let n = r.begin; n <= r.end; n++) out.add(n);
  return out;
}
