/**
 * Property tests of the allocator against a small model: random clusters and random sequences of
 * cycles, recoveries (with and without filters), (de)activations, suppress/revive, weights,
 * dynamic reservations and framework removals. After every cycle: nothing is offered beyond an
 * agent's free resources nor twice, what is held plus what is free is each agent's total, offers
 * go only where they may (active, subscribed, unsuppressed, unfiltered, gpu-aware, reservations to
 * their role), hold a minAllocatable set, and role limits hold.
 */
import {
  add,
  allocatableTo,
  contains,
  equals,
  isEmpty,
  parseResources,
  type Resource,
  reserve,
  scalar,
  subtract,
} from '@stoa/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Allocation, Allocator } from './index.js';

const ROLES = ['a', 'b', 'a/x', 'c'] as const;

interface AgentSpec {
  cpus: number;
  mem: number;
  ports: number;
  gpus: boolean;
  reservedRole: string | undefined;
  reservedCpus: number;
}

const agentArb: fc.Arbitrary<AgentSpec> = fc.record({
  cpus: fc.integer({ min: 0, max: 16 }).map((x) => x / 2),
  mem: fc.integer({ min: 0, max: 8 }).map((x) => x * 1024),
  ports: fc.integer({ min: 0, max: 3 }),
  gpus: fc.boolean(),
  reservedRole: fc.option(fc.constantFrom('a', 'b', 'a/x'), { nil: undefined }),
  reservedCpus: fc.integer({ min: 1, max: 4 }),
});

function agentTotal(s: AgentSpec): Resource[] {
  const parts: string[] = [];
  if (s.cpus > 0) parts.push(`cpus:${s.cpus}`);
  if (s.mem > 0) parts.push(`mem:${s.mem}`);
  if (s.ports > 0) parts.push(`ports:[31000-${31000 + s.ports * 2}]`);
  if (s.gpus) parts.push('gpus:1');
  if (s.reservedRole) parts.push(`cpus(${s.reservedRole}):${s.reservedCpus}`, `mem(${s.reservedRole}):512`);
  return parts.length === 0 ? [] : parseResources(parts.join(';'));
}

interface FrameworkSpec {
  roles: string[];
  gpuAware: boolean;
}

const frameworkArb: fc.Arbitrary<FrameworkSpec> = fc.record({
  roles: fc.uniqueArray(fc.constantFrom(...ROLES), { minLength: 1, maxLength: 3 }),
  gpuAware: fc.boolean(),
});

type Op =
  | { type: 'cycle'; dt: number }
  | { type: 'recover'; pick: number; half: boolean; refuseMs: number }
  | { type: 'agentActive'; agent: number; active: boolean }
  | { type: 'fwActive'; fw: number; active: boolean }
  | { type: 'suppress'; fw: number; role: string | undefined }
  | { type: 'revive'; fw: number; role: string | undefined }
  | { type: 'weight'; role: string; weight: number }
  | { type: 'reserve'; agent: number; role: string }
  | { type: 'remove'; fw: number };

const roleOpt = fc.option(fc.constantFrom(...ROLES), { nil: undefined });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constant('cycle' as const), dt: fc.constantFrom(0, 50, 500, 2000) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('recover' as const),
      pick: fc.nat(),
      half: fc.boolean(),
      refuseMs: fc.constantFrom(0, 0, 100, 1000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('agentActive' as const), agent: fc.nat(), active: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('fwActive' as const), fw: fc.nat(), active: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('suppress' as const), fw: fc.nat(), role: roleOpt }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('revive' as const), fw: fc.nat(), role: roleOpt }) },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('weight' as const), role: fc.constantFrom(...ROLES), weight: fc.constantFrom(0.5, 1, 2, 5) }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('reserve' as const), agent: fc.nat(), role: fc.constantFrom(...ROLES) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('remove' as const), fw: fc.nat() }) },
);

interface QuotaSpecArb {
  role: string;
  limitCpus: number | undefined;
  guaranteeCpus: number | undefined;
}

const quotaArb: fc.Arbitrary<QuotaSpecArb> = fc.record({
  role: fc.constantFrom(...ROLES),
  limitCpus: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
  guaranteeCpus: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
});

function isUnderOrSelf(role: string, ancestor: string): boolean {
  return role === ancestor || role.startsWith(`${ancestor}/`);
}

function sum(rs: readonly (readonly Resource[])[]): Resource[] {
  let out: Resource[] = [];
  for (const r of rs) out = add(out, r);
  return out;
}

/** Half of the first scalar entry (or the whole held list when there is none to halve). */
function halfOf(rs: readonly Resource[]): Resource[] {
  const s = rs.find((r) => r.type === 'SCALAR' && (r.scalar ?? 0) >= 0.002);
  if (!s) return [...rs];
  return [{ ...s, scalar: Math.floor((s.scalar! * 1000) / 2) / 1000 }];
}

function passesMin(rs: readonly Resource[]): boolean {
  return scalar(rs, 'cpus') >= 0.01 || scalar(rs, 'mem') >= 32;
}

function simulate(agents: AgentSpec[], frameworks: FrameworkSpec[], quotas: QuotaSpecArb[], ops: Op[]): void {
  const alloc = new Allocator();
  const totals = agents.map(agentTotal);
  const active = agents.map(() => true);
  for (const [i, t] of totals.entries()) alloc.addAgent(`ag${i}`, t);
  const limits = new Map<string, number>();
  for (const q of quotas) {
    alloc.setQuota(q.role, {
      ...(q.guaranteeCpus !== undefined ? { guarantee: { cpus: q.guaranteeCpus } } : {}),
      ...(q.limitCpus !== undefined ? { limit: { cpus: q.limitCpus } } : {}),
    });
    if (q.limitCpus !== undefined) limits.set(q.role, q.limitCpus);
    else limits.delete(q.role);
  }
  interface FwModel {
    id: string;
    spec: FrameworkSpec;
    active: boolean;
    suppressed: Set<string>;
    removed: boolean;
  }
  const fws: FwModel[] = frameworks.map((spec, i) => ({ id: `fw${i}`, spec, active: true, suppressed: new Set(), removed: false }));
  for (const f of fws) alloc.addFramework(f.id, { roles: f.spec.roles, gpuAware: f.spec.gpuAware });
  const filters = new Map<string, number>();
  let held: Allocation[] = [];
  let now = 0;

  const check = (offers: Allocation[], freeBefore: Resource[][]) => {
    // Offers stay within what was free, so nothing is offered twice.
    for (let i = 0; i < agents.length; i++) {
      const mine = offers.filter((o) => o.agentId === `ag${i}`).map((o) => o.resources);
      expect(contains(freeBefore[i]!, sum(mine))).toBe(true);
    }
    for (const o of offers) {
      const f = fws.find((x) => x.id === o.frameworkId)!;
      const ai = Number(o.agentId.slice(2));
      expect(isEmpty(o.resources)).toBe(false);
      expect(passesMin(o.resources)).toBe(true);
      expect(f.active && !f.removed).toBe(true);
      expect(f.spec.roles).toContain(o.role);
      expect(f.suppressed.has(o.role)).toBe(false);
      expect(active[ai]).toBe(true);
      if (scalar(totals[ai]!, 'gpus') > 0) expect(f.spec.gpuAware).toBe(true);
      expect((filters.get(`${f.id}|${o.agentId}`) ?? Number.NEGATIVE_INFINITY) <= now).toBe(true);
      expect(equals(allocatableTo(o.resources, o.role), o.resources)).toBe(true);
    }
    // Held plus free is the total, agent by agent; the allocator agrees with the model.
    for (let i = 0; i < agents.length; i++) {
      const id = `ag${i}`;
      const mine = held.filter((h) => h.agentId === id).map((h) => h.resources);
      const fromAllocator = alloc.agentAllocations(id).map((h) => h.resources);
      expect(equals(sum(mine), sum(fromAllocator))).toBe(true);
      expect(equals(add(sum(fromAllocator), alloc.agentFree(id)), totals[i]!)).toBe(true);
    }
    // Limits hold, for a role and its sub-roles together.
    for (const [role, limit] of limits) {
      const cpus = held.filter((h) => isUnderOrSelf(h.role, role)).reduce((s, h) => s + scalar(h.resources, 'cpus'), 0);
      expect(cpus).toBeLessThanOrEqual(limit + 1e-9);
    }
  };

  for (const op of ops) {
    switch (op.type) {
      case 'cycle': {
        now += op.dt;
        const freeBefore = agents.map((_, i) => alloc.agentFree(`ag${i}`));
        const offers = alloc.runCycle(now);
        held.push(...offers);
        check(offers, freeBefore);
        break;
      }
      case 'recover': {
        if (held.length === 0) break;
        const at = op.pick % held.length;
        const h = held[at]!;
        const part = op.half ? halfOf(h.resources) : h.resources;
        alloc.recover(h.frameworkId, h.agentId, part, { role: h.role, nowMs: now, ...(op.refuseMs > 0 ? { refuseMs: op.refuseMs } : {}) });
        if (op.refuseMs > 0) filters.set(`${h.frameworkId}|${h.agentId}`, now + op.refuseMs);
        const rest = subtract(h.resources, part);
        if (isEmpty(rest)) held.splice(at, 1);
        else held[at] = { ...h, resources: rest };
        break;
      }
      case 'agentActive': {
        const i = op.agent % agents.length;
        active[i] = op.active;
        alloc.setAgentActive(`ag${i}`, op.active);
        break;
      }
      case 'fwActive': {
        const f = fws[op.fw % fws.length]!;
        if (f.removed) break;
        f.active = op.active;
        alloc.setFrameworkActive(f.id, op.active);
        break;
      }
      case 'suppress':
      case 'revive': {
        const f = fws[op.fw % fws.length]!;
        if (f.removed) break;
        const roles = op.role === undefined ? f.spec.roles : [op.role];
        if (op.type === 'suppress') {
          for (const r of roles) f.suppressed.add(r);
          alloc.suppress(f.id, op.role === undefined ? undefined : [op.role]);
        } else {
          for (const r of roles) f.suppressed.delete(r);
          for (const k of [...filters.keys()]) if (k.startsWith(`${f.id}|`)) filters.delete(k);
          alloc.revive(f.id, op.role === undefined ? undefined : [op.role]);
        }
        break;
      }
      case 'weight':
        alloc.setWeight(op.role, op.weight);
        break;
      case 'reserve': {
        const i = op.agent % agents.length;
        const id = `ag${i}`;
        const from = parseResources('cpus:1');
        if (!contains(alloc.agentFree(id), from)) break;
        const to = reserve(from, op.role, { type: 'DYNAMIC', principal: 'p' });
        totals[i] = add(subtract(totals[i]!, from), to);
        alloc.updateAgentTotal(id, totals[i]!);
        break;
      }
      case 'remove': {
        const f = fws[op.fw % fws.length]!;
        if (f.removed) break;
        f.removed = true;
        alloc.removeFramework(f.id);
        held = held.filter((h) => h.frameworkId !== f.id);
        for (const k of [...filters.keys()]) if (k.startsWith(`${f.id}|`)) filters.delete(k);
        break;
      }
    }
  }
  // A last cycle far in the future: every filter has lapsed.
  now += 1_000_000;
  const freeBefore = agents.map((_, i) => alloc.agentFree(`ag${i}`));
  const offers = alloc.runCycle(now);
  held.push(...offers);
  check(offers, freeBefore);
}

describe('Allocator properties', () => {
  it('offers only free resources, where they may go, within limits', () => {
    fc.assert(
      fc.property(
        fc.array(agentArb, { minLength: 1, maxLength: 5 }),
        fc.array(frameworkArb, { minLength: 1, maxLength: 4 }),
        fc.array(quotaArb, { maxLength: 2 }),
        fc.array(opArb, { maxLength: 40 }),
        (agents, frameworks, quotas, ops) => simulate(agents, frameworks, quotas, ops),
      ),
      { numRuns: 300 },
    );
  });

  it('hands identical agents out by weighted DRF: whoever got its last agent had the lowest weighted share', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.constantFrom(0.5, 1, 2, 3, 7), { minLength: 1, maxLength: 6 }),
        (agents, weights) => {
          const alloc = new Allocator();
          for (let i = 0; i < agents; i++) alloc.addAgent(`ag${i}`, parseResources('cpus:4;mem:4096'));
          weights.forEach((w, i) => {
            alloc.setWeight(`r${i}`, w);
            alloc.addFramework(`fw${i}`, { roles: [`r${i}`] });
          });
          const offers = alloc.runCycle(0);
          expect(offers).toHaveLength(agents);
          const counts = weights.map((_, i) => offers.filter((o) => o.role === `r${i}`).length);
          for (let i = 0; i < weights.length; i++) {
            for (let j = 0; j < weights.length; j++) {
              if (counts[i]! > 0) expect((counts[i]! - 1) / weights[i]!).toBeLessThanOrEqual(counts[j]! / weights[j]! + 1e-9);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('leaves nothing offerable unoffered when every framework is eligible', () => {
    // With no filters, limits, suppression or gpus, a cycle hands out every agent's free resources.
    fc.assert(
      fc.property(
        fc.array(agentArb.map((s) => ({ ...s, gpus: false })), { minLength: 1, maxLength: 6 }),
        fc.array(frameworkArb, { minLength: 1, maxLength: 4 }),
        (agents, frameworks) => {
          const alloc = new Allocator({ minAllocatable: [] });
          for (const [i, s] of agents.entries()) alloc.addAgent(`ag${i}`, agentTotal(s));
          for (const [i, f] of frameworks.entries()) alloc.addFramework(`fw${i}`, { roles: f.roles });
          alloc.runCycle(0);
          const subscribed = new Set(frameworks.flatMap((f) => f.roles));
          for (let i = 0; i < agents.length; i++) {
            const free = alloc.agentFree(`ag${i}`);
            // What stays free is reserved for roles nobody in its subtree subscribed to.
            for (const r of free) {
              expect(r.role).not.toBe('*');
              expect([...subscribed].some((s) => isUnderOrSelf(s, r.role!))).toBe(false);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
