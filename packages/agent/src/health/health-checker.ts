/**
 * The agent's health checker: one per task with a `healthCheck`, run by the agent rather than the
 * framework, with Mesos/Marathon semantics. The first check runs `delayMs` after `start()`, the
 * next `intervalMs` after each one ends (one `setTimeout` chain, so checks never overlap); a check
 * that takes longer than `timeoutMs` fails. Failures within `gracePeriodMs` of `start()` are
 * ignored until the first success. `onChange` fires only when health flips (the first result
 * counts: unknown → healthy or unhealthy), so status updates carry changes only; after
 * `consecutiveFailures` failures in a row `onKill` fires once and the checker stops.
 *
 * @example
 * ```ts
 * const checker = new HealthChecker(task.healthCheck, {
 *   sandboxDir,
 *   onChange: (health) => sendStatus({ state: 'TASK_RUNNING', healthy: health.healthy, reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED' }),
 *   onKill: (reason) => killTask(taskId, 'REASON_TASK_HEALTH_CHECK_FAILED', reason),
 * });
 * checker.start();
 * // when the task ends:
 * checker.stop();
 * ```
 * @module
 */

import { type HealthCheck, InvalidOperationError, ValidationError } from '@stoa/core';
import { type ProbeResult, probeCommand, probeHttp, probeTcp } from './probes.js';

/** The defaults of a health check's timing fields, as documented on `HealthCheck`. */
export const HEALTH_CHECK_DEFAULTS = {
  delayMs: 15_000,
  intervalMs: 10_000,
  timeoutMs: 20_000,
  gracePeriodMs: 10_000,
  consecutiveFailures: 3,
} as const;

/** A health check with every default applied. */
export type ResolvedHealthCheck = HealthCheck & { [K in keyof typeof HEALTH_CHECK_DEFAULTS]: number };

/**
 * Applies the defaults of {@link HEALTH_CHECK_DEFAULTS}, and checks that the check has the part
 * its type needs (`http`, `tcp` or `command`); throws `ValidationError` otherwise.
 */
export function resolveHealthCheck(check: HealthCheck): ResolvedHealthCheck {
  const need = check.type === 'HTTP' || check.type === 'HTTPS' ? 'http' : check.type === 'TCP' ? 'tcp' : 'command';
  if (!check[need]) {
    throw new ValidationError(`a ${check.type} health check needs "${need}"`, { details: { field: `healthCheck.${need}` } });
  }
  return {
    ...check,
    delayMs: check.delayMs ?? HEALTH_CHECK_DEFAULTS.delayMs,
    intervalMs: check.intervalMs ?? HEALTH_CHECK_DEFAULTS.intervalMs,
    timeoutMs: check.timeoutMs ?? HEALTH_CHECK_DEFAULTS.timeoutMs,
    gracePeriodMs: check.gracePeriodMs ?? HEALTH_CHECK_DEFAULTS.gracePeriodMs,
    consecutiveFailures: check.consecutiveFailures ?? HEALTH_CHECK_DEFAULTS.consecutiveFailures,
  };
}

/** A task's health as the checker reports it. */
export interface TaskHealth {
  /** Whether the last counted check passed. */
  healthy: boolean;
  /** Failures in a row so far (0 when healthy). */
  consecutiveFailures: number;
  /** What the last check found (`GET … returned 503`, `command exited with 1`…). */
  message?: string;
}

/** Options of a {@link HealthChecker}. */
export interface HealthCheckerOptions {
  /** The host HTTP(S) and TCP checks go to. @default '127.0.0.1' */
  host?: string;
  /** The working directory of COMMAND checks: the task's sandbox. @default the agent's working directory */
  sandboxDir?: string;
  /** The task's environment, for COMMAND checks (the command's own `environment` goes on top). @default {} */
  env?: Record<string, string>;
  /** The clock of the grace period, in milliseconds. @default Date.now */
  now?: () => number;
  /** Called when health changes, the first result included; never twice in a row with the same `healthy`. */
  onChange: (health: TaskHealth) => void;
  /** Called once, after `consecutiveFailures` failures in a row; the checker has stopped by then. */
  onKill: (reason: string) => void;
}

/** `idle` until `start()`, `running` until `stop()` or a kill, then `stopped`. */
export type HealthCheckerState = 'idle' | 'running' | 'stopped';

/** Runs one task's health check on a timer and reports changes. See the module comment. */
export class HealthChecker {
  /** The check with its defaults applied. */
  readonly check: ResolvedHealthCheck;
  private readonly host: string;
  private readonly options: HealthCheckerOptions;
  private readonly now: () => number;
  private stateValue: HealthCheckerState = 'idle';
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  private succeededOnce = false;
  private failures = 0;
  private reported: TaskHealth | undefined;

  /** Validates the check (throws `ValidationError` when it lacks its `http`, `tcp` or `command`). */
  constructor(check: HealthCheck, options: HealthCheckerOptions) {
    this.check = resolveHealthCheck(check);
    this.options = options;
    this.host = options.host ?? '127.0.0.1';
    this.now = options.now ?? Date.now;
  }

  /** Where the checker is in its life. */
  get state(): HealthCheckerState {
    return this.stateValue;
  }

  /** The health last passed to `onChange`; undefined until the first counted result. */
  get health(): TaskHealth | undefined {
    return this.reported;
  }

  /**
   * Starts the timer: the first check runs `delayMs` from now, and the grace period starts now.
   * Calling it again while running does nothing; a stopped checker cannot restart
   * (`InvalidOperationError`).
   */
  start(): void {
    if (this.stateValue === 'running') return;
    if (this.stateValue === 'stopped') throw new InvalidOperationError('a stopped health checker cannot be started again');
    this.stateValue = 'running';
    this.startedAt = this.now();
    this.schedule(this.check.delayMs);
  }

  /** Stops the timer and aborts a check in flight (killing a COMMAND check); no callback fires after it. Idempotent. */
  stop(): void {
    this.stateValue = 'stopped';
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight?.abort(new Error('health checker stopped'));
    this.inFlight = undefined;
  }

  /** Same as {@link HealthChecker.stop}, for `using`. */
  [Symbol.dispose](): void {
    this.stop();
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.runOnce(), delayMs);
  }

  private async runOnce(): Promise<void> {
    this.timer = undefined;
    const controller = new AbortController();
    this.inFlight = controller;
    const { timeoutMs } = this.check;
    const timeout = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    let result: ProbeResult;
    try {
      result = await this.probe(controller.signal);
    } catch (error) {
      result = { ok: false, message: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timeout);
      if (this.inFlight === controller) this.inFlight = undefined;
    }
    if (this.stateValue !== 'running') return;
    this.record(result);
    if (this.stateValue === 'running') this.schedule(this.check.intervalMs);
  }

  private probe(signal: AbortSignal): Promise<ProbeResult> {
    const { check, host } = this;
    switch (check.type) {
      case 'HTTP':
      case 'HTTPS': {
        const http = check.http!;
        return probeHttp(
          { scheme: check.type === 'HTTPS' ? 'https' : 'http', host, port: http.port, path: http.path, statuses: http.statuses },
          signal,
        );
      }
      case 'TCP':
        return probeTcp({ host, port: check.tcp!.port }, signal);
      case 'COMMAND':
        return probeCommand({ command: check.command!, cwd: this.options.sandboxDir, env: this.options.env }, signal);
    }
  }

  private record(result: ProbeResult): void {
    if (result.ok) {
      this.succeededOnce = true;
      this.failures = 0;
      if (this.reported?.healthy !== true) this.report({ healthy: true, consecutiveFailures: 0, message: result.message });
      return;
    }
    // Until the task has passed once, the grace period gives it time to come up.
    if (!this.succeededOnce && this.now() - this.startedAt < this.check.gracePeriodMs) return;
    this.failures += 1;
    if (this.reported?.healthy !== false) this.report({ healthy: false, consecutiveFailures: this.failures, message: result.message });
    const limit = this.check.consecutiveFailures;
    if (limit > 0 && this.failures >= limit) {
      this.stop();
      const reason = `health check failed ${this.failures} consecutive times` + (result.message ? `: ${result.message}` : '');
      call(() => this.options.onKill(reason));
    }
  }

  private report(health: TaskHealth): void {
    if (health.message === undefined) delete health.message;
    this.reported = health;
    call(() => this.options.onChange(health));
  }
}

/** A callback that throws must not break the timer chain; it surfaces as a process warning instead. */
function call(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    process.emitWarning(error instanceof Error ? error : new Error(String(error)), 'StoaHealthCheckerCallbackError');
  }
}
