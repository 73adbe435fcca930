/**
 * The rest of the job surface over real NATS with a real master and agent: per-run overrides and
 * the task environment, a child with two parents, deleting a parent, fetched files, the REST
 * routes not covered elsewhere, and `stoa jobs add | kill | graph | show | delete`.
 */

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runJobsCli } from '../src/cli.js';
import type { Run } from '../src/run/run.js';
import { type ChronosCluster, NEVER, SMALL, startChronosCluster } from './chronos-cluster.js';

let cluster: ChronosCluster;

beforeAll(async () => {
  cluster = await startChronosCluster();
});
afterEach(() => cluster.cleanup());
afterAll(() => cluster?.stop());

const succeeded = (runs: Run[]) => runs.filter((r) => r.status === 'SUCCEEDED');

describe('the job surface over NATS', () => {
  it('applies per-run arguments and environment to one run only, shell-quoted, with the CHRONOS_* variables', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const out = join(cluster.dir, 'overrides.txt');
    const job = {
      name: 'greeter',
      // Extra arguments are appended to the command: here they become printf's arguments.
      command: `printf '%s/%s/%s/%s\\n' "$CHRONOS_JOB_OWNER" "$COLOUR" "$CHRONOS_JOB_RUN_ATTEMPT" "$CHRONOS_JOB_NAME" > ${out}; printf '[%s]' >> ${out}`,
      schedule: NEVER,
      owner: 'ops@example.com',
      environmentVariables: [{ name: 'COLOUR', value: 'red' }],
      ...SMALL,
    };
    expect((await cluster.api(c, 'POST', '/iso8601', job)).status).toBe(204);
    const body = { arguments: ['a b', 'c;d', "it's", '$HOME'], environmentVariables: [{ name: 'COLOUR', value: 'blue' }] };
    const started = await cluster.api(c, 'PUT', '/job/greeter', body);
    expect(started.status).toBe(202);
    await waitFor(async () => succeeded(await cluster.runsOf(c, 'greeter')).length === 1, { timeoutMs: 10_000, what: 'the run with overrides' });
    expect(readFileSync(out, 'utf8')).toBe("ops@example.com/blue/1/greeter\n[a b][c;d][it's][$HOME]");
    const [run] = await cluster.runsOf(c, 'greeter');
    expect(run).toMatchObject({ id: started.data.run, trigger: 'manual', overrides: { arguments: body.arguments, env: { COLOUR: 'blue' } } });

    // Chronos' query form; the job's own environment is back.
    await cluster.api(c, 'PUT', '/job/greeter?arguments=x,y');
    await waitFor(async () => succeeded(await cluster.runsOf(c, 'greeter')).length === 2, { timeoutMs: 10_000, what: 'the run with query arguments' });
    expect(readFileSync(out, 'utf8')).toBe('ops@example.com/red/1/greeter\n[x][y]');
    await cluster.api(c, 'PUT', '/job/greeter');
    await waitFor(async () => succeeded(await cluster.runsOf(c, 'greeter')).length === 3, { timeoutMs: 10_000, what: 'the run without overrides' });
    expect(readFileSync(out, 'utf8')).toBe('ops@example.com/red/1/greeter\n[]');

    // Bad overrides are a 422 naming the field, and start nothing.
    const bad = await cluster.api(c, 'PUT', '/job/greeter', { arguments: [1] });
    expect(bad.status).toBe(422);
    expect(bad.data.details[0].path).toBe('/arguments');
    expect((await cluster.api(c, 'PUT', '/job/greeter', { colour: 'red' })).data.details[0].path).toBe('/colour');
    expect((await cluster.api(c, 'PUT', '/job/greeter', { environmentVariables: [{ name: 'X' }] })).data.details[0].path).toBe('/environmentVariables/0');
    expect(await cluster.runsOf(c, 'greeter')).toHaveLength(3);
  });

  it('runs a non-shell command with its arguments, and fetches its files into the sandbox first', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const source = join(cluster.dir, 'payload.txt');
    writeFileSync(source, 'fetched payload\n');
    const out = join(cluster.dir, 'exec.txt');
    const job = {
      name: 'exec',
      shell: false,
      command: '/bin/sh',
      arguments: ['-c', `cat input.txt "$@" > ${out}`, 'sh'],
      fetch: [{ uri: `file://${source}`, outputFile: 'input.txt' }],
      schedule: NEVER,
      ...SMALL,
    };
    expect((await cluster.api(c, 'POST', '/iso8601', job)).status).toBe(204);
    // A run argument is one more argument, not shell text.
    const extra = join(cluster.dir, 'extra file.txt');
    writeFileSync(extra, 'extra\n');
    await cluster.api(c, 'PUT', '/job/exec', { arguments: [extra] });
    await waitFor(async () => succeeded(await cluster.runsOf(c, 'exec')).length === 1, { timeoutMs: 10_000, what: 'the exec run' });
    expect(readFileSync(out, 'utf8')).toBe('fetched payload\nextra\n');
    expect((await cluster.api(c, 'GET', '/job/exec')).data).toMatchObject({ uris: [`file://${source}`], fetch: [{ uri: `file://${source}`, extract: true, executable: false }] });
    // A file that cannot be fetched fails the run (after its retries), naming the URI.
    rmSync(source);
    await cluster.api(c, 'POST', '/iso8601', { ...job, retries: 0 });
    await cluster.api(c, 'PUT', '/job/exec');
    const failed = await waitFor(async () => (await cluster.runsOf(c, 'exec')).find((r) => r.status === 'FAILED'), { timeoutMs: 10_000, what: 'the failed fetch' });
    expect(failed.message).toContain(source);
  });

  it('runs a child of two parents only once both have succeeded since its last run', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    await cluster.api(c, 'POST', '/iso8601', { name: 'left', command: 'true', schedule: NEVER, ...SMALL });
    await cluster.api(c, 'POST', '/iso8601', { name: 'right', command: 'true', schedule: NEVER, ...SMALL });
    await cluster.api(c, 'POST', '/dependency', { name: 'both', command: 'true', parents: ['left', 'right'], ...SMALL });
    const runParent = async (name: string, n: number) => {
      await cluster.api(c, 'PUT', `/job/${name}`);
      await waitFor(async () => succeeded(await cluster.runsOf(c, name)).length === n, { timeoutMs: 10_000, what: `${name} run ${n}` });
      return succeeded(await cluster.runsOf(c, name))[n - 1]!;
    };
    await runParent('left', 1);
    // Left twice: still waiting for right.
    await runParent('left', 2);
    const right = await runParent('right', 1);
    await waitFor(async () => succeeded(await cluster.runsOf(c, 'both')).length === 1, { timeoutMs: 10_000, what: 'the child' });
    const first = (await cluster.runsOf(c, 'both'))[0]!;
    expect(first.trigger).toBe('parent');
    expect(first.queuedAt).toBeGreaterThanOrEqual(right.endedAt!);
    // Its parents must succeed again: right alone does not start it.
    await runParent('right', 2);
    const left = await runParent('left', 3);
    await waitFor(async () => succeeded(await cluster.runsOf(c, 'both')).length === 2, { timeoutMs: 10_000, what: 'the child again' });
    const runs = await cluster.runsOf(c, 'both');
    expect(runs).toHaveLength(2);
    expect(runs[1]!.queuedAt).toBeGreaterThanOrEqual(left.endedAt!);
  });

  it('refuses to delete a parent unless forced; forced, its children take its parents or its schedule', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    const schedule = 'R/2100-01-01T06:00:00Z/P1D';
    await cluster.api(c, 'POST', '/iso8601', { name: 'root', command: 'true', schedule, scheduleTimeZone: 'Europe/Paris', ...SMALL });
    await cluster.api(c, 'POST', '/dependency', { name: 'middle', command: 'true', parents: ['root'], ...SMALL });
    await cluster.api(c, 'POST', '/dependency', { name: 'leaf', command: 'true', parents: ['middle'], ...SMALL });
    const refused = await cluster.api(c, 'DELETE', '/job/middle');
    expect(refused.status).toBe(409);
    expect(refused.data.message).toContain("'leaf'");
    const forced = await cluster.api(c, 'DELETE', '/job/middle?force=true');
    expect(forced).toEqual({ status: 200, data: { rewired: [{ job: 'leaf', parents: ['root'] }], orphaned: [] } });
    expect((await cluster.api(c, 'GET', '/job/leaf')).data.parents).toEqual(['root']);
    expect((await cluster.api(c, 'GET', '/job/middle')).status).toBe(404);
    // The rewired child runs after its new parent.
    await cluster.api(c, 'PUT', '/job/root');
    await waitFor(async () => succeeded(await cluster.runsOf(c, 'leaf')).length === 1, { timeoutMs: 10_000, what: 'the leaf after the root' });
    // The last parent goes: the child takes its schedule and zone.
    expect((await cluster.api(c, 'DELETE', '/job/root?force=true')).data).toEqual({ rewired: [{ job: 'leaf', parents: [] }], orphaned: ['leaf'] });
    const leaf = (await cluster.api(c, 'GET', '/job/leaf')).data;
    expect(leaf).toMatchObject({ schedule, scheduleTimeZone: 'Europe/Paris', successCount: 1 });
    expect(leaf.parents).toBeUndefined();
    expect((await cluster.api(c, 'GET', '/graph/csv')).data.trim()).toBe('node,leaf,success,idle');
  });

  it('answers the read routes: summary, search, stats, graph SVG, ping, metrics, the old prefix, GET → POST', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    await cluster.api(c, 'POST', '/iso8601', { name: 'alpha', command: 'sleep 0.1', schedule: NEVER, description: 'the first', owner: 'ann@example.com', ...SMALL });
    await cluster.api(c, 'POST', '/iso8601', { name: 'beta', command: 'exit 1', schedule: NEVER, retries: 0, disabled: true, ...SMALL });
    await cluster.api(c, 'POST', '/dependency', { name: 'gamma', command: 'true', parents: ['alpha'], ...SMALL });
    await cluster.api(c, 'PUT', '/job/alpha');
    await cluster.api(c, 'PUT', '/job/beta'); // a manual run starts even when the job is disabled
    await waitFor(async () => succeeded(await cluster.runsOf(c, 'gamma')).length === 1 && (await cluster.runsOf(c, 'beta'))[0]?.status === 'FAILED', {
      timeoutMs: 10_000,
      what: 'alpha, gamma and beta to end',
    });

    expect((await cluster.api(c, 'GET', '/jobs/summary')).data).toEqual({
      jobs: [
        { name: 'alpha', status: 'success', state: 'idle', schedule: NEVER, parents: [], disabled: false },
        { name: 'beta', status: 'failure', state: 'idle', schedule: NEVER, parents: [], disabled: true },
        { name: 'gamma', status: 'success', state: 'idle', schedule: '', parents: ['alpha'], disabled: false },
      ],
    });
    const names = async (query: string) => ((await cluster.api(c, 'GET', `/jobs/search?${query}`)).data as { name: string }[]).map((j) => j.name);
    expect(await names('name=ALP')).toEqual(['alpha']);
    expect(await names('command=exit')).toEqual(['beta']);
    expect(await names('any=ann@')).toEqual(['alpha']);
    expect(await names('any=a&limit=1&offset=1')).toEqual(['beta']);

    const stat = (await cluster.api(c, 'GET', '/job/stat/alpha')).data;
    expect(stat.histogram).toMatchObject({ count: 1, unit: 'ms' });
    expect(stat.histogram.median).toBeGreaterThanOrEqual(100);
    expect(stat.taskStatHistory).toHaveLength(1);
    const p99 = (await cluster.api(c, 'GET', '/stats/99thPercentile')).data as { jobNameLabel: string; time: number }[];
    expect(p99.map((s) => s.jobNameLabel)).toEqual(['alpha', 'beta', 'gamma']);
    expect(p99[0]!.time).toBe(stat.histogram['99thPercentile']);
    expect(p99[1]!.time).toBe(0); // no success to measure
    const badStat = await cluster.api(c, 'GET', '/stats/90thPercentile');
    expect(badStat.status).toBe(422);
    expect(badStat.data.details[0].path).toBe('/percentile');

    const svg = await fetch(`${c.httpUrl}/v1/scheduler/graph/svg`);
    expect(svg.headers.get('content-type')).toContain('image/svg+xml');
    const text = await svg.text();
    for (const name of ['alpha', 'beta', 'gamma']) expect(text).toContain(`>${name}<`);
    expect(await (await fetch(`${c.httpUrl}/ping`)).text()).toBe('pong');
    expect(await (await fetch(`${c.httpUrl}/metrics`)).text()).toMatch(/^chronos_leader 1$/m);
    expect(((await (await fetch(`${c.httpUrl}/scheduler/job/alpha`)).json()) as { name: string }).name).toBe('alpha');

    // A job read with GET is accepted back as it is; its statistics stay the scheduler's.
    const read = (await cluster.api(c, 'GET', '/job/alpha')).data;
    expect(read.successCount).toBe(1);
    expect((await cluster.api(c, 'POST', '/iso8601', { ...read, successCount: 99, description: 'changed' })).status).toBe(204);
    expect((await cluster.api(c, 'GET', '/job/alpha')).data).toMatchObject({ description: 'changed', successCount: 1 });
    expect((await cluster.api(c, 'POST', '/iso8601', 'not json')).status).toBe(422);
  });

  it('stoa jobs: add FILE, show, kill, graph and delete', async () => {
    const c = await cluster.chronos(await cluster.bucket());
    await c.waitLeading();
    let out = '';
    let err = '';
    const io = { out: (t: string) => (out += t), err: (t: string) => (err += t), env: { STOA_CHRONOS_URL: c.httpUrl } };
    const file = join(cluster.dir, 'jobs.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'cli-parent', command: 'sleep 60', schedule: NEVER, ...SMALL },
        { name: 'cli-child', command: 'true', parents: ['cli-parent'], ...SMALL },
      ]),
    );
    expect(await runJobsCli(['add', file], io)).toBe(0);
    expect(out).toBe('added cli-parent\nadded cli-child\n');
    out = '';
    expect(await runJobsCli(['show', 'cli-child', '--json'], io)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ name: 'cli-child', parents: ['cli-parent'] });

    expect(await runJobsCli(['run', 'cli-parent'], io)).toBe(0);
    await waitFor(async () => (await cluster.runsOf(c, 'cli-parent'))[0]?.status === 'RUNNING', { timeoutMs: 10_000, what: 'the parent running' });
    out = '';
    expect(await runJobsCli(['kill', 'cli-parent'], io)).toBe(0);
    expect(out).toBe('killed 1 run(s) of cli-parent\n');
    expect((await cluster.runsOf(c, 'cli-parent'))[0]!.status).toBe('KILLED');
    // A killed parent does not release its child.
    expect(await cluster.runsOf(c, 'cli-child')).toEqual([]);

    out = '';
    expect(await runJobsCli(['graph', '--format', 'csv'], io)).toBe(0);
    expect(out).toContain('link,cli-parent,cli-child');
    out = '';
    expect(await runJobsCli(['graph'], io)).toBe(0);
    expect(out).toMatch(/^digraph/);
    expect(await runJobsCli(['graph', '--format', 'png'], io)).toBe(2);

    err = '';
    expect(await runJobsCli(['delete', 'cli-parent'], io)).toBe(1);
    expect(err).toContain('409');
    writeFileSync(file, JSON.stringify({ name: 'broken', command: 'true', schedule: 'every day', ...SMALL }));
    err = '';
    expect(await runJobsCli(['add', file], io)).toBe(1);
    expect(err).toMatch(/error 422[\s\S]*\/schedule/);
    expect(await runJobsCli(['delete', 'cli-parent', '--force'], io)).toBe(0);
    out = '';
    expect(await runJobsCli(['list'], io)).toBe(0);
    expect(out).toMatch(/cli-child\s+R1\/2100/);
    expect(out).not.toContain('cli-parent');
  });
});
