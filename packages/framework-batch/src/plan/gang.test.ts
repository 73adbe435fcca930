import { add, contains, parseResources, type Resource } from '@stoa/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createGangHold, decideGang, forgetOffers, type GangOffer, type GangTask, holdOffers, planGang } from './gang.js';

const task = (taskId: string, text: string): GangTask => ({ taskId, resources: parseResources(text) });
const offer = (id: string, agentId: string, text: string, executorIds?: string[]): GangOffer => ({
  id,
  agentId,
  resources: parseResources(text),
  ...(executorIds ? { executorIds } : {}),
});

describe('planGang', () => {
  it('places every task or none', () => {
    const tasks = [task('a', 'cpus:2;mem:256'), task('b', 'cpus:2;mem:256'), task('c', 'cpus:1;mem:128')];
    const plan = planGang(tasks, [offer('o1', 'a1', 'cpus:3;mem:512'), offer('o2', 'a2', 'cpus:2;mem:256'), offer('o3', 'a3', 'cpus:8;mem:64')]);
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.assignments.map((a) => a.taskId)).toEqual(['a', 'b', 'c']);
    expect(plan.unusedOfferIds).toEqual(['o3']);
    const none = planGang(tasks, [offer('o1', 'a1', 'cpus:3;mem:512')]);
    expect(none).toMatchObject({ ok: false, placed: 1 });
  });

  it('counts the executor once per agent that does not run it', () => {
    const tasks = [task('a', 'cpus:1;mem:100'), task('b', 'cpus:1;mem:100')];
    const executor = { executorId: 'stoa-batch', resources: parseResources('cpus:1;mem:100') };
    expect(planGang(tasks, [offer('o1', 'a1', 'cpus:2;mem:200')], { executor }).ok).toBe(false);
    expect(planGang(tasks, [offer('o1', 'a1', 'cpus:3;mem:300')], { executor }).ok).toBe(true);
    expect(planGang(tasks, [offer('o1', 'a1', 'cpus:2;mem:200', ['stoa-batch'])], { executor }).ok).toBe(true);
  });

  it('is all-or-nothing and never overcommits an offer', () => {
    const resourcesArb = fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 16 })).map(([c, m]) => parseResources(`cpus:${c};mem:${m * 64}`));
    fc.assert(
      fc.property(
        fc.array(resourcesArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(resourcesArb, fc.integer({ min: 0, max: 3 })), { maxLength: 6 }),
        fc.boolean(),
        (taskRs, offerRs, withExecutor) => {
          const tasks = taskRs.map((resources, i) => ({ taskId: `t${i}`, resources }));
          const offers = offerRs.map(([resources, agent], i) => ({ id: `o${i}`, agentId: `a${agent}`, resources: add(resources, resources) }));
          const executor = withExecutor ? { executorId: 'x', resources: parseResources('cpus:1;mem:64') } : undefined;
          const plan = planGang(tasks, offers, executor ? { executor } : {});
          if (!plan.ok) {
            expect(plan.placed).toBeLessThan(tasks.length);
            return;
          }
          expect(plan.assignments.map((a) => a.taskId).sort()).toEqual(tasks.map((t) => t.taskId).sort());
          const resourcesOf = (taskId: string) => tasks.find((t) => t.taskId === taskId)!.resources;
          for (const o of offers) {
            const used = plan.assignments.filter((x) => x.offerId === o.id).reduce<Resource[]>((sum, a) => add(sum, resourcesOf(a.taskId)), []);
            expect(contains(o.resources, used)).toBe(true);
            expect(plan.usedOfferIds.includes(o.id)).toBe(plan.assignments.some((a) => a.offerId === o.id));
          }
          // Each agent that got tasks also holds the executor once.
          for (const agentId of new Set(plan.assignments.map((a) => a.agentId))) {
            const offered = offers.filter((o) => o.agentId === agentId).reduce<Resource[]>((sum, o) => add(sum, o.resources), []);
            let used = plan.assignments.filter((a) => a.agentId === agentId).reduce<Resource[]>((sum, a) => add(sum, resourcesOf(a.taskId)), []);
            if (executor) used = add(used, executor.resources);
            expect(contains(offered, used)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('gang holds', () => {
  const tasks = [task('a', 'cpus:2;mem:256'), task('b', 'cpus:2;mem:256')];

  it('holds offers until the gang fits, then launches', () => {
    const hold = createGangHold('train');
    expect(decideGang(hold, tasks, 0, { timeoutMs: 1000 })).toMatchObject({ action: 'WAIT' });
    holdOffers(hold, [offer('o1', 'a1', 'cpus:2;mem:256')], 100);
    expect(decideGang(hold, tasks, 200, { timeoutMs: 1000 })).toMatchObject({ action: 'WAIT', untilMs: 1100 });
    holdOffers(hold, [offer('o2', 'a2', 'cpus:2;mem:256'), offer('o3', 'a3', 'cpus:1;mem:1')], 300);
    const d = decideGang(hold, tasks, 400, { timeoutMs: 1000 });
    expect(d).toMatchObject({ action: 'LAUNCH', usedOfferIds: ['o1', 'o2'], declineOfferIds: ['o3'] });
    expect(hold).toEqual({ stage: 'train', offers: {} });
  });

  it('releases what it holds when the timeout passes', () => {
    const hold = createGangHold('train');
    holdOffers(hold, [offer('o1', 'a1', 'cpus:2;mem:256')], 100);
    holdOffers(hold, [offer('o2', 'a1', 'cpus:1;mem:256')], 900);
    expect(decideGang(hold, tasks, 1099, { timeoutMs: 1000 }).action).toBe('WAIT');
    const d = decideGang(hold, tasks, 1100, { timeoutMs: 1000 });
    expect(d).toMatchObject({ action: 'RELEASE', offerIds: ['o1', 'o2'] });
    expect(hold.sinceMs).toBeUndefined();
    holdOffers(hold, [offer('o4', 'a1', 'cpus:1;mem:1')], 5000);
    expect(hold.sinceMs).toBe(5000); // a new hold, a new clock
    forgetOffers(hold, ['o4']);
    expect(hold).toEqual({ stage: 'train', offers: {} });
  });
});
