import { parseResources } from '@stoa/sdk';
import { describe, expect, it } from 'vitest';
import { allowedLevel, chooseTasksForOffer, type LocalityCandidate, localityLevels, matchLevel } from './locality.js';

const small = parseResources('cpus:1;mem:128');
const task = (taskId: string, prefer: LocalityCandidate['prefer'], pendingSinceMs = 0): LocalityCandidate => ({
  taskId,
  resources: small,
  prefer,
  localityWaitMs: 1000,
  pendingSinceMs,
});
const offer = (hostname: string, rack?: string, zone?: string, resources = 'cpus:4;mem:1024') => ({
  hostname,
  attributes: { ...(rack ? { rack } : {}) },
  ...(zone ? { domain: { zone } } : {}),
  resources: parseResources(resources),
});

describe('delay scheduling', () => {
  it('lists the levels a task relaxes through', () => {
    expect(localityLevels(undefined)).toEqual(['ANY']);
    expect(localityLevels({ hosts: ['h'], zones: ['z'] })).toEqual(['HOST', 'ZONE', 'ANY']);
    expect(localityLevels({ hosts: [], racks: ['r'] })).toEqual(['RACK', 'ANY']);
  });

  it('matches an offer at its best level', () => {
    const prefer = { hosts: ['h1'], racks: ['r1'], zones: ['z1'] };
    expect(matchLevel(prefer, offer('h1', 'r9'))).toBe('HOST');
    expect(matchLevel(prefer, offer('h2', 'r1'))).toBe('RACK');
    expect(matchLevel(prefer, { hostname: 'h2', domain: { rack: 'r1' }, attributes: { rack: 'r9' } })).toBe('RACK');
    expect(matchLevel(prefer, offer('h2', 'r2', 'z1'))).toBe('ZONE');
    expect(matchLevel(prefer, offer('h2', 'r2', 'z2'))).toBe('ANY');
  });

  it('relaxes one level per wait', () => {
    const t = task('t', { hosts: ['h1'], racks: ['r1'], zones: ['z1'] }, 10_000);
    expect(allowedLevel(t, 10_000)).toBe('HOST');
    expect(allowedLevel(t, 10_999)).toBe('HOST');
    expect(allowedLevel(t, 11_000)).toBe('RACK');
    expect(allowedLevel(t, 12_000)).toBe('ZONE');
    expect(allowedLevel(t, 13_000)).toBe('ANY');
    expect(allowedLevel({ ...t, localityWaitMs: 0 }, 10_000)).toBe('ANY');
  });

  it('takes matching offers at once and others only after waiting', () => {
    const pending = [task('local', { hosts: ['h1'], racks: ['r1'] }), task('any', undefined), task('rack', { racks: ['r2'] })];
    const at0 = chooseTasksForOffer(pending, offer('h1', 'r1'), 0);
    expect(at0.chosen).toEqual([
      { taskId: 'local', level: 'HOST' },
      { taskId: 'any', level: 'ANY' },
    ]);
    expect(at0.nextRelaxAtMs).toBe(1000); // 'rack' takes any place after one wait
    const elsewhere = chooseTasksForOffer(pending, offer('h9', 'r1'), 500);
    expect(elsewhere.chosen.map((c) => c.taskId)).toEqual(['any']);
    expect(elsewhere.nextRelaxAtMs).toBe(1000);
    expect(chooseTasksForOffer(pending, offer('h9', 'r1'), 1000).chosen).toEqual([
      { taskId: 'local', level: 'RACK' },
      { taskId: 'any', level: 'ANY' },
      { taskId: 'rack', level: 'ANY' },
    ]);
    expect(chooseTasksForOffer(pending, offer('h9', 'r9'), 1999).chosen.map((c) => c.taskId)).toEqual(['any', 'rack']);
    expect(chooseTasksForOffer(pending, offer('h9', 'r9'), 2000).chosen.map((c) => c.taskId)).toEqual(['local', 'any', 'rack']);
  });

  it('fits tasks in the offer, the limit and a reserve', () => {
    const many = Array.from({ length: 6 }, (_, i) => task(`t${i}`, undefined));
    const r = chooseTasksForOffer(many, offer('h', undefined, undefined, 'cpus:4;mem:1024'), 0);
    expect(r.chosen).toHaveLength(4);
    expect(r.remaining).toEqual(parseResources('mem:512'));
    expect(chooseTasksForOffer(many, offer('h'), 0, { limit: 2 }).chosen).toHaveLength(2);
    expect(chooseTasksForOffer(many, offer('h'), 0, { reserve: parseResources('cpus:1;mem:512') }).chosen).toHaveLength(3);
    expect(chooseTasksForOffer(many, offer('h'), 0, { reserve: parseResources('cpus:8') }).chosen).toHaveLength(0);
    expect(chooseTasksForOffer(many, { hostname: 'h' }, 0).chosen).toHaveLength(6);
  });
});
