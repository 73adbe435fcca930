/**
 * The batch executor end to end over a real nats-server: the real master, a real agent with the
 * process containerizer, and a small scheduler on `SchedulerClient` that drives jobs with the
 * planning layer (`createJobState`, `launchableTasks`, `markLaunching`, `applyTaskStatus`) and
 * launches their tasks with `batchTaskInfo` onto the batch executor (`src/executor/main.ts`, run
 * by the agent through tsx). Twenty module-function tasks and five command tasks share one
 * executor and finish with their results, a reduce gets the map results as inputs, a task past
 * its timeout fails with a clear message, a throwing function fails with the error's message, and
 * SHUTDOWN makes the executor leave by itself.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent } from '@stoa/agent';
import { MemoryStore, type TaskInfo, type TaskStatus } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { startMaster } from '@stoa/master';
import { SchedulerClient } from '@stoa/sdk';
import { startNats, waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { batchExecutorInfo, batchTaskInfo } from '../src/executor/executor-info.js';
import { decodeTaskOutput } from '../src/executor/task-data.js';
import { expandJob, type PlannedTask } from '../src/plan/expand.js';
import { applyTaskStatus, createJobState, type JobState, launchableTasks, markLaunching, taskInputs } from '../src/plan/job-state.js';
import { chooseTasksForOffer } from '../src/plan/locality.js';
import { validateJobSpec } from '../src/spec/parse.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const small = { cpus: 0.1, mem: 16 };

describe('the batch executor over NATS', () => {
  it('runs many module and command tasks on one executor, with results, timeouts and errors', async () => {
    const nats = await startNats({ jetstream: false });
    cleanups.push(() => nats.stop());
    const masterTransport = await NatsTransport.connect({ servers: nats.url, name: 'master' });
    const agentTransport = await NatsTransport.connect({ servers: nats.url, name: 'agent' });
    cleanups.push(() => masterTransport.close(), () => agentTransport.close());
    const master = await startMaster({ transport: masterTransport, store: new MemoryStore(), http: false, allocationIntervalMs: 100 });
    cleanups.push(() => master.stop());
    const workDir = mkdtempSync(join(tmpdir(), 'stoa-batch-e2e-'));
    cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
    const agent = await startAgent({ transport: agentTransport, workDir, resources: 'cpus:8;mem:8192;disk:1000', executorNatsUrl: nats.url, killGracePeriodMs: 1000 });
    cleanups.push(() => agent.stop({ killTasks: true }));
    await agent.waitRegistered();

    const client = await SchedulerClient.connect({ servers: nats.url, framework: { name: 'batch-e2e', principal: 'e2e' } });
    cleanups.push(() => client.close());
    const executor = batchExecutorInfo({ resources: 'cpus:1;mem:512' });

    // The jobs: a map/reduce with commands beside it, and two jobs that fail.
    const specs = [
      validateJobSpec(
        {
          name: 'wc',
          stages: [
            { name: 'map', count: 20, task: { module: './tasks.mjs', export: 'square', resources: small } },
            { name: 'cmd', count: 5, task: { command: 'echo "cmd $STOA_TASK_INDEX of $STOA_TASK_COUNT"; echo "{\\"i\\": $STOA_TASK_INDEX}" > "$STOA_RESULT"', resources: small } },
            { name: 'reduce', dependsOn: ['map'], task: { module: './tasks.mjs', export: 'sum', resources: small } },
          ],
        },
        { baseDir: fixtures },
      ),
      validateJobSpec({ name: 'slow', stages: [{ name: 'sleep', task: { command: 'echo going to sleep; sleep 30', timeoutSeconds: 1, resources: small } }] }),
      validateJobSpec({ name: 'bad', stages: [{ name: 'boom', task: { module: './tasks.mjs', export: 'boom', resources: small } }] }, { baseDir: fixtures }),
    ];
    const jobs = new Map<string, JobState>(specs.map((s) => [s.name, createJobState(s, { now: Date.now() })]));
    const plans = new Map<string, PlannedTask>(specs.flatMap((s) => expandJob(s)).map((t) => [t.taskId, t]));
    const statuses: TaskStatus[] = [];
    const jobOf = (launchId: string) => jobs.get(launchId.split('.')[0]!)!;

    client.on('OFFERS', async (event) => {
      for (const offer of event.offers) {
        const now = Date.now();
        const pending = [...jobs.values()].flatMap((job) => launchableTasks(job)).map((id) => ({ ...plans.get(id)!, pendingSinceMs: now }));
        const { chosen } = chooseTasksForOffer(pending, offer, now, { reserve: executor.resources });
        if (chosen.length === 0) {
          await client.decline(offer.id, { refuseMs: 200 });
          continue;
        }
        const tasks: TaskInfo[] = chosen.map(({ taskId }) => {
          const job = jobOf(taskId);
          const launchId = markLaunching(job, taskId, now, { agentId: offer.agentId });
          return batchTaskInfo(plans.get(taskId)!, { agentId: offer.agentId, executor, launchId, inputs: taskInputs(job, taskId) });
        });
        await client.accept(offer.id, [{ type: 'LAUNCH', tasks }]);
      }
    });
    client.on('UPDATE', async (event) => {
      statuses.push(...event.statuses);
      for (const status of event.statuses) {
        const job = jobOf(status.taskId);
        const output = decodeTaskOutput(status.data);
        for (const effect of applyTaskStatus(job, { ...status, ...(output !== undefined ? { output } : {}) }, Date.now())) {
          if (effect.type === 'KILL') await client.kill(effect.launchId);
        }
      }
      if ([...jobs.values()].some((job) => launchableTasks(job).length > 0)) await client.revive();
    });
    await client.revive();

    const ended = () => [...jobs.values()].every((job) => job.state !== 'RUNNING');
    await waitFor(ended, { timeoutMs: 45_000, what: 'every job ended' }).catch((error: unknown) => {
      const states = [...jobs.values()].map((j) => [j.jobId, j.state, Object.values(j.tasks).map((t) => `${t.taskId}:${t.state}:${t.message ?? ''}`)]);
      throw new Error(`jobs: ${JSON.stringify(states)}`, { cause: error });
    });

    const wc = jobs.get('wc')!;
    expect(wc.state).toBe('SUCCEEDED');
    for (let i = 0; i < 20; i++) expect(wc.tasks[`wc.map.${i}`]!.output?.result).toEqual({ index: i, square: i * i });
    for (let i = 0; i < 5; i++) {
      expect(wc.tasks[`wc.cmd.${i}`]!.output).toMatchObject({ exitCode: 0, stdoutTail: `cmd ${i} of 5\n`, result: { i } });
    }
    expect(wc.tasks['wc.reduce.0']!.output?.result).toBe([...Array(20).keys()].reduce((n, i) => n + i * i, 0));
    const wcStatuses = statuses.filter((s) => s.taskId.startsWith('wc.'));
    expect(new Set(wcStatuses.map((s) => s.taskId)).size).toBe(26);
    expect(wcStatuses.every((s) => s.executorId === 'stoa-batch' && s.source === 'SOURCE_EXECUTOR')).toBe(true);
    expect(agent.executors()).toHaveLength(1); // one executor ran them all

    const slow = jobs.get('slow')!;
    expect(slow).toMatchObject({ state: 'FAILED', reason: 'TASK_FAILED' });
    expect(slow.tasks['slow.sleep.0']).toMatchObject({ state: 'FAILED', message: 'TASK_FAILED: timed out after 1 s', output: { stdoutTail: 'going to sleep\n' } });
    expect(statuses.find((s) => s.taskId === 'slow.sleep.0' && s.state === 'TASK_FAILED')?.reason).toBe('REASON_MAX_COMPLETION_TIME_REACHED');

    const bad = jobs.get('bad')!;
    expect(bad).toMatchObject({ state: 'FAILED', reason: 'TASK_FAILED' });
    expect(bad.tasks['bad.boom.0']!.message).toBe('TASK_FAILED: boom threw Error: boom');
    expect(bad.message).toBe('task bad.boom.0 failed after 1 attempt: TASK_FAILED: boom threw Error: boom');

    // SHUTDOWN: the executor leaves by itself, cleanly.
    const sandbox = agent.executors()[0]!.sandboxDir;
    await client.shutdown(agent.agentId!, executor.executorId);
    await waitFor(() => agent.executors().length === 0, { timeoutMs: 15_000, what: 'the executor shut down' });
    expect(readFileSync(join(sandbox, '.stoa', 'exit'), 'utf8')).toBe('0\n');
  });
});
