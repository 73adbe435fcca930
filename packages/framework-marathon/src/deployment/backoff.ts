/**
 * The launch delay of an app whose instances keep failing: Marathon's rate limiter as a small
 * immutable value.
 *
 * What Marathon does (`RateLimiter`, `NotifyRateLimiterStep`, docs "backoff"):
 *
 * - A delay belongs to one configuration of an app (Marathon keys it by app id and
 *   `lastConfigChangeVersion`): a config change starts afresh, a scale change does not.
 * - An instance that fails, finishes, errors, is dropped or is gone — but not one that is
 *   killed — sets the delay: `backoffSeconds` the first time, then `backoffFactor` times longer
 *   each time, never more than `maxLaunchDelaySeconds`; so after `n` failures
 *   `min(backoffSeconds * backoffFactor^(n-1), maxLaunchDelaySeconds)`, counted from the failure.
 * - An instance that starts (staging, starting, running) moves the delay's reference time to now
 *   without changing the delay: while the app is backed off, launches stay spaced by the delay.
 * - A delay whose reference time is more than `maxLaunchDelaySeconds` ago is dropped: an app that
 *   has run that long since its last failure (or last start) is back to no delay.
 * - A restart deployment, stopping the app, an agent drain and `DELETE /v2/queue/{id}/delay`
 *   reset it.
 *
 * Times are epoch milliseconds; durations carry their unit in their name.
 *
 * @example
 * ```ts
 * let backoff = LaunchBackoff.initial(app);
 * backoff = backoff.onFailure(now);              // an instance failed
 * if (backoff.launchAllowed(later)) launch();    // not before backoff.nextLaunchAt
 * backoff = backoff.onSuccess(later);            // the replacement runs
 * ```
 * @module
 */
import type { DeployableApp } from './deployable-app.js';

/** The backoff fields of an app definition. */
export type BackoffConfig = Pick<DeployableApp, 'backoffSeconds' | 'backoffFactor' | 'maxLaunchDelaySeconds' | 'configHash'>;

/**
 * The launch delay after `failures` failures in a row:
 * `min(backoffSeconds * backoffFactor^(failures-1), maxLaunchDelaySeconds)`, 0 without failures.
 */
export function launchDelaySeconds(config: Omit<BackoffConfig, 'configHash'>, failures: number): number {
  if (failures <= 0) return 0;
  const grown = config.backoffSeconds * config.backoffFactor ** (failures - 1);
  return Math.min(Number.isFinite(grown) ? grown : Number.POSITIVE_INFINITY, config.maxLaunchDelaySeconds);
}

/** The launch delay of one app configuration. Immutable: every event returns a new value. */
export class LaunchBackoff {
  /** The backoff settings and the configuration they belong to. */
  readonly config: BackoffConfig;
  /** Failures since the delay was last reset. */
  readonly failures: number;
  /** When the delay was last set or moved (the last failure or start); `undefined` without a delay. */
  readonly referenceAt: number | undefined;

  private constructor(config: BackoffConfig, failures: number, referenceAt: number | undefined) {
    this.config = config;
    this.failures = failures;
    this.referenceAt = referenceAt;
  }

  /** No delay, for an app with these settings. */
  static initial(config: BackoffConfig): LaunchBackoff {
    return new LaunchBackoff(pickConfig(config), 0, undefined);
  }

  /** The current delay in seconds; 0 without failures. */
  get delaySeconds(): number {
    return launchDelaySeconds(this.config, this.failures);
  }

  /** The earliest time a launch may happen (epoch milliseconds); 0 without a delay. */
  get nextLaunchAt(): number {
    return this.referenceAt === undefined ? 0 : this.referenceAt + this.delaySeconds * 1000;
  }

  /** Whether the delay has lapsed for good at `now`: its reference time is over `maxLaunchDelaySeconds` ago. */
  expiredAt(now: number): boolean {
    return this.referenceAt !== undefined && now > this.referenceAt + this.config.maxLaunchDelaySeconds * 1000;
  }

  /** The backoff at `now`: reset when the delay has lapsed for good, else unchanged. */
  settle(now: number): LaunchBackoff {
    return this.expiredAt(now) ? this.reset() : this;
  }

  /** Whether a launch may happen at `now`. */
  launchAllowed(now: number): boolean {
    return now >= this.nextLaunchAt;
  }

  /** Seconds until a launch may happen (Marathon's `delay.timeLeftSeconds`); 0 when it may now. */
  timeLeftSeconds(now: number): number {
    return Math.max(0, (this.nextLaunchAt - now) / 1000);
  }

  /**
   * An instance failed at `now` (failed, finished, error, dropped, gone — not killed): one more
   * failure, and the delay counts from now.
   */
  onFailure(now: number): LaunchBackoff {
    const base = this.settle(now);
    return new LaunchBackoff(this.config, base.failures + 1, now);
  }

  /**
   * An instance started at `now` (staging, starting or running): the delay keeps its length but
   * counts from now, so the next launch waits again and the delay lapses `maxLaunchDelaySeconds`
   * after the last start. Without a delay, nothing changes.
   */
  onSuccess(now: number): LaunchBackoff {
    const base = this.settle(now);
    if (base.referenceAt === undefined) return base;
    return new LaunchBackoff(this.config, base.failures, now);
  }

  /** No delay: a restart deployment, the app stopped, an agent drained, `DELETE /v2/queue/{id}/delay`. */
  reset(): LaunchBackoff {
    return this.failures === 0 && this.referenceAt === undefined ? this : new LaunchBackoff(this.config, 0, undefined);
  }

  /**
   * The backoff for a (possibly) new definition of the app: reset when the configuration changed
   * (`configHash`), kept when only the settings or the instance count did; the new settings apply.
   */
  forConfig(config: BackoffConfig): LaunchBackoff {
    const next = pickConfig(config);
    if (next.configHash !== this.config.configHash) return LaunchBackoff.initial(next);
    return new LaunchBackoff(next, this.failures, this.referenceAt);
  }
}

function pickConfig(config: BackoffConfig): BackoffConfig {
  return {
    backoffSeconds: config.backoffSeconds,
    backoffFactor: config.backoffFactor,
    maxLaunchDelaySeconds: config.maxLaunchDelaySeconds,
    configHash: config.configHash,
  };
}
