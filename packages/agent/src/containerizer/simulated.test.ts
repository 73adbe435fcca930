/**
 * The simulated containerizer beyond the conformance suite: timing, fail rates, its one shared
 * timer, and its cost at benchmark scale.
 *
 * @module
 */

import type { Resource } from '@stoa/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerLaunch } from './containerizer.js';
import { SimulatedContainerizer, type SimulatedContainerizerOptions } from './index.js';

const resources: Resource[] = [{ name: 'cpus', type: 'SCALAR', scalar: 0.1 }];
const open: SimulatedContainerizer[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close({ killAll: true });
});

function make(options: SimulatedContainerizerOptions = {}): SimulatedContainerizer {
  const c = new SimulatedContainerizer(options);
  open.push(c);
  return c;
}

function spec(containerId: string, simulation?: ContainerLaunch['simulation']): ContainerLaunch {
  return { containerId, command: { value: 'true' }, sandboxDir: '/unused', env: {}, resources, ...(simulation && { simulation }) };
}

const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('SimulatedContainerizer', () => {
  it('fails at the fail rate unless the launch sets an exit code', async () => {
    let next = 0.1;
    const c = make({ failRate: 0.5, random: () => next });
    await c.launch(spec('unlucky', { runForMs: 0 }));
    expect(await c.wait('unlucky')).toMatchObject({ exitCode: 1 });
    next = 0.9;
    await c.launch(spec('lucky', { runForMs: 0 }));
    expect(await c.wait('lucky')).toMatchObject({ exitCode: 0 });
    next = 0;
    await c.launch(spec('explicit', { runForMs: 0, exitCode: 0 }));
    expect(await c.wait('explicit')).toMatchObject({ exitCode: 0 });
  });

  it('runs for defaultRunForMs when the launch does not say', async () => {
    const c = make({ defaultRunForMs: 30 });
    const started = Date.now();
    await c.launch(spec('default'));
    expect(c.running).toBe(1);
    expect(await c.wait('default')).toMatchObject({ exitCode: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(c.running).toBe(0);
  });

  it('ends containers in the order of their deadlines', async () => {
    const c = make();
    const order: string[] = [];
    for (const [id, ms] of [['c', 60], ['a', 10], ['b', 35], ['d', 0]] as const) {
      await c.launch(spec(id, { runForMs: ms }));
      void c.wait(id).then(() => order.push(id));
    }
    await c.wait('c');
    await Promise.resolve();
    expect(order).toEqual(['d', 'a', 'b', 'c']);
  });

  it('keeps a killed container killed when its deadline passes, also after a relaunch of its id', async () => {
    const c = make();
    await c.launch(spec('k', { runForMs: 20, exitCode: 5 }));
    await c.kill('k', 1_000);
    expect(await c.wait('k')).toEqual({ signal: 'SIGTERM', message: 'killed by SIGTERM' });
    await c.cleanup('k');
    await c.launch(spec('k', { runForMs: 50, exitCode: 6 }));
    const started = Date.now();
    expect(await c.wait('k')).toMatchObject({ exitCode: 6 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('arms no timer for endless containers and one timer for any number of finite ones', async () => {
    const c = make();
    const before = activeTimers();
    for (let i = 0; i < 1_000; i++) await c.launch(spec(`endless-${i}`));
    expect(activeTimers()).toBe(before);
    for (let i = 0; i < 1_000; i++) await c.launch(spec(`finite-${i}`, { runForMs: 60_000 + i }));
    expect(activeTimers()).toBe(before + 1);
    await c.close({ killAll: true });
    expect(activeTimers()).toBe(before);
  });

  it('launches and ends 100,000 containers quickly', { timeout: 20_000 }, async () => {
    const c = make({ failRate: 0.1 });
    const started = Date.now();
    const n = 100_000;
    const launches: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) launches.push(c.launch(spec(`t-${i}`, { runForMs: i % 50 })));
    await Promise.all(launches);
    const exits = await Promise.all(Array.from({ length: n }, (_, i) => c.wait(`t-${i}`)));
    const failed = exits.filter((e) => e.exitCode === 1).length;
    expect(failed).toBeGreaterThan(n * 0.05);
    expect(failed).toBeLessThan(n * 0.15);
    expect(c.running).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('recovers nothing: every known container is exited with unknown', async () => {
    const c = make();
    expect(await c.recover([{ containerId: 'old', sandboxDir: '/unused' }])).toEqual([
      { containerId: 'old', state: 'exited', exit: { unknown: true, message: 'simulated containers do not survive a restart' } },
    ]);
    expect(await c.wait('old')).toMatchObject({ unknown: true });
    await c.cleanup('old');
  });

  it('reports bare usage while running and none after', async () => {
    const c = make();
    await c.launch(spec('u'));
    expect(await c.usage('u')).toEqual({ timestampMs: expect.any(Number) });
    await c.kill('u', 0);
    expect(await c.usage('u')).toBeUndefined();
  });

  it('rejects pending waits with CancelledError on a plain close', async () => {
    const c = make();
    await c.launch(spec('forever'));
    const waited = c.wait('forever');
    await c.close();
    await expect(waited).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(c.launch(spec('late'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(c.state).toBe('closed');
  });
});
