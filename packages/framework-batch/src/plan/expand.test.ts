import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateJobSpec } from '../spec/parse.js';
import { expandJob, launchIdOf, parseTaskId, taskIdOf } from './expand.js';

const spec = validateJobSpec({
  name: 'wc',
  stages: [
    { name: 'map', count: 3, task: { module: '/m.js', export: 'map', env: { A: '1' }, resources: { cpus: 0.5, mem: 256, gpus: 1 }, timeoutSeconds: 2 } },
    { name: 'reduce', dependsOn: ['map'], task: { command: 'cat "$STOA_INPUTS"', resources: { cpus: 1, mem: 64 } } },
  ],
});

describe('expandJob', () => {
  it('makes one task per stage index, with ids and STOA_* env', () => {
    const tasks = expandJob(spec, 'wc-7');
    expect(tasks.map((t) => t.taskId)).toEqual(['wc-7.map.0', 'wc-7.map.1', 'wc-7.map.2', 'wc-7.reduce.0']);
    expect(tasks[1]).toMatchObject({
      jobId: 'wc-7',
      stage: 'map',
      stageIndex: 0,
      index: 1,
      count: 3,
      env: { A: '1', STOA_JOB_ID: 'wc-7', STOA_STAGE: 'map', STOA_TASK_INDEX: '1', STOA_TASK_COUNT: '3' },
      timeoutMs: 2000,
      backoffMs: 1000,
      localityWaitMs: 3000,
      resources: [
        { name: 'cpus', type: 'SCALAR', scalar: 0.5 },
        { name: 'mem', type: 'SCALAR', scalar: 256 },
        { name: 'gpus', type: 'SCALAR', scalar: 1 },
      ],
    });
    expect(tasks[3]!.env.STOA_TASK_COUNT).toBe('1');
    expect(expandJob(spec)[0]!.taskId).toBe('wc.map.0');
  });

  it('refuses a job id that is not a name', () => {
    expect(() => expandJob(spec, 'a.b')).toThrow(/not a name/);
  });
});

describe('task and launch ids', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/),
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/),
        fc.nat(100_000),
        fc.integer({ min: 1, max: 50 }),
        (job, stage, index, attempt) => {
          const taskId = taskIdOf(job, stage, index);
          expect(parseTaskId(launchIdOf(taskId, attempt))).toEqual({ jobId: job, stage, index, attempt, taskId });
        },
      ),
    );
  });

  it('refuses what is not one', () => {
    for (const id of ['a.b', 'a.b.c', 'a.b.01', 'a.b.1.1', 'a.b.1.0', 'a.b.1.2.3', '.b.1']) expect(parseTaskId(id)).toBeUndefined();
  });
});
