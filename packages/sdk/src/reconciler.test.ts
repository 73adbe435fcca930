import { describe, expect, it } from 'vitest';
import { type Clock, Reconciler, type ReconcileTarget } from './reconciler.js';

/** A clock whose time moves only when the test says so. */
class FakeClock implements Clock {
  time = 1_000_000;
  private timers: { id: number; at: number; fn: () => void }[] = [];
  private nextId = 0;

  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.nextId;
    this.timers.push({ id, at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  get pending(): number {
    return this.timers.length;
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }
}

function setup(options: { maxTasksPerCall?: number; fail?: boolean } = {}) {
  const clock = new FakeClock();
  const sent: { at: number; tasks: ReconcileTarget[] }[] = [];
  const errors: unknown[] = [];
  const reconciler = new Reconciler({
    clock,
    initialBackoffMs: 1000,
    maxBackoffMs: 4000,
    ...(options.maxTasksPerCall ? { maxTasksPerCall: options.maxTasksPerCall } : {}),
    send: async (tasks) => {
      sent.push({ at: clock.now() - 1_000_000, tasks });
      if (options.fail) throw new Error('no master');
    },
    onError: (e) => errors.push(e),
  });
  return { clock, sent, errors, reconciler };
}

const ids = (tasks: ReconcileTarget[]) => tasks.map((t) => t.taskId).sort();

describe('Reconciler', () => {
  it('sends an explicit reconcile of the given tasks and one implicit one at start', () => {
    const { clock, sent, reconciler } = setup();
    reconciler.start([{ taskId: 'a', agentId: 'ag' }, { taskId: 'b' }], { implicit: true });
    clock.advance(0);
    expect(sent).toEqual([
      { at: 0, tasks: [{ taskId: 'a', agentId: 'ag' }, { taskId: 'b' }] },
      { at: 0, tasks: [] },
    ]);
  });

  it('retries unanswered tasks with capped exponential backoff until each has an answer', () => {
    const { clock, sent, reconciler } = setup();
    reconciler.start([{ taskId: 'a' }, { taskId: 'b' }, { taskId: 'c' }], { implicit: true });
    clock.advance(0);
    reconciler.observe('a');
    clock.advance(1000);
    expect(sent.at(-1)).toEqual({ at: 1000, tasks: [{ taskId: 'b' }, { taskId: 'c' }] });
    reconciler.observe('b');
    clock.advance(2000);
    expect(sent.at(-1)).toEqual({ at: 3000, tasks: [{ taskId: 'c' }] });
    clock.advance(4000);
    clock.advance(4000);
    // 1000, 2000, 4000, then capped at 4000; the implicit reconcile is not repeated.
    expect(sent.map((s) => s.at)).toEqual([0, 0, 1000, 3000, 7000, 11000]);
    expect(sent.filter((s) => s.tasks.length === 0)).toHaveLength(1);
    reconciler.observe('c');
    expect(reconciler.pendingTaskIds).toEqual([]);
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(sent).toHaveLength(6);
  });

  it('with nothing to ask about sends only the implicit reconcile and sets no timer', () => {
    const { clock, sent, reconciler } = setup();
    reconciler.start([], { implicit: true });
    clock.advance(0);
    expect(sent).toEqual([{ at: 0, tasks: [] }]);
    expect(clock.pending).toBe(0);
  });

  it('coalesces requests after gaps that come closer together than the initial backoff', () => {
    const { clock, sent, reconciler } = setup();
    reconciler.start([], { implicit: true });
    clock.advance(0);
    clock.advance(100);
    reconciler.request([{ taskId: 'a' }]);
    clock.advance(100);
    reconciler.request([{ taskId: 'b' }]);
    clock.advance(800);
    expect(sent).toEqual([
      { at: 0, tasks: [] },
      { at: 1000, tasks: [{ taskId: 'a' }, { taskId: 'b' }] },
    ]);
    // A later gap, long after the last call, is reconciled at once.
    reconciler.observe('a');
    reconciler.observe('b');
    clock.advance(5000);
    reconciler.request([{ taskId: 'c' }]);
    clock.advance(0);
    expect(sent.at(-1)).toEqual({ at: 6000, tasks: [{ taskId: 'c' }] });
  });

  it('a request restarts the backoff', () => {
    const { clock, sent, reconciler } = setup();
    reconciler.start([{ taskId: 'a' }]);
    clock.advance(0);
    clock.advance(1000);
    clock.advance(2000); // backoff is now 4000
    reconciler.request([{ taskId: 'b' }]);
    clock.advance(1000);
    expect(sent.map((s) => s.at)).toEqual([0, 1000, 3000, 4000]);
    expect(ids(sent.at(-1)!.tasks)).toEqual(['a', 'b']);
    clock.advance(1000);
    expect(sent.map((s) => s.at)).toEqual([0, 1000, 3000, 4000, 5000]);
  });

  it('collects while paused and sends what is still pending on the next start', () => {
    const { clock, sent, reconciler } = setup();
    reconciler.request([{ taskId: 'a' }]);
    clock.advance(10_000);
    expect(sent).toEqual([]);
    reconciler.start([{ taskId: 'b' }], { implicit: true });
    clock.advance(0);
    expect(ids(sent[0]!.tasks)).toEqual(['a', 'b']);
    reconciler.pause();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(sent).toHaveLength(2);
    expect(reconciler.pendingTaskIds.sort()).toEqual(['a', 'b']);
    reconciler.forget('a');
    reconciler.start([]);
    clock.advance(0);
    expect(sent.at(-1)!.tasks).toEqual([{ taskId: 'b' }]);
  });

  it('splits large reconciliations into several calls', () => {
    const { clock, sent, reconciler } = setup({ maxTasksPerCall: 2 });
    reconciler.start(['a', 'b', 'c', 'd', 'e'].map((taskId) => ({ taskId })));
    clock.advance(0);
    expect(sent.map((s) => ids(s.tasks))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(reconciler.callsSent).toBe(3);
  });

  it('reports failed sends and retries them on schedule', async () => {
    const { clock, sent, errors, reconciler } = setup({ fail: true });
    reconciler.start([{ taskId: 'a' }]);
    clock.advance(0);
    await Promise.resolve();
    expect(errors).toHaveLength(1);
    clock.advance(1000);
    expect(sent).toHaveLength(2);
  });

  it('stop forgets everything and leaves no timer', () => {
    const { clock, sent, reconciler } = setup();
    reconciler.start([{ taskId: 'a' }], { implicit: true });
    reconciler.stop();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(sent).toEqual([]);
    expect(reconciler.isRunning).toBe(false);
    expect(reconciler.pendingTaskIds).toEqual([]);
  });
});
