import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LaunchBackoff, launchDelaySeconds } from './backoff.js';

const config = { backoffSeconds: 3, backoffFactor: 2, maxLaunchDelaySeconds: 300, configHash: 'c1' };
const s = 1000;

describe('launchDelaySeconds', () => {
  it('grows by the factor from backoffSeconds up to maxLaunchDelaySeconds (Marathon docs: 3s × 2, max 300s)', () => {
    const delays = Array.from({ length: 9 }, (_, i) => launchDelaySeconds(config, i + 1));
    expect(delays).toEqual([3, 6, 12, 24, 48, 96, 192, 300, 300]);
    expect(launchDelaySeconds(config, 0)).toBe(0);
    expect(launchDelaySeconds(config, 5000)).toBe(300);
  });

  it('is capped from the first failure when backoffSeconds exceeds the maximum', () => {
    expect(launchDelaySeconds({ ...config, backoffSeconds: 500 }, 1)).toBe(300);
  });

  it('equals Marathon’s step-by-step growth, min(max, previous × factor)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 1, max: 5, noNaN: true }),
        fc.double({ min: 0, max: 3600, noNaN: true }),
        fc.integer({ min: 1, max: 40 }),
        (backoffSeconds, backoffFactor, maxLaunchDelaySeconds, failures) => {
          const c = { backoffSeconds, backoffFactor, maxLaunchDelaySeconds };
          let delay = Math.min(backoffSeconds, maxLaunchDelaySeconds);
          for (let n = 2; n <= failures; n++) delay = Math.min(maxLaunchDelaySeconds, delay * backoffFactor);
          expect(launchDelaySeconds(c, failures)).toBeCloseTo(delay, 6);
        },
      ),
    );
  });
});

describe('LaunchBackoff', () => {
  it('starts without a delay', () => {
    const backoff = LaunchBackoff.initial(config);
    expect(backoff.failures).toBe(0);
    expect(backoff.nextLaunchAt).toBe(0);
    expect(backoff.launchAllowed(0)).toBe(true);
    expect(backoff.timeLeftSeconds(123)).toBe(0);
  });

  it('delays the next launch after each failure, counted from the failure', () => {
    let backoff = LaunchBackoff.initial(config).onFailure(10 * s);
    expect(backoff.delaySeconds).toBe(3);
    expect(backoff.nextLaunchAt).toBe(13 * s);
    expect(backoff.launchAllowed(12 * s)).toBe(false);
    expect(backoff.timeLeftSeconds(12 * s)).toBe(1);
    expect(backoff.launchAllowed(13 * s)).toBe(true);
    backoff = backoff.onFailure(14 * s);
    expect(backoff.failures).toBe(2);
    expect(backoff.nextLaunchAt).toBe(20 * s);
  });

  it('is immutable', () => {
    const initial = LaunchBackoff.initial(config);
    const failed = initial.onFailure(1);
    expect(initial.failures).toBe(0);
    expect(failed).not.toBe(initial);
  });

  it('keeps the delay when an instance starts but counts it from then (Marathon advanceDelay)', () => {
    const failed = LaunchBackoff.initial(config).onFailure(0).onFailure(5 * s); // 6s from 5s
    const started = failed.onSuccess(8 * s);
    expect(started.failures).toBe(2);
    expect(started.delaySeconds).toBe(6);
    expect(started.nextLaunchAt).toBe(14 * s);
    expect(LaunchBackoff.initial(config).onSuccess(8 * s).nextLaunchAt).toBe(0);
  });

  it('forgets the delay once maxLaunchDelaySeconds pass without a failure (Marathon cleanUpOverdueDelays)', () => {
    const failed = LaunchBackoff.initial(config).onFailure(0).onFailure(1 * s).onFailure(2 * s);
    expect(failed.expiredAt(302 * s)).toBe(false);
    expect(failed.expiredAt(302 * s + 1)).toBe(true);
    expect(failed.settle(302 * s + 1).failures).toBe(0);
    // A failure after the delay lapsed starts again from backoffSeconds.
    const again = failed.onFailure(400 * s);
    expect(again.failures).toBe(1);
    expect(again.delaySeconds).toBe(3);
  });

  it('forgets the delay once an instance has run for maxLaunchDelaySeconds', () => {
    const running = LaunchBackoff.initial(config).onFailure(0).onFailure(1 * s).onSuccess(10 * s);
    expect(running.settle(200 * s).failures).toBe(2);
    expect(running.settle(311 * s).failures).toBe(0);
  });

  it('resets on request (restart deployment, DELETE /v2/queue/{id}/delay)', () => {
    const reset = LaunchBackoff.initial(config).onFailure(0).reset();
    expect(reset.failures).toBe(0);
    expect(reset.nextLaunchAt).toBe(0);
    expect(reset.reset()).toBe(reset);
  });

  it('resets on a config change but not on a scale change, and takes the new settings', () => {
    const failed = LaunchBackoff.initial(config).onFailure(0).onFailure(1 * s);
    const rescaled = failed.forConfig({ ...config, backoffSeconds: 1 });
    expect(rescaled.failures).toBe(2);
    expect(rescaled.delaySeconds).toBe(2);
    const changed = failed.forConfig({ ...config, configHash: 'c2' });
    expect(changed.failures).toBe(0);
    expect(changed.config.configHash).toBe('c2');
  });

  it('never delays longer than maxLaunchDelaySeconds after the last event (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 100_000 })), { maxLength: 50 }), (events) => {
        let backoff = LaunchBackoff.initial(config);
        let now = 0;
        for (const [failed, gap] of events) {
          now += gap;
          backoff = failed ? backoff.onFailure(now) : backoff.onSuccess(now);
          expect(backoff.nextLaunchAt - now).toBeLessThanOrEqual(config.maxLaunchDelaySeconds * s);
          expect(backoff.nextLaunchAt).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});
