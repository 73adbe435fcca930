/**
 * The errors of job specs: {@link JobSpecError} for a spec that does not validate (naming the
 * field by its path, `stages[1].tasks[0].retries`), and {@link JobCycleError} for stages whose
 * `dependsOn` go round in a circle. Both are `ValidationError`s of `@stoa/core` (code
 * `VALIDATION_ERROR`), so an API that maps Stoa errors to HTTP answers 400 for them.
 *
 * @example
 * ```ts
 * try { parseJobSpec(text); }
 * catch (e) { if (JobSpecError.isInstance(e)) console.error(e.field, e.issues); else throw e; }
 * ```
 * @module
 */

import { ValidationError } from '@stoa/sdk';

const SPEC_MARKER = Symbol.for('stoa.batch.JobSpecError');
const CYCLE_MARKER = Symbol.for('stoa.batch.JobCycleError');

/** One thing wrong with a job spec. */
export interface JobSpecIssue {
  /** Where: `stages[1].tasks[0].retries`; empty for the whole spec. */
  path: string;
  /** What is wrong, for people: `expected an integer ≥ 0`. */
  message: string;
  /** The line in the spec's text, when the spec was parsed from text (1-based). */
  line?: number;
}

/** Formats a path of keys and indexes as `stages[1].tasks[0].retries`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function describeIssue(issue: JobSpecIssue): string {
  const where = issue.path === '' ? '(spec)' : issue.path;
  return `${where}: ${issue.message}${issue.line !== undefined ? ` (line ${issue.line})` : ''}`;
}

/**
 * A job spec that does not validate. `message` describes the first issue
 * (`stages[1].tasks[0].retries: expected an integer ≥ 0`), `issues` lists them all, `field` is
 * the first issue's path.
 */
export class JobSpecError extends ValidationError {
  /** Everything wrong with the spec, in the order found. */
  readonly issues: readonly JobSpecIssue[];

  constructor(issues: readonly JobSpecIssue[], options?: ErrorOptions) {
    const first = issues[0] ?? { path: '', message: 'invalid job spec' };
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more issue${issues.length > 2 ? 's' : ''})` : '';
    super(`${describeIssue(first)}${more}`, { ...options, details: { field: first.path, issues: issues.map((i) => ({ ...i })) } });
    this.name = 'JobSpecError';
    this.issues = issues;
    Object.defineProperty(this, SPEC_MARKER, { value: true });
  }

  /** True for a {@link JobSpecError} (or a subclass), also one made by another copy of this package. */
  static override isInstance(value: unknown): value is JobSpecError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SPEC_MARKER] === true;
  }
}

/** Stages whose `dependsOn` form a cycle; `cycle` names the stages in order, the first repeated last. */
export class JobCycleError extends JobSpecError {
  /** The stages of the cycle, `['a', 'b', 'a']` for a → b → a. */
  readonly cycle: readonly string[];

  constructor(cycle: readonly string[], path: string, options?: ErrorOptions) {
    super([{ path, message: `dependency cycle: ${cycle.join(' → ')}` }], options);
    this.name = 'JobCycleError';
    this.cycle = cycle;
    Object.defineProperty(this, CYCLE_MARKER, { value: true });
  }

  /** True for a {@link JobCycleError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is JobCycleError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CYCLE_MARKER] === true;
  }
}
