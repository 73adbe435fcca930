import { placeTasks, type Offer } from '@stoa/sdk';
import { describe, expect, it } from 'vitest';
import { constraintFieldKind, constraintProblems, toPlacementConstraints } from './constraints.js';

describe('constraintFieldKind', () => {
  it('tells hostname, fault-domain fields and attributes apart', () => {
    expect(constraintFieldKind('hostname')).toBe('hostname');
    expect(constraintFieldKind('@hostname')).toBe('hostname');
    expect(constraintFieldKind('@region')).toBe('region');
    expect(constraintFieldKind('@zone')).toBe('zone');
    expect(constraintFieldKind('@rack')).toBe('rack');
    expect(constraintFieldKind('rack_id')).toBe('attribute');
    expect(constraintFieldKind('@datacenter')).toBeUndefined();
  });
});

describe('constraintProblems', () => {
  it('accepts every operator in its Marathon form', () => {
    for (const c of [
      ['hostname', 'UNIQUE'],
      ['rack', 'CLUSTER'],
      ['rack', 'CLUSTER', 'r1'],
      ['rack', 'CLUSTER', ''],
      ['@zone', 'GROUP_BY'],
      ['@zone', 'GROUP_BY', '3'],
      ['rack', 'LIKE', 'r[12]'],
      ['rack', 'UNLIKE', 'r3'],
      ['rack', 'MAX_PER', '2'],
      ['@region', 'IS', 'eu-west'],
    ]) {
      expect(constraintProblems(c), JSON.stringify(c)).toEqual([]);
    }
  });

  it('explains what is wrong', () => {
    expect(constraintProblems(['rack', 'MAX_PER', '1.5'])).toEqual(['MAX_PER needs a positive whole number']);
    expect(constraintProblems(['rack', 'GROUP_BY', '0'])).toHaveLength(1);
    expect(constraintProblems(['rack', 'IS', ''])).toEqual(['IS needs a value']);
    expect(constraintProblems([1, 'UNIQUE'])).toEqual(['the field must be a non-empty string']);
    expect(constraintProblems(['@dc', 'NOPE'])).toHaveLength(2);
    expect(constraintProblems({ field: 'rack' })).toHaveLength(1);
    expect(constraintProblems(['a', 'UNIQUE', 'b', 'c'])).toHaveLength(1);
  });
});

describe('toPlacementConstraints', () => {
  it('maps @hostname to hostname and keeps the rest', () => {
    expect(
      toPlacementConstraints([
        ['@hostname', 'UNIQUE'],
        ['@zone', 'GROUP_BY', '3'],
        ['rack', 'CLUSTER', ''],
        ['rack', 'MAX_PER', '2'],
        ['@region', 'IS', 'eu'],
        ['disk', 'LIKE', 'ssd|nvme'],
      ]),
    ).toEqual([
      ['hostname', 'UNIQUE'],
      ['@zone', 'GROUP_BY', '3'],
      ['rack', 'CLUSTER'],
      ['rack', 'MAX_PER', '2'],
      ['@region', 'IS', 'eu'],
      ['disk', 'LIKE', 'ssd|nvme'],
    ]);
  });

  it('gives constraints the SDK places with Marathon semantics', () => {
    const offer = (n: number, zone: string, rack: string): Offer =>
      ({
        id: `o${n}`,
        frameworkId: 'f',
        agentId: `a${n}`,
        hostname: `host-${n}`,
        role: '*',
        resources: [
          { name: 'cpus', type: 'SCALAR', scalar: 4 },
          { name: 'mem', type: 'SCALAR', scalar: 4096 },
        ],
        attributes: { rack },
        domain: { region: 'eu', zone },
      }) satisfies Offer;
    const offers = [offer(1, 'a', 'r1'), offer(2, 'a', 'r2'), offer(3, 'b', 'r1')];
    const constraints = toPlacementConstraints([
      ['@hostname', 'UNIQUE'],
      ['@zone', 'IS', 'a'],
    ]);
    const demands = ['t1', 't2', 't3'].map((taskId) => ({ taskId, name: 'web', group: '/web', resources: 'cpus:1;mem:128', command: { value: 'x' }, constraints }));
    const placement = placeTasks(offers, demands);
    const agents = placement.accepts.flatMap((a) => a.operations.flatMap((op) => (op.type === 'LAUNCH' ? op.tasks.map((t) => t.agentId) : [])));
    expect(agents.sort()).toEqual(['a1', 'a2']);
    expect(placement.unplaced.map((u) => u.demand.taskId)).toEqual(['t3']);
  });
});
