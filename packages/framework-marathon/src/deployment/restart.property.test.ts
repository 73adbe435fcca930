/**
 * Property tests of the restart algorithm against a simulated world. A random app and random old
 * instances; then, over and over, the algorithm decides and the world carries the decision out
 * (kills mark old instances `killing`, launches queue new ones), and a random event happens: a
 * queued launch appears as staging, a new instance starts running, passes its health check or its
 * readiness check, a new instance that is not yet serving fails, an old instance being killed
 * dies. After the random events, a fair world makes everything on its way arrive.
 *
 * Checked after every decision: launches never take the total over capacity; kills never take the
 * healthy count below the floor, and it never drops below the floor at all when it started at or
 * above it; kills pick old instances only, not twice, the healthy ones in killSelection order;
 * canary steps never go back and launches keep within the step. At the end the restart completes.
 * A second, harsher world also lets serving instances fail and old ones die on their own.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { restartBounds } from './capacity.js';
import { type DeployableApp, type InstanceView, isHealthy, isHealthyAndReady } from './deployable-app.js';
import { nextRestartActions, type RestartActions } from './restart.js';
import { orderBySelection } from './scale.js';

interface World {
  app: DeployableApp;
  old: InstanceView[];
  fresh: InstanceView[];
  queued: number;
  clock: number;
  nextId: number;
  reachedStep: number;
}

const fractionArb = fc.oneof(
  fc.constantFrom(0, 0.25, 0.5, 0.75, 1),
  fc.double({ min: 0, max: 1, noNaN: true }),
);

/** Valid canary steps for `instances`: increasing counts, ending with "100%". */
function stepsArb(instances: number): fc.Arbitrary<(number | string)[] | undefined> {
  if (instances < 2) return fc.constant(undefined);
  return fc.option(
    fc
      .uniqueArray(fc.integer({ min: 1, max: instances - 1 }), { maxLength: 3 })
      .map((counts): (number | string)[] => [...counts.sort((a, b) => a - b), '100%']),
    { nil: undefined },
  );
}

const appArb: fc.Arbitrary<DeployableApp> = fc
  .record({
    instances: fc.integer({ min: 0, max: 7 }),
    minimumHealthCapacity: fractionArb,
    maximumOverCapacity: fractionArb,
    killSelection: fc.constantFrom('YOUNGEST_FIRST' as const, 'OLDEST_FIRST' as const),
    hasHealthChecks: fc.boolean(),
    hasReadinessChecks: fc.boolean(),
    resident: fc.boolean(),
  })
  .chain((r) =>
    stepsArb(r.instances).map((steps) => ({
      id: '/app',
      version: 'v2',
      instances: r.instances,
      dependencies: [],
      upgradeStrategy: {
        minimumHealthCapacity: r.minimumHealthCapacity,
        // Resident apps must have no over-capacity (validate.ts rejects anything else).
        maximumOverCapacity: r.resident ? 0 : r.maximumOverCapacity,
        ...(steps ? { steps } : {}),
      },
      killSelection: r.killSelection,
      backoffSeconds: 1,
      backoffFactor: 1.15,
      maxLaunchDelaySeconds: 300,
      hasHealthChecks: r.hasHealthChecks,
      hasReadinessChecks: r.hasReadinessChecks,
      configHash: 'v2',
      resident: r.resident,
    })),
  );

const oldArb: fc.Arbitrary<InstanceView[]> = fc
  .array(
    fc.record({
      startedAt: fc.integer({ min: 0, max: 20 }),
      state: fc.constantFrom('running', 'running', 'running', 'staging') as fc.Arbitrary<'running' | 'staging'>,
      healthy: fc.oneof(fc.constant(true), fc.constant(true), fc.boolean()),
    }),
    { maxLength: 9 },
  )
  .map((specs) =>
    specs.map((s, i) => ({
      id: `old-${i}`,
      startedAt: s.startedAt,
      state: s.state,
      healthy: s.state === 'running' && s.healthy,
      ready: true,
    })),
  );

function healthyCount(world: World): number {
  return (
    world.old.filter((i) => isHealthy(i, world.app.hasHealthChecks)).length +
    world.fresh.filter((i) => isHealthyAndReady(i, world.app)).length
  );
}

function total(world: World): number {
  return world.old.length + world.fresh.length + world.queued;
}

/** Asks the algorithm, checks the decision against the invariants, and carries it out. */
function decideAndApply(world: World, floorHeldFromStart: boolean): RestartActions {
  const { app } = world;
  const bounds = restartBounds(app);
  const before = healthyCount(world);
  const next = nextRestartActions({
    target: app,
    old: world.old,
    new: world.fresh,
    queued: world.queued,
    reachedStep: world.reachedStep,
  });

  // Kills: old, alive, distinct.
  const alive = new Map(world.old.filter((i) => i.state !== 'killing').map((i) => [i.id, i]));
  expect(new Set(next.kill).size).toBe(next.kill.length);
  for (const id of next.kill) expect(alive.has(id), `kill ${id} is an old instance not yet being killed`).toBe(true);

  // Healthy old instances go in killSelection order.
  const healthyOld = [...alive.values()].filter((i) => isHealthy(i, app.hasHealthChecks));
  const killedHealthy = new Set(next.kill.filter((id) => healthyOld.some((i) => i.id === id)));
  const expectedPrefix = orderBySelection(healthyOld, app.killSelection)
    .slice(0, killedHealthy.size)
    .map((i) => i.id);
  expect([...killedHealthy].sort()).toEqual([...expectedPrefix].sort());

  // Kills never take the healthy count below the floor (less the resident allowance).
  if (killedHealthy.size > 0) {
    expect(before - killedHealthy.size).toBeGreaterThanOrEqual(bounds.minHealthy - bounds.underCapacityAllowance);
  }

  // Canary: steps never go back; launches stay within the step; healthy kills keep the step's old instances.
  expect(next.step.index).toBeGreaterThanOrEqual(world.reachedStep);
  if (next.launch > 0) {
    expect(world.fresh.length + world.queued + next.launch).toBeLessThanOrEqual(next.step.target);
    // Launches never take the total over capacity.
    expect(total(world) + next.launch).toBeLessThanOrEqual(bounds.maxCapacity + bounds.overCapacityAllowance);
  }
  if (killedHealthy.size > 0) {
    expect(alive.size - next.kill.length).toBeGreaterThanOrEqual(app.instances - next.step.target - bounds.underCapacityAllowance);
  }

  world.reachedStep = next.step.index;
  const killed = new Set(next.kill);
  world.old = world.old.map((i) => (killed.has(i.id) ? { ...i, state: 'killing' } : i));
  world.queued += next.launch;

  if (floorHeldFromStart) {
    expect(healthyCount(world)).toBeGreaterThanOrEqual(bounds.minHealthy - bounds.underCapacityAllowance);
  }
  return next;
}

type Event = () => void;

/** The events that can happen next; `harsh` adds failures of serving instances. */
function possibleEvents(world: World, harsh: boolean): Event[] {
  const events: Event[] = [];
  const { app } = world;
  if (world.queued > 0) {
    events.push(() => {
      world.queued -= 1;
      world.clock += 1;
      world.fresh.push({ id: `new-${world.nextId++}`, startedAt: world.clock, state: 'staging', healthy: false, ready: false });
    });
  }
  world.fresh.forEach((instance, index) => {
    const update = (patch: Partial<InstanceView>) => () => {
      world.fresh[index] = { ...instance, ...patch };
    };
    const fail = () => {
      world.fresh.splice(index, 1);
    };
    if (instance.state === 'staging') events.push(update({ state: 'running' }));
    else if (!instance.healthy) events.push(update({ healthy: true }));
    else if (!instance.ready) events.push(update({ ready: true }));
    // Without health or readiness checks a running instance serves whatever its flags say.
    if (harsh || !isHealthyAndReady(instance, app)) events.push(fail);
  });
  world.old.forEach((instance, index) => {
    if (instance.state === 'killing' || harsh) {
      events.push(() => {
        world.old.splice(index, 1);
      });
    }
  });
  return events;
}

/** The fair world: whatever is on its way arrives, killed instances die, nothing fails. */
function fairEvents(world: World): Event[] {
  const events: Event[] = [];
  if (world.queued > 0) {
    events.push(() => {
      world.queued -= 1;
      world.clock += 1;
      world.fresh.push({ id: `new-${world.nextId++}`, startedAt: world.clock, state: 'staging', healthy: false, ready: false });
    });
  }
  world.fresh.forEach((instance, index) => {
    if (!isHealthyAndReady(instance, world.app)) {
      events.push(() => {
        world.fresh[index] = { ...instance, state: 'running', healthy: true, ready: true };
      });
    }
  });
  world.old.forEach((instance, index) => {
    if (instance.state === 'killing') {
      events.push(() => {
        world.old.splice(index, 1);
      });
    }
  });
  return events;
}

function runToCompletion(world: World, floorHeldFromStart: boolean): void {
  const limit = 10 * (world.old.length + world.app.instances) + 20;
  for (let round = 0; round < limit; round++) {
    const next = decideAndApply(world, floorHeldFromStart);
    if (next.complete) {
      expect(world.old).toEqual([]);
      expect(world.fresh.filter((i) => isHealthyAndReady(i, world.app)).length).toBeGreaterThanOrEqual(world.app.instances);
      return;
    }
    const events = fairEvents(world);
    expect(events.length, 'a restart that is not complete has something on its way').toBeGreaterThan(0);
    events[0]?.();
  }
  throw new Error(`restart did not complete within ${limit} rounds: ${JSON.stringify(world)}`);
}

function newWorld(app: DeployableApp, old: InstanceView[]): World {
  return { app, old, fresh: [], queued: 0, clock: 100, nextId: 0, reachedStep: 0 };
}

describe('restart algorithm in a simulated world', () => {
  it('keeps capacity and the health floor, respects killSelection, and completes', () => {
    fc.assert(
      fc.property(appArb, oldArb, fc.array(fc.nat(), { maxLength: 120 }), (app, old, choices) => {
        const world = newWorld(app, old);
        const floorHeldFromStart = healthyCount(world) >= restartBounds(app).minHealthy;
        for (const choice of choices) {
          decideAndApply(world, floorHeldFromStart);
          const events = possibleEvents(world, false);
          if (events.length === 0) continue;
          events[choice % events.length]?.();
        }
        runToCompletion(world, floorHeldFromStart);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps capacity and never kills below the floor when serving instances also fail, and completes after', () => {
    fc.assert(
      fc.property(appArb, oldArb, fc.array(fc.nat(), { maxLength: 120 }), (app, old, choices) => {
        const world = newWorld(app, old);
        for (const choice of choices) {
          decideAndApply(world, false);
          const events = possibleEvents(world, true);
          if (events.length === 0) continue;
          events[choice % events.length]?.();
        }
        runToCompletion(world, false);
      }),
      { numRuns: 400 },
    );
  });

  it('with (1, 1) never kills an old instance before a new one is healthy and ready', () => {
    fc.assert(
      fc.property(appArb, oldArb, fc.array(fc.nat(), { maxLength: 80 }), (generated, old, choices) => {
        const app = { ...generated, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 } };
        const world = newWorld(app, old.map((i) => ({ ...i, state: 'running' as const, healthy: true })));
        const floorHeldFromStart = healthyCount(world) >= restartBounds(app).minHealthy;
        for (const choice of choices) {
          const serving = world.fresh.filter((i) => isHealthyAndReady(i, app)).length;
          const dying = world.old.filter((i) => i.state === 'killing').length;
          const next = decideAndApply(world, floorHeldFromStart);
          const killedSoFar = dying + next.kill.length;
          expect(killedSoFar).toBeLessThanOrEqual(Math.max(0, world.old.length - app.instances) + serving);
          const events = possibleEvents(world, false);
          if (events.length > 0) events[choice % events.length]?.();
        }
      }),
      { numRuns: 200 },
    );
  });
});
