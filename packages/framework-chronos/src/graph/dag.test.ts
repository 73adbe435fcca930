import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DependencyCycleError, JobHasChildrenError, UnknownParentError } from '../errors.js';
import { JobGraph } from './dag.js';

function diamond(): JobGraph {
  const g = new JobGraph();
  g.addJob('extract');
  g.addJob('clean', ['extract']);
  g.addJob('enrich', ['extract']);
  g.addJob('load', ['clean', 'enrich']);
  return g;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('JobGraph', () => {
  it('keeps parents and children', () => {
    const g = diamond();
    expect(g.parentsOf('load')).toEqual(['clean', 'enrich']);
    expect(g.childrenOf('extract')).toEqual(['clean', 'enrich']);
    expect(g.edges()).toEqual([
      ['extract', 'clean'],
      ['extract', 'enrich'],
      ['clean', 'load'],
      ['enrich', 'load'],
    ]);
    expect(g.topologicalOrder()).toEqual(['extract', 'clean', 'enrich', 'load']);
    expect(Object.fromEntries(g.depths())).toEqual({ extract: 0, clean: 1, enrich: 1, load: 2 });
  });

  it('refuses an unknown parent, naming it', () => {
    const e = thrown(() => diamond().addJob('report', ['load', 'audit']));
    expect(UnknownParentError.isInstance(e)).toBe(true);
    expect((e as UnknownParentError).field).toBe('parents.1');
    expect((e as UnknownParentError).parent).toBe('audit');
  });

  it('refuses a cycle, naming its path', () => {
    const g = diamond();
    const e = thrown(() => g.setParents('extract', ['load']));
    expect(DependencyCycleError.isInstance(e)).toBe(true);
    expect((e as DependencyCycleError).cycle).toEqual(['extract', 'clean', 'load', 'extract']);
    expect((e as DependencyCycleError).status).toBe(422);
    expect(g.parentsOf('extract')).toEqual([]); // unchanged
    expect((thrown(() => g.setParents('clean', ['clean'])) as DependencyCycleError).cycle).toEqual(['clean', 'clean']);
  });

  it('builds from stored jobs in any order and finds cycles among them', () => {
    const g = new JobGraph([{ name: 'c', parents: ['b'] }, { name: 'b', parents: ['a'] }, { name: 'a' }]);
    expect(g.topologicalOrder()).toEqual(['a', 'b', 'c']);
    const e = thrown(() => new JobGraph([{ name: 'a', parents: ['c'] }, { name: 'b', parents: ['a'] }, { name: 'c', parents: ['b'] }]));
    expect((e as DependencyCycleError).cycle).toEqual(['a', 'b', 'c', 'a']);
  });

  it('makes a child ready once every parent has succeeded since its last run', () => {
    const g = diamond();
    expect(g.parentFinished('extract', 'success', 1)).toEqual(['clean', 'enrich']); // one parent each
    expect(g.parentFinished('clean', 'success', 2)).toEqual([]);
    expect(g.readinessOf('load')).toEqual({ clean: 2, enrich: undefined });
    expect(g.parentFinished('enrich', 'failure', 3)).toEqual([]);
    expect(g.parentFinished('clean', 'success', 4)).toEqual([]); // still waiting for enrich
    expect(g.parentFinished('enrich', 'soft-failure', 5)).toEqual(['load']);
    expect(g.readinessOf('load')).toEqual({ clean: undefined, enrich: undefined }); // used up
    expect(g.parentFinished('enrich', 'success', 6)).toEqual([]);
  });

  it('stores and restores readiness as plain data', () => {
    const g = diamond();
    g.parentFinished('clean', 'success', 10);
    const state = JSON.parse(JSON.stringify(g.dependencyState()));
    expect(state).toEqual({ load: { clean: 10 } });
    const restored = new JobGraph(g.names().map((name) => ({ name, parents: g.parentsOf(name) })), state);
    expect(restored.parentFinished('enrich', 'success', 11)).toEqual(['load']);
  });

  it('forgets readiness when the child runs by hand or drops the parent', () => {
    const g = diamond();
    g.parentFinished('clean', 'success', 1);
    g.childRan('load');
    expect(g.readinessOf('load')).toEqual({ clean: undefined, enrich: undefined });
    g.parentFinished('clean', 'success', 2);
    g.setParents('load', ['enrich']);
    expect(g.dependencyState()).toEqual({});
  });

  it('refuses to delete a parent unless forced; forced, children inherit its parents as in Chronos', () => {
    const g = diamond();
    const e = thrown(() => g.removeJob('clean'));
    expect(JobHasChildrenError.isInstance(e)).toBe(true);
    expect((e as JobHasChildrenError).status).toBe(409);
    expect((e as JobHasChildrenError).children).toEqual(['load']);
    expect(g.removeJob('clean', { force: true })).toEqual({ rewired: [{ job: 'load', parents: ['extract', 'enrich'] }], orphaned: [] });
    expect(g.childrenOf('extract')).toEqual(['enrich', 'load']);
    const r = g.removeJob('extract', { force: true });
    expect(r.orphaned).toEqual(['enrich']);
    expect(g.parentsOf('load')).toEqual(['enrich']);
    expect(g.removeJob('load')).toEqual({ rewired: [], orphaned: [] });
    expect(g.names()).toEqual(['enrich']);
  });

  it('refuses a duplicate name and unknown jobs', () => {
    const g = diamond();
    expect(() => g.addJob('load')).toThrow(/already exists/);
    expect(() => g.parentsOf('nope')).toThrow(/not found/);
    g.upsertJob({ name: 'report', parents: ['load'] });
    g.upsertJob({ name: 'report', parents: ['clean'] });
    expect(g.parentsOf('report')).toEqual(['clean']);
  });

  it('property: never accepts a cycle, whatever edges are asked for', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 4 })), { maxLength: 40 }),
        (requests) => {
          const g = new JobGraph();
          for (let i = 0; i < 8; i++) g.addJob(`j${i}`);
          for (const [child, parents] of requests) {
            try {
              g.setParents(`j${child}`, parents.map((p) => `j${p}`));
            } catch (e) {
              expect(DependencyCycleError.isInstance(e)).toBe(true);
              const cycle = (e as DependencyCycleError).cycle;
              expect(cycle[0]).toBe(cycle[cycle.length - 1]);
            }
            // Acyclic exactly when a topological order covers every job.
            expect(g.topologicalOrder()).toHaveLength(8);
            for (const [p, c] of g.edges()) expect(g.childrenOf(p)).toContain(c);
          }
        },
      ),
    );
  });
});
