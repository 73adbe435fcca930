import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { normalize } from './algebra.js';
import { formatResources, parseAttributes, parseResources } from './text.js';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).field;
  }
  throw new Error('expected a ValidationError');
}

describe('parseResources', () => {
  it('reads scalars, ranges, sets and roles', () => {
    expect(parseResources('cpus:4;mem:1024;disk:10000;ports:[31000-32000, 33000-33010];gpus:1;cpus(ops):2;zones:{a,b}')).toEqual([
      { name: 'cpus', type: 'SCALAR', scalar: 4, role: '*' },
      { name: 'cpus', type: 'SCALAR', scalar: 2, role: 'ops', reservation: { type: 'STATIC' } },
      { name: 'disk', type: 'SCALAR', scalar: 10000, role: '*' },
      { name: 'gpus', type: 'SCALAR', scalar: 1, role: '*' },
      { name: 'mem', type: 'SCALAR', scalar: 1024, role: '*' },
      {
        name: 'ports',
        type: 'RANGES',
        ranges: [
          { begin: 31000, end: 32000 },
          { begin: 33000, end: 33010 },
        ],
        role: '*',
      },
      { name: 'zones', type: 'SET', set: ['a', 'b'], role: '*' },
    ]);
  });
  it('tolerates spaces, empty entries and repeats, and accepts single ports and (*)', () => {
    expect(parseResources(' cpus : 1.5 ; ;cpus(*):0.5; ports:[80, 443-444];')).toEqual(
      normalize([
        { name: 'cpus', type: 'SCALAR', scalar: 2 },
        {
          name: 'ports',
          type: 'RANGES',
          ranges: [
            { begin: 80, end: 80 },
            { begin: 443, end: 444 },
          ],
        },
      ]),
    );
    expect(parseResources('')).toEqual([]);
  });
  it('applies the default role as a static reservation', () => {
    expect(parseResources('cpus:1;mem(*):2', 'ops')).toEqual([
      { name: 'cpus', type: 'SCALAR', scalar: 1, role: 'ops', reservation: { type: 'STATIC' } },
      { name: 'mem', type: 'SCALAR', scalar: 2, role: '*' },
    ]);
  });
  it('throws ValidationError naming the bad entry', () => {
    expect(fieldOf(() => parseResources('cpus:4;mem'))).toBe('mem');
    expect(fieldOf(() => parseResources('cpus:abc'))).toBe('cpus');
    expect(fieldOf(() => parseResources('cpus(ops):-1'))).toBe('cpus(ops)');
    expect(fieldOf(() => parseResources('cpus:Infinity'))).toBe('cpus');
    expect(fieldOf(() => parseResources('cpus:0x10'))).toBe('cpus');
    expect(fieldOf(() => parseResources('ports:[10-5]'))).toBe('ports');
    expect(fieldOf(() => parseResources('ports:[1-2,]'))).toBe('ports');
    expect(fieldOf(() => parseResources('ports:[a-b]'))).toBe('ports');
    expect(fieldOf(() => parseResources('ports:4'))).toBe('ports');
    expect(fieldOf(() => parseResources('cpus:[1-2]'))).toBe('cpus');
    expect(fieldOf(() => parseResources('zones:{a,,b}'))).toBe('zones');
    expect(fieldOf(() => parseResources('cpus(a b):1'))).toBe('cpus(a b)');
    expect(fieldOf(() => parseResources('cpus(-x):1'))).toBe('cpus(-x)');
    expect(fieldOf(() => parseResources('cp us:1'))).toBe('cp us');
    expect(fieldOf(() => parseResources(':1'))).toBe(':1');
    expect(fieldOf(() => parseResources('cpus:1', 'a b'))).toBe('defaultRole');
  });
});

describe('formatResources', () => {
  it('writes the normalized text form', () => {
    expect(formatResources(parseResources('zones:{b,a};cpus(ops):2;ports:[5-6,1-4];cpus:0.25'))).toBe(
      'cpus:0.25;cpus(ops):2;ports:[1-6];zones:{a,b}',
    );
    expect(formatResources([])).toBe('');
  });
  it('shows dynamic reservations by role only', () => {
    const text = formatResources([{ name: 'cpus', type: 'SCALAR', scalar: 1, role: 'ops', reservation: { type: 'DYNAMIC', principal: 'p' } }]);
    expect(text).toBe('cpus(ops):1');
  });
});

describe('parseAttributes', () => {
  it('reads name:value pairs', () => {
    expect(parseAttributes('rack:r1; zone:a;;url:http://x')).toEqual({ rack: 'r1', zone: 'a', url: 'http://x' });
    expect(parseAttributes('')).toEqual({});
  });
  it('is safe with hostile names', () => {
    const attrs = parseAttributes('__proto__:x');
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(Object.entries(attrs)).toEqual([['__proto__', 'x']]);
  });
  it('throws ValidationError naming the bad entry', () => {
    expect(fieldOf(() => parseAttributes('rack:r1;zone'))).toBe('zone');
    expect(fieldOf(() => parseAttributes('rack:'))).toBe('rack');
    expect(fieldOf(() => parseAttributes(':a'))).toBe(':a');
    expect(fieldOf(() => parseAttributes('rack:a;rack:b'))).toBe('rack');
  });
});
