import { describe, expect, it } from 'vitest';
import { ScheduleParseError } from '../errors.js';
import { parseCronSchedule } from './cron.js';
import { isIso8601Expression, parseSchedule } from './schedule.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function fireTimes(expr: string, tz: string, from: string, count: number): (string | undefined)[] {
  const s = parseCronSchedule(expr, tz);
  const out: (string | undefined)[] = [];
  let t: number | undefined = Date.parse(from);
  for (let i = 0; i < count && t !== undefined; i++) {
    t = s.next(t);
    out.push(iso(t));
  }
  return out;
}

describe('cron schedules', () => {
  it('runs a daily 02:30 job at 03:00 on the spring-forward day (Europe/Berlin)', () => {
    expect(fireTimes('30 2 * * *', 'Europe/Berlin', '2025-03-28T12:00:00Z', 3)).toEqual([
      '2025-03-29T01:30:00.000Z', // 02:30 CET
      '2025-03-30T01:00:00.000Z', // 03:00 CEST, the first valid time after the gap
      '2025-03-31T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('runs a daily 01:30 job once on the fall-back day (America/New_York)', () => {
    expect(fireTimes('30 1 * * *', 'America/New_York', '2025-11-01T12:00:00Z', 2)).toEqual([
      '2025-11-02T05:30:00.000Z', // 01:30 EDT only
      '2025-11-03T06:30:00.000Z',
    ]);
  });

  it('runs an interval job on both occurrences of the repeated hour (America/New_York)', () => {
    expect(fireTimes('*/30 * * * *', 'America/New_York', '2025-11-02T04:45:00Z', 4)).toEqual([
      '2025-11-02T05:00:00.000Z', // 01:00 EDT
      '2025-11-02T05:30:00.000Z', // 01:30 EDT
      '2025-11-02T06:00:00.000Z', // 01:00 EST
      '2025-11-02T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it('takes six fields with seconds, and UTC by default', () => {
    expect(fireTimes('*/15 * * * * *', 'UTC', '2025-01-01T00:00:00.500Z', 2)).toEqual(['2025-01-01T00:00:15.000Z', '2025-01-01T00:00:30.000Z']);
    expect(parseSchedule('0 0 * * *').timeZone).toBe('UTC');
  });

  it('has no next fire time for a date that never comes', () => {
    expect(parseCronSchedule('0 0 30 2 *').next(0)).toBeUndefined();
  });

  it.each([
    ['61 * * * *', 'cron'],
    ['* * * *', 'cron'],
    ['0 0 0 1 1 * 2030', 'cron'],
    ['every day', 'cron'],
  ])('rejects %j', (expr, part) => {
    try {
      parseCronSchedule(expr);
      expect.fail('parsed');
    } catch (e) {
      expect(ScheduleParseError.isInstance(e)).toBe(true);
      expect((e as ScheduleParseError).part).toBe(part);
      expect((e as ScheduleParseError).message).toContain(expr);
    }
  });

  it('rejects an unknown zone', () => {
    expect(() => parseCronSchedule('* * * * *', 'Moon/Tranquility')).toThrow(/scheduleTimeZone/);
  });

  it('is told apart from ISO 8601 by form', () => {
    expect(isIso8601Expression('R/2025-01-01T00:00:00Z/PT1H')).toBe(true);
    expect(isIso8601Expression('R5//PT1H')).toBe(true);
    expect(isIso8601Expression('0 * * * *')).toBe(false);
    expect(parseSchedule('R/2025-01-01T00:00:00Z/PT1H').kind).toBe('iso8601');
    expect(parseSchedule('@hourly').kind).toBe('cron');
  });
});
