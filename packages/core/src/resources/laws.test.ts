import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOperationError } from '../errors.js';
import type { Resource } from '../protocol/resources.js';
import {
  add,
  allocatableTo,
  contains,
  equals,
  isEmpty,
  isNormalized,
  normalize,
  quantities,
  reserve,
  reservedFor,
  scalar,
  stripReservations,
  subtract,
  trySubtract,
  unreserve,
  unreserved,
} from './algebra.js';
import { KINDS, resourcesArb } from './arbitraries.js';
import { formatResources, parseResources } from './text.js';

const runs = { numRuns: 300 };
const rs = resourcesArb();
const SCALARS = Object.keys(KINDS).filter((name) => KINDS[name] === 'SCALAR');

/** The same resources with ranges and set items moved off the arbitraries' usual values. */
function apart(rs: Resource[]): Resource[] {
  return rs.map((r) => ({
    ...r,
    ...(r.ranges && { ranges: r.ranges.map((x) => ({ begin: x.begin + 100, end: x.end + 100 })) }),
    ...(r.set && { set: r.set.map((x) => x.toUpperCase()) }),
  }));
}

/** Pairs where `a` often contains `b`: random pairs, and `a + c` with `b`. */
const pairArb = fc.oneof(
  fc.tuple(rs, rs),
  fc.tuple(rs, rs).map(([a, b]) => [add(a, b), b] as const),
  fc.tuple(rs, rs, rs).map(([a, b, c]) => [add(a, c), add(b, c)] as const),
);

describe('laws of the algebra', () => {
  it('normalize is canonical: idempotent, order-insensitive, recognized', () => {
    fc.assert(
      fc.property(rs, (a) => {
        const n = normalize(a);
        expect(isNormalized(n)).toBe(true);
        expect(normalize(n)).toEqual(n);
        expect(normalize(a.slice().reverse())).toEqual(n);
        expect(equals(a, n)).toBe(true);
        expect(isEmpty(a)).toBe(n.length === 0);
      }),
      runs,
    );
  });
  it('add is commutative and associative', () => {
    fc.assert(
      fc.property(rs, rs, rs, (a, b, c) => {
        expect(add(a, b)).toEqual(add(b, a));
        expect(add(add(a, b), c)).toEqual(add(a, add(b, c)));
        expect(add(a, [])).toEqual(normalize(a));
      }),
      runs,
    );
  });
  it('a + b contains a and b', () => {
    fc.assert(
      fc.property(rs, rs, (a, b) => {
        const sum = add(a, b);
        expect(contains(sum, a)).toBe(true);
        expect(contains(sum, b)).toBe(true);
      }),
      runs,
    );
  });
  it('a + b − b = a (ranges and sets unite, so theirs are kept apart, as ports of two tasks are)', () => {
    fc.assert(
      fc.property(rs, rs.map(apart), (a, b) => {
        expect(subtract(add(a, b), b)).toEqual(normalize(a));
      }),
      runs,
    );
  });
  it('trySubtract is undefined exactly when !contains; subtract never goes negative', () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const held = contains(a, b);
        const rest = trySubtract(a, b);
        expect(rest === undefined).toBe(!held);
        if (rest === undefined) {
          expect(() => subtract(a, b)).toThrow(InvalidOperationError);
          return;
        }
        expect(subtract(a, b)).toEqual(rest);
        expect(isNormalized(rest)).toBe(true);
        for (const r of rest) if (r.type === 'SCALAR') expect(r.scalar).toBeGreaterThan(0);
        expect(add(rest, b)).toEqual(normalize(a));
        expect(contains(a, rest)).toBe(true);
      }),
      runs,
    );
  });
  it('equals agrees with comparing normal forms', () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const same = JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
        expect(equals(a, b)).toBe(same);
        expect(contains(a, b) && contains(b, a)).toBe(same);
      }),
      runs,
    );
  });
  it('scalar totals and quantities add up', () => {
    fc.assert(
      fc.property(rs, rs, (a, b) => {
        const qa = quantities(a);
        const qb = quantities(b);
        const qs = quantities(add(a, b));
        for (const name of SCALARS) {
          expect(scalar(a, name)).toBe(qa[name] ?? 0);
          expect(Math.round((qs[name] ?? 0) * 1000)).toBe(Math.round(((qa[name] ?? 0) + (qb[name] ?? 0)) * 1000));
        }
      }),
      runs,
    );
  });
  it('the role filters partition and strip keeps quantities', () => {
    fc.assert(
      fc.property(rs, fc.constantFrom('ops', 'web', 'eng', 'eng/web'), (a, role) => {
        const roles = ['ops', 'web', 'eng', 'eng/web'];
        const parts = roles.reduce<Resource[]>((acc, r) => add(acc, reservedFor(a, r)), unreserved(a));
        expect(parts).toEqual(normalize(a));
        expect(contains(a, allocatableTo(a, role))).toBe(true);
        expect(contains(allocatableTo(a, role), add(unreserved(a), reservedFor(a, role)))).toBe(true);
        const stripped = stripReservations(a);
        for (const name of SCALARS) expect(scalar(stripped, name)).toBe(scalar(a, name));
        expect(stripped.every((r) => r.role === '*' && r.reservation === undefined)).toBe(true);
      }),
      runs,
    );
  });
  it('unreserve undoes reserve', () => {
    fc.assert(
      fc.property(rs, (a) => {
        const free = unreserved(a).filter((r) => r.disk === undefined);
        const reserved = reserve(free, 'ops', { type: 'DYNAMIC', principal: 'alice' });
        expect(unreserved(reserved)).toEqual([]);
        expect(unreserve(reserved)).toEqual(free);
      }),
      runs,
    );
  });
  it('parse(format(x)) = normalize(x) for what the text form can show', () => {
    fc.assert(
      fc.property(resourcesArb({ text: true }), (a) => {
        expect(parseResources(formatResources(a))).toEqual(normalize(a));
      }),
      runs,
    );
  });
});
