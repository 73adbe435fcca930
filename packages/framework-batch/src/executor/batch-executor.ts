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
 * - **Bundles**: a task whose data is a bundle runs each member as a task of its own (its own
 *   share of the bundle's resources, its own timeout); the bundle is TASK_RUNNING once a member
 *   starts (after `runningDelayMs`), reports the members that ended in TASK_RUNNING updates at
 *   most every `bundleReportIntervalMs`, and ends TASK_FINISHED (TASK_KILLED when it was killed)
 *   with the rest once every member has ended. A KILL of the bundle kills its members.
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
import { type BatchTaskPayload, type BundleReport, decodeTaskData, encodeBundleReport, encodeTaskOutput, type MemberEnd } from './task-data.js';

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
  /** How often a bundle reports the members that ended while others still run. @default 250 */
  bundleReportIntervalMs?: number;
}

/** How a task ended, before it is a status. */
interface Ending {
  state: 'TASK_FINISHED' | 'TASK_FAILED' | 'TASK_KILLED';
  message: string;
  output: TaskOutput;
  reason?: string;
  signal?: string;
}

/** A bundle of tasks the agent launched as one. */
interface Bundle {
  info: TaskInfo;
  members: Entry[];
  /** Members that have not ended. */
  left: number;
  /** Members that ended and were not reported yet, and roughly how many bytes they take. */
  ended: MemberEnd[];
  endedBytes: number;
  killed: boolean;
  /** Whether its TASK_RUNNING was sent (or planned), so it is sent once. */
  runningPlanned: boolean;
  runningTimer?: ReturnType<typeof setTimeout>;
  reportTimer?: ReturnType<typeof setTimeout>;
  /** Its statuses are sent one after another, in order. */
  chain: Promise<unknown>;
}

/** The life of a task inside the executor. */
interface Entry {
  info: TaskInfo;
  payload: BatchTaskPayload;
  /** The bundle it is a member of, if it came in one. */
  bundle?: Bundle;
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
/** A bundle reports at once when its unreported members' outputs reach about this many bytes. */
const BUNDLE_REPORT_BYTES = 256 * 1024;

/** The life of a {@link BatchExecutor}: taking tasks, shutting down (killing what runs), stopped. */
export type BatchExecutorState = 'running' | 'stopping' | 'stopped';

/** Runs batch tasks for the agent that started it; make one with {@link BatchExecutor.attach}. */
export class BatchExecutor implements AsyncDisposable {
  private readonly entries = new Map<string, Entry>();
  private readonly bundles = new Map<string, Bundle>();
  /** Ids of tasks that ended lately, so that a late KILL of one is not answered with TASK_LOST. */
  private readonly recentlyEnded = new Set<string>();
  /**
   * Tasks waiting for room, from `queueHead` on: taken from the front without shifting the array,
   * and a task killed while it waits is left in place, ended, and skipped.
   */
  private queue: Entry[] = [];
  private queueHead = 0;
  private queuedCount = 0;
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
    return this.queuedCount;
  }

  /** Takes tasks to run: each starts when there is room for it. */
  launch(tasks: readonly TaskInfo[]): void {
    for (const info of tasks) {
      if (this.entries.has(info.taskId) || this.bundles.has(info.taskId) || this.recentlyEnded.has(info.taskId)) continue; // a LAUNCH seen twice
      if (this.stopping) {
        this.send(info.taskId, { taskId: info.taskId, state: 'TASK_KILLED', message: 'the batch executor is shutting down' });
        continue;
      }
      let data: ReturnType<typeof decodeTaskData>;
      try {
        if (info.data === undefined) throw new Error('the task has no data');
        data = decodeTaskData(info.data);
      } catch (error) {
        this.send(info.taskId, {
          taskId: info.taskId,
          state: 'TASK_ERROR',
          reason: 'REASON_TASK_INVALID',
          message: `not a batch task: ${error instanceof Error ? error.message : String(error)}`,
        });
        continue;
      }
      if (data.kind === 'task') {
        const entry: Entry = { info, payload: data.payload, state: 'queued' };
        this.entries.set(info.taskId, entry);
        this.queue.push(entry);
        this.queuedCount++;
        continue;
      }
      const { members, inputs } = data.bundle;
      const bundle: Bundle = { info, members: [], left: 0, ended: [], endedBytes: 0, killed: false, runningPlanned: false, chain: Promise.resolve() };
      this.bundles.set(info.taskId, bundle);
      const share = shareOf(info.resources, members.length);
      for (const { launchId, timeoutMs, ...rest } of members) {
        if (this.entries.has(launchId) || this.recentlyEnded.has(launchId)) continue;
        const memberInfo: TaskInfo = {
          taskId: launchId,
          name: info.name,
          agentId: info.agentId,
          resources: share,
          ...(timeoutMs !== undefined ? { maxCompletionTimeMs: timeoutMs } : {}),
          ...(info.killPolicy !== undefined ? { killPolicy: info.killPolicy } : {}),
        };
        const entry: Entry = { info: memberInfo, payload: { ...rest, ...(inputs !== undefined ? { inputs } : {}) }, state: 'queued', bundle };
        bundle.members.push(entry);
        bundle.left++;
        this.entries.set(launchId, entry);
        this.queue.push(entry);
        this.queuedCount++;
      }
      if (bundle.left === 0) this.endBundle(bundle);
    }
    this.pump();
  }

  /** Kills a task (a bundle: its members): a queued one ends at once, a running one is stopped; both end TASK_KILLED. */
  kill(taskId: string, graceMs?: number): void {
    const bundle = this.bundles.get(taskId);
    if (bundle !== undefined) {
      bundle.killed = true;
      for (const member of bundle.members) if (member.state !== 'ended') this.kill(member.info.taskId, graceMs);
      return;
    }
    const entry = this.entries.get(taskId);
    if (entry === undefined) {
      if (this.recentlyEnded.has(taskId)) return;
      this.send(taskId, { taskId, state: 'TASK_LOST', message: 'the batch executor does not run this task' });
      return;
    }
    if (entry.state === 'queued') {
      this.queuedCount--;
      this.finish(entry, { state: 'TASK_KILLED', message: 'killed before it started', output: {} });
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
    const queued = this.queue.slice(this.queueHead).filter((e) => e.state === 'queued');
    this.queue = [];
    this.queueHead = 0;
    this.queuedCount = 0;
    for (const entry of queued) this.finish(entry, { state: 'TASK_KILLED', message: 'the batch executor shut down', output: {} });
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
    while (this.queueHead < this.queue.length && !this.stopping) {
      const next = this.queue[this.queueHead]!;
      if (next.state !== 'queued') {
        this.queueHead++; // killed while it waited
        continue;
      }
      if (!this.fits(next.info.resources)) break;
      this.queueHead++;
      this.queuedCount--;
      this.start(next);
    }
    // Drop what was taken once it is most of the array.
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
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
    const bundle = entry.bundle;
    if (bundle !== undefined) {
      if (!bundle.runningPlanned) {
        bundle.runningPlanned = true;
        const sendRunning = () => {
          bundle.runningTimer = undefined;
          this.sendInBundle(bundle, { taskId: bundle.info.taskId, state: 'TASK_RUNNING' });
        };
        if (delayMs <= 0) sendRunning();
        else bundle.runningTimer = setTimeout(sendRunning, delayMs);
      }
    } else {
      const sendRunning = () => {
        entry.runningTimer = undefined;
        entry.running = this.send(info.taskId, { taskId: info.taskId, state: 'TASK_RUNNING' });
      };
      if (delayMs <= 0) sendRunning();
      else entry.runningTimer = setTimeout(sendRunning, delayMs);
    }
    const timeoutMs = info.maxCompletionTimeMs;
    if (timeoutMs !== undefined) {
      entry.timer = setTimeout(() => entry.abort?.abort({ kind: 'timeout', graceMs: info.killPolicy?.gracePeriodMs ?? this.killGraceMs() } satisfies AbortReason), timeoutMs);
    }
    const done = this.run(entry)
      .catch((error: unknown): Ending => ({
        state: 'TASK_FAILED',
        message: `the batch executor failed to run it: ${error instanceof Error ? error.message : String(error)}`,
        output: {},
      }))
      .then((ending) => {
        if (entry.timer !== undefined) clearTimeout(entry.timer);
        if (entry.runningTimer !== undefined) clearTimeout(entry.runningTimer);
        this.runningCount--;
        this.account(info.resources, -1);
        this.finish(entry, ending);
        this.pump();
      });
    this.track(done);
  }

  /** A task ended: it is forgotten and reported (a bundle member, with its bundle). */
  private finish(entry: Entry, ending: Ending): void {
    const { info } = entry;
    entry.state = 'ended';
    this.entries.delete(info.taskId);
    this.remember(info.taskId);
    const bundle = entry.bundle;
    if (bundle === undefined) {
      const status = toStatus(info.taskId, ending);
      // After its TASK_RUNNING, if that is on its way, so the two arrive in order.
      if (entry.running === undefined) this.send(info.taskId, status);
      else this.track(entry.running.then(() => this.send(info.taskId, status)));
      return;
    }
    const { output } = ending;
    bundle.ended.push({ launchId: info.taskId, state: ending.state, message: ending.message, ...(ending.reason !== undefined ? { reason: ending.reason } : {}), output });
    bundle.endedBytes += 64 + (output.stdoutTail?.length ?? 0) + (output.stderrTail?.length ?? 0) + (output.error?.length ?? 0) + (output.result === undefined ? 0 : 256);
    bundle.left--;
    if (bundle.left === 0) this.endBundle(bundle);
    else if (bundle.endedBytes >= BUNDLE_REPORT_BYTES) this.reportBundle(bundle);
    else bundle.reportTimer ??= setTimeout(() => this.reportBundle(bundle), this.options.bundleReportIntervalMs ?? 250);
  }

  /** Sends what ended of a bundle that still runs, as a TASK_RUNNING. */
  private reportBundle(bundle: Bundle): void {
    if (bundle.reportTimer !== undefined) clearTimeout(bundle.reportTimer);
    bundle.reportTimer = undefined;
    if (bundle.ended.length === 0 || bundle.left === 0) return;
    if (bundle.runningTimer !== undefined) clearTimeout(bundle.runningTimer);
    bundle.runningTimer = undefined;
    bundle.runningPlanned = true;
    this.sendInBundle(bundle, { taskId: bundle.info.taskId, state: 'TASK_RUNNING', message: `${bundle.left} of ${bundle.members.length} tasks to go`, data: this.takeReport(bundle) });
  }

  /** Every member ended: the bundle's terminal status, with what was not reported yet. */
  private endBundle(bundle: Bundle): void {
    if (bundle.reportTimer !== undefined) clearTimeout(bundle.reportTimer);
    if (bundle.runningTimer !== undefined) clearTimeout(bundle.runningTimer);
    this.bundles.delete(bundle.info.taskId);
    this.remember(bundle.info.taskId);
    const state = bundle.killed || this.stopping ? 'TASK_KILLED' : 'TASK_FINISHED';
    this.sendInBundle(bundle, { taskId: bundle.info.taskId, state, message: `its ${bundle.members.length} tasks ended`, data: this.takeReport(bundle) });
  }

  private takeReport(bundle: Bundle): Uint8Array {
    const report: BundleReport = { v: 1, ended: bundle.ended };
    bundle.ended = [];
    bundle.endedBytes = 0;
    return encodeBundleReport(report);
  }

  /** Sends a bundle's status after its earlier ones. */
  private sendInBundle(bundle: Bundle, status: ExecutorStatusInput): void {
    const sent = bundle.chain.then(() => this.send(bundle.info.taskId, status));
    bundle.chain = sent;
    this.track(sent);
  }

  /** Runs a task and says how it ended. */
  private async run(entry: Entry): Promise<Ending> {
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

  private aborted(info: TaskInfo, signal: AbortSignal, output: TaskOutput): Ending {
    const reason = signal.reason as Partial<AbortReason> | undefined;
    if (reason?.kind === 'timeout') {
      const why = `timed out after ${Number(((info.maxCompletionTimeMs ?? 0) / 1000).toFixed(3))} s`;
      return { ...this.ended(info, 'TASK_FAILED', why, { ...output, error: why }), reason: 'REASON_MAX_COMPLETION_TIME_REACHED' };
    }
    return this.ended(info, 'TASK_KILLED', reason?.kind === 'shutdown' ? 'the batch executor shut down' : 'killed', output);
  }

  private ended(_info: TaskInfo, state: Ending['state'], message: string, output: TaskOutput, signal?: string): Ending {
    return { state, message, output, ...(signal !== undefined ? { signal } : {}) };
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

/** The status that reports how a task ended. */
function toStatus(taskId: string, e: Ending): ExecutorStatusInput {
  return {
    taskId,
    state: e.state,
    message: e.message,
    ...(e.output.exitCode !== undefined ? { exitCode: e.output.exitCode } : {}),
    ...(e.signal !== undefined ? { signal: e.signal } : {}),
    ...(e.reason !== undefined ? { reason: e.reason as ExecutorStatusInput['reason'] } : {}),
    data: encodeTaskOutput(e.output),
  };
}

/** One member's share of a bundle's resources: its scalars divided among `members` (the members of a bundle are alike). */
function shareOf(resources: readonly Resource[], members: number): Resource[] {
  const out: Resource[] = [];
  for (const r of resources) if (r.type === 'SCALAR') out.push({ ...r, scalar: (r.scalar ?? 0) / members });
  return out;
}
