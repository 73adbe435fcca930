/**
 * Chronos end to end over a real nats-server: the real master, two real agents running shell
 * commands with the process containerizer, and Chronos instances on a JetStream KV bucket (one
 * bucket per test, so each test is a framework of its own). Jobs are added and read through the
 * REST API only, as a user would.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentHandle, startAgent } from '@stoa/agent';
import { MemoryStore } from '@stoa/core';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { type MasterHandle, startMaster } from '@stoa/master';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runJobsCli } from '../src/cli.js';
import type { Run } from '../src/run/run.js';
import { type ChronosHandle, startChronos } from '../src/service.js';

let nats: NatsServerHandle;
let master: MasterHandle;
const agents: AgentHandle[] = [];
const transports: NatsTransport[] = [];
let dir: string;
let bucketSeq = 0;

beforeAll(async () => {
  nats = await startNats();
  dir = mkdtempSync(join(tmpdir(), 'stoa-chronos-e2e-'));
  const connect = async (name: string) => {
    const t = await NatsTransport.connect({ servers: nats.url, name });
    transports.push(t);
    return t;
  };
  master = await startMaster({
    transport: await connect('master'),
    store: new MemoryStore(),
    http: false,
    allocationIntervalMs: 100,
    heartbeatIntervalMs: 1000,
    offerTimeoutMs: 2000,
  });
  for (const i of [1, 2]) {
    const agent = await startAgent({ transport: await connect(`agent-${i}`), workDir: join(dir, `agent-${i}`), resources: 'cpus:8;mem:8192;disk:10000', killGracePeriodMs: 500 });
    agents.push(agent);
    await agent.waitRegistered();
  }
});

afterAll(async () => {
  for (const agent of agents) await agent.stop({ killTasks: true });
  await master?.stop();
  for (const t of transports) await t.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const running: ChronosHandle[] = [];
const stores: NatsKvStore[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
  for (const s of stores.splice(0)) await s.close();
});

/** A Store bucket of its own and one or more Chronos instances on it. */
async function bucket(): Promise<NatsKvStore> {
  const t = await NatsTransport.connect({ servers: nats.url, name: 'chronos-store' });
  transports.push(t);
  const store = await NatsKvStore.open(t.connection, { bucket: `chronos-test-${process.pid}-${++bucketSeq}` });
  stores.push(store);
  return store;
}

async function chronos(store: NatsKvStore, extra: { leaseMs?: number } = {}): Promise<ChronosHandle> {
  const c = await startChronos({ servers: nats.url, store, httpPort: 0, leaseMs: extra.leaseMs ?? 1000, frameworkName: 'chronos-test' });
  running.push(c);
  return c;
}

/** JSON answers are read loosely: each test asserts the fields it needs. */
// biome-ignore lint/suspicious/noExplicitAny: test helper over arbitrary JSON
type Json = any;

async function api(c: ChronosHandle | string, method: string, path: string, body?: unknown): Promise<{ status: number; data: Json }> {
  const base = typeof c === 'string' ? c : c.httpUrl;
  const answer = await fetch(`${base}/v1/scheduler${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await answer.text();
  const data: Json = text === '' ? null : text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text;
  return { status: answer.status, data };
}

async function runsOf(c: ChronosHandle, job: string): Promise<Run[]> {
  const r = await api(c, 'GET', `/job/${encodeURIComponent(job)}/runs`);
  expect(r.status).toBe(200);
  return (r.data as Run[]).slice().reverse(); // oldest first
}

/** An ISO start `ms` from now, on a whole second. */
function startIn(ms: number): string {
  return new Date(Math.ceil((Date.now() + ms) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const small = { cpus: 0.1, mem: 32, disk: 0 };

describe('chronos over NATS with a real master and agents', () => {
  it('runs a job every two seconds on time, with its CHRONOS_* environment', async () => {
    const c = await chronos(await bucket());
    await c.waitLeading();
    const job = {
      name: 'tick tock',
      command: 'test "$CHRONOS_JOB_NAME" = "tick tock" && test "$CHRONOS_JOB_RUN_ATTEMPT" = 1 && test -n "$CHRONOS_JOB_RUN_TIME" && test "$GREETING" = hi',
      schedule: `R/${startIn(1000)}/PT2S`,
      environmentVariables: [{ name: 'GREETING', value: 'hi' }],
      ...small,
    };
    expect((await api(c, 'POST', '/iso8601', job)).status).toBe(204);
    await waitFor(async () => (await runsOf(c, 'tick tock')).filter((r) => r.status === 'SUCCEEDED').length >= 3, { timeoutMs: 15_000, what: 'three successful runs' });
    const runs = (await runsOf(c, 'tick tock')).filter((r) => r.status === 'SUCCEEDED').slice(0, 3);
    // Two seconds apart, each on its own fire time, each running within a second of it.
    expect(runs[1]!.scheduledAt! - runs[0]!.scheduledAt!).toBe(2000);
    expect(runs[2]!.scheduledAt! - runs[1]!.scheduledAt!).toBe(2000);
    for (const run of runs) expect(run.runningAt! - run.scheduledAt!).toBeLessThan(1000);
    const stats = (await api(c, 'GET', '/job/tick%20tock')).data;
    expect(stats.successCount).toBeGreaterThanOrEqual(3);
    expect(stats.errorCount).toBe(0);
  });

  it('runs a three-level DAG in order', async () => {
    const c = await chronos(await bucket());
    await c.waitLeading();
    const out = join(dir, 'dag.txt');
    await api(c, 'POST', '/iso8601', { name: 'extract', command: `echo extract >> ${out}`, schedule: `R1/${startIn(500)}/PT1M`, ...small });
    await api(c, 'POST', '/dependency', { name: 'transform', command: `echo transform >> ${out}`, parents: ['extract'], ...small });
    expect((await api(c, 'POST', '/dependency', { name: 'load', command: `echo load >> ${out}`, parents: ['transform'], ...small })).status).toBe(204);
    await waitFor(async () => (await runsOf(c, 'load')).some((r) => r.status === 'SUCCEEDED'), { timeoutMs: 15_000, what: 'load succeeded' });
    expect(readFileSync(out, 'utf8')).toBe('extract\ntransform\nload\n');
    const [e, t, l] = [(await runsOf(c, 'extract'))[0]!, (await runsOf(c, 'transform'))[0]!, (await runsOf(c, 'load'))[0]!];
    expect(t.trigger).toBe('parent');
    expect(t.queuedAt).toBeGreaterThanOrEqual(e.endedAt!);
    expect(l.queuedAt).toBeGreaterThanOrEqual(t.endedAt!);
    const dot = (await api(c, 'GET', '/graph/dot')).data as string;
    expect(dot).toContain('1 -> 2;');
    expect(dot).toContain('2 -> 3;');
    expect((await api(c, 'GET', '/graph/csv')).data).toContain('link,extract,transform');
  });

  it('holds the children of a failed parent unless the parent has softError', async () => {
    const c = await chronos(await bucket());
    await c.waitLeading();
    const parent = (name: string, softError: boolean) => ({ name, command: 'exit 1', schedule: 'R1/2100-01-01T00:00:00Z/PT1M', retries: 0, softError, ...small });
    await api(c, 'POST', '/iso8601', parent('hard-parent', false));
    await api(c, 'POST', '/iso8601', parent('soft-parent', true));
    await api(c, 'POST', '/dependency', { name: 'hard-child', command: 'true', parents: ['hard-parent'], ...small });
    await api(c, 'POST', '/dependency', { name: 'soft-child', command: 'true', parents: ['soft-parent'], ...small });
    expect((await api(c, 'PUT', '/job/hard-parent')).status).toBe(202);
    expect((await api(c, 'PUT', '/job/soft-parent')).status).toBe(202);
    await waitFor(async () => (await runsOf(c, 'hard-parent'))[0]?.status === 'FAILED', { timeoutMs: 10_000, what: 'the hard parent failed' });
    await waitFor(async () => (await runsOf(c, 'soft-child'))[0]?.status === 'SUCCEEDED', { timeoutMs: 10_000, what: 'the soft child ran' });
    expect((await runsOf(c, 'soft-parent'))[0]!.status).toBe('FAILED');
    expect(await runsOf(c, 'hard-child')).toEqual([]);
    expect((await api(c, 'GET', '/job/soft-parent')).data.errorCount).toBe(1);
    // Marking the hard parent a success by hand releases its child.
    expect((await api(c, 'PUT', '/job/success/hard-parent')).status).toBe(204);
    await waitFor(async () => (await runsOf(c, 'hard-child'))[0]?.status === 'SUCCEEDED', { timeoutMs: 10_000, what: 'the hard child ran after a manual success' });
  });

  it('retries with the job delay and counts the attempts', async () => {
    const c = await chronos(await bucket());
    await c.waitLeading();
    const mark = join(dir, 'flaky-mark');
    const never = 'R1/2100-01-01T00:00:00Z/PT1M';
    await api(c, 'POST', '/iso8601', { name: 'always-fails', command: 'exit 3', schedule: never, retries: 2, retryDelayMs: 200, ...small });
    await api(c, 'POST', '/iso8601', { name: 'flaky', command: `test -f ${mark} || { touch ${mark}; exit 1; }`, schedule: never, retries: 2, retryDelayMs: 200, ...small });
    await api(c, 'PUT', '/job/always-fails');
    await api(c, 'PUT', '/job/flaky');
    await waitFor(async () => (await runsOf(c, 'always-fails'))[0]?.status === 'FAILED', { timeoutMs: 15_000, what: 'always-fails gave up' });
    await waitFor(async () => (await runsOf(c, 'flaky'))[0]?.status === 'SUCCEEDED', { timeoutMs: 15_000, what: 'flaky succeeded' });
    const failed = (await runsOf(c, 'always-fails'))[0]!;
    expect(failed).toMatchObject({ attempt: 3, exitCode: 3 });
    expect(failed.taskIds).toHaveLength(3);
    expect((await runsOf(c, 'flaky'))[0]).toMatchObject({ attempt: 2, exitCode: 0 });
    expect((await api(c, 'GET', '/job/always-fails')).data).toMatchObject({ errorCount: 1, successCount: 0, errorsSinceLastSuccess: 1 });
    expect((await api(c, 'GET', '/job/flaky')).data).toMatchObject({ errorCount: 0, successCount: 1 });
    const stat = (await api(c, 'GET', '/job/stat/flaky')).data;
    expect(stat.histogram.count).toBe(1);
  });

  it('skips fire times while a run is active under FORBID', async () => {
    const c = await chronos(await bucket());
    await c.waitLeading();
    await api(c, 'POST', '/iso8601', { name: 'slow', command: 'sleep 2.5', schedule: '* * * * * *', concurrencyPolicy: 'FORBID', ...small });
    await waitFor(async () => (await runsOf(c, 'slow')).filter((r) => r.status === 'SKIPPED').length >= 2, { timeoutMs: 10_000, what: 'two skipped fire times' });
    const runs = await runsOf(c, 'slow');
    expect(runs.filter((r) => r.status !== 'SKIPPED' && r.status !== 'SUCCEEDED' && r.status !== 'KILLED').length).toBeLessThanOrEqual(1);
    const started = runs.filter((r) => r.startedAt !== undefined);
    for (let i = 1; i < started.length; i++) expect(started[i]!.startedAt!).toBeGreaterThanOrEqual(started[i - 1]!.endedAt!);
    expect(runs.find((r) => r.status === 'SKIPPED')!.message).toMatch(/still active/);
    expect((await api(c, 'DELETE', '/job/slow')).status).toBe(204);
    expect((await api(c, 'GET', '/job/slow')).status).toBe(404);
  });

  it('neither duplicates nor loses a run when chronos restarts mid-run', async () => {
    const store = await bucket();
    const first = await chronos(store);
    await first.waitLeading();
    const out = join(dir, 'restart.txt');
    await api(first, 'POST', '/iso8601', { name: 'steady', command: `sleep 1; echo "$CHRONOS_JOB_RUN_TIME" >> ${out}`, schedule: `R4/${startIn(1000)}/PT2S`, concurrencyPolicy: 'ALLOW', ...small });
    await waitFor(async () => (await runsOf(first, 'steady'))[0]?.status === 'RUNNING', { timeoutMs: 10_000, what: 'the first run running' });
    await first.stop();
    running.splice(running.indexOf(first), 1);
    const second = await chronos(store);
    await second.waitLeading();
    await waitFor(async () => (await runsOf(second, 'steady')).filter((r) => r.status === 'SUCCEEDED').length === 4, { timeoutMs: 20_000, what: 'four runs succeeded' }).catch(async (error: unknown) => {
      throw new Error(`runs: ${JSON.stringify(await runsOf(second, 'steady'))}`, { cause: error });
    });
    const runs = await runsOf(second, 'steady');
    expect(runs).toHaveLength(4);
    const due = runs.map((r) => r.scheduledAt!);
    expect(new Set(due).size).toBe(4);
    for (let i = 1; i < 4; i++) expect(due[i]! - due[i - 1]!).toBe(2000);
    for (const run of runs) expect(run.taskIds).toHaveLength(1);
    // Each fire time ran exactly once on an agent.
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines.sort()).toEqual(due.map((t) => new Date(t).toISOString()).sort());
  });

  it('answers invalid jobs with a 422 naming the field, and unknown jobs with a 404', async () => {
    const c = await chronos(await bucket());
    await c.waitLeading();
    const bad = await api(c, 'POST', '/iso8601', { name: 'bad', command: 'true', schedule: 'R/not-a-date/PT1M' });
    expect(bad.status).toBe(422);
    expect(bad.data.details[0].path).toBe('/schedule');
    const unknown = await api(c, 'POST', '/iso8601', { name: 'bad', command: 'true', schedule: 'R/2030-01-01T00:00:00Z/PT1M', colour: 'red' });
    expect(unknown.status).toBe(422);
    expect(unknown.data.details[0].path).toBe('/colour');
    expect((await api(c, 'POST', '/iso8601', { name: 'bad', command: 'true', schedule: 'R/2030-01-01T00:00:00Z/PT1M', cpus: -1 })).data.details[0].path).toBe('/cpus');
    const orphan = await api(c, 'POST', '/dependency', { name: 'child', command: 'true', parents: ['nobody'] });
    expect(orphan.status).toBe(422);
    await api(c, 'POST', '/iso8601', { name: 'a', command: 'true', schedule: 'R/2030-01-01T00:00:00Z/PT1M' });
    await api(c, 'POST', '/dependency', { name: 'b', command: 'true', parents: ['a'] });
    await api(c, 'POST', '/dependency', { name: 'c', command: 'true', parents: ['b'] });
    const cycle = await api(c, 'POST', '/dependency', { name: 'b', command: 'true', parents: ['c'] });
    expect(cycle.status).toBe(422);
    expect((await api(c, 'GET', '/job/nope')).status).toBe(404);
    expect((await api(c, 'PUT', '/job/nope')).status).toBe(404);
    expect((await api(c, 'DELETE', '/job/a')).status).toBe(409);
  });

  it('forwards API requests from a follower to the leader, and stoa jobs works against either', async () => {
    const store = await bucket();
    const one = await chronos(store);
    await one.waitLeading();
    const two = await chronos(store);
    expect(two.isLeader).toBe(false);
    await waitFor(async () => (await fetch(`${two.httpUrl}/v1/leader`).then((r) => r.json() as Promise<{ leader: string }>)).leader === one.httpUrl, { what: 'the follower knows the leader' });
    expect((await api(two, 'POST', '/iso8601', { name: 'via-follower', command: 'true', schedule: 'R1/2100-01-01T00:00:00Z/PT1M', ...small })).status).toBe(204);
    expect((await api(one, 'GET', '/job/via-follower')).data.name).toBe('via-follower');
    expect((await api(two, 'GET', '/jobs')).data.map((j: { name: string }) => j.name)).toEqual(['via-follower']);
    expect((await api(two, 'POST', '/iso8601', { name: 'x', command: 'true', schedule: 'nope' })).status).toBe(422);
    // The old prefix answers too.
    expect((await fetch(`${two.httpUrl}/scheduler/jobs`)).status).toBe(200);

    let out = '';
    let err = '';
    const io = { out: (t: string) => (out += t), err: (t: string) => (err += t), env: {} };
    expect(await runJobsCli(['list', '--chronos', two.httpUrl], io)).toBe(0);
    expect(out).toMatch(/via-follower\s+R1\/2100/);
    expect(await runJobsCli(['run', 'via-follower', '--chronos', two.httpUrl], io)).toBe(0);
    await waitFor(async () => (await runsOf(one, 'via-follower'))[0]?.status === 'SUCCEEDED', { timeoutMs: 10_000, what: 'the manual run succeeded' });
    out = '';
    expect(await runJobsCli(['history', 'via-follower', '--chronos', two.httpUrl], io)).toBe(0);
    expect(out).toMatch(/manual\s+SUCCEEDED\s+1/);
    expect(await runJobsCli(['run', 'nope', '--chronos', two.httpUrl], io)).toBe(1);
    expect(err).toContain('404');
    expect(await runJobsCli(['frobnicate', '--chronos', two.httpUrl], io)).toBe(2);
  });
});
