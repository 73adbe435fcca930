/**
 * Waiting on conditions instead of sleeping: poll with a deadline, and say what was awaited when
 * the deadline passes.
 *
 * @example
 * ```ts
 * await waitFor(() => tasks.get(id)?.state === 'TASK_RUNNING', { what: `task ${id} running` });
 * const offer = await waitFor(() => offers.shift(), { timeoutMs: 2000, what: 'an offer' });
 * ```
 * @module
 */

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. @default 10000 */
  timeoutMs?: number;
  /** Poll this often. @default 10 */
  intervalMs?: number;
  /** What is awaited, for the error message. @default 'condition' */
  what?: string;
}

/** The error of a {@link waitFor} whose deadline passed. */
export class WaitTimeoutError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Polls `probe` until it returns a value other than `undefined`, `null` or `false`, and resolves
 * with that value. A probe that throws counts as "not yet"; its last error is the cause when the
 * deadline passes.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitForOptions = {}): Promise<Exclude<T, undefined | null | false>> {
  const { timeoutMs = 10_000, intervalMs = 10, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`, lastError === undefined ? undefined : { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
