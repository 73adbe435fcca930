/**
 * Wall-clock arithmetic in a time zone: the conversions between an instant (ms since the epoch)
 * and the local date and time fields of an IANA zone or of a fixed UTC offset, built on `Intl`
 * so no time-zone database ships with the package.
 *
 * A local time that does not exist (the gap of a spring-forward transition) is moved forward by
 * the length of the gap, and a local time that occurs twice (fall back) takes the earlier
 * instant: the `'compatible'` disambiguation of Temporal and of `java.time`'s `ZonedDateTime.of`.
 *
 * @example
 * ```ts
 * const berlin = timeZone('Europe/Berlin');
 * instantOf({ year: 2025, month: 3, day: 30, hour: 2, minute: 30, second: 0, millisecond: 0 }, berlin);
 * // 2025-03-30T01:30:00Z (02:30 does not exist that night; 03:30 CEST)
 * ```
 * @module
 */

/** Local date and time fields. `month` counts from 1. */
export interface WallTime {
  year: number;
  /** 1–12. */
  month: number;
  /** 1–31. */
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

/** A time zone: an IANA name (`Europe/Berlin`) or a fixed offset from UTC. */
export type TimeZone =
  | { readonly kind: 'iana'; readonly name: string }
  | { readonly kind: 'fixed'; readonly offsetMs: number };

/** UTC as a {@link TimeZone}. */
export const UTC: TimeZone = { kind: 'fixed', offsetMs: 0 };

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(name: string): Intl.DateTimeFormat {
  let f = formatters.get(name);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(name, f);
  }
  return f;
}

/** Whether `name` is an IANA time-zone name this runtime knows (`Europe/Berlin`, `UTC`). */
export function isTimeZoneName(name: string): boolean {
  if (name === '' || name.trim() !== name) return false;
  try {
    formatterOf(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * The {@link TimeZone} for an IANA name. Throws a `RangeError` for a name the runtime does not
 * know; check with {@link isTimeZoneName} first where the name comes from a user.
 */
export function timeZone(name: string): TimeZone {
  if (!isTimeZoneName(name)) throw new RangeError(`unknown time zone '${name}'`);
  return { kind: 'iana', name };
}

/** A fixed-offset {@link TimeZone}, `offsetMinutes` east of UTC. */
export function fixedOffset(offsetMinutes: number): TimeZone {
  return { kind: 'fixed', offsetMs: offsetMinutes * 60_000 };
}

/** The offset from UTC (ms, east positive) that `zone` has at `instant`. */
export function offsetAt(instant: number, zone: TimeZone): number {
  if (zone.kind === 'fixed') return zone.offsetMs;
  const w = ianaWallTime(instant, zone.name);
  return utcOf(w) - (instant - msOfSecond(instant));
}

function msOfSecond(instant: number): number {
  return ((instant % 1000) + 1000) % 1000;
}

function ianaWallTime(instant: number, name: string): WallTime {
  const parts = formatterOf(name).formatToParts(new Date(instant));
  const w: WallTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, millisecond: 0 };
  let bc = false;
  for (const p of parts) {
    switch (p.type) {
      case 'year':
        w.year = Number(p.value);
        break;
      case 'month':
        w.month = Number(p.value);
        break;
      case 'day':
        w.day = Number(p.value);
        break;
      case 'hour':
        w.hour = Number(p.value);
        break;
      case 'minute':
        w.minute = Number(p.value);
        break;
      case 'second':
        w.second = Number(p.value);
        break;
      case 'era':
        bc = p.value === 'BC' || p.value === 'B';
        break;
    }
  }
  if (bc) w.year = 1 - w.year;
  return w;
}

/** The instant of a wall time read as UTC. Handles years below 100, which `Date.UTC` would shift. */
export function utcOf(w: WallTime): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, w.millisecond);
  return d.getTime();
}

/** The wall time of an instant read as UTC. */
export function wallTimeOfUtc(ms: number): WallTime {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    millisecond: d.getUTCMilliseconds(),
  };
}

/** The local date and time of `instant` in `zone`. */
export function wallTimeOf(instant: number, zone: TimeZone): WallTime {
  if (zone.kind === 'fixed') return wallTimeOfUtc(instant + zone.offsetMs);
  const w = ianaWallTime(instant, zone.name);
  w.millisecond = msOfSecond(instant);
  return w;
}

/**
 * The instant at which the clocks of `zone` show `wall`. Fields out of range are normalised first
 * (month 13 is January of the next year, day 0 the last day of the month before). A time in a
 * spring-forward gap moves forward by the gap; a time that occurs twice takes the earlier instant.
 */
export function instantOf(wall: WallTime, zone: TimeZone): number {
  const local = utcOf(wall);
  if (zone.kind === 'fixed') return local - zone.offsetMs;
  // Two candidates: the offsets a day before and a day after bracket any transition near `local`.
  const before = offsetAt(local - 86_400_000, zone);
  const after = offsetAt(local + 86_400_000, zone);
  const earlier = local - before;
  const later = local - after;
  const earlierOk = offsetAt(earlier, zone) === before;
  const laterOk = offsetAt(later, zone) === after;
  if (before === after) {
    // No transition nearby, or one the day-apart samples cannot see: ask the zone directly.
    const guess = local - before;
    const o = offsetAt(guess, zone);
    if (o === before) return guess;
    const second = local - o;
    if (offsetAt(second, zone) === o) return second;
    return guess;
  }
  if (earlierOk && laterOk) return Math.min(earlier, later); // fall back: the time occurs twice
  if (earlierOk) return earlier;
  if (laterOk) return later;
  // Spring forward: the wall time falls in the gap. Read it with the offset before the gap,
  // which lands the same distance past the gap's end.
  return local - before;
}
