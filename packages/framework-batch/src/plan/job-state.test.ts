import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateJobSpec } from '../spec/parse.js';
import {
  activeCount,
  advanceJob,
  applyTaskStatus,
  BATCH_TASK_STATES,
  type BatchTaskState,
  cancelJob,
  createJobState,
  type JobState,
  launchableTasks,
  markLaunching,
  nextWakeAt,
  stageProgress,
  taskInputs,
} from './job-state.js';

const task = (extra: Record<string, unknown> = {}) => ({ command: 'true', resources: { cpus: 1, mem: 64 }, ...extra });

function mapReduce(extra: Record<string, unknown> = {}, taskExtra: Record<string, unknown> = {}) {
  return validateJobSpec({
    name: 'mr',
    ...extra,
    stages: [
      { name: 'map', count: 3, task: task(taskExtra) },
      { name: 'reduce', dependsOn: ['map'], task: task() },
    ],
  });
}

/** Launches a task and reports it running; returns its launch id. */
function start(job: JobState, taskId: string, now: number): string {
  const launchId = markLaunching(job, taskId, now, { agentId: 'a1' });
  applyTaskStatus(job, { taskId: launchId, state: 'TASK_RUNNING' }, now);
  return launchId;
}

describe('job state', () => {
  it('finds a task that became PENDING again behind those launched, however the walk went before', () => {
    const spec = validateJobSpec({ name: 'big', stages: [{ name: 's', count: 50, task: task({ retries: 3, backoffSeconds: 0 }) }] });
    const job = createJobState(spec, { now: 0 });
    const launchIds = new Map<string, string>();
    // Launch in rounds of 10, as offers come.
    for (let round = 0; round < 5; round++) for (const id of launchableTasks(job, 10)) launchIds.set(id, start(job, id, 1));
    expect(launchableTasks(job)).toEqual([]);
    // Task 3 fails and is retried at once; task 41 is lost: both are launchable again, in order.
    applyTaskStatus(job, { taskId: launchIds.get('big.s.41')!, state: 'TASK_LOST' }, 2);
    applyTaskStatus(job, { taskId: launchIds.get('big.s.3')!, state: 'TASK_FAILED' }, 2);
    expect(launchableTasks(job, 1)).toEqual(['big.s.3']);
    expect(launchableTasks(job)).toEqual(['big.s.3', 'big.s.41']);
    start(job, 'big.s.3', 3);
    expect(launchableTasks(job)).toEqual(['big.s.41']);
  });

  it('runs a stage only after its dependencies, and hands results on', () => {
    const job = createJobState(mapReduce(), { now: 0 });
    expect(launchableTasks(job)).toEqual(['mr.map.0', 'mr.map.1', 'mr.map.2']);
    expect(() => markLaunching(job, 'mr.reduce.0', 0)).toThrow(/waits for map/);
    for (const id of launchableTasks(job)) {
      const launchId = start(job, id, 1);
      expect(launchableTasks(job)).not.toContain('mr.reduce.0');
      expect(applyTaskStatus(job, { taskId: launchId, state: 'TASK_FINISHED', output: { result: { n: Number(id.at(-1)) } } }, 2)).toEqual([]);
    }
    expect(job.tasks['mr.reduce.0']!.pendingSinceMs).toBe(2);
    expect(launchableTasks(job)).toEqual(['mr.reduce.0']);
    expect(taskInputs(job, 'mr.reduce.0')).toEqual([
      { taskId: 'mr.map.0', stage: 'map', index: 0, result: { n: 0 } },
      { taskId: 'mr.map.1', stage: 'map', index: 1, result: { n: 1 } },
      { taskId: 'mr.map.2', stage: 'map', index: 2, result: { n: 2 } },
    ]);
    const launchId = start(job, 'mr.reduce.0', 3);
    expect(stageProgress(job)).toEqual([
      { stage: 'map', state: 'SUCCEEDED', total: 3, done: 3, running: 0, failed: 0, pending: 0, cancelled: 0, failedAttempts: 0 },
      { stage: 'reduce', state: 'RUNNING', total: 1, done: 0, running: 1, failed: 0, pending: 0, cancelled: 0, failedAttempts: 0 },
    ]);
    expect(applyTaskStatus(job, { taskId: launchId, state: 'TASK_FINISHED' }, 4)).toEqual([
      { type: 'JOB_ENDED', state: 'SUCCEEDED', message: 'all 4 tasks succeeded' },
    ]);
    expect(job).toMatchObject({ state: 'SUCCEEDED', endedAtMs: 4, launches: {} });
    expect(JSON.parse(JSON.stringify(job))).toEqual(job); // storable
  });

  it('retries with exponential backoff, then fails the job and cancels the rest', () => {
    const job = createJobState(mapReduce({}, { retries: 2, backoffSeconds: 1 }), { now: 0 });
    const other = start(job, 'mr.map.1', 0);
    let launchId = start(job, 'mr.map.0', 0);
    expect(applyTaskStatus(job, { taskId: launchId, state: 'TASK_FAILED', message: 'exit 1' }, 10)).toEqual([]);
    expect(job.tasks['mr.map.0']).toMatchObject({ state: 'RETRY_WAIT', retryAtMs: 1010, failures: 1, message: 'TASK_FAILED: exit 1' });
    expect(launchableTasks(job)).toEqual(['mr.map.2']);
    expect(nextWakeAt(job)).toBe(1010);
    advanceJob(job, 1009);
    expect(job.tasks['mr.map.0']!.state).toBe('RETRY_WAIT');
    advanceJob(job, 1010);
    expect(job.tasks['mr.map.0']).toMatchObject({ state: 'PENDING', pendingSinceMs: 1010 });
    launchId = start(job, 'mr.map.0', 1010);
    expect(launchId).toBe('mr.map.0.2');
    // A late status of the first attempt changes nothing.
    expect(applyTaskStatus(job, { taskId: 'mr.map.0', state: 'TASK_FINISHED' }, 1011)).toEqual([]);
    expect(job.tasks['mr.map.0']!.state).toBe('RUNNING');
    applyTaskStatus(job, { taskId: launchId, state: 'TASK_FAILED' }, 1020);
    expect(job.tasks['mr.map.0']!.retryAtMs).toBe(3020);
    advanceJob(job, 3020);
    launchId = start(job, 'mr.map.0', 3020);
    const effects = applyTaskStatus(job, { taskId: launchId, state: 'TASK_FAILED', output: { exitCode: 3, error: 'exited with status 3' } }, 3030);
    expect(effects).toEqual([
      { type: 'KILL', taskId: 'mr.map.1', launchId: other, agentId: 'a1' },
      { type: 'JOB_ENDED', state: 'FAILED', reason: 'TASK_FAILED', message: 'task mr.map.0 failed after 3 attempts: TASK_FAILED: exited with status 3' },
    ]);
    expect(job.tasks['mr.map.0']).toMatchObject({ state: 'FAILED', attempt: 3, output: { exitCode: 3 } });
    expect(BATCH_TASK_STATES.map((s) => [s, Object.values(job.tasks).filter((t) => t.state === s).length])).toEqual([
      ['PENDING', 0],
      ['LAUNCHING', 0],
      ['RUNNING', 0],
      ['SUCCEEDED', 0],
      ['FAILED', 1],
      ['RETRY_WAIT', 0],
      ['CANCELLED', 3],
    ]);
    expect(stageProgress(job)[0]).toMatchObject({ state: 'FAILED', failed: 1, cancelled: 2, failedAttempts: 3 });
    expect(launchableTasks(job)).toEqual([]);
    expect(nextWakeAt(job)).toBeUndefined();
  });

  it('retries lost attempts at once without counting them, up to maxLosses', () => {
    const job = createJobState(mapReduce({}, { retries: 0 }), { now: 0, maxLosses: 1 });
    applyTaskStatus(job, { taskId: start(job, 'mr.map.0', 0), state: 'TASK_LOST' }, 5);
    expect(job.tasks['mr.map.0']).toMatchObject({ state: 'PENDING', failures: 0, losses: 1, pendingSinceMs: 5 });
    const effects = applyTaskStatus(job, { taskId: start(job, 'mr.map.0', 6), state: 'TASK_DROPPED' }, 7);
    expect(effects.at(-1)).toMatchObject({ type: 'JOB_ENDED', state: 'FAILED' });
  });

  it('kills an attempt that runs past its timeout', () => {
    const job = createJobState(mapReduce({}, { timeoutSeconds: 2, retries: 1, backoffSeconds: 0 }), { now: 0 });
    const launchId = markLaunching(job, 'mr.map.0', 0, { agentId: 'a1' });
    expect(advanceJob(job, 10_000)).toEqual([]); // LAUNCHING: the clock starts at RUNNING
    applyTaskStatus(job, { taskId: launchId, state: 'TASK_RUNNING' }, 10_000);
    expect(nextWakeAt(job)).toBe(12_000);
    expect(advanceJob(job, 11_999)).toEqual([]);
    expect(advanceJob(job, 12_000)).toEqual([{ type: 'KILL', taskId: 'mr.map.0', launchId, agentId: 'a1' }]);
    expect(job.tasks['mr.map.0']).toMatchObject({ state: 'PENDING', failures: 1, message: 'timed out after 2 s' });
    // Its TASK_KILLED comes later and is ignored.
    expect(applyTaskStatus(job, { taskId: launchId, state: 'TASK_KILLED' }, 12_001)).toEqual([]);
    expect(job.tasks['mr.map.0']!.state).toBe('PENDING');
  });

  it('fails the job at its deadline', () => {
    const job = createJobState(mapReduce({ deadlineSeconds: 60 }), { now: 1000 });
    const launchId = start(job, 'mr.map.0', 1000);
    expect(nextWakeAt(job)).toBe(61_000);
    expect(advanceJob(job, 61_000)).toEqual([
      { type: 'KILL', taskId: 'mr.map.0', launchId, agentId: 'a1' },
      { type: 'JOB_ENDED', state: 'FAILED', reason: 'DEADLINE_EXCEEDED', message: "the job's deadline passed 60 s after it was submitted" },
    ]);
    expect(Object.values(job.tasks).every((t) => t.state === 'CANCELLED')).toBe(true);
    expect(applyTaskStatus(job, { taskId: launchId, state: 'TASK_KILLED' }, 61_001)).toEqual([]);
  });

  it('keeps to its parallelism', () => {
    const job = createJobState(mapReduce({ parallelism: 2 }), { now: 0 });
    expect(launchableTasks(job)).toEqual(['mr.map.0', 'mr.map.1']);
    start(job, 'mr.map.0', 0);
    expect(launchableTasks(job)).toEqual(['mr.map.1']);
    start(job, 'mr.map.1', 0);
    expect(launchableTasks(job)).toEqual([]);
    expect(() => markLaunching(job, 'mr.map.2', 0)).toThrow(/parallelism/);
  });

  it('launches a gang together and retries it together', () => {
    const spec = validateJobSpec({ name: 'g', parallelism: 4, stages: [{ name: 'mpi', gang: true, count: 3, task: task({ retries: 1, backoffSeconds: 1 }) }] });
    const job = createJobState(spec, { now: 0 });
    expect(launchableTasks(job)).toEqual(['g.mpi.0', 'g.mpi.1', 'g.mpi.2']);
    const ids = launchableTasks(job).map((id) => start(job, id, 0));
    applyTaskStatus(job, { taskId: ids[0]!, state: 'TASK_FINISHED' }, 1);
    const effects = applyTaskStatus(job, { taskId: ids[1]!, state: 'TASK_FAILED' }, 2);
    expect(effects).toEqual([{ type: 'KILL', taskId: 'g.mpi.2', launchId: ids[2], agentId: 'a1' }]);
    expect(Object.values(job.tasks).map((t) => [t.state, t.retryAtMs])).toEqual([
      ['RETRY_WAIT', 1002],
      ['RETRY_WAIT', 1002],
      ['RETRY_WAIT', 1002],
    ]);
    expect(launchableTasks(job)).toEqual([]);
    advanceJob(job, 1002);
    expect(launchableTasks(job)).toEqual(['g.mpi.0', 'g.mpi.1', 'g.mpi.2']);
  });

  it('cancels', () => {
    const job = createJobState(mapReduce(), { now: 0 });
    const launchId = markLaunching(job, 'mr.map.0', 0);
    expect(cancelJob(job, 5, 'by alice')).toEqual([
      { type: 'KILL', taskId: 'mr.map.0', launchId },
      { type: 'JOB_ENDED', state: 'CANCELLED', reason: 'CANCELLED', message: 'by alice' },
    ]);
    expect(cancelJob(job, 6)).toEqual([]);
    expect(stageProgress(job).map((s) => s.state)).toEqual(['CANCELLED', 'CANCELLED']);
  });
});

// ---- properties ----------------------------------------------------------------------------------

const stagesArb = fc
  .array(fc.record({ count: fc.integer({ min: 1, max: 3 }), gang: fc.boolean(), deps: fc.array(fc.nat(), { maxLength: 3 }), retries: fc.integer({ min: 0, max: 2 }) }), {
    minLength: 1,
    maxLength: 5,
  })
  .map((stages) =>
    stages.map((s, i) => ({
      name: `s${i}`,
      count: s.count,
      gang: s.gang,
      // Dependencies on earlier stages only: a DAG.
      dependsOn: i === 0 ? [] : [...new Set(s.deps.map((d) => `s${d % i}`))],
      task: task({ retries: s.retries, backoffSeconds: 1, timeoutSeconds: 5 }),
    })),
  );

const stepArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('launch' as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('TASK_RUNNING' as const, 'TASK_FINISHED' as const, 'TASK_FAILED' as const, 'TASK_LOST' as const, 'TASK_KILLED' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 6000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stale' as const), pick: fc.nat() }) },
);

function checkInvariants(job: JobState): void {
  const stages = new Map(job.stages.map((s) => [s.name, s]));
  const active = new Set<BatchTaskState>(['LAUNCHING', 'RUNNING']);
  for (const stage of job.stages) {
    const recount = Object.fromEntries(BATCH_TASK_STATES.map((s) => [s, stage.taskIds.filter((id) => job.tasks[id]!.state === s).length]));
    expect(stage.counts).toEqual(recount);
    const started = stage.taskIds.some((id) => ['LAUNCHING', 'RUNNING', 'SUCCEEDED'].includes(job.tasks[id]!.state));
    // Never a stage before its dependencies.
    if (started) for (const dep of stage.dependsOn) expect(stages.get(dep)!.counts.SUCCEEDED).toBe(stages.get(dep)!.taskIds.length);
    if (stage.gang && job.state === 'RUNNING') expect([0, stage.taskIds.length]).toContain(stage.counts.PENDING + stage.counts.RETRY_WAIT);
  }
  if (job.parallelism !== undefined) expect(activeCount(job)).toBeLessThanOrEqual(job.parallelism);
  const live = Object.values(job.tasks).filter((t) => active.has(t.state));
  expect(Object.keys(job.launches).sort()).toEqual(live.map((t) => t.launchId!).sort());
  if (job.state !== 'RUNNING') expect(live).toEqual([]);
  if (job.state === 'SUCCEEDED') expect(Object.values(job.tasks).every((t) => t.state === 'SUCCEEDED')).toBe(true);
}

describe('job state properties', () => {
  it('never runs a stage before its dependencies, and keeps its books', () => {
    fc.assert(
      fc.property(stagesArb, fc.option(fc.integer({ min: 3, max: 6 }), { nil: undefined }), fc.array(stepArb, { maxLength: 120 }), (stages, parallelism, steps) => {
        const spec = validateJobSpec({ name: 'p', ...(parallelism !== undefined ? { parallelism } : {}), stages });
        const job = createJobState(spec, { now: 0 });
        let now = 0;
        const stale: string[] = [];
        for (const step of steps) {
          if (step.kind === 'launch') {
            const ready = launchableTasks(job);
            if (ready.length === 0) continue;
            // A gang stage's tasks go together, as a scheduler would launch them.
            const first = job.tasks[ready[step.pick % ready.length]!]!;
            const stage = job.stages.find((s) => s.name === first.stage)!;
            for (const id of stage.gang ? stage.taskIds : [first.taskId]) markLaunching(job, id, now);
          } else if (step.kind === 'advance') {
            now += step.ms;
            advanceJob(job, now);
          } else {
            const launches = Object.keys(job.launches);
            if (step.kind === 'stale') {
              if (stale.length > 0) applyTaskStatus(job, { taskId: stale[step.pick % stale.length]!, state: 'TASK_FINISHED' }, now);
              continue;
            }
            if (launches.length === 0) continue;
            const launchId = launches[step.pick % launches.length]!;
            if (step.kind !== 'TASK_RUNNING') stale.push(launchId);
            applyTaskStatus(job, { taskId: launchId, state: step.kind }, now);
          }
          checkInvariants(job);
        }
      }),
      { numRuns: 300 },
    );
  });
});
