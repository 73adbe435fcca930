import { describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  ConflictError,
  ErrorCodes,
  errorOf,
  fromUnknown,
  fromWire,
  InternalError,
  NoRespondersError,
  NotLeaderError,
  StoaError,
  ValidationError,
} from './errors.js';

describe('errors', () => {
  it('each code has a class whose name, code and retryable match the table', () => {
    for (const code of Object.keys(ErrorCodes) as (keyof typeof ErrorCodes)[]) {
      const e = errorOf(code, 'm');
      expect(e.code).toBe(code);
      expect(e.retryable).toBe(ErrorCodes[code].retryable);
      expect(e.name).not.toBe('StoaError');
      expect(StoaError.isInstance(e)).toBe(true);
      expect((e.constructor as typeof StoaError).isInstance(e)).toBe(true);
    }
  });

  it('isInstance checks the code on subclasses and works across copies (marker, not prototype)', () => {
    const conflict = new ConflictError('stale', { details: { key: 'k', expectedRevision: 3 } });
    expect(ConflictError.isInstance(conflict)).toBe(true);
    expect(AlreadyExistsError.isInstance(conflict)).toBe(false);
    const copy = Object.assign(Object.create(null), { code: 'CONFLICT', [Symbol.for('stoa.error')]: true });
    expect(ConflictError.isInstance(copy)).toBe(true);
    expect(StoaError.isInstance(new Error('x'))).toBe(false);
    expect(StoaError.isInstance(null)).toBe(false);
  });

  it('round-trips through the wire form', () => {
    const original = new NotLeaderError('ask the leader', { details: { leader: 'm-2', epoch: 4 } });
    const back = fromWire(JSON.parse(JSON.stringify(original.toWire())));
    expect(NotLeaderError.isInstance(back)).toBe(true);
    expect(back).toBeInstanceOf(NotLeaderError);
    expect(back.details).toEqual({ leader: 'm-2', epoch: 4 });
    expect(back.retryable).toBe(true);
  });

  it('an unknown wire code becomes an InternalError that keeps the code', () => {
    const e = fromWire({ code: 'SOMETHING_NEW' as never, message: 'from the future' });
    expect(e).toBeInstanceOf(InternalError);
    expect(e.details.code).toBe('SOMETHING_NEW');
  });

  it('fromUnknown keeps ours, wraps errors with their cause, and handles non-errors', () => {
    const ours = new NoRespondersError('nobody');
    expect(fromUnknown(ours)).toBe(ours);
    const plain = new TypeError('boom');
    const wrapped = fromUnknown(plain);
    expect(wrapped).toBeInstanceOf(InternalError);
    expect(wrapped.cause).toBe(plain);
    expect(fromUnknown('text').message).toBe('text');
    expect(fromUnknown(42).message).toContain('42');
  });

  it('ValidationError exposes the field', () => {
    expect(new ValidationError('bad', { details: { field: 'a.b' } }).field).toBe('a.b');
  });
});
