/**
 * One interface over both kinds of schedule: ISO 8601 repeating intervals (Chronos) and cron
 * expressions (a Stoa extension). {@link parseSchedule} tells them apart by form: an expression
 * that starts with `R` and a slash is ISO 8601, anything else is cron.
 *
 * @example
 * ```ts
 * const s = parseSchedule('R/2025-01-01T00:00:00Z/PT1H');
 * s.next(Date.parse('2025-01-01T00:30:00Z')); // 2025-01-01T01:00:00Z
 * parseSchedule('0 3 * * MON', 'Europe/Berlin').next(Date.now());
 * ```
 * @module
 */

import { parseCronSchedule } from './cron.js';
import { parseIso8601Schedule } from './iso8601.js';

/** When a job fires. */
export interface Schedule {
  /** `iso8601` or `cron`. */
  readonly kind: 'iso8601' | 'cron';
  /** The expression as given. */
  readonly expression: string;
  /** The IANA zone, when the schedule has one. */
  readonly timeZone: string | undefined;
  /** How many fire times the schedule has in all; `undefined` when it repeats forever. */
  readonly remaining?: number | undefined;
  /** The first fire time strictly after `after` (ms since the epoch), or `undefined` when there are no more. */
  next(after: number): number | undefined;
  /** The expression for storage, with anything relative (an empty ISO start) resolved. */
  toString(): string;
}

/** Whether an expression has the form of an ISO 8601 repeating interval (`R…/…`) rather than cron. */
export function isIso8601Expression(expression: string): boolean {
  return /^R\d*\//.test(expression);
}

/**
 * Parses a schedule: an ISO 8601 repeating interval `R[n]/<start>/<period>` or a cron expression
 * of 5 or 6 fields, in an optional IANA zone (`scheduleTimeZone`; cron defaults to UTC). `now`
 * is the start of an ISO schedule with an empty start. Throws a `ScheduleParseError` naming the
 * part that is wrong.
 */
export function parseSchedule(expression: string, timeZone?: string, now?: number): Schedule {
  if (isIso8601Expression(expression)) {
    return parseIso8601Schedule(expression, { timeZone, ...(now === undefined ? {} : { now }) });
  }
  return parseCronSchedule(expression, timeZone === undefined || timeZone === '' ? 'UTC' : timeZone);
}
