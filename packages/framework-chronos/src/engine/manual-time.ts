/**
 * A clock and timers driven by hand, for tests of anything that takes an injected clock and
 * timers (the {@link ScheduleEngine} and what is built on it). No test needs to sleep.
 *
 * Like a real machine, the timers run on their own monotonic time: {@link ManualTimers.advance}
 * moves both it and the wall clock, firing timers in order, while {@link ManualClock.jump} moves
 * only the wall clock (an NTP step, a VM resumed), so a timer armed before a jump still fires
 * after its delay.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(Date.parse('2025-01-01T00:00:00Z'));
 * const timers = new ManualTimers(clock);
 * const engine = new ScheduleEngine({ clock, timers, onDue });
 * timers.advance(60_000); // fires what was due in that minute, in order
 * ```
 * @module
 */

/** A wall clock that moves only when told. */
export class ManualClock {
  #now: number;

  constructor(now = 0) {
    this.#now = now;
  }

  /** The current time (ms since the epoch). */
  now(): number {
    return this.#now;
  }

  /** Sets the wall clock to `time`, forwards or backwards, without firing timers. */
  set(time: number): void {
    this.#now = time;
  }

  /** Moves the wall clock by `ms` (negative: backwards) without firing timers. */
  jump(ms: number): void {
    this.#now += ms;
  }
}

interface PendingTimer {
  id: number;
  fn: () => void;
  /** Monotonic time it fires at. */
  at: number;
  seq: number;
}

/** Timers that fire only when {@link advance} or {@link fireDue} is called. */
export class ManualTimers {
  readonly #clock: ManualClock | undefined;
  readonly #pending = new Map<number, PendingTimer>();
  #mono = 0;
  #nextId = 1;
  /** Every delay passed to {@link set}, in order; for tests about long delays. */
  readonly delays: number[] = [];

  /** @param clock The wall clock to move along with the timers' monotonic time. */
  constructor(clock?: ManualClock) {
    this.#clock = clock;
  }

  /** Arms a timer to call `fn` after `ms` (negative counts as 0); returns its handle. */
  set(fn: () => void, ms: number): number {
    const id = this.#nextId++;
    this.delays.push(ms);
    this.#pending.set(id, { id, fn, at: this.#mono + Math.max(0, ms), seq: id });
    return id;
  }

  /** Disarms a timer; unknown handles are ignored. */
  clear(handle: unknown): void {
    if (typeof handle === 'number') this.#pending.delete(handle);
  }

  /** How many timers are armed. */
  get pending(): number {
    return this.#pending.size;
  }

  /** How long until the next timer fires (ms), or `undefined` when none is armed. */
  nextDelay(): number | undefined {
    const next = this.#earliest();
    return next === undefined ? undefined : next.at - this.#mono;
  }

  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#pending.values()) if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }

  /**
   * Moves time forward by `ms`, firing each timer that comes due in order, with the wall clock
   * at its time. Timers armed while firing fire too if they fall inside the span.
   */
  advance(ms: number): void {
    const end = this.#mono + ms;
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.at > end) break;
      this.#step(next.at - this.#mono);
      this.#pending.delete(next.id);
      next.fn();
    }
    this.#step(end - this.#mono);
  }

  /** Fires the timers due now (delay 0), as the event loop would, without moving time. */
  fireDue(): void {
    this.advance(0);
  }

  #step(ms: number): void {
    this.#mono += ms;
    this.#clock?.jump(ms);
  }
}
