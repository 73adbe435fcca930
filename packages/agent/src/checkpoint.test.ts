/**
 * Unit tests of the checkpoint: safe file names, round trips through the journal (bytes
 * included), one write per batch, lines cut short by a crash, compaction, files of earlier
 * versions, unreadable records, failed writes, and the write-ahead transport.
 */

import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus, MemoryTransport, type StatusUpdate } from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpoint, type ExecutorCheckpoint, fileNameOf, idOfFileName, type TaskCheckpoint, writeAheadTransport } from './checkpoint.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stoa-cp-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(dir: string, options: ConstructorParameters<typeof Checkpoint>[1] = {}): Checkpoint {
  const cp = new Checkpoint(dir, options);
  cleanups.push(() => cp.close());
  return cp;
}

function taskCheckpoint(taskId: string, frameworkId = 'fw/1'): TaskCheckpoint {
  return {
    frameworkId,
    framework: { id: frameworkId, name: 'f', principal: 'p' },
    task: {
      taskId,
      name: 'n',
      agentId: 'a-1',
      resources: [{ name: 'cpus', type: 'SCALAR', scalar: 1 }],
      command: { value: 'true' },
      data: new Uint8Array([1, 2, 3]),
    },
    runId: 'r1',
    containerId: 'c1',
    sandboxDir: '/tmp/s',
    state: 'TASK_STAGING',
  };
}

function update(taskId: string, uuid: string, state: StatusUpdate['status']['state'] = 'TASK_RUNNING'): StatusUpdate {
  return { frameworkId: 'fw/1', status: { taskId, state, source: 'SOURCE_EXECUTOR', timestampMs: 1, uuid, data: new Uint8Array([9]) } };
}

function executorCheckpoint(executorId: string): ExecutorCheckpoint {
  return {
    frameworkId: 'fw/1',
    framework: { id: 'fw/1', name: 'f', principal: 'p' },
    info: { executorId, command: { value: 'run-executor' }, resources: [{ name: 'cpus', type: 'SCALAR', scalar: 1 }] },
    builtin: false,
    runId: 'r1',
    containerId: `executor_${executorId}-r1`,
    sandboxDir: '/tmp/e',
    subscribed: true,
    terminating: false,
    launchedAtMs: 3,
    groups: [],
  };
}

/** The journal's lines, each a batch: the kinds of its records. */
function batches(cp: Checkpoint): string[][] {
  return readFileSync(cp.journalFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { k: string }[]).map((r) => r.k));
}

describe('Checkpoint', () => {
  it('encodes ids into safe file names and back', () => {
    for (const id of ['a', 'web.1', '..', '.', 'a/b', 'x y%', 'ü']) {
      const name = fileNameOf(id);
      expect(name).not.toMatch(/[/]/);
      expect(name === '.' || name === '..').toBe(false);
      expect(idOfFileName(name)).toBe(id);
    }
  });

  it('round-trips the agent, tasks (with bytes), updates and executors through a restart, and forgets', () => {
    const dir = tempDir();
    const cp = open(dir);
    cp.writeAgent({ agentId: 'a-1', resources: [{ name: 'cpus', type: 'SCALAR', scalar: 2 }] });
    const t = taskCheckpoint('../t');
    cp.writeTask(t);
    cp.appendUpdate(update('../t', 'u1'));
    cp.appendUpdate(update('../t', 'u2', 'TASK_FINISHED'));
    cp.appendAck('fw/1', '../t', 'u1');
    cp.writeTask({ ...t, state: 'TASK_FINISHED', status: update('../t', 'u2', 'TASK_FINISHED').status, launchedAtMs: 5, killReason: 'kill' });
    cp.writeTask(taskCheckpoint('gone'));
    cp.writeExecutor(executorCheckpoint('ex-1'));
    cp.writeExecutor(executorCheckpoint('ex-2'));
    cp.sync();
    cp.forgetTask('fw/1', 'gone');
    cp.forgetExecutor('fw/1', 'ex-2');
    cp.close();

    const loaded = open(dir).load();
    expect(loaded.problems).toEqual([]);
    expect(loaded.agent?.agentId).toBe('a-1');
    expect(loaded.tasks.map((x) => x.task.taskId)).toEqual(['../t']);
    const back = loaded.tasks[0]!;
    expect(back.task.data).toEqual(new Uint8Array([1, 2, 3]));
    expect(back.state).toBe('TASK_FINISHED');
    expect(back.launchedAtMs).toBe(5);
    expect(back.killReason).toBe('kill');
    expect(back.status?.data).toEqual(new Uint8Array([9]));
    expect(loaded.journals).toHaveLength(1);
    expect(loaded.journals[0]!.pending.map((u) => u.status.uuid)).toEqual(['u2']);
    expect(loaded.journals[0]!.pending[0]!.status.data).toEqual(new Uint8Array([9]));
    expect(loaded.journals[0]!.last?.status.state).toBe('TASK_FINISHED');
    expect(loaded.executors.map((e) => e.info.executorId)).toEqual(['ex-1']);
    expect(loaded.executors[0]).toEqual(executorCheckpoint('ex-1'));
  });

  it('writes one line per batch, a task once in a batch, and only what changed once it is written', () => {
    const dir = tempDir();
    const cp = open(dir);
    const t = taskCheckpoint('t');
    cp.writeTask(t);
    cp.writeTask({ ...t, state: 'TASK_STARTING' });
    cp.writeTask({ ...t, state: 'TASK_RUNNING', launchedAtMs: 7 });
    cp.writeExecutor(executorCheckpoint('ex'));
    cp.writeExecutor({ ...executorCheckpoint('ex'), subscribed: false });
    cp.sync();
    expect(batches(cp)).toEqual([['task', 'executor']]);
    const finished = update('t', 'u1', 'TASK_FINISHED');
    cp.writeTask({ ...t, state: 'TASK_FINISHED', status: finished.status, launchedAtMs: 7 });
    cp.appendUpdate(finished);
    cp.sync();
    cp.sync(); // nothing new: nothing written
    expect(batches(cp)).toEqual([['task', 'executor'], ['run', 'update']]);
    const line = readFileSync(cp.journalFile, 'utf8').trim().split('\n')[1]!;
    expect(line).not.toContain('"command"'); // the TaskInfo is not written again
    expect(cp.stats).toMatchObject({ batches: 2, records: 4 });
    const loaded = Checkpoint.read(dir);
    expect(loaded.tasks[0]!.state).toBe('TASK_FINISHED');
    expect(loaded.tasks[0]!.launchedAtMs).toBe(7);
    expect(loaded.tasks[0]!.status?.data).toEqual(new Uint8Array([9]));
    expect(loaded.tasks[0]!.task.data).toEqual(new Uint8Array([1, 2, 3]));
    expect(loaded.executors[0]!.subscribed).toBe(false);
  });

  it('writes what a turn gathered by the end of the turn without being asked', async () => {
    const dir = tempDir();
    const cp = open(dir);
    cp.writeTask(taskCheckpoint('t'));
    cp.appendUpdate(update('t', 'u1'));
    expect(Checkpoint.read(dir).tasks).toEqual([]);
    await waitFor(() => Checkpoint.read(dir).journals.length === 1, { what: 'the batch on disk' });
    expect(batches(cp)).toEqual([['task', 'update']]);
  });

  it('drops a batch cut short by a crash whole, and writes on after it on a restart', () => {
    const dir = tempDir();
    const first = new Checkpoint(dir);
    first.writeTask(taskCheckpoint('kept'));
    first.sync();
    first.close();
    // A batch whose write was cut short: a task and its update, neither of which may count.
    const cut = `[${JSON.stringify({ k: 'task', t: { ...taskCheckpoint('torn'), task: { ...taskCheckpoint('torn').task, data: undefined } } })},{"k":"upd`;
    appendFileSync(join(dir, 'meta', 'journal'), cut);
    const read = Checkpoint.read(dir);
    expect(read.problems).toEqual([]);
    expect(read.tasks.map((t) => t.task.taskId)).toEqual(['kept']);

    const second = open(dir);
    expect(second.load().tasks.map((t) => t.task.taskId)).toEqual(['kept']);
    second.writeTask(taskCheckpoint('after'));
    second.sync();
    const again = Checkpoint.read(dir);
    expect(again.problems).toEqual([]);
    expect(again.tasks.map((t) => t.task.taskId).sort()).toEqual(['after', 'kept']);
  });

  it('compacts the journal as tasks come and go, keeping what lives', () => {
    const dir = tempDir();
    const cp = open(dir, { compactBytes: 16 * 1024 });
    cp.writeTask(taskCheckpoint('long'));
    cp.appendUpdate(update('long', 'long-1'));
    for (let i = 0; i < 500; i++) {
      const id = `t${i}`;
      const t = taskCheckpoint(id);
      cp.writeTask(t);
      cp.sync();
      cp.appendUpdate(update(id, `u${i}`, 'TASK_FINISHED'));
      cp.writeTask({ ...t, state: 'TASK_FINISHED' });
      cp.sync();
      cp.appendAck('fw/1', id, `u${i}`);
      cp.forgetTask('fw/1', id);
      cp.sync();
    }
    cp.writeTask(taskCheckpoint('last'));
    cp.sync();
    expect(cp.stats.compactions).toBeGreaterThan(5);
    expect(cp.stats.bytes).toBeGreaterThan(20 * 16 * 1024);
    expect(readFileSync(cp.journalFile).length).toBeLessThan(2 * 16 * 1024);
    expect(existsSync(join(dir, 'meta', 'journal.compact'))).toBe(false);
    const loaded = Checkpoint.read(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.tasks.map((t) => t.task.taskId).sort()).toEqual(['last', 'long']);
    expect(loaded.journals.map((j) => j.pending.map((u) => u.status.uuid))).toEqual([['long-1']]);
  });

  it('keeps the last update of a task whose updates were all acknowledged, through a compaction', () => {
    const dir = tempDir();
    const cp = open(dir);
    cp.appendUpdate(update('t', 'u1', 'TASK_FAILED'));
    cp.appendAck('fw/1', 't', 'u1');
    cp.close();
    const loaded = open(dir).load(); // opening compacts
    expect(loaded.journals).toEqual([{ frameworkId: 'fw/1', taskId: 't', pending: [], last: expect.objectContaining({ status: expect.objectContaining({ uuid: 'u1' }) }) }]);
  });

  it('moves the files of earlier versions into the journal and removes them', () => {
    const dir = tempDir();
    const meta = join(dir, 'meta');
    const fw = fileNameOf('fw/1');
    for (const sub of ['tasks', 'updates', 'executors']) mkdirSync(join(meta, sub, fw), { recursive: true });
    writeFileSync(join(meta, 'agent.json'), JSON.stringify({ agentId: 'a-1' }));
    const t = taskCheckpoint('old');
    writeFileSync(join(meta, 'tasks', fw, 'old.json'), JSON.stringify({ ...t, task: { ...t.task, data: { $bytes: 'AQID' } } }));
    writeFileSync(join(meta, 'tasks', fw, 'bad.json'), '{"nope":');
    const lines = [{ update: update('old', 'u1') }, { update: update('old', 'u2') }, { ack: 'u1' }].map((l) => JSON.stringify(l, (k, v) => (k === 'data' ? { $bytes: 'CQ==' } : v)));
    writeFileSync(join(meta, 'updates', fw, 'old.jsonl'), `${lines.join('\n')}\n`);
    writeFileSync(join(meta, 'executors', fw, 'ex-1.json'), JSON.stringify(executorCheckpoint('ex-1')));

    const cp = open(dir);
    const loaded = cp.load();
    expect(loaded.agent?.agentId).toBe('a-1');
    expect(loaded.tasks.map((x) => x.task.taskId)).toEqual(['old']);
    expect(loaded.tasks[0]!.task.data).toEqual(new Uint8Array([1, 2, 3]));
    expect(loaded.journals[0]!.pending.map((u) => u.status.uuid)).toEqual(['u2']);
    expect(loaded.executors.map((e) => e.info.executorId)).toEqual(['ex-1']);
    expect(loaded.problems).toHaveLength(1);
    expect(loaded.problems[0]).toContain('bad.json');
    expect(readdirSync(meta).sort()).toEqual(['agent.json', 'journal']);
    cp.close();
    const again = Checkpoint.read(dir);
    expect(again.tasks.map((x) => x.task.taskId)).toEqual(['old']);
    expect(again.journals[0]!.pending.map((u) => u.status.uuid)).toEqual(['u2']);
  });

  it('reports records it cannot read instead of failing, and drops them', () => {
    const dir = tempDir();
    const cp = new Checkpoint(dir);
    cp.writeTask(taskCheckpoint('good'));
    cp.close();
    const journal = join(dir, 'meta', 'journal');
    appendFileSync(journal, 'garbage\n');
    appendFileSync(journal, `${JSON.stringify([{ k: 'task', t: { frameworkId: 'fw/1', task: { taskId: 'bad' } } }, { k: 'run', fw: 'fw/1', id: 'nobody', r: {} }, { k: 'what' }])}\n`);
    const plain = update('good', 'u1');
    delete plain.status.data; // plain JSON: no bytes
    appendFileSync(journal, `${JSON.stringify([{ k: 'update', u: plain }])}\n`);
    const loaded = open(dir).load();
    expect(loaded.tasks.map((t) => t.task.taskId)).toEqual(['good']);
    expect(loaded.journals[0]!.pending.map((u) => u.status.uuid)).toEqual(['u1']);
    expect(loaded.problems).toHaveLength(4);
    expect(loaded.problems.join('\n')).toMatch(/line 2 is not a whole batch/);
    expect(loaded.problems.join('\n')).toMatch(/task bad: not a valid task checkpoint/);
    // Dropped: the compacted journal no longer holds them.
    expect(Checkpoint.read(dir).problems).toEqual([]);
  });

  it('keeps records whose write failed and writes them once it can', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'meta', 'journal'), { recursive: true }); // a directory where the journal goes: writes fail
    const errors: unknown[] = [];
    const cp = open(dir, { onError: (e) => errors.push(e) });
    cp.writeTask(taskCheckpoint('t'));
    cp.appendUpdate(update('t', 'u1'));
    cp.sync();
    expect(errors.length).toBeGreaterThan(0);
    rmSync(join(dir, 'meta', 'journal'), { recursive: true });
    cp.sync();
    const loaded = Checkpoint.read(dir);
    expect(loaded.tasks.map((t) => t.task.taskId)).toEqual(['t']);
    expect(loaded.journals[0]!.pending.map((u) => u.status.uuid)).toEqual(['u1']);
    // Written once (whole), not once more as a batch on top.
    expect(readFileSync(cp.journalFile, 'utf8').split('"u1"').length - 1).toBe(1);
  });

  it('ignores records after close (a stopped agent)', () => {
    const dir = tempDir();
    const cp = new Checkpoint(dir);
    cp.writeTask(taskCheckpoint('before'));
    cp.close();
    cp.writeTask(taskCheckpoint('after'));
    cp.sync();
    expect(Checkpoint.read(dir).tasks.map((t) => t.task.taskId)).toEqual(['before']);
  });
});

describe('writeAheadTransport', () => {
  it('writes the checkpoint before a publish, a request and a reply leave', async () => {
    const dir = tempDir();
    const cp = open(dir);
    const bus = new MemoryBus();
    const raw = MemoryTransport.create({ bus });
    const peer = MemoryTransport.create({ bus });
    cleanups.push(async () => {
      await raw.close();
      await peer.close();
    });
    const transport = writeAheadTransport(raw, () => cp.sync());
    /** The tasks on disk when the peer got each message. */
    const seen: string[][] = [];
    const onDisk = () => Checkpoint.read(dir).tasks.map((t) => t.task.taskId);
    peer.subscribe('events', { callback: () => seen.push(onDisk()) });
    peer.subscribe('calls', {
      callback: (msg) => {
        seen.push(onDisk());
        msg.respond(new Uint8Array([1]));
      },
    });
    // The agent's side answers requests: its reply goes out after the checkpoint.
    const atReply: string[][] = [];
    transport.subscribe('agent', {
      callback: (msg) => {
        cp.writeTask(taskCheckpoint('c'));
        msg.respond(new Uint8Array([2]));
        atReply.push(onDisk()); // synchronously: no end-of-turn write came in between
      },
    });
    await peer.flush();

    cp.writeTask(taskCheckpoint('a'));
    transport.publish('events', new Uint8Array([0]));
    expect(onDisk()).toEqual(['a']);
    await waitFor(() => seen.length === 1, { what: 'the event' });
    cp.writeTask(taskCheckpoint('b'));
    const call = transport.request('calls', new Uint8Array([0]), { timeoutMs: 2000 });
    expect(onDisk().sort()).toEqual(['a', 'b']);
    await call;
    const reply = await peer.request('agent', new Uint8Array([0]), { timeoutMs: 2000 });
    expect(reply.data).toEqual(new Uint8Array([2]));
    expect(seen[0]).toEqual(['a']);
    expect(seen[1]!.sort()).toEqual(['a', 'b']);
    expect(atReply.map((ids) => ids.sort())).toEqual([['a', 'b', 'c']]);
    expect(transport.kind).toBe(raw.kind);
  });
});
