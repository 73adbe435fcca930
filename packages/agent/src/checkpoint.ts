/**
 * The agent's checkpoint: what it writes under `<workDir>/meta` so that a restarted agent can
 * re-attach to its tasks and executors and resend what the frameworks have not acknowledged.
 *
 * ```text
 * <workDir>/meta/agent.json           { agentId, resources? }, replaced atomically (write, rename)
 * <workDir>/meta/journal              the journal: one line per batch of records
 * <workDir>/meta/journal.compact      the next journal while a compaction writes it
 * ```
 *
 * - **Records.** Tasks, status updates, acknowledgements and executors are records appended to
 *   one journal per agent: `task` (a whole task: TaskInfo, framework, container, last state),
 *   `run` (what changed of a task already in the journal: run and container ids, sandbox, state,
 *   status, launch time, kill reason), `update` (a status update), `ack` (an acknowledgement),
 *   `clear` (every update of a live task acknowledged), `forget` (a task and its updates are
 *   gone), `executor` and `executorGone`. Replaying them in order gives the state.
 * - **Batches.** Records are kept in memory and written together by {@link Checkpoint.sync}: one
 *   `write` of one line, a JSON array of the batch's records. Within a batch a task's later
 *   record replaces its earlier one, and so does an executor's. `sync` runs before anything
 *   leaves the agent — every message (through {@link writeAheadTransport}), container launches
 *   and kills — and at the end of the event-loop turn otherwise. So whatever another process
 *   saw the agent do is on disk, as when every record was written at once.
 * - **Crashes.** A batch applies whole or not at all: a line cut short by a `kill -9` does not
 *   parse and is dropped (what it held had not left the agent). Writes are not fsynced, as Mesos
 *   does by default: they survive the agent's death, not the machine's.
 * - **Compaction.** Opening the journal replays it and writes the live state as a new journal
 *   (written to `journal.compact`, then renamed over it); so does a journal that has grown by
 *   more than `compactBytes` and by more than its size after the last compaction.
 * - **Files of earlier versions** (`meta/tasks`, `meta/updates`, `meta/executors`, one file per
 *   task, journal and executor) are read once, written into the journal and removed.
 *
 * Ids are kept in records as they are; {@link fileNameOf} makes ids safe as file names for the
 * sandboxes' paths.
 *
 * @example
 * ```ts
 * const cp = new Checkpoint('/var/lib/stoa');
 * const { agent, tasks, journals, executors } = cp.load();
 * cp.writeAgent({ agentId: 'a-1' });
 * cp.appendUpdate({ frameworkId: 'f-1', status });
 * cp.sync(); // before the update is sent
 * ```
 * @module
 */

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  AgentIdSchema,
  type ExecutorInfo,
  ExecutorInfoSchema,
  type FrameworkInfo,
  FrameworkIdSchema,
  FrameworkInfoSchema,
  type Resource,
  ResourcesSchema,
  type StatusUpdate,
  StatusUpdateSchema,
  type TaskInfo,
  TaskInfoSchema,
  type TaskState,
  TaskStateSchema,
  type TaskStatus,
  TaskStatusSchema,
  type Transport,
  type TransportMsg,
} from '@stoa/core';

/**
 * A file name for an id: `encodeURIComponent`, with a leading `.` encoded too so that no id can
 * name `.` or `..`. Ids made of letters, digits and `-_.~` stay readable.
 */
export function fileNameOf(id: string): string {
  const encoded = encodeURIComponent(id);
  return encoded.startsWith('.') ? `%2E${encoded.slice(1)}` : encoded;
}

/** The inverse of {@link fileNameOf}. */
export function idOfFileName(name: string): string {
  return decodeURIComponent(name);
}

/** What `meta/agent.json` holds. */
export interface AgentCheckpoint {
  agentId: string;
  /** Totals with reservations applied, as the master last sent them (UPDATE_RESOURCES). */
  resources?: Resource[];
}

/** Why the agent is killing a task; decides the terminal state it reports. */
export type KillReason = 'kill' | 'maxCompletion' | 'health' | 'shutdown' | 'drain' | 'cleanup';

const KILL_REASONS: ReadonlySet<string> = new Set<KillReason>(['kill', 'maxCompletion', 'health', 'shutdown', 'drain', 'cleanup']);

/** One task as checkpointed. */
export interface TaskCheckpoint {
  frameworkId: string;
  framework: FrameworkInfo;
  task: TaskInfo;
  runId: string;
  containerId: string;
  /** Empty when the agent has no work dir (simulated). */
  sandboxDir: string;
  /** The latest state the agent produced for it. */
  state: TaskState;
  /** The latest status the agent produced for it. */
  status?: TaskStatus;
  /** When the container was started; absent before. */
  launchedAtMs?: number;
  /** Set once the agent started killing it. */
  killReason?: KillReason;
}

/** One executor as checkpointed. */
export interface ExecutorCheckpoint {
  frameworkId: string;
  framework: FrameworkInfo;
  info: ExecutorInfo;
  /** The built-in default executor (no process). */
  builtin: boolean;
  runId: string;
  containerId: string;
  sandboxDir: string;
  subscribed: boolean;
  terminating: boolean;
  launchedAtMs?: number;
  /** Task groups launched on it. */
  groups: string[][];
}

/** One task's status updates, replayed: the updates not yet acknowledged, in order. */
export interface UpdateJournal {
  frameworkId: string;
  taskId: string;
  /** Unacknowledged updates, oldest first. */
  pending: StatusUpdate[];
  /** The last update written, acknowledged or not. */
  last?: StatusUpdate;
}

/** What {@link Checkpoint.load} finds. */
export interface LoadedCheckpoint {
  agent?: AgentCheckpoint;
  tasks: TaskCheckpoint[];
  journals: UpdateJournal[];
  executors: ExecutorCheckpoint[];
  /** What could not be read or failed its schema (skipped), one line each. */
  problems: string[];
}

/** Options of {@link Checkpoint}. */
export interface CheckpointOptions {
  /**
   * The journal is compacted once it has grown by this many bytes, and by more than its size
   * after the last compaction. @default 16777216 (16 MiB)
   */
  compactBytes?: number;
  /** Told of a failed write; the records stay in memory and go with the next one. @default ignored */
  onError?: (error: unknown) => void;
}

/** Counts of a {@link Checkpoint}'s writes since it was made. */
export interface CheckpointStats {
  /** Batches written (one `write` each). */
  batches: number;
  /** Records in them (after a task's or executor's records of one batch were merged). */
  records: number;
  /** Bytes appended. */
  bytes: number;
  /** Compactions (the one on opening included). */
  compactions: number;
}

/** What the executors write of themselves. */
export interface ExecutorJournal {
  /** Records an executor (replacing what was recorded of it). */
  writeExecutor(executor: ExecutorCheckpoint): void;
  /** Drops an executor's record. */
  forgetExecutor(frameworkId: string, executorId: string): void;
  /** Writes what was recorded so far (before something that depends on it). */
  sync(): void;
}

/** The fields of a task that change while it lives: what a `run` record holds. */
type TaskRun = Omit<TaskCheckpoint, 'frameworkId' | 'framework' | 'task'>;

/** One record, as written. */
type JournalRecord =
  | { k: 'task'; t: TaskCheckpoint }
  | { k: 'run'; fw: string; id: string; r: TaskRun }
  | { k: 'update'; u: StatusUpdate }
  | { k: 'ack'; fw: string; id: string; uuid: string }
  | { k: 'clear'; fw: string; id: string }
  | { k: 'forget'; fw: string; id: string }
  | { k: 'executor'; e: ExecutorCheckpoint }
  | { k: 'executorGone'; fw: string; id: string };

/** A task's record in the batch being gathered: replaced in place by the task's later saves. */
interface TaskEntry {
  k: 'task' | 'run';
  cp: TaskCheckpoint;
}

/** An executor's record in the batch being gathered. */
interface ExecutorEntry {
  k: 'executor';
  e: ExecutorCheckpoint;
}

type Entry = TaskEntry | ExecutorEntry | JournalRecord;

/** The replayed state: what the journal holds now. */
interface State {
  tasks: Map<string, TaskCheckpoint>;
  updates: Map<string, { pending: StatusUpdate[]; last?: StatusUpdate }>;
  executors: Map<string, ExecutorCheckpoint>;
}

const DEFAULT_COMPACT_BYTES = 16 * 1024 * 1024;
/** Records per line of a compacted journal. */
const SNAPSHOT_LINE_RECORDS = 500;
/** How soon a failed write is tried again when nothing else writes. */
const RETRY_MS = 1000;

function keyOf(frameworkId: string, id: string): string {
  return `${frameworkId}\u0000${id}`;
}

function emptyState(): State {
  return { tasks: new Map(), updates: new Map(), executors: new Map() };
}

/** Reads and writes an agent's checkpoint under `<workDir>/meta`. */
export class Checkpoint implements ExecutorJournal {
  /** `<workDir>/meta`. */
  readonly metaDir: string;
  /** Counts of writes. */
  readonly stats: CheckpointStats = { batches: 0, records: 0, bytes: 0, compactions: 0 };

  private readonly compactBytes: number;
  private readonly onError: (error: unknown) => void;
  /** What the journal on disk holds with the batch being gathered applied (the agent's view). */
  private state: State = emptyState();
  private opened = false;
  private closed = false;
  private fd: number | undefined;
  private problems: string[] = [];
  /** The batch being gathered. */
  private entries: Entry[] = [];
  private readonly taskEntries = new Map<string, TaskEntry>();
  private readonly executorEntries = new Map<string, ExecutorEntry>();
  private syncScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** A write failed part way: the next line starts on a line of its own. */
  private torn = false;
  private journalBytes = 0;
  private compactedBytes = 0;

  constructor(workDir: string, options: CheckpointOptions = {}) {
    this.metaDir = join(workDir, 'meta');
    this.compactBytes = Math.max(1, options.compactBytes ?? DEFAULT_COMPACT_BYTES);
    this.onError = options.onError ?? (() => {});
  }

  /**
   * Reads an agent's checkpoint without writing anything (for tools and tests; an agent uses
   * {@link load}). Records still in another instance's memory are not seen.
   */
  static read(workDir: string): LoadedCheckpoint {
    const cp = new Checkpoint(workDir);
    const problems: string[] = [];
    const state = cp.hasLegacy() && !existsSync(cp.journalFile) ? cp.readLegacy(problems) : emptyState();
    cp.replayFile(cp.journalFile, state, problems);
    validate(state, problems);
    return cp.describe(state, problems);
  }

  /** Path of `meta/agent.json`. */
  get agentFile(): string {
    return join(this.metaDir, 'agent.json');
  }

  /** Path of the journal. */
  get journalFile(): string {
    return join(this.metaDir, 'journal');
  }

  /** Reads `meta/agent.json`; undefined when absent or unreadable. */
  readAgent(): AgentCheckpoint | undefined {
    return parseAgentCheckpoint(readJson(this.agentFile));
  }

  /** Writes `meta/agent.json` atomically (write, then rename). */
  writeAgent(agent: AgentCheckpoint): void {
    mkdirSync(this.metaDir, { recursive: true });
    const tmp = `${this.agentFile}.tmp`;
    writeFileSync(tmp, stringify(agent));
    renameSync(tmp, this.agentFile);
  }

  /**
   * Opens the journal and reads everything back: the agent, its tasks, the replayed updates and
   * the executors. The journal is rewritten with just that (and files of earlier versions are
   * moved into it).
   */
  load(): LoadedCheckpoint {
    this.open();
    this.sync();
    const agent = this.readAgent();
    return { ...this.describe(this.state, this.problems), ...(agent ? { agent } : {}) };
  }

  /** Drops everything the journal holds (tasks found without an agent id). */
  reset(): void {
    if (this.closed) return;
    this.open();
    this.clearBatch();
    this.state = emptyState();
    const error = this.compact();
    if (error !== undefined) this.onError(error);
  }

  /** Records a task (the whole of it the first time, then what changed). */
  writeTask(task: TaskCheckpoint): void {
    if (!this.writable()) return;
    const key = keyOf(task.frameworkId, task.task.taskId);
    const known = this.state.tasks.get(key);
    const whole = known === undefined || known.task !== task.task || known.framework !== task.framework || known.frameworkId !== task.frameworkId;
    this.state.tasks.set(key, task);
    const entry = this.taskEntries.get(key);
    if (entry !== undefined) {
      entry.cp = task;
      if (whole) entry.k = 'task';
      return;
    }
    const added: TaskEntry = { k: whole ? 'task' : 'run', cp: task };
    this.taskEntries.set(key, added);
    this.add(added);
  }

  /** Drops a task and its updates (once its terminal update is acknowledged). */
  forgetTask(frameworkId: string, taskId: string): void {
    if (!this.writable()) return;
    const key = keyOf(frameworkId, taskId);
    this.state.tasks.delete(key);
    this.state.updates.delete(key);
    this.taskEntries.delete(key);
    this.add({ k: 'forget', fw: frameworkId, id: taskId });
  }

  /** Drops a task's updates once all of them are acknowledged (its task record keeps the state). */
  clearJournal(frameworkId: string, taskId: string): void {
    if (!this.writable()) return;
    this.state.updates.delete(keyOf(frameworkId, taskId));
    this.add({ k: 'clear', fw: frameworkId, id: taskId });
  }

  /** Records an update, to be written before it is sent. */
  appendUpdate(update: StatusUpdate): void {
    if (!this.writable()) return;
    applyUpdate(this.state, update);
    this.add({ k: 'update', u: update });
  }

  /** Records the acknowledgement of an update. */
  appendAck(frameworkId: string, taskId: string, uuid: string): void {
    if (!this.writable()) return;
    applyAck(this.state, keyOf(frameworkId, taskId), uuid);
    this.add({ k: 'ack', fw: frameworkId, id: taskId, uuid });
  }

  /** Records an executor (replacing what was recorded of it). */
  writeExecutor(executor: ExecutorCheckpoint): void {
    if (!this.writable()) return;
    const key = keyOf(executor.frameworkId, executor.info.executorId);
    this.state.executors.set(key, executor);
    const entry = this.executorEntries.get(key);
    if (entry !== undefined) {
      entry.e = executor;
      return;
    }
    const added: ExecutorEntry = { k: 'executor', e: executor };
    this.executorEntries.set(key, added);
    this.add(added);
  }

  /** Drops an executor's record (it ended). */
  forgetExecutor(frameworkId: string, executorId: string): void {
    if (!this.writable()) return;
    const key = keyOf(frameworkId, executorId);
    this.state.executors.delete(key);
    this.executorEntries.delete(key);
    this.add({ k: 'executorGone', fw: frameworkId, id: executorId });
  }

  /**
   * Writes the records gathered so far, as one line with one `write`. Call it before anything
   * that depends on them leaves the agent. A failed write is reported to `onError`; its records
   * stay and go with the next write.
   */
  sync(): void {
    if (this.entries.length === 0 || this.closed) return;
    this.open();
    if (this.fd === undefined) {
      // The journal could not be opened yet: write it whole (the state holds these records).
      const error = this.compact();
      if (error !== undefined) this.failed(error);
      return;
    }
    const entries = this.entries;
    let bytes: Buffer;
    try {
      bytes = Buffer.from(`${this.torn ? '\n' : ''}[${entries.map(serializeEntry).join(',')}]\n`);
      writeAll(this.fd, bytes);
    } catch (error) {
      this.torn = true;
      this.failed(error);
      return;
    }
    this.torn = false;
    this.clearBatch();
    this.stats.batches++;
    this.stats.records += entries.length;
    this.stats.bytes += bytes.length;
    this.journalBytes += bytes.length;
    if (this.journalBytes - this.compactedBytes >= Math.max(this.compactBytes, this.compactedBytes)) {
      const error = this.compact();
      if (error !== undefined) {
        this.onError(error);
        this.compactedBytes = this.journalBytes; // try again once it has grown as much again
      }
    }
  }

  /** Writes what is left and closes the journal; later records are ignored (the agent stopped). */
  close(): void {
    if (this.closed) return;
    this.sync();
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  // ---------------------------------------------------------------------------------------------

  private writable(): boolean {
    if (this.closed) return false;
    this.open();
    return true;
  }

  private add(entry: Entry): void {
    this.entries.push(entry);
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    // At the end of this turn at the latest, so that the disk does not lag behind for long.
    setImmediate(() => {
      this.syncScheduled = false;
      this.sync();
    }).unref();
  }

  private failed(error: unknown): void {
    this.onError(error);
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.sync();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  /** Replays what is on disk (files of earlier versions included) and starts a compacted journal. */
  private open(): void {
    if (this.opened) return;
    this.opened = true;
    const problems: string[] = [];
    const legacy = this.hasLegacy();
    const state = legacy && !existsSync(this.journalFile) ? this.readLegacy(problems) : emptyState();
    this.replayFile(this.journalFile, state, problems);
    validate(state, problems);
    this.state = state;
    this.problems = problems;
    const error = this.compact();
    if (error !== undefined) {
      this.onError(error); // sync() tries again
      return;
    }
    if (legacy) {
      // In the journal now (or, when a journal was there already, put in it by an earlier start).
      try {
        for (const dir of ['tasks', 'updates', 'executors']) rmSync(join(this.metaDir, dir), { recursive: true, force: true });
      } catch (error) {
        this.onError(error);
      }
    }
  }

  /**
   * Writes the state (the batch being gathered included) as a new journal beside the old one,
   * renames it over it, and appends to it from then on. Returns the error when that failed: the
   * old journal, if open, stays in use and the batch stays to be written.
   */
  private compact(): unknown {
    const tmp = join(this.metaDir, 'journal.compact');
    let text: string;
    let fd: number;
    try {
      mkdirSync(this.metaDir, { recursive: true });
      text = snapshotLines(this.state).join('');
      writeFileSync(tmp, text);
      renameSync(tmp, this.journalFile);
      fd = openSync(this.journalFile, 'a');
    } catch (error) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // nothing to remove
      }
      return error;
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = fd;
    this.torn = false;
    this.clearBatch();
    this.journalBytes = Buffer.byteLength(text);
    this.compactedBytes = this.journalBytes;
    this.stats.compactions++;
    return undefined;
  }

  private clearBatch(): void {
    this.entries = [];
    this.taskEntries.clear();
    this.executorEntries.clear();
  }

  private hasLegacy(): boolean {
    return ['tasks', 'updates', 'executors'].some((dir) => existsSync(join(this.metaDir, dir)));
  }

  /** Reads the one-file-per-thing layout of earlier versions. */
  private readLegacy(problems: string[]): State {
    const state = emptyState();
    for (const file of listFiles(join(this.metaDir, 'tasks'), '.json')) {
      const parsed = parseTaskCheckpoint(readJson(file));
      if (parsed) state.tasks.set(keyOf(parsed.frameworkId, parsed.task.taskId), parsed);
      else problems.push(`${file}: not a task checkpoint`);
    }
    for (const file of listFiles(join(this.metaDir, 'updates'), '.jsonl')) {
      const journal = replayLegacyJournal(file);
      if (journal) state.updates.set(keyOf(journal.frameworkId, journal.taskId), { pending: journal.pending, ...(journal.last ? { last: journal.last } : {}) });
      else problems.push(`${file}: no status update`);
    }
    for (const file of listFiles(join(this.metaDir, 'executors'), '.json')) {
      const parsed = parseExecutorCheckpoint(readJson(file));
      if (parsed) state.executors.set(keyOf(parsed.frameworkId, parsed.info.executorId), parsed);
      else problems.push(`${file}: not an executor checkpoint`);
    }
    return state;
  }

  /** Applies a journal file's records to `state`. */
  private replayFile(file: string, state: State, problems: string[]): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return; // no journal yet
    }
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '') continue;
      let records: unknown;
      try {
        records = JSON.parse(line, reviveBytes);
      } catch {
        // The last line cut short by a crash is expected: its batch never counted.
        if (i !== lines.length - 1) problems.push(`${file}: line ${i + 1} is not a whole batch (skipped)`);
        continue;
      }
      if (!Array.isArray(records)) {
        problems.push(`${file}: line ${i + 1} is not a batch of records (skipped)`);
        continue;
      }
      for (const record of records) {
        const problem = applyRecord(state, record);
        if (problem !== undefined) problems.push(`${file}: line ${i + 1}: ${problem}`);
      }
    }
  }

  private describe(state: State, problems: string[]): LoadedCheckpoint {
    const journals: UpdateJournal[] = [];
    for (const u of state.updates.values()) {
      const last = u.last ?? u.pending[u.pending.length - 1];
      if (last === undefined) continue;
      journals.push({ frameworkId: last.frameworkId, taskId: last.status.taskId, pending: [...u.pending], last });
    }
    return { tasks: [...state.tasks.values()], journals, executors: [...state.executors.values()], problems: [...problems] };
  }
}

/**
 * A transport that writes the checkpoint before anything leaves through it: every publish,
 * request and reply first calls `sync` (a no-op when nothing was recorded since the last one).
 * What another process hears of the agent is then never ahead of what a restarted agent finds.
 */
export function writeAheadTransport(transport: Transport, sync: () => void): Transport {
  const wrapMsg = (msg: TransportMsg): TransportMsg => ({
    subject: msg.subject,
    data: msg.data,
    reply: msg.reply,
    respond(data: Uint8Array): boolean {
      sync();
      return msg.respond(data);
    },
  });
  return {
    get kind() {
      return transport.kind;
    },
    get isClosed() {
      return transport.isClosed;
    },
    publish(subject, data, options) {
      sync();
      transport.publish(subject, data, options);
    },
    request(subject, data, options) {
      sync();
      return transport.request(subject, data, options);
    },
    subscribe(subject, options) {
      const callback = options?.callback;
      if (callback === undefined) return transport.subscribe(subject, options);
      const onError = options?.onError;
      return transport.subscribe(subject, {
        ...options,
        callback: (msg) => callback(wrapMsg(msg)),
        ...(onError ? { onError: (error: unknown, msg: TransportMsg) => onError(error, wrapMsg(msg)) } : {}),
      });
    },
    flush: () => transport.flush(),
    onStatus: (listener) => transport.onStatus(listener),
    drain: () => transport.drain(),
    close: () => transport.close(),
  };
}

// -------------------------------------------------------------------------------------------------
// Writing

/** JSON of a value without bytes. */
function stringify(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * Bytes as `{$bytes: base64}`. The checkpointed types carry bytes in two fields, `TaskInfo.data`
 * and `TaskStatus.data`, encoded by name below (a replacer function would take JSON.stringify off
 * its fast path, at twice the cost). A bytes field added to these types must be added here.
 */
function bytesJson(bytes: Uint8Array): { $bytes: string } {
  return { $bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
}

function statusJson(status: TaskStatus): unknown {
  return status.data === undefined ? status : { ...status, data: bytesJson(status.data) };
}

function taskJson(cp: TaskCheckpoint): unknown {
  const task = cp.task.data === undefined ? cp.task : { ...cp.task, data: bytesJson(cp.task.data) };
  return { ...cp, task, ...(cp.status !== undefined ? { status: statusJson(cp.status) } : {}) };
}

function updateJson(update: StatusUpdate): unknown {
  return { ...update, status: statusJson(update.status) };
}

function reviveBytes(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    if (typeof obj.$bytes === 'string') {
      let n = 0;
      for (const _ in obj) n++;
      if (n === 1) return new Uint8Array(Buffer.from(obj.$bytes, 'base64'));
    }
  }
  return value;
}

function runOf(cp: TaskCheckpoint): TaskRun {
  const run: TaskRun = { runId: cp.runId, containerId: cp.containerId, sandboxDir: cp.sandboxDir, state: cp.state };
  if (cp.status !== undefined) run.status = cp.status;
  if (cp.launchedAtMs !== undefined) run.launchedAtMs = cp.launchedAtMs;
  if (cp.killReason !== undefined) run.killReason = cp.killReason;
  return run;
}

function serializeEntry(entry: Entry): string {
  if ('cp' in entry) {
    if (entry.k === 'task') return stringify({ k: 'task', t: taskJson(entry.cp) });
    const r = runOf(entry.cp);
    return stringify({ k: 'run', fw: entry.cp.frameworkId, id: entry.cp.task.taskId, r: r.status !== undefined ? { ...r, status: statusJson(r.status) } : r });
  }
  if (entry.k === 'update') return stringify({ k: 'update', u: updateJson(entry.u) });
  return stringify(entry);
}

function writeAll(fd: number, bytes: Buffer): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** The state as journal lines: whole tasks, their unacknowledged updates, executors. */
function snapshotLines(state: State): string[] {
  const records: string[] = [];
  for (const t of state.tasks.values()) records.push(stringify({ k: 'task', t: taskJson(t) }));
  for (const u of state.updates.values()) {
    if (u.pending.length === 0 && u.last !== undefined) {
      // Every update acknowledged: the last one is kept for the state it names.
      const last = u.last;
      records.push(stringify({ k: 'update', u: updateJson(last) }), stringify({ k: 'ack', fw: last.frameworkId, id: last.status.taskId, uuid: last.status.uuid ?? '' }));
    }
    for (const update of u.pending) records.push(stringify({ k: 'update', u: updateJson(update) }));
  }
  for (const e of state.executors.values()) records.push(stringify({ k: 'executor', e }));
  const lines: string[] = [];
  for (let i = 0; i < records.length; i += SNAPSHOT_LINE_RECORDS) lines.push(`[${records.slice(i, i + SNAPSHOT_LINE_RECORDS).join(',')}]\n`);
  return lines;
}

// -------------------------------------------------------------------------------------------------
// Replaying

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function applyUpdate(state: State, update: StatusUpdate): void {
  const key = keyOf(update.frameworkId, update.status.taskId);
  let u = state.updates.get(key);
  if (u === undefined) {
    u = { pending: [] };
    state.updates.set(key, u);
  }
  u.pending.push(update);
  u.last = update;
}

function applyAck(state: State, key: string, uuid: string): void {
  const u = state.updates.get(key);
  if (u === undefined) return;
  const at = u.pending.findIndex((p) => p.status.uuid === uuid);
  if (at >= 0) u.pending.splice(at, 1);
}

/** Applies one record as read; returns what is wrong with it, if anything. Checked loosely: {@link validate} checks what is left. */
function applyRecord(state: State, raw: unknown): string | undefined {
  if (!isRecord(raw) || typeof raw.k !== 'string') return 'a record without a kind (skipped)';
  const ids = (): [string, string] | undefined => (typeof raw.fw === 'string' && typeof raw.id === 'string' ? [raw.fw, raw.id] : undefined);
  switch (raw.k) {
    case 'task': {
      const t = raw.t;
      if (!isRecord(t) || typeof t.frameworkId !== 'string' || !isRecord(t.task) || typeof t.task.taskId !== 'string') return 'a task record without ids (skipped)';
      state.tasks.set(keyOf(t.frameworkId, t.task.taskId), t as unknown as TaskCheckpoint);
      return undefined;
    }
    case 'run': {
      const at = ids();
      if (at === undefined || !isRecord(raw.r)) return 'a run record without ids (skipped)';
      const key = keyOf(...at);
      const known = state.tasks.get(key);
      if (known === undefined) return `a run record of task ${at[1]}, which the journal does not hold (skipped)`;
      const r = raw.r as Partial<TaskRun>;
      // Written whole: fields it lacks were unset.
      const next: TaskCheckpoint = { ...(r as TaskRun), frameworkId: known.frameworkId, framework: known.framework, task: known.task };
      state.tasks.set(key, next);
      return undefined;
    }
    case 'update': {
      const u = raw.u;
      if (!isRecord(u) || typeof u.frameworkId !== 'string' || !isRecord(u.status) || typeof u.status.taskId !== 'string') return 'an update record without ids (skipped)';
      applyUpdate(state, u as unknown as StatusUpdate);
      return undefined;
    }
    case 'ack': {
      const at = ids();
      if (at === undefined || typeof raw.uuid !== 'string') return 'an ack record without ids (skipped)';
      applyAck(state, keyOf(...at), raw.uuid);
      return undefined;
    }
    case 'clear': {
      const at = ids();
      if (at === undefined) return 'a clear record without ids (skipped)';
      state.updates.delete(keyOf(...at));
      return undefined;
    }
    case 'forget': {
      const at = ids();
      if (at === undefined) return 'a forget record without ids (skipped)';
      state.tasks.delete(keyOf(...at));
      state.updates.delete(keyOf(...at));
      return undefined;
    }
    case 'executor': {
      const e = raw.e;
      if (!isRecord(e) || typeof e.frameworkId !== 'string' || !isRecord(e.info) || typeof e.info.executorId !== 'string') return 'an executor record without ids (skipped)';
      state.executors.set(keyOf(e.frameworkId, e.info.executorId), e as unknown as ExecutorCheckpoint);
      return undefined;
    }
    case 'executorGone': {
      const at = ids();
      if (at === undefined) return 'an executorGone record without ids (skipped)';
      state.executors.delete(keyOf(...at));
      return undefined;
    }
    default:
      return `a record of unknown kind ${JSON.stringify(raw.k)} (skipped)`;
  }
}

/** Checks what the replay left with the protocol's schemas; drops (and reports) what fails. */
function validate(state: State, problems: string[]): void {
  for (const [key, raw] of state.tasks) {
    const parsed = parseTaskCheckpoint(raw);
    if (parsed === undefined) {
      state.tasks.delete(key);
      problems.push(`task ${key.split('\u0000')[1]}: not a valid task checkpoint (dropped)`);
    } else state.tasks.set(key, parsed);
  }
  for (const [key, u] of state.updates) {
    const pending: StatusUpdate[] = [];
    for (const p of u.pending) {
      const parsed = StatusUpdateSchema.safeParse(p);
      if (parsed.success) pending.push(parsed.data);
      else problems.push(`an update of task ${key.split('\u0000')[1]}: not a valid status update (dropped)`);
    }
    const last = u.last === undefined ? undefined : StatusUpdateSchema.safeParse(u.last);
    if (last?.success) state.updates.set(key, { pending, last: last.data });
    else if (pending.length > 0) state.updates.set(key, { pending, last: pending[pending.length - 1]! });
    else state.updates.delete(key);
  }
  for (const [key, raw] of state.executors) {
    const parsed = parseExecutorCheckpoint(raw);
    if (parsed === undefined) {
      state.executors.delete(key);
      problems.push(`executor ${key.split('\u0000')[1]}: not a valid executor checkpoint (dropped)`);
    } else state.executors.set(key, parsed);
  }
}

/** Validates what `meta/agent.json` held. */
function parseAgentCheckpoint(raw: unknown): AgentCheckpoint | undefined {
  if (!isRecord(raw) || typeof raw.agentId !== 'string' || !AgentIdSchema.safeParse(raw.agentId).success) return undefined;
  const out: AgentCheckpoint = { agentId: raw.agentId };
  if (raw.resources !== undefined) {
    const rs = ResourcesSchema.safeParse(raw.resources);
    if (rs.success) out.resources = rs.data;
  }
  return out;
}

/** Validates one task checkpoint, part by part with the protocol's schemas. */
function parseTaskCheckpoint(raw: unknown): TaskCheckpoint | undefined {
  if (!isRecord(raw)) return undefined;
  const frameworkId = FrameworkIdSchema.safeParse(raw.frameworkId);
  const framework = FrameworkInfoSchema.safeParse(raw.framework);
  const task = TaskInfoSchema.safeParse(raw.task);
  const state = TaskStateSchema.safeParse(raw.state);
  if (!frameworkId.success || !framework.success || !task.success || !state.success) return undefined;
  if (typeof raw.runId !== 'string' || typeof raw.containerId !== 'string' || typeof raw.sandboxDir !== 'string') return undefined;
  const out: TaskCheckpoint = {
    frameworkId: frameworkId.data,
    framework: framework.data,
    task: task.data,
    runId: raw.runId,
    containerId: raw.containerId,
    sandboxDir: raw.sandboxDir,
    state: state.data,
  };
  const status = TaskStatusSchema.safeParse(raw.status);
  if (status.success) out.status = status.data;
  if (typeof raw.launchedAtMs === 'number') out.launchedAtMs = raw.launchedAtMs;
  if (typeof raw.killReason === 'string' && KILL_REASONS.has(raw.killReason)) out.killReason = raw.killReason as KillReason;
  return out;
}

/** Validates one executor checkpoint. */
function parseExecutorCheckpoint(raw: unknown): ExecutorCheckpoint | undefined {
  if (!isRecord(raw)) return undefined;
  const info = ExecutorInfoSchema.safeParse(raw.info);
  const framework = FrameworkInfoSchema.safeParse(raw.framework);
  if (!info.success || !framework.success) return undefined;
  if (typeof raw.frameworkId !== 'string' || typeof raw.runId !== 'string' || typeof raw.containerId !== 'string' || typeof raw.sandboxDir !== 'string') return undefined;
  const groups = Array.isArray(raw.groups) ? raw.groups.filter((g): g is string[] => Array.isArray(g) && g.every((id) => typeof id === 'string')) : [];
  const cp: ExecutorCheckpoint = {
    frameworkId: raw.frameworkId,
    framework: framework.data,
    info: info.data,
    builtin: raw.builtin === true,
    runId: raw.runId,
    containerId: raw.containerId,
    sandboxDir: raw.sandboxDir,
    subscribed: raw.subscribed === true,
    terminating: raw.terminating === true,
    groups,
  };
  if (typeof raw.launchedAtMs === 'number') cp.launchedAtMs = raw.launchedAtMs;
  return cp;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'), reviveBytes);
  } catch {
    return undefined;
  }
}

/** Files ending in `suffix` one directory level below `dir` (`dir/<frameworkId>/<file>`). */
function listFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  let frameworks: string[];
  try {
    frameworks = readdirSync(dir);
  } catch {
    return out;
  }
  for (const fw of frameworks) {
    let files: string[];
    try {
      files = readdirSync(join(dir, fw));
    } catch {
      continue;
    }
    for (const f of files) if (f.endsWith(suffix)) out.push(join(dir, fw, f));
  }
  return out;
}

/** Replays one journal file of earlier versions (`{update}` and `{ack}` lines). */
function replayLegacyJournal(file: string): UpdateJournal | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pending: StatusUpdate[] = [];
  let last: StatusUpdate | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line, reviveBytes);
    } catch {
      continue; // a line cut short by a crash
    }
    if (!isRecord(raw)) continue;
    if (typeof raw.ack === 'string') {
      const uuid = raw.ack;
      const at = pending.findIndex((u) => u.status.uuid === uuid);
      if (at >= 0) pending.splice(at, 1);
      continue;
    }
    const update = StatusUpdateSchema.safeParse(raw.update);
    if (!update.success) continue;
    pending.push(update.data);
    last = update.data;
  }
  if (last === undefined) return undefined;
  return { frameworkId: last.frameworkId, taskId: last.status.taskId, pending, last };
}
