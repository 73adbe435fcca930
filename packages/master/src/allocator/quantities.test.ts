/** The allocator's amounts: interning, milli arrays, shares, trimming and taking back. */
import { add, contains, equals, parseResources, type Resource, reserve } from '@stoa/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addQuantities, dominantShare, fromRecord, ResourceNames, takeFrom, toRecord, trimResources } from './quantities.js';

const R = parseResources;

/** Small lists of resources in any form: scalars, port ranges and sets, some reserved. */
const resourcesArb: fc.Arbitrary<Resource[]> = fc.array(
  fc.oneof(
    fc.record({
      name: fc.constantFrom('cpus', 'mem'),
      type: fc.constant('SCALAR' as const),
      scalar: fc.integer({ min: 0, max: 8000 }).map((m) => m / 1000),
      role: fc.constantFrom('*', 'ops'),
    }),
    fc.record({
      name: fc.constant('ports'),
      type: fc.constant('RANGES' as const),
      ranges: fc.array(fc.tuple(fc.nat(40), fc.nat(5)).map(([begin, n]) => ({ begin, end: begin + n })), { maxLength: 3 }),
    }),
    fc.record({ name: fc.constant('zones'), type: fc.constant('SET' as const), set: fc.uniqueArray(fc.constantFrom('a', 'b', 'c')) }),
  ),
  { maxLength: 6 },
);

describe('quantities', () => {
  it('keeps amounts in milli-units by interned name, ports by count', () => {
    const names = new ResourceNames(new Set(['gpus']));
    const q: number[] = [];
    const u: number[] = [];
    addQuantities(names, R('cpus:1.5;mem:100;ports:[1-10];cpus(ops):0.5;gpus:2'), q, u);
    expect(toRecord(names, q)).toEqual({ cpus: 2, mem: 100, ports: 10, gpus: 2 });
    expect(toRecord(names, u)).toEqual({ cpus: 1.5, mem: 100, ports: 10, gpus: 2 });
    expect(names.inShare[names.find('ports')]).toBe(false);
    expect(names.inShare[names.find('gpus')]).toBe(false);
    addQuantities(names, R('cpus:1.5'), q, undefined, -1);
    expect(toRecord(names, q).cpus).toBe(0.5);
  });

  it('computes the dominant share over scalar, non-excluded names', () => {
    const names = new ResourceNames(new Set(['gpus']));
    const total = fromRecord(names, { cpus: 10, mem: 1000, gpus: 1 });
    expect(dominantShare(names, fromRecord(names, { cpus: 1, mem: 500, gpus: 1 }), total)).toBeCloseTo(0.5);
    expect(dominantShare(names, [], total)).toBe(0);
  });

  it('trims to caps, reservations last to go', () => {
    const names = new ResourceNames(new Set());
    const rs = R('cpus:4;cpus(ops):2;mem:1024;ports:[1-10]');
    const cap: (number | undefined)[] = [];
    cap[names.intern('cpus')] = 3000;
    cap[names.intern('ports', false)] = 4000;
    const trimmed = trimResources(names, rs, cap, undefined);
    expect(equals(trimmed, R('cpus:1;cpus(ops):2;mem:1024;ports:[1-4]'))).toBe(true);
    const unres: (number | undefined)[] = [];
    unres[names.intern('mem')] = 0;
    expect(equals(trimResources(names, rs, undefined, unres), R('cpus:4;cpus(ops):2;ports:[1-10]'))).toBe(true);
    expect(trimResources(names, rs, [], [])).toBe(rs);
  });

  it('takeFrom takes what is held, and only that', () => {
    const held = R('cpus:2;mem:100;ports:[1-5]');
    const { taken, rest } = takeFrom(held, R('cpus:3;mem:50;ports:[4-8];disk:1'));
    expect(equals(taken, R('cpus:2;mem:50;ports:[4-5]'))).toBe(true);
    expect(equals(rest, R('mem:50;ports:[1-3]'))).toBe(true);
    const dyn = reserve(R('cpus:1'), 'db', { type: 'DYNAMIC', principal: 'p' });
    expect(takeFrom(add(held, dyn), R('cpus(db):1')).taken).toEqual([]);
  });

  it('takeFrom: taken + rest = have, taken within want', () => {
    fc.assert(
      fc.property(resourcesArb, resourcesArb, (have, want) => {
        const { taken, rest } = takeFrom(have, want);
        expect(equals(add(taken, rest), have)).toBe(true);
        expect(contains(want, taken)).toBe(true);
      }),
    );
  });
});
