/**
 * The allocator's semantics, scenario by scenario: DRF and weights, hierarchy, quota, reservations,
 * filters, suppress/revive, minAllocatable, gpus, activity, removal, and the incremental cycle.
 */
import { add, allocatableTo, contains, equals, parseResources, reserve, type Resource, scalar } from '@stoa/core';
import { describe, expect, it } from 'vitest';
import { type Allocation, Allocator } from './index.js';

const R = parseResources;
const NODE = 'cpus:8;mem:32768';

function cluster(n: number, total = NODE, allocator = new Allocator()): Allocator {
  for (let i = 0; i < n; i++) allocator.addAgent(`a${i}`, R(total));
  return allocator;
}

function count(offers: readonly Allocation[], by: (a: Allocation) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of offers) out[by(a)] = (out[by(a)] ?? 0) + 1;
  return out;
}

function cpus(offers: readonly Allocation[], pred: (a: Allocation) => boolean = () => true): number {
  return offers.filter(pred).reduce((s, a) => s + scalar(a.resources, 'cpus'), 0);
}

/** A tiny deterministic PRNG (mulberry32) for simulations. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Allocator basics', () => {
  it('offers a free agent to a framework, once', () => {
    const a = cluster(1);
    a.addFramework('f1', { roles: ['web'], gpuAware: false });
    const offers = a.runCycle(0);
    expect(offers).toHaveLength(1);
    expect(offers[0]).toMatchObject({ frameworkId: 'f1', agentId: 'a0', role: 'web' });
    expect(equals(offers[0]!.resources, R(NODE))).toBe(true);
    expect(a.agentFree('a0')).toEqual([]);
    expect(a.runCycle(1)).toEqual([]);
  });

  it('offers recovered resources again', () => {
    const a = cluster(1);
    a.addFramework('f1', { roles: ['web'] });
    const [offer] = a.runCycle(0);
    a.recover('f1', 'a0', R('cpus:2;mem:1024'), { nowMs: 1 });
    const again = a.runCycle(2);
    expect(again).toHaveLength(1);
    expect(equals(again[0]!.resources, R('cpus:2;mem:1024'))).toBe(true);
    a.recover('f1', 'a0', R('cpus:1'), { nowMs: 3 });
    expect(equals(a.agentFree('a0'), R('cpus:1'))).toBe(true);
    a.recover('f1', 'a0', offer!.resources, { nowMs: 3 });
    expect(equals(a.agentFree('a0'), R(NODE))).toBe(true);
  });

  it('a cycle with nothing changed visits nothing', () => {
    const a = cluster(50);
    a.addFramework('f1', { roles: ['web'] });
    expect(a.runCycle(0)).toHaveLength(50);
    expect(a.stats()).toMatchObject({ agents: 50, activeAgents: 50, frameworks: 1, dirtyAgents: 0, leftoverAgents: 0 });
    expect(a.runCycle(1)).toEqual([]);
  });

  it('keeps what a re-registering agent reports as allocated, even beyond its total', () => {
    const a = cluster(1, 'cpus:4;mem:4096');
    a.addFramework('f1', { roles: ['web'] });
    a.allocate('f1', 'a0', 'web', R('cpus:6;mem:1024'));
    expect(a.frameworkAllocated('f1')).toEqual({ cpus: 6, mem: 1024 });
    expect(equals(a.agentFree('a0'), R('mem:3072'))).toBe(true);
    a.recover('f1', 'a0', R('cpus:6;mem:1024'), { nowMs: 0 });
    expect(equals(a.agentFree('a0'), R('cpus:4;mem:4096'))).toBe(true);
    expect(a.frameworkAllocated('f1')).toEqual({});
  });

  it('ignores resources recovered that the framework does not hold', () => {
    const a = cluster(1, 'cpus:4;mem:4096');
    a.addFramework('f1', { roles: ['web'] });
    a.allocate('f1', 'a0', 'web', R('cpus:1;mem:100'));
    a.recover('f1', 'a0', R('cpus:3;mem:50;disk:10'), { nowMs: 0 });
    expect(a.frameworkAllocated('f1')).toEqual({ mem: 50 });
    expect(equals(a.agentFree('a0'), R('cpus:4;mem:4046'))).toBe(true);
  });

  it('finds the role that holds what is recovered', () => {
    const a = cluster(1, 'cpus:4;mem:4096');
    a.addFramework('f1', { roles: ['x', 'y'] });
    a.allocate('f1', 'a0', 'x', R('cpus:1'));
    a.allocate('f1', 'a0', 'y', R('cpus:2'));
    a.recover('f1', 'a0', R('cpus:2'), { nowMs: 0 });
    const byRole = Object.fromEntries(a.roleSummaries().map((r) => [r.role, r.allocated]));
    expect(byRole).toEqual({ x: { cpus: 1 }, y: {} });
    // Split across roles when no one role holds it all.
    a.allocate('f1', 'a0', 'y', R('cpus:2'));
    a.recover('f1', 'a0', R('cpus:3'), { nowMs: 0 });
    expect(a.frameworkAllocated('f1')).toEqual({});
  });

  it('takes recovered resources out of the role named, when given', () => {
    const a = cluster(1, 'cpus:4;mem:4096');
    a.addFramework('f1', { roles: ['x', 'y'] });
    a.allocate('f1', 'a0', 'x', R('cpus:1'));
    a.allocate('f1', 'a0', 'y', R('cpus:1'));
    a.recover('f1', 'a0', R('cpus:1'), { nowMs: 0, role: 'y' });
    const byRole = Object.fromEntries(a.roleSummaries().map((r) => [r.role, r.allocated]));
    expect(byRole).toEqual({ x: { cpus: 1 }, y: {} });
  });

  it('rejects a weight that is not positive', () => {
    const a = new Allocator();
    expect(() => a.setWeight('x', 0)).toThrow(/weight/);
    expect(() => a.setWeight('x', Number.POSITIVE_INFINITY)).toThrow(/weight/);
  });
});

describe('DRF', () => {
  it('frameworks within a role share by dominant share', () => {
    const a = cluster(12);
    a.addFramework('a', { roles: ['r'] });
    a.addFramework('b', { roles: ['r'] });
    for (let i = 0; i < 4; i++) {
      a.allocate('a', `a${i}`, 'r', R(NODE));
    }
    const offers = a.runCycle(0);
    expect(count(offers, (o) => o.frameworkId)).toEqual({ a: 2, b: 6 });
    expect(a.frameworkShare('a')).toBeCloseTo(0.5);
    expect(a.frameworkShare('b')).toBeCloseTo(0.5);
  });

  it('uses the dominant resource: a memory-heavy framework counts by memory', () => {
    const a = new Allocator();
    a.addAgent('cpu', R('cpus:16;mem:1024'));
    a.addAgent('mem', R('cpus:1;mem:65536'));
    a.addAgent('x', R('cpus:1;mem:1024'));
    a.addFramework('m', { roles: ['r'] });
    a.addFramework('c', { roles: ['r'] });
    a.allocate('m', 'mem', 'r', R('cpus:1;mem:65536')); // share ~0.97 by memory
    a.allocate('c', 'cpu', 'r', R('cpus:2')); // share ~0.11 by cpus
    const offers = a.runCycle(0);
    expect(offers.map((o) => o.frameworkId)).toEqual(['c', 'c']);
  });

  it('roles with weights 1 and 3 converge to 1:3 of the cluster as tasks finish', () => {
    const a = cluster(40);
    a.setWeight('heavy', 3);
    a.addFramework('l', { roles: ['light'] });
    a.addFramework('h', { roles: ['heavy'] });
    const held: Allocation[] = [...a.runCycle(0)];
    const random = rng(7);
    const ratios: number[] = [];
    for (let cycle = 1; cycle <= 300; cycle++) {
      // About a tenth of the holdings finish each cycle.
      for (let i = held.length - 1; i >= 0; i--) {
        if (random() < 0.1) {
          const h = held[i]!;
          a.recover(h.frameworkId, h.agentId, h.resources, { nowMs: cycle });
          held.splice(i, 1);
        }
      }
      held.push(...a.runCycle(cycle));
      const byRole = count(held, (h) => h.role);
      if (cycle > 20) ratios.push((byRole.heavy ?? 0) / Math.max(1, byRole.light ?? 0));
      expect(held).toHaveLength(40);
    }
    const mean = ratios.reduce((s, x) => s + x, 0) / ratios.length;
    expect(mean).toBeGreaterThan(2.6);
    expect(mean).toBeLessThan(3.4);
    const byRole = count(held, (h) => h.role);
    expect(byRole.light).toBe(10);
    expect(byRole.heavy).toBe(30);
  });

  it('applies shares level by level in the role tree', () => {
    const a = cluster(24);
    a.addFramework('w', { roles: ['eng/web'] });
    a.addFramework('d', { roles: ['eng/db'] });
    a.addFramework('o', { roles: ['ops'] });
    const offers = a.runCycle(0);
    expect(count(offers, (o) => o.role)).toEqual({ 'eng/web': 6, 'eng/db': 6, ops: 12 });
    const eng = a.roleSummaries().find((r) => r.role === 'eng')!;
    expect(eng.allocated.cpus).toBe(96);
    expect(eng.share).toBeCloseTo(0.5);
  });

  it('weights apply to a role subtree among its siblings', () => {
    const a = cluster(20);
    a.setWeight('eng', 4);
    a.addFramework('w', { roles: ['eng/web'] });
    a.addFramework('o', { roles: ['ops'] });
    const offers = a.runCycle(0);
    expect(count(offers, (o) => o.role)).toEqual({ 'eng/web': 16, ops: 4 });
  });

  it('a framework in a parent role competes with the sub-roles inside it', () => {
    const a = cluster(20);
    a.addFramework('e', { roles: ['eng'] });
    a.addFramework('w', { roles: ['eng/web'] });
    a.addFramework('o', { roles: ['ops'] });
    const offers = a.runCycle(0);
    expect(count(offers, (o) => o.role)).toEqual({ eng: 5, 'eng/web': 5, ops: 10 });
  });
});

describe('quota', () => {
  it('serves a guarantee before other roles get their fair share', () => {
    const run = (quota: boolean) => {
      const a = cluster(4);
      a.setWeight('a', 3);
      a.addFramework('fa', { roles: ['a'] });
      a.addFramework('fq', { roles: ['q'] });
      if (quota) a.setQuota('q', { guarantee: { cpus: 16 } });
      return cpus(a.runCycle(0), (o) => o.role === 'q');
    };
    expect(run(false)).toBe(8);
    expect(run(true)).toBe(16);
  });

  it('serves the guarantee only up to the guarantee, then fair share', () => {
    const a = cluster(10);
    a.setQuota('q', { guarantee: { cpus: 12 } });
    a.addFramework('fq', { roles: ['q'] });
    a.setWeight('a', 100);
    a.addFramework('fa', { roles: ['a'] });
    const offers = a.runCycle(0);
    // The quota stage gives q one whole agent and 4 cpus of a second (and the rest of its memory).
    const q = offers.filter((o) => o.role === 'q');
    expect(cpus(q)).toBeGreaterThanOrEqual(12);
    expect(q.some((o) => scalar(o.resources, 'cpus') === 4)).toBe(true);
  });

  it('keeps headroom for an unmet guarantee from other roles', () => {
    const a = cluster(4);
    a.setQuota('q', { guarantee: { cpus: 16 } });
    a.addFramework('fq', { roles: ['q'] });
    a.suppress('fq'); // q takes nothing now, but its guarantee stays available
    a.addFramework('fa', { roles: ['a'] });
    const offers = a.runCycle(0);
    expect(cpus(offers)).toBe(16);
    a.revive('fq');
    const later = a.runCycle(1);
    expect(cpus(later, (o) => o.role === 'q')).toBe(16);
  });

  it('counts reservations toward the guarantee', () => {
    const a = new Allocator();
    a.addAgent('r', R('cpus(q):8;mem(q):8192;cpus:8;mem:8192'));
    a.addAgent('u', R(NODE));
    a.setQuota('q', { guarantee: { cpus: 8 } });
    a.setWeight('a', 10);
    a.addFramework('fq', { roles: ['q'] });
    a.addFramework('fa', { roles: ['a'] });
    const offers = a.runCycle(0);
    // The guarantee is met by the reservation: unreserved cpus go by fair share (a first, weight 10).
    expect(cpus(offers, (o) => o.role === 'q')).toBe(8);
    expect(offers.filter((o) => o.role === 'q').every((o) => equals(allocatableTo(o.resources, 'q'), o.resources))).toBe(true);
  });

  it('serves a parent role guarantee to frameworks of its sub-roles', () => {
    const a = cluster(4);
    a.setWeight('a', 3);
    a.setQuota('eng', { guarantee: { cpus: 16 } });
    a.addFramework('fa', { roles: ['a'] });
    a.addFramework('fw', { roles: ['eng/web'] });
    expect(cpus(a.runCycle(0), (o) => o.role === 'eng/web')).toBe(16);
  });

  it('never lets a role exceed its limit', () => {
    const a = cluster(4);
    a.setQuota('l', { limit: { cpus: 12 } });
    a.addFramework('fl', { roles: ['l'] });
    const offers = a.runCycle(0);
    expect(cpus(offers)).toBe(12);
    expect(a.roleSummaries().find((r) => r.role === 'l')!.allocated.cpus).toBe(12);
    // Give some back: the role may have it again, still within the limit.
    const first = offers.find((o) => scalar(o.resources, 'cpus') === 8)!;
    a.recover('fl', first.agentId, R('cpus:8'), { nowMs: 1 });
    expect(cpus(a.runCycle(2))).toBe(8);
    expect(a.roleSummaries().find((r) => r.role === 'l')!.allocated.cpus).toBe(12);
  });

  it('a parent role limit bounds its sub-roles', () => {
    const a = cluster(6);
    a.setQuota('eng', { limit: { cpus: 20 } });
    a.addFramework('w', { roles: ['eng/web'] });
    a.addFramework('d', { roles: ['eng/db'] });
    const offers = a.runCycle(0);
    expect(cpus(offers)).toBe(20);
  });

  it('a limit freed by a recovery reaches agents left over', () => {
    const a = cluster(3);
    a.setQuota('l', { limit: { cpus: 8 } });
    a.addFramework('fl', { roles: ['l'] });
    const offers = a.runCycle(0);
    expect(cpus(offers)).toBe(8);
    // Other agents still have cpus; the one that was offered gets them back.
    const holder = offers.find((o) => scalar(o.resources, 'cpus') > 0)!;
    a.recover('fl', holder.agentId, R('cpus:8'), { nowMs: 1 });
    a.setAgentActive(holder.agentId, false);
    expect(cpus(a.runCycle(2))).toBe(8);
  });

  it('removing quota lifts the limit', () => {
    const a = cluster(2);
    a.setQuota('l', { limit: { cpus: 4 } });
    a.addFramework('fl', { roles: ['l'] });
    expect(cpus(a.runCycle(0))).toBe(4);
    a.removeQuota('l');
    expect(cpus(a.runCycle(1))).toBe(12);
    expect(a.roleSummaries().find((r) => r.role === 'l')!.quota).toBeUndefined();
  });
});

describe('reservations', () => {
  it('static reservations go only to their role and its sub-roles', () => {
    const a = new Allocator();
    a.addAgent('a0', R('cpus(ops):4;mem(ops):4096;cpus:4;mem:4096'));
    a.addFramework('dev', { roles: ['dev'] });
    const dev = a.runCycle(0);
    expect(dev).toHaveLength(1);
    expect(equals(dev[0]!.resources, R('cpus:4;mem:4096'))).toBe(true);
    a.addFramework('sub', { roles: ['ops/x'] });
    const sub = a.runCycle(1);
    expect(sub).toHaveLength(1);
    expect(sub[0]).toMatchObject({ frameworkId: 'sub', role: 'ops/x' });
    expect(equals(sub[0]!.resources, R('cpus(ops):4;mem(ops):4096'))).toBe(true);
  });

  it('an agent may go to several roles in one cycle: the unreserved part and each reservation', () => {
    const a = new Allocator();
    a.addAgent('a0', R('cpus(ops):2;mem(ops):2048;cpus(db):2;mem(db):2048;cpus:4;mem:4096'));
    a.addFramework('o', { roles: ['ops'] });
    a.addFramework('d', { roles: ['db'] });
    a.addFramework('w', { roles: ['web'] });
    const offers = a.runCycle(0);
    // db comes first (all shares 0, then by name): the unreserved part with its reservation; ops
    // then gets its reservation; nothing is left for web.
    expect(offers.map((o) => o.frameworkId)).toEqual(['d', 'o']);
    for (const o of offers) expect(equals(allocatableTo(o.resources, o.role), o.resources)).toBe(true);
    expect(equals(offers[0]!.resources, R('cpus(db):2;mem(db):2048;cpus:4;mem:4096'))).toBe(true);
    expect(cpus(offers)).toBe(8);
  });

  it('dynamic reservations change the total and go to their role', () => {
    const a = cluster(1);
    a.addFramework('app', { roles: ['app'] });
    a.addFramework('db', { roles: ['db'] });
    const reserved = reserve(R('cpus:6;mem:16384'), 'db', { type: 'DYNAMIC', principal: 'ops' });
    expect(contains(a.agentFree('a0'), R('cpus:6;mem:16384'))).toBe(true);
    a.updateAgentTotal('a0', add(R('cpus:2;mem:16384'), reserved));
    const offers = a.runCycle(0);
    const db = offers.find((o) => o.frameworkId === 'db')!;
    const app = offers.find((o) => o.frameworkId === 'app')!;
    expect(equals(db.resources, reserved)).toBe(true);
    expect(equals(app.resources, R('cpus:2;mem:16384'))).toBe(true);
    expect(a.roleSummaries().find((r) => r.role === 'db')!.allocated).toMatchObject({ cpus: 6 });
  });
});

describe('decline filters', () => {
  it('hold until refuseMs passes', () => {
    const a = cluster(1);
    a.addFramework('f', { roles: ['r'] });
    const [offer] = a.runCycle(0);
    a.recover('f', 'a0', offer!.resources, { refuseMs: 1000, nowMs: 100 });
    expect(a.nextFilterExpiryMs()).toBe(1100);
    expect(a.runCycle(500)).toEqual([]);
    expect(a.runCycle(1099)).toEqual([]);
    expect(a.runCycle(1100)).toHaveLength(1);
  });

  it('filter only the framework that declined', () => {
    const a = cluster(1);
    a.addFramework('f', { roles: ['r'] });
    a.addFramework('g', { roles: ['r'] });
    const [offer] = a.runCycle(0);
    expect(offer!.frameworkId).toBe('f');
    a.decline('f', 'a0', offer!.resources, { nowMs: 0 }); // the default 5 s
    const next = a.runCycle(1);
    expect(next.map((o) => o.frameworkId)).toEqual(['g']);
    a.recover('g', 'a0', next[0]!.resources, { refuseMs: 60_000, nowMs: 1 });
    expect(a.runCycle(4999)).toEqual([]);
    expect(a.runCycle(5000).map((o) => o.frameworkId)).toEqual(['f']);
  });

  it('are cleared by revive', () => {
    const a = cluster(1);
    a.addFramework('f', { roles: ['r'] });
    const [offer] = a.runCycle(0);
    a.recover('f', 'a0', offer!.resources, { refuseMs: 60_000, nowMs: 0 });
    expect(a.runCycle(1)).toEqual([]);
    a.revive('f');
    expect(a.stats().filters).toBe(0);
    expect(a.runCycle(2)).toHaveLength(1);
  });

  it('a later decline replaces the filter', () => {
    const a = cluster(1);
    a.addFramework('f', { roles: ['r'] });
    let [offer] = a.runCycle(0);
    a.recover('f', 'a0', offer!.resources, { refuseMs: 100, nowMs: 0 });
    [offer] = a.runCycle(100);
    a.recover('f', 'a0', offer!.resources, { refuseMs: 1000, nowMs: 100 });
    expect(a.runCycle(200)).toEqual([]);
    expect(a.runCycle(1100)).toHaveLength(1);
  });
});

describe('suppress and revive', () => {
  it('work per role', () => {
    const a = cluster(4);
    a.addFramework('f', { roles: ['x', 'y'] });
    a.suppress('f', ['x']);
    const offers = a.runCycle(0);
    expect(offers).toHaveLength(4);
    expect(offers.every((o) => o.role === 'y')).toBe(true);
    for (const o of offers) a.recover('f', o.agentId, o.resources, { nowMs: 1 });
    a.suppress('f');
    expect(a.runCycle(2)).toEqual([]);
    a.revive('f', ['x']);
    const revived = a.runCycle(3);
    expect(revived).toHaveLength(4);
    expect(revived.every((o) => o.role === 'x')).toBe(true);
  });

  it('suppressed roles can be given at subscription', () => {
    const a = cluster(1);
    a.addFramework('f', { roles: ['x'], suppressedRoles: ['x'] });
    expect(a.runCycle(0)).toEqual([]);
    a.updateFramework('f', { roles: ['x'], suppressedRoles: [] });
    expect(a.runCycle(1)).toHaveLength(1);
  });
});

describe('minAllocatable', () => {
  it('offers only free resources holding one of the sets', () => {
    const a = new Allocator();
    a.addAgent('tiny', R('cpus:0.005;mem:16'));
    a.addAgent('memonly', R('mem:64'));
    a.addAgent('cpuonly', R('cpus:0.5'));
    a.addFramework('f', { roles: ['r'] });
    expect(
      a
        .runCycle(0)
        .map((o) => o.agentId)
        .sort(),
    ).toEqual(['cpuonly', 'memonly']);
  });

  it('takes custom sets and leaves scraps unoffered', () => {
    const a = new Allocator({ minAllocatable: [{ cpus: 1, mem: 1024 }] });
    a.addAgent('a0', R('cpus:4;mem:4096'));
    a.addFramework('f', { roles: ['r'] });
    a.allocate('f', 'a0', 'r', R('cpus:3.5;mem:1000'));
    expect(a.runCycle(0)).toEqual([]);
    a.recover('f', 'a0', R('cpus:1'), { nowMs: 1 });
    expect(a.runCycle(1)).toHaveLength(1);
  });
});

describe('gpus', () => {
  it('agents with gpus go only to gpu-aware frameworks', () => {
    const a = new Allocator();
    a.addAgent('gpu', R('cpus:8;mem:32768;gpus:4'));
    a.addAgent('plain', R(NODE));
    a.addFramework('n', { roles: ['r'], gpuAware: false });
    const first = a.runCycle(0);
    expect(first.map((o) => `${o.frameworkId}@${o.agentId}`)).toEqual(['n@plain']);
    a.addFramework('g', { roles: ['r'], gpuAware: true });
    expect(a.runCycle(1).map((o) => `${o.frameworkId}@${o.agentId}`)).toEqual(['g@gpu']);
  });

  it('leaves gpus out of shares', () => {
    const a = new Allocator();
    a.addAgent('gpu', R('cpus:8;mem:32768;gpus:4'));
    a.addAgent('plain', R(NODE));
    a.addFramework('g', { roles: ['r'], gpuAware: true });
    a.runCycle(0);
    expect(a.frameworkShare('g')).toBeCloseTo(1);
    a.recover('g', 'plain', R(NODE), { nowMs: 0 });
    expect(a.frameworkShare('g')).toBeCloseTo(0.5);
    const counted = new Allocator({ fairnessExcludedResources: [] });
    counted.addAgent('gpu', R('cpus:8;mem:32768;gpus:4'));
    counted.addAgent('plain', R(NODE));
    counted.addFramework('g', { roles: ['r'], gpuAware: true });
    counted.allocate('g', 'gpu', 'r', R('gpus:4'));
    expect(counted.frameworkShare('g')).toBeCloseTo(1);
  });
});

describe('activity', () => {
  it('inactive agents get no offers until reactivated', () => {
    const a = new Allocator();
    a.addAgent('a0', R(NODE), { active: false });
    a.addAgent('a1', R(NODE));
    a.addFramework('f', { roles: ['r'] });
    expect(a.runCycle(0).map((o) => o.agentId)).toEqual(['a1']);
    a.setAgentActive('a0', true);
    expect(a.runCycle(1).map((o) => o.agentId)).toEqual(['a0']);
  });

  it('inactive frameworks get no offers but keep what they hold', () => {
    const a = cluster(2);
    a.addFramework('f', { roles: ['r'] });
    a.setFrameworkActive('f', false);
    a.allocate('f', 'a0', 'r', R('cpus:1'));
    expect(a.runCycle(0)).toEqual([]);
    expect(a.frameworkAllocated('f')).toEqual({ cpus: 1 });
    a.setFrameworkActive('f', true);
    expect(a.runCycle(1)).toHaveLength(2);
  });

  it('a deactivated agent keeps its allocations; removing it forgets them', () => {
    const a = cluster(2);
    a.addFramework('f', { roles: ['r'] });
    a.runCycle(0);
    a.setAgentActive('a0', false);
    expect(a.frameworkAllocated('f')).toEqual({ cpus: 16, mem: 65536 });
    a.removeAgent('a0');
    expect(a.frameworkAllocated('f')).toEqual({ cpus: 8, mem: 32768 });
    expect(a.totalResources()).toEqual({ cpus: 8, mem: 32768 });
    expect(a.frameworkShare('f')).toBeCloseTo(1);
  });
});

describe('removing a framework', () => {
  it('returns its resources to the pool', () => {
    const a = cluster(3);
    a.addFramework('f', { roles: ['r'] });
    a.addFramework('g', { roles: ['r'] });
    a.setFrameworkActive('g', false);
    expect(a.runCycle(0)).toHaveLength(3);
    a.removeFramework('f');
    expect(equals(a.agentFree('a0'), R(NODE))).toBe(true);
    expect(a.allocatedResources()).toEqual({});
    a.setFrameworkActive('g', true);
    expect(count(a.runCycle(1), (o) => o.frameworkId)).toEqual({ g: 3 });
    expect(a.roleSummaries().find((r) => r.role === 'r')!.frameworkIds).toEqual(['g']);
  });
});

describe('views', () => {
  it('roleSummaries shows weight, quota, allocation and frameworks', () => {
    const a = cluster(2);
    a.setWeight('web', 2);
    a.setQuota('web', { guarantee: { cpus: 4 }, limit: { cpus: 12 } });
    a.addFramework('f', { roles: ['web'] });
    a.runCycle(0);
    expect(a.roleSummaries()).toEqual([
      {
        role: 'web',
        weight: 2,
        quota: { role: 'web', guarantee: { cpus: 4 }, limit: { cpus: 12 } },
        allocated: { cpus: 12, mem: 65536 },
        share: 1,
        frameworkIds: ['f'],
      },
    ]);
    expect(a.agentAllocations('a0').map((x) => x.frameworkId)).toEqual(['f']);
  });

  it('agentFree is a copy', () => {
    const a = cluster(1);
    const free: Resource[] = a.agentFree('a0');
    free.length = 0;
    expect(a.agentFree('a0')).toHaveLength(2);
  });
});
