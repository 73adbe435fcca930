/**
 * The batch executor: one long-lived process per agent (per framework) that runs many short batch
 * tasks, so a job of thousands of tasks does not pay a process start per task. The agent starts it
 * the first time a task names it (see {@link batchExecutorInfo}) and later tasks reuse it.
 *
 * - **Module tasks** run in-process: the module is imported and its export called with
 *   `{ index, count, args, env, inputs, signal, … }`; the value it returns is the task's result.
 * - **Command tasks** run as child processes (`sh -c`), each in `<sandbox>/tasks/<taskId>` with
 *   its `stdout` and `stderr` there; the tails of both are kept. A command's result is the JSON it
 *   writes to the file named by `STOA_RESULT`; its parents' results are in the JSON file named by
 *   `STOA_INPUTS`.
 * - **Concurrency** is bounded by the executor's own resources (its container is limited by them
 *   alone): a task starts while the scalar resources (cpus, mem, gpus…) of the running tasks plus
 *   its own stay within the executor's; the others queue. A task larger than the executor runs
 *   when nothing else does. `maxConcurrency` bounds the count too.
 * - **Statuses**: TASK_RUNNING when a task starts, then TASK_FINISHED or TASK_FAILED with the
 *   {@link TaskOutput} in `data` (exit code, stdout/stderr tails, result, error), `exitCode` and a
 *   `message`. A task running past its `maxCompletionTimeMs` is killed and fails with
 *   REASON_MAX_COMPLETION_TIME_REACHED; a KILL ends a task with TASK_KILLED; a payload that is not
 *   a batch task fails with TASK_ERROR.
 *
 * @example
 * ```ts
 * await using client = await ExecutorClient.connect();
 * const executor = BatchExecutor.attach(client, { sandboxDir: process.env.STOA_SANDBOX });
 * ```
 * @module
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorClientLogger, ExecutorEvent, ExecutorEventHandler, ExecutorStatusInput, Resource, TaskInfo } from '@stoa/sdk';
import { DEFAULT_RESULT_LIMIT_BYTES, DEFAULT_STDOUT_TAIL_BYTES, type TaskOutput } from '../plan/outputs.js';
import { type AbortReason, runCommandTask } from './command-task.js';
import { runModuleTask, toResult } from './module-task.js';
import { type BatchTaskPayload, decodeTaskPayload, encodeTaskOutput } from './task-data.js';

/** What the batch executor needs of its connection to the agent; `ExecutorClient` is one. */
export interface ExecutorLink {
  on<T extends ExecutorEvent['type']>(type: T, handler: ExecutorEventHandler<T>): () => void;
  update(input: ExecutorStatusInput): Promise<unknown>;
}

/** Options of {@link BatchExecutor.attach}. */
export interface BatchExecutorOptions {
  /** Where command tasks get their directories (`<sandboxDir>/tasks/<taskId>`). @default env STOA_SANDBOX, else a temp dir */
  sandboxDir?: string;
  /** The resources running tasks share. @default no bound (give the executor's resources) */
  capacity?: readonly Resource[];
  /** At most this many tasks at once. @default no bound beyond `capacity` */
  maxConcurrency?: number;
  /** How much of a command's stdout and stderr is kept and sent back. @default 16384 */
  stdoutTailBytes?: number;
  /** The largest result (as JSON) a task may return. @default 65536 */
  resultLimitBytes?: number;
  /** SIGTERM → SIGKILL grace for a command that times out or is killed without a kill policy. @default 3000 */
  killGracePeriodMs?: number;
  /** The environment command tasks start from (their own env is added). @default process.env */
  env?: Record<string, string | undefined>;
  /** Where it logs. @default nothing is logged */
  logger?: ExecutorClientLogger;
  /**
   * TASK_RUNNING is sent only for a task still running this long after it started: a task that
   * ends sooner goes straight to its terminal status, which halves the updates of short tasks.
   * @default 0 (always sent)
   */
  runningDelayMs?: number;
}

/** The life of a task inside the executor. */
interface Entry {
  info: TaskInfo;
  payload: BatchTaskPayload;
  state: 'queued' | 'running' | 'ended';
  abort?: AbortController;
  timer?: ReturnType<typeof setTimeout>;
  /** Sends TASK_RUNNING once the task has run `runningDelayMs`. */
  runningTimer?: ReturnType<typeof setTimeout>;
  /** The TASK_RUNNING update, which the end waits for so that the two arrive in order. */
  running?: Promise<unknown>;
}

const noopLogger: ExecutorClientLogger = { debug() {}, info() {}, warn() {}, error() {} };
const EPSILON = 1e-9;
/** How many ended task ids are remembered. */
const RECENTLY_ENDED = 10_000;
/** The longest error text (a stack) kept in a task's output. */
const ERROR_LIMIT = 4096;

/** The life of a {@link BatchExecutor}: taking tasks, shutting down (killing what runs), stopped. */
export type BatchExecutorState = 'running' | 'stopping' | 'stopped';

/** Runs batch tasks for the agent that started it; make one with {@link BatchExecutor.attach}. */
export class BatchExecutor implements AsyncDisposable {
  private readonly entries = new Map<string, Entry>();
  /** Ids of tasks that ended lately, so that a late KILL of one is not answered with TASK_LOST. */
  private readonly recentlyEnded = new Set<string>();
  private readonly queue: Entry[] = [];
  private readonly used = new Map<string, number>();
  private runningCount = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly log: ExecutorClientLogger;
  private readonly sandboxDir: string;
  private readonly capacity: Map<string, number> | undefined;
  private stopping = false;
  private stopped = false;
  private readonly detach: (() => void)[] = [];

  private constructor(
    private readonly link: ExecutorLink,
    private readonly options: BatchExecutorOptions,
  ) {
    this.log = options.logger ?? noopLogger;
    this.sandboxDir = options.sandboxDir ?? process.env.STOA_SANDBOX ?? join(tmpdir(), `stoa-batch-executor-${process.pid}`);
    if (options.capacity !== undefined) {
      this.capacity = new Map();
      for (const r of options.capacity) if (r.type === 'SCALAR') this.capacity.set(r.name, (this.capacity.get(r.name) ?? 0) + (r.scalar ?? 0));
    }
  }

  /** Starts taking the agent's LAUNCH, LAUNCH_GROUP and KILL events from `link`. */
  static attach(link: ExecutorLink, options: BatchExecutorOptions = {}): BatchExecutor {
    const executor = new BatchExecutor(link, options);
    executor.detach.push(
      link.on('LAUNCH', (e) => executor.launch(e.tasks)),
      link.on('LAUNCH_GROUP', (e) => executor.launch(e.tasks)),
      link.on('KILL', (e) => executor.kill(e.taskId, e.killPolicy?.gracePeriodMs)),
      link.on('ERROR', (e) => executor.log.error({ message: e.message }, 'the agent reported an error')),
    );
    return executor;
  }

  /** `running` while it takes tasks, `stopping` during {@link shutdown}, then `stopped`. */
  get state(): BatchExecutorState {
    return this.stopped ? 'stopped' : this.stopping ? 'stopping' : 'running';
  }

  /** Tasks running now. */
  get running(): number {
    return this.runningCount;
  }

  /** Tasks waiting for room. */
  get queued(): number {
    return this.queue.length;
  }

  /** Takes tasks to run: each starts when there is room for it. */
  launch(tasks: readonly TaskInfo[]): void {
    for (const info of tasks) {
      if (this.entries.has(info.taskId) || this.recentlyEnded.has(info.taskId)) continue; // a LAUNCH seen twice
      if (this.stopping) {
        this.send(info.taskId, { taskId: info.taskId, state: 'TASK_KILLED', message: 'the batch executor is shutting down' });
        continue;
      }
      let payload: BatchTaskPayload;
      try {
        if (info.data === undefined) throw new Error('the task has no data');
        payload = decodeTaskPayload(info.data);
      } catch (error) {
        this.send(info.taskId, {
          taskId: info.taskId,
          state: 'TASK_ERROR',
          reason: 'REASON_TASK_INVALID',
          message: `not a batch task: ${error instanceof Error ? error.message : String(error)}`,
        });
        continue;
      }
      const entry: Entry = { info, payload, state: 'queued' };
      this.entries.set(info.taskId, entry);
      this.queue.push(entry);
    }
    this.pump();
  }

  /** Kills a task: a queued one ends at once, a running one is stopped; both end TASK_KILLED. */
  kill(taskId: string, graceMs?: number): void {
    const entry = this.entries.get(taskId);
    if (entry === undefined) {
      if (this.recentlyEnded.has(taskId)) return;
      this.send(taskId, { taskId, state: 'TASK_LOST', message: 'the batch executor does not run this task' });
      return;
    }
    if (entry.state === 'queued') {
      this.queue.splice(this.queue.indexOf(entry), 1);
      entry.state = 'ended';
      this.entries.delete(taskId);
      this.remember(taskId);
      this.send(taskId, { taskId, state: 'TASK_KILLED', message: 'killed before it started' });
    } else if (entry.state === 'running') {
      entry.abort?.abort({ kind: 'kill', graceMs: graceMs ?? entry.info.killPolicy?.gracePeriodMs ?? this.killGraceMs() } satisfies AbortReason);
    }
  }

  /**
   * Stops: queued tasks end TASK_KILLED, running ones are killed (commands get `graceMs` between
   * SIGTERM and SIGKILL) and reported; resolves once every update was handed to the agent.
   */
  async shutdown(graceMs = this.killGraceMs()): Promise<void> {
    this.stopping = true;
    for (const entry of this.queue.splice(0)) {
      entry.state = 'ended';
      this.entries.delete(entry.info.taskId);
      this.send(entry.info.taskId, { taskId: entry.info.taskId, state: 'TASK_KILLED', message: 'the batch executor shut down' });
    }
    for (const entry of this.entries.values()) {
      if (entry.state === 'running') entry.abort?.abort({ kind: 'shutdown', graceMs } satisfies AbortReason);
    }
    await this.idle();
    for (const off of this.detach.splice(0)) off();
    this.stopped = true;
  }

  /** Same as {@link shutdown}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** Resolves when no task runs or waits and every update has been handed to the agent. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private killGraceMs(): number {
    return this.options.killGracePeriodMs ?? 3000;
  }

  /** Starts queued tasks while there is room. */
  private pump(): void {
    while (this.queue.length > 0 && !this.stopping) {
      const next = this.queue[0]!;
      if (!this.fits(next.info.resources)) break;
      this.queue.shift();
      this.start(next);
    }
  }

  private fits(resources: readonly Resource[]): boolean {
    if (this.runningCount === 0) return true;
    if (this.options.maxConcurrency !== undefined && this.runningCount >= this.options.maxConcurrency) return false;
    if (this.capacity === undefined) return true;
    for (const r of resources) {
      if (r.type !== 'SCALAR') continue;
      const cap = this.capacity.get(r.name);
      if (cap === undefined) continue; // a kind the executor was not given is not bounded here
      if ((this.used.get(r.name) ?? 0) + (r.scalar ?? 0) > cap + EPSILON) return false;
    }
    return true;
  }

  private account(resources: readonly Resource[], sign: 1 | -1): void {
    for (const r of resources) if (r.type === 'SCALAR') this.used.set(r.name, (this.used.get(r.name) ?? 0) + sign * (r.scalar ?? 0));
  }

  private start(entry: Entry): void {
    const { info } = entry;
    entry.state = 'running';
    entry.abort = new AbortController();
    this.runningCount++;
    this.account(info.resources, 1);
    const delayMs = this.options.runningDelayMs ?? 0;
    const sendRunning = () => {
      entry.runningTimer = undefined;
      entry.running = this.send(info.taskId, { taskId: info.taskId, state: 'TASK_RUNNING' });
    };
    if (delayMs <= 0) sendRunning();
    else entry.runningTimer = setTimeout(sendRunning, delayMs);
    const timeoutMs = info.maxCompletionTimeMs;
    if (timeoutMs !== undefined) {
      entry.timer = setTimeout(() => entry.abort?.abort({ kind: 'timeout', graceMs: info.killPolicy?.gracePeriodMs ?? this.killGraceMs() } satisfies AbortReason), timeoutMs);
    }
    const done = this.run(entry)
      .catch((error: unknown): ExecutorStatusInput => ({
        taskId: info.taskId,
        state: 'TASK_FAILED',
        message: `the batch executor failed to run it: ${error instanceof Error ? error.message : String(error)}`,
      }))
      .then(async (end) => {
        if (entry.timer !== undefined) clearTimeout(entry.timer);
        if (entry.runningTimer !== undefined) clearTimeout(entry.runningTimer);
        entry.state = 'ended';
        this.entries.delete(info.taskId);
        this.remember(info.taskId);
        this.runningCount--;
        this.account(info.resources, -1);
        this.pump();
        await entry.running?.catch(() => {});
        await this.send(info.taskId, end);
      });
    this.track(done);
  }

  /** Runs a task and says how it ended, as the status to send. */
  private async run(entry: Entry): Promise<ExecutorStatusInput> {
    const { info, payload } = entry;
    const signal = entry.abort!.signal;
    const limit = this.options.resultLimitBytes ?? DEFAULT_RESULT_LIMIT_BYTES;
    const inputs = payload.inputs ?? [];
    if (payload.run.kind === 'module') {
      const r = await runModuleTask(payload.run.module, payload.run.export, {
        taskId: info.taskId,
        jobId: payload.jobId,
        stage: payload.stage,
        index: payload.index,
        count: payload.count,
        args: payload.args,
        env: { ...payload.env, STOA_TASK_ID: info.taskId },
        inputs,
        signal,
      });
      if (signal.aborted) return this.aborted(info, signal, { durationMs: r.durationMs });
      if (!r.ok) return this.ended(info, 'TASK_FAILED', `${payload.run.export} threw ${r.error}`, { error: (r.stack ?? r.error).slice(0, ERROR_LIMIT), durationMs: r.durationMs });
      const result = toResult(r.value, limit);
      if (!result.ok) return this.ended(info, 'TASK_FAILED', result.error, { error: result.error, durationMs: r.durationMs });
      return this.ended(info, 'TASK_FINISHED', 'returned', { ...(result.result !== undefined ? { result: result.result } : {}), durationMs: r.durationMs });
    }

    const dir = join(this.sandboxDir, 'tasks', info.taskId.replace(/[^A-Za-z0-9._-]/g, '_'));
    mkdirSync(dir, { recursive: true });
    const inputsFile = join(dir, 'inputs.json');
    const resultFile = join(dir, 'result.json');
    writeFileSync(inputsFile, JSON.stringify(inputs));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.options.env ?? process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, payload.env, { STOA_TASK_ID: info.taskId, STOA_INPUTS: inputsFile, STOA_RESULT: resultFile, STOA_TASK_DIR: dir });
    const args = Array.isArray(payload.args) ? payload.args.map(String) : [];
    const r = await runCommandTask({ command: payload.run.command, args, cwd: dir, env, tailBytes: this.options.stdoutTailBytes ?? DEFAULT_STDOUT_TAIL_BYTES, signal });
    const output: TaskOutput = {
      ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
      stdoutTail: r.stdoutTail,
      stderrTail: r.stderrTail,
      durationMs: r.durationMs,
    };
    if (signal.aborted) return this.aborted(info, signal, output);
    if (r.spawnError !== undefined) return this.ended(info, 'TASK_FAILED', `cannot start: ${r.spawnError}`, { ...output, error: r.spawnError });
    if (r.exitCode !== 0) {
      const why = r.exitCode !== undefined ? `exited with status ${r.exitCode}` : `terminated by ${r.signal}`;
      const lastLine = r.stderrTail.trimEnd().split('\n').at(-1);
      return this.ended(info, 'TASK_FAILED', lastLine ? `${why}: ${lastLine}` : why, { ...output, error: why }, r.signal);
    }
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(resultFile, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        const why = `$STOA_RESULT does not hold JSON: ${(error as Error).message}`;
        return this.ended(info, 'TASK_FAILED', why, { ...output, error: why });
      }
    }
    const result = toResult(value, limit);
    if (!result.ok) return this.ended(info, 'TASK_FAILED', result.error, { ...output, error: result.error });
    return this.ended(info, 'TASK_FINISHED', 'exited with status 0', { ...output, ...(result.result !== undefined ? { result: result.result } : {}) });
  }

  private aborted(info: TaskInfo, signal: AbortSignal, output: TaskOutput): ExecutorStatusInput {
    const reason = signal.reason as Partial<AbortReason> | undefined;
    if (reason?.kind === 'timeout') {
      const why = `timed out after ${Number(((info.maxCompletionTimeMs ?? 0) / 1000).toFixed(3))} s`;
      return { ...this.ended(info, 'TASK_FAILED', why, { ...output, error: why }), reason: 'REASON_MAX_COMPLETION_TIME_REACHED' };
    }
    return this.ended(info, 'TASK_KILLED', reason?.kind === 'shutdown' ? 'the batch executor shut down' : 'killed', output);
  }

  private ended(info: TaskInfo, state: 'TASK_FINISHED' | 'TASK_FAILED' | 'TASK_KILLED', message: string, output: TaskOutput, signal?: string): ExecutorStatusInput {
    return {
      taskId: info.taskId,
      state,
      message,
      ...(output.exitCode !== undefined ? { exitCode: output.exitCode } : {}),
      ...(signal !== undefined ? { signal } : {}),
      data: encodeTaskOutput(output),
    };
  }

  /** Sends a status; a failure is logged (the client keeps retrying what it can). */
  private send(taskId: string, status: ExecutorStatusInput): Promise<unknown> {
    const sent = this.link.update(status).catch((error: unknown) => {
      this.log.error({ taskId, state: status.state, err: error instanceof Error ? error.message : String(error) }, 'a status could not be sent');
    });
    this.track(sent);
    return sent;
  }

  private remember(taskId: string): void {
    this.recentlyEnded.add(taskId);
    if (this.recentlyEnded.size > RECENTLY_ENDED) this.recentlyEnded.delete(this.recentlyEnded.values().next().value!);
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}
