import { NotFoundError, StoaError, ValidationError } from '@stoa/sdk';
import { describe, expect, it } from 'vitest';
import {
  DependencyCycleError,
  httpStatusOf,
  InvalidRunTransitionError,
  JobHasChildrenError,
  JobValidationError,
  ScheduleParseError,
  UnknownParentError,
} from './errors.js';

describe('errors', () => {
  it('are Stoa errors with codes, statuses and their own isInstance', () => {
    const v = new JobValidationError([
      { path: 'schedule', message: 'bad' },
      { path: 'schedule', message: 'worse' },
      { path: 'env.0.name', message: 'is required' },
    ]);
    expect(v.name).toBe('JobValidationError');
    expect(v.code).toBe('VALIDATION_ERROR');
    expect(v.field).toBe('schedule');
    expect(v.message).toBe('schedule: bad (and 2 more)');
    expect(StoaError.isInstance(v)).toBe(true);
    expect(ValidationError.isInstance(v)).toBe(true);
    expect(JobValidationError.isInstance(v)).toBe(true);
    expect(JobValidationError.isInstance(new ValidationError('x'))).toBe(false);
    expect(ScheduleParseError.isInstance(v)).toBe(false);
    expect(v.toResponseBody()).toEqual({
      code: 'VALIDATION_ERROR',
      message: 'schedule: bad (and 2 more)',
      details: [
        { path: '/schedule', errors: ['bad', 'worse'] },
        { path: '/env/0/name', errors: ['is required'] },
      ],
    });
    expect(v.toWire()).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'schedule' } });
  });

  it('map to HTTP statuses', () => {
    expect(httpStatusOf(new DependencyCycleError(['a', 'b', 'a']))).toBe(422);
    expect(httpStatusOf(new UnknownParentError('b', 'a', 0))).toBe(422);
    expect(httpStatusOf(new ScheduleParseError('x', { part: 'cron', expression: 'x' }))).toBe(422);
    expect(httpStatusOf(new JobHasChildrenError('a', ['b']))).toBe(409);
    expect(httpStatusOf(new InvalidRunTransitionError('r', 'QUEUED', 'running'))).toBe(409);
    expect(httpStatusOf(new NotFoundError('x'))).toBe(404);
    expect(httpStatusOf(new Error('x'))).toBe(500);
    expect(httpStatusOf('x')).toBe(500);
  });

  it('work across copies of the package via Symbol.for markers', () => {
    const foreign = Object.defineProperty(new Error('x'), Symbol.for('stoa.chronos.DependencyCycleError'), { value: true });
    expect(DependencyCycleError.isInstance(foreign)).toBe(true);
    expect(DependencyCycleError.isInstance(null)).toBe(false);
  });
});
