import { describe, expect, it } from 'vitest';
import type { InstanceView } from './deployable-app.js';
import { orderForKill, scaleDecision } from './scale.js';

function instance(id: string, startedAt: number, overrides: Partial<InstanceView> = {}): InstanceView {
  return { id, startedAt, state: 'running', healthy: true, ready: true, ...overrides };
}

const running = [instance('a', 1), instance('b', 2), instance('c', 3), instance('d', 4)];

describe('scaleDecision', () => {
  it('launches the missing instances', () => {
    const app = { instances: 6, killSelection: 'YOUNGEST_FIRST' as const, hasHealthChecks: false };
    expect(scaleDecision(app, { instances: running })).toEqual({ launch: 2, dequeue: 0, kill: [] });
    expect(scaleDecision(app, { instances: running, queued: 1 })).toEqual({ launch: 1, dequeue: 0, kill: [] });
  });

  it('does nothing at the instance count', () => {
    const app = { instances: 4, killSelection: 'YOUNGEST_FIRST' as const, hasHealthChecks: false };
    expect(scaleDecision(app, { instances: running })).toEqual({ launch: 0, dequeue: 0, kill: [] });
  });

  it('kills the youngest or the oldest first, per killSelection', () => {
    expect(scaleDecision({ instances: 2, killSelection: 'YOUNGEST_FIRST', hasHealthChecks: false }, { instances: running }).kill).toEqual(['d', 'c']);
    expect(scaleDecision({ instances: 2, killSelection: 'OLDEST_FIRST', hasHealthChecks: false }, { instances: running }).kill).toEqual(['a', 'b']);
  });

  it('drops queued launches before killing anything', () => {
    const app = { instances: 3, killSelection: 'YOUNGEST_FIRST' as const, hasHealthChecks: false };
    expect(scaleDecision(app, { instances: running, queued: 2 })).toEqual({ launch: 0, dequeue: 2, kill: ['d'] });
    expect(scaleDecision({ ...app, instances: 5 }, { instances: running, queued: 2 })).toEqual({ launch: 0, dequeue: 1, kill: [] });
  });

  it('does not count instances already being killed', () => {
    const app = { instances: 4, killSelection: 'YOUNGEST_FIRST' as const, hasHealthChecks: false };
    const withKilling = [...running.slice(0, 3), instance('d', 4, { state: 'killing' })];
    expect(scaleDecision(app, { instances: withKilling })).toEqual({ launch: 1, dequeue: 0, kill: [] });
  });

  it('kills sentenced instances first and counts them toward the scale-down (Marathon sentencedToDeath)', () => {
    const app = { instances: 3, killSelection: 'YOUNGEST_FIRST' as const, hasHealthChecks: false };
    expect(scaleDecision(app, { instances: running, sentenced: ['a'] })).toEqual({ launch: 0, dequeue: 0, kill: ['a'] });
    expect(scaleDecision({ ...app, instances: 4 }, { instances: running, sentenced: ['a'] })).toEqual({ launch: 1, dequeue: 0, kill: ['a'] });
    expect(scaleDecision({ ...app, instances: 2 }, { instances: running, sentenced: ['b'] })).toEqual({ launch: 0, dequeue: 0, kill: ['b', 'd'] });
  });
});

describe('orderForKill', () => {
  const mixed = [
    instance('healthy-old', 1),
    instance('staging-old', 2, { state: 'staging', healthy: false }),
    instance('unhealthy', 3, { healthy: false }),
    instance('healthy-young', 4),
    instance('staging-young', 5, { state: 'staging', healthy: false }),
    instance('dying', 6, { state: 'killing' }),
  ];

  it('puts unhealthy, then staging, then healthy instances first; leaves out those being killed', () => {
    const order = orderForKill(mixed, { killSelection: 'YOUNGEST_FIRST', hasHealthChecks: true }).map((i) => i.id);
    expect(order).toEqual(['unhealthy', 'staging-young', 'staging-old', 'healthy-young', 'healthy-old']);
  });

  it('ignores health for an app without health checks', () => {
    const order = orderForKill(mixed, { killSelection: 'OLDEST_FIRST', hasHealthChecks: false }).map((i) => i.id);
    expect(order).toEqual(['staging-old', 'staging-young', 'healthy-old', 'unhealthy', 'healthy-young']);
  });

  it('breaks ties of start time by id', () => {
    const twins = [instance('b', 1), instance('a', 1)];
    expect(orderForKill(twins, { killSelection: 'YOUNGEST_FIRST', hasHealthChecks: false }).map((i) => i.id)).toEqual(['a', 'b']);
  });
});
