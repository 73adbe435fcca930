import { describe, expect, it } from 'vitest';
import type { DeployableApp } from './deployable-app.js';
import { UpgradeStrategyError } from './errors.js';
import { assertDeployable, validateDeployable } from './validate.js';

function app(overrides: Partial<DeployableApp> = {}, strategy: Partial<DeployableApp['upgradeStrategy']> = {}): DeployableApp {
  return {
    id: '/web',
    version: 'v1',
    instances: 10,
    dependencies: [],
    upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1, ...strategy },
    killSelection: 'YOUNGEST_FIRST',
    backoffSeconds: 1,
    backoffFactor: 1.15,
    maxLaunchDelaySeconds: 300,
    hasHealthChecks: true,
    hasReadinessChecks: false,
    configHash: 'c1',
    ...overrides,
  };
}

function codes(candidate: unknown): string[] {
  return validateDeployable(candidate).map((i) => `${i.severity}:${i.code}:${i.field}`);
}

describe('validateDeployable', () => {
  it('accepts Marathon’s defaults and canary steps that make sense', () => {
    expect(validateDeployable(app())).toEqual([]);
    expect(validateDeployable(app({}, { steps: [1, '25%', '50%', '100%'] }))).toEqual([]);
    expect(validateDeployable(app({}, { steps: [2, '100%'] }))).toEqual([]);
  });

  it('rejects fractions outside 0..1 and a backoff factor below 1, naming the field', () => {
    expect(codes(app({}, { minimumHealthCapacity: 1.5 }))).toEqual(['error:OUT_OF_RANGE:upgradeStrategy.minimumHealthCapacity']);
    expect(codes(app({}, { maximumOverCapacity: -0.1 }))).toEqual(['error:OUT_OF_RANGE:upgradeStrategy.maximumOverCapacity']);
    expect(codes(app({ backoffFactor: 0.5 }))).toEqual(['error:OUT_OF_RANGE:backoffFactor']);
    expect(codes(app({ instances: 1.5 }))).toEqual(['error:INVALID:instances']);
    expect(codes({ id: '/x' })[0]).toMatch(/^error:INVALID:/);
  });

  it('rejects over-capacity for a resident app (Marathon validForResidentTasks)', () => {
    expect(codes(app({ resident: true }, { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.5 }))).toEqual([
      'error:RESIDENT_OVER_CAPACITY:upgradeStrategy.maximumOverCapacity',
    ]);
    expect(codes(app({ resident: true }, { minimumHealthCapacity: 0.5, maximumOverCapacity: 0 }))).toEqual([]);
  });

  it('warns, without rejecting, that (1, 0) will run one over capacity, as Marathon does', () => {
    expect(codes(app({}, { maximumOverCapacity: 0 }))).toEqual(['warning:OVER_CAPACITY_BY_ONE:upgradeStrategy.maximumOverCapacity']);
    expect(codes(app({ resident: true }, { maximumOverCapacity: 0 }))).toEqual(['warning:UNDER_FLOOR_BY_ONE:upgradeStrategy.minimumHealthCapacity']);
    expect(codes(app({ instances: 0 }, { maximumOverCapacity: 0 }))).toEqual([]);
  });

  it('rejects steps that are malformed, empty, out of order or short of all (form only)', () => {
    expect(codes(app({}, { steps: [] }))).toEqual(['error:STEPS_EMPTY:upgradeStrategy.steps']);
    expect(codes(app({}, { steps: [0, 'half', '100%'] }))).toEqual([
      'error:STEP_INVALID:upgradeStrategy.steps[0]',
      'error:STEP_INVALID:upgradeStrategy.steps[1]',
    ]);
    expect(codes(app({}, { steps: [3, 2, '100%'] }))).toEqual(['error:STEPS_NOT_INCREASING:upgradeStrategy.steps[1]']);
    expect(codes(app({}, { steps: ['50%', '50%', '100%'] }))).toEqual(['error:STEPS_NOT_INCREASING:upgradeStrategy.steps[1]']);
    expect(codes(app({}, { steps: ['10%', 5, '100%'] }))).toEqual(['error:STEPS_NOT_INCREASING:upgradeStrategy.steps[1]']);
    // Form only: a count above instances is clamped by the planner, not refused.
    expect(codes(app({}, { steps: [5, '10%', '100%'] }))).toEqual([]);
    expect(codes(app({}, { steps: [1, 12, '100%'] }))).toEqual([]);
    expect(codes(app({}, { steps: [1, 12] }))).toEqual(['error:LAST_STEP_NOT_ALL:upgradeStrategy.steps[1]']);
    expect(codes(app({}, { steps: [1, '50%'] }))).toEqual(['error:LAST_STEP_NOT_ALL:upgradeStrategy.steps[1]']);
  });

  it('lets percentages that round to the same count pass (they merge)', () => {
    expect(codes(app({ instances: 2 }, { steps: [1, '25%', '100%'] }))).toEqual([]);
  });

  it('checks only the form of steps for an app scaled to 0', () => {
    expect(codes(app({ instances: 0 }, { steps: [1, 5, '100%'] }))).toEqual([]);
    expect(codes(app({ instances: 0 }, { steps: [5, 1, '100%'] }))).toEqual(['error:STEPS_NOT_INCREASING:upgradeStrategy.steps[1]']);
  });
});

describe('assertDeployable', () => {
  it('throws an UpgradeStrategyError naming the first field, with every error', () => {
    let caught: unknown;
    try {
      assertDeployable(app({}, { steps: [3, 2], minimumHealthCapacity: 1 }));
    } catch (error) {
      caught = error;
    }
    expect(UpgradeStrategyError.isInstance(caught)).toBe(true);
    const error = caught as UpgradeStrategyError;
    expect(error.field).toBe('upgradeStrategy.steps[1]');
    expect(error.issues.map((i) => i.code)).toEqual(['STEPS_NOT_INCREASING', 'LAST_STEP_NOT_ALL']);
    expect(error.message).toMatch(/^\/web: upgradeStrategy\.steps\[1\]: /);
  });

  it('passes warnings', () => {
    expect(() => assertDeployable(app({}, { maximumOverCapacity: 0 }))).not.toThrow();
  });
});
