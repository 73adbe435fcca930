/**
 * Validation of input from people and programs (HTTP bodies, flags, config files, app and job
 * definitions): a zod schema in, a typed value or a {@link ValidationError} naming the field out.
 *
 * @example
 * ```ts
 * const app = validate(AppDefinitionSchema, body);   // ValidationError { field: 'instances' }
 * ```
 * @module
 */

import type { z } from 'zod';
import { ValidationError } from './errors.js';

/** A failing field and why. */
export interface FieldIssue {
  /** The field as a dotted path (`healthChecks.0.path`); empty for the whole input. */
  field: string;
  /** Why it fails. */
  message: string;
}

/** Turns zod issues into field issues. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    field: issue.path.map(String).join('.'),
    message:
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`
        : issue.message,
  }));
}

/** Parses `input` with `schema`; throws a {@link ValidationError} naming the first failing field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, what = 'input'): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = fieldIssues(parsed.error);
  const first = issues[0] ?? { field: '', message: 'invalid' };
  // For unknown keys the field is the key itself, so the message names it.
  const unknown = parsed.error.issues[0]?.code === 'unrecognized_keys' ? parsed.error.issues[0].keys[0] : undefined;
  const field = unknown !== undefined ? [first.field, unknown].filter(Boolean).join('.') : first.field;
  throw new ValidationError(`invalid ${what}: ${field || '(root)'}: ${first.message}`, { details: { field, issues } });
}
