import { describe, expect, it } from 'vitest';
import { InvalidRunTransitionError } from '../errors.js';
import { emptyJobStats, parseJob } from '../job/schema.js';
import { admitRun, applyRunEvent, createRun, deadlineOf, isActive, lastStatusOf, recordOutcome, type Run, type RunEvent } from './run.js';

const job = parseJob({ name: 'j', command: 'x', schedule: 'R/2025-01-01T00:00:00Z/PT1H', retries: 1, retryDelayMs: 5000, maxCompletionTime: 60_000 });
const T = 1_000_000;

function play(run: Run, events: RunEvent[], j = job) {
  const effects = [];
  for (const e of events) {
    const step = applyRunEvent(run, j, e);
    run = step.run;
    effects.push(...step.effects);
  }
  return { run, effects };
}

describe('runs', () => {
  const fresh = () => createRun({ id: 'r1', job: 'j', trigger: 'schedule', scheduledAt: T, now: T });

  it('goes QUEUED → STARTING → RUNNING → SUCCEEDED', () => {
    const r0 = fresh();
    expect(r0).toEqual({ id: 'r1', job: 'j', trigger: 'schedule', scheduledAt: T, status: 'QUEUED', attempt: 1, taskIds: [], queuedAt: T });
    const { run, effects } = play(r0, [
      { type: 'launch', taskId: 't1', at: T + 1 },
      { type: 'running', at: T + 2 },
      { type: 'running', at: T + 3 }, // a duplicate update changes nothing
      { type: 'exited', exitCode: 0, at: T + 10 },
    ]);
    expect(run).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, startedAt: T + 1, endedAt: T + 10, taskIds: ['t1'] });
    expect(effects).toEqual([{ type: 'finished', outcome: 'success', at: T + 10 }]);
    expect(r0.status).toBe('QUEUED'); // pure
  });

  it('retries after the delay, then fails when the retries are used up', () => {
    const first = play(fresh(), [
      { type: 'launch', taskId: 't1', at: T },
      { type: 'exited', exitCode: 2, at: T + 100 },
    ]);
    expect(first.run).toMatchObject({ status: 'QUEUED', attempt: 2, notBefore: T + 5100, exitCode: 2, message: 'exited with code 2' });
    expect(first.run.startedAt).toBeUndefined();
    expect(first.effects).toEqual([{ type: 'retry', at: T + 5100, attempt: 2 }]);
    const second = play(first.run, [
      { type: 'launch', taskId: 't2', at: T + 5100 },
      { type: 'failed', at: T + 6000, message: 'TASK_LOST: agent gone' },
    ]);
    expect(second.run).toMatchObject({ status: 'FAILED', attempt: 2, endedAt: T + 6000, message: 'TASK_LOST: agent gone', taskIds: ['t1', 't2'] });
    expect(second.run.notBefore).toBeUndefined();
    expect(second.effects).toEqual([{ type: 'finished', outcome: 'failure', at: T + 6000 }]);
  });

  it('reports a soft failure for a job with softError', () => {
    const soft = { ...job, retries: 0, softError: true };
    const { effects } = play(fresh(), [{ type: 'launch', taskId: 't', at: T }, { type: 'exited', exitCode: 1, at: T + 1 }], soft);
    expect(effects).toEqual([{ type: 'finished', outcome: 'soft-failure', at: T + 1 }]);
  });

  it('kills a run that exceeds maxCompletionTime', () => {
    const { run } = play(fresh(), [{ type: 'launch', taskId: 't1', at: T }, { type: 'running', at: T + 1 }]);
    expect(deadlineOf(run, job)).toBe(T + 60_000);
    expect(applyRunEvent(run, job, { type: 'timeout', at: T + 59_999 }).run).toBe(run); // not yet
    const step = applyRunEvent(run, job, { type: 'timeout', at: T + 60_000 });
    expect(step.run).toMatchObject({ status: 'KILLED', message: 'maxCompletionTime of 60000 ms exceeded' });
    expect(step.effects).toEqual([
      { type: 'kill-tasks', taskIds: ['t1'] },
      { type: 'finished', outcome: 'failure', at: T + 60_000 },
    ]);
    expect(deadlineOf(step.run, job)).toBeUndefined();
  });

  it('kills and skips', () => {
    const killed = play(fresh(), [{ type: 'launch', taskId: 't1', at: T }, { type: 'kill', at: T + 5, reason: 'replaced by r2' }]);
    expect(killed.run).toMatchObject({ status: 'KILLED', message: 'replaced by r2' });
    expect(killed.effects).toEqual([
      { type: 'kill-tasks', taskIds: ['t1'] },
      { type: 'finished', outcome: 'killed', at: T + 5 },
    ]);
    const skipped = play(fresh(), [{ type: 'skip', at: T, reason: 'FORBID: r0 is running' }]);
    expect(skipped.run.status).toBe('SKIPPED');
    expect(skipped.effects).toEqual([{ type: 'finished', outcome: 'skipped', at: T }]);
  });

  it('ignores late events about an ended run and refuses nonsense', () => {
    const done = play(fresh(), [{ type: 'launch', taskId: 't1', at: T }, { type: 'exited', exitCode: 0, at: T + 1 }]).run;
    expect(applyRunEvent(done, job, { type: 'failed', at: T + 2, message: 'late' })).toEqual({ run: done, effects: [] });
    expect(() => applyRunEvent(fresh(), job, { type: 'running', at: T })).toThrow(InvalidRunTransitionError);
    try {
      applyRunEvent(fresh(), job, { type: 'exited', exitCode: 0, at: T });
    } catch (e) {
      expect(InvalidRunTransitionError.isInstance(e)).toBe(true);
      expect((e as InvalidRunTransitionError).status).toBe(409);
    }
  });

  it('admits runs by concurrency policy', () => {
    const active = [{ id: 'r0', status: 'RUNNING' as const }, { id: 'old', status: 'SUCCEEDED' as const }];
    expect(admitRun('ALLOW', active)).toEqual({ action: 'start' });
    expect(admitRun('FORBID', active)).toMatchObject({ action: 'skip' });
    expect(admitRun('REPLACE', active)).toEqual({ action: 'replace', kill: ['r0'] });
    expect(admitRun('FORBID', [{ id: 'old', status: 'FAILED' }])).toEqual({ action: 'start' });
    expect(isActive({ status: 'QUEUED' })).toBe(true);
  });

  it("keeps Chronos' statistics", () => {
    let stats = emptyJobStats();
    expect(lastStatusOf(stats)).toBe('fresh');
    stats = recordOutcome(stats, 'failure', Date.parse('2025-01-01T00:00:00Z'));
    stats = recordOutcome(stats, 'soft-failure', Date.parse('2025-01-01T01:00:00Z'));
    expect(stats).toEqual({ successCount: 0, errorCount: 2, lastSuccess: '', lastError: '2025-01-01T01:00:00.000Z', errorsSinceLastSuccess: 2 });
    expect(lastStatusOf(stats)).toBe('failure');
    stats = recordOutcome(stats, 'success', Date.parse('2025-01-01T02:00:00Z'));
    expect(stats).toMatchObject({ successCount: 1, errorsSinceLastSuccess: 0, lastSuccess: '2025-01-01T02:00:00.000Z' });
    expect(lastStatusOf(stats)).toBe('success');
    expect(recordOutcome(stats, 'killed', 0)).toBe(stats);
  });
});
