import { type Offer, parseResources, SchedulerCallSchema, scalar, type TaskInfo, ValidationError } from '@stoa/core';
import { describe, expect, it } from 'vitest';
import { type ExistingTask, type Placement, placeTasks, type TaskDemand } from './place-tasks.js';

function offer(id: string, resources: string, extra: Partial<Offer> = {}): Offer {
  return {
    id,
    frameworkId: 'fw',
    agentId: `agent-${id}`,
    hostname: `host-${id}`,
    role: '*',
    resources: parseResources(resources),
    attributes: {},
    ...extra,
  };
}

let next = 0;
function demand(fields: Partial<TaskDemand> = {}): TaskDemand {
  next++;
  return { taskId: `t${next}`, name: 'app', resources: 'cpus:1;mem:128', command: { value: 'run' }, ...fields };
}

/** Where each launched task went, by task id: the offer's hostname. */
function hosts(p: Placement, offers: Offer[]): string[] {
  return p.launched.map((t) => offers.find((o) => o.id === p.offerByTask[t.taskId])!.hostname);
}

function portsOf(task: TaskInfo): number[] {
  const out: number[] = [];
  for (const r of task.resources) if (r.name === 'ports') for (const x of r.ranges!) for (let n = x.begin; n <= x.end; n++) out.push(n);
  return out;
}

function fieldOf(f: () => unknown): ValidationError {
  try {
    f();
  } catch (e) {
    if (ValidationError.isInstance(e)) return e as ValidationError;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('placeTasks: packing', () => {
  it('puts several tasks into one offer while it has room, first fit in offer order', () => {
    const offers = [offer('o1', 'cpus:2;mem:1024'), offer('o2', 'cpus:4;mem:1024')];
    const p = placeTasks(offers, [demand(), demand(), demand(), demand({ resources: 'cpus:2' })]);
    expect(p.launched.map((t) => p.offerByTask[t.taskId])).toEqual(['o1', 'o1', 'o2', 'o2']);
    expect(p.unplaced).toEqual([]);
    expect(p.declineOfferIds).toEqual([]);
  });

  it('round robin gives each task the next offer that fits, wrapping around', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024'), offer('o2', 'cpus:1;mem:1024'), offer('o3', 'cpus:4;mem:1024')];
    // Demands of different groups (shapes) share the turn: jobs due at one moment spread out.
    const demands = Array.from({ length: 7 }, (_, i) => demand({ name: `job-${i}` }));
    const p = placeTasks(offers, demands, { strategy: 'roundRobin' });
    expect(p.launched.map((t) => p.offerByTask[t.taskId])).toEqual(['o1', 'o2', 'o3', 'o1', 'o3', 'o1', 'o3']);
    // o2 is full after one: the turn skips it. First fit fills o1 first.
    const packed = placeTasks(offers, demands.map((d) => ({ ...d })));
    expect(packed.launched.map((t) => packed.offerByTask[t.taskId])).toEqual(['o1', 'o1', 'o1', 'o1', 'o2', 'o3', 'o3']);
  });

  it('round robin among the offers that pass a demand’s static constraints', () => {
    const offers = ['a', 'b', 'c', 'd'].map((id, i) => offer(id, 'cpus:8;mem:4096', { attributes: { rack: i % 2 === 0 ? 'r1' : 'r2' } }));
    const demands = Array.from({ length: 4 }, () => demand({ constraints: [['rack', 'LIKE', 'r1']] }));
    const p = placeTasks(offers, demands, { strategy: 'roundRobin' });
    expect(p.launched.map((t) => p.offerByTask[t.taskId])).toEqual(['a', 'c', 'a', 'c']);
  });

  it('subtracts as it goes, so a later task goes elsewhere or nowhere', () => {
    const offers = [offer('o1', 'cpus:1.5;mem:256')];
    const p = placeTasks(offers, [demand(), demand()]);
    expect(p.launched).toHaveLength(1);
    expect(p.unplaced[0]!.reasons).toEqual(['insufficient cpus: need 1, offers have at most 0.5']);
  });

  it('gathers the tasks of one agent in one accept with all of its offer ids', () => {
    const offers = [
      offer('o1', 'cpus:1;mem:128', { agentId: 'a1', hostname: 'h1' }),
      offer('o2', 'cpus:1;mem:128', { agentId: 'a2', hostname: 'h2' }),
      offer('o3', 'cpus:2;mem:128', { agentId: 'a1', hostname: 'h1' }),
      offer('o4', 'cpus:1;mem:128', { agentId: 'a3', hostname: 'h3' }),
    ];
    const [d1, d2] = [demand(), demand({ resources: 'cpus:2' })];
    const p = placeTasks(offers, [d1!, d2!]);
    expect(p.accepts).toEqual([
      {
        offerIds: ['o1', 'o3'],
        operations: [{ type: 'LAUNCH', tasks: [p.launched[0], p.launched[1]] }],
      },
    ]);
    expect(p.launched.map((t) => t.agentId)).toEqual(['a1', 'a1']);
    expect(p.offerByTask).toEqual({ [d1!.taskId]: 'o1', [d2!.taskId]: 'o3' });
    expect(p.declineOfferIds).toEqual(['o2', 'o4']);
  });

  it('declines every offer when nothing is placed', () => {
    const offers = [offer('o1', 'cpus:1'), offer('o2', 'cpus:1')];
    const p = placeTasks(offers, []);
    expect(p).toEqual({ accepts: [], launched: [], ports: {}, offerByTask: {}, unplaced: [], declineOfferIds: ['o1', 'o2'] });
  });

  it('makes tasks that the master accepts', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024;ports:[31000-31010]')];
    const p = placeTasks(offers, [
      demand({
        ports: 2,
        env: { MODE: 'prod' },
        labels: { app: 'web' },
        killPolicy: { gracePeriodMs: 1000 },
        healthCheck: { type: 'TCP', tcp: { port: 31000 } },
      }),
    ]);
    for (const accept of p.accepts) {
      const call = { v: 1, type: 'ACCEPT', frameworkId: 'fw', offerIds: accept.offerIds, operations: accept.operations };
      expect(SchedulerCallSchema.safeParse(call).success).toBe(true);
    }
    expect(p.launched[0]).toMatchObject({ labels: { app: 'web' }, killPolicy: { gracePeriodMs: 1000 }, healthCheck: { type: 'TCP' } });
  });

  it('accepts resources as a list as well as text', () => {
    const offers = [offer('o1', 'cpus:2;mem:256')];
    const p = placeTasks(offers, [demand({ resources: [{ name: 'cpus', type: 'SCALAR', scalar: 0.5 }] })]);
    expect(p.launched[0]!.resources).toEqual(parseResources('cpus:0.5'));
  });

  it('takes an executor’s resources from the same offer', () => {
    const offers = [offer('o1', 'cpus:2;mem:512')];
    const executor = { executorId: 'e1', resources: parseResources('cpus:0.5;mem:128') };
    const p = placeTasks(offers, [
      { taskId: 'a', name: 'a', resources: 'cpus:1;mem:128', executor },
      { taskId: 'b', name: 'b', resources: 'cpus:1;mem:128', executor },
    ]);
    expect(p.launched.map((t) => t.taskId)).toEqual(['a']);
    expect(p.launched[0]!.resources).toEqual(parseResources('cpus:1;mem:128'));
    expect(p.launched[0]!.executor).toBe(executor);
    expect(p.unplaced[0]!.reasons).toEqual(['insufficient cpus: need 1.5, offers have at most 0.5']);
  });

  it('matches reserved resources only when asked for by role', () => {
    const offers = [offer('o1', 'cpus(ops):2;mem:256', { role: 'ops' })];
    const p = placeTasks(offers, [demand({ resources: 'cpus:1' }), demand({ resources: 'cpus(ops):1' })]);
    expect(p.unplaced.map((u) => u.reasons)).toEqual([['insufficient cpus: need 1, offers have at most 0']]);
    expect(p.launched[0]!.resources).toEqual(parseResources('cpus(ops):1'));
  });

  it('is deterministic', () => {
    const offers = Array.from({ length: 20 }, (_, i) =>
      offer(`o${i}`, `cpus:${1 + (i % 3)};mem:1024;ports:[${31000 + i * 10}-${31005 + i * 10}]`, {
        attributes: { rack: `r${i % 4}` },
      }),
    );
    const demands = Array.from({ length: 40 }, (_, i) =>
      demand({ group: `g${i % 3}`, ports: i % 2, constraints: i % 3 === 0 ? [['rack', 'GROUP_BY']] : [['hostname', 'MAX_PER', '2']] }),
    );
    expect(placeTasks(offers, demands)).toEqual(placeTasks(offers, demands));
  });

  it('places 10,000 demands over 1,000 offers quickly', () => {
    const offers = Array.from({ length: 1000 }, (_, i) =>
      offer(`o${i}`, 'cpus:16;mem:65536;ports:[31000-32000]', { attributes: { rack: `r${i % 20}` } }),
    );
    const demands = Array.from({ length: 10_000 }, (_, i) =>
      demand({ group: `app${i % 50}`, ports: 1, constraints: i % 5 === 0 ? [['rack', 'GROUP_BY']] : [] }),
    );
    placeTasks(offers, demands); // warm up
    const started = performance.now();
    const p = placeTasks(offers, demands);
    const ms = performance.now() - started;
    expect(p.launched).toHaveLength(10_000);
    // The budget is 100 ms; the bound is loose so that a loaded CI machine does not fail it.
    expect(ms).toBeLessThan(1000);
  });
});

describe('placeTasks: ports', () => {
  it('assigns the lowest free ports, adds them to the resources and the ports map', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024;ports:[31000-31001,31005-31010]')];
    const [d1, d2] = [demand({ ports: 3 }), demand({ ports: 2 })];
    const p = placeTasks(offers, [d1!, d2!]);
    expect(p.ports).toEqual({ [d1!.taskId]: [31000, 31001, 31005], [d2!.taskId]: [31006, 31007] });
    expect(p.launched[0]!.resources).toEqual(parseResources('cpus:1;mem:128;ports:[31000-31001,31005-31005]'));
    expect(portsOf(p.launched[1]!)).toEqual([31006, 31007]);
  });

  it('gives required ports first, then counted ones', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024;ports:[80-80,443-443,31000-31010]')];
    const d = demand({ requirePorts: [443, 80], ports: 1 });
    const p = placeTasks(offers, [d]);
    expect(p.ports[d.taskId]).toEqual([443, 80, 31000]);
    expect(p.launched[0]!.command!.environment).toEqual({ PORT0: '443', PORT1: '80', PORT2: '31000', PORT: '443', PORTS: '443,80,31000' });
  });

  it('sets PORT0..n, PORT and PORTS besides the env and the command’s own environment', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024;ports:[31000-31010]')];
    const command = { value: 'serve', environment: { A: '1', MODE: 'dev' } };
    const p = placeTasks(offers, [demand({ ports: 2, command, env: { MODE: 'prod' } })]);
    expect(p.launched[0]!.command).toEqual({
      value: 'serve',
      environment: { A: '1', MODE: 'prod', PORT0: '31000', PORT1: '31001', PORT: '31000', PORTS: '31000,31001' },
    });
    expect(command.environment).toEqual({ A: '1', MODE: 'dev' });
  });

  it('leaves the environment alone without ports or env', () => {
    const p = placeTasks([offer('o1', 'cpus:1;mem:128')], [demand()]);
    expect(p.launched[0]!.command).toEqual({ value: 'run' });
    expect(p.ports[p.launched[0]!.taskId]).toEqual([]);
  });

  it('never gives one port twice on an agent, across offers and tasks', () => {
    const offers = [
      offer('o1', 'cpus:1;mem:1024;ports:[31000-31002]', { agentId: 'a', hostname: 'h' }),
      offer('o2', 'cpus:4;mem:1024;ports:[31003-31004]', { agentId: 'a', hostname: 'h' }),
    ];
    const p = placeTasks(offers, [demand({ ports: 2 }), demand({ ports: 2 }), demand({ ports: 1 })]);
    expect(Object.values(p.ports)).toEqual([[31000, 31001], [31003, 31004]]);
    expect(p.unplaced[0]!.reasons).toEqual(['no offer satisfies everything at once: insufficient cpus (1 offer), insufficient ports (1 offer)']);
  });

  it('says which required port is missing and when there are too few ports', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024;ports:[31000-31001]'), offer('o2', 'cpus:4;mem:1024;ports:[8080-8080]')];
    const p = placeTasks(offers, [demand({ requirePorts: [80] }), demand({ ports: 3 })]);
    expect(p.unplaced.map((u) => u.reasons)).toEqual([['port 80 is not free in any offer'], ['insufficient ports: need 3, offers have at most 2']]);
  });

  it('a required port goes to one task only', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024;ports:[80-80]'), offer('o2', 'cpus:4;mem:1024;ports:[80-80]')];
    const p = placeTasks(offers, [demand({ requirePorts: [80] }), demand({ requirePorts: [80] }), demand({ requirePorts: [80] })]);
    expect(Object.values(p.offerByTask)).toEqual(['o1', 'o2']);
    expect(p.unplaced[0]!.reasons).toEqual(['insufficient ports: need 1, offers have at most 0', 'port 80 is not free in any offer']);
  });

  it('keeps explicit port ranges of the demand apart from assigned ones', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024;ports:[31000-31003]')];
    const d = demand({ resources: 'cpus:1;ports:[31000-31000]', ports: 2 });
    const p = placeTasks(offers, [d]);
    expect(p.ports[d.taskId]).toEqual([31001, 31002]);
    expect(p.launched[0]!.resources).toEqual(parseResources('cpus:1;ports:[31000-31002]'));
  });
});

describe('placeTasks: why not', () => {
  it('names the short resource with what the offers have at most', () => {
    const offers = [offer('o1', 'cpus:1;mem:4096'), offer('o2', 'cpus:0.5;mem:64')];
    const p = placeTasks(offers, [demand({ resources: 'cpus:2;mem:8192' })]);
    expect(p.unplaced[0]!.reasons).toEqual([
      'insufficient cpus: need 2, offers have at most 1',
      'insufficient mem: need 8192, offers have at most 4096',
    ]);
    expect(p.declineOfferIds).toEqual(['o1', 'o2']);
  });

  it('names a resource no offer has at all', () => {
    const p = placeTasks([offer('o1', 'cpus:4;mem:1024')], [demand({ resources: 'cpus:1;gpus:1' })]);
    expect(p.unplaced[0]!.reasons).toEqual(['insufficient gpus: need 1, offers have at most 0']);
  });

  it('names the failing constraint', () => {
    const offers = [offer('o1', 'cpus:4;mem:1024', { hostname: 'h1' })];
    const p = placeTasks(offers, [demand({ constraints: [['hostname', 'UNIQUE']] }), demand({ constraints: [['hostname', 'UNIQUE']] })]);
    expect(p.unplaced[0]!.reasons).toEqual(['constraint hostname:UNIQUE']);
  });

  it('tells how many offers fail which check when no single check fails everywhere', () => {
    const offers = [
      offer('o1', 'cpus:4;mem:1024', { attributes: { rack: 'r1' } }),
      offer('o2', 'cpus:0.5;mem:1024', { attributes: { rack: 'r2' } }),
      offer('o3', 'cpus:0.5;mem:1024', { attributes: { rack: 'r2' } }),
    ];
    const p = placeTasks(offers, [demand({ constraints: [['rack', 'IS', 'r2']] })]);
    expect(p.unplaced[0]!.reasons).toEqual(['no offer satisfies everything at once: constraint rack:IS:r2 (1 offer), insufficient cpus (2 offers)']);
  });

  it('says when there are no offers', () => {
    expect(placeTasks([], [demand()]).unplaced[0]!.reasons).toEqual(['no offers']);
  });

  it('returns the unplaced demands themselves, in order', () => {
    const ds = [demand({ resources: 'cpus:9' }), demand(), demand({ resources: 'cpus:8' })];
    const p = placeTasks([offer('o1', 'cpus:1;mem:128')], ds);
    expect(p.unplaced.map((u) => u.demand)).toEqual([ds[0], ds[2]]);
  });
});

describe('placeTasks: constraints', () => {
  const rackOffers = () => [
    offer('o1', 'cpus:8;mem:4096', { hostname: 'h1', attributes: { rack: 'r1' }, domain: { region: 'eu', zone: 'a' } }),
    offer('o2', 'cpus:8;mem:4096', { hostname: 'h2', attributes: { rack: 'r1' }, domain: { region: 'eu', zone: 'b' } }),
    offer('o3', 'cpus:8;mem:4096', { hostname: 'h3', attributes: { rack: 'r2' }, domain: { region: 'us', zone: 'c' } }),
    offer('o4', 'cpus:8;mem:4096', { hostname: 'h4', attributes: { rack: 'r3' }, domain: { region: 'us', zone: 'd' } }),
    offer('o5', 'cpus:8;mem:4096', { hostname: 'h5', domain: { region: 'us' } }),
  ];
  const existing = (group: string, hostname: string, rack?: string): ExistingTask => ({
    group,
    hostname,
    agentId: `agent-${hostname}`,
    attributes: rack === undefined ? {} : { rack },
  });

  it('UNIQUE: at most one task of the group per value', () => {
    const offers = rackOffers();
    const ds = Array.from({ length: 4 }, () => demand({ group: 'web', constraints: [['rack', 'UNIQUE']] }));
    const p = placeTasks(offers, ds);
    expect(hosts(p, offers)).toEqual(['h1', 'h3', 'h4']);
    expect(p.unplaced[0]!.reasons).toEqual(['constraint rack:UNIQUE']);
  });

  it('UNIQUE counts existing tasks and only the group', () => {
    const offers = rackOffers();
    const ds = [
      demand({ group: 'web', constraints: [['hostname', 'UNIQUE']] }),
      demand({ group: 'db', constraints: [['hostname', 'UNIQUE']] }),
    ];
    const p = placeTasks(offers, ds, { existing: [existing('web', 'h1'), existing('web', 'h2'), existing('other', 'h3')] });
    expect(hosts(p, offers)).toEqual(['h3', 'h1']);
  });

  it('groups default to the demand’s name', () => {
    const offers = rackOffers();
    const p = placeTasks(offers, [demand({ name: 'x', constraints: [['hostname', 'UNIQUE']] }), demand({ name: 'x', constraints: [['hostname', 'UNIQUE']] })]);
    expect(hosts(p, offers)).toEqual(['h1', 'h2']);
  });

  it('CLUSTER with a value: only that value', () => {
    const offers = rackOffers();
    const p = placeTasks(offers, [demand({ constraints: [['rack', 'CLUSTER', 'r2']] }), demand({ constraints: [['@zone', 'CLUSTER', 'd']] })]);
    expect(hosts(p, offers)).toEqual(['h3', 'h4']);
  });

  it('CLUSTER without a value: the value of the group’s first task', () => {
    const offers = [
      offer('o0', 'cpus:8;mem:4096', { hostname: 'h0' }),
      offer('o1', 'cpus:1;mem:4096', { hostname: 'h1', attributes: { rack: 'r1' } }),
      ...rackOffers().slice(1),
    ];
    const ds = Array.from({ length: 3 }, () => demand({ group: 'g', constraints: [['rack', 'CLUSTER']] }));
    const p = placeTasks(offers, ds);
    // h0 lacks the field; h1 sets the value r1 and is then full; h2 is the other r1.
    expect(hosts(p, offers)).toEqual(['h1', 'h2', 'h2']);
  });

  it('CLUSTER without a value follows existing tasks', () => {
    const offers = rackOffers();
    const p = placeTasks(offers, [demand({ group: 'g', constraints: [['rack', 'CLUSTER']] })], { existing: [existing('g', 'hx', 'r3')] });
    expect(hosts(p, offers)).toEqual(['h4']);
    const none = placeTasks(offers.slice(0, 3), [demand({ group: 'g', constraints: [['rack', 'CLUSTER']] })], { existing: [existing('g', 'hx', 'r3')] });
    expect(none.unplaced[0]!.reasons).toEqual(['constraint rack:CLUSTER']);
  });

  it('GROUP_BY: spreads evenly over the values, least loaded first', () => {
    const offers = rackOffers();
    const ds = Array.from({ length: 7 }, () => demand({ group: 'g', constraints: [['rack', 'GROUP_BY']] }));
    const p = placeTasks(offers, ds);
    expect(hosts(p, offers)).toEqual(['h1', 'h3', 'h4', 'h1', 'h3', 'h4', 'h1']);
  });

  it('GROUP_BY counts existing tasks, also on values with no offer now', () => {
    const offers = rackOffers();
    const ds = Array.from({ length: 4 }, () => demand({ group: 'g', constraints: [['rack', 'GROUP_BY']] }));
    const p = placeTasks(offers, ds, {
      existing: [existing('g', 'h1', 'r1'), existing('g', 'h1', 'r1'), existing('g', 'h3', 'r2'), existing('g', 'hz', 'r9')],
    });
    // r1:2, r2:1, r3:0 and r9:1 (no offer now): r3 first, then r2 and r3 up to r1's 2; r9 is behind, so no more.
    expect(hosts(p, offers)).toEqual(['h4', 'h3', 'h4']);
    expect(p.unplaced[0]!.reasons).toEqual(['constraint rack:GROUP_BY']);
  });

  it('GROUP_BY with a count waits for that many values before doubling up', () => {
    const offers = rackOffers().slice(0, 3); // racks r1, r1, r2
    const ds = Array.from({ length: 4 }, () => demand({ group: 'g', constraints: [['rack', 'GROUP_BY', '3']] }));
    const p = placeTasks(offers, ds);
    expect(hosts(p, offers)).toEqual(['h1', 'h3']);
    expect(p.unplaced.map((u) => u.reasons)).toEqual([['constraint rack:GROUP_BY:3'], ['constraint rack:GROUP_BY:3']]);
    const enough = placeTasks(rackOffers(), ds);
    expect(hosts(enough, rackOffers())).toEqual(['h1', 'h3', 'h4', 'h1']);
  });

  it('GROUP_BY skips values whose offers are full', () => {
    const offers = [
      offer('o1', 'cpus:1;mem:4096', { hostname: 'h1', attributes: { rack: 'r1' } }),
      offer('o2', 'cpus:8;mem:4096', { hostname: 'h2', attributes: { rack: 'r2' } }),
    ];
    const ds = Array.from({ length: 4 }, () => demand({ group: 'g', constraints: [['rack', 'GROUP_BY']] }));
    const p = placeTasks(offers, ds);
    // r1 is full after one task; r2 may catch up with it, not run ahead.
    expect(hosts(p, offers)).toEqual(['h1', 'h2', 'h2']);
    expect(p.unplaced[0]!.reasons).toEqual(['no offer satisfies everything at once: insufficient cpus (1 offer), constraint rack:GROUP_BY (1 offer)']);
  });

  it('LIKE and UNLIKE match whole values; UNLIKE accepts offers without the field', () => {
    const offers = rackOffers();
    const like = placeTasks(offers, [demand({ constraints: [['rack', 'LIKE', 'r[23]']] })]);
    expect(hosts(like, offers)).toEqual(['h3']);
    const unlike = Array.from({ length: 3 }, () => demand({ resources: 'cpus:8', constraints: [['rack', 'UNLIKE', 'r[12]']] }));
    expect(hosts(placeTasks(offers, unlike), offers)).toEqual(['h4', 'h5']);
    const partial = placeTasks(offers, [demand({ constraints: [['rack', 'LIKE', 'r']] })]);
    expect(partial.unplaced[0]!.reasons).toEqual(['constraint rack:LIKE:r']);
  });

  it('MAX_PER: at most n tasks of the group per value, existing included', () => {
    const offers = rackOffers();
    const ds = Array.from({ length: 6 }, () => demand({ group: 'g', constraints: [['rack', 'MAX_PER', '2']] }));
    const p = placeTasks(offers, ds, { existing: [existing('g', 'h1', 'r1')] });
    expect(hosts(p, offers)).toEqual(['h1', 'h3', 'h3', 'h4', 'h4']);
    expect(p.unplaced[0]!.reasons).toEqual(['constraint rack:MAX_PER:2']);
  });

  it('IS and EQUALS: the field equals the value; fault domain fields too', () => {
    const offers = rackOffers();
    const p = placeTasks(offers, [
      demand({ constraints: [['rack', 'IS', 'r3']] }),
      demand({ constraints: [['rack', 'EQUALS', 'r2']] }),
      demand({ constraints: [['@region', 'IS', 'us'], ['@zone', 'IS', 'd']] }),
      demand({ constraints: [['hostname', 'IS', 'h5']] }),
      demand({ constraints: [['rack', 'IS', 'r9']] }),
    ]);
    expect(hosts(p, offers)).toEqual(['h4', 'h3', 'h4', 'h5']);
    expect(p.unplaced[0]!.reasons).toEqual(['constraint rack:IS:r9']);
  });

  it('combines constraints', () => {
    const offers = rackOffers();
    const ds = Array.from({ length: 4 }, () => demand({ group: 'g', constraints: [['@region', 'IS', 'us'], ['hostname', 'UNIQUE']] }));
    const p = placeTasks(offers, ds);
    expect(hosts(p, offers)).toEqual(['h3', 'h4', 'h5']);
  });

  it('with two GROUP_BY, the first orders values, the second orders offers of a value and refuses values ahead', () => {
    const offers = rackOffers().slice(0, 4); // eu: h1 (r1), h2 (r1); us: h3 (r2), h4 (r3)
    const ds = Array.from({ length: 6 }, () => demand({ group: 'g', constraints: [['@region', 'GROUP_BY'], ['rack', 'GROUP_BY']] }));
    const p = placeTasks(offers, ds);
    // The fifth would put r1 ahead of r3, so it goes to us; the sixth would put either ahead.
    expect(hosts(p, offers)).toEqual(['h1', 'h3', 'h1', 'h4', 'h3']);
    expect(p.unplaced).toHaveLength(1);
  });
});

describe('placeTasks: bad input', () => {
  it('names a bad constraint as constraints.<i>, with the demand', () => {
    const e = fieldOf(() => placeTasks([offer('o1', 'cpus:1')], [demand(), demand({ taskId: 'bad', constraints: [['hostname', 'UNIQUE'], ['rack', 'MAX_PER']] })]));
    expect(e.field).toBe('constraints.1');
    expect(e.details).toMatchObject({ demand: 1, taskId: 'bad' });
    expect(e.message).toMatch(/task "bad".*MAX_PER/);
  });

  it('rejects resources that do not parse, bad ports, repeated ids and empty demands', () => {
    expect(fieldOf(() => placeTasks([], [demand({ resources: 'cpus:lots' })])).field).toBe('demands.0.resources');
    expect(fieldOf(() => placeTasks([], [demand({ resources: [{ name: 'cpus', type: 'RANGES', ranges: [] }] })])).field).toMatch(/^demands\.0\.resources/);
    expect(fieldOf(() => placeTasks([], [demand({ ports: -1 })])).field).toBe('demands.0.ports');
    expect(fieldOf(() => placeTasks([], [demand({ requirePorts: [80, 80] })])).field).toBe('demands.0.requirePorts.1');
    expect(fieldOf(() => placeTasks([], [demand({ taskId: 'x' }), demand({ taskId: 'x' })])).field).toBe('demands.1.taskId');
    expect(fieldOf(() => placeTasks([], [demand({ resources: '' })])).field).toBe('demands.0.resources');
    expect(fieldOf(() => placeTasks([offer('o1', 'cpus:1'), offer('o1', 'cpus:1')], [])).field).toBe('offers.1.id');
  });

  it('accepts a demand of ports only', () => {
    const p = placeTasks([offer('o1', 'cpus:1;ports:[5-9]')], [demand({ resources: '', ports: 1 })]);
    expect(p.launched[0]!.resources).toEqual(parseResources('ports:[5-5]'));
    expect(scalar(p.launched[0]!.resources, 'cpus')).toBe(0);
  });
});
