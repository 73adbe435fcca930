/**
 * The batch framework end to end over a real nats-server: a real master, real agents (process
 * containerizer, so the batch executor is a real process per agent), and `startBatch` with its
 * jobs in a JetStream KV bucket, driven through its REST API. One cluster serves every test, in
 * order: the API's 422, retry then success, a deadline, locality (honoured, then relaxed), the
 * word count example, a restart mid-job, and last a gang of 4 that waits for two more agents.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AgentHandle, startAgent } from '@stoa/agent';
import { MemoryStore } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { startMaster } from '@stoa/master';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchHandle, startBatch } from '../src/service.js';
import { batchApi } from './batch-api.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const wordcountDir = fileURLToPath(new URL('../../../examples/wordcount/', import.meta.url));
const cleanups: (() => Promise<unknown> | unknown)[] = [];
let nats: NatsServerHandle;
let batch: BatchHandle;
let workRoot: string;
const agents: AgentHandle[] = [];

async function addAgent(name: string, rack: string): Promise<AgentHandle> {
  const transport = await NatsTransport.connect({ servers: nats.url, name: `agent-${name}` });
  const workDir = join(workRoot, name);
  const agent = await startAgent({
    transport,
    workDir,
    hostname: name,
    attributes: { rack },
    resources: 'cpus:4;mem:4096;disk:1000',
    executorNatsUrl: nats.url,
    killGracePeriodMs: 500,
  });
  cleanups.push(() => transport.close(), () => agent.stop({ killTasks: true }));
  await agent.waitRegistered();
  agents.push(agent);
  return agent;
}

async function startInstance(): Promise<BatchHandle> {
  const b = await startBatch({ servers: nats.url, bucket: 'batch-test', httpPort: 0, leaseMs: 1500, failoverTimeoutMs: 120_000 });
  await b.waitLeading();
  return b;
}

const { submit, getJob, waitJob } = batchApi(() => batch.httpUrl, fixtures);

const small = { cpus: 0.1, mem: 16 };

beforeAll(async () => {
  workRoot = mkdtempSync(join(tmpdir(), 'stoa-batch-nats-'));
  cleanups.push(() => rmSync(workRoot, { recursive: true, force: true }));
  nats = await startNats({ jetstream: true });
  cleanups.push(() => nats.stop());
  const masterTransport = await NatsTransport.connect({ servers: nats.url, name: 'master' });
  cleanups.push(() => masterTransport.close());
  const master = await startMaster({ transport: masterTransport, store: new MemoryStore(), http: false, allocationIntervalMs: 100 });
  cleanups.push(() => master.stop());
  await addAgent('host-a', 'r1');
  await addAgent('host-b', 'r2');
  batch = await startInstance();
  cleanups.push(() => batch.stop());
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the batch framework over NATS', () => {
  it('answers a spec that does not validate with 422 naming the field', async () => {
    const res = await fetch(`${batch.httpUrl}/v1/jobs`, { method: 'POST', body: 'name: bad\nstages:\n  - name: s\n    task: { command: "true", resources: { cpus: 1, mem: 8 }, retries: -1 }\n' });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { field: string; message: string } };
    expect(body.error.field).toBe('stages[0].task.retries');
    expect(body.error.message).toContain('stages[0].task.retries');
  });

  it('retries a failed task, then succeeds', async () => {
    const marker = join(workRoot, 'flaky-marker');
    const job = await submit({ name: 'retry', stages: [{ name: 's', task: { module: './batch-tasks.mjs', export: 'flaky', args: { marker }, retries: 2, backoffSeconds: 0.2, resources: small } }] });
    const done = await waitJob(job.jobId, 'the retried job ended');
    expect(done.state).toBe('SUCCEEDED');
    expect(done.tasks![0]).toMatchObject({ state: 'SUCCEEDED', attempt: 2, output: { result: 'second time lucky' } });
    expect(done.stages[0]!.failedAttempts).toBe(1);
  });

  it('fails a job at its deadline and kills its tasks', async () => {
    const job = await submit({ name: 'late', deadlineSeconds: 1, stages: [{ name: 's', count: 2, task: { command: 'sleep 30', resources: small } }] });
    await waitJob(job.jobId, 'the tasks run', (j) => j.stages[0]!.running === 2);
    const done = await waitJob(job.jobId, 'the deadline passed');
    expect(done).toMatchObject({ state: 'FAILED', reason: 'DEADLINE_EXCEEDED' });
    expect(done.tasks!.every((t) => t.state === 'CANCELLED')).toBe(true);
    const live = () => agents.flatMap((a) => a.tasks()).filter((t) => t.taskId.startsWith(job.jobId) && t.state === 'TASK_RUNNING');
    await waitFor(() => live().length === 0, { timeoutMs: 10_000, what: 'the sleeps were killed' });
  });

  it('honours a locality preference when it can, and relaxes it after the wait', async () => {
    const hostB = agents[1]!;
    const honoured = await submit({ name: 'near', stages: [{ name: 's', locality: { waitSeconds: 10 }, task: { module: './batch-tasks.mjs', export: 'noop', prefer: { hosts: ['host-b'] }, resources: small } }] });
    const relaxed = await submit({ name: 'far', stages: [{ name: 's', locality: { waitSeconds: 1 }, task: { module: './batch-tasks.mjs', export: 'noop', prefer: { hosts: ['host-z'] }, resources: small } }] });
    const near = await waitJob(honoured.jobId, 'the near job ended');
    const far = await waitJob(relaxed.jobId, 'the far job ended');
    expect(near.state).toBe('SUCCEEDED');
    expect(near.tasks![0]!.agentId).toBe(hostB.agentId);
    expect(near.tasks![0]!.launchedAtMs! - near.createdAtMs).toBeLessThan(10_000);
    expect(far.state).toBe('SUCCEEDED');
    // host-z never offers: the task waited its second, then took what there was.
    expect(far.tasks![0]!.launchedAtMs! - far.createdAtMs).toBeGreaterThanOrEqual(1000);
  });

  it('counts the words of examples/wordcount', async () => {
    const job = await submit(readFileSync(join(wordcountDir, 'job.yaml'), 'utf8'), wordcountDir);
    const done = await waitJob(job.jobId, 'the word count ended');
    expect(done.state).toBe('SUCCEEDED');
    const result = done.tasks!.find((t) => t.taskId.endsWith('.reduce.0'))!.output!.result as { words: number; counts: Record<string, number>; top: [string, number][] };
    const { inputFiles, words } = (await import(join(wordcountDir, 'wordcount.js'))) as { inputFiles(dir: string): string[]; words(text: string): string[] };
    const expected: Record<string, number> = {};
    let total = 0;
    for (const file of inputFiles(join(wordcountDir, 'input'))) {
      for (const w of words(readFileSync(file, 'utf8'))) {
        expected[w] = (expected[w] ?? 0) + 1;
        total++;
      }
    }
    expect(result.words).toBe(total);
    expect(result.counts).toEqual(expected);
    expect(result.top[0]).toEqual(['the', expected.the]);
  });

  it('resumes a job after a restart without running finished tasks again', async () => {
    const log = join(workRoot, 'restart.log');
    const gate = join(workRoot, 'restart.gate');
    const job = await submit({
      name: 'resume',
      stages: [
        { name: 'quick', count: 4, task: { module: './batch-tasks.mjs', export: 'record', args: { log }, resources: small } },
        { name: 'slow', dependsOn: ['quick'], count: 2, task: { module: './batch-tasks.mjs', export: 'record', args: { log, gate }, resources: small } },
        { name: 'last', dependsOn: ['slow'], task: { module: './batch-tasks.mjs', export: 'record', args: { log }, resources: small } },
      ],
    });
    await waitJob(job.jobId, 'the slow tasks run', (j) => j.stages[0]!.done === 4 && j.stages[1]!.running === 2);
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('slow.1'), { timeoutMs: 10_000, what: 'both slow tasks started' });
    await batch.stop();
    batch = await startInstance();
    writeFileSync(gate, 'open');
    const done = await waitJob(job.jobId, 'the resumed job ended');
    expect(done.state).toBe('SUCCEEDED');
    const runs = readFileSync(log, 'utf8').trim().split('\n').sort();
    expect(runs).toEqual(['last.0', 'quick.0', 'quick.1', 'quick.2', 'quick.3', 'slow.0', 'slow.1']);
  });

  it('launches a gang of 4 all at once, once 4 agents offer room', async () => {
    // 900 of each agent's 1000 disk: one gang task per agent, and only two agents so far.
    const job = await submit({
      name: 'gang',
      stages: [{ name: 'mpi', count: 4, gang: true, gangTimeoutSeconds: 25, task: { module: './batch-tasks.mjs', export: 'noop', resources: { ...small, disk: 900 } } }],
    });
    await waitFor(() => batch.scheduler?.gangHold()?.agents.length === 2, { timeoutMs: 10_000, what: 'the gang holds the offers of both agents' });
    await addAgent('host-c', 'r1');
    await waitFor(() => batch.scheduler?.gangHold()?.agents.length === 3, { timeoutMs: 10_000, what: 'the gang holds the offers of three agents' });
    expect((await getJob(job.jobId)).stages[0]).toMatchObject({ running: 0, done: 0 });
    await addAgent('host-d', 'r2');
    const done = await waitJob(job.jobId, 'the gang ended');
    expect(done.state).toBe('SUCCEEDED');
    const tasks = done.tasks!;
    expect(new Set(tasks.map((t) => t.agentId)).size).toBe(4);
    expect(new Set(tasks.map((t) => t.launchedAtMs)).size).toBe(1);
  });
});
