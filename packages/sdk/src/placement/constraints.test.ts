import { ValidationError } from '@stoa/core';
import { describe, expect, it } from 'vitest';
import { compileConstraints, constraintFieldValue, formatConstraint, matchesStatic, validateConstraints } from './constraints.js';

function failure(list: unknown): ValidationError {
  try {
    validateConstraints(list);
  } catch (e) {
    if (ValidationError.isInstance(e)) return e as ValidationError;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('validateConstraints', () => {
  it('accepts every operator and returns the list typed', () => {
    const list = [
      ['hostname', 'UNIQUE'],
      ['rack', 'CLUSTER', 'r1'],
      ['rack', 'CLUSTER'],
      ['@zone', 'GROUP_BY', '3'],
      ['@region', 'GROUP_BY'],
      ['rack', 'LIKE', 'r[12]'],
      ['rack', 'UNLIKE', 'r3'],
      ['hostname', 'MAX_PER', '2'],
      ['@rack', 'IS', 'a'],
      ['os', 'EQUALS', 'linux'],
    ];
    expect(validateConstraints(list)).toEqual(list);
  });

  it('turns numeric values into strings, as Marathon JSON sometimes has them', () => {
    expect(validateConstraints([['rack', 'MAX_PER', 2]])).toEqual([['rack', 'MAX_PER', '2']]);
  });

  it('takes undefined as no constraints', () => {
    expect(validateConstraints(undefined)).toEqual([]);
  });

  it.each([
    ['an unknown operator', [['hostname', 'UNIQUE'], ['hostname', 'NEAR']], 'constraints.1', /unknown operator "NEAR"/],
    ['a bad regex', [['rack', 'LIKE', 'r[']], 'constraints.0', /not a valid regular expression/],
    ['MAX_PER without a number', [['rack', 'MAX_PER']], 'constraints.0', /MAX_PER needs a positive whole number/],
    ['MAX_PER with text', [['rack', 'MAX_PER', 'two']], 'constraints.0', /MAX_PER/],
    ['MAX_PER with zero', [['rack', 'MAX_PER', '0']], 'constraints.0', /MAX_PER/],
    ['GROUP_BY with text', [['rack', 'GROUP_BY', 'x']], 'constraints.0', /GROUP_BY/],
    ['IS without a value', [['a', 'IS', 'x'], ['rack', 'IS']], 'constraints.1', /IS needs a value/],
    ['LIKE without a value', [['rack', 'LIKE']], 'constraints.0', /LIKE needs a regular expression/],
    ['UNIQUE with a value', [['rack', 'UNIQUE', 'x']], 'constraints.0', /UNIQUE takes no value/],
    ['an unknown @ field', [['@datacenter', 'UNIQUE']], 'constraints.0', /unknown field '@datacenter'/],
    ['an empty field', [['', 'UNIQUE']], 'constraints.0', /field/],
    ['an entry that is not a list', ['hostname:UNIQUE'], 'constraints.0', /expected \[field, operator\]/],
    ['a value of the wrong type', [['rack', 'IS', true]], 'constraints.0', /value must be a string/],
  ])('rejects %s, naming the constraint', (_, list, field, message) => {
    const e = failure(list);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('rejects a list that is not a list', () => {
    expect(failure({ hostname: 'UNIQUE' }).field).toBe('constraints');
  });
});

describe('constraintFieldValue', () => {
  const target = { hostname: 'h1', attributes: { rack: 'r1', hostname: 'ignored' }, domain: { region: 'eu', zone: 'eu-a' } };

  it('reads hostname, fault domain fields and attributes', () => {
    expect(constraintFieldValue(target, 'hostname')).toBe('h1');
    expect(constraintFieldValue(target, '@hostname')).toBe('h1');
    expect(constraintFieldValue(target, '@region')).toBe('eu');
    expect(constraintFieldValue(target, '@zone')).toBe('eu-a');
    expect(constraintFieldValue(target, '@rack')).toBeUndefined();
    expect(constraintFieldValue(target, 'rack')).toBe('r1');
    expect(constraintFieldValue(target, 'os')).toBeUndefined();
  });

  it('does not read inherited properties as attributes', () => {
    expect(constraintFieldValue(target, 'toString')).toBeUndefined();
    expect(constraintFieldValue(target, '__proto__')).toBeUndefined();
  });

  it('has no fault domain fields without a domain', () => {
    expect(constraintFieldValue({ hostname: 'h', attributes: {} }, '@zone')).toBeUndefined();
  });
});

describe('formatConstraint', () => {
  it('writes field:OPERATOR[:value]', () => {
    expect(formatConstraint(['hostname', 'UNIQUE'])).toBe('hostname:UNIQUE');
    expect(formatConstraint(['rack', 'MAX_PER', '2'])).toBe('rack:MAX_PER:2');
  });
});

describe('static operators', () => {
  const [like, unlike, is, equals, cluster] = compileConstraints([
    ['rack', 'LIKE', 'r[12]'],
    ['rack', 'UNLIKE', 'r[12]'],
    ['rack', 'IS', 'r1'],
    ['rack', 'EQUALS', 'r1'],
    ['rack', 'CLUSTER', 'r1'],
  ]);

  it('LIKE matches the whole value, and fails without the field', () => {
    expect(matchesStatic(like!, 'r1')).toBe(true);
    expect(matchesStatic(like!, 'r12')).toBe(false);
    expect(matchesStatic(like!, 'xr1')).toBe(false);
    expect(matchesStatic(like!, undefined)).toBe(false);
  });

  it('UNLIKE holds without the field', () => {
    expect(matchesStatic(unlike!, 'r3')).toBe(true);
    expect(matchesStatic(unlike!, 'r1')).toBe(false);
    expect(matchesStatic(unlike!, undefined)).toBe(true);
  });

  it('IS, EQUALS and CLUSTER with a value compare for equality', () => {
    for (const c of [is!, equals!, cluster!]) {
      expect(c.isStatic).toBe(true);
      expect(matchesStatic(c, 'r1')).toBe(true);
      expect(matchesStatic(c, 'r2')).toBe(false);
      expect(matchesStatic(c, undefined)).toBe(false);
    }
    expect(equals!.operator).toBe('IS');
    expect(equals!.label).toBe('rack:EQUALS:r1');
  });

  it('UNIQUE, MAX_PER, GROUP_BY and CLUSTER without a value depend on the group', () => {
    const compiled = compileConstraints([
      ['hostname', 'UNIQUE'],
      ['hostname', 'MAX_PER', '3'],
      ['rack', 'GROUP_BY', '2'],
      ['rack', 'CLUSTER'],
    ]);
    expect(compiled.map((c) => c.isStatic)).toEqual([false, false, false, false]);
    expect(compiled.map((c) => c.count)).toEqual([0, 3, 2, 0]);
  });
});
