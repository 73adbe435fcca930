/**
 * ISO 8601 durations and repeating intervals, as Chronos schedules jobs: `R[n]/<start>/<period>`.
 *
 * - `R` repeats forever, `R5` fires five times, `R0` never fires.
 * - The start is a date-time with `Z` or an offset (`2025-03-30T02:30:00+01:00`), or a date
 *   (`2025-03-30`, midnight); empty means now. With a `scheduleTimeZone` the start's local fields
 *   are read in that zone and its offset is ignored, as Chronos does (`withZoneRetainFields`); the
 *   offset may then be left out.
 * - The period is calendar-aware in the schedule's zone: `P1M` is a calendar month (the day is
 *   clamped to the month's end: Jan 31 → Feb 28 → Mar 31), `P1D` a calendar day across daylight
 *   saving (the wall time stays), `PT24H` exactly 24 hours. The n-th fire time is
 *   `start + n × period`, computed from the start each time, as Chronos 3's `Schedule.addPeriods`
 *   does, so neither clamping nor a skipped hour drifts the schedule.
 *
 * @example
 * ```ts
 * const s = parseIso8601Schedule('R/2025-03-29T02:30:00/P1D', { timeZone: 'Europe/Berlin' });
 * s.next(Date.parse('2025-03-29T12:00:00Z')); // 2025-03-30T01:30:00Z: 03:30 CEST, 02:30 does not exist
 * s.next(Date.parse('2025-03-30T12:00:00Z')); // 2025-03-31T00:30:00Z: 02:30 CEST again
 * ```
 * @module
 */

import { ScheduleParseError } from '../errors.js';
import { fixedOffset, instantOf, isTimeZoneName, type TimeZone, timeZone, utcOf, type WallTime, wallTimeOf } from './zone.js';

/** An ISO 8601 duration, field by field (`P1Y2M3W4DT5H6M7.5S`). Only seconds may be fractional. */
export interface IsoDuration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const DURATION = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

/**
 * Parses an ISO 8601 duration: `P[n]Y[n]M[n]W[n]DT[n]H[n]M[n]S`, with `T` before the time
 * parts, at least one part, whole numbers except for the seconds (`PT1.5S`). Throws a
 * {@link ScheduleParseError} (part `duration`) naming `field`.
 */
export function parseIsoDuration(text: string, field = 'epsilon'): IsoDuration {
  const m = DURATION.exec(text);
  if (m === null) {
    throw new ScheduleParseError(
      `${field}: '${text}' is not an ISO 8601 duration (expected P[n]Y[n]M[n]W[n]DT[n]H[n]M[n]S, e.g. PT60S or P1D)`,
      { part: 'duration', expression: text, field },
    );
  }
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]!.replace(',', '.')));
  const d: IsoDuration = { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
  for (const value of Object.values(d)) {
    if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) {
      throw new ScheduleParseError(`${field}: '${text}' has a number too large`, { part: 'duration', expression: text, field });
    }
  }
  return d;
}

/** The canonical text of a duration: only its non-zero parts, `PT0S` for zero. */
export function formatIsoDuration(d: IsoDuration): string {
  const date = `${d.years ? `${d.years}Y` : ''}${d.months ? `${d.months}M` : ''}${d.weeks ? `${d.weeks}W` : ''}${d.days ? `${d.days}D` : ''}`;
  const time = `${d.hours ? `${d.hours}H` : ''}${d.minutes ? `${d.minutes}M` : ''}${d.seconds ? `${d.seconds}S` : ''}`;
  if (date === '' && time === '') return 'PT0S';
  return `P${date}${time === '' ? '' : `T${time}`}`;
}

/** The exact part of a duration (hours, minutes, seconds) in ms. */
export function timePartMs(d: IsoDuration): number {
  return Math.round((d.hours * 3600 + d.minutes * 60 + d.seconds) * 1000);
}

/** Whether a duration has calendar parts (years, months, weeks or days), whose length depends on the date and zone. */
export function hasCalendarPart(d: IsoDuration): boolean {
  return d.years !== 0 || d.months !== 0 || d.weeks !== 0 || d.days !== 0;
}

/**
 * The length of a duration in ms, with weeks and days taken as 7 × 24 and 24 hours; `undefined`
 * when it has years or months, which have no fixed length. For windows such as `epsilon`.
 */
export function fixedDurationMs(d: IsoDuration): number | undefined {
  if (d.years !== 0 || d.months !== 0) return undefined;
  return (d.weeks * 7 + d.days) * 86_400_000 + timePartMs(d);
}

/** A rough length of a duration in ms (a year of 365.2425 days, a month of a twelfth of that), to estimate counts. */
export function approximateDurationMs(d: IsoDuration): number {
  const day = 86_400_000;
  return d.years * 365.2425 * day + d.months * 30.436875 * day + (d.weeks * 7 + d.days) * day + timePartMs(d);
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0); // day 0 of the next month (month is 1-based here)
  return d.getUTCDate();
}

function addMonths(w: WallTime, months: number): void {
  if (months === 0) return;
  const total = w.year * 12 + (w.month - 1) + months;
  w.year = Math.floor(total / 12);
  w.month = total - w.year * 12 + 1;
  w.day = Math.min(w.day, daysInMonth(w.year, w.month));
}

/**
 * `instant + times × d` in `zone`, as Joda-Time adds a period: years, then months (each clamping
 * the day to the month's end), then weeks and days on the local date keeping the wall time, then
 * hours, minutes and seconds as exact time. `wall` is the wall time of `instant` in `zone`, when
 * the caller has it (an instant in a repeated hour reads back as the earlier one otherwise).
 */
export function addIsoDuration(instant: number, d: IsoDuration, times: number, zone: TimeZone, wall?: WallTime): number {
  const exact = timePartMs(d) * times;
  if (!hasCalendarPart(d)) return instant + exact;
  const w: WallTime = { ...(wall ?? wallTimeOf(instant, zone)) };
  addMonths(w, d.years * 12 * times);
  addMonths(w, d.months * times);
  w.day += (d.weeks * 7 + d.days) * times;
  return instantOf(w, zone) + exact;
}

/** The parts of a repeating interval, parsed. */
export interface Iso8601ScheduleParts {
  /** How many times it fires in all; `undefined` for forever (`R`). */
  repetitions: number | undefined;
  /** The first fire time (ms since the epoch). */
  start: number;
  /** The wall time of the start in {@link zone}. */
  startWall: WallTime;
  /** The zone that periods are added in: the `scheduleTimeZone`, or the start's own offset. */
  zone: TimeZone;
  /** The IANA name when the schedule has a `scheduleTimeZone`. */
  timeZoneName: string | undefined;
  /** The period between fire times. */
  period: IsoDuration;
}

const START = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

function fail(message: string, part: 'format' | 'repetitions' | 'start' | 'period' | 'timeZone', expression: string): never {
  throw new ScheduleParseError(message, { part, expression });
}

function parseOffset(text: string, expression: string): number {
  if (text === 'Z') return 0;
  const sign = text[0] === '-' ? -1 : 1;
  const digits = text.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59 || digits.length === 3) fail(`schedule: start offset '${text}' is not ±hh:mm`, 'start', expression);
  return sign * (hours * 60 + minutes);
}

/** Options of {@link parseIso8601Schedule}. */
export interface ParseIso8601Options {
  /** The IANA zone of the schedule (`scheduleTimeZone`); its fields win over the start's offset. */
  timeZone?: string | undefined;
  /** Now (ms), the start of a schedule with an empty start. @default Date.now() */
  now?: number;
}

/**
 * Parses `R[n]/<start>/<period>` into its parts. Throws a {@link ScheduleParseError} whose
 * `part` names what is wrong: `format`, `repetitions`, `start`, `period` or `timeZone`.
 */
export function parseIso8601Parts(expression: string, options: ParseIso8601Options = {}): Iso8601ScheduleParts {
  const pieces = expression.split('/');
  if (pieces.length !== 3) {
    fail(`schedule: '${expression}' is not an ISO 8601 repeating interval R[n]/<start>/<period>`, 'format', expression);
  }
  const [rep, startText, periodText] = pieces as [string, string, string];
  if (!/^R\d*$/.test(rep)) fail(`schedule: repetitions '${rep}' must be R (forever) or R<n>`, 'repetitions', expression);
  const repetitions = rep.length === 1 ? undefined : Number(rep.slice(1));
  if (repetitions !== undefined && !Number.isSafeInteger(repetitions)) {
    fail(`schedule: repetitions '${rep}' is too large`, 'repetitions', expression);
  }

  const tzName = options.timeZone === undefined || options.timeZone === '' ? undefined : options.timeZone;
  if (tzName !== undefined && !isTimeZoneName(tzName)) {
    fail(`scheduleTimeZone: '${tzName}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`, 'timeZone', expression);
  }

  let period: IsoDuration;
  try {
    period = parseIsoDuration(periodText, 'schedule');
  } catch {
    fail(`schedule: period '${periodText}' is not an ISO 8601 duration (e.g. PT1H, P1D, P1M)`, 'period', expression);
  }
  if (approximateDurationMs(period) < 1) fail(`schedule: period '${periodText}' must be longer than zero`, 'period', expression);

  let zone: TimeZone;
  let start: number;
  let startWall: WallTime;
  if (startText === '') {
    start = options.now ?? Date.now();
    zone = tzName === undefined ? fixedOffset(0) : timeZone(tzName);
    startWall = wallTimeOf(start, zone);
  } else {
    const m = START.exec(startText);
    if (m === null) {
      fail(`schedule: start '${startText}' is not an ISO 8601 date-time (YYYY-MM-DDThh:mm:ss[.sss](Z|±hh:mm))`, 'start', expression);
    }
    const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
    startWall = {
      year: Number(m[1]),
      month: Number(m[2]),
      day: Number(m[3]),
      hour: m[4] === undefined ? 0 : Number(m[4]),
      minute: m[5] === undefined ? 0 : Number(m[5]),
      second: m[6] === undefined ? 0 : Number(m[6]),
      millisecond: fraction,
    };
    const w = startWall;
    if (w.month < 1 || w.month > 12 || w.day < 1 || w.day > daysInMonth(w.year, w.month) || w.hour > 23 || w.minute > 59 || w.second > 59) {
      fail(`schedule: start '${startText}' is not a valid date and time`, 'start', expression);
    }
    if (tzName !== undefined) {
      zone = timeZone(tzName);
    } else if (m[8] !== undefined) {
      zone = fixedOffset(parseOffset(m[8], expression));
    } else if (m[4] === undefined) {
      zone = fixedOffset(0); // a date alone: midnight UTC
    } else {
      fail(`schedule: start '${startText}' needs Z or an offset (±hh:mm), or a scheduleTimeZone`, 'start', expression);
    }
    start = instantOf(startWall, zone);
    // A start in a spring-forward gap fires at the moved time; later fire times keep the written fields.
  }
  return { repetitions, start, startWall, zone, timeZoneName: tzName, period };
}

function pad(n: number, width = 2): string {
  return String(Math.abs(n)).padStart(width, '0');
}

function formatWall(w: WallTime, offsetMs: number): string {
  const offsetMin = Math.round(offsetMs / 60_000);
  const off = offsetMin === 0 ? 'Z' : `${offsetMin < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(offsetMin) / 60))}:${pad(Math.abs(offsetMin) % 60)}`;
  const year = w.year < 0 || w.year > 9999 ? `${w.year < 0 ? '-' : '+'}${pad(w.year, 6)}` : pad(w.year, 4);
  return `${year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}.${pad(w.millisecond, 3)}${off}`;
}

/** An instant as ISO 8601 in a zone: `2025-03-30T03:30:00.000+02:00`, `…Z` at offset zero. */
export function formatInstant(instant: number, zone: TimeZone = fixedOffset(0)): string {
  const w = wallTimeOf(instant, zone);
  return formatWall(w, utcOf(w) - instant);
}

/** Writes a repeating interval: `R5/2025-03-30T02:30:00.000+01:00/P1D` (`R/…` when forever). */
export function formatIso8601Schedule(repetitions: number | undefined, start: string, period: IsoDuration | string): string {
  return `R${repetitions === undefined ? '' : repetitions}/${start}/${typeof period === 'string' ? period : formatIsoDuration(period)}`;
}

/** A parsed ISO 8601 repeating-interval schedule. Make one with {@link parseIso8601Schedule}. */
export class Iso8601Schedule {
  /** Which kind of schedule this is. */
  readonly kind = 'iso8601' as const;
  /** The expression as given. */
  readonly expression: string;
  /** The parsed parts. */
  readonly parts: Iso8601ScheduleParts;
  /** How many fire times the schedule has in all; `undefined` when it repeats forever. */
  readonly remaining: number | undefined;
  readonly #fixedMs: number | undefined;
  readonly #approxMs: number;

  constructor(expression: string, parts: Iso8601ScheduleParts) {
    this.expression = expression;
    this.parts = parts;
    this.remaining = parts.repetitions;
    this.#fixedMs = hasCalendarPart(parts.period) ? undefined : timePartMs(parts.period);
    this.#approxMs = approximateDurationMs(parts.period);
  }

  /** The IANA zone of the schedule, when it has one. */
  get timeZone(): string | undefined {
    return this.parts.timeZoneName;
  }

  /** The n-th fire time (from 0), whether or not the repetitions reach it. */
  occurrence(n: number): number {
    const { start, startWall, zone, period } = this.parts;
    if (this.#fixedMs !== undefined) return start + n * this.#fixedMs;
    if (n === 0) return start;
    return addIsoDuration(start, period, n, zone, startWall);
  }

  /** The index of the first fire time after `after`, ignoring the repetitions. */
  #indexAfter(after: number): number {
    const { start } = this.parts;
    if (after < start) return 0;
    if (this.#fixedMs !== undefined) return Math.floor((after - start) / this.#fixedMs) + 1;
    let n = Math.max(0, Math.floor((after - start) / this.#approxMs));
    // The estimate is off by a few at most (month lengths, DST); walk to the exact index.
    while (n > 0 && this.occurrence(n - 1) > after) n--;
    while (this.occurrence(n) <= after) n++;
    return n;
  }

  /** The first fire time strictly after `after` (ms), or `undefined` when there are no more. */
  next(after: number): number | undefined {
    const reps = this.parts.repetitions;
    if (reps === 0) return undefined;
    const n = this.#indexAfter(after);
    if (reps !== undefined && n >= reps) return undefined;
    return this.occurrence(n);
  }

  /** How many fire times are left after `after`; `undefined` when it repeats forever. */
  remainingAfter(after: number): number | undefined {
    const reps = this.parts.repetitions;
    if (reps === undefined) return undefined;
    return Math.max(0, reps - this.#indexAfter(after));
  }

  /**
   * The schedule as Chronos shows it in a job listing: the repetitions left, the next fire time
   * after `after` and the period (`R3/2025-03-31T02:30:00.000+02:00/P1D`), or `undefined` when the
   * schedule is exhausted. For display only: re-parsing it re-anchors the schedule on that fire
   * time, which loses a clamped day of month.
   */
  describeFrom(after: number): string | undefined {
    const next = this.next(after);
    if (next === undefined) return undefined;
    return formatIso8601Schedule(this.remainingAfter(after), formatInstant(next, this.parts.zone), this.parts.period);
  }

  /** The schedule with its start resolved (an empty start becomes the parse time), for storage. */
  toString(): string {
    const { repetitions, start, startWall, period } = this.parts;
    // The written fields with the offset that makes them the start instant: a start in a DST gap
    // keeps its fields, so the stored text re-parses to the same schedule.
    return formatIso8601Schedule(repetitions, formatWall(startWall, utcOf(startWall) - start), period);
  }
}

/**
 * Parses an ISO 8601 repeating interval `R[n]/<start>/<period>` in an optional IANA zone. Throws
 * a {@link ScheduleParseError} naming the part that is wrong.
 */
export function parseIso8601Schedule(expression: string, options: ParseIso8601Options = {}): Iso8601Schedule {
  return new Iso8601Schedule(expression, parseIso8601Parts(expression, options));
}
