import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { assertToken, subjectMatches, subjects } from './subjects.js';

describe('subjects', () => {
  const s = subjects();

  it('builds every subject of the design', () => {
    expect(s.schedulerCalls('alice')).toBe('stoa.master.scheduler.alice');
    expect(s.allSchedulerCalls).toBe('stoa.master.scheduler.*');
    expect(s.frameworkEvents('alice', 'f-1')).toBe('stoa.framework.alice.f-1');
    expect(s.agentCalls('agents')).toBe('stoa.master.agent.agents');
    expect(s.agentCommands('a-1')).toBe('stoa.agent.a-1');
    expect(s.executor('a-1', 'e-1')).toBe('stoa.executor.a-1.e-1');
    expect(s.executorCalls('a-1', 'e-1')).toBe('stoa.executor.a-1.e-1.calls');
    expect(s.operator).toBe('stoa.master.operator');
    expect(s.leader).toBe('stoa.master.leader');
    expect(s.clusterEvents('task')).toBe('stoa.events.task');
  });

  it('parses what it builds, also under a dotted prefix', () => {
    for (const prefix of ['stoa', 'prod.eu']) {
      const t = subjects(prefix);
      expect(t.parse(t.schedulerCalls('p'))).toEqual({ kind: 'schedulerCalls', principal: 'p' });
      expect(t.parse(t.frameworkEvents('p', 'f'))).toEqual({ kind: 'frameworkEvents', principal: 'p', frameworkId: 'f' });
      expect(t.parse(t.agentCalls('p'))).toEqual({ kind: 'agentCalls', principal: 'p' });
      expect(t.parse(t.agentCommands('a'))).toEqual({ kind: 'agentCommands', agentId: 'a' });
      expect(t.parse(t.executor('a', 'e'))).toEqual({ kind: 'executor', agentId: 'a', executorId: 'e' });
      expect(t.parse(t.executorCalls('a', 'e'))).toEqual({ kind: 'executorCalls', agentId: 'a', executorId: 'e' });
      expect(t.parse(t.operator)).toEqual({ kind: 'operator' });
      expect(t.parse(t.leader)).toEqual({ kind: 'leader' });
      expect(t.parse(t.clusterEvents('agent'))).toEqual({ kind: 'clusterEvents', eventKind: 'agent' });
    }
    expect(s.parse('other.agent.a')).toBeUndefined();
    expect(s.parse('stoa.agent')).toBeUndefined();
    expect(s.parse('stoa.nothing.here.at.all')).toBeUndefined();
  });

  it('refuses tokens that would widen a subscription', () => {
    for (const bad of ['', 'a.b', '*', '>', 'a b', 'x>']) {
      expect(() => s.agentCommands(bad)).toThrow(ValidationError);
    }
    expect(() => assertToken('ok-1_2:3', 'id')).not.toThrow();
  });

  it('matches wildcards as NATS does', () => {
    expect(subjectMatches('a.*.c', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.*.c', 'a.b.d')).toBe(false);
    expect(subjectMatches('a.*', 'a.b.c')).toBe(false);
    expect(subjectMatches('a.>', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('>', 'a')).toBe(true);
    expect(subjectMatches('a.b', 'a.b')).toBe(true);
    expect(subjectMatches('a.b', 'a.b.c')).toBe(false);
  });

  it('a concrete subject always matches itself, its `>` prefixes and its `*` masks', () => {
    const token = fc.stringMatching(/^[a-z0-9-]{1,6}$/);
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 6 }), fc.nat(), (tokens, k) => {
        const subject = tokens.join('.');
        const i = k % tokens.length;
        const star = tokens.map((t, j) => (j === i ? '*' : t)).join('.');
        const tail = [...tokens.slice(0, i), '>'].join('.');
        return subjectMatches(subject, subject) && subjectMatches(star, subject) && subjectMatches(tail, subject);
      }),
      { numRuns: 300 },
    );
  });
});
