import { describe, expect, it } from 'vitest';
import type { DeployableApp, InstanceView } from './deployable-app.js';
import { nextRestartActions, type RestartSnapshot } from './restart.js';

function app(overrides: Partial<DeployableApp> = {}): DeployableApp {
  return {
    id: '/web',
    version: 'v2',
    instances: 3,
    dependencies: [],
    upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
    killSelection: 'YOUNGEST_FIRST',
    backoffSeconds: 1,
    backoffFactor: 1.15,
    maxLaunchDelaySeconds: 300,
    hasHealthChecks: true,
    hasReadinessChecks: false,
    configHash: 'v2',
    ...overrides,
  };
}

function strategy(minimumHealthCapacity: number, maximumOverCapacity: number, steps?: (number | string)[]) {
  return { upgradeStrategy: { minimumHealthCapacity, maximumOverCapacity, ...(steps ? { steps } : {}) } };
}

function healthy(id: string, startedAt: number): InstanceView {
  return { id, startedAt, state: 'running', healthy: true, ready: true };
}

function staging(id: string, startedAt: number): InstanceView {
  return { id, startedAt, state: 'staging', healthy: false, ready: false };
}

const threeOld = [healthy('old-1', 1), healthy('old-2', 2), healthy('old-3', 3)];

function decide(snapshot: RestartSnapshot) {
  const { launch, kill, complete } = nextRestartActions(snapshot);
  return { launch, kill, complete };
}

describe('nextRestartActions', () => {
  it('with (1, 1) starts all new instances side by side before killing any old one', () => {
    expect(decide({ target: app(), old: threeOld, new: [] })).toEqual({ launch: 3, kill: [], complete: false });
  });

  it('kills one old instance for each new one that becomes healthy, youngest first', () => {
    const fresh = [healthy('new-1', 10), staging('new-2', 11), staging('new-3', 12)];
    expect(decide({ target: app(), old: threeOld, new: fresh })).toEqual({ launch: 0, kill: ['old-3'], complete: false });
  });

  it('kills the oldest first with OLDEST_FIRST', () => {
    const fresh = [healthy('new-1', 10), healthy('new-2', 11), staging('new-3', 12)];
    const next = decide({ target: app({ killSelection: 'OLDEST_FIRST' }), old: threeOld, new: fresh });
    expect(next.kill).toEqual(['old-1', 'old-2']);
  });

  it('counts an old instance being killed toward capacity until it is gone', () => {
    const dying = { ...healthy('old-3', 3), state: 'killing' as const };
    const target = app(strategy(0.5, 0));
    // 4 instances, floor 2, capacity 4: two old alive, one dying, one new staging: no room.
    const snapshot = { target: { ...target, instances: 4 }, old: [healthy('old-1', 1), healthy('old-2', 2), dying], new: [staging('new-1', 10)] };
    expect(decide(snapshot)).toEqual({ launch: 0, kill: [], complete: false });
  });

  it('with minimumHealthCapacity 0 kills every old instance at once', () => {
    expect(decide({ target: app(strategy(0, 0)), old: threeOld, new: [] })).toEqual({
      launch: 0,
      kill: ['old-3', 'old-2', 'old-1'],
      complete: false,
    });
  });

  it('with (0.5, 0) kills down to the floor and launches as the kills finish', () => {
    const target = app({ instances: 4, ...strategy(0.5, 0) });
    const old = [...threeOld, healthy('old-4', 4)];
    expect(decide({ target, old, new: [] })).toEqual({ launch: 0, kill: ['old-4', 'old-3'], complete: false });
    expect(decide({ target, old: old.slice(0, 2), new: [] })).toEqual({ launch: 2, kill: [], complete: false });
  });

  it('runs one instance over capacity to break the (1, 0) deadlock, as Marathon does', () => {
    const target = app(strategy(1, 0));
    expect(decide({ target, old: threeOld, new: [] })).toEqual({ launch: 1, kill: [], complete: false });
    // While the extra one is on its way, nothing more.
    expect(decide({ target, old: threeOld, new: [staging('new-1', 10)] })).toEqual({ launch: 0, kill: [], complete: false });
    // Once it is healthy, an old one goes.
    expect(decide({ target, old: threeOld, new: [healthy('new-1', 10)] })).toEqual({ launch: 0, kill: ['old-3'], complete: false });
  });

  it('goes one below the floor for a resident app at (1, 0), which cannot run over capacity', () => {
    const target = app({ ...strategy(1, 0), resident: true });
    expect(decide({ target, old: threeOld, new: [] })).toEqual({ launch: 0, kill: ['old-3'], complete: false });
    expect(decide({ target, old: threeOld.slice(0, 2), new: [] })).toEqual({ launch: 1, kill: [], complete: false });
  });

  it('kills old instances that serve nothing straight away', () => {
    const old = [healthy('old-1', 1), { ...healthy('old-2', 2), healthy: false }, staging('old-3', 3)];
    expect(decide({ target: app(), old, new: [] })).toEqual({ launch: 3, kill: ['old-2', 'old-3'], complete: false });
  });

  it('counts a running instance as healthy when there are no health checks', () => {
    const unknown = (id: string, at: number): InstanceView => ({ id, startedAt: at, state: 'running', healthy: false, ready: false });
    const target = app({ hasHealthChecks: false });
    const next = decide({ target, old: threeOld.map((i) => ({ ...i, healthy: false })), new: [unknown('new-1', 10), unknown('new-2', 11)] });
    expect(next).toEqual({ launch: 1, kill: ['old-3', 'old-2'], complete: false });
  });

  it('uses the old version’s health checks for old instances when told', () => {
    const old = threeOld.map((i) => ({ ...i, healthy: false }));
    expect(decide({ target: app(), old, new: [], oldHasHealthChecks: false })).toEqual({ launch: 3, kill: [], complete: false });
  });

  it('waits for readiness as well as health', () => {
    const notReady = { ...healthy('new-1', 10), ready: false };
    const target = app({ hasReadinessChecks: true });
    expect(decide({ target, old: threeOld, new: [notReady, staging('new-2', 11), staging('new-3', 12)] }).kill).toEqual([]);
    expect(decide({ target, old: threeOld, new: [healthy('new-1', 10), staging('new-2', 11), staging('new-3', 12)] }).kill).toEqual(['old-3']);
  });

  it('counts queued launches toward the new instances and the capacity', () => {
    expect(decide({ target: app(), old: threeOld, new: [staging('new-1', 10)], queued: 2 })).toEqual({ launch: 0, kill: [], complete: false });
  });

  it('is complete when all new instances are healthy and ready and no old one is left', () => {
    const fresh = [healthy('new-1', 10), healthy('new-2', 11), healthy('new-3', 12)];
    expect(decide({ target: app(), old: [], new: fresh })).toEqual({ launch: 0, kill: [], complete: true });
    const dying = { ...healthy('old-1', 1), state: 'killing' as const };
    expect(decide({ target: app(), old: [dying], new: fresh }).complete).toBe(false);
  });

  it('restarts an app of no instances by killing the old ones', () => {
    const target = app({ instances: 0 });
    expect(decide({ target, old: threeOld, new: [] })).toEqual({ launch: 0, kill: ['old-3', 'old-2', 'old-1'], complete: false });
    expect(decide({ target, old: [], new: [] })).toEqual({ launch: 0, kill: [], complete: true });
  });

  it('reports the bounds and the healthy count', () => {
    const next = nextRestartActions({ target: app(strategy(0.5, 0.5)), old: threeOld, new: [] });
    expect(next.bounds).toMatchObject({ minHealthy: 2, maxCapacity: 4 });
    expect(next.healthy).toBe(3);
  });

  describe('canary steps', () => {
    const target = app({ instances: 4, ...strategy(1, 1, [1, '50%', '100%']) });
    const fourOld = [...threeOld, healthy('old-4', 4)];

    it('launches only the first step', () => {
      const next = nextRestartActions({ target, old: fourOld, new: [] });
      expect(next).toMatchObject({ launch: 1, kill: [], step: { index: 0, of: 3, target: 1 } });
    });

    it('moves to the next step once the step’s instances are healthy, replacing one old for one new', () => {
      const next = nextRestartActions({ target, old: fourOld, new: [healthy('new-1', 10)] });
      expect(next).toMatchObject({ launch: 1, kill: ['old-4'], step: { index: 1, target: 2 } });
    });

    it('keeps old instances for what the step does not replace, even when the floor would allow more', () => {
      const loose = app({ instances: 4, ...strategy(0, 1, [1, '100%']) });
      const next = nextRestartActions({ target: loose, old: fourOld, new: [] });
      expect(next).toMatchObject({ launch: 1, kill: ['old-4'], step: { index: 0, target: 1 } });
    });

    it('does not step back when a new instance fails after the step was reached', () => {
      const next = nextRestartActions({ target, old: threeOld, new: [staging('new-2', 12)], reachedStep: 1 });
      expect(next.step).toMatchObject({ index: 1, target: 2 });
      expect(next.launch).toBe(1);
    });
  });
});
