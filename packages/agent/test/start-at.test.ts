/**
 * `startAtMs` over a real nats-server with real processes: the agent takes a task at once
 * (TASK_STARTING) and starts its process at the time given, not before; a kill while it waits
 * ends it without ever starting it; a time already past starts it at once.
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusUpdate, TaskInfo, TaskState } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { type NatsServerHandle, startNats, waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentHandle, startAgent } from '../src/index.js';
import { commandTask, FakeMaster, testFramework } from './fake-master.js';

let nats: NatsServerHandle;
let master: FakeMaster;
let agent: AgentHandle;
let agentId: string;
let workDir: string;
const transports: NatsTransport[] = [];

beforeAll(async () => {
  nats = await startNats({ jetstream: false });
  const masterTransport = await NatsTransport.connect({ servers: nats.url });
  const agentTransport = await NatsTransport.connect({ servers: nats.url });
  transports.push(masterTransport, agentTransport);
  master = FakeMaster.start({ transport: masterTransport, autoAck: true });
  workDir = mkdtempSync(join(tmpdir(), 'stoa-start-at-'));
  agent = await startAgent({ transport: agentTransport, workDir, hostname: 'test-host', resources: 'cpus:2;mem:1024;disk:1000', killGracePeriodMs: 500 });
  await agent.waitRegistered();
  agentId = agent.agentId!;
});

afterAll(async () => {
  await agent?.stop({ killTasks: true });
  master?.stop();
  for (const t of transports) await t.close();
  await nats?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function run(tasks: TaskInfo[]): void {
  master.send(agentId, { type: 'RUN_TASKS', launches: [{ framework: testFramework(), tasks }] });
}

function waitState(taskId: string, state: TaskState): Promise<StatusUpdate> {
  return master.waitUpdate((u) => u.status.taskId === taskId && u.status.state === state, `${taskId} ${state}`, 15_000);
}

describe('startAtMs', () => {
  it('sends TASK_STARTING at once and starts the process at the time given, not before', async () => {
    const startAt = Date.now() + 1500;
    // The process writes the time it started into its sandbox's stdout.
    run([commandTask('later', 'node -e "console.log(Date.now())"', { startAtMs: startAt })]);
    const starting = await waitState('later', 'TASK_STARTING');
    expect(starting.status.timestampMs).toBeLessThan(startAt);
    const running = await waitState('later', 'TASK_RUNNING');
    expect(running.status.timestampMs).toBeGreaterThanOrEqual(startAt);
    await waitState('later', 'TASK_FINISHED');
    const reply = await master.readFile(agentId, 'later', 'stdout');
    if (!reply.ok) throw new Error(`READ_FILE failed: ${JSON.stringify(reply)}`);
    const startedAt = Number(Buffer.from(reply.result.data ?? new Uint8Array()).toString('utf8').trim());
    expect(startedAt).toBeGreaterThanOrEqual(startAt);
    // TASK_RUNNING is stamped with the moment the container was launched: before the process ran its first line.
    expect(running.status.timestampMs).toBeLessThanOrEqual(startedAt);
  });

  it('ends a task killed while it waits, without ever starting it', async () => {
    const marker = join(workDir, 'never-started');
    run([commandTask('killed-early', `touch ${marker}`, { startAtMs: Date.now() + 60_000 })]);
    await waitState('killed-early', 'TASK_STARTING');
    master.send(agentId, { type: 'KILL_TASKS', kills: [{ frameworkId: testFramework().id, taskId: 'killed-early' }] });
    const killed = await waitState('killed-early', 'TASK_KILLED');
    expect(killed.status.source).toBe('SOURCE_AGENT');
    expect(master.statesOf('killed-early')).not.toContain('TASK_RUNNING');
    expect(existsSync(marker)).toBe(false);
    // Acknowledged and ended, the agent forgets it.
    await waitFor(() => !agent.tasks().some((t) => t.taskId === 'killed-early'), { what: 'the killed task forgotten' });
  });

  it('starts a task whose time has passed at once', async () => {
    run([commandTask('past', 'exit 0', { startAtMs: Date.now() - 10_000 })]);
    await waitState('past', 'TASK_FINISHED');
    expect(master.statesOf('past')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  });
});
