/**
 * Built-in task reconciliation: the part of a scheduler that makes sure it knows the true state
 * of every task it launched, even when status updates were lost (a dropped event, a master
 * failover, a framework restart).
 *
 * The {@link SchedulerClient} drives one of these: after every (re)subscription it asks for an
 * explicit RECONCILE of every known non-terminal task and one implicit (empty) RECONCILE; after a
 * gap in the event sequence it asks for an explicit one again. Tasks that have heard no UPDATE
 * since they were asked about are asked about again with capped exponential backoff, until each
 * has an answer. Answers are ordinary UPDATE events; the client reports every status it sees
 * with {@link Reconciler.observe}.
 *
 * Time comes from a {@link Clock}, so the schedule can be tested without waiting.
 *
 * @example
 * ```ts
 * const reconciler = new Reconciler({ send: (tasks) => client.reconcile(tasks) });
 * reconciler.start(knownTasks, { implicit: true }); // after SUBSCRIBED
 * reconciler.request(knownTasks);                   // after a seq gap
 * reconciler.observe(status.taskId);                // for every status of every UPDATE
 * reconciler.stop();
 * ```
 * @module
 */

/** Where the reconciler (and the scheduler client) get the time and their timers from. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms`; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer made by {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/** The real clock: `Date.now` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A task to reconcile: its id and, when known, its agent (which lets the master answer faster). */
export interface ReconcileTarget {
  /** The task's id. */
  taskId: string;
  /** The agent it was launched on, when known. */
  agentId?: string | undefined;
}

/** How often unanswered tasks are asked about again. */
export interface ReconcileBackoff {
  /** The first retry comes this long after a request. @default 1000 */
  initialBackoffMs?: number;
  /** Retries double up to this. @default 30000 */
  maxBackoffMs?: number;
}

/** Options of {@link Reconciler}. */
export interface ReconcilerOptions extends ReconcileBackoff {
  /**
   * Sends one RECONCILE call: the listed tasks, or an implicit reconciliation when the list is
   * empty. A rejection is logged and the tasks stay pending, so the next retry covers them.
   */
  send(tasks: ReconcileTarget[]): Promise<void>;
  /** At most this many tasks go in one RECONCILE (NATS limits a message's size). @default 1000 */
  maxTasksPerCall?: number;
  /** The time source. @default {@link systemClock} */
  clock?: Clock;
  /** Told about failed sends. @default nothing is reported */
  onError?: (error: unknown) => void;
}

/**
 * Keeps the set of tasks waiting for a reconciliation answer and asks the master about them
 * until each has one. Not started, it only collects requests; {@link Reconciler.start} sends.
 */
export class Reconciler {
  private readonly send: (tasks: ReconcileTarget[]) => Promise<void>;
  private readonly clock: Clock;
  private readonly onError: (error: unknown) => void;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxTasksPerCall: number;
  private readonly pending = new Map<string, ReconcileTarget>();
  private implicitDue = false;
  private running = false;
  private backoffMs: number;
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private calls = 0;

  constructor(options: ReconcilerOptions) {
    this.send = options.send;
    this.clock = options.clock ?? systemClock;
    this.onError = options.onError ?? (() => {});
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = Math.max(options.maxBackoffMs ?? 30_000, this.initialBackoffMs);
    this.maxTasksPerCall = Math.max(1, options.maxTasksPerCall ?? 1000);
    this.backoffMs = this.initialBackoffMs;
  }

  /** The ids of tasks asked about that have not been answered yet. */
  get pendingTaskIds(): string[] {
    return [...this.pending.keys()];
  }

  /** Whether the reconciler is sending (between {@link start} and {@link pause}/{@link stop}). */
  get isRunning(): boolean {
    return this.running;
  }

  /** How many RECONCILE calls it has sent (explicit and implicit). */
  get callsSent(): number {
    return this.calls;
  }

  /**
   * Starts (or restarts, after a re-subscription) sending: asks about `tasks` and every task
   * still unanswered at once, plus an implicit reconciliation when `implicit` is set.
   */
  start(tasks: Iterable<ReconcileTarget>, options: { implicit?: boolean } = {}): void {
    this.running = true;
    this.add(tasks);
    if (options.implicit) this.implicitDue = true;
    this.backoffMs = this.initialBackoffMs;
    this.arm(this.clock.now());
  }

  /**
   * Asks about `tasks` (after a gap in the event sequence). To keep a burst of gaps from becoming
   * a burst of calls, requests closer together than `initialBackoffMs` share one call.
   */
  request(tasks: Iterable<ReconcileTarget>): void {
    this.add(tasks);
    this.backoffMs = this.initialBackoffMs;
    if (this.running) this.arm(Math.max(this.clock.now(), this.lastSentAt + this.initialBackoffMs));
  }

  /** Records that a status of `taskId` arrived: it has its answer. */
  observe(taskId: string): void {
    if (this.pending.delete(taskId) && this.pending.size === 0 && !this.implicitDue) this.disarm();
  }

  /** Stops asking about a task (the framework forgot it). */
  forget(taskId: string): void {
    this.observe(taskId);
  }

  /** Stops sending (while re-subscribing) and keeps what is pending for the next {@link start}. */
  pause(): void {
    this.running = false;
    this.disarm();
  }

  /** Stops sending and forgets everything pending. */
  stop(): void {
    this.pause();
    this.pending.clear();
    this.implicitDue = false;
  }

  private add(tasks: Iterable<ReconcileTarget>): void {
    for (const task of tasks) this.pending.set(task.taskId, task);
  }

  /** Makes sure a round runs at `at` at the latest. */
  private arm(at: number): void {
    if (this.pending.size === 0 && !this.implicitDue) return;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.disarm();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(this.round, Math.max(0, at - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private readonly round = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (!this.running) return;
    const now = this.clock.now();
    const targets = [...this.pending.values()];
    for (let i = 0; i < targets.length; i += this.maxTasksPerCall) this.dispatch(targets.slice(i, i + this.maxTasksPerCall));
    if (this.implicitDue) {
      this.implicitDue = false;
      this.dispatch([]);
    }
    this.lastSentAt = now;
    if (this.pending.size > 0) {
      this.arm(now + this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    } else {
      this.backoffMs = this.initialBackoffMs;
    }
  };

  private dispatch(tasks: ReconcileTarget[]): void {
    this.calls++;
    let sent: Promise<void>;
    try {
      sent = this.send(tasks);
    } catch (error) {
      this.onError(error);
      return;
    }
    sent.catch(this.onError);
  }
}
