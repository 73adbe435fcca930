/**
 * The containerizer conformance suite: the behaviours every {@link Containerizer} shares, run
 * against each implementation by its own test file. Each launch carries both a real `command`
 * (for `process`) and a `simulation` (for `simulated`) that mean the same thing.
 *
 * @example
 * ```ts
 * describeContainerizerConformance('simulated', async () => ({
 *   containerizer: new SimulatedContainerizer(),
 *   sandbox: async () => '/unused',
 *   dispose: async () => {},
 * }));
 * ```
 * @module
 */

import { IsolationSchema, type Resource } from '@stoa/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ContainerLaunch, Containerizer } from '../src/containerizer/index.js';

/** What a conformance run needs from an implementation. */
export interface ConformanceFixture {
  /** A fresh containerizer for one test. */
  containerizer: Containerizer;
  /** A fresh sandbox directory for a container. */
  sandbox(containerId: string): Promise<string>;
  /** Kills what is left and removes temp files. */
  dispose(): Promise<void>;
  /** How many containers "many concurrent launches" starts. @default 20 */
  many?: number;
}

const resources: Resource[] = [
  { name: 'cpus', type: 'SCALAR', scalar: 0.1 },
  { name: 'mem', type: 'SCALAR', scalar: 64 },
];

/** Runs the shared behaviours against the containerizers that `factory` makes. */
export function describeContainerizerConformance(name: string, factory: () => Promise<ConformanceFixture>): void {
  describe(`containerizer conformance: ${name}`, () => {
    let fx: ConformanceFixture;
    let c: Containerizer;

    beforeEach(async () => {
      fx = await factory();
      c = fx.containerizer;
    });
    afterEach(async () => {
      await fx.dispose();
    });

    async function spec(containerId: string, value: string, simulation: ContainerLaunch['simulation'] = {}): Promise<ContainerLaunch> {
      return { containerId, command: { value }, sandboxDir: await fx.sandbox(containerId), env: {}, resources, simulation };
    }
    /** A task that runs until it is killed. */
    const endless = (id: string) => spec(id, 'sleep 30');

    it('reports a valid isolation', () => {
      const isolation = c.isolation();
      expect(IsolationSchema.parse(isolation)).toEqual(isolation);
    });

    it('launches a task that exits 0', async () => {
      await c.launch(await spec('ok', 'exit 0', { runForMs: 20, exitCode: 0 }));
      expect(await c.wait('ok')).toMatchObject({ exitCode: 0 });
    });

    it('reports a non-zero exit code', async () => {
      await c.launch(await spec('three', 'exit 3', { runForMs: 20, exitCode: 3 }));
      const exit = await c.wait('three');
      expect(exit.exitCode).toBe(3);
      expect(exit.signal).toBeUndefined();
    });

    it('kills a running task, which ends with a signal', async () => {
      await c.launch(await endless('long'));
      const waited = c.wait('long');
      expect(await c.usage('long')).toMatchObject({ timestampMs: expect.any(Number) });
      await c.kill('long', 5_000);
      const exit = await waited;
      expect(exit.signal).toBe('SIGTERM');
      expect(exit.exitCode).toBeUndefined();
      expect(await c.usage('long')).toBeUndefined();
    });

    it('treats a kill of an ended task as a no-op', async () => {
      await c.launch(await spec('done', 'exit 0', { runForMs: 10, exitCode: 0 }));
      await c.wait('done');
      await c.kill('done', 1_000);
      expect(await c.wait('done')).toMatchObject({ exitCode: 0 });
    });

    it('resolves a wait after the exit at once, as often as asked', async () => {
      await c.launch(await spec('twice', 'exit 4', { runForMs: 10, exitCode: 4 }));
      const first = await c.wait('twice');
      const started = Date.now();
      const [second, third] = await Promise.all([c.wait('twice'), c.wait('twice')]);
      expect(Date.now() - started).toBeLessThan(100);
      expect(second).toEqual(first);
      expect(third).toEqual(first);
    });

    it('throws NotFoundError for unknown ids', async () => {
      const notFound = { code: 'NOT_FOUND', name: 'NotFoundError' };
      await expect(c.wait('nope')).rejects.toMatchObject(notFound);
      await expect(c.kill('nope', 0)).rejects.toMatchObject(notFound);
      await expect(c.usage('nope')).rejects.toMatchObject(notFound);
      await expect(c.cleanup('nope')).rejects.toMatchObject(notFound);
    });

    it('rejects a command without a value and a reused id with InvalidOperationError', async () => {
      const invalid = { code: 'INVALID_OPERATION' };
      await expect(c.launch({ ...(await spec('novalue', '')), command: {} })).rejects.toMatchObject(invalid);
      await expect(c.wait('novalue')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await c.launch(await endless('dup'));
      await expect(c.launch(await endless('dup'))).rejects.toMatchObject(invalid);
      await c.kill('dup', 0);
    });

    it('cleans up only ended containers, and forgets them', async () => {
      await c.launch(await endless('clean'));
      await expect(c.cleanup('clean')).rejects.toMatchObject({ code: 'INVALID_OPERATION' });
      await c.kill('clean', 1_000);
      await c.cleanup('clean');
      await expect(c.wait('clean')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('runs many containers launched at once', async () => {
      const n = fx.many ?? 20;
      const ids = Array.from({ length: n }, (_, i) => `many-${i}`);
      await Promise.all(ids.map(async (id, i) => c.launch(await spec(id, `exit ${i % 3}`, { runForMs: 5 + (i % 7), exitCode: i % 3 }))));
      const exits = await Promise.all(ids.map((id) => c.wait(id)));
      expect(exits.map((e) => e.exitCode)).toEqual(ids.map((_, i) => i % 3));
    });

    it('kills everything on close({ killAll }) and refuses calls afterwards', async () => {
      await c.launch(await endless('a'));
      await c.launch(await endless('b'));
      const waits = [c.wait('a'), c.wait('b')];
      await c.close({ killAll: true });
      for (const exit of await Promise.all(waits)) expect(exit.signal).toBeDefined();
      await expect(c.wait('a')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });
  });
}
