import { describe, expect, it } from 'vitest';
import { parseJob } from '../job/schema.js';
import { dueRuns, dueRunsOf, latestFireTimeAtOrBefore } from './next.js';
import { parseSchedule } from './schedule.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const MIN = 60_000;
const hourly = parseSchedule('R/2025-01-01T00:00:00Z/PT1H');
const H = 3_600_000;

describe('dueRunsOf', () => {
  it('starts a fire time that is due and within the window', () => {
    const r = dueRunsOf(hourly, T0 + H - 1, T0 + H + 10, { windowMs: MIN });
    expect(r.start).toEqual([{ scheduledAt: T0 + H, kind: 'scheduled', lateMs: 10 }]);
    expect(r.missedCount).toBe(0);
    expect(r.lastScheduled).toBe(T0 + H);
    expect(r.next).toBe(T0 + 2 * H);
  });

  it('does nothing before the next fire time', () => {
    const r = dueRunsOf(hourly, T0, T0 + 30 * MIN, { windowMs: MIN });
    expect(r.start).toEqual([]);
    expect(r.lastScheduled).toBe(T0);
    expect(r.next).toBe(T0 + H);
  });

  it("skips fire times later than the window with catchUp 'none' (Chronos)", () => {
    const r = dueRunsOf(hourly, T0, T0 + 3 * H + 2 * MIN, { windowMs: MIN, catchUp: 'none' });
    expect(r.start).toEqual([]);
    expect(r.missed).toEqual([T0 + H, T0 + 2 * H, T0 + 3 * H]);
    expect(r.missedCount).toBe(3);
    expect(r.lastScheduled).toBe(T0 + 3 * H);
    expect(r.next).toBe(T0 + 4 * H);
  });

  it("runs the latest missed one with catchUp 'one'", () => {
    const r = dueRunsOf(hourly, T0, T0 + 3 * H + 2 * MIN, { windowMs: MIN, catchUp: 'one' });
    expect(r.start).toEqual([{ scheduledAt: T0 + 3 * H, kind: 'catch-up', lateMs: 2 * MIN }]);
    expect(r.missed).toEqual([T0 + H, T0 + 2 * H]);
    expect(r.missedCount).toBe(2);
  });

  it("does not add a catch-up run with 'one' when a fire time inside the window starts anyway", () => {
    const r = dueRunsOf(hourly, T0, T0 + 3 * H + 10, { windowMs: MIN, catchUp: 'one' });
    expect(r.start).toEqual([{ scheduledAt: T0 + 3 * H, kind: 'scheduled', lateMs: 10 }]);
    expect(r.missed).toEqual([T0 + H, T0 + 2 * H]);
  });

  it("runs every missed one in order with catchUp 'all'", () => {
    const r = dueRunsOf(hourly, T0, T0 + 3 * H + 10, { windowMs: MIN, catchUp: 'all' });
    expect(r.start.map((s) => [s.scheduledAt - T0, s.kind])).toEqual([
      [H, 'catch-up'],
      [2 * H, 'catch-up'],
      [3 * H, 'scheduled'],
    ]);
    expect(r.missedCount).toBe(0);
  });

  it('starts several fire times inside the window in order when the period is shorter than the window', () => {
    const everyMinute = parseSchedule('R/2025-01-01T00:00:00Z/PT1M');
    const r = dueRunsOf(everyMinute, T0, T0 + 3 * MIN, { windowMs: 5 * MIN });
    expect(r.start.map((s) => s.scheduledAt - T0)).toEqual([MIN, 2 * MIN, 3 * MIN]);
  });

  it('never returns a time twice when the clock goes backwards', () => {
    const first = dueRunsOf(hourly, T0, T0 + H, { windowMs: MIN });
    expect(first.start).toHaveLength(1);
    const back = dueRunsOf(hourly, first.lastScheduled, T0 + H - 10 * MIN, { windowMs: MIN, catchUp: 'all' });
    expect(back.start).toEqual([]);
    expect(back.missedCount).toBe(0);
    expect(back.lastScheduled).toBe(T0 + H);
    expect(back.next).toBe(T0 + 2 * H);
  });

  it('does not count fire times before a new job as missed', () => {
    const r = dueRunsOf(hourly, undefined, T0 + 5 * H + 30 * MIN, { windowMs: MIN, catchUp: 'all' });
    expect(r.start).toEqual([]);
    expect(r.missedCount).toBe(0);
    expect(r.next).toBe(T0 + 6 * H);
    const onTime = dueRunsOf(hourly, undefined, T0 + 5 * H + 30_000, { windowMs: MIN });
    expect(onTime.start.map((s) => s.scheduledAt)).toEqual([T0 + 5 * H]);
  });

  it('bounds the work of a huge forward jump', () => {
    const everySecond = parseSchedule('R/2025-01-01T00:00:00Z/PT1S');
    const now = T0 + 10 * 86_400_000 + 500; // ten days of missed seconds
    const none = dueRunsOf(everySecond, T0, now, { windowMs: 0, catchUp: 'none', limit: 100 });
    expect(none.start).toEqual([]);
    expect(none.missed).toHaveLength(100);
    expect(none.truncated).toBe(true);
    expect(none.next).toBeGreaterThan(now);

    const one = dueRunsOf(everySecond, T0, now, { windowMs: 0, catchUp: 'one', limit: 100 });
    expect(one.start).toEqual([{ scheduledAt: now - 500, kind: 'catch-up', lateMs: 500 }]);
    expect(one.next).toBeGreaterThan(now);

    const all = dueRunsOf(everySecond, T0, now, { windowMs: 0, catchUp: 'all', limit: 100 });
    expect(all.start).toHaveLength(100);
    expect(all.start[0]!.scheduledAt).toBe(T0 + 1000);
    expect(all.lastScheduled).toBe(T0 + 100_000);
    expect(all.next).toBe(T0 + 101_000); // already due: the caller comes back for the rest
  });

  it('finds the latest fire time at or before a time with next() alone', () => {
    expect(latestFireTimeAtOrBefore(hourly, T0 + 5 * H + 1, T0 - 1)).toBe(T0 + 5 * H);
    expect(latestFireTimeAtOrBefore(hourly, T0 + 5 * H, T0 - 1)).toBe(T0 + 5 * H);
    expect(latestFireTimeAtOrBefore(hourly, T0 - 1, T0 - 10 * H)).toBeUndefined();
    expect(latestFireTimeAtOrBefore(parseSchedule('0 9 * * MON'), Date.parse('2025-03-20T00:00:00Z'), T0)).toBe(Date.parse('2025-03-17T09:00:00Z'));
  });
});

describe('dueRuns', () => {
  it("uses the job's schedule, zone, window and policy", () => {
    const job = parseJob({ name: 'j', command: 'x', schedule: '30 2 * * *', scheduleTimeZone: 'Europe/Berlin', epsilon: 'PT10M', catchUp: 'one' });
    const fire = Date.parse('2025-03-30T01:00:00Z'); // 03:00 CEST on the spring-forward day
    expect(dueRuns(job, fire - 1, fire + 5 * MIN).start).toEqual([{ scheduledAt: fire, kind: 'scheduled', lateMs: 5 * MIN }]);
    expect(dueRuns(job, fire - 1, fire + 15 * MIN).start).toEqual([{ scheduledAt: fire, kind: 'catch-up', lateMs: 15 * MIN }]);
  });

  it('has nothing for a dependent or disabled job', () => {
    const dependent = parseJob({ name: 'c', command: 'x', parents: ['p'] });
    expect(dueRuns(dependent, 0, T0).start).toEqual([]);
    const disabled = parseJob({ name: 'd', command: 'x', schedule: 'R/2025-01-01T00:00:00Z/PT1H', disabled: true });
    expect(dueRuns(disabled, T0, T0 + H).next).toBeUndefined();
  });
});
