import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Job, parseJob } from '../job/schema.js';
import type { DueKind } from '../schedule/next.js';
import { parseSchedule } from '../schedule/schedule.js';
import { MAX_TIMER_DELAY_MS, type MissedFireTimes, ScheduleEngine } from './engine.js';
import { ManualClock, ManualTimers } from './manual-time.js';

const MIN = 60_000;
const H = 3_600_000;
const DAY = 86_400_000;

interface Fired {
  name: string;
  at: number;
  kind: DueKind;
  now: number;
}

function setup(start: string | number, options: { limit?: number } = {}) {
  const clock = new ManualClock(typeof start === 'number' ? start : Date.parse(start));
  const timers = new ManualTimers(clock);
  const fired: Fired[] = [];
  const missed: [string, MissedFireTimes][] = [];
  const engine = new ScheduleEngine({
    clock,
    timers,
    onDue: (name, at, kind) => fired.push({ name, at, kind, now: clock.now() }),
    onMissed: (name, m) => missed.push([name, m]),
    ...options,
  });
  return { clock, timers, engine, fired, missed };
}

const job = (name: string, schedule: string, extra: Record<string, unknown> = {}): Job =>
  parseJob({ name, command: 'true', schedule, ...extra });
const iso = (t: number) => new Date(t).toISOString();

describe('ScheduleEngine', () => {
  it('keeps one timer for all jobs and fires each in time order', () => {
    const { engine, timers, fired } = setup('2025-01-01T00:00:00Z');
    engine.upsert(job('b', 'R/2025-01-01T00:20:00Z/PT30M'));
    engine.upsert(job('a', 'R/2025-01-01T00:10:00Z/PT30M'));
    engine.upsert(job('c', 'R3/2025-01-01T00:30:00Z/PT1H'));
    expect(timers.pending).toBe(1);
    expect(engine.armedFor).toBe(Date.parse('2025-01-01T00:10:00Z'));
    timers.advance(H);
    expect(fired.map((f) => `${f.name}@${iso(f.at).slice(11, 16)}`)).toEqual(['a@00:10', 'b@00:20', 'c@00:30', 'a@00:40', 'b@00:50']);
    expect(fired.every((f) => f.now === f.at && f.kind === 'scheduled')).toBe(true);
    expect(timers.pending).toBe(1);
  });

  it('hands fire times over leadMs ahead, with their due time unchanged, and misses nothing more', () => {
    const clock = new ManualClock(Date.parse('2025-01-01T00:00:00Z'));
    const timers = new ManualTimers(clock);
    const fired: Fired[] = [];
    const missed: [string, MissedFireTimes][] = [];
    const engine = new ScheduleEngine({
      clock,
      timers,
      leadMs: 5000,
      onDue: (name, at, kind) => fired.push({ name, at, kind, now: clock.now() }),
      onMissed: (name, m) => missed.push([name, m]),
    });
    engine.upsert(job('a', 'R/2025-01-01T00:01:00Z/PT1M'));
    expect(engine.armedFor).toBe(Date.parse('2025-01-01T00:01:00Z'));
    timers.advance(3 * MIN);
    expect(fired.map((f) => [iso(f.at), iso(f.now)])).toEqual([
      ['2025-01-01T00:01:00.000Z', '2025-01-01T00:00:55.000Z'],
      ['2025-01-01T00:02:00.000Z', '2025-01-01T00:01:55.000Z'],
      ['2025-01-01T00:03:00.000Z', '2025-01-01T00:02:55.000Z'],
    ]);
    expect(engine.progressOf('a')?.lastScheduled).toBe(Date.parse('2025-01-01T00:03:00Z'));
    // A fire time 50 s late (within the default 60 s window) still starts.
    clock.set(Date.parse('2025-01-01T00:04:50Z'));
    engine.runDue();
    expect(fired.at(-1)!.at).toBe(Date.parse('2025-01-01T00:04:00Z'));
    expect(missed).toEqual([]);
  });

  it('re-arms when an earlier job arrives or the earliest leaves, and disarms when empty', () => {
    const { engine, timers } = setup('2025-01-01T00:00:00Z');
    engine.upsert(job('late', 'R/2025-01-01T05:00:00Z/PT1H'));
    expect(engine.armedFor).toBe(Date.parse('2025-01-01T05:00:00Z'));
    engine.upsert(job('early', 'R/2025-01-01T01:00:00Z/PT1H'));
    expect(engine.armedFor).toBe(Date.parse('2025-01-01T01:00:00Z'));
    expect(engine.remove('early')).toBe(true);
    expect(engine.armedFor).toBe(Date.parse('2025-01-01T05:00:00Z'));
    engine.upsert(job('late', 'R/2025-01-01T05:00:00Z/PT1H', { disabled: true }));
    expect(engine.has('late')).toBe(false);
    expect(engine.armedFor).toBeUndefined();
    expect(timers.pending).toBe(0);
  });

  it('sleeps in steps of at most 2^31 − 1 ms for a fire time months away', () => {
    const { engine, timers, fired } = setup('2025-01-01T00:00:00Z');
    engine.upsert(job('yearly', 'R/2025-04-01T00:00:00Z/P1Y'));
    expect(timers.delays).toEqual([MAX_TIMER_DELAY_MS]);
    timers.advance(MAX_TIMER_DELAY_MS);
    expect(fired).toEqual([]);
    expect(timers.pending).toBe(1);
    timers.advance(90 * DAY);
    expect(fired.map((f) => iso(f.at))).toEqual(['2025-04-01T00:00:00.000Z']);
    expect(timers.delays.every((d) => d <= MAX_TIMER_DELAY_MS)).toBe(true);
  });

  it('reads an empty ISO start as the engine clock’s now', () => {
    const { engine, timers, fired } = setup('2025-01-01T00:00:00Z');
    engine.upsert({ ...job('e', 'R/2025-01-01T00:00:00Z/PT1H'), schedule: 'R3//PT10M' });
    timers.fireDue();
    timers.advance(H);
    expect(fired.map((f) => iso(f.at).slice(11, 16))).toEqual(['00:00', '00:10', '00:20']);
  });

  it('stops firing when a schedule is exhausted', () => {
    const { engine, timers, fired } = setup('2025-01-01T00:00:00Z');
    engine.upsert(job('twice', 'R2/2025-01-01T00:01:00Z/PT1M'));
    timers.advance(10 * MIN);
    expect(fired).toHaveLength(2);
    expect(engine.nextFireTime('twice')).toBeUndefined();
    expect(engine.has('twice')).toBe(true);
    expect(timers.pending).toBe(0);
  });

  it('fires a daily 02:30 job across the spring-forward night, ISO and cron (Europe/Berlin)', () => {
    const { engine, timers, fired } = setup('2025-03-28T12:00:00Z');
    engine.upsert(job('iso', 'R/2025-03-28T02:30:00/P1D', { scheduleTimeZone: 'Europe/Berlin' }));
    engine.upsert(job('cron', '30 2 * * *', { scheduleTimeZone: 'Europe/Berlin' }));
    timers.advance(3 * DAY);
    const by = (name: string) => fired.filter((f) => f.name === name).map((f) => iso(f.at));
    expect(by('iso')).toEqual(['2025-03-29T01:30:00.000Z', '2025-03-30T01:30:00.000Z', '2025-03-31T00:30:00.000Z']);
    expect(by('cron')).toEqual(['2025-03-29T01:30:00.000Z', '2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z']);
  });

  it('fires across the fall-back night, ISO and cron (America/New_York)', () => {
    const { engine, timers, fired } = setup('2025-11-01T12:00:00Z');
    engine.upsert(job('iso', 'R/2025-11-01T01:30:00/P1D', { scheduleTimeZone: 'America/New_York' }));
    engine.upsert(job('isoExact', 'R/2025-11-01T01:30:00/PT24H', { scheduleTimeZone: 'America/New_York' }));
    engine.upsert(job('cron', '*/30 1 * * *', { scheduleTimeZone: 'America/New_York' }));
    timers.advance(2 * DAY);
    const by = (name: string) => fired.filter((f) => f.name === name).map((f) => iso(f.at));
    expect(by('iso')).toEqual(['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z']);
    expect(by('isoExact')).toEqual(['2025-11-02T05:30:00.000Z', '2025-11-03T05:30:00.000Z']); // 00:30 EST
    expect(by('cron')).toEqual([
      '2025-11-02T05:00:00.000Z',
      '2025-11-02T05:30:00.000Z',
      '2025-11-02T06:00:00.000Z',
      '2025-11-02T06:30:00.000Z',
      '2025-11-03T06:00:00.000Z',
      '2025-11-03T06:30:00.000Z',
    ]);
  });

  it('never re-fires a time when the wall clock jumps backwards', () => {
    const { engine, timers, clock, fired } = setup('2025-01-01T00:00:00Z');
    engine.upsert(job('hourly', 'R/2025-01-01T01:00:00Z/PT1H'));
    timers.advance(H);
    expect(fired).toHaveLength(1);
    clock.jump(-2 * H);
    engine.runDue();
    timers.advance(2 * H + 10); // the wall clock is back at 01:00 and 02:00 (only 02:00 is new)
    timers.advance(H);
    expect(fired.map((f) => iso(f.at))).toEqual(['2025-01-01T01:00:00.000Z', '2025-01-01T02:00:00.000Z']);
  });

  it('treats a forward jump as missed fire times, per catchUp', () => {
    const { engine, timers, clock, fired, missed } = setup('2025-01-01T00:30:00Z');
    engine.upsert(job('none', 'R/2025-01-01T01:00:00Z/PT1H'));
    engine.upsert(job('one', 'R/2025-01-01T01:00:00Z/PT1H', { catchUp: 'one' }));
    engine.upsert(job('all', 'R/2025-01-01T01:00:00Z/PT1H', { catchUp: 'all' }));
    clock.jump(3 * H); // 03:30: 01:00, 02:00 and 03:00 were missed by more than epsilon (PT60S)
    engine.runDue();
    expect(fired.map((f) => `${f.name}@${iso(f.at).slice(11, 13)}:${f.kind}`)).toEqual([
      'all@01:catch-up',
      'all@02:catch-up',
      'one@03:catch-up', // equal fire times go in the order the jobs were added
      'all@03:catch-up',
    ]);
    expect(missed.map(([n, m]) => [n, m.count])).toEqual([
      ['none', 3],
      ['one', 2],
    ]);
    timers.advance(30 * MIN);
    expect(fired.slice(4).map((f) => f.name).sort()).toEqual(['all', 'none', 'one']);
  });

  it('resumes from stored progress after a restart', () => {
    const first = setup('2025-01-01T00:00:00Z');
    first.engine.upsert(job('j', 'R/2025-01-01T00:10:00Z/PT10M', { catchUp: 'all' }));
    first.timers.advance(25 * MIN);
    const progress = first.engine.progressOf('j')!;
    expect(progress.lastScheduled).toBe(Date.parse('2025-01-01T00:20:00Z'));
    first.engine.stop();

    const second = setup('2025-01-01T00:40:30Z'); // 00:30 is past epsilon (PT60S), 00:40 is not
    second.engine.upsert(job('j', 'R/2025-01-01T00:10:00Z/PT10M', { catchUp: 'all' }), progress);
    second.timers.fireDue();
    expect(second.fired.map((f) => iso(f.at).slice(11, 16))).toEqual(['00:30', '00:40']);
    expect(second.fired.map((f) => f.kind)).toEqual(['catch-up', 'scheduled']);
  });

  it('keeps progress when a job is redefined', () => {
    const { engine, timers, fired } = setup('2025-01-01T00:00:00Z');
    engine.upsert(job('j', 'R/2025-01-01T00:10:00Z/PT10M'));
    timers.advance(10 * MIN);
    engine.upsert(job('j', 'R/2025-01-01T00:10:00Z/PT5M'));
    timers.advance(10 * MIN);
    expect(fired.map((f) => iso(f.at).slice(11, 16))).toEqual(['00:10', '00:15', '00:20']);
  });

  it('lets onDue change the jobs while it is being called', () => {
    const clock = new ManualClock(Date.parse('2025-01-01T00:00:00Z'));
    const timers = new ManualTimers(clock);
    const fired: string[] = [];
    const engine: ScheduleEngine = new ScheduleEngine({
      clock,
      timers,
      onDue: (name) => {
        fired.push(name);
        if (name === 'a') {
          engine.remove('a');
          engine.upsert(job('c', 'R/2025-01-01T00:02:00Z/PT1M'));
        }
      },
    });
    engine.upsert(job('a', 'R/2025-01-01T00:01:00Z/PT1M'));
    engine.upsert(job('b', 'R/2025-01-01T00:01:00Z/PT1M'));
    timers.advance(3 * MIN);
    expect(fired).toEqual(['a', 'b', 'b', 'c', 'b', 'c']);
    expect(timers.pending).toBe(1);
  });

  it('reports errors from onDue without losing its place', () => {
    const clock = new ManualClock(0);
    const timers = new ManualTimers(clock);
    const errors: unknown[] = [];
    let calls = 0;
    const engine = new ScheduleEngine({
      clock,
      timers,
      onDue: () => {
        calls++;
        throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    engine.upsert(job('j', 'R/1970-01-01T00:01:00Z/PT1M'));
    timers.advance(3 * MIN);
    expect(calls).toBe(3);
    expect(errors).toHaveLength(3);
    expect(timers.pending).toBe(1);
  });

  it('stops and disposes', () => {
    const { engine, timers } = setup(0);
    engine.upsert(job('j', 'R/1970-01-01T00:01:00Z/PT1M'));
    {
      using e = engine;
      expect(e.state).toBe('running');
    }
    expect(engine.state).toBe('stopped');
    expect(timers.pending).toBe(0);
    engine.upsert(job('k', 'R/1970-01-01T00:01:00Z/PT1M'));
    expect(engine.size).toBe(0);
  });

  it('keeps the heap consistent with 100k jobs', () => {
    const start = Date.parse('2025-01-01T00:00:00Z');
    const clock = new ManualClock(start);
    const timers = new ManualTimers(clock);
    let count = 0;
    let lastAt = 0;
    let ordered = true;
    const engine = new ScheduleEngine({
      clock,
      timers,
      onDue: (_name, at) => {
        count++;
        if (at < lastAt) ordered = false;
        lastAt = at;
      },
    });
    const template = job('template', 'R/2025-01-01T00:00:00Z/PT1H');
    const N = 100_000;
    const jobs: Job[] = [];
    for (let i = 0; i < N; i++) {
      const schedule = `R/${new Date(start + (i % 3600) * 1000).toISOString()}/PT${10 * (1 + (i % 6))}M`;
      jobs.push({ ...template, name: `job-${i}`, schedule });
      engine.upsert(jobs[i]!);
    }
    expect(engine.size).toBe(N);
    expect(timers.pending).toBe(1);
    // Move every seventh job and remove every eleventh; the heap must follow.
    for (let i = 0; i < N; i += 7) engine.upsert({ ...jobs[i]!, schedule: `R/2025-01-01T00:30:00Z/PT20M` });
    for (let i = 0; i < N; i += 11) engine.remove(`job-${i}`);
    const end = start + H;
    let expected = 0;
    const cache = new Map<string, ReturnType<typeof parseSchedule>>();
    for (let i = 0; i < N; i++) {
      if (i % 11 === 0) continue;
      const expr = i % 7 === 0 ? 'R/2025-01-01T00:30:00Z/PT20M' : jobs[i]!.schedule!;
      const s = cache.get(expr) ?? parseSchedule(expr);
      cache.set(expr, s);
      for (let t = s.next(start - 60_001); t !== undefined && t <= end; t = s.next(t)) expected++;
    }
    for (let m = 0; m < 60; m++) timers.advance(MIN);
    expect(count).toBe(expected);
    expect(ordered).toBe(true);
    expect(engine.peek()!.time).toBeGreaterThan(end);
    expect(timers.pending).toBe(1);
    engine.stop();
    expect(timers.pending).toBe(0);
  });

  it('property: fires every due time exactly once, in order per job, under random upserts, removes and advances', () => {
    const T0 = Date.parse('2025-01-01T00:00:00Z');
    const action = fc.oneof(
      fc.record({ kind: fc.constant('upsert' as const), job: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('remove' as const), job: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 20 * MIN }) }),
    );
    const spec = fc.record({ offsetS: fc.integer({ min: -600, max: 3600 }), periodS: fc.integer({ min: 1, max: 900 }) });
    fc.assert(
      fc.property(fc.array(spec, { minLength: 6, maxLength: 6 }), fc.array(action, { maxLength: 60 }), (specs, actions) => {
        const clock = new ManualClock(T0);
        const timers = new ManualTimers(clock);
        const fired = new Map<string, number[]>();
        const engine = new ScheduleEngine({
          clock,
          timers,
          onDue: (name, at) => {
            expect(at).toBeLessThanOrEqual(clock.now());
            fired.set(name, [...(fired.get(name) ?? []), at]);
          },
        });
        const jobs = specs.map((s, i) => job(`j${i}`, `R/${new Date(T0 + s.offsetS * 1000).toISOString()}/PT${s.periodS}S`, { catchUp: 'all' }));
        const stored = new Map<string, number | undefined>();
        const firstCursor = new Map<string, number>();
        const upsert = (i: number) => {
          const name = `j${i}`;
          if (!firstCursor.has(name)) firstCursor.set(name, clock.now() - 60_000 - 1);
          // As the wiring would: the engine's own progress while it has the job, else the stored one.
          engine.upsert(jobs[i]!, { lastScheduled: engine.progressOf(name)?.lastScheduled ?? stored.get(name) });
        };
        for (const a of actions) {
          if (a.kind === 'upsert') upsert(a.job);
          else if (a.kind === 'remove') {
            stored.set(`j${a.job}`, engine.progressOf(`j${a.job}`)?.lastScheduled ?? stored.get(`j${a.job}`));
            engine.remove(`j${a.job}`);
          } else timers.advance(a.ms);
          expect(timers.pending).toBeLessThanOrEqual(1);
        }
        // Bring every job that was ever added back, and let the engine catch up.
        for (const name of firstCursor.keys()) upsert(Number(name.slice(1)));
        timers.fireDue();
        const end = clock.now();
        for (const [name, cursor] of firstCursor) {
          const s = parseSchedule(jobs[Number(name.slice(1))]!.schedule!);
          const expected: number[] = [];
          for (let t = s.next(cursor); t !== undefined && t <= end; t = s.next(t)) expected.push(t);
          expect(fired.get(name) ?? []).toEqual(expected);
        }
      }),
      { numRuns: 150 },
    );
  });
});
