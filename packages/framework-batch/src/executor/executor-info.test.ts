import { existsSync } from 'node:fs';
import { parseResources } from '@stoa/sdk';
import { describe, expect, it } from 'vitest';
import { expandJob } from '../plan/expand.js';
import { validateJobSpec } from '../spec/parse.js';
import { batchExecutorInfo, batchTaskInfo } from './executor-info.js';
import { decodeTaskPayload } from './task-data.js';

describe('batchExecutorInfo', () => {
  it('starts main.ts through tsx from sources, with its settings in the environment', () => {
    const info = batchExecutorInfo({ maxConcurrency: 4, resultLimitBytes: 1000, resources: 'cpus:2;mem:1024' });
    expect(info).toMatchObject({ executorId: 'stoa-batch', resources: parseResources('cpus:2;mem:1024') });
    const [, , , tsx, main] = info.command!.value!.split(' ');
    expect(info.command!.value).toMatch(/^exec node --import \S+ \S+\/src\/executor\/main\.ts$/);
    expect(existsSync(tsx!) && existsSync(main!)).toBe(true);
    expect(info.command!.environment).toMatchObject({ STOA_BATCH_MAX_CONCURRENCY: '4', STOA_BATCH_RESULT_LIMIT_BYTES: '1000' });
    expect(existsSync(info.command!.environment!.TSX_TSCONFIG_PATH!)).toBe(true);
    expect(batchExecutorInfo({ command: 'run-it', executorId: 'b2' })).toMatchObject({ executorId: 'b2', command: { value: 'run-it', environment: {} } });
  });
});

describe('batchTaskInfo', () => {
  const spec = validateJobSpec({
    name: 'j',
    stages: [{ name: 's', count: 2, task: { module: '/m.js', export: 'f', args: { a: 1 }, timeoutSeconds: 3, resources: { cpus: 1, mem: 64 } } }],
  });
  const [task] = expandJob(spec, 'j-1');
  const executor = batchExecutorInfo();

  it('carries the payload the executor reads', () => {
    const info = batchTaskInfo(task!, { agentId: 'a1', executor, launchId: 'j-1.s.0.2', inputs: [{ taskId: 'p.0', stage: 'p', index: 0, result: 7 }] });
    expect(info).toMatchObject({ taskId: 'j-1.s.0.2', agentId: 'a1', maxCompletionTimeMs: 3000, labels: { 'stoa.batch/job': 'j-1', 'stoa.batch/stage': 's' }, executor });
    expect(decodeTaskPayload(info.data!)).toEqual({
      v: 1,
      jobId: 'j-1',
      stage: 's',
      index: 0,
      count: 2,
      run: { kind: 'module', module: '/m.js', export: 'f' },
      args: { a: 1 },
      env: { STOA_JOB_ID: 'j-1', STOA_STAGE: 's', STOA_TASK_INDEX: '0', STOA_TASK_COUNT: '2' },
      inputs: [{ taskId: 'p.0', stage: 'p', index: 0, result: 7 }],
    });
  });

  it('refuses a payload over the limit', () => {
    const inputs = Array.from({ length: 10 }, (_, i) => ({ taskId: `p.${i}`, stage: 'p', index: i, result: 'x'.repeat(200) }));
    expect(() => batchTaskInfo(task!, { agentId: 'a1', executor, inputs, maxDataBytes: 1000 })).toThrow(/over the limit of 1000/);
  });
});
