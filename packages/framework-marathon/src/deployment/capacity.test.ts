import { describe, expect, it } from 'vitest';
import { ceilCount, floorCount, parseCanaryStep, resolveCanarySteps, restartBounds } from './capacity.js';

function strategy(instances: number, minimumHealthCapacity: number, maximumOverCapacity: number, resident = false) {
  return { instances, upgradeStrategy: { minimumHealthCapacity, maximumOverCapacity }, resident };
}

describe('restartBounds', () => {
  it('rounds the health floor up and the capacity down, as Marathon does', () => {
    expect(restartBounds(strategy(3, 0.5, 0.5))).toEqual({
      minHealthy: 2,
      maxCapacity: 4,
      overCapacityAllowance: 0,
      underCapacityAllowance: 0,
    });
    expect(restartBounds(strategy(10, 0.5, 0.2))).toMatchObject({ minHealthy: 5, maxCapacity: 12 });
    expect(restartBounds(strategy(3, 1, 1))).toMatchObject({ minHealthy: 3, maxCapacity: 6 });
  });

  it('forgives floating-point noise (0.07 * 100 is 7, not 8)', () => {
    expect(0.07 * 100).toBeGreaterThan(7);
    expect(restartBounds(strategy(100, 0.07, 0.57))).toMatchObject({ minHealthy: 7, maxCapacity: 157 });
  });

  it('allows one over capacity when the floor equals the capacity (Marathon: minHealthy == maxCapacity)', () => {
    expect(restartBounds(strategy(2, 1, 0))).toEqual({
      minHealthy: 2,
      maxCapacity: 2,
      overCapacityAllowance: 1,
      underCapacityAllowance: 0,
    });
    // 0.2 of 3 instances rounds down to no extra room at all.
    expect(restartBounds(strategy(3, 1, 0.2))).toMatchObject({ maxCapacity: 3, overCapacityAllowance: 1 });
  });

  it('lets a resident app go one below the floor instead', () => {
    expect(restartBounds(strategy(2, 1, 0, true))).toMatchObject({ overCapacityAllowance: 0, underCapacityAllowance: 1 });
  });

  it('has nothing to allow for an app of no instances', () => {
    expect(restartBounds(strategy(0, 1, 0))).toEqual({
      minHealthy: 0,
      maxCapacity: 0,
      overCapacityAllowance: 0,
      underCapacityAllowance: 0,
    });
  });

  it('rounds counts never below 0', () => {
    expect(ceilCount(-0.5)).toBe(0);
    expect(floorCount(2.9999999999)).toBe(3);
    expect(floorCount(2.5)).toBe(2);
  });
});

describe('canary steps', () => {
  it('parses counts and percentages', () => {
    expect(parseCanaryStep(1)).toEqual({ kind: 'count', count: 1 });
    expect(parseCanaryStep(' 12.5% ')).toEqual({ kind: 'percent', percent: 12.5 });
    expect(parseCanaryStep('100%')).toEqual({ kind: 'percent', percent: 100 });
    for (const bad of [0, -1, 1.5, '0%', '101%', 'half', '%', '25']) expect(parseCanaryStep(bad)).toBeUndefined();
  });

  it('resolves percentages rounding up', () => {
    expect(resolveCanarySteps([1, '25%', '50%', '100%'], 10)).toEqual([1, 3, 5, 10]);
    expect(resolveCanarySteps(['10%', '100%'], 3)).toEqual([1, 3]);
  });

  it('is one step of all instances without steps', () => {
    expect(resolveCanarySteps(undefined, 4)).toEqual([4]);
    expect(resolveCanarySteps([], 4)).toEqual([4]);
    expect(resolveCanarySteps(undefined, 0)).toEqual([0]);
  });

  it('merges steps that rounding makes equal, caps at instances, appends all', () => {
    expect(resolveCanarySteps([1, '25%', '100%'], 2)).toEqual([1, 2]);
    expect(resolveCanarySteps([1, 5], 3)).toEqual([1, 3]);
    expect(resolveCanarySteps([2, 'junk'], 4)).toEqual([2, 4]);
    expect(resolveCanarySteps([3, 1], 4)).toEqual([3, 4]);
  });
});
