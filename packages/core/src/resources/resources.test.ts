import { describe, expect, it } from 'vitest';
import { InvalidOperationError } from '../errors.js';
import type { Resource } from '../protocol/resources.js';
import { normalize } from './algebra.js';
import { Resources } from './resources.js';

describe('Resources', () => {
  it('wraps the algebra', () => {
    const total = Resources.parse('cpus:4;mem:1024;ports:[31000-31009]');
    const need = Resources.of([{ name: 'cpus', type: 'SCALAR', scalar: 1.5 }]);
    expect(total.contains(need)).toBe(true);
    const left = total.subtract(need);
    expect(left.scalar('cpus')).toBe(2.5);
    expect(left.add(need).equals(total)).toBe(true);
    expect(left.toString()).toBe('cpus:2.5;mem:1024;ports:[31000-31009]');
    expect(() => need.subtract(total)).toThrow(InvalidOperationError);
    expect(Resources.EMPTY.isEmpty()).toBe(true);
    expect(Resources.of(total)).toBe(total);
  });
  it('is immutable and does not freeze its input', () => {
    const input: Resource[] = [{ name: 'ports', type: 'RANGES', ranges: [{ begin: 1, end: 2 }], role: '*' }];
    const rs = Resources.of(input);
    expect(Object.isFrozen(input[0])).toBe(false);
    const items = rs.toArray();
    expect(Object.isFrozen(items)).toBe(true);
    expect(Object.isFrozen(items[0])).toBe(true);
    expect(Object.isFrozen(items[0]?.ranges?.[0])).toBe(true);
  });
  it('serializes as the normalized array', () => {
    const rs = Resources.parse('mem:2;cpus:1');
    expect(JSON.parse(JSON.stringify(rs))).toEqual(normalize(rs.toArray()));
    expect(`${rs}`).toBe('cpus:1;mem:2');
  });
});
