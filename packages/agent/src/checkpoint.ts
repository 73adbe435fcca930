/**
 * The agent's checkpoint: what it writes under `<workDir>/meta` so that a restarted agent can
 * re-attach to its tasks and resend what the frameworks have not acknowledged.
 *
 * ```text
 * <workDir>/meta/agent.json                                   { agentId, resources? }
 * <workDir>/meta/tasks/<frameworkId>/<taskId>.json            one task: TaskInfo, framework, container, last state
 * <workDir>/meta/updates/<frameworkId>/<taskId>.jsonl         its status updates, then {"ack": uuid} lines
 * ```
 *
 * Ids become file names through {@link fileNameOf} (percent-encoding, so a task id with `/` or a
 * leading `.` cannot leave its directory). Writes are synchronous and small: a status update must
 * be on disk before it is sent, and synchronous appends keep each task's journal in order without
 * a queue of promises. JSON files are replaced atomically (write, then rename); journals are
 * appended without fsync, as Mesos does by default. A journal cut short by a crash loses at most
 * its last, unfinished line, which is skipped on reading.
 *
 * @example
 * ```ts
 * const cp = new Checkpoint('/var/lib/stoa');
 * cp.writeAgent({ agentId: 'a-1' });
 * cp.appendUpdate({ frameworkId: 'f-1', status });
 * const { tasks, journals } = cp.load();
 * ```
 * @module
 */

import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AgentIdSchema,
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

/** One task as checkpointed in `meta/tasks/<frameworkId>/<taskId>.json`. */
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

/** One task's journal of status updates, replayed: the updates not yet acknowledged, in order. */
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
  /** Files that could not be read or failed their schema (skipped). */
  problems: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

/** Validates one journal line: `{update}` or `{ack}`. */
function parseJournalLine(raw: unknown): { update: StatusUpdate } | { ack: string } | undefined {
  if (!isRecord(raw)) return undefined;
  if (typeof raw.ack === 'string') return { ack: raw.ack };
  const update = StatusUpdateSchema.safeParse(raw.update);
  return update.success ? { update: update.data } : undefined;
}

/** Reads and writes an agent's checkpoint under `<workDir>/meta`. */
export class Checkpoint {
  /** `<workDir>/meta`. */
  readonly metaDir: string;
  private readonly madeDirs = new Set<string>();

  constructor(workDir: string) {
    this.metaDir = join(workDir, 'meta');
  }

  /** Path of `meta/agent.json`. */
  get agentFile(): string {
    return join(this.metaDir, 'agent.json');
  }

  /** Path of one task's checkpoint. */
  taskFile(frameworkId: string, taskId: string): string {
    return join(this.metaDir, 'tasks', fileNameOf(frameworkId), `${fileNameOf(taskId)}.json`);
  }

  /** Path of one task's journal of updates. */
  journalFile(frameworkId: string, taskId: string): string {
    return join(this.metaDir, 'updates', fileNameOf(frameworkId), `${fileNameOf(taskId)}.jsonl`);
  }

  /** Reads `meta/agent.json`; undefined when absent or unreadable. */
  readAgent(): AgentCheckpoint | undefined {
    return parseAgentCheckpoint(readJson(this.agentFile));
  }

  /** Writes `meta/agent.json` atomically. */
  writeAgent(agent: AgentCheckpoint): void {
    this.writeJson(this.agentFile, agent);
  }

  /** Writes one task's checkpoint atomically. */
  writeTask(task: TaskCheckpoint): void {
    this.writeJson(this.taskFile(task.frameworkId, task.task.taskId), task);
  }

  /** Removes one task's checkpoint and journal (once its terminal update is acknowledged). */
  forgetTask(frameworkId: string, taskId: string): void {
    rmSync(this.taskFile(frameworkId, taskId), { force: true });
    rmSync(this.journalFile(frameworkId, taskId), { force: true });
  }

  /** Removes a task's journal once all its updates are acknowledged (its task file keeps the state). */
  clearJournal(frameworkId: string, taskId: string): void {
    rmSync(this.journalFile(frameworkId, taskId), { force: true });
  }

  /** Appends an update to its task's journal. */
  appendUpdate(update: StatusUpdate): void {
    const file = this.journalFile(update.frameworkId, update.status.taskId);
    this.ensureDir(join(file, '..'));
    appendFileSync(file, `${JSON.stringify({ update: toJsonSafe(update) })}\n`);
  }

  /** Records the acknowledgement of an update in its task's journal. */
  appendAck(frameworkId: string, taskId: string, uuid: string): void {
    const file = this.journalFile(frameworkId, taskId);
    this.ensureDir(join(file, '..'));
    appendFileSync(file, `${JSON.stringify({ ack: uuid })}\n`);
  }

  /** Reads everything back: the agent, its tasks and the replayed journals. */
  load(): LoadedCheckpoint {
    const problems: string[] = [];
    const agent = this.readAgent();
    const tasks: TaskCheckpoint[] = [];
    for (const file of listFiles(join(this.metaDir, 'tasks'), '.json')) {
      const parsed = parseTaskCheckpoint(readJson(file));
      if (parsed) tasks.push(parsed);
      else problems.push(file);
    }
    const journals: UpdateJournal[] = [];
    for (const file of listFiles(join(this.metaDir, 'updates'), '.jsonl')) {
      const journal = replayJournal(file);
      if (journal) journals.push(journal);
      else problems.push(file);
    }
    return { ...(agent ? { agent } : {}), tasks, journals, problems };
  }

  private writeJson(file: string, value: unknown): void {
    this.ensureDir(join(file, '..'));
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(toJsonSafe(value)));
    renameSync(tmp, file);
  }

  private ensureDir(dir: string): void {
    if (this.madeDirs.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.madeDirs.add(dir);
  }
}

function readJson(file: string): unknown {
  try {
    return fromJsonSafe(JSON.parse(readFileSync(file, 'utf8')));
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

/** Replays one journal: updates in order, each ack removing the update it names. */
function replayJournal(file: string): UpdateJournal | undefined {
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
      raw = fromJsonSafe(JSON.parse(line));
    } catch {
      continue; // a line cut short by a crash
    }
    const entry = parseJournalLine(raw);
    if (entry === undefined) continue;
    if ('update' in entry) {
      pending.push(entry.update);
      last = entry.update;
    } else {
      const at = pending.findIndex((u) => u.status.uuid === entry.ack);
      if (at >= 0) pending.splice(at, 1);
    }
  }
  if (last === undefined) return undefined;
  return { frameworkId: last.frameworkId, taskId: last.status.taskId, pending, last };
}

// JSON cannot hold bytes: Uint8Array fields (TaskInfo.data, status data) travel as {$bytes: base64}.
function toJsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonSafe(v);
    return out;
  }
  return value;
}

function fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === '$bytes' && typeof obj.$bytes === 'string') {
      return new Uint8Array(Buffer.from(obj.$bytes, 'base64'));
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = fromJsonSafe(v);
    return out;
  }
  return value;
}
