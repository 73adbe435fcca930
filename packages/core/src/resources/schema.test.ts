import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AttributesSchema,
  DiskInfoSchema,
  FaultDomainSchema,
  ReservationInfoSchema,
  ResourceSchema,
  ResourcesSchema,
  ValueRangeSchema,
} from '../protocol/resources.js';
import { normalize } from './algebra.js';
import { resourcesArb } from './arbitraries.js';

function issuePaths(value: unknown): string[] {
  const result = ResourceSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((i) => i.path.join('.'));
}

describe('resource schemas', () => {
  it('accepts good resources', () => {
    expect(
      ResourcesSchema.parse([
        { name: 'cpus', type: 'SCALAR', scalar: 2 },
        { name: 'ports', type: 'RANGES', ranges: [{ begin: 5, end: 9 }, { begin: 1, end: 1 }] },
        { name: 'zones', type: 'SET', set: ['a'] },
        {
          name: 'disk',
          type: 'SCALAR',
          scalar: 100,
          role: 'ops',
          reservation: { type: 'DYNAMIC', principal: 'alice', labels: { team: 'a' } },
          disk: { persistence: { id: 'v1' }, volume: { containerPath: '/data', mode: 'RW' } },
        },
      ]),
    ).toHaveLength(4);
  });
  it('names the field that is missing, extra or wrong', () => {
    expect(issuePaths({ name: 'cpus', type: 'SCALAR' })).toEqual(['scalar']);
    expect(issuePaths({ name: 'ports', type: 'RANGES' })).toEqual(['ranges']);
    expect(issuePaths({ name: 'zones', type: 'SET' })).toEqual(['set']);
    expect(issuePaths({ name: 'x', type: 'SCALAR', scalar: 1, set: ['a'] })).toEqual(['set']);
    expect(issuePaths({ name: 'cpus', type: 'SET', set: ['a'] })).toEqual(['type']);
    expect(issuePaths({ name: 'cpus', type: 'SCALAR', scalar: -1 })).toEqual(['scalar']);
    expect(issuePaths({ name: 'cpus', type: 'SCALAR', scalar: Number.POSITIVE_INFINITY })).toEqual(['scalar']);
    expect(issuePaths({ name: '', type: 'SCALAR', scalar: 1 })).toEqual(['name']);
    expect(issuePaths({ name: 'cpus', type: 'SCALAR', scalar: 1, reservation: { type: 'STATIC' } })).toEqual(['reservation']);
    expect(issuePaths({ name: 'mem', type: 'SCALAR', scalar: 1, disk: {} })).toEqual(['disk']);
    expect(issuePaths({ name: 'ports', type: 'RANGES', ranges: [{ begin: 5, end: 4 }] })).toEqual(['ranges.0.end']);
    expect(issuePaths({ name: 'ports', type: 'RANGES', ranges: [{ begin: 1.5, end: 4 }] })).toEqual(['ranges.0.begin']);
    expect(issuePaths({ name: 'x', type: 'TEXT' })).toEqual(['type']);
  });
  it('checks the parts', () => {
    expect(ValueRangeSchema.safeParse({ begin: -1, end: 2 }).success).toBe(false);
    expect(ReservationInfoSchema.safeParse({ type: 'OTHER' }).success).toBe(false);
    expect(DiskInfoSchema.safeParse({ volume: { containerPath: '/d', mode: 'RX' } }).success).toBe(false);
    expect(AttributesSchema.safeParse({ rack: 1 }).success).toBe(false);
    expect(AttributesSchema.parse({ rack: 'r1' })).toEqual({ rack: 'r1' });
    expect(FaultDomainSchema.parse({ region: 'eu', zone: 'eu-1' })).toEqual({ region: 'eu', zone: 'eu-1' });
    expect(FaultDomainSchema.safeParse({ zone: 3 }).success).toBe(false);
  });
  it('accepts whatever the algebra produces', () => {
    fc.assert(
      fc.property(resourcesArb(), (rs) => {
        expect(ResourcesSchema.safeParse(rs).success).toBe(true);
        expect(ResourcesSchema.safeParse(normalize(rs)).success).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
  it('rejects resources broken in any one way', () => {
    const breakers: ((r: Record<string, unknown>) => void)[] = [
      (r) => delete r[r.type === 'SCALAR' ? 'scalar' : r.type === 'RANGES' ? 'ranges' : 'set'],
      (r) => (r.type = r.type === 'SET' ? 'SCALAR' : 'SET'),
      (r) => (r.name = ''),
      (r) => (r.role = ''),
      (r) => {
        r.role = '*';
        r.reservation = { type: 'DYNAMIC' };
      },
      (r) => (r.scalar = -1),
      (r) => (r.ranges = [{ begin: 3, end: 2 }]),
      (r) => (r.disk = { volume: { containerPath: '', mode: 'RW' } }),
    ];
    fc.assert(
      fc.property(resourcesArb().filter((rs) => rs.length > 0), fc.nat(), fc.nat(), (rs, at, how) => {
        const broken = structuredClone(rs) as Record<string, unknown>[];
        breakers[how % breakers.length]!(broken[at % broken.length]!);
        expect(ResourcesSchema.safeParse(broken).success).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
