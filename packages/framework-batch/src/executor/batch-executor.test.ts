import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorEvent, ExecutorEventHandler, ExecutorStatusInput, TaskInfo } from '@stoa/sdk';
import { parseResources } from '@stoa/sdk';
import { waitFor } from '@stoa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskOutput } from '../plan/outputs.js';
import { BatchExecutor, type ExecutorLink } from './batch-executor.js';
import { type BatchTaskPayload, decodeBundleReport, decodeTaskOutput, encodeBundlePayload, encodeTaskPayload, type MemberEnd } from './task-data.js';

const dir = mkdtempSync(join(tmpdir(), 'stoa-batch-executor-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const modulePath = join(dir, 'tasks.mjs');
writeFileSync(
  modulePath,
  `
export const square = ({ index, args }) => ({ index, square: index * index, args });
export async function slow({ signal }) { await new Promise((r) => { const t = setTimeout(r, 60_000); signal.addEventListener('abort', () => { clearTimeout(t); r(); }); }); return 'late'; }
export function boom() { throw new Error('boom'); }
export const sum = ({ inputs }) => inputs.reduce((n, i) => n + i.result, 0);
export const huge = () => 'x'.repeat(100);
export const cyclic = () => { const a = {}; a.a = a; return a; };
export let active = 0;
export let peak = 0;
export async function gauge() { active++; peak = Math.max(peak, active); await new Promise((r) => setTimeout(r, 20)); active--; }
`,
);

/** A scripted agent: records statuses, delivers events. */
class FakeLink implements ExecutorLink {
  readonly statuses: ExecutorStatusInput[] = [];
  private readonly handlers = new Map<string, ((e: ExecutorEvent) => unknown)[]>();
  on<T extends ExecutorEvent['type']>(type: T, handler: ExecutorEventHandler<T>): () => void {
    const list = this.handlers.get(type) ?? [];
    list.push(handler as (e: ExecutorEvent) => unknown);
    this.handlers.set(type, list);
    return () => {};
  }
  async update(input: ExecutorStatusInput): Promise<unknown> {
    this.statuses.push(input);
    return input;
  }
  emit(event: ExecutorEvent): void {
    for (const h of this.handlers.get(event.type) ?? []) h(event);
  }
  of(taskId: string): ExecutorStatusInput[] {
    return this.statuses.filter((s) => s.taskId === taskId);
  }
  last(taskId: string): ExecutorStatusInput | undefined {
    return this.of(taskId).at(-1);
  }
  ended(taskId: string): ExecutorStatusInput | undefined {
    const s = this.last(taskId);
    return s !== undefined && s.state !== 'TASK_RUNNING' ? s : undefined;
  }
  output(taskId: string): TaskOutput | undefined {
    return decodeTaskOutput(this.last(taskId)?.data);
  }
}

let seq = 0;
function taskInfo(run: BatchTaskPayload['run'], extra: Partial<BatchTaskPayload> = {}, info: Partial<TaskInfo> = {}): TaskInfo {
  const index = seq++;
  return {
    taskId: `j.s.${index}`,
    name: 'j.s',
    agentId: 'agent-1',
    resources: parseResources('cpus:0.5;mem:64'),
    data: encodeTaskPayload({ v: 1, jobId: 'j', stage: 's', index, count: 100, run, env: { STOA_TASK_INDEX: String(index) }, ...extra }),
    executor: { executorId: 'stoa-batch', resources: [] },
    ...info,
  };
}
const mod = (name: string): BatchTaskPayload['run'] => ({ kind: 'module', module: modulePath, export: name });

/** A bundle of `runs` (members `<id>.0`, `<id>.1`, …), with `perMember` resources each. */
function bundleInfo(id: string, runs: { run: BatchTaskPayload['run']; timeoutMs?: number }[], inputs?: BatchTaskPayload['inputs']): TaskInfo {
  const members = runs.map(({ run, timeoutMs }, index) => ({
    launchId: `${id}.${index}`,
    v: 1 as const,
    jobId: 'j',
    stage: 'b',
    index,
    count: runs.length,
    run,
    env: { STOA_TASK_INDEX: String(index) },
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  }));
  return {
    taskId: id,
    name: 'j.b',
    agentId: 'agent-1',
    resources: parseResources(`cpus:${0.5 * runs.length};mem:${64 * runs.length}`),
    data: encodeBundlePayload({ v: 1, members, ...(inputs !== undefined ? { inputs } : {}) }),
    executor: { executorId: 'stoa-batch', resources: [] },
  };
}

/** Every member end a bundle's statuses reported, in order. */
function reported(link: FakeLink, bundleId: string): MemberEnd[] {
  return link.of(bundleId).flatMap((s) => decodeBundleReport(s.data)?.ended ?? []);
}
const sh = (command: string): BatchTaskPayload['run'] => ({ kind: 'command', command });

function setup(options: Parameters<typeof BatchExecutor.attach>[1] = {}) {
  const link = new FakeLink();
  const executor = BatchExecutor.attach(link, { sandboxDir: dir, killGracePeriodMs: 200, ...options });
  return { link, executor };
}

describe('BatchExecutor', () => {
  it('runs module functions and reports their results', async () => {
    const { link, executor } = setup();
    const tasks = [taskInfo(mod('square'), { args: { k: 1 } }), taskInfo(mod('square'))];
    link.emit({ v: 1, type: 'LAUNCH', tasks });
    await waitFor(() => tasks.every((t) => link.ended(t.taskId)), { what: 'both tasks ended' });
    for (const t of tasks) {
      expect(link.of(t.taskId).map((s) => s.state)).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
      expect(link.output(t.taskId)?.result).toMatchObject({ index: Number(t.taskId.split('.')[2]) });
    }
    expect(link.output(tasks[0]!.taskId)?.result).toMatchObject({ args: { k: 1 } });
    await executor.idle();
  });

  it('passes inputs to functions', async () => {
    const { link } = setup();
    const t = taskInfo(mod('sum'), { inputs: [1, 2, 3].map((n, i) => ({ taskId: `j.m.${i}`, stage: 'm', index: i, result: n })) });
    link.emit({ v: 1, type: 'LAUNCH', tasks: [t] });
    await waitFor(() => link.ended(t.taskId), { what: 'the reduce ended' });
    expect(link.output(t.taskId)?.result).toBe(6);
  });

  it('fails a function that throws, or returns what cannot be a result', async () => {
    const { link } = setup({ resultLimitBytes: 50 });
    const [boom, huge, cyclic, missing] = [taskInfo(mod('boom')), taskInfo(mod('huge')), taskInfo(mod('cyclic')), taskInfo(mod('nothere'))];
    link.emit({ v: 1, type: 'LAUNCH', tasks: [boom!, huge!, cyclic!, missing!] });
    await waitFor(() => [boom, huge, cyclic, missing].every((t) => link.ended(t!.taskId)), { what: 'all ended' });
    expect(link.last(boom!.taskId)).toMatchObject({ state: 'TASK_FAILED', message: 'boom threw Error: boom' });
    expect(link.output(boom!.taskId)?.error).toMatch(/^Error: boom\n\s+at boom/);
    expect(link.last(huge!.taskId)).toMatchObject({ state: 'TASK_FAILED', message: 'the result is 102 bytes of JSON, over the limit of 50' });
    expect(link.last(cyclic!.taskId)?.message).toMatch(/not JSON-serialisable/);
    expect(link.last(missing!.taskId)?.message).toMatch(/has no function export "nothere"/);
  });

  it('times a function out, and kills one', async () => {
    const { link } = setup();
    const timed = taskInfo(mod('slow'), {}, { maxCompletionTimeMs: 50 });
    const killed = taskInfo(mod('slow'));
    link.emit({ v: 1, type: 'LAUNCH', tasks: [timed, killed] });
    await waitFor(() => link.ended(timed.taskId), { what: 'the timeout' });
    expect(link.last(timed.taskId)).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_MAX_COMPLETION_TIME_REACHED', message: 'timed out after 0.05 s' });
    link.emit({ v: 1, type: 'KILL', taskId: killed.taskId });
    await waitFor(() => link.ended(killed.taskId), { what: 'the kill' });
    expect(link.last(killed.taskId)).toMatchObject({ state: 'TASK_KILLED', message: 'killed' });
    // A late KILL of a task that ended is not answered.
    link.emit({ v: 1, type: 'KILL', taskId: killed.taskId });
    link.emit({ v: 1, type: 'KILL', taskId: 'never-seen' });
    await waitFor(() => link.last('never-seen'), { what: 'an answer about an unknown task' });
    expect(link.last('never-seen')?.state).toBe('TASK_LOST');
    expect(link.of(killed.taskId)).toHaveLength(2);
  });

  it('runs commands with args, env, inputs and a result file', async () => {
    const { link } = setup();
    const ok = taskInfo(sh('echo "$1-$2 $STOA_TASK_INDEX"; cat "$STOA_INPUTS"; echo \'{"ok":true}\' > "$STOA_RESULT"'), {
      args: ['a', 2],
      inputs: [{ taskId: 'p.0', stage: 'p', index: 0, result: 'r' }],
    });
    const failed = taskInfo(sh('echo out; echo "something broke" >&2; exit 3'));
    link.emit({ v: 1, type: 'LAUNCH', tasks: [ok, failed] });
    await waitFor(() => link.ended(ok.taskId) && link.ended(failed.taskId), { what: 'both commands ended' });
    const index = ok.taskId.split('.')[2];
    expect(link.last(ok.taskId)).toMatchObject({ state: 'TASK_FINISHED', exitCode: 0 });
    expect(link.output(ok.taskId)).toMatchObject({ exitCode: 0, stdoutTail: `a-2 ${index}\n[{"taskId":"p.0","stage":"p","index":0,"result":"r"}]`, result: { ok: true } });
    expect(readFileSync(join(dir, 'tasks', ok.taskId, 'stdout'), 'utf8')).toContain(`a-2 ${index}`);
    expect(link.last(failed.taskId)).toMatchObject({ state: 'TASK_FAILED', exitCode: 3, message: 'exited with status 3: something broke' });
    expect(link.output(failed.taskId)).toMatchObject({ stdoutTail: 'out\n', stderrTail: 'something broke\n' });
  });

  it('kills a command that runs past its timeout, with what it printed', async () => {
    const { link } = setup();
    const t = taskInfo(sh('echo started; trap "" TERM; sleep 30'), {}, { maxCompletionTimeMs: 300 });
    link.emit({ v: 1, type: 'LAUNCH', tasks: [t] });
    await waitFor(() => link.ended(t.taskId), { what: 'the timed-out command', timeoutMs: 5000 });
    expect(link.last(t.taskId)).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_MAX_COMPLETION_TIME_REACHED', message: 'timed out after 0.3 s' });
    expect(link.output(t.taskId)?.stdoutTail).toBe('started\n');
  });

  it('bounds concurrency by its capacity', async () => {
    const { link, executor } = setup({ capacity: parseResources('cpus:1.5;mem:1024') });
    const tasks = Array.from({ length: 9 }, () => taskInfo(mod('gauge')));
    link.emit({ v: 1, type: 'LAUNCH', tasks });
    expect(executor.running).toBe(3);
    expect(executor.queued).toBe(6);
    await waitFor(() => tasks.every((t) => link.ended(t.taskId)), { what: 'all gauged' });
    const ns = (await import(modulePath)) as { peak: number };
    expect(ns.peak).toBe(3);
    // Killing a queued task ends it at once.
    const more = Array.from({ length: 4 }, () => taskInfo(mod('slow')));
    link.emit({ v: 1, type: 'LAUNCH', tasks: more });
    link.emit({ v: 1, type: 'KILL', taskId: more[3]!.taskId });
    expect(link.last(more[3]!.taskId)).toMatchObject({ state: 'TASK_KILLED', message: 'killed before it started' });
    await executor.shutdown(100);
    expect(executor.state).toBe('stopped');
    for (const t of more.slice(0, 3)) expect(link.last(t.taskId)?.state).toBe('TASK_KILLED');
  });

  it('with runningDelayMs, sends TASK_RUNNING only for a task still running after it, and before its end', async () => {
    const { link } = setup({ runningDelayMs: 100 });
    const quick = Array.from({ length: 5 }, () => taskInfo(mod('square')));
    const slow = taskInfo(mod('slow'));
    link.emit({ v: 1, type: 'LAUNCH', tasks: [...quick, slow] });
    await waitFor(() => quick.every((t) => link.ended(t.taskId)), { what: 'the quick tasks' });
    for (const t of quick) expect(link.of(t.taskId).map((u) => u.state)).toEqual(['TASK_FINISHED']);
    expect(link.of(slow.taskId)).toHaveLength(0);
    await waitFor(() => link.last(slow.taskId), { what: "the slow task's TASK_RUNNING" });
    link.emit({ v: 1, type: 'KILL', taskId: slow.taskId });
    await waitFor(() => link.ended(slow.taskId), { what: 'the kill' });
    expect(link.of(slow.taskId).map((u) => u.state)).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
  });

  it('refuses a task that is not a batch task', async () => {
    const { link } = setup();
    link.emit({ v: 1, type: 'LAUNCH', tasks: [{ ...taskInfo(mod('square')), taskId: 'bad', data: new Uint8Array([1, 2, 3]) }] });
    await waitFor(() => link.last('bad'), { what: 'a refusal' });
    expect(link.last('bad')).toMatchObject({ state: 'TASK_ERROR', reason: 'REASON_TASK_INVALID' });
  });

  describe('bundles', () => {
    it('runs each member and reports them all, ending the bundle TASK_FINISHED', async () => {
      const { link } = setup({ runningDelayMs: 0 });
      const b = bundleInfo('j.b.0+4', [{ run: mod('square') }, { run: mod('boom') }, { run: mod('sum') }, { run: mod('square') }], [{ taskId: 'j.a.0', stage: 'a', index: 0, result: 5 }]);
      link.emit({ v: 1, type: 'LAUNCH', tasks: [b] });
      await waitFor(() => link.ended(b.taskId), { what: 'the bundle ended' });
      expect(link.of(b.taskId)[0]?.state).toBe('TASK_RUNNING');
      expect(link.last(b.taskId)?.state).toBe('TASK_FINISHED');
      const ends = new Map(reported(link, b.taskId).map((e) => [e.launchId, e]));
      expect([...ends.keys()].sort()).toEqual(['j.b.0+4.0', 'j.b.0+4.1', 'j.b.0+4.2', 'j.b.0+4.3']);
      expect(ends.get('j.b.0+4.0')).toMatchObject({ state: 'TASK_FINISHED', output: { result: { index: 0, square: 0 } } });
      expect(ends.get('j.b.0+4.1')).toMatchObject({ state: 'TASK_FAILED', message: 'boom threw Error: boom' });
      expect(ends.get('j.b.0+4.2')?.output.result).toBe(5);
      expect(ends.get('j.b.0+4.3')?.output.result).toMatchObject({ index: 3, square: 9 });
      // The members' ids are not tasks of the agent's: no status names them.
      expect(link.statuses.every((s) => s.taskId === b.taskId)).toBe(true);
    });

    it('reports members that ended while others still run, and a member times out by itself', async () => {
      const { link, executor } = setup({ bundleReportIntervalMs: 20 });
      const b = bundleInfo('j.b.9+3', [{ run: mod('square') }, { run: mod('slow'), timeoutMs: 100 }, { run: mod('slow') }]);
      link.emit({ v: 1, type: 'LAUNCH', tasks: [b] });
      await waitFor(() => reported(link, b.taskId).length === 2, { what: 'the quick and the timed-out member reported' });
      expect(link.ended(b.taskId)).toBeUndefined();
      expect(link.of(b.taskId).every((s) => s.state === 'TASK_RUNNING')).toBe(true);
      const timedOut = reported(link, b.taskId).find((e) => e.launchId === 'j.b.9+3.1');
      expect(timedOut).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_MAX_COMPLETION_TIME_REACHED', message: 'timed out after 0.1 s' });
      expect(executor.running).toBe(1);
      // Killing the bundle kills what is left of it.
      link.emit({ v: 1, type: 'KILL', taskId: b.taskId });
      await waitFor(() => link.ended(b.taskId), { what: 'the killed bundle' });
      expect(link.last(b.taskId)?.state).toBe('TASK_KILLED');
      expect(reported(link, b.taskId).find((e) => e.launchId === 'j.b.9+3.2')).toMatchObject({ state: 'TASK_KILLED', message: 'killed' });
      expect(reported(link, b.taskId)).toHaveLength(3);
      // A second LAUNCH of the same bundle, or a late KILL, is ignored.
      const before = link.statuses.length;
      link.emit({ v: 1, type: 'LAUNCH', tasks: [b] });
      link.emit({ v: 1, type: 'KILL', taskId: b.taskId });
      await executor.idle();
      expect(link.statuses.length).toBe(before);
    });

    it('shares the bundle\'s resources among its members, queued ones killed at shutdown', async () => {
      const { link, executor } = setup({ capacity: parseResources('cpus:1;mem:1024') });
      const b = bundleInfo('j.b.20+5', Array.from({ length: 5 }, () => ({ run: mod('slow') })));
      link.emit({ v: 1, type: 'LAUNCH', tasks: [b] });
      // Each member holds cpus 0.5 of the bundle's 2.5: two at once.
      expect(executor.running).toBe(2);
      expect(executor.queued).toBe(3);
      await executor.shutdown(100);
      expect(link.last(b.taskId)?.state).toBe('TASK_KILLED');
      const ends = reported(link, b.taskId);
      expect(ends).toHaveLength(5);
      expect(ends.every((e) => e.state === 'TASK_KILLED')).toBe(true);
    });
  });
});
