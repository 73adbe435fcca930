import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import { validate } from './validate.js';

describe('validate', () => {
  const App = z.strictObject({ id: z.string(), instances: z.number().int().min(0), healthChecks: z.array(z.strictObject({ path: z.string() })).optional() });

  it('returns the parsed value', () => {
    expect(validate(App, { id: 'a', instances: 2 })).toEqual({ id: 'a', instances: 2 });
  });

  it('names a nested failing field', () => {
    try {
      validate(App, { id: 'a', instances: 1, healthChecks: [{ path: 3 }] }, 'app');
      expect.unreachable();
    } catch (e) {
      expect(ValidationError.isInstance(e)).toBe(true);
      expect((e as ValidationError).field).toBe('healthChecks.0.path');
      expect((e as Error).message).toMatch(/^invalid app: healthChecks\.0\.path/);
    }
  });

  it('names an unknown field', () => {
    try {
      validate(App, { id: 'a', instances: 1, container: { docker: {} } });
      expect.unreachable();
    } catch (e) {
      expect((e as ValidationError).field).toBe('container');
      expect((e as Error).message).toContain('unknown field: container');
    }
  });
});
