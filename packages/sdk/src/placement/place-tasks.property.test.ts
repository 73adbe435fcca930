import {
  add,
  contains,
  type FaultDomain,
  normalize,
  type Offer,
  type Resource,
  rangesContain,
  rangesCount,
  subtract,
  type TaskInfo,
  type ValueRange,
} from '@stoa/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Constraint } from './constraints.js';
import { type ExistingTask, type Placement, placeTasks, type TaskDemand } from './place-tasks.js';

// ---------------------------------------------------------------------------------------------
// Arbitraries: a few agents (several offers each, sometimes), small resources, ports in
// disjoint windows per offer, and demands with every operator over a few fields.

interface Agent {
  agentId: string;
  hostname: string;
  attributes: Record<string, string>;
  domain?: FaultDomain;
}

const agentArb = (i: number): fc.Arbitrary<Agent> =>
  fc.record({ rack: fc.option(fc.constantFrom('r1', 'r2', 'r3'), { nil: undefined }), zone: fc.constantFrom('z1', 'z2', undefined) }).map(({ rack, zone }) => {
    const agent: Agent = { agentId: `a${i}`, hostname: `h${i}`, attributes: rack === undefined ? {} : { rack } };
    if (zone !== undefined) agent.domain = { zone };
    return agent;
  });

const scalarArb = (max: number, step: number) => fc.integer({ min: 0, max: Math.round(max / step) }).map((n) => n * step);

const offerArb = (agents: Agent[], index: number): fc.Arbitrary<Offer> =>
  fc
    .record({
      agent: fc.constantFrom(...agents),
      cpus: scalarArb(4, 0.5),
      opsCpus: fc.oneof(fc.constant(0), scalarArb(2, 0.5)),
      mem: scalarArb(1024, 128),
      ports: fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 4 })), { maxLength: 3 }),
    })
    .map(({ agent, cpus, opsCpus, mem, ports }) => {
      const base = 31000 + index * 100; // disjoint windows: an agent's offers never share ports
      const resources: Resource[] = [
        { name: 'cpus', type: 'SCALAR', scalar: cpus },
        { name: 'mem', type: 'SCALAR', scalar: mem },
        { name: 'ports', type: 'RANGES', ranges: ports.map(([b, n]) => ({ begin: base + b, end: base + b + n })) },
      ];
      if (opsCpus > 0) resources.push({ name: 'cpus', type: 'SCALAR', scalar: opsCpus, role: 'ops', reservation: { type: 'STATIC' } });
      const offer: Offer = {
        id: `o${index}`,
        frameworkId: 'fw',
        agentId: agent.agentId,
        hostname: agent.hostname,
        role: 'ops',
        resources: normalize(resources),
        attributes: agent.attributes,
      };
      if (agent.domain !== undefined) offer.domain = agent.domain;
      return offer;
    });

const fieldArb = fc.constantFrom('hostname', 'rack', '@zone');
const valueArb = fc.constantFrom('r1', 'r2', 'h0', 'h1', 'z1');
const regexArb = fc.constantFrom('r[12]', 'r.*', 'h0|h1', 'z1', 'r');

const constraintArb: fc.Arbitrary<Constraint> = fc.oneof(
  fieldArb.map((f): Constraint => [f, 'UNIQUE']),
  fc.tuple(fieldArb, fc.option(valueArb, { nil: undefined })).map(([f, v]): Constraint => (v === undefined ? [f, 'CLUSTER'] : [f, 'CLUSTER', v])),
  fc.tuple(fieldArb, fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })).map(([f, n]): Constraint => (n === undefined ? [f, 'GROUP_BY'] : [f, 'GROUP_BY', String(n)])),
  fc.tuple(fieldArb, regexArb).map(([f, r]): Constraint => [f, 'LIKE', r]),
  fc.tuple(fieldArb, regexArb).map(([f, r]): Constraint => [f, 'UNLIKE', r]),
  fc.tuple(fieldArb, fc.integer({ min: 1, max: 3 })).map(([f, n]): Constraint => [f, 'MAX_PER', String(n)]),
  fc.tuple(fieldArb, valueArb, fc.boolean()).map(([f, v, alias]): Constraint => [f, alias ? 'EQUALS' : 'IS', v]),
);

const demandArb = (i: number): fc.Arbitrary<TaskDemand> =>
  fc
    .record({
      cpus: fc.constantFrom(0.5, 1, 1.5, 2),
      ops: fc.boolean(),
      mem: fc.constantFrom(0, 128, 256),
      ports: fc.integer({ min: 0, max: 3 }),
      required: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
      requiredWindow: fc.integer({ min: 0, max: 2 }),
      constraints: fc.array(constraintArb, { maxLength: 2 }),
      group: fc.constantFrom('g1', 'g2', undefined),
      name: fc.constantFrom('n1', 'n2'),
      executor: fc.boolean(),
      command: fc.boolean(),
    })
    .map((g) => {
      const d: TaskDemand = {
        taskId: `t${i}`,
        name: g.name,
        resources: `${g.ops ? 'cpus(ops)' : 'cpus'}:${g.cpus};mem:${g.mem}`,
        ports: g.ports,
        constraints: g.constraints,
      };
      if (g.required !== undefined) d.requirePorts = [31000 + g.requiredWindow * 100 + g.required];
      if (g.group !== undefined) d.group = g.group;
      if (g.executor) d.executor = { executorId: `e${i}`, resources: [{ name: 'cpus', type: 'SCALAR', scalar: 0.5 }] };
      else if (g.command) d.command = { value: 'run' };
      return d;
    });

const existingArb = (agents: Agent[]): fc.Arbitrary<ExistingTask> =>
  fc.record({ agent: fc.constantFrom(...agents, { agentId: 'gone', hostname: 'hz', attributes: { rack: 'r9' } }), group: fc.constantFrom('g1', 'g2', 'n1') }).map(({ agent, group }) => {
    const task: ExistingTask = { group, hostname: agent.hostname, agentId: agent.agentId, attributes: agent.attributes };
    if (agent.domain !== undefined) task.domain = agent.domain;
    return task;
  });

interface Scenario {
  offers: Offer[];
  demands: TaskDemand[];
  existing: ExistingTask[];
  /** Every property holds for both strategies. */
  strategy: 'pack' | 'roundRobin';
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .integer({ min: 1, max: 4 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => agentArb(i))))
  .chain((agents) =>
    fc.record({
      offers: fc.integer({ min: 0, max: 6 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => offerArb(agents, i)))),
      demands: fc.integer({ min: 0, max: 14 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => demandArb(i)))),
      existing: fc.array(existingArb(agents), { maxLength: 5 }),
      strategy: fc.constantFrom('pack' as const, 'roundRobin' as const),
    }),
  );

const RUNS = { numRuns: 200 };

function run(s: Scenario): Placement {
  return placeTasks(s.offers, s.demands, { existing: s.existing, strategy: s.strategy });
}

function demandOf(s: Scenario, taskId: string): TaskDemand {
  return s.demands.find((d) => d.taskId === taskId)!;
}

/** What a task takes from its offer: its resources and its executor's, as the master counts them. */
function taken(task: TaskInfo): Resource[] {
  return task.executor === undefined ? task.resources : add(task.resources, task.executor.resources);
}

function portsIn(rs: readonly Resource[]): number[] {
  const out: number[] = [];
  for (const r of rs) if (r.name === 'ports') for (const x of r.ranges ?? []) for (let p = x.begin; p <= x.end; p++) out.push(p);
  return out;
}

// ---------------------------------------------------------------------------------------------
// An independent checker of the constraints, replaying the placements in order.

interface Target {
  hostname: string;
  attributes: Record<string, string>;
  domain?: FaultDomain | undefined;
}

function read(t: Target, field: string): string | undefined {
  if (field === 'hostname') return t.hostname;
  if (field === '@zone') return t.domain?.zone;
  return Object.hasOwn(t.attributes, field) ? t.attributes[field] : undefined;
}

function violation(c: Constraint, here: Target, before: readonly Target[]): string | undefined {
  const [field, op, value] = c;
  const v = read(here, field);
  const count = (x: string) => before.filter((t) => read(t, field) === x).length;
  const fail = (why: string) => `${field}:${op}${value === undefined ? '' : `:${value}`} ${why}`;
  switch (op) {
    case 'UNIQUE':
      return v === undefined || count(v) > 0 ? fail(`${v} taken`) : undefined;
    case 'MAX_PER':
      return v === undefined || count(v) >= Number(value) ? fail(`${v} full`) : undefined;
    case 'IS':
    case 'EQUALS':
      return v === value ? undefined : fail(`${v}`);
    case 'CLUSTER': {
      if (v === undefined) return fail('missing');
      if (value !== undefined) return v === value ? undefined : fail(`${v}`);
      const first = before.map((t) => read(t, field)).find((x) => x !== undefined);
      return first === undefined || first === v ? undefined : fail(`${v} is not ${first}`);
    }
    case 'LIKE':
      return v !== undefined && new RegExp(`^(?:${value})$`).test(v) ? undefined : fail(`${v}`);
    case 'UNLIKE':
      return v === undefined || !new RegExp(`^(?:${value})$`).test(v) ? undefined : fail(`${v}`);
    case 'GROUP_BY': {
      if (v === undefined) return fail('missing');
      const counts = new Map<string, number>();
      for (const t of before) {
        const x = read(t, field);
        if (x !== undefined) counts.set(x, (counts.get(x) ?? 0) + 1);
      }
      const mine = counts.get(v) ?? 0;
      if (mine === 0) return undefined;
      const least = Math.min(...counts.values());
      const groups = value === undefined ? 0 : Number(value);
      return mine <= least && counts.size >= groups ? undefined : fail(`${v} ahead (${mine} > ${least} or ${counts.size} < ${groups} values)`);
    }
  }
}

describe('placeTasks properties', () => {
  it('never over-commits an offer, and each accept passes the master’s check', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const p = run(s);
        for (const offer of s.offers) {
          const mine = p.launched.filter((t) => p.offerByTask[t.taskId] === offer.id);
          const sum = mine.reduce<Resource[]>((acc, t) => add(acc, taken(t)), []);
          expect(contains(offer.resources, sum)).toBe(true);
          for (const t of mine) expect(t.agentId).toBe(offer.agentId);
        }
        // The master takes each task from the first offer of its agent (in the accept's order) that holds it.
        for (const accept of p.accepts) {
          const left = accept.offerIds.map((id) => s.offers.find((o) => o.id === id)!.resources);
          for (const op of accept.operations) {
            if (op.type !== 'LAUNCH') continue;
            for (const task of op.tasks) {
              const at = left.findIndex((rs) => contains(rs, taken(task)));
              expect(at).toBeGreaterThanOrEqual(0);
              left[at] = subtract(left[at]!, taken(task));
            }
          }
        }
      }),
      RUNS,
    );
  });

  it('assigns ports from the offer’s ranges, required ones first, distinct per agent', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const p = run(s);
        const usedByAgent = new Map<string, Set<number>>();
        for (const task of p.launched) {
          const d = demandOf(s, task.taskId);
          const ports = p.ports[task.taskId]!;
          const required = d.requirePorts ?? [];
          expect(ports).toHaveLength((d.ports ?? 0) + required.length);
          expect(ports.slice(0, required.length)).toEqual(required);
          expect([...ports].sort((a, b) => a - b)).toEqual(portsIn(task.resources).sort((a, b) => a - b));
          const offer = s.offers.find((o) => o.id === p.offerByTask[task.taskId])!;
          const offered: ValueRange[] = offer.resources.filter((r) => r.name === 'ports').flatMap((r) => r.ranges ?? []);
          const used = usedByAgent.get(task.agentId) ?? new Set<number>();
          for (const port of ports) {
            expect(rangesContain(offered, port)).toBe(true);
            expect(used.has(port)).toBe(false);
            used.add(port);
          }
          usedByAgent.set(task.agentId, used);
          if (task.command !== undefined && ports.length > 0) {
            const env = task.command.environment!;
            for (const [i, port] of ports.entries()) expect(env[`PORT${i}`]).toBe(String(port));
            expect(env.PORT).toBe(String(ports[0]));
            expect(env.PORTS).toBe(ports.join(','));
          }
        }
      }),
      RUNS,
    );
  });

  it('keeps every constraint, replaying the placements in order', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const p = run(s);
        const byGroup = new Map<string, Target[]>();
        for (const e of s.existing) byGroup.set(e.group, [...(byGroup.get(e.group) ?? []), e]);
        for (const task of p.launched) {
          const d = demandOf(s, task.taskId);
          const group = d.group ?? d.name;
          const offer = s.offers.find((o) => o.id === p.offerByTask[task.taskId])!;
          const before = byGroup.get(group) ?? [];
          for (const c of d.constraints ?? []) expect(violation(c, offer, before), `${task.taskId} on ${offer.hostname}`).toBeUndefined();
          byGroup.set(group, [...before, offer]);
        }
      }),
      RUNS,
    );
  });

  it('accounts for every demand once, in order, with reasons for the unplaced', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const p = run(s);
        const placed = new Set(p.launched.map((t) => t.taskId));
        const unplaced = p.unplaced.map((u) => u.demand.taskId);
        expect(p.launched.map((t) => t.taskId)).toEqual(s.demands.filter((d) => placed.has(d.taskId)).map((d) => d.taskId));
        expect(unplaced).toEqual(s.demands.filter((d) => !placed.has(d.taskId)).map((d) => d.taskId));
        for (const u of p.unplaced) expect(u.reasons.length).toBeGreaterThan(0);
        expect(Object.keys(p.offerByTask).sort()).toEqual([...placed].sort());
      }),
      RUNS,
    );
  });

  it('accepts the offers of agents with tasks and declines the rest, each offer once', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const p = run(s);
        const accepted = p.accepts.flatMap((a) => a.offerIds);
        expect([...accepted, ...p.declineOfferIds].sort()).toEqual(s.offers.map((o) => o.id).sort());
        const agentsWithTasks = new Set(p.launched.map((t) => t.agentId));
        for (const accept of p.accepts) {
          const agents = new Set(accept.offerIds.map((id) => s.offers.find((o) => o.id === id)!.agentId));
          expect(agents.size).toBe(1);
          const [agent] = agents;
          expect(accept.offerIds).toEqual(s.offers.filter((o) => o.agentId === agent).map((o) => o.id));
          const tasks = accept.operations.flatMap((op) => (op.type === 'LAUNCH' ? op.tasks : []));
          expect(tasks.length).toBeGreaterThan(0);
          for (const t of tasks) expect(t.agentId).toBe(agent);
        }
        for (const id of p.declineOfferIds) expect(agentsWithTasks.has(s.offers.find((o) => o.id === id)!.agentId)).toBe(false);
        expect(p.accepts.reduce((n, a) => n + a.operations.reduce((m, op) => m + (op.type === 'LAUNCH' ? op.tasks.length : 0), 0), 0)).toBe(p.launched.length);
      }),
      RUNS,
    );
  });

  it('leaves a demand without constraints unplaced only when no offer has room for it at the end', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const p = run(s);
        const remaining = new Map(
          s.offers.map((o) => {
            const used = p.launched.filter((t) => p.offerByTask[t.taskId] === o.id).reduce<Resource[]>((acc, t) => add(acc, taken(t)), []);
            return [o.id, subtract(o.resources, used)] as const;
          }),
        );
        for (const { demand } of p.unplaced) {
          if ((demand.constraints ?? []).length > 0) continue;
          const own = normalize(
            typeof demand.resources === 'string'
              ? demand.resources.split(';').map((e): Resource => {
                  const [key, amount] = e.split(':');
                  const role = key!.startsWith('cpus(ops)') ? 'ops' : '*';
                  return { name: key!.replace('(ops)', ''), type: 'SCALAR', scalar: Number(amount), role, ...(role === 'ops' ? { reservation: { type: 'STATIC' as const } } : {}) };
                })
              : demand.resources,
          );
          const need = demand.executor === undefined ? own : add(own, demand.executor.resources);
          const total = (demand.ports ?? 0) + (demand.requirePorts ?? []).length;
          for (const [, left] of remaining) {
            const ports = left.filter((r) => r.name === 'ports').flatMap((r) => r.ranges ?? []);
            const fits = contains(left, need) && rangesCount(ports) >= total && (demand.requirePorts ?? []).every((port) => rangesContain(ports, port));
            expect(fits).toBe(false);
          }
        }
      }),
      RUNS,
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        expect(run(s)).toEqual(run(s));
      }),
      { numRuns: 100 },
    );
  });
});
