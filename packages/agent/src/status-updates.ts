/**
 * The status-update manager: the agent's half of Stoa's at-least-once delivery of task statuses.
 *
 * Every update gets a uuid, a timestamp and the agent's id; it is written to the checkpoint journal
 * **before** it is sent; updates of one task go out strictly in order, and only the oldest
 * unacknowledged one of each task is in flight. Updates of many tasks travel together, as one
 * `STATUS_UPDATE` request per flush (at most {@link StatusUpdateManagerOptions.maxBatch} each).
 * An update is resent with exponential backoff until the framework's acknowledgement reaches the
 * agent (ACKNOWLEDGE) — the reply to the request only means the master received it. Once a task's
 * terminal update is acknowledged, the task is forgotten.
 *
 * Timers are shared: a {@link TimerQueue} keeps one Node timer for any number of managers, so a
 * process hosting thousands of simulated agents does not hold thousands of timers.
 *
 * @example
 * ```ts
 * const updates = new StatusUpdateManager({ send: (batch) => sendStatusUpdate(batch), journal: checkpoint });
 * updates.agentId = 'a-1';
 * updates.resume();
 * const status = updates.update('f-1', { taskId: 't-1', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
 * updates.acknowledge('f-1', 't-1', status.uuid!);
 * ```
 * @module
 */

import { randomUUID } from 'node:crypto';
import { isTerminalState, type StatusUpdate, type TaskStatus } from '@stoa/core';

/** The longest delay `setTimeout` honours (about 24.8 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A handle on one scheduled call of a {@link TimerQueue}. */
export interface TimerHandle {
  /** When it is due (ms since the epoch). */
  readonly at: number;
  /** Stops it from running (a no-op once it ran). */
  cancel(): void;
}

interface TimerEntry extends TimerHandle {
  fn: () => void;
  seq: number;
  cancelled: boolean;
}

/**
 * Many one-shot timers on one Node timer: a binary heap of due times. Callbacks that throw are
 * reported to `onError` and do not stop the others. The Node timer is unref'd: the queue never
 * keeps a process alive by itself.
 */
export class TimerQueue {
  private readonly heap: TimerEntry[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  private closed = false;

  /** @param onError where callbacks' errors go. @default ignored */
  constructor(private readonly onError: (error: unknown) => void = () => {}) {}

  /** The clock the queue runs on (ms since the epoch). */
  now(): number {
    return Date.now();
  }

  /** Runs `fn` at `at` (or as soon as possible when that is past). */
  schedule(at: number, fn: () => void): TimerHandle {
    const entry: TimerEntry = {
      at,
      fn,
      seq: this.seq++,
      cancelled: false,
      cancel() {
        entry.cancelled = true;
      },
    };
    if (this.closed) {
      entry.cancelled = true;
      return entry;
    }
    this.push(entry);
    if (at < this.armedAt) this.arm(at);
    return entry;
  }

  /** How many calls are waiting (cancelled ones included until their time comes). */
  get size(): number {
    return this.heap.length;
  }

  /** Drops every pending call and the Node timer. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.heap.length = 0;
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    // Node fires a timeout beyond 2^31-1 ms at once; wake up at most then, and re-arm (fire() finds nothing due).
    this.timer = setTimeout(() => this.fire(), Math.min(MAX_TIMEOUT_MS, Math.max(0, at - this.now())));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > now) break;
      this.pop();
      if (top.cancelled) continue;
      top.cancelled = true;
      try {
        top.fn();
      } catch (error) {
        this.onError(error);
      }
      if (this.closed) return;
    }
    // Skip cancelled entries at the top so that the timer is armed for a live one.
    while (this.heap[0]?.cancelled) this.pop();
    const next = this.heap[0];
    if (next !== undefined && next.at < this.armedAt) this.arm(next.at);
  }

  private less(a: TimerEntry, b: TimerEntry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(entry: TimerEntry): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/** Where updates and acknowledgements are written before anything is sent (the checkpoint). */
export interface UpdateJournalWriter {
  /** Appends an update to its task's journal. */
  appendUpdate(update: StatusUpdate): void;
  /** Records that an update was acknowledged. */
  appendAck(frameworkId: string, taskId: string, uuid: string): void;
  /**
   * Called when every update of a live task is acknowledged: the journal holds nothing worth
   * keeping and may be emptied (so a long-running task's journal does not grow without end).
   */
  clearJournal?(frameworkId: string, taskId: string): void;
  /** Writes what was appended so far; called before updates are sent (a journal that buffers writes). */
  sync?(): void;
}

/** Backoff of resends. */
export interface StatusRetryOptions {
  /** The first resend comes this long after the first send. @default 5000 */
  initialMs?: number;
  /** Resends never wait longer than this. @default 60000 */
  maxMs?: number;
}

/** Options of {@link StatusUpdateManager}. */
export interface StatusUpdateManagerOptions {
  /** Sends one `STATUS_UPDATE` with these updates; resolves when the master received it, rejects otherwise. */
  send(updates: StatusUpdate[]): Promise<void>;
  /** The checkpoint journal. @default none (nothing survives a restart) */
  journal?: UpdateJournalWriter;
  /** Backoff of resends. @default { initialMs: 5000, maxMs: 60000 } */
  retry?: StatusRetryOptions;
  /** The timers to use; share one among many managers. @default a queue of its own */
  timers?: TimerQueue;
  /** The most updates in one message. @default 1000 */
  maxBatch?: number;
  /** Wait this long after an update before flushing, to batch what follows. @default 1 */
  flushDelayMs?: number;
  /** Called when a task's terminal update is acknowledged: the task may be forgotten. */
  onForget?: (frameworkId: string, taskId: string) => void;
  /** Called with a failed send, for logs. */
  onSendError?: (error: unknown, updates: StatusUpdate[]) => void;
}

/** What a caller gives {@link StatusUpdateManager.update}: a status without its uuid, timestamp and agent id. */
export type StatusInput = Omit<TaskStatus, 'uuid' | 'timestampMs' | 'agentId'>;

/** Counts kept by a {@link StatusUpdateManager}. */
export interface StatusUpdateStats {
  /** Updates sent for the first time. */
  sent: number;
  /** Resends. */
  retried: number;
  /** Updates acknowledged. */
  acked: number;
  /** Acknowledgements that named no update in flight (duplicates, unknown uuids). */
  ignoredAcks: number;
  /** Sends that failed (no master, timeout, refusal). */
  sendFailures: number;
}

/** One task's queue of updates; the head is in flight. */
interface Stream {
  frameworkId: string;
  taskId: string;
  queue: StatusUpdate[];
  /** When the head is due to be (re)sent. */
  nextAt: number;
  /** The wait after the head's next send. */
  backoff: number;
  /** Whether the head was sent at least once. */
  sent: boolean;
}

function keyOf(frameworkId: string, taskId: string): string {
  return `${frameworkId}\u0000${taskId}`;
}

/** The agent's status-update manager. Starts paused: call {@link resume} once registered. */
export class StatusUpdateManager {
  /** Stamped on every update. */
  agentId: string | undefined;
  /** Counts, for metrics. */
  readonly stats: StatusUpdateStats = { sent: 0, retried: 0, acked: 0, ignoredAcks: 0, sendFailures: 0 };

  private readonly streams = new Map<string, Stream>();
  /** Streams whose head should go out at the next flush. */
  private readonly ready = new Set<Stream>();
  /** Streams whose head was sent and awaits its acknowledgement. */
  private readonly inflight = new Set<Stream>();
  private readonly timers: TimerQueue;
  private readonly ownTimers: boolean;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly maxBatch: number;
  private readonly flushDelayMs: number;
  private flushTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private paused = true;
  private stopped = false;

  constructor(private readonly options: StatusUpdateManagerOptions) {
    this.ownTimers = options.timers === undefined;
    this.timers = options.timers ?? new TimerQueue();
    this.initialMs = Math.max(1, options.retry?.initialMs ?? 5000);
    this.maxMs = Math.max(this.initialMs, options.retry?.maxMs ?? 60_000);
    this.maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.flushDelayMs = Math.max(0, options.flushDelayMs ?? 1);
  }

  /**
   * Records a new update of a task: stamps it (with `atMs`, when what it reports happened: now by
   * default), journals it, queues it behind the task's earlier updates. Returns the stamped status.
   */
  update(frameworkId: string, input: StatusInput, atMs: number = this.timers.now()): TaskStatus {
    const status: TaskStatus = { ...input, timestampMs: atMs, uuid: randomUUID() };
    if (this.agentId !== undefined) status.agentId = this.agentId;
    this.enqueue({ frameworkId, status }, true);
    return status;
  }

  /**
   * Puts back updates read from the checkpoint (unacknowledged when the agent stopped), in order,
   * without journaling them again.
   */
  restore(updates: readonly StatusUpdate[]): void {
    for (const u of updates) {
      if (u.status.uuid === undefined) continue;
      this.enqueue(u, false);
    }
  }

  /**
   * Handles an acknowledgement: pops the task's head if `uuid` names it, and lets the next update
   * of that task go. Returns false (and ignores it) for any other uuid.
   */
  acknowledge(frameworkId: string, taskId: string, uuid: string): boolean {
    const key = keyOf(frameworkId, taskId);
    const stream = this.streams.get(key);
    const head = stream?.queue[0];
    if (stream === undefined || head === undefined || head.status.uuid !== uuid) {
      this.stats.ignoredAcks++;
      return false;
    }
    this.options.journal?.appendAck(frameworkId, taskId, uuid);
    this.stats.acked++;
    stream.queue.shift();
    this.ready.delete(stream);
    this.inflight.delete(stream);
    if (stream.queue.length > 0) {
      stream.backoff = this.initialMs;
      stream.sent = false;
      stream.nextAt = 0;
      this.makeReady(stream);
    } else {
      this.streams.delete(key);
      if (isTerminalState(head.status.state)) this.options.onForget?.(frameworkId, taskId);
      else this.options.journal?.clearJournal?.(frameworkId, taskId);
    }
    return true;
  }

  /** Stops sending (the agent lost its master); updates keep queueing. */
  pause(): void {
    this.paused = true;
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
  }

  /**
   * Starts sending again (the agent is registered): every unacknowledged head goes out at once,
   * with its backoff reset, since a new master may never have seen it.
   */
  resume(): void {
    if (this.stopped) return;
    this.paused = false;
    for (const stream of this.inflight) {
      stream.backoff = this.initialMs;
      stream.nextAt = 0;
      this.ready.add(stream);
    }
    this.inflight.clear();
    this.scheduleFlush();
  }

  /** Whether sending is paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Unacknowledged updates of one task, oldest first. */
  pendingOf(frameworkId: string, taskId: string): readonly StatusUpdate[] {
    return this.streams.get(keyOf(frameworkId, taskId))?.queue ?? [];
  }

  /** The latest update of a task not yet acknowledged, if any. */
  latestOf(frameworkId: string, taskId: string): StatusUpdate | undefined {
    const q = this.streams.get(keyOf(frameworkId, taskId))?.queue;
    return q?.[q.length - 1];
  }

  /** Every unacknowledged update, per task in order. */
  pending(): StatusUpdate[] {
    const out: StatusUpdate[] = [];
    for (const s of this.streams.values()) out.push(...s.queue);
    return out;
  }

  /** How many updates await acknowledgement. */
  get pendingCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.queue.length;
    return n;
  }

  /** Sends what is ready now (normally a timer does this). */
  flush(): void {
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    if (this.paused || this.stopped || this.ready.size === 0) return;
    this.options.journal?.sync?.();
    const now = this.timers.now();
    let batch: StatusUpdate[] = [];
    for (const stream of this.ready) {
      const head = stream.queue[0];
      if (head === undefined) continue;
      batch.push(head);
      if (stream.sent) this.stats.retried++;
      else this.stats.sent++;
      stream.sent = true;
      stream.nextAt = now + stream.backoff;
      stream.backoff = Math.min(stream.backoff * 2, this.maxMs);
      this.inflight.add(stream);
      if (batch.length >= this.maxBatch) {
        this.transmit(batch);
        batch = [];
      }
    }
    this.ready.clear();
    if (batch.length > 0) this.transmit(batch);
    this.scheduleRetry();
  }

  /** Stops all timers; what is unacknowledged stays in the journal for the next start. */
  stop(): void {
    this.stopped = true;
    this.paused = true;
    this.flushTimer?.cancel();
    this.retryTimer?.cancel();
    this.flushTimer = undefined;
    this.retryTimer = undefined;
    if (this.ownTimers) this.timers.close();
  }

  private enqueue(update: StatusUpdate, journal: boolean): void {
    // Written before it can be sent: a crash after this line resends it, one before never sent it.
    if (journal) this.options.journal?.appendUpdate(update);
    const key = keyOf(update.frameworkId, update.status.taskId);
    let stream = this.streams.get(key);
    if (stream === undefined) {
      stream = {
        frameworkId: update.frameworkId,
        taskId: update.status.taskId,
        queue: [],
        nextAt: 0,
        backoff: this.initialMs,
        sent: false,
      };
      this.streams.set(key, stream);
    }
    stream.queue.push(update);
    if (stream.queue.length === 1) this.makeReady(stream);
  }

  private makeReady(stream: Stream): void {
    this.ready.add(stream);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.paused || this.stopped || this.flushTimer !== undefined || this.ready.size === 0) return;
    this.flushTimer = this.timers.schedule(this.timers.now() + this.flushDelayMs, () => {
      this.flushTimer = undefined;
      this.flush();
    });
  }

  private scheduleRetry(): void {
    if (this.stopped || this.inflight.size === 0) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const s of this.inflight) if (s.nextAt < earliest) earliest = s.nextAt;
    if (this.retryTimer !== undefined && this.retryTimer.at <= earliest) return;
    this.retryTimer?.cancel();
    this.retryTimer = this.timers.schedule(earliest, () => {
      this.retryTimer = undefined;
      this.retryDue();
    });
  }

  private retryDue(): void {
    if (this.stopped) return;
    if (this.paused) return; // resume() resends everything anyway
    const now = this.timers.now();
    for (const s of this.inflight) {
      if (s.nextAt <= now) {
        this.inflight.delete(s);
        this.ready.add(s);
      }
    }
    if (this.ready.size > 0) this.flush();
    else this.scheduleRetry();
  }

  private transmit(batch: StatusUpdate[]): void {
    this.options.send(batch).catch((error: unknown) => {
      this.stats.sendFailures++;
      this.options.onSendError?.(error, batch);
    });
  }
}
