import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeployableApp } from './deployable-app.js';
import { DependencyCycleError, dependencyEdges, dependencyLayers } from '../app/groups.js';
import { admitDeployment, affectedApps, appTransition, conflicts, type DeploymentPlan, planDeployment } from './plan.js';

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
    hasHealthChecks: false,
    hasReadinessChecks: false,
    configHash: `${id}@1`,
    ...overrides,
  };
}

function apps(...list: DeployableApp[]): Map<string, DeployableApp> {
  return new Map(list.map((a) => [a.id, a]));
}

const options = { id: 'd1', version: '2024-01-01T00:00:00.000Z' };

function stepsOf(plan: DeploymentPlan): string[][] {
  return plan.steps.map((step) => step.actions.map((a) => `${a.action}:${a.app}`));
}

describe('appTransition', () => {
  it('tells start, stop, restart, scale and none apart', () => {
    const a = app('/a');
    expect(appTransition(undefined, a)).toBe('start');
    expect(appTransition(a, undefined)).toBe('stop');
    expect(appTransition(a, { ...a, configHash: 'other' })).toBe('restart');
    expect(appTransition(a, { ...a, configHash: 'other', instances: 5 })).toBe('restart');
    expect(appTransition(a, { ...a, instances: 5 })).toBe('scale');
    expect(appTransition(a, { ...a, version: 'v2' })).toBe('none');
    expect(appTransition(undefined, undefined)).toBe('none');
  });
});

describe('planDeployment', () => {
  const db = app('/shop/db');
  const web = app('/shop/web', { dependencies: ['/shop/db'] });

  it('starts new apps, then scales them up in dependency order (Marathon: db before app)', () => {
    const plan = planDeployment(new Map(), apps(web, db), options);
    expect(stepsOf(plan)).toEqual([
      ['StartApplication:/shop/db', 'StartApplication:/shop/web'],
      ['ScaleApplication:/shop/db'],
      ['ScaleApplication:/shop/web'],
    ]);
    expect(plan).toMatchObject({ id: 'd1', version: options.version });
  });

  it('stops dependents first (Marathon: app removed before db)', () => {
    const plan = planDeployment(apps(web, db), new Map(), options);
    expect(stepsOf(plan)).toEqual([['StopApplication:/shop/web'], ['StopApplication:/shop/db']]);
  });

  it('restarts on a config change and scales on an instance change, in dependency order', () => {
    const plan = planDeployment(apps(web, db), apps({ ...web, configHash: 'new' }, { ...db, instances: 5 }), options);
    expect(stepsOf(plan)).toEqual([['ScaleApplication:/shop/db'], ['RestartApplication:/shop/web']]);
  });

  it('orders by the whole target graph, even when what is depended on does not change', () => {
    const cache = app('/shop/cache', { dependencies: ['/shop/web'] });
    const plan = planDeployment(apps(web, db, cache), apps(web, { ...db, configHash: 'x' }, { ...cache, configHash: 'x' }), options);
    expect(stepsOf(plan)).toEqual([['RestartApplication:/shop/db'], ['RestartApplication:/shop/cache']]);
    expect(dependencyLayers([...plan.target.values()]).findIndex((layer) => layer.some((a) => a.id === '/shop/cache'))).toBe(2);
  });

  it('puts independent changes in one step, ordered by id', () => {
    const plan = planDeployment(apps(app('/b'), app('/a')), apps(app('/b', { instances: 3 }), app('/a', { instances: 3 })), options);
    expect(stepsOf(plan)).toEqual([['ScaleApplication:/a', 'ScaleApplication:/b']]);
  });

  it('is empty when nothing changes', () => {
    expect(planDeployment(apps(web, db), apps(web, db), options).steps).toEqual([]);
  });

  it('restarts apps it is told to restart even when unchanged (POST /v2/apps/{id}/restart)', () => {
    const plan = planDeployment(apps(web, db), apps(web, { ...db, instances: 4 }), { ...options, restart: ['/shop/web', '/shop/db', '/new'] });
    expect(stepsOf(plan)).toEqual([['RestartApplication:/shop/db'], ['RestartApplication:/shop/web']]);
  });

  it('stops, then starts, then scales and restarts', () => {
    const plan = planDeployment(apps(app('/old'), db), apps({ ...db, configHash: 'x' }, app('/new')), options);
    expect(stepsOf(plan)).toEqual([
      ['StopApplication:/old'],
      ['StartApplication:/new'],
      ['ScaleApplication:/new', 'RestartApplication:/shop/db'],
    ]);
  });

  it('lets an app depend on a group: every app under that path', () => {
    const front = app('/front', { dependencies: ['/shop'] });
    expect(dependencyEdges([front, web, db, app('/shopping')]).get('/front')).toEqual(['/shop/db', '/shop/web']);
    const plan = planDeployment(new Map(), apps(front, web, db), options);
    expect(stepsOf(plan).slice(1)).toEqual([['ScaleApplication:/shop/db'], ['ScaleApplication:/shop/web'], ['ScaleApplication:/front']]);
  });

  it('ignores dependencies on apps that do not exist and on itself', () => {
    const lonely = app('/lonely', { dependencies: ['/ghost', '/lonely'] });
    expect(dependencyEdges([lonely]).get('/lonely')).toEqual([]);
  });

  it('names the cycle when dependencies go round', () => {
    const a = app('/a', { dependencies: ['/b'] });
    const b = app('/b', { dependencies: ['/c'] });
    const c = app('/c', { dependencies: ['/a'] });
    let caught: unknown;
    try {
      planDeployment(new Map(), apps(a, b, c), options);
    } catch (error) {
      caught = error;
    }
    expect(DependencyCycleError.isInstance(caught)).toBe(true);
    const cycleError = caught as DependencyCycleError;
    expect(cycleError.cycle).toEqual(['/a', '/b', '/c', '/a']);
    expect(cycleError.message).toBe('dependency cycle: /a -> /b -> /c -> /a');
    expect(cycleError.code).toBe('VALIDATION_ERROR');
    expect(cycleError.field).toBe('dependencies');
  });
});

describe('affectedApps, conflicts and admission', () => {
  const a = app('/a');
  const b = app('/b');
  const c = app('/c');
  const first = planDeployment(apps(a, b), apps({ ...a, instances: 5 }, { ...b, configHash: 'x' }), { ...options, id: 'first' });
  const second = planDeployment(apps(b, c), apps({ ...b, instances: 1 }, { ...c, configHash: 'y' }), { ...options, id: 'second' });
  const third = planDeployment(apps(c), apps({ ...c, instances: 9 }), { ...options, id: 'third' });

  it('lists the apps a plan acts on', () => {
    expect(affectedApps(first)).toEqual(['/a', '/b']);
  });

  it('finds the running deployments that touch the same apps', () => {
    expect(conflicts(second, [first, third])).toEqual([
      { deploymentId: 'first', apps: ['/b'] },
      { deploymentId: 'third', apps: ['/c'] },
    ]);
    expect(conflicts(first, [third])).toEqual([]);
    expect(conflicts(first, [first])).toEqual([]);
  });

  it('refuses a conflicting deployment (409) unless forced, which cancels the running ones', () => {
    expect(admitDeployment(first, [third], { force: false })).toEqual({ kind: 'admit', cancel: [] });
    expect(admitDeployment(second, [first], { force: false })).toEqual({
      kind: 'conflict',
      conflicts: [{ deploymentId: 'first', apps: ['/b'] }],
    });
    expect(admitDeployment(second, [first, third], { force: true })).toEqual({ kind: 'admit', cancel: ['first', 'third'] });
  });
});

describe('dependency order (property)', () => {
  /** Random acyclic app sets: app i may depend only on apps with a smaller index. */
  const dagArb = fc.integer({ min: 1, max: 8 }).chain((n) =>
    fc.tuple(
      fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => `/app${j}`)))),
      fc.array(fc.constantFrom('keep', 'scale', 'restart', 'remove', 'add'), { minLength: n, maxLength: n }),
    ),
  );

  it('puts every action after the actions of what its app depends on, and stops dependents first', () => {
    fc.assert(
      fc.property(dagArb, ([deps, changes]) => {
        const from = new Map<string, DeployableApp>();
        const to = new Map<string, DeployableApp>();
        deps.forEach((dependencies, i) => {
          const base = app(`/app${i}`, { dependencies });
          const change = changes[i];
          if (change !== 'add') from.set(base.id, base);
          if (change === 'keep' || change === 'add') to.set(base.id, base);
          if (change === 'scale') to.set(base.id, { ...base, instances: 7 });
          if (change === 'restart') to.set(base.id, { ...base, configHash: 'new' });
        });
        const plan = planDeployment(from, to, options);
        const stepOf = new Map<string, number>();
        plan.steps.forEach((step, index) => {
          for (const action of step.actions) {
            expect(stepOf.has(`${action.action}:${action.app}`)).toBe(false);
            stepOf.set(`${action.action}:${action.app}`, index);
          }
        });
        for (const target of to.values()) {
          const mine = [...stepOf].find(([key]) => key.endsWith(`:${target.id}`) && !key.startsWith('Start'))?.[1];
          if (mine === undefined) continue;
          for (const dependency of target.dependencies) {
            for (const [key, index] of stepOf) {
              if (key.endsWith(`:${dependency}`) && !key.startsWith('Stop')) expect(index).toBeLessThan(mine);
            }
          }
        }
        for (const original of from.values()) {
          const stop = stepOf.get(`StopApplication:${original.id}`);
          if (stop === undefined) continue;
          for (const dependency of original.dependencies) {
            const dependencyStop = stepOf.get(`StopApplication:${dependency}`);
            if (dependencyStop !== undefined) expect(dependencyStop).toBeGreaterThan(stop);
          }
        }
        expect(affectedApps(plan)).toEqual(
          [...new Set([...from.keys(), ...to.keys()])].filter((id) => appTransition(from.get(id), to.get(id)) !== 'none').sort(),
        );
      }),
      { numRuns: 300 },
    );
  });
});
