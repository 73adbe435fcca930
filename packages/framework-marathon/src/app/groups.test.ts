import { ValidationError } from '@stoa/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appsUnder, buildGroupTree, DependencyCycleError, dependencyEdges, dependencyLayers, idConflicts, missingDependencies } from './groups.js';
import type { App } from './schema.js';
import { parseApp } from './validate.js';

const app = (id: string, dependencies: string[] = [], version?: string): App =>
  parseApp({ id, cmd: 'x', dependencies, ...(version === undefined ? {} : { version }) });
const ids = (layers: App[][]) => layers.map((layer) => layer.map((a) => a.id));

describe('buildGroupTree', () => {
  it('builds the /v2/groups tree, sorted, with every implied group', () => {
    const tree = buildGroupTree([app('/shop/web', [], '2020-01-02T00:00:00.000Z'), app('/shop/db/pg', [], '2020-01-01T00:00:00.000Z'), app('/auth')]);
    expect(tree.id).toBe('/');
    expect(tree.apps.map((a) => a.id)).toEqual(['/auth']);
    expect(tree.groups.map((g) => g.id)).toEqual(['/shop']);
    const shop = tree.groups[0]!;
    expect(shop.apps.map((a) => a.id)).toEqual(['/shop/web']);
    expect(shop.groups.map((g) => g.id)).toEqual(['/shop/db']);
    expect(shop.groups[0]!.apps.map((a) => a.id)).toEqual(['/shop/db/pg']);
    expect(shop.version).toBe('2020-01-02T00:00:00.000Z');
    expect(shop.groups[0]!.version).toBe('2020-01-01T00:00:00.000Z');
    expect(tree.dependencies).toEqual([]);
  });

  it('includes group specs: empty groups, dependencies, versions', () => {
    const tree = buildGroupTree([app('/a/x')], { groups: [{ id: '/a', dependencies: ['/b'], version: '2021-01-01T00:00:00.000Z' }, { id: '/empty/nested' }] });
    expect(tree.groups.map((g) => g.id)).toEqual(['/a', '/empty']);
    expect(tree.groups[0]).toMatchObject({ dependencies: ['/b'], version: '2021-01-01T00:00:00.000Z' });
    expect(tree.groups[1]!.groups[0]).toEqual({ id: '/empty/nested', apps: [], groups: [], dependencies: [] });
  });

  it('refuses an id that is both an app and a group, and duplicate apps', () => {
    expect(idConflicts([app('/a'), app('/a/b')])).toEqual(['/a']);
    expect(idConflicts([app('/a')], [{ id: '/a' }])).toEqual(['/a']);
    expect(() => buildGroupTree([app('/a'), app('/a/b')])).toThrow(ValidationError);
    expect(() => buildGroupTree([app('/a'), app('/a')])).toThrow(/same id/);
  });
});

describe('dependencies', () => {
  it('expands groups into the apps under them', () => {
    const apps = [app('/web', ['/db']), app('/db/pg'), app('/db/redis'), app('/dbx')];
    expect(appsUnder(apps, '/db').map((a) => a.id)).toEqual(['/db/pg', '/db/redis']);
    expect(dependencyEdges(apps).get('/web')).toEqual(['/db/pg', '/db/redis']);
  });

  it('orders apps in layers after what they depend on', () => {
    const apps = [app('/web', ['/api']), app('/api', ['/db', '/cache']), app('/db'), app('/cache'), app('/lonely')];
    expect(ids(dependencyLayers(apps))).toEqual([['/cache', '/db', '/lonely'], ['/api'], ['/web']]);
  });

  it('lets group dependencies apply to every app below the group', () => {
    const apps = [app('/front/web'), app('/front/admin'), app('/back/db')];
    expect(ids(dependencyLayers(apps, { groups: [{ id: '/front', dependencies: ['/back'] }] }))).toEqual([['/back/db'], ['/front/admin', '/front/web']]);
  });

  it('names a cycle', () => {
    const apps = [app('/a', ['/b']), app('/b', ['/c']), app('/c', ['/a']), app('/d')];
    try {
      dependencyLayers(apps);
      expect.unreachable();
    } catch (e) {
      expect(DependencyCycleError.isInstance(e)).toBe(true);
      const error = e as DependencyCycleError;
      expect(error.cycle).toEqual(['/a', '/b', '/c', '/a']);
      expect(error.message).toBe('dependency cycle: /a -> /b -> /c -> /a');
      expect(error.code).toBe('VALIDATION_ERROR');
      expect(error.field).toBe('dependencies');
    }
    expect(DependencyCycleError.isInstance(new ValidationError('x'))).toBe(false);
  });

  it('finds cycles through groups', () => {
    const apps = [app('/g/a', ['/h']), app('/h/b', ['/g'])];
    expect(() => dependencyLayers(apps)).toThrow(DependencyCycleError);
  });

  it('reports dependencies that name nothing, and does not wait for them', () => {
    const apps = [app('/web', ['/db', '/ghost'])];
    expect(missingDependencies(apps)).toEqual([
      { appId: '/web', dependency: '/db' },
      { appId: '/web', dependency: '/ghost' },
    ]);
    expect(ids(dependencyLayers(apps))).toEqual([['/web']]);
  });

  it('respects every edge, places every app once, and places each as early as it can', () => {
    const graph = fc.integer({ min: 1, max: 12 }).chain((n) =>
      fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 30 })),
    );
    fc.assert(
      fc.property(graph, ([n, pairs]) => {
        // Edges only from a higher index to a lower one: acyclic by construction.
        const deps = new Map<number, Set<number>>();
        for (const [x, y] of pairs) if (x > y) deps.set(x, (deps.get(x) ?? new Set()).add(y));
        const apps = Array.from({ length: n }, (_, i) => app(`/app-${i}`, [...(deps.get(i) ?? [])].map((d) => `/app-${d}`)));
        const layers = dependencyLayers(apps);
        const layerOf = new Map<string, number>();
        layers.forEach((layer, k) => {
          for (const a of layer) layerOf.set(a.id, k);
        });
        expect(layerOf.size).toBe(n);
        expect(layers.flat()).toHaveLength(n);
        for (const a of apps) {
          const mine = layerOf.get(a.id)!;
          for (const d of a.dependencies) expect(layerOf.get(d)!).toBeLessThan(mine);
          const deepest = Math.max(-1, ...a.dependencies.map((d) => layerOf.get(d)!));
          expect(mine).toBe(deepest + 1);
        }
      }),
    );
  });

  it('throws a cycle error exactly when the graph has a cycle, and the cycle is made of real edges', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(5), fc.nat(5)), { maxLength: 12 }), (pairs) => {
        const deps = new Map<number, Set<number>>();
        for (const [x, y] of pairs) if (x !== y) deps.set(x, (deps.get(x) ?? new Set()).add(y));
        const apps = Array.from({ length: 6 }, (_, i) => app(`/n${i}`, [...(deps.get(i) ?? [])].map((d) => `/n${d}`)));
        const edges = dependencyEdges(apps);
        try {
          dependencyLayers(apps);
        } catch (e) {
          expect(DependencyCycleError.isInstance(e)).toBe(true);
          const { cycle } = e as DependencyCycleError;
          expect(cycle[0]).toBe(cycle.at(-1));
          for (let i = 0; i + 1 < cycle.length; i++) expect(edges.get(cycle[i]!)).toContain(cycle[i + 1]);
        }
      }),
    );
  });
});
