/**
 * Unit tests of the status-update manager and its shared timer queue: stamping, ordering, one in flight per task, batching, backoff, acknowledgements, journaling and restore.
 */

import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusUpdate } from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Checkpoint } from './checkpoint.js';
import { StatusUpdateManager, TimerQueue } from './status-updates.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A manager whose sends are recorded; `fail` makes them reject. */
function harness(options: { journal?: Checkpoint; initialMs?: number; maxMs?: number; maxBatch?: number } = {}) {
  const sent: StatusUpdate[][] = [];
  const forgotten: string[] = [];
  const state = { fail: false };
  const m = new StatusUpdateManager({
    send: async (batch) => {
      sent.push(batch);
      if (state.fail) throw new Error('no master');
    },
    ...(options.journal ? { journal: options.journal } : {}),
    retry: { initialMs: options.initialMs ?? 20, maxMs: options.maxMs ?? 80 },
    ...(options.maxBatch ? { maxBatch: options.maxBatch } : {}),
    onForget: (fw, t) => forgotten.push(`${fw}/${t}`),
  });
  m.agentId = 'a-1';
  cleanups.push(() => m.stop());
  const flat = () => sent.flat();
  return { m, sent, flat, forgotten, state };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stoa-su-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('TimerQueue', () => {
  it('runs calls in time order and skips cancelled ones', async () => {
    const q = new TimerQueue();
    cleanups.push(() => q.close());
    const ran: number[] = [];
    const now = q.now();
    q.schedule(now + 30, () => ran.push(3));
    q.schedule(now + 10, () => ran.push(1));
    const c = q.schedule(now + 20, () => ran.push(2));
    q.schedule(now + 20, () => ran.push(22));
    c.cancel();
    await waitFor(() => ran.length === 3, { what: 'three calls' });
    expect(ran).toEqual([1, 22, 3]);
  });

  it('arms no timeout beyond what setTimeout honours, and does not run far calls early', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const q = new TimerQueue();
    cleanups.push(() => {
      q.close();
      spy.mockRestore();
    });
    let far = false;
    let near = false;
    q.schedule(q.now() + 30 * 24 * 3600 * 1000, () => {
      far = true;
    });
    const delays = spy.mock.calls.map((c) => c[1] ?? 0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2 ** 31 - 1);
    q.schedule(q.now() + 5, () => {
      near = true;
    });
    await waitFor(() => near, { what: 'the near call' });
    expect(far).toBe(false);
  });

  it('keeps going when a callback throws', async () => {
    const errors: unknown[] = [];
    const q = new TimerQueue((e) => errors.push(e));
    cleanups.push(() => q.close());
    let ran = false;
    q.schedule(q.now(), () => {
      throw new Error('boom');
    });
    q.schedule(q.now() + 1, () => {
      ran = true;
    });
    await waitFor(() => ran, { what: 'the second call' });
    expect(errors).toHaveLength(1);
  });
});

describe('StatusUpdateManager', () => {
  it('stamps updates with uuid, timestamp and agent id', () => {
    const { m } = harness();
    const s = m.update('f', { taskId: 't', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    expect(s.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.agentId).toBe('a-1');
    expect(s.timestampMs).toBeGreaterThan(0);
  });

  it('sends nothing while paused, everything once resumed', async () => {
    const { m, sent, flat } = harness();
    m.update('f', { taskId: 't', state: 'TASK_STARTING', source: 'SOURCE_AGENT' });
    m.flush();
    expect(sent).toHaveLength(0);
    m.resume();
    await waitFor(() => flat().length === 1, { what: 'a send' });
    expect(flat()[0]!.status.state).toBe('TASK_STARTING');
  });

  it('keeps one update per task in flight and sends the next after the ack', async () => {
    const { m, flat } = harness({ initialMs: 10_000 });
    m.resume();
    const a = m.update('f', { taskId: 't', state: 'TASK_STARTING', source: 'SOURCE_AGENT' });
    m.update('f', { taskId: 't', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    await waitFor(() => flat().length === 1, { what: 'the first send' });
    m.flush();
    expect(flat().map((u) => u.status.state)).toEqual(['TASK_STARTING']);
    expect(m.acknowledge('f', 't', a.uuid!)).toBe(true);
    await waitFor(() => flat().length === 2, { what: 'the second send' });
    expect(flat().map((u) => u.status.state)).toEqual(['TASK_STARTING', 'TASK_RUNNING']);
  });

  it('batches heads of many tasks into one message, capped at maxBatch', async () => {
    const { m, sent } = harness({ maxBatch: 4 });
    for (let i = 0; i < 10; i++) m.update('f', { taskId: `t${i}`, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    m.resume();
    await waitFor(() => sent.flat().length === 10, { what: 'ten updates' });
    expect(sent.map((b) => b.length)).toEqual([4, 4, 2]);
  });

  it('resends unacknowledged updates with growing backoff, also when sends fail', async () => {
    const { m, sent, state } = harness({ initialMs: 10, maxMs: 40 });
    state.fail = true;
    m.resume();
    const s = m.update('f', { taskId: 't', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    await waitFor(() => sent.length >= 5, { what: 'five sends' });
    expect(sent.every((b) => b[0]!.status.uuid === s.uuid)).toBe(true);
    expect(m.stats.retried).toBeGreaterThanOrEqual(4);
    expect(m.stats.sendFailures).toBeGreaterThanOrEqual(5);
    state.fail = false;
    m.acknowledge('f', 't', s.uuid!);
    const count = sent.length;
    await new Promise((r) => setTimeout(r, 100)); // nothing more may come: deliberately checks absence
    expect(sent.length).toBe(count);
  });

  it('ignores acks of unknown uuids and of updates not at the head', () => {
    const { m } = harness();
    m.update('f', { taskId: 't', state: 'TASK_STARTING', source: 'SOURCE_AGENT' });
    const second = m.update('f', { taskId: 't', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    expect(m.acknowledge('f', 't', 'nope')).toBe(false);
    expect(m.acknowledge('f', 't', second.uuid!)).toBe(false);
    expect(m.acknowledge('f', 'other', second.uuid!)).toBe(false);
    expect(m.pendingCount).toBe(2);
    expect(m.stats.ignoredAcks).toBe(3);
  });

  it('forgets a task once its terminal update is acknowledged', () => {
    const { m, forgotten } = harness();
    const a = m.update('f', { taskId: 't', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    const b = m.update('f', { taskId: 't', state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR' });
    m.acknowledge('f', 't', a.uuid!);
    expect(forgotten).toEqual([]);
    m.acknowledge('f', 't', b.uuid!);
    expect(forgotten).toEqual(['f/t']);
    expect(m.pendingCount).toBe(0);
  });

  it('resends everything at once on resume (a new master)', async () => {
    const { m, sent } = harness({ initialMs: 60_000, maxMs: 60_000 });
    m.resume();
    m.update('f', { taskId: 't1', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    m.update('f', { taskId: 't2', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    await waitFor(() => sent.flat().length === 2, { what: 'first sends' });
    m.pause();
    m.resume();
    await waitFor(() => sent.flat().length === 4, { what: 'resends' });
    expect(m.stats.retried).toBe(2);
  });

  it('journals before sending, records acks, and restores what was not acknowledged', async () => {
    const dir = tempDir();
    const cp = new Checkpoint(dir);
    cleanups.push(() => cp.close());
    // What the journal on disk held when each batch was sent.
    const onDiskAtSend: string[][] = [];
    const sent: StatusUpdate[][] = [];
    const first = new StatusUpdateManager({
      send: async (batch) => {
        onDiskAtSend.push(Checkpoint.read(dir).journals.flatMap((j) => j.pending.map((u) => u.status.uuid!)));
        sent.push(batch);
      },
      journal: cp,
      retry: { initialMs: 60_000, maxMs: 60_000 },
    });
    cleanups.push(() => first.stop());
    const a = first.update('f', { taskId: 'task/1', state: 'TASK_STARTING', source: 'SOURCE_AGENT' });
    const b = first.update('f', { taskId: 'task/1', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    first.resume();
    await waitFor(() => sent.length >= 1, { what: 'a send' });
    expect(sent[0]!.map((u) => u.status.uuid)).toEqual([a.uuid]);
    // Both updates were written before the first one went out.
    expect(onDiskAtSend[0]).toEqual([a.uuid, b.uuid]);
    first.acknowledge('f', 'task/1', a.uuid!);
    first.stop();
    cp.sync();

    const loaded = Checkpoint.read(dir);
    expect(loaded.journals).toHaveLength(1);
    const journal = loaded.journals[0]!;
    expect(journal.taskId).toBe('task/1');
    expect(journal.pending.map((u) => u.status.uuid)).toEqual([b.uuid]);

    const second = harness({ journal: cp });
    second.m.restore(journal.pending);
    second.m.resume();
    await waitFor(() => second.flat().length === 1, { what: 'the resend' });
    expect(second.flat()[0]!.status.uuid).toBe(b.uuid);
    // Restoring does not write the update again.
    cp.sync();
    expect(readFileSync(cp.journalFile, 'utf8').split(b.uuid!).length - 1).toBe(1);
  });

  it('skips a journal line cut short by a crash', () => {
    const dir = tempDir();
    const cp = new Checkpoint(dir);
    cleanups.push(() => cp.close());
    const { m } = harness({ journal: cp });
    const a = m.update('f', { taskId: 't', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    cp.sync();
    const whole = readFileSync(cp.journalFile, 'utf8');
    // append half a line, as a kill -9 mid-write would leave it
    appendFileSync(cp.journalFile, whole.slice(0, 20));
    const loaded = Checkpoint.read(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.journals[0]!.pending.map((u) => u.status.uuid)).toEqual([a.uuid]);
  });
});
