/**
 * Chronos' records in the Store. Two keys per job, so the definition (written by the API) and the
 * life of the job (written by the scheduler) never race:
 *
 * - `chronos.job.<key>` — the job definition ({@link Job}), as accepted by the API;
 * - `chronos.state.<key>` — everything the scheduler knows of it ({@link JobRecord}): schedule
 *   progress (`lastScheduled`), statistics, the runs (the active ones and the last
 *   {@link RUN_HISTORY_LIMIT} ended ones) and which parents have satisfied it since its last run.
 *
 * Creating a run and advancing `lastScheduled` is one write of one key, so a restart can neither
 * run a fire time twice nor forget it. Writes of one key are serialised and coalesced, and each is
 * a compare-and-set on the revision last read or written: a deposed leader that still writes gets
 * a `ConflictError` instead of overwriting its successor's state.
 *
 * `<key>` is the job name in base64url: names may hold spaces and `#`, which Store keys may not.
 *
 * @example
 * ```ts
 * const state = new ChronosState(store);
 * const { jobs, records } = await state.load();
 * await state.writeRecord('nightly', record);
 * ```
 * @module
 */

import { AlreadyExistsError, type Store } from '@stoa/sdk';
import type { Job, JobStats } from './job/schema.js';
import { emptyJobStats } from './job/schema.js';
import type { Run } from './run/run.js';

/** Ended runs kept per job (the active ones are always kept). */
export const RUN_HISTORY_LIMIT = 100;

/** What the scheduler keeps about one job. */
export interface JobRecord {
  /** Every fire time at or before this was handled (started, skipped or recorded as missed). */
  lastScheduled?: number | undefined;
  /** Chronos' statistics. */
  stats: JobStats;
  /** Runs, oldest first: the active ones and the last {@link RUN_HISTORY_LIMIT} ended ones. */
  runs: Run[];
  /** For a dependent job: when each parent last satisfied it since its last run (ms). */
  satisfied?: Record<string, number> | undefined;
}

/** A new, empty record. */
export function emptyJobRecord(): JobRecord {
  return { stats: emptyJobStats(), runs: [] };
}

const PREFIX = 'chronos';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The Store key part of a job name. */
export function jobKey(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function nameOf(key: string): string {
  return Buffer.from(key, 'base64url').toString('utf8');
}

function toBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function fromBytes<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

interface KeyWriter {
  /** The revision last read or written; 0 when the key is absent. */
  revision: number;
  /** The write queued behind the one in flight; later values replace its value. */
  pending: { value: Uint8Array; done: Promise<void> } | undefined;
  /** Settles when every write queued so far has. */
  tail: Promise<void>;
}

/** Reads and writes Chronos' records. See the module documentation. */
export class ChronosState {
  readonly #writers = new Map<string, KeyWriter>();

  constructor(readonly store: Store) {}

  /** Every job definition and record. */
  async load(): Promise<{ jobs: Job[]; records: Map<string, JobRecord>; frameworkId: string | undefined }> {
    const jobs: Job[] = [];
    const records = new Map<string, JobRecord>();
    for (const key of await this.store.keys(`${PREFIX}.job.*`)) {
      const entry = await this.store.get(key);
      if (entry === null) continue;
      this.#writer(key).revision = entry.revision;
      jobs.push(fromBytes<Job>(entry.value));
    }
    for (const key of await this.store.keys(`${PREFIX}.state.*`)) {
      const entry = await this.store.get(key);
      if (entry === null) continue;
      this.#writer(key).revision = entry.revision;
      records.set(nameOf(key.slice(`${PREFIX}.state.`.length)), fromBytes<JobRecord>(entry.value));
    }
    const fw = await this.store.get(`${PREFIX}.framework`);
    return { jobs, records, frameworkId: fw === null ? undefined : decoder.decode(fw.value) };
  }

  /** Stores the framework id once; returns the one stored (ours, or one written meanwhile). */
  async saveFrameworkId(id: string): Promise<string> {
    try {
      await this.store.create(`${PREFIX}.framework`, encoder.encode(id));
      return id;
    } catch (error) {
      if (!AlreadyExistsError.isInstance(error)) throw error;
      const entry = await this.store.get(`${PREFIX}.framework`);
      return entry === null ? id : decoder.decode(entry.value);
    }
  }

  /** Writes a job definition. */
  writeJob(job: Job): Promise<void> {
    return this.#write(`${PREFIX}.job.${jobKey(job.name)}`, toBytes(job));
  }

  /** Writes a job's record. Resolves once this value (or a later one) is in the Store. */
  writeRecord(name: string, record: JobRecord): Promise<void> {
    return this.#write(`${PREFIX}.state.${jobKey(name)}`, toBytes(record));
  }

  /** Deletes a job's definition and record, after the writes queued for them. */
  async deleteJob(name: string): Promise<void> {
    for (const key of [`${PREFIX}.job.${jobKey(name)}`, `${PREFIX}.state.${jobKey(name)}`]) {
      const w = this.#writers.get(key);
      if (w !== undefined) await w.tail;
      this.#writers.delete(key);
      await this.store.delete(key);
    }
  }

  #writer(key: string): KeyWriter {
    let w = this.#writers.get(key);
    if (w === undefined) {
      w = { revision: 0, pending: undefined, tail: Promise.resolve() };
      this.#writers.set(key, w);
    }
    return w;
  }

  /**
   * Queues a write of a key: one write in flight per key, and values queued meanwhile coalesce
   * into one write of the latest. Each write is a compare-and-set on the last revision.
   */
  #write(key: string, value: Uint8Array): Promise<void> {
    const w = this.#writer(key);
    if (w.pending !== undefined) {
      w.pending.value = value;
      return w.pending.done;
    }
    const pending = { value, done: Promise.resolve() };
    pending.done = w.tail.then(async () => {
      w.pending = undefined;
      w.revision = w.revision === 0 ? await this.store.create(key, pending.value) : await this.store.update(key, pending.value, w.revision);
    });
    w.pending = pending;
    w.tail = pending.done.catch(() => {});
    return pending.done;
  }
}
