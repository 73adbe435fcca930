/**
 * Bundles end to end over a real nats-server: a real master, two real agents (process
 * containerizer: the batch executor is a real process per agent) and `startBatch` with small
 * bundles. Many short module tasks run as few tasks of the master's, each member still reported,
 * retried and read by a reduce stage as a task of its own; members too large together go in
 * smaller bundles; cancelling a job kills its bundles;
 * the members of a bundle whose executor dies are retried.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AgentHandle, startAgent } from '@stoa/agent';
import { MemoryStore } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { type MasterHandle, startMaster } from '@stoa/master';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchHandle, startBatch } from '../src/service.js';
import { batchApi, type Job } from './batch-api.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const cleanups: (() => Promise<unknown> | unknown)[] = [];
let nats: NatsServerHandle;
let master: MasterHandle;
let batch: BatchHandle;
let workRoot: string;
const agents: AgentHandle[] = [];
/** The id of every task the master was asked to launch. */
const launched: string[] = [];

const api = batchApi(() => batch.httpUrl, fixtures);
const { submit } = api;
/** {@link batchApi}'s waitJob with 30 s to wait. */
const waitJob = (jobId: string, what: string, until?: (job: Job) => boolean) => api.waitJob(jobId, what, until, 30_000);

const small = { cpus: 0.01, mem: 4 };

/** The pids of the batch executors the agents started (their sandboxes are under the work root). */
function executorPids(): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes('executor/main') && readFileSync(`/proc/${pid}/environ`, 'utf8').includes(workRoot)) pids.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

beforeAll(async () => {
  workRoot = mkdtempSync(join(tmpdir(), 'stoa-batch-bundles-'));
  cleanups.push(() => rmSync(workRoot, { recursive: true, force: true }));
  nats = await startNats({ jetstream: true });
  cleanups.push(() => nats.stop());
  const masterTransport = await NatsTransport.connect({ servers: nats.url, name: 'master' });
  cleanups.push(() => masterTransport.close());
  master = await startMaster({ transport: masterTransport, store: new MemoryStore(), http: false, allocationIntervalMs: 50 });
  cleanups.push(() => master.stop());
  master.onClusterEvent((e) => {
    if (e.type === 'TASK_ADDED') launched.push(e.task.taskId);
  });
  for (const name of ['host-a', 'host-b']) {
    const transport = await NatsTransport.connect({ servers: nats.url, name: `agent-${name}` });
    const agent = await startAgent({ transport, workDir: join(workRoot, name), hostname: name, resources: 'cpus:4;mem:4096;disk:1000', executorNatsUrl: nats.url, killGracePeriodMs: 500 });
    cleanups.push(() => transport.close(), () => agent.stop({ killTasks: true }));
    await agent.waitRegistered();
    agents.push(agent);
  }
  batch = await startBatch({ servers: nats.url, bucket: 'batch-bundles', httpPort: 0, bundleSize: 16, maxTasksPerOffer: 100, executor: { resources: 'cpus:1;mem:512', maxConcurrency: 8, runningDelayMs: 0 } });
  cleanups.push(() => batch.stop());
  await batch.waitLeading();
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('bundles over NATS', () => {
  it('runs 300 short tasks as bundles, each reported, one retried, their results reduced', async () => {
    const before = launched.length;
    const job = await submit({
      name: 'squares',
      stages: [
        { name: 'map', count: 300, task: { module: './bundle-tasks.mjs', export: 'square', args: { failOnce: 7, dir: workRoot }, retries: 1, backoffSeconds: 0.1, resources: small } },
        { name: 'reduce', dependsOn: ['map'], task: { module: './bundle-tasks.mjs', export: 'sum', resources: small } },
      ],
    });
    const done = await waitJob(job.jobId, 'the job ended');
    expect(done.state).toBe('SUCCEEDED');
    expect(done.stages[0]).toMatchObject({ done: 300, failed: 0, failedAttempts: 1 });
    const tasks = new Map(done.tasks!.map((t) => [t.taskId, t]));
    for (let i = 0; i < 300; i++) expect(tasks.get(`${job.jobId}.map.${i}`)?.output?.result).toBe(i * i);
    expect(tasks.get(`${job.jobId}.map.7`)?.attempt).toBe(2);
    let expected = 0;
    for (let i = 0; i < 300; i++) expected += i * i;
    expect(tasks.get(`${job.jobId}.reduce.0`)?.output?.result).toBe(expected);
    // The master saw bundles of at most 16, not 301 tasks: the map's 300 first attempts in at
    // least 19 bundles, the retry and the reduce alone.
    // A bundle's id is its first member's launch id and `+<members>`.
    const mine = launched.slice(before).filter((id) => id.startsWith(`${job.jobId}.`));
    const sizes = mine.map((id) => Number(/\+(\d+)$/.exec(id)?.[1] ?? 1));
    const bundles = sizes.filter((n) => n > 1);
    const members = bundles.reduce((n, size) => n + size, 0);
    expect(Math.max(...bundles)).toBeLessThanOrEqual(16);
    expect(members + (mine.length - bundles.length)).toBe(302);
    expect(mine.length).toBeLessThan(60);
    expect(bundles.length).toBeGreaterThanOrEqual(19);
  });

  it('splits a bundle whose members are too large together (over the 512 KiB of task data)', async () => {
    const before = launched.length;
    // 40 KB of args each: 16 would carry 640 KB; 8 carry 320.
    const job = await submit({ name: 'large', stages: [{ name: 'map', count: 32, task: { module: './bundle-tasks.mjs', export: 'square', args: { pad: 'x'.repeat(40_000) }, resources: small } }] });
    const done = await waitJob(job.jobId, 'the job ended');
    expect(done.state).toBe('SUCCEEDED');
    expect(done.tasks!.every((t) => t.attempt === 1)).toBe(true);
    const sizes = launched
      .slice(before)
      .filter((id) => id.startsWith(`${job.jobId}.`))
      .map((id) => Number(/\+(\d+)$/.exec(id)?.[1] ?? 1));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(32);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
  });

  it('cancels a job: its bundles are killed, queued members and running ones', async () => {
    const gate = join(workRoot, 'never-opens');
    const job = await submit({ name: 'stuck', stages: [{ name: 'wait', count: 40, task: { module: './bundle-tasks.mjs', export: 'wait', args: { gate }, resources: small } }] });
    // 8 at once on each executor; the rest wait in its queue.
    await waitJob(job.jobId, 'its tasks run', (j) => j.stages[0]!.running === 40);
    const res = await fetch(`${batch.httpUrl}/v1/jobs/${job.jobId}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const ended = await waitJob(job.jobId, 'the job cancelled');
    expect(ended.state).toBe('CANCELLED');
    expect(ended.tasks!.every((t) => t.state === 'CANCELLED')).toBe(true);
    // Every bundle ends at the agents (killed), none left running.
    const live = () => [...master.context.agents.values()].flatMap((a) => [...a.tasks.values()]).filter((t) => t.info.labels?.['stoa.batch/job'] === job.jobId);
    await waitFor(() => live().length === 0, { timeoutMs: 15_000, what: "the job's bundles ended at the agents" });
    const killed = [...master.context.completedTasks.values()].filter((t) => t.info.labels?.['stoa.batch/job'] === job.jobId);
    expect(killed.length).toBeGreaterThan(0);
    expect(killed.every((t) => t.state === 'TASK_KILLED')).toBe(true);
  });

  it('retries the members of a bundle whose executor died', async () => {
    const gate = join(workRoot, 'opens-later');
    const job = await submit({ name: 'crash', stages: [{ name: 'wait', count: 20, task: { module: './bundle-tasks.mjs', export: 'wait', args: { gate }, retries: 1, resources: small } }] });
    await waitJob(job.jobId, 'its tasks run', (j) => j.stages[0]!.running === 20);
    const pids = executorPids();
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await waitJob(job.jobId, 'every task failed once', (j) => j.stages[0]!.failedAttempts === 20);
    writeFileSync(gate, 'open');
    const done = await waitJob(job.jobId, 'the job ended');
    expect(done.state).toBe('SUCCEEDED');
    expect(done.tasks!.every((t) => t.attempt === 2 && t.output?.result === 'gate open')).toBe(true);
  });
});
