import { describe, expect, it } from 'vitest';
import type { DeployableApp } from './deployable-app.js';
import { planDeployment } from './plan.js';
import {
  deleteDeployment,
  deploymentStatus,
  judgeProgress,
  policyOf,
  type ReadinessCheckResult,
  recordProgress,
  revertApps,
  rollbackPlan,
  startProgress,
} from './progress.js';

function app(id: string, overrides: Partial<DeployableApp> = {}): DeployableApp {
  return {
    id,
    version: 'v1',
    instances: 2,
    dependencies: [],
    upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
    killSelection: 'YOUNGEST_FIRST',
    backoffSeconds: 1,
    backoffFactor: 1.15,
    maxLaunchDelaySeconds: 300,
    hasHealthChecks: true,
    hasReadinessChecks: true,
    configHash: `${id}@1`,
    ...overrides,
  };
}

function apps(...list: DeployableApp[]): Map<string, DeployableApp> {
  return new Map(list.map((a) => [a.id, a]));
}

const db = app('/db');
const web = app('/web', { dependencies: ['/db'] });
const gone = app('/gone');
const webV2 = { ...web, version: 'v2', configHash: 'web@2' };
const added = app('/added');
const plan = planDeployment(apps(db, web, gone), apps({ ...db, instances: 4 }, webV2, added), { id: 'd1', version: 'v2' });

const s = 1000;

describe('deploymentStatus', () => {
  const readiness = new Map<string, ReadinessCheckResult[]>([
    ['/web', [
      { name: 'ready', instanceId: 'web.1', ready: true },
      { name: 'ready', instanceId: 'web.2', ready: false, lastResponse: { status: 503 } },
    ]],
  ]);

  it('shows the current step of how many, with the readiness of its actions', () => {
    expect(plan.steps.map((step) => step.actions.map((a) => a.action))).toEqual([
      ['StopApplication'],
      ['StartApplication'],
      ['ScaleApplication', 'ScaleApplication'],
      ['RestartApplication'],
    ]);
    const status = deploymentStatus(plan, 4, readiness);
    expect(status).toMatchObject({
      id: 'd1',
      version: 'v2',
      affectedApps: ['/added', '/db', '/gone', '/web'],
      step: 4,
      of: 4,
      readiness: { ready: 1, total: 2 },
    });
    expect(status.currentActions).toEqual([{ action: 'RestartApplication', app: '/web', readinessCheckResults: readiness.get('/web') }]);
  });

  it('clamps the step and handles a plan without steps', () => {
    expect(deploymentStatus(plan, 99).step).toBe(4);
    expect(deploymentStatus(plan, 0).step).toBe(1);
    const empty = planDeployment(apps(db), apps(db), { id: 'e', version: 'v' });
    expect(deploymentStatus(empty, 1)).toMatchObject({ step: 0, of: 0, currentActions: [], readiness: { ready: 0, total: 0 } });
  });
});

describe('recordProgress', () => {
  it('counts a later step or a new high of healthy instances as progress, not a recovery', () => {
    let mark = startProgress(0);
    mark = recordProgress(mark, { step: 1, healthy: 1 }, 10 * s);
    expect(mark.lastProgressAt).toBe(10 * s);
    mark = recordProgress(mark, { step: 1, healthy: 0 }, 20 * s);
    mark = recordProgress(mark, { step: 1, healthy: 1 }, 30 * s);
    expect(mark.lastProgressAt).toBe(10 * s);
    mark = recordProgress(mark, { step: 2, healthy: 0 }, 40 * s);
    expect(mark).toEqual({ startedAt: 0, lastProgressAt: 40 * s, step: 2, healthy: 0 });
  });
});

describe('judgeProgress', () => {
  const mark = { startedAt: 0, lastProgressAt: 50 * s, step: 2, healthy: 1 };

  it('continues without a policy, as Marathon waits for ever', () => {
    expect(judgeProgress({ plan, mark, now: 1e12, policy: {} })).toEqual({ kind: 'continue' });
  });

  it('fails with DEADLINE once the deadline passes', () => {
    const policy = { deadlineSeconds: 100 };
    expect(judgeProgress({ plan, mark, now: 99 * s, policy }).kind).toBe('continue');
    expect(judgeProgress({ plan, mark, now: 100 * s, policy })).toMatchObject({ kind: 'failed', reason: 'DEADLINE' });
  });

  it('fails with NO_PROGRESS when nothing moved for the progress deadline', () => {
    const policy = { progressDeadlineSeconds: 30 };
    expect(judgeProgress({ plan, mark, now: 79 * s, policy }).kind).toBe('continue');
    expect(judgeProgress({ plan, mark, now: 80 * s, policy })).toMatchObject({ kind: 'failed', reason: 'NO_PROGRESS' });
  });

  it('fails with HEALTH_CHECKS_FAILING after too many failed new instances', () => {
    const policy = { maxHealthFailures: 3 };
    expect(judgeProgress({ plan, mark, now: 0, policy, healthFailures: 2 }).kind).toBe('continue');
    expect(judgeProgress({ plan, mark, now: 0, policy, healthFailures: 3 })).toMatchObject({ kind: 'failed', reason: 'HEALTH_CHECKS_FAILING' });
  });

  it('prefers the most specific reason: cancelled, health checks, deadline, no progress', () => {
    const policy = { deadlineSeconds: 1, progressDeadlineSeconds: 1, maxHealthFailures: 1 };
    const late = { plan, mark, now: 1e9, policy, healthFailures: 5 };
    expect(judgeProgress({ ...late, cancelled: true })).toMatchObject({ reason: 'CANCELLED' });
    expect(judgeProgress(late)).toMatchObject({ reason: 'HEALTH_CHECKS_FAILING' });
    expect(judgeProgress({ ...late, healthFailures: 0 })).toMatchObject({ reason: 'DEADLINE' });
    expect(judgeProgress({ ...late, healthFailures: 0, policy: { progressDeadlineSeconds: 1 } })).toMatchObject({ reason: 'NO_PROGRESS' });
  });

  it('carries the rollback with autoRollback, but not for a cancellation', () => {
    const policy = { deadlineSeconds: 10, autoRollback: true };
    const verdict = judgeProgress({ plan, mark, now: 20 * s, policy });
    expect(verdict.kind === 'failed' && verdict.rollback).toMatchObject({ id: 'd1-rollback', version: new Date(20 * s).toISOString() });
    if (verdict.kind !== 'failed' || !verdict.rollback) throw new Error('expected a rollback');
    expect(verdict.rollback.target).toEqual(plan.original);
    const named = judgeProgress({ plan, mark, now: 20 * s, policy, rollback: { id: 'r', version: 'v3' } });
    expect(named.kind === 'failed' && named.rollback).toMatchObject({ id: 'r', version: 'v3' });
    const cancelled = judgeProgress({ plan, mark, now: 20 * s, policy, cancelled: true });
    expect(cancelled).toEqual({ kind: 'failed', reason: 'CANCELLED', message: 'deployment d1 was cancelled' });
  });
});

describe('policyOf', () => {
  it('takes the shortest deadlines and any autoRollback of the apps the plan acts on', () => {
    const fast = app('/fast', { upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1, deadlineSeconds: 60, autoRollback: true } });
    const slow = app('/slow', {
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1, deadlineSeconds: 600, progressDeadlineSeconds: 120 },
    });
    const untouched = app('/untouched', { upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1, deadlineSeconds: 1 } });
    const p = planDeployment(apps(untouched), apps(untouched, fast, slow), { id: 'p', version: 'v' });
    expect(policyOf(p)).toEqual({ deadlineSeconds: 60, progressDeadlineSeconds: 120, autoRollback: true });
    expect(policyOf(p, { deadlineSeconds: 5, maxHealthFailures: 2 })).toEqual({
      deadlineSeconds: 5,
      progressDeadlineSeconds: 120,
      autoRollback: true,
      maxHealthFailures: 2,
    });
  });
});

describe('rollback', () => {
  it('reverts the apps the plan changed: back to the original, added ones removed, removed ones back', () => {
    expect(revertApps(plan)).toEqual(plan.original);
  });

  it('leaves apps the plan did not touch as they are now (another deployment may have changed them)', () => {
    const other = app('/other', { instances: 9 });
    const current = new Map([...plan.target, ['/other', other]]);
    const reverted = revertApps(plan, current);
    expect(reverted.get('/other')).toBe(other);
    expect(reverted.get('/web')).toBe(web);
    expect(reverted.has('/added')).toBe(false);
    expect(reverted.get('/gone')).toBe(gone);
  });

  it('plans the way back from the target to the original', () => {
    const back = rollbackPlan(plan, { id: 'r1', version: 'v3' });
    expect(back).toMatchObject({ id: 'r1', version: 'v3', original: plan.target });
    expect(back.steps.map((step) => step.actions.map((a) => `${a.action}:${a.app}`))).toEqual([
      ['StopApplication:/added'],
      ['StartApplication:/gone'],
      ['ScaleApplication:/db', 'ScaleApplication:/gone'],
      ['RestartApplication:/web'],
    ]);
  });

  it('DELETE /v2/deployments/{id} rolls back, and with force only cancels', () => {
    expect(deleteDeployment(plan, { id: 'r1', version: 'v3', force: true })).toEqual({ kind: 'cancel', cancel: 'd1' });
    const outcome = deleteDeployment(plan, { id: 'r1', version: 'v3', force: false });
    expect(outcome.kind).toBe('rollback');
    expect(outcome.kind === 'rollback' && outcome.plan.target).toEqual(plan.original);
    expect(outcome.cancel).toBe('d1');
  });
});
