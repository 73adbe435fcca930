/**
 * The batch framework's durable state in a `Store`: enough for a restarted (or newly elected)
 * batch framework to carry on with its jobs without running finished tasks again.
 *
 * Keys (JSON values):
 * - `batch.framework` — the framework id, so a restart fails over to the same framework and keeps
 *   its running tasks.
 * - `batch.jobs.<jobId>.spec` — the spec as submitted (its text and the directory relative module
 *   paths resolve from), written once when the job is accepted.
 * - `batch.jobs.<jobId>.state` — the job's own fields (state, reason, times, failed attempts per stage).
 * - `batch.jobs.<jobId>.tasks.<page>` — the progress of {@link TASKS_PER_PAGE} tasks (stage order,
 *   then index order); a task never touched is stored as `0`.
 *
 * Writes are batched: a change marks its page dirty and one debounced flush (`flushDelayMs`)
 * writes every dirty page, so a job of 100,000 tasks costs a few writes per flush rather than one
 * per status. {@link JobStateStore.flushNow} writes at once (the scheduler calls it before an ACCEPT
 * goes out, so a launch is recorded before it is sent) and {@link JobStateStore.flushed} resolves
 * once what is dirty now is written (the scheduler acknowledges status updates only then).
 *
 * @example
 * ```ts
 * const states = new JobStateStore(store, { flushDelayMs: 100 });
 * await states.saveSpec({ v: 1, jobId, text, baseDir, submittedMs: Date.now() });
 * states.track(job);
 * states.markTask(job.jobId, taskId);
 * await states.flushed();
 * ```
 * @module
 */

import { fromUnknown, type Store } from '@stoa/sdk';
import { z } from 'zod';
import { recountJob, type JobState, type TaskProgress } from './plan/job-state.js';
import type { JobSpec } from './spec/schema.js';

/** How many tasks one `tasks.<page>` entry holds. */
export const TASKS_PER_PAGE = 500;

/** A job as submitted. */
export const JobSpecRecordSchema = z.object({
  v: z.literal(1),
  jobId: z.string(),
  /** The spec's text, YAML or JSON. */
  text: z.string(),
  /** Where relative module paths resolve from. */
  baseDir: z.string(),
  submittedMs: z.number(),
});

/** A job as submitted. */
export type JobSpecRecord = z.infer<typeof JobSpecRecordSchema>;

const JobHeaderSchema = z.object({
  v: z.literal(1),
  state: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED']),
  reason: z.enum(['TASK_FAILED', 'DEADLINE_EXCEEDED', 'CANCELLED', 'GANG_UNSCHEDULABLE']).optional(),
  message: z.string().optional(),
  createdAtMs: z.number(),
  endedAtMs: z.number().optional(),
  deadlineAtMs: z.number().optional(),
  failedAttempts: z.array(z.number()),
  pages: z.number().int().nonnegative(),
});

const FrameworkRecordSchema = z.object({ v: z.literal(1), frameworkId: z.string() });

/** A stored task: its progress without what the spec gives again, or `0` for one never touched. */
type StoredTask = 0 | Partial<TaskProgress>;

/** A job read back from the store. */
export interface StoredJob {
  record: JobSpecRecord;
  /** Rebuilds the job's state over a spec parsed again from `record`. */
  restore(spec: JobSpec, create: (spec: JobSpec) => JobState, now: number): JobState;
}

/** What {@link JobStateStore} logs through (pino fits). */
export interface StateLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Options of {@link JobStateStore}. */
export interface JobStateStoreOptions {
  /** How long after a change the dirty pages are written. @default 100 */
  flushDelayMs?: number;
  logger?: StateLogger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function fromBytes(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes));
}

/** The fields of a task the spec gives again; they are not stored. */
const DERIVED = new Set(['taskId', 'stage', 'index', 'retries', 'backoffMs', 'timeoutMs', 'pendingSinceMs']);

function compactTask(task: TaskProgress): StoredTask {
  if (task.state === 'PENDING' && task.attempt === 0 && task.failures === 0 && task.losses === 0) return 0;
  const out: Record<string, unknown> = {};
  for (const k in task) {
    const v = task[k as keyof TaskProgress];
    if (v !== undefined && !DERIVED.has(k)) out[k] = v;
  }
  return out as Partial<TaskProgress>;
}

interface Tracked {
  job: JobState;
  /** Each task's position: stage order, then index order. */
  positions: Map<string, number>;
  order: string[];
  /** Each task's stored JSON by position, as last written; cleared when it is marked. */
  written: (string | undefined)[];
}

/** The batch framework's jobs in a Store, written in debounced batches. */
export class JobStateStore {
  private readonly jobs = new Map<string, Tracked>();
  /** Dirty pages by job; `all` for every page. */
  private readonly dirty = new Map<string, Set<number> | 'all'>();
  private readonly flushDelayMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(
    private readonly store: Store,
    private readonly options: JobStateStoreOptions = {},
  ) {
    this.flushDelayMs = options.flushDelayMs ?? 100;
  }

  /** The framework id stored by an earlier run, if any. */
  async loadFrameworkId(): Promise<string | undefined> {
    const entry = await this.store.get('batch.framework');
    if (entry === null) return undefined;
    const r = FrameworkRecordSchema.safeParse(fromBytes(entry.value));
    return r.success ? r.data.frameworkId : undefined;
  }

  /** Stores the framework id. */
  async saveFrameworkId(frameworkId: string): Promise<void> {
    await this.store.put('batch.framework', toBytes({ v: 1, frameworkId }));
  }

  /** Stores a job's spec (at once: a job is accepted once this resolves). */
  async saveSpec(record: JobSpecRecord): Promise<void> {
    await this.store.put(`batch.jobs.${record.jobId}.spec`, toBytes(record));
  }

  /** Every stored job whose spec and state are both readable; the others are logged and skipped. */
  async loadJobs(): Promise<StoredJob[]> {
    const keys = await this.store.keys('batch.jobs.*.spec');
    const out: StoredJob[] = [];
    for (const key of keys) {
      const jobId = key.split('.')[2]!;
      try {
        const specEntry = await this.store.get(key);
        const headerEntry = await this.store.get(`batch.jobs.${jobId}.state`);
        if (specEntry === null) continue;
        const record = JobSpecRecordSchema.parse(fromBytes(specEntry.value));
        const header = headerEntry === null ? undefined : JobHeaderSchema.parse(fromBytes(headerEntry.value));
        const pages: StoredTask[][] = [];
        for (let p = 0; p < (header?.pages ?? 0); p++) {
          const page = await this.store.get(`batch.jobs.${jobId}.tasks.${p}`);
          pages.push(page === null ? [] : (fromBytes(page.value) as StoredTask[]));
        }
        out.push({
          record,
          restore: (spec, create, now) => {
            const job = create(spec);
            if (header === undefined) return job;
            const order = job.stages.flatMap((s) => s.taskIds);
            order.forEach((taskId, pos) => {
              const stored = pages[Math.floor(pos / TASKS_PER_PAGE)]?.[pos % TASKS_PER_PAGE];
              if (stored !== undefined && stored !== 0) Object.assign(job.tasks[taskId]!, stored);
            });
            job.state = header.state;
            if (header.reason !== undefined) job.reason = header.reason;
            if (header.message !== undefined) job.message = header.message;
            job.createdAtMs = header.createdAtMs;
            if (header.endedAtMs !== undefined) job.endedAtMs = header.endedAtMs;
            if (header.deadlineAtMs !== undefined) job.deadlineAtMs = header.deadlineAtMs;
            job.stages.forEach((s, i) => {
              s.failedAttempts = header.failedAttempts[i] ?? 0;
            });
            recountJob(job, now);
            return job;
          },
        });
      } catch (error) {
        this.options.logger?.warn({ jobId, err: fromUnknown(error).message }, 'a stored job could not be read; skipped');
      }
    }
    return out;
  }

  /** Starts tracking a job's changes; its whole state is written at the next flush. */
  track(job: JobState): void {
    const order = job.stages.flatMap((s) => s.taskIds);
    this.jobs.set(job.jobId, { job, order, positions: new Map(order.map((id, i) => [id, i])), written: new Array(order.length) });
    this.markJob(job.jobId);
  }

  /** One task of a job changed. */
  markTask(jobId: string, taskId: string): void {
    const tracked = this.jobs.get(jobId);
    const pos = tracked?.positions.get(taskId);
    if (pos === undefined) return;
    tracked!.written[pos] = undefined;
    const pages = this.dirty.get(jobId);
    if (pages === undefined) this.dirty.set(jobId, new Set([Math.floor(pos / TASKS_PER_PAGE)]));
    else if (pages !== 'all') pages.add(Math.floor(pos / TASKS_PER_PAGE));
    this.schedule();
  }

  /** Much of a job changed (it ended, a gang was reset): all of it is written. */
  markJob(jobId: string): void {
    const tracked = this.jobs.get(jobId);
    if (tracked === undefined) return;
    tracked.written.fill(undefined);
    this.dirty.set(jobId, 'all');
    this.schedule();
  }

  /** Writes what is dirty now; resolves once written (rejects when the store fails). */
  flushNow(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const run = this.chain.then(() => this.write());
    this.chain = run.catch(() => {});
    return run;
  }

  /** Resolves once every change made so far is written. */
  flushed(): Promise<void> {
    if (this.dirty.size === 0) return this.chain;
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Writes what is dirty and stops the debounce timer. */
  async close(): Promise<void> {
    await this.flushNow().catch(() => {});
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flushNow().catch(() => {});
    }, this.flushDelayMs);
  }

  private async write(): Promise<void> {
    const waiters = this.waiters;
    this.waiters = [];
    const dirty = [...this.dirty];
    this.dirty.clear();
    try {
      const puts: Promise<number>[] = [];
      for (const [jobId, pages] of dirty) {
        const tracked = this.jobs.get(jobId);
        if (tracked === undefined) continue;
        const { job, order, written } = tracked;
        const pageCount = Math.ceil(order.length / TASKS_PER_PAGE);
        const header = {
          v: 1,
          state: job.state,
          ...(job.reason !== undefined ? { reason: job.reason } : {}),
          ...(job.message !== undefined ? { message: job.message } : {}),
          createdAtMs: job.createdAtMs,
          ...(job.endedAtMs !== undefined ? { endedAtMs: job.endedAtMs } : {}),
          ...(job.deadlineAtMs !== undefined ? { deadlineAtMs: job.deadlineAtMs } : {}),
          failedAttempts: job.stages.map((s) => s.failedAttempts),
          pages: pageCount,
        };
        const which = pages === 'all' ? Array.from({ length: pageCount }, (_, i) => i) : [...pages];
        for (const p of which) {
          // The page's JSON array, from each task's JSON (only the tasks marked since are encoded again).
          const parts: string[] = [];
          for (let pos = p * TASKS_PER_PAGE, end = Math.min(order.length, pos + TASKS_PER_PAGE); pos < end; pos++) {
            let json = written[pos];
            if (json === undefined) {
              json = JSON.stringify(compactTask(job.tasks[order[pos]!]!));
              written[pos] = json;
            }
            parts.push(json);
          }
          puts.push(this.store.put(`batch.jobs.${jobId}.tasks.${p}`, encoder.encode(`[${parts.join(',')}]`)));
        }
        puts.push(this.store.put(`batch.jobs.${jobId}.state`, toBytes(header)));
      }
      await Promise.all(puts);
      for (const w of waiters) w.resolve();
    } catch (error) {
      // Written again at the next flush; those waiting learn it failed (their statuses are not acknowledged).
      for (const [jobId, pages] of dirty) {
        const now = this.dirty.get(jobId);
        if (pages === 'all' || now === 'all') this.dirty.set(jobId, 'all');
        else this.dirty.set(jobId, new Set([...pages, ...(now ?? [])]));
      }
      this.options.logger?.warn({ err: fromUnknown(error).message }, 'writing the batch state failed; it will be tried again');
      for (const w of waiters) w.reject(error);
      this.schedule();
      throw error;
    }
  }
}
