import { describe, expect, it } from 'vitest';
import { InvalidOperationError, ValidationError } from '../errors.js';
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

const cpus = (n: number, role?: string, reservation?: Resource['reservation']): Resource => ({
  name: 'cpus',
  type: 'SCALAR',
  scalar: n,
  ...(role === undefined ? {} : { role }),
  ...(reservation === undefined ? {} : { reservation }),
});
const mem = (n: number): Resource => ({ name: 'mem', type: 'SCALAR', scalar: n });
const ports = (...ranges: [number, number][]): Resource => ({
  name: 'ports',
  type: 'RANGES',
  ranges: ranges.map(([begin, end]) => ({ begin, end })),
});
const zones = (...set: string[]): Resource => ({ name: 'zones', type: 'SET', set });
const dynamic = { type: 'DYNAMIC', principal: 'alice' } as const;

describe('normalize', () => {
  it('merges by identity, drops empties, sorts by name then role, makes role explicit', () => {
    expect(
      normalize([mem(10), cpus(1), cpus(2, 'ops'), cpus(0.5), ports([4, 6], [1, 3]), zones(), cpus(0), zones('b', 'a', 'b')]),
    ).toEqual([
      { name: 'cpus', type: 'SCALAR', scalar: 1.5, role: '*' },
      { name: 'cpus', type: 'SCALAR', scalar: 2, role: 'ops', reservation: { type: 'STATIC' } },
      { name: 'mem', type: 'SCALAR', scalar: 10, role: '*' },
      { name: 'ports', type: 'RANGES', ranges: [{ begin: 1, end: 6 }], role: '*' },
      { name: 'zones', type: 'SET', set: ['a', 'b'], role: '*' },
    ]);
  });
  it('rounds scalars to milli-units so sums stay exact', () => {
    expect(normalize([cpus(0.1), cpus(0.2)])).toEqual([{ name: 'cpus', type: 'SCALAR', scalar: 0.3, role: '*' }]);
    expect(normalize([cpus(1.23456)])[0]?.scalar).toBe(1.235);
    expect(normalize([cpus(0.0004)])).toEqual([]);
  });
  it('keeps different reservations and volumes apart', () => {
    const volume = (id: string): Resource => ({
      name: 'disk',
      type: 'SCALAR',
      scalar: 10,
      role: 'ops',
      reservation: dynamic,
      disk: { persistence: { id }, volume: { containerPath: '/data', mode: 'RW' } },
    });
    expect(normalize([cpus(1, 'ops', dynamic), cpus(1, 'ops'), cpus(1, 'ops', { type: 'DYNAMIC', principal: 'bob' })])).toHaveLength(3);
    expect(normalize([volume('v1'), volume('v2'), volume('v1')]).map((r) => r.scalar)).toEqual([20, 10]);
  });
  it('treats a missing reservation on a role as STATIC and labels regardless of key order', () => {
    expect(normalize([cpus(1, 'ops'), cpus(1, 'ops', { type: 'STATIC' })])).toHaveLength(1);
    const a = cpus(1, 'ops', { type: 'DYNAMIC', labels: { x: '1', y: '2' } });
    const b = cpus(1, 'ops', { type: 'DYNAMIC', labels: { y: '2', x: '1' } });
    expect(normalize([a, b])).toEqual([{ ...a, scalar: 2 }]);
  });
  it('returns fresh objects and leaves its input alone', () => {
    const input = [ports([4, 6], [1, 3])];
    const out = normalize(input);
    expect(input[0]?.ranges).toEqual([
      { begin: 4, end: 6 },
      { begin: 1, end: 3 },
    ]);
    expect(normalize(out)[0]).not.toBe(out[0]);
  });
  it('is recognized by isNormalized', () => {
    expect(isNormalized(normalize([cpus(1), mem(2), ports([1, 2])]))).toBe(true);
    expect(isNormalized([cpus(1)])).toBe(false);
    expect(isNormalized([mem(2), cpus(1)].map((r) => ({ ...r, role: '*' })))).toBe(false);
  });
});

describe('add / subtract', () => {
  it('adds scalars, unites ranges and sets', () => {
    expect(add([cpus(1), ports([1, 3]), zones('a')], [cpus(2), ports([4, 6]), zones('b')])).toEqual(
      normalize([cpus(3), ports([1, 6]), zones('a', 'b')]),
    );
  });
  it('subtracts what is held', () => {
    expect(subtract([cpus(4), mem(1024), ports([1, 10])], [cpus(1.5), ports([3, 4])])).toEqual(
      normalize([cpus(2.5), mem(1024), ports([1, 2], [5, 10])]),
    );
    expect(subtract([cpus(1)], [cpus(1)])).toEqual([]);
    expect(subtract([zones('a', 'b')], [zones('a')])).toEqual(normalize([zones('b')]));
  });
  it('throws InvalidOperationError naming what is short', () => {
    const error = (() => {
      try {
        subtract([cpus(1), mem(5)], [cpus(1, 'ops')]);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidOperationError);
    expect((error as InvalidOperationError).details).toMatchObject({ field: 'cpus', role: 'ops' });
    expect(() => subtract([cpus(1)], [cpus(1.001)])).toThrow(InvalidOperationError);
    expect(() => subtract([ports([1, 3])], [ports([3, 4])])).toThrow(InvalidOperationError);
    expect(() => subtract([zones('a')], [zones('b')])).toThrow(InvalidOperationError);
  });
  it('trySubtract returns undefined instead of throwing', () => {
    expect(trySubtract([cpus(1)], [cpus(2)])).toBeUndefined();
    expect(trySubtract([cpus(2)], [cpus(1)])).toEqual(normalize([cpus(1)]));
  });
  it('keeps a + b − b = a exactly for decimals', () => {
    expect(subtract(add([cpus(0.1)], [cpus(0.2)]), [cpus(0.2)])).toEqual(normalize([cpus(0.1)]));
  });
});

describe('contains / isEmpty / equals', () => {
  it('compares identity by identity', () => {
    expect(contains([cpus(2), mem(4)], [cpus(1)])).toBe(true);
    expect(contains([cpus(2)], [cpus(1), cpus(1.5)])).toBe(false);
    expect(contains([cpus(2, 'ops')], [cpus(1)])).toBe(false);
    expect(contains([cpus(2, 'ops', dynamic)], [cpus(1, 'ops')])).toBe(false);
    expect(contains([ports([1, 3], [4, 9])], [ports([2, 6])])).toBe(true);
    expect(contains([zones('a', 'c')], [zones('a', 'b')])).toBe(false);
    expect(contains([], [])).toBe(true);
    expect(contains([cpus(1)], [cpus(0)])).toBe(true);
  });
  it('finds emptiness', () => {
    expect(isEmpty([])).toBe(true);
    expect(isEmpty([cpus(0), ports(), zones()])).toBe(true);
    expect(isEmpty([cpus(0.001)])).toBe(false);
  });
  it('compares regardless of form', () => {
    expect(equals([cpus(1), cpus(1)], [cpus(2)])).toBe(true);
    expect(equals([ports([1, 3]), ports([4, 5])], [ports([1, 5])])).toBe(true);
    expect(equals([cpus(2)], [cpus(2, 'ops')])).toBe(false);
    expect(equals([cpus(2)], [cpus(2), mem(1)])).toBe(false);
  });
});

describe('scalar / quantities', () => {
  it('sums a scalar over all roles', () => {
    expect(scalar([cpus(1), cpus(2, 'ops'), cpus(0.5, 'ops', dynamic), mem(3)], 'cpus')).toBe(3.5);
    expect(scalar([mem(3)], 'cpus')).toBe(0);
  });
  it('counts ranges and sets', () => {
    expect(quantities([cpus(1), cpus(2, 'ops'), mem(3), ports([1, 10], [5, 20]), zones('a', 'b', 'a')])).toEqual({
      cpus: 3,
      mem: 3,
      ports: 20,
      zones: 2,
    });
  });
  it('is safe with hostile names', () => {
    const q = quantities([{ name: '__proto__', type: 'SCALAR', scalar: 1 }]);
    expect(Object.getPrototypeOf(q)).toBe(Object.prototype);
    expect(Object.keys(q)).toEqual(['__proto__']);
  });
});

describe('role filters', () => {
  const rs = [cpus(1), cpus(2, 'eng'), cpus(4, 'eng/web', dynamic), cpus(8, 'ops'), mem(16)];
  it('splits unreserved and reserved parts', () => {
    expect(unreserved(rs)).toEqual(normalize([cpus(1), mem(16)]));
    expect(reservedFor(rs, 'ops')).toEqual(normalize([cpus(8, 'ops')]));
    expect(reservedFor(rs, '*')).toEqual([]);
  });
  it('offers a role its own, its parents’ and unreserved resources', () => {
    expect(scalar(allocatableTo(rs, 'eng/web'), 'cpus')).toBe(7);
    expect(scalar(allocatableTo(rs, 'eng'), 'cpus')).toBe(3);
    expect(scalar(allocatableTo(rs, 'engineering'), 'cpus')).toBe(1);
    expect(scalar(allocatableTo(rs, 'ops'), 'cpus')).toBe(9);
  });
  it('reserves and unreserves', () => {
    const reserved = reserve([cpus(2), mem(4)], 'ops', dynamic);
    expect(reserved).toEqual(normalize([cpus(2, 'ops', dynamic), { ...mem(4), role: 'ops', reservation: dynamic }]));
    expect(unreserve(reserved)).toEqual(normalize([cpus(2), mem(4)]));
    expect(reserve([cpus(1)], 'ops')[0]?.reservation).toEqual({ type: 'DYNAMIC' });
  });
  it('refuses to reserve twice, to reserve for *, or to unreserve static or volume resources', () => {
    expect(() => reserve([cpus(1, 'ops')], 'web')).toThrow(InvalidOperationError);
    expect(() => reserve([cpus(1)], '*')).toThrow(ValidationError);
    expect(() => unreserve([cpus(1, 'ops')])).toThrow(InvalidOperationError);
    expect(() => unreserve([cpus(1)])).toThrow(InvalidOperationError);
    const volume: Resource = {
      name: 'disk',
      type: 'SCALAR',
      scalar: 5,
      role: 'ops',
      reservation: dynamic,
      disk: { persistence: { id: 'v1' } },
    };
    expect(() => unreserve([volume])).toThrow(InvalidOperationError);
  });
  it('strips reservations keeping the quantities', () => {
    expect(stripReservations(rs)).toEqual(normalize([cpus(15), mem(16)]));
  });
});
