/**
 * How runs of one job overlap, end and are stopped, over real NATS with a real master and agent:
 * the concurrency policies REPLACE and ALLOW (FORBID is in `chronos.nats.test.ts`),
 * `maxCompletionTime`, and `DELETE task/kill/{name}`. The tasks' shell traps write to a file when
 * they get SIGTERM, so the tests see the kill arrive at the process, not only in Chronos' records.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../src/run/run.js';
import { jobKey } from '../src/state.js';
import { type ChronosCluster, NEVER, SMALL, startChronosCluster, startIn } from './chronos-cluster.js';

let cluster: ChronosCluster;

beforeAll(async () => {
  cluster = await startChronosCluster();
});
afterEach(() => cluster.cleanup());
afterAll(() => cluster?.stop());

/** A command that logs its start and, on SIGTERM, its kill to `file`, then waits `seconds`. */
function trapped(file: string, seconds: number): string {
  return `trap 'echo "killed $CHRONOS_JOB_RUN_TIME" >> ${file}; kill $! 2>/dev/null; exit 143' TERM; echo "start $CHRONOS_JOB_RUN_TIME" >> ${file}; sleep ${seconds} & wait`;
}

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []);
/** The tasks of a job the agents still run. */
const liveTasks = (job: string) =>
  cluster.agents
    .flatMap((a) => a.tasks())
    .filter((t) => t.taskId.startsWith(`chronos.${jobKey(job)}.`) && !/FINISHED|FAILED|KILLED|LOST|ERROR|DROPPED|GONE/.test(t.state));

describe('concurrency, maxCompletionTime and kills over NATS', () => {
  it('REPLACE: each fire time kills the active run and starts its own', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const file = join(cluster.dir, 'replace.txt');
    const job = { name: 'replacer', command: trapped(file, 60), schedule: `R/${startIn(1000)}/PT2S`, concurrencyPolicy: 'REPLACE', ...SMALL };
    expect((await cluster.api(c, 'POST', '/iso8601', job)).status).toBe(204);
    await waitFor(async () => (await cluster.runsOf(c, 'replacer')).filter((r) => r.status === 'RUNNING' || r.status === 'KILLED').length >= 3, {
      timeoutMs: 20_000,
      what: 'three runs of the REPLACE job',
    });
    // Stop the schedule before reading, so the history does not move under the assertions.
    expect((await cluster.api(c, 'POST', '/iso8601', { ...job, disabled: true })).status).toBe(204);
    const runs = await cluster.runsOf(c, 'replacer');
    const replaced = runs.filter((r) => r.status === 'KILLED');
    expect(replaced.length).toBeGreaterThanOrEqual(2);
    for (const run of replaced) {
      const next = runs[runs.indexOf(run) + 1]!;
      // Killed by the run of the next fire time, at the moment that run was created.
      expect(run.message).toBe(`replaced by run ${next.id}`);
      expect(next.scheduledAt! - run.scheduledAt!).toBe(2000);
      expect(next.queuedAt).toBeGreaterThanOrEqual(run.endedAt!);
    }
    // Never two live runs in Chronos' records; every run a fire time of its own.
    expect(runs.filter((r) => r.status === 'RUNNING' || r.status === 'STARTING' || r.status === 'QUEUED').length).toBeLessThanOrEqual(1);
    expect(new Set(runs.map((r) => r.scheduledAt)).size).toBe(runs.length);
    expect(runs.every((r) => r.status !== 'SKIPPED')).toBe(true);
    // Each replaced run's process got SIGTERM.
    await waitFor(() => replaced.every((r) => lines(file).includes(`killed ${new Date(r.scheduledAt!).toISOString()}`)), {
      timeoutMs: 10_000,
      what: 'the replaced tasks to log their kill',
    });
    // Replaced runs count neither as errors nor as successes.
    expect((await cluster.api(c, 'GET', '/job/replacer')).data).toMatchObject({ errorCount: 0, successCount: 0 });
    expect((await cluster.api(c, 'DELETE', '/job/replacer')).status).toBe(204);
    await waitFor(() => liveTasks('replacer').length === 0, { timeoutMs: 10_000, what: 'no task of the deleted job left' });
  });

  it('ALLOW: runs of one job overlap', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const job = { name: 'overlapper', command: 'sleep 2.5', schedule: `R3/${startIn(1000)}/PT1S`, concurrencyPolicy: 'ALLOW', ...SMALL };
    expect((await cluster.api(c, 'POST', '/iso8601', job)).status).toBe(204);
    await waitFor(async () => (await cluster.runsOf(c, 'overlapper')).filter((r) => r.status === 'SUCCEEDED').length === 3, {
      timeoutMs: 20_000,
      what: 'three runs succeeded',
    });
    const runs = await cluster.runsOf(c, 'overlapper');
    expect(runs).toHaveLength(3);
    // Each run started before the one before it ended.
    for (let i = 1; i < 3; i++) expect(runs[i]!.runningAt!).toBeLessThan(runs[i - 1]!.endedAt!);
    expect((await cluster.api(c, 'GET', '/job/overlapper')).data).toMatchObject({ successCount: 3, concurrent: true });
  });

  it('maxCompletionTime: an overrunning run is killed, counted as a failure and not retried', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const file = join(cluster.dir, 'overrun.txt');
    const limit = 1500;
    await cluster.api(c, 'POST', '/iso8601', { name: 'overrun', command: trapped(file, 60), schedule: NEVER, maxCompletionTime: limit, retries: 2, retryDelayMs: 100, ...SMALL });
    await cluster.api(c, 'POST', '/iso8601', { name: 'in-time', command: 'sleep 0.2', schedule: NEVER, maxCompletionTime: 10_000, ...SMALL });
    expect((await cluster.api(c, 'PUT', '/job/overrun')).status).toBe(202);
    expect((await cluster.api(c, 'PUT', '/job/in-time')).status).toBe(202);
    const run = await waitFor(async () => (await cluster.runsOf(c, 'overrun')).find((r) => r.status !== 'QUEUED' && r.status !== 'STARTING' && r.status !== 'RUNNING'), {
      timeoutMs: 20_000,
      what: 'the overrunning run to end',
    });
    expect(run).toMatchObject({ status: 'KILLED', attempt: 1 });
    expect(run.taskIds).toHaveLength(1);
    expect(run.message).toContain(`maxCompletionTime of ${limit} ms exceeded`);
    expect(run.endedAt! - run.startedAt!).toBeGreaterThanOrEqual(limit);
    expect(run.endedAt! - run.startedAt!).toBeLessThan(limit + 8000);
    await waitFor(() => lines(file).some((l) => l.startsWith('killed')), { timeoutMs: 10_000, what: 'the task to log its kill' });
    const stats = (await cluster.api(c, 'GET', '/job/overrun')).data;
    expect(stats).toMatchObject({ errorCount: 1, successCount: 0, errorsSinceLastSuccess: 1 });
    expect(stats.lastError).not.toBe('');
    await waitFor(async () => (await cluster.runsOf(c, 'in-time'))[0]?.status === 'SUCCEEDED', { timeoutMs: 10_000, what: 'the run within its limit succeeded' });
    // Not retried: still one run with one task after its retry delay has long passed.
    expect((await cluster.runsOf(c, 'overrun')).map((r: Run) => r.taskIds.length)).toEqual([1]);
  });

  it('task/kill: kills the active runs of a job; the run ends KILLED and is no error', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const file = join(cluster.dir, 'kill.txt');
    await cluster.api(c, 'POST', '/iso8601', { name: 'to kill', command: trapped(file, 60), schedule: NEVER, retries: 2, ...SMALL });
    await cluster.api(c, 'PUT', '/job/to%20kill');
    await waitFor(async () => (await cluster.runsOf(c, 'to kill'))[0]?.status === 'RUNNING', { timeoutMs: 10_000, what: 'the run running' });
    expect(liveTasks('to kill')).toHaveLength(1);
    const killed = await cluster.api(c, 'DELETE', '/task/kill/to%20kill');
    expect(killed).toEqual({ status: 200, data: { killed: 1 } });
    const run = (await cluster.runsOf(c, 'to kill'))[0]!;
    expect(run).toMatchObject({ status: 'KILLED', message: 'killed by request', attempt: 1 });
    await waitFor(() => lines(file).some((l) => l.startsWith('killed')), { timeoutMs: 10_000, what: 'the task to log its kill' });
    await waitFor(() => liveTasks('to kill').length === 0, { timeoutMs: 10_000, what: 'the task gone from the agent' });
    expect((await cluster.api(c, 'GET', '/job/to%20kill')).data).toMatchObject({ errorCount: 0, successCount: 0 });
    // Nothing left to kill; an unknown job is a 404.
    expect((await cluster.api(c, 'DELETE', '/task/kill/to%20kill')).data).toEqual({ killed: 0 });
    expect((await cluster.api(c, 'DELETE', '/task/kill/nobody')).status).toBe(404);
  });
});
