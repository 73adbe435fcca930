/**
 * The errors of the Chronos framework's domain, each a Stoa error (`code`, `details`, `toWire()`)
 * with the HTTP status the REST API answers with. `isInstance()` checks a `Symbol.for` marker of
 * its own class, so it tells these apart from core errors of the same code and works across
 * duplicate installs.
 *
 * | class | code | status |
 * | --- | --- | --- |
 * | {@link JobValidationError} | `VALIDATION_ERROR` | 422 |
 * | {@link ScheduleParseError} | `VALIDATION_ERROR` | 422 |
 * | {@link DependencyCycleError} | `VALIDATION_ERROR` | 422 |
 * | {@link UnknownParentError} | `VALIDATION_ERROR` | 422 |
 * | {@link JobHasChildrenError} | `INVALID_OPERATION` | 409 |
 * | {@link InvalidRunTransitionError} | `INVALID_OPERATION` | 409 |
 *
 * @example
 * ```ts
 * const r = safeParseJob(body);
 * if (!r.ok) return c.json(r.error.toResponseBody(), r.error.status); // 422, names the field
 * ```
 * @module
 */

import { InvalidOperationError, StoaError, type StoaErrorOptions, ValidationError } from '@stoa/sdk';

/** One problem with one field of an input. */
export interface FieldIssue {
  /** The dotted path of the field: `schedule`, `environmentVariables.0.name`; `''` for the whole input. */
  path: string;
  /** What is wrong, for people. */
  message: string;
}

/** The body of a 422 answer, in Marathon's shape: `{message, details: [{path, errors}]}`. */
export interface ValidationResponseBody {
  /** Always `VALIDATION_ERROR`. */
  code: 'VALIDATION_ERROR';
  /** A summary naming the first field. */
  message: string;
  /** One entry per field, the path in JSON-pointer form (`/environmentVariables/0/name`). */
  details: { path: string; errors: string[] }[];
}

function hasMarker(value: unknown, marker: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

function mark(target: object, marker: symbol): void {
  Object.defineProperty(target, marker, { value: true });
}

/** `a.b.0` → `/a/b/0`. */
function pointerOf(path: string): string {
  return path === '' ? '/' : `/${path.split('.').join('/')}`;
}

function responseBodyOf(message: string, issues: readonly FieldIssue[]): ValidationResponseBody {
  const byPath = new Map<string, string[]>();
  for (const issue of issues) {
    const list = byPath.get(issue.path) ?? [];
    list.push(issue.message);
    byPath.set(issue.path, list);
  }
  return {
    code: 'VALIDATION_ERROR',
    message,
    details: [...byPath].map(([path, errors]) => ({ path: pointerOf(path), errors })),
  };
}

const JOB_VALIDATION = Symbol.for('stoa.chronos.JobValidationError');

/**
 * A job definition is invalid. `issues` lists every failing field; `field` (from `details.field`)
 * names the first, as a dotted path (`schedule`, `constraints.1`, `environmentVariables.0.name`).
 */
export class JobValidationError extends ValidationError {
  /** The HTTP status of this condition. */
  readonly status = 422;
  /** Every failing field. */
  readonly issues: readonly FieldIssue[];

  constructor(issues: readonly FieldIssue[], options?: StoaErrorOptions) {
    const first = issues[0] ?? { path: '', message: 'invalid job' };
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(`${first.path === '' ? 'job' : first.path}: ${first.message}${more}`, {
      ...options,
      details: { ...options?.details, field: first.path, issues: issues.map((i) => ({ ...i })) },
    });
    this.name = 'JobValidationError';
    this.issues = issues;
    mark(this, JOB_VALIDATION);
  }

  /** The 422 body for the REST API. */
  toResponseBody(): ValidationResponseBody {
    return responseBodyOf(this.message, this.issues);
  }

  /** True for a {@link JobValidationError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is JobValidationError {
    return hasMarker(value, JOB_VALIDATION);
  }
}

const SCHEDULE_PARSE = Symbol.for('stoa.chronos.ScheduleParseError');

/** Which part of a schedule expression is wrong. */
export type SchedulePart = 'format' | 'repetitions' | 'start' | 'period' | 'duration' | 'cron' | 'timeZone';

/**
 * A schedule, duration or time zone could not be parsed. `part` says which part of the expression
 * is wrong; `field` is `schedule`, `scheduleTimeZone` or `epsilon`.
 */
export class ScheduleParseError extends ValidationError {
  /** The HTTP status of this condition. */
  readonly status = 422;
  /** The part of the expression that is wrong. */
  readonly part: SchedulePart;
  /** The expression as given. */
  readonly expression: string;

  constructor(
    message: string,
    init: { part: SchedulePart; expression: string; field?: string },
    options?: StoaErrorOptions,
  ) {
    const field = init.field ?? (init.part === 'timeZone' ? 'scheduleTimeZone' : 'schedule');
    super(message, { ...options, details: { ...options?.details, field, part: init.part, expression: init.expression } });
    this.name = 'ScheduleParseError';
    this.part = init.part;
    this.expression = init.expression;
    mark(this, SCHEDULE_PARSE);
  }

  /** The 422 body for the REST API. */
  toResponseBody(): ValidationResponseBody {
    return responseBodyOf(this.message, [{ path: this.field ?? 'schedule', message: this.message }]);
  }

  /** True for a {@link ScheduleParseError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is ScheduleParseError {
    return hasMarker(value, SCHEDULE_PARSE);
  }
}

const DEPENDENCY_CYCLE = Symbol.for('stoa.chronos.DependencyCycleError');

/**
 * Giving a job these parents would close a cycle. `cycle` is the path, first and last the same
 * job: `['a', 'b', 'c', 'a']` means a is a parent of b, b of c, and c would become a parent of a.
 */
export class DependencyCycleError extends ValidationError {
  /** The HTTP status of this condition. */
  readonly status = 422;
  /** The cycle, parent before child, closing on its first element. */
  readonly cycle: readonly string[];

  constructor(cycle: readonly string[], options?: StoaErrorOptions) {
    super(`parents: dependency cycle ${cycle.join(' -> ')}`, {
      ...options,
      details: { ...options?.details, field: 'parents', cycle: [...cycle] },
    });
    this.name = 'DependencyCycleError';
    this.cycle = cycle;
    mark(this, DEPENDENCY_CYCLE);
  }

  /** The 422 body for the REST API. */
  toResponseBody(): ValidationResponseBody {
    return responseBodyOf(this.message, [{ path: 'parents', message: `dependency cycle ${this.cycle.join(' -> ')}` }]);
  }

  /** True for a {@link DependencyCycleError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is DependencyCycleError {
    return hasMarker(value, DEPENDENCY_CYCLE);
  }
}

const UNKNOWN_PARENT = Symbol.for('stoa.chronos.UnknownParentError');

/** A dependent job names a parent that is not a job. `field` is `parents.<i>`. */
export class UnknownParentError extends ValidationError {
  /** The HTTP status of this condition. */
  readonly status = 422;
  /** The job that names the parent. */
  readonly job: string;
  /** The missing parent. */
  readonly parent: string;

  constructor(job: string, parent: string, index: number, options?: StoaErrorOptions) {
    super(`parents.${index}: job '${job}' names parent '${parent}', which does not exist`, {
      ...options,
      details: { ...options?.details, field: `parents.${index}`, job, parent },
    });
    this.name = 'UnknownParentError';
    this.job = job;
    this.parent = parent;
    mark(this, UNKNOWN_PARENT);
  }

  /** The 422 body for the REST API. */
  toResponseBody(): ValidationResponseBody {
    return responseBodyOf(this.message, [{ path: this.field ?? 'parents', message: `unknown parent '${this.parent}'` }]);
  }

  /** True for an {@link UnknownParentError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is UnknownParentError {
    return hasMarker(value, UNKNOWN_PARENT);
  }
}

const JOB_HAS_CHILDREN = Symbol.for('stoa.chronos.JobHasChildrenError');

/** A job cannot be deleted while other jobs name it as a parent (unless forced). */
export class JobHasChildrenError extends InvalidOperationError {
  /** The HTTP status of this condition. */
  readonly status = 409;
  /** The job asked to be deleted. */
  readonly job: string;
  /** The jobs that depend on it. */
  readonly children: readonly string[];

  constructor(job: string, children: readonly string[], options?: StoaErrorOptions) {
    super(`job '${job}' is a parent of ${children.map((c) => `'${c}'`).join(', ')}; delete them first or force the delete`, {
      ...options,
      details: { ...options?.details, job, children: [...children] },
    });
    this.name = 'JobHasChildrenError';
    this.job = job;
    this.children = children;
    mark(this, JOB_HAS_CHILDREN);
  }

  /** True for a {@link JobHasChildrenError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is JobHasChildrenError {
    return hasMarker(value, JOB_HAS_CHILDREN);
  }
}

const INVALID_RUN_TRANSITION = Symbol.for('stoa.chronos.InvalidRunTransitionError');

/** An event does not apply to a run in its current status (for example RUNNING after SUCCEEDED). */
export class InvalidRunTransitionError extends InvalidOperationError {
  /** The HTTP status of this condition. */
  readonly status = 409;

  constructor(runId: string, from: string, event: string, options?: StoaErrorOptions) {
    super(`run '${runId}': ${event} does not apply to a ${from} run`, {
      ...options,
      details: { ...options?.details, runId, from, event },
    });
    this.name = 'InvalidRunTransitionError';
    mark(this, INVALID_RUN_TRANSITION);
  }

  /** True for an {@link InvalidRunTransitionError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is InvalidRunTransitionError {
    return hasMarker(value, INVALID_RUN_TRANSITION);
  }
}

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  VALIDATION_ERROR: 422,
  PROTOCOL_ERROR: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  INVALID_OPERATION: 409,
  UNAUTHORIZED: 403,
  NOT_LEADER: 503,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  NO_RESPONDERS: 503,
};

/**
 * The HTTP status for anything thrown: the error's own `status` when it has one, else by Stoa
 * error code (422 validation, 404 not found, 409 conflicts), else 500.
 */
export function httpStatusOf(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 600) return status;
  }
  if (StoaError.isInstance(error)) return STATUS_BY_CODE[error.code] ?? 500;
  return 500;
}
