/**
 * Cron schedules, a Stoa extension to Chronos' ISO 8601 ones: five fields (minute precision) or
 * six (with seconds first), evaluated by croner in an IANA time zone (UTC when none is given).
 *
 * Daylight saving follows croner, like Vixie cron: a job at a fixed time (`30 2 * * *`) whose
 * time falls in a spring-forward gap runs at the first valid time after the gap (03:00), and runs
 * once when the time occurs twice; a job with a wildcard or step in its time fields
 * (`*\/30 * * * *`) skips the times in a gap and runs on both occurrences of a repeated hour.
 *
 * @example
 * ```ts
 * const s = parseCronSchedule('30 2 * * *', 'Europe/Berlin');
 * s.next(Date.parse('2025-03-29T12:00:00Z')); // 2025-03-30T01:00:00Z (03:00 CEST)
 * ```
 * @module
 */

import { Cron } from 'croner';
import { ScheduleParseError } from '../errors.js';
import { isTimeZoneName } from './zone.js';

/** A parsed cron schedule. Make one with {@link parseCronSchedule}. */
export class CronSchedule {
  /** Which kind of schedule this is. */
  readonly kind = 'cron' as const;
  /** The expression as given. */
  readonly expression: string;
  /** The IANA zone the expression is read in. */
  readonly timeZone: string;
  /** Cron schedules repeat forever. */
  readonly remaining: undefined = undefined;
  readonly #cron: Cron;

  constructor(expression: string, timeZone: string, cron: Cron) {
    this.expression = expression;
    this.timeZone = timeZone;
    this.#cron = cron;
  }

  /** The first fire time strictly after `after` (ms), or `undefined` when the pattern never matches again (`0 0 30 2 *`). */
  next(after: number): number | undefined {
    const d = this.#cron.nextRun(new Date(after));
    return d === null ? undefined : d.getTime();
  }

  /** The expression, for storage. */
  toString(): string {
    return this.expression;
  }
}

/**
 * Parses a cron expression of 5 or 6 fields (or a nickname such as `@daily`) in an IANA zone.
 * Throws a {@link ScheduleParseError} with part `cron` for a bad expression and `timeZone` for an
 * unknown zone.
 */
export function parseCronSchedule(expression: string, timeZone = 'UTC'): CronSchedule {
  const zone = timeZone === '' ? 'UTC' : timeZone;
  if (!isTimeZoneName(zone)) {
    throw new ScheduleParseError(`scheduleTimeZone: '${zone}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`, {
      part: 'timeZone',
      expression,
    });
  }
  let cron: Cron;
  try {
    cron = new Cron(expression.trim(), { timezone: zone, mode: '5-or-6-parts', paused: true });
  } catch (e) {
    const why = (e as Error).message.replace(/^CronPattern: /, '');
    throw new ScheduleParseError(`schedule: '${expression}' is not a cron expression of 5 or 6 fields: ${why}`, { part: 'cron', expression }, { cause: e });
  }
  return new CronSchedule(expression, zone, cron);
}
