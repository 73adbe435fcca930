/**
 * Schedules across daylight-saving changes and time zones, and wall-clock jumps, with Chronos on
 * a fixed clock (the engine's {@link ManualClock} and {@link ManualTimers}) and everything else
 * real: NATS, the master, an agent running the tasks. The test moves the clock fire time by fire
 * time; each run is launched on the agent, which reports the `CHRONOS_JOB_RUN_TIME` it was given.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsKvStore } from '@stoa/core/nats';
import { waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, ManualTimers } from '../src/engine/manual-time.js';
import type { Run } from '../src/run/run.js';
import type { ChronosHandle } from '../src/service.js';
import { type ChronosCluster, SMALL, startChronosCluster, subscribeEvents } from './chronos-cluster.js';

let cluster: ChronosCluster;
const aborts: AbortController[] = [];

beforeAll(async () => {
  cluster = await startChronosCluster();
});
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  await cluster.cleanup();
});
afterAll(() => cluster?.stop());

const H = 3_600_000;
const iso = (t: number) => new Date(t).toISOString();

/** Chronos on a clock at `start` that moves only when the test says so; on a new bucket unless given one. */
async function fixedClockChronos(
  start: string | number,
  store?: NatsKvStore,
): Promise<{ c: ChronosHandle; clock: ManualClock; timers: ManualTimers; store: NatsKvStore; advanceTo(at: string): void }> {
  const clock = new ManualClock(typeof start === 'number' ? start : Date.parse(start));
  const timers = new ManualTimers(clock);
  const bucket = store ?? (await cluster.bucket());
  const c = await cluster.chronos(bucket, { clock, timers });
  await c.waitLeading();
  return {
    c,
    clock,
    timers,
    store: bucket,
    advanceTo(at: string) {
      const ms = Date.parse(at) - clock.now();
      expect(ms).toBeGreaterThanOrEqual(0);
      timers.advance(ms);
    },
  };
}

/** A job that appends `<name> <CHRONOS_JOB_RUN_TIME>` to `file`. */
const reporting = (name: string, file: string, schedule: string, extra: Record<string, unknown> = {}) => ({
  name,
  command: `echo "$CHRONOS_JOB_NAME $CHRONOS_JOB_RUN_TIME" >> ${file}`,
  schedule,
  ...SMALL,
  ...extra,
});

const reported = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').sort() : []);

describe('schedules on a fixed clock over NATS', () => {
  it('runs Europe/Berlin and Asia/Kolkata schedules at the right instants across the spring-forward night', async () => {
    const { c, advanceTo } = await fixedClockChronos('2025-03-29T12:00:00Z');
    const file = join(cluster.dir, 'spring.txt');
    // 02:30 does not exist in Berlin on 30 March: ISO P1D keeps the wall time moved forward by
    // the gap (03:30 CEST), cron runs at the first minute after the gap (03:00 CEST).
    await cluster.api(c, 'POST', '/iso8601', reporting('berlin-iso', file, 'R/2025-03-29T02:30:00/P1D', { scheduleTimeZone: 'Europe/Berlin' }));
    await cluster.api(c, 'POST', '/iso8601', reporting('berlin-cron', file, '30 2 * * *', { scheduleTimeZone: 'Europe/Berlin' }));
    await cluster.api(c, 'POST', '/iso8601', reporting('kolkata-cron', file, '0 9 * * *', { scheduleTimeZone: 'Asia/Kolkata' }));
    const jobs = ['berlin-cron', 'berlin-iso', 'kolkata-cron'];
    const runs = async () => Object.fromEntries(await Promise.all(jobs.map(async (j) => [j, await cluster.runsOf(c, j)] as const))) as Record<string, Run[]>;

    // Nothing before the first fire time (runs are prepared 10 s ahead of it).
    advanceTo('2025-03-30T00:59:49Z');
    expect(Object.values(await runs()).flat()).toEqual([]);
    const expected: [string, string][] = [
      ['berlin-cron', '2025-03-30T01:00:00.000Z'],
      ['berlin-iso', '2025-03-30T01:30:00.000Z'],
      ['kolkata-cron', '2025-03-30T03:30:00.000Z'],
    ];
    for (const [job, at] of expected) {
      advanceTo(at);
      await waitFor(async () => (await cluster.runsOf(c, job))[0]?.status === 'SUCCEEDED', { timeoutMs: 10_000, what: `${job} at ${at}` });
      // Only this job has run at this instant.
      const now = await runs();
      expect(Object.entries(now).filter(([, list]) => list.length > 0).map(([j]) => j)).toEqual(expected.slice(0, expected.findIndex(([j]) => j === job) + 1).map(([j]) => j).sort());
    }
    const all = await runs();
    for (const [job, at] of expected) {
      expect(all[job]!).toHaveLength(1);
      expect(all[job]![0]).toMatchObject({ trigger: 'schedule', scheduledAt: Date.parse(at), status: 'SUCCEEDED' });
    }
    expect(reported(file)).toEqual(expected.map(([job, at]) => `${job} ${at}`).sort());
    // The zone is kept with the job.
    expect((await cluster.api(c, 'GET', '/job/berlin-iso')).data).toMatchObject({ schedule: 'R/2025-03-29T02:30:00/P1D', scheduleTimeZone: 'Europe/Berlin' });
  });

  it('runs America/New_York schedules through the repeated hour of the fall-back night', async () => {
    const { c, advanceTo } = await fixedClockChronos('2025-11-01T12:00:00Z');
    const file = join(cluster.dir, 'fall.txt');
    await cluster.api(c, 'POST', '/iso8601', reporting('ny-daily', file, 'R/2025-11-01T01:30:00/P1D', { scheduleTimeZone: 'America/New_York' }));
    await cluster.api(c, 'POST', '/iso8601', reporting('ny-exact', file, 'R/2025-11-01T01:30:00/PT24H', { scheduleTimeZone: 'America/New_York' }));
    await cluster.api(c, 'POST', '/iso8601', reporting('ny-half-hour', file, '*/30 1 * * *', { scheduleTimeZone: 'America/New_York' }));
    const expected: Record<string, string[]> = {
      // 01:30 EDT on the 2nd (the first 01:30), then 01:30 EST.
      'ny-daily': ['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z'],
      // 24 hours later is 00:30 EST.
      'ny-exact': ['2025-11-02T05:30:00.000Z', '2025-11-03T05:30:00.000Z'],
      // The 01:xx hour happens twice on the 2nd: four runs, then two on the 3rd.
      'ny-half-hour': ['2025-11-02T05:00:00.000Z', '2025-11-02T05:30:00.000Z', '2025-11-02T06:00:00.000Z', '2025-11-02T06:30:00.000Z', '2025-11-03T06:00:00.000Z', '2025-11-03T06:30:00.000Z'],
    };
    const instants = [...new Set(Object.values(expected).flat())].sort();
    let count = 0;
    for (const at of instants) {
      advanceTo(at);
      count += Object.values(expected).filter((list) => list.includes(at)).length;
      await waitFor(async () => (await Promise.all(Object.keys(expected).map((j) => cluster.runsOf(c, j)))).flat().filter((r) => r.status === 'SUCCEEDED').length === count, {
        timeoutMs: 10_000,
        what: `${count} runs by ${at}`,
      });
    }
    advanceTo('2025-11-04T00:00:00Z');
    for (const [job, times] of Object.entries(expected)) {
      const runs = await cluster.runsOf(c, job);
      expect(runs.map((r) => iso(r.scheduledAt!))).toEqual(times);
      expect(runs.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    }
    expect(reported(file)).toEqual(Object.entries(expected).flatMap(([job, times]) => times.map((t) => `${job} ${t}`)).sort());
  });

  it('starts a fire time missed by less than its window late, and drops one missed by more (epsilon, startingDeadlineSeconds)', async () => {
    const { c, clock, advanceTo } = await fixedClockChronos('2025-01-01T00:59:00Z');
    const abort = new AbortController();
    aborts.push(abort);
    const { events } = await subscribeEvents(c.httpUrl, abort.signal);
    const file = join(cluster.dir, 'window.txt');
    const once = 'R1/2025-01-01T01:00:00Z/PT1H';
    await cluster.api(c, 'POST', '/iso8601', reporting('epsilon', file, once)); // PT60S, Chronos' default
    await cluster.api(c, 'POST', '/iso8601', reporting('epsilon-short', file, once, { epsilon: 'PT15S' }));
    await cluster.api(c, 'POST', '/iso8601', reporting('deadline', file, once, { startingDeadlineSeconds: 10, epsilon: 'PT5M' }));
    // The wall clock steps 30 s while the process sleeps: the timer fires 20 s after 01:00.
    clock.jump(30_000);
    advanceTo('2025-01-01T01:00:20Z');
    await waitFor(async () => (await cluster.runsOf(c, 'epsilon'))[0]?.status === 'SUCCEEDED', { timeoutMs: 10_000, what: 'the late run' });
    const [late] = await cluster.runsOf(c, 'epsilon');
    expect(late).toMatchObject({ trigger: 'schedule', scheduledAt: Date.parse('2025-01-01T01:00:00Z') });
    expect(late!.queuedAt).toBe(Date.parse('2025-01-01T01:00:20Z'));
    await waitFor(() => events.filter((e) => e.type === 'runs_missed').length === 2, { what: 'two runs_missed events' });
    expect(events.filter((e) => e.type === 'runs_missed').map((e) => e.job).sort()).toEqual(['deadline', 'epsilon-short']);
    expect(await cluster.runsOf(c, 'epsilon-short')).toEqual([]);
    expect(await cluster.runsOf(c, 'deadline')).toEqual([]);
    expect(reported(file)).toEqual(['epsilon 2025-01-01T01:00:00.000Z']);
  });

  it('treats a forward clock jump as missed fire times, per catchUp, and goes on from there', async () => {
    const { c, clock, advanceTo } = await fixedClockChronos('2025-01-01T00:00:30Z');
    const abort = new AbortController();
    aborts.push(abort);
    const { events } = await subscribeEvents(c.httpUrl, abort.signal);
    const file = join(cluster.dir, 'jump.txt');
    const hourly = 'R/2025-01-01T01:00:00Z/PT1H';
    await cluster.api(c, 'POST', '/iso8601', reporting('none', file, hourly));
    await cluster.api(c, 'POST', '/iso8601', reporting('one', file, hourly, { catchUp: 'one' }));
    // FORBID (the default): the catch-up runs wait for each other instead of being skipped.
    await cluster.api(c, 'POST', '/iso8601', reporting('all', file, hourly, { catchUp: 'all' }));
    // The wall clock steps 3.5 hours (a VM resumed); the engine's timer, armed for 01:00, fires
    // after its own delay and finds 01:00 to 04:00 missed by more than the 60 s window.
    clock.jump(3.5 * H);
    advanceTo('2025-01-01T04:29:50Z');
    const ended = (r: Run) => r.status === 'SUCCEEDED' || r.status === 'FAILED' || r.status === 'SKIPPED';
    await waitFor(async () => (await cluster.runsOf(c, 'all')).filter(ended).length === 4 && (await cluster.runsOf(c, 'one')).some(ended), {
      timeoutMs: 15_000,
      what: 'the catch-up runs',
    });
    const hours = (runs: Run[]) => runs.map((r) => `${iso(r.scheduledAt!).slice(11, 16)} ${r.status}`);
    expect(await cluster.runsOf(c, 'none')).toEqual([]);
    expect(hours(await cluster.runsOf(c, 'one'))).toEqual(['04:00 SUCCEEDED']);
    const all = await cluster.runsOf(c, 'all');
    expect(hours(all)).toEqual(['01:00 SUCCEEDED', '02:00 SUCCEEDED', '03:00 SUCCEEDED', '04:00 SUCCEEDED']);
    // One after another, in order.
    for (let i = 1; i < all.length; i++) expect(all[i]!.queuedAt).toBeGreaterThanOrEqual(all[i - 1]!.endedAt!);
    await waitFor(() => events.some((e) => e.type === 'runs_missed' && e.job === 'none'), { what: 'the missed runs event' });
    expect(events.filter((e) => e.type === 'runs_missed').map((e) => [e.job, e.message])).toEqual([
      ['none', '4 fire time(s) missed beyond the start window'],
      ['one', '3 fire time(s) missed beyond the start window'],
    ]);
    // Then the schedule goes on at 05:00 as usual, once per job.
    advanceTo('2025-01-01T05:00:00Z');
    await waitFor(async () => {
      for (const job of ['none', 'one', 'all']) if (!(await cluster.runsOf(c, job)).some((r) => r.scheduledAt === Date.parse('2025-01-01T05:00:00Z') && r.status === 'SUCCEEDED')) return false;
      return true;
    }, { timeoutMs: 10_000, what: 'the 05:00 runs' });
    expect(reported(file).filter((l) => l.endsWith('05:00:00.000Z'))).toEqual(['all 2025-01-01T05:00:00.000Z', 'none 2025-01-01T05:00:00.000Z', 'one 2025-01-01T05:00:00.000Z']);
  });

  it('keeps catch-up runs waiting across a restart: none lost, none run twice', async () => {
    const first = await fixedClockChronos('2025-01-01T00:00:30Z');
    const file = join(cluster.dir, 'backlog.txt');
    const gate = join(cluster.dir, 'backlog.gate');
    // Each run waits for the gate file, so the first catch-up run is still running at the restart.
    const job = {
      name: 'backlogged',
      command: `until [ -f ${gate} ]; do sleep 0.05; done; echo "$CHRONOS_JOB_NAME $CHRONOS_JOB_RUN_TIME" >> ${file}`,
      schedule: 'R/2025-01-01T01:00:00Z/PT1H',
      catchUp: 'all',
      ...SMALL,
    };
    await cluster.api(first.c, 'POST', '/iso8601', job);
    first.clock.jump(3.5 * H);
    first.advanceTo('2025-01-01T04:29:50Z');
    await waitFor(async () => (await cluster.runsOf(first.c, 'backlogged'))[0]?.status === 'RUNNING', { timeoutMs: 10_000, what: 'the first catch-up run' });
    // 02:00, 03:00 and 04:00 wait for it, in memory only.
    expect(await cluster.runsOf(first.c, 'backlogged')).toHaveLength(1);
    const now = first.clock.now();
    await first.c.stop();
    cluster.forget(first.c);

    const second = await fixedClockChronos(now, first.store);
    second.timers.advance(0); // the new leader's engine hands the stored progress over
    expect((await cluster.runsOf(second.c, 'backlogged')).map((r) => `${iso(r.scheduledAt!).slice(11, 16)} ${r.status}`)).toEqual(['01:00 RUNNING']);
    writeFileSync(gate, '');
    await waitFor(async () => (await cluster.runsOf(second.c, 'backlogged')).filter((r) => r.status === 'SUCCEEDED').length === 4, {
      timeoutMs: 15_000,
      what: 'four catch-up runs',
    });
    const runs = await cluster.runsOf(second.c, 'backlogged');
    expect(runs.map((r) => `${iso(r.scheduledAt!).slice(11, 16)} ${r.status}`)).toEqual(['01:00 SUCCEEDED', '02:00 SUCCEEDED', '03:00 SUCCEEDED', '04:00 SUCCEEDED']);
    for (const run of runs) expect(run.taskIds).toHaveLength(1);
    expect(reported(file)).toEqual(['01', '02', '03', '04'].map((h) => `backlogged 2025-01-01T${h}:00:00.000Z`));
  });
});
