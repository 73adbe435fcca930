/**
 * The simulated containerizer: containers without processes, for benchmarks and tests that host
 * thousands of agents in one process (like Nomad's mock driver or kubemark's hollow nodes). A
 * launch is running at once; it ends after `simulation.runForMs` (else `defaultRunForMs`) with
 * `simulation.exitCode` (else 1 with probability `failRate`, 0 otherwise); a kill ends it at once
 * with SIGTERM.
 *
 * It is built to be cheap: a container is one small object, a promise is made only for those
 * someone waits on, and finite runs share one min-heap and one timer per containerizer (infinite
 * ones cost no timer at all).
 *
 * @example
 * ```ts
 * const c = new SimulatedContainerizer({ defaultRunForMs: 5_000, failRate: 0.01 });
 * await c.launch({ containerId: 't-1', command: { value: 'sleep 5' }, sandboxDir: '/unused', env: {}, resources, simulation: { runForMs: 100 } });
 * await c.wait('t-1'); // { exitCode: 0 } after ~100 ms
 * ```
 * @module
 */

import { CancelledError, InvalidOperationError, type Isolation, NotFoundError, type TaskUsage, UnavailableError } from '@stoa/core';
import type { ContainerExit, ContainerLaunch, Containerizer, KnownContainer, RecoveredContainer } from './containerizer.js';

/** Options of {@link SimulatedContainerizer}. */
export interface SimulatedContainerizerOptions {
  /** How long a task runs when its launch says nothing. @default Infinity (until killed) */
  defaultRunForMs?: number;
  /** The probability that a task without an explicit `exitCode` fails (exit code 1). @default 0 */
  failRate?: number;
  /** The random source for `failRate`, for reproducible runs. @default Math.random */
  random?: () => number;
}

/** The lifecycle of a {@link SimulatedContainerizer}. */
export type SimulatedContainerizerState = 'open' | 'closed';

interface SimContainer {
  id: string;
  /** When a finite run ends (epoch ms). */
  endAt: number;
  exitCode: number | undefined;
  exit: ContainerExit | undefined;
  waiters: Array<{ resolve: (exit: ContainerExit) => void; reject: (error: Error) => void }> | undefined;
}

/** The longest delay `setTimeout` takes; later deadlines are reached in several hops. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Containers without processes: cheap enough for 100,000 tasks over 10,000 agents in one process. */
export class SimulatedContainerizer implements Containerizer {
  /** Always `simulated`. */
  readonly kind = 'simulated';
  readonly #defaultRunForMs: number;
  readonly #failRate: number;
  readonly #random: () => number;
  readonly #containers = new Map<string, SimContainer>();
  /** Running containers with a finite run, a binary min-heap on `endAt`. */
  readonly #heap: SimContainer[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running = 0;
  #state: SimulatedContainerizerState = 'open';

  /** Makes a simulated containerizer; it holds no resources until a finite task runs. */
  constructor(options: SimulatedContainerizerOptions = {}) {
    this.#defaultRunForMs = options.defaultRunForMs ?? Number.POSITIVE_INFINITY;
    this.#failRate = options.failRate ?? 0;
    this.#random = options.random ?? Math.random;
  }

  /** `open` until {@link close}. */
  get state(): SimulatedContainerizerState {
    return this.#state;
  }

  /** How many containers are running now. */
  get running(): number {
    return this.#running;
  }

  /** No isolation: there are no processes. */
  isolation(): Isolation {
    return { kind: 'none', memory: false, cpu: false, note: 'simulated containerizer: no processes' };
  }

  /**
   * Starts a simulated container, running at once. A command without a value or a reused id rejects
   * with `InvalidOperationError`, as the process containerizer does.
   */
  async launch(launch: ContainerLaunch): Promise<{ pid?: number }> {
    this.#assertOpen();
    const { containerId } = launch;
    if (containerId.length === 0) throw new InvalidOperationError('a container needs an id');
    if (this.#containers.has(containerId)) throw new InvalidOperationError(`container ${containerId} already exists`, { details: { containerId } });
    if (!launch.command.value) throw new InvalidOperationError(`cannot launch container ${containerId}: the command has no value`, { details: { containerId } });
    const runForMs = launch.simulation?.runForMs ?? this.#defaultRunForMs;
    const c: SimContainer = {
      id: containerId,
      endAt: Date.now() + Math.max(0, runForMs),
      exitCode: launch.simulation?.exitCode,
      exit: undefined,
      waiters: undefined,
    };
    this.#containers.set(containerId, c);
    this.#running += 1;
    if (Number.isFinite(runForMs)) {
      this.#push(c);
      this.#schedule();
    }
    return {};
  }

  /** Resolves when the container has ended; at once when it already has. */
  wait(containerId: string): Promise<ContainerExit> {
    let c: SimContainer;
    try {
      c = this.#get(containerId);
    } catch (error) {
      return Promise.reject(error);
    }
    if (c.exit) return Promise.resolve(c.exit);
    return new Promise((resolve, reject) => {
      c.waiters ??= [];
      c.waiters.push({ resolve, reject });
    });
  }

  /** Ends the container at once with SIGTERM (there is nothing to give a grace period to). */
  async kill(containerId: string, _gracePeriodMs: number): Promise<void> {
    const c = this.#get(containerId);
    if (!c.exit) this.#end(c, { signal: 'SIGTERM', message: 'killed by SIGTERM' });
  }

  /** A bare sample while running (there is nothing to measure); undefined once ended. */
  async usage(containerId: string): Promise<TaskUsage | undefined> {
    const c = this.#get(containerId);
    return c.exit ? undefined : { timestampMs: Date.now() };
  }

  /**
   * Nothing simulated survives a restart: every known container is reported `exited` with
   * `unknown` (and becomes known, so `wait` and `cleanup` work on it). One this instance already
   * runs is reported as it is.
   */
  async recover(known: KnownContainer[]): Promise<RecoveredContainer[]> {
    this.#assertOpen();
    return known.map(({ containerId }) => {
      const existing = this.#containers.get(containerId);
      if (existing) return existing.exit ? { containerId, state: 'exited', exit: existing.exit } : { containerId, state: 'running' };
      const exit: ContainerExit = { unknown: true, message: 'simulated containers do not survive a restart' };
      this.#containers.set(containerId, { id: containerId, endAt: 0, exitCode: undefined, exit, waiters: undefined });
      return { containerId, state: 'exited', exit };
    });
  }

  /** Forgets an ended container; a running one is an `InvalidOperationError`. */
  async cleanup(containerId: string): Promise<void> {
    const c = this.#get(containerId);
    if (!c.exit) throw new InvalidOperationError(`container ${containerId} is still running; kill it first`, { details: { containerId } });
    this.#containers.delete(containerId);
  }

  /**
   * Stops the timer. With `killAll` every running container ends with SIGTERM; otherwise pending
   * `wait`s reject with `CancelledError`. Later calls reject with `UnavailableError`.
   */
  async close(options: { killAll?: boolean } = {}): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#heap.length = 0;
    for (const c of this.#containers.values()) {
      if (c.exit) continue;
      if (options.killAll) {
        this.#end(c, { signal: 'SIGTERM', message: 'killed by SIGTERM' });
      } else {
        const error = new CancelledError(`the containerizer was closed while container ${c.id} ran`, { details: { containerId: c.id } });
        for (const w of c.waiters ?? []) w.reject(error);
        c.waiters = undefined;
      }
    }
    this.#containers.clear();
    this.#running = 0;
  }

  /** `await using` support: {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#state === 'closed') throw new UnavailableError('the containerizer is closed');
  }

  #get(containerId: string): SimContainer {
    this.#assertOpen();
    const c = this.#containers.get(containerId);
    if (!c) throw new NotFoundError(`unknown container ${containerId}`, { details: { containerId } });
    return c;
  }

  #end(c: SimContainer, exit: ContainerExit): void {
    c.exit = exit;
    this.#running -= 1;
    const waiters = c.waiters;
    c.waiters = undefined;
    if (waiters) for (const w of waiters) w.resolve(exit);
  }

  #naturalExit(c: SimContainer): ContainerExit {
    const code = c.exitCode ?? (this.#random() < this.#failRate ? 1 : 0);
    return { exitCode: code, message: `exited with code ${code}` };
  }

  #schedule(): void {
    const top = this.#heap[0];
    if (top === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.#timer !== undefined && this.#timerAt <= top.endAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = top.endAt;
    this.#timer = setTimeout(() => this.#fire(), Math.min(MAX_TIMER_MS, Math.max(0, top.endAt - Date.now())));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (let top = this.#heap[0]; top !== undefined && top.endAt <= now; top = this.#heap[0]) {
      this.#pop();
      // Killed (or cleaned up and relaunched) meanwhile: the entry is stale.
      if (top.exit || this.#containers.get(top.id) !== top) continue;
      this.#end(top, this.#naturalExit(top));
    }
    this.#schedule();
  }

  #push(c: SimContainer): void {
    const heap = this.#heap;
    heap.push(c);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.endAt <= c.endAt) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = c;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.endAt < heap[left]!.endAt ? right : left;
      if (heap[child]!.endAt >= last.endAt) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}
