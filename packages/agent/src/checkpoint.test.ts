/**
 * Unit tests of the checkpoint: safe file names, round trips (bytes included), forgetting, and files it cannot read.
 */

import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint, fileNameOf, idOfFileName, type TaskCheckpoint } from './checkpoint.js';

const dir = mkdtempSync(join(tmpdir(), 'stoa-cp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function taskCheckpoint(taskId: string): TaskCheckpoint {
  return {
    frameworkId: 'fw/1',
    framework: { id: 'fw/1', name: 'f', principal: 'p' },
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
    state: 'TASK_RUNNING',
    launchedAtMs: 5,
    killReason: 'kill',
  };
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

  it('round-trips the agent, tasks (with bytes) and journals, and forgets', () => {
    const cp = new Checkpoint(dir);
    cp.writeAgent({ agentId: 'a-1', resources: [{ name: 'cpus', type: 'SCALAR', scalar: 2 }] });
    cp.writeTask(taskCheckpoint('../t'));
    cp.appendUpdate({ frameworkId: 'fw/1', status: { taskId: '../t', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestampMs: 1, uuid: 'u1' } });
    cp.appendUpdate({ frameworkId: 'fw/1', status: { taskId: '../t', state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR', timestampMs: 2, uuid: 'u2' } });
    cp.appendAck('fw/1', '../t', 'u1');
    const loaded = cp.load();
    expect(loaded.problems).toEqual([]);
    expect(loaded.agent?.agentId).toBe('a-1');
    expect(loaded.tasks).toHaveLength(1);
    const t = loaded.tasks[0]!;
    expect(t.task.taskId).toBe('../t');
    expect(t.task.data).toEqual(new Uint8Array([1, 2, 3]));
    expect(t.killReason).toBe('kill');
    expect(loaded.journals[0]!.pending.map((u) => u.status.uuid)).toEqual(['u2']);
    expect(loaded.journals[0]!.last?.status.state).toBe('TASK_FINISHED');
    cp.forgetTask('fw/1', '../t');
    expect(existsSync(cp.taskFile('fw/1', '../t'))).toBe(false);
    expect(existsSync(cp.journalFile('fw/1', '../t'))).toBe(false);
    expect(readdirSync(join(dir, 'meta', 'tasks', fileNameOf('fw/1')))).toEqual([]);
  });

  it('reports files it cannot read instead of failing', () => {
    const cp = new Checkpoint(dir);
    cp.writeTask(taskCheckpoint('good'));
    writeFileSync(join(dir, 'meta', 'tasks', fileNameOf('fw/1'), 'bad.json'), '{"nope":');
    const loaded = cp.load();
    expect(loaded.tasks.map((t) => t.task.taskId)).toEqual(['good']);
    expect(loaded.problems).toHaveLength(1);
  });
});
