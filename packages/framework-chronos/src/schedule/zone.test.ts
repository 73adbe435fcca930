import { describe, expect, it } from 'vitest';
import { fixedOffset, instantOf, isTimeZoneName, offsetAt, timeZone, wallTimeOf } from './zone.js';

const berlin = timeZone('Europe/Berlin');
const newYork = timeZone('America/New_York');
const wall = (year: number, month: number, day: number, hour: number, minute = 0) => ({ year, month, day, hour, minute, second: 0, millisecond: 0 });

describe('time zones', () => {
  it('knows IANA names and rejects others', () => {
    expect(isTimeZoneName('Europe/Berlin')).toBe(true);
    expect(isTimeZoneName('UTC')).toBe(true);
    expect(isTimeZoneName('Mars/Olympus')).toBe(false);
    expect(isTimeZoneName('')).toBe(false);
    expect(() => timeZone('Nowhere/Town')).toThrow(RangeError);
  });

  it('reads offsets in winter and summer', () => {
    expect(offsetAt(Date.parse('2025-01-15T12:00:00Z'), berlin)).toBe(3_600_000);
    expect(offsetAt(Date.parse('2025-07-15T12:00:00Z'), berlin)).toBe(7_200_000);
    expect(offsetAt(Date.parse('2025-07-15T12:00:00.999Z'), newYork)).toBe(-4 * 3_600_000);
    expect(offsetAt(0, fixedOffset(-90))).toBe(-90 * 60_000);
  });

  it('moves a wall time in the spring-forward gap forward by the gap', () => {
    expect(new Date(instantOf(wall(2025, 3, 30, 2, 30), berlin)).toISOString()).toBe('2025-03-30T01:30:00.000Z');
    expect(new Date(instantOf(wall(2025, 3, 9, 2, 30), newYork)).toISOString()).toBe('2025-03-09T07:30:00.000Z');
  });

  it('takes the earlier instant of a wall time that occurs twice', () => {
    expect(new Date(instantOf(wall(2025, 10, 26, 2, 30), berlin)).toISOString()).toBe('2025-10-26T00:30:00.000Z');
    expect(new Date(instantOf(wall(2025, 11, 2, 1, 30), newYork)).toISOString()).toBe('2025-11-02T05:30:00.000Z');
  });

  it('round-trips ordinary wall times and normalises overflowing fields', () => {
    const t = Date.parse('2025-06-01T10:15:30.250Z');
    expect(instantOf(wallTimeOf(t, berlin), berlin)).toBe(t);
    expect(wallTimeOf(t, berlin)).toEqual({ year: 2025, month: 6, day: 1, hour: 12, minute: 15, second: 30, millisecond: 250 });
    expect(new Date(instantOf(wall(2025, 13, 32, 0), fixedOffset(0))).toISOString()).toBe('2026-02-01T00:00:00.000Z');
  });
});
