import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScheduleParseError } from '../errors.js';
import {
  fixedDurationMs,
  formatInstant,
  formatIsoDuration,
  parseIso8601Schedule,
  parseIsoDuration,
} from './iso8601.js';
import { timeZone } from './zone.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const at = (s: string) => Date.parse(s);

function fireTimes(expr: string, from: string, count: number, tz?: string): (string | undefined)[] {
  const s = parseIso8601Schedule(expr, { timeZone: tz });
  const out: (string | undefined)[] = [];
  let t: number | undefined = at(from);
  for (let i = 0; i < count && t !== undefined; i++) {
    t = s.next(t);
    out.push(iso(t));
  }
  return out;
}

describe('ISO 8601 durations', () => {
  it('parses every part, with fractional seconds', () => {
    expect(parseIsoDuration('P1Y2M3W4DT5H6M7.5S')).toEqual({ years: 1, months: 2, weeks: 3, days: 4, hours: 5, minutes: 6, seconds: 7.5 });
    expect(parseIsoDuration('PT60S')).toMatchObject({ seconds: 60 });
    expect(parseIsoDuration('P10M')).toMatchObject({ months: 10, minutes: 0 });
    expect(parseIsoDuration('PT10M')).toMatchObject({ months: 0, minutes: 10 });
  });

  it.each(['', 'P', 'PT', '1D', 'P1H', 'PT1D', 'P-1D', 'P1.5D', 'p1d', 'P1DT'])('rejects %j naming the field', (text) => {
    const e = (() => {
      try {
        parseIsoDuration(text, 'epsilon');
      } catch (err) {
        return err;
      }
    })();
    expect(ScheduleParseError.isInstance(e)).toBe(true);
    expect((e as ScheduleParseError).part).toBe('duration');
    expect((e as ScheduleParseError).field).toBe('epsilon');
  });

  it('formats canonically and measures fixed durations', () => {
    expect(formatIsoDuration(parseIsoDuration('PT90M'))).toBe('PT90M');
    expect(formatIsoDuration(parseIsoDuration('P1DT0H'))).toBe('P1D');
    expect(formatIsoDuration(parseIsoDuration('PT0S'))).toBe('PT0S');
    expect(fixedDurationMs(parseIsoDuration('P1W1DT1S'))).toBe(8 * 86_400_000 + 1000);
    expect(fixedDurationMs(parseIsoDuration('P1M'))).toBeUndefined();
  });
});

describe('ISO 8601 repeating intervals', () => {
  it('fires from the start every period', () => {
    expect(fireTimes('R/2025-01-01T00:00:00Z/PT1H', '2024-12-31T00:00:00Z', 3)).toEqual([
      '2025-01-01T00:00:00.000Z',
      '2025-01-01T01:00:00.000Z',
      '2025-01-01T02:00:00.000Z',
    ]);
    // next() is strictly after: a fire time equal to `after` is not returned again
    expect(fireTimes('R/2025-01-01T00:00:00Z/PT1H', '2025-01-01T01:00:00Z', 1)).toEqual(['2025-01-01T02:00:00.000Z']);
  });

  it('counts repetitions: Rn fires n times, R0 never, R forever', () => {
    expect(fireTimes('R3/2025-01-01T00:00:00Z/P1D', '2024-01-01T00:00:00Z', 5)).toEqual([
      '2025-01-01T00:00:00.000Z',
      '2025-01-02T00:00:00.000Z',
      '2025-01-03T00:00:00.000Z',
      undefined,
    ]);
    expect(parseIso8601Schedule('R0/2025-01-01T00:00:00Z/P1D').next(0)).toBeUndefined();
    const forever = parseIso8601Schedule('R/2025-01-01T00:00:00Z/P1D');
    expect(forever.remaining).toBeUndefined();
    expect(iso(forever.next(at('2125-01-01T00:00:00Z')))).toBe('2125-01-02T00:00:00.000Z');
    const three = parseIso8601Schedule('R3/2025-01-01T00:00:00Z/P1D');
    expect(three.remaining).toBe(3);
    expect(three.remainingAfter(at('2025-01-01T12:00:00Z'))).toBe(2);
  });

  it('starts now when the start is empty', () => {
    const now = at('2025-05-05T05:05:05Z');
    const s = parseIso8601Schedule('R//PT10M', { now });
    expect(s.next(now - 1)).toBe(now);
    expect(s.next(now)).toBe(now + 600_000);
    expect(s.toString()).toBe('R/2025-05-05T05:05:05.000Z/PT10M');
  });

  it('adds calendar months without drifting: Jan 31 → Feb 28 → Mar 31', () => {
    expect(fireTimes('R/2025-01-31T12:00:00Z/P1M', '2025-01-01T00:00:00Z', 4)).toEqual([
      '2025-01-31T12:00:00.000Z',
      '2025-02-28T12:00:00.000Z',
      '2025-03-31T12:00:00.000Z',
      '2025-04-30T12:00:00.000Z',
    ]);
    expect(fireTimes('R/2024-02-29T00:00:00Z/P1Y', '2024-01-01T00:00:00Z', 3)).toEqual([
      '2024-02-29T00:00:00.000Z',
      '2025-02-28T00:00:00.000Z',
      '2026-02-28T00:00:00.000Z',
    ]);
  });

  it('keeps the wall time across DST with P1D and moves it with PT24H (Europe/Berlin)', () => {
    expect(fireTimes('R/2025-03-28T02:30:00/P1D', '2025-03-28T00:00:00Z', 4, 'Europe/Berlin')).toEqual([
      '2025-03-28T01:30:00.000Z', // 02:30 CET
      '2025-03-29T01:30:00.000Z', // 02:30 CET
      '2025-03-30T01:30:00.000Z', // 02:30 does not exist: 03:30 CEST
      '2025-03-31T00:30:00.000Z', // 02:30 CEST
    ]);
    expect(fireTimes('R/2025-03-29T12:00:00/PT24H', '2025-03-29T00:00:00Z', 3, 'Europe/Berlin')).toEqual([
      '2025-03-29T11:00:00.000Z',
      '2025-03-30T11:00:00.000Z', // 13:00 CEST: exactly 24 hours later
      '2025-03-31T11:00:00.000Z',
    ]);
  });

  it('fires once on the repeated hour of a fall-back day (America/New_York)', () => {
    expect(fireTimes('R/2025-11-01T01:30:00/P1D', '2025-11-01T00:00:00Z', 3, 'America/New_York')).toEqual([
      '2025-11-01T05:30:00.000Z', // 01:30 EDT
      '2025-11-02T05:30:00.000Z', // 01:30 EDT, the first of the two
      '2025-11-03T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it('reads the start in scheduleTimeZone, ignoring its offset, as Chronos does', () => {
    const s = parseIso8601Schedule('R/2025-07-01T09:00:00Z/P1D', { timeZone: 'America/New_York' });
    expect(iso(s.next(0))).toBe('2025-07-01T13:00:00.000Z');
    expect(s.timeZone).toBe('America/New_York');
  });

  it('accepts a date alone and offsets in several forms', () => {
    expect(iso(parseIso8601Schedule('R/2025-07-01/P1D').next(0))).toBe('2025-07-01T00:00:00.000Z');
    expect(iso(parseIso8601Schedule('R/2025-07-01T09:00+0530/P1D').next(0))).toBe('2025-07-01T03:30:00.000Z');
    expect(iso(parseIso8601Schedule('R/2025-07-01T09:00:00.5-02/P1D').next(0))).toBe('2025-07-01T11:00:00.500Z');
  });

  it.each([
    ['2025-01-01T00:00:00Z/PT1H', 'format'],
    ['R/2025-01-01T00:00:00Z/PT1H/x', 'format'],
    ['RX/2025-01-01T00:00:00Z/PT1H', 'repetitions'],
    ['R1.5/2025-01-01T00:00:00Z/PT1H', 'repetitions'],
    ['R/2025-13-01T00:00:00Z/PT1H', 'start'],
    ['R/2025-02-30T00:00:00Z/PT1H', 'start'],
    ['R/2025-01-01T00:00:00/PT1H', 'start'],
    ['R/yesterday/PT1H', 'start'],
    ['R/2025-01-01T00:00:00Z/1H', 'period'],
    ['R/2025-01-01T00:00:00Z/PT0S', 'period'],
  ])('rejects %s naming the %s', (expr, part) => {
    try {
      parseIso8601Schedule(expr);
      expect.fail('parsed');
    } catch (e) {
      expect(ScheduleParseError.isInstance(e)).toBe(true);
      expect((e as ScheduleParseError).part).toBe(part);
      expect((e as ScheduleParseError).field).toBe('schedule');
    }
  });

  it('rejects an unknown time zone naming scheduleTimeZone', () => {
    try {
      parseIso8601Schedule('R/2025-01-01T00:00:00Z/PT1H', { timeZone: 'Europe/Atlantis' });
      expect.fail('parsed');
    } catch (e) {
      expect((e as ScheduleParseError).part).toBe('timeZone');
      expect((e as ScheduleParseError).field).toBe('scheduleTimeZone');
    }
  });

  it('describes itself as Chronos lists it, and stores a text that parses back to the same schedule', () => {
    const s = parseIso8601Schedule('R5/2025-03-28T02:30:00/P1D', { timeZone: 'Europe/Berlin' });
    expect(s.describeFrom(at('2025-03-29T12:00:00Z'))).toBe('R3/2025-03-30T03:30:00.000+02:00/P1D');
    expect(s.describeFrom(at('2026-01-01T00:00:00Z'))).toBeUndefined();
    const again = parseIso8601Schedule(s.toString(), { timeZone: 'Europe/Berlin' });
    for (let t = at('2025-03-27T00:00:00Z'), i = 0; i < 6; i++) {
      expect(again.next(t)).toBe(s.next(t));
      t = s.next(t) ?? t + 1;
    }
    expect(formatInstant(at('2025-01-01T00:00:00Z'), timeZone('Asia/Kolkata'))).toBe('2025-01-01T05:30:00.000+05:30');
  });

  it('property: next(after) is the first fire time after `after`, for calendar periods in a DST zone', () => {
    const periods = ['P1D', 'P1M', 'P1W', 'PT7H', 'P1DT1H', 'P2M3D', 'P1Y'];
    fc.assert(
      fc.property(
        fc.constantFrom(...periods),
        fc.constantFrom('Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'UTC'),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: -10 * 86_400_000, max: 800 * 86_400_000 }),
        (period, tz, startOffsetMin, afterOffset) => {
          const start = new Date(Date.UTC(2024, 0, 1) + startOffsetMin * 60_000).toISOString().slice(0, 19);
          const s = parseIso8601Schedule(`R/${start}/${period}`, { timeZone: tz });
          const after = Date.UTC(2024, 0, 1) + afterOffset;
          const next = s.next(after)!;
          expect(next).toBeGreaterThan(after);
          // no fire time between `after` and `next`: the one before next is at or before `after`
          let n = 0;
          while (s.occurrence(n) < next) n++;
          expect(s.occurrence(n)).toBe(next);
          if (n > 0) expect(s.occurrence(n - 1)).toBeLessThanOrEqual(after);
        },
      ),
      { numRuns: 300 },
    );
  });
});
