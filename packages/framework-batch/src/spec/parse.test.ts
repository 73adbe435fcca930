import { ValidationError } from '@stoa/sdk';
import { describe, expect, it } from 'vitest';
import { JobCycleError, JobSpecError } from './errors.js';
import { MAX_GANG_SIZE, parseJobSpec, validateJobSpec } from './parse.js';

const wordcount = `
name: wordcount
priority: { role: analytics, weight: 2 }
parallelism: 50
deadlineSeconds: 3600
stages:
  - name: map
    count: 3
    locality: { waitSeconds: 5 }
    task:
      module: ./wordcount.js
      export: map
      args: { corpus: /data/books }
      env: { N: 3, VERBOSE: true }
      resources: { cpus: 0.5, mem: 256 }
      retries: 2
      backoffSeconds: 5
      timeoutSeconds: 600
      prefer: { racks: [r1] }
  - name: reduce
    dependsOn: [map]
    task:
      command: ./reduce.sh
      args: [--out, 3]
      resources: { cpus: 1, mem: 512, disk: 100 }
`;

function specError(fn: () => unknown): JobSpecError {
  try {
    fn();
  } catch (error) {
    if (JobSpecError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a JobSpecError');
}

const base = (stages: unknown[], extra: Record<string, unknown> = {}) => ({ name: 'j', stages, ...extra });
const cmd = { command: 'true', resources: { cpus: 1, mem: 64 } };

describe('parseJobSpec', () => {
  it('resolves a YAML spec with its defaults', () => {
    const spec = parseJobSpec(wordcount, { sourcePath: '/jobs/wc/job.yaml' });
    expect(spec.name).toBe('wordcount');
    expect(spec.priority).toEqual({ role: 'analytics', weight: 2 });
    expect(spec.parallelism).toBe(50);
    expect(spec.deadlineSeconds).toBe(3600);
    const [map, reduce] = spec.stages;
    expect(map!.tasks).toHaveLength(3);
    expect(map!.localityWaitSeconds).toBe(5);
    expect(map!.tasks[0]).toEqual({
      run: { kind: 'module', module: '/jobs/wc/wordcount.js', export: 'map' },
      args: { corpus: '/data/books' },
      env: { N: '3', VERBOSE: 'true' },
      resources: { cpus: 0.5, mem: 256 },
      retries: 2,
      backoffSeconds: 5,
      timeoutSeconds: 600,
      prefer: { hosts: [], racks: ['r1'], zones: [] },
    });
    expect(reduce).toMatchObject({ name: 'reduce', dependsOn: ['map'], gang: false, gangTimeoutSeconds: 20, localityWaitSeconds: 3 });
    expect(reduce!.tasks[0]).toMatchObject({ run: { kind: 'command', command: './reduce.sh' }, args: ['--out', 3], retries: 0, backoffSeconds: 1 });
  });

  it('takes JSON, and a value', () => {
    const json = JSON.stringify(base([{ name: 's', task: { module: 'file:///m.js', resources: { cpus: 1, mem: 1 } } }]));
    const spec = parseJobSpec(json);
    expect(spec.stages[0]!.tasks[0]!.run).toEqual({ kind: 'module', module: 'file:///m.js', export: 'default' });
    expect(validateJobSpec(JSON.parse(json))).toEqual(spec);
    expect(spec.priority).toEqual({ weight: 1 });
  });

  it('merges explicit tasks over the stage template', () => {
    const spec = validateJobSpec(
      base([
        {
          name: 's',
          task: { module: './m.js', export: 'f', env: { A: '1' }, resources: { cpus: 1, mem: 64 }, retries: 1 },
          tasks: [{ args: [1] }, { command: 'echo hi', env: { B: '2' } }, { export: 'g', resources: { cpus: 2, mem: 128 } }],
        },
      ]),
      { baseDir: '/base' },
    );
    const tasks = spec.stages[0]!.tasks;
    expect(tasks.map((t) => t.run)).toEqual([
      { kind: 'module', module: '/base/m.js', export: 'f' },
      { kind: 'command', command: 'echo hi' },
      { kind: 'module', module: '/base/m.js', export: 'g' },
    ]);
    expect(tasks[1]!.env).toEqual({ A: '1', B: '2' });
    expect(tasks[2]!.resources).toEqual({ cpus: 2, mem: 128 });
    expect(tasks.every((t) => t.retries === 1)).toBe(true);
  });

  it('names the field of a bad value, with its line', () => {
    const text = `name: j
stages:
  - name: a
    task: { command: x, resources: { cpus: 1, mem: 1 } }
  - name: b
    task: { command: x, resources: { cpus: 1, mem: 1 } }
    tasks:
      - retries: -1
`;
    const error = specError(() => parseJobSpec(text));
    expect(error.message).toBe('stages[1].tasks[0].retries: expected an integer ≥ 0 (line 8)');
    expect(error.field).toBe('stages[1].tasks[0].retries');
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(ValidationError.isInstance(error)).toBe(true);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.name).toBe('JobSpecError');
  });

  it('refuses unknown fields, suggesting the one meant', () => {
    const error = specError(() => validateJobSpec(base([{ name: 's', tsk: cmd }])));
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toContain('stages[0].tsk: unknown field (did you mean "task"?)');
    const nested = specError(() => validateJobSpec(base([{ name: 's', task: { ...cmd, resources: { cpus: 1, mem: 1, memory: 2 } } }])));
    expect(nested.issues[0]).toMatchObject({ path: 'stages[0].task.resources.memory' });
  });

  it('says what is missing or of the wrong type', () => {
    expect(specError(() => validateJobSpec({ stages: [] })).issues.map((i) => [i.path, i.message])).toEqual([
      ['name', 'required'],
      ['stages', 'expected at least one stage'],
    ]);
    expect(specError(() => validateJobSpec(base([{ name: 's', task: { ...cmd, timeoutSeconds: '5' } }]))).message).toBe(
      'stages[0].task.timeoutSeconds: expected a number > 0',
    );
    expect(specError(() => validateJobSpec(base([{ name: 'a.b', task: cmd }]))).field).toBe('stages[0].name');
    expect(specError(() => validateJobSpec(base([{ name: 's', task: { ...cmd, args: ['a', { x: 1 }] } }]))).message).toMatch(
      /^stages\[0\]\.task\.args: a command's args are a list/,
    );
  });

  it('checks stages against each other', () => {
    const dup = specError(() => validateJobSpec(base([{ name: 's', task: cmd }, { name: 's', task: cmd }])));
    expect(dup.message).toBe('stages[1].name: duplicate stage name "s" (also stages[0])');
    const missing = specError(() => validateJobSpec(base([{ name: 'map', task: cmd }, { name: 'reduce', dependsOn: ['mapp'], task: cmd }])));
    expect(missing.message).toBe('stages[1].dependsOn[0]: no stage named "mapp" (did you mean "map"?)');
  });

  it('names a cycle', () => {
    let caught: unknown;
    try {
      validateJobSpec(base([{ name: 'a', dependsOn: ['c'], task: cmd }, { name: 'b', dependsOn: ['a'], task: cmd }, { name: 'c', dependsOn: ['b'], task: cmd }, { name: 'd', task: cmd }]));
    } catch (error) {
      caught = error;
    }
    expect(JobCycleError.isInstance(caught)).toBe(true);
    expect(JobSpecError.isInstance(caught)).toBe(true);
    const error = caught as JobCycleError;
    expect(error.cycle).toEqual(['a', 'c', 'b', 'a']);
    expect(error.message).toBe('stages[0].dependsOn: dependency cycle: a → c → b → a');
    expect(JobCycleError.isInstance(specError(() => validateJobSpec(base([{ name: 'a', dependsOn: ['a'], task: cmd }]))))).toBe(true);
    expect(JobCycleError.isInstance(new JobSpecError([{ path: '', message: 'x' }]))).toBe(false);
  });

  it('wants exactly one of command and module, and resources', () => {
    expect(specError(() => validateJobSpec(base([{ name: 's', task: { ...cmd, module: './m.js' } }]))).message).toBe(
      'stages[0].task: give exactly one of "command" and "module", not both',
    );
    expect(specError(() => validateJobSpec(base([{ name: 's', task: { resources: cmd.resources } }]))).message).toBe('stages[0].task: give "command" or "module"');
    expect(specError(() => validateJobSpec(base([{ name: 's', tasks: [{ command: 'x' }] }]))).message).toBe(
      'stages[0].tasks[0].resources: required (here or in the stage\'s "task")',
    );
    expect(specError(() => validateJobSpec(base([{ name: 's' }]))).message).toBe('stages[0].task: required (or give explicit "tasks")');
    expect(specError(() => validateJobSpec(base([{ name: 's', task: { ...cmd, export: 'f' } }]))).message).toBe('stages[0].task.export: "export" goes with "module"');
    expect(specError(() => validateJobSpec(base([{ name: 's', count: 2, tasks: [{}], task: cmd }]))).field).toBe('stages[0].count');
  });

  it('bounds gang stages', () => {
    expect(specError(() => validateJobSpec(base([{ name: 'g', gang: true, count: MAX_GANG_SIZE + 1, task: cmd }]))).message).toBe(
      `stages[0].count: a gang stage has at most ${MAX_GANG_SIZE} tasks, not ${MAX_GANG_SIZE + 1}`,
    );
    expect(specError(() => validateJobSpec(base([{ name: 'g', gang: true, count: 8, task: cmd }], { parallelism: 4 }))).field).toBe('parallelism');
    expect(specError(() => validateJobSpec(base([{ name: 'g', gangTimeoutSeconds: 5, task: cmd }]))).field).toBe('stages[0].gangTimeoutSeconds');
    const ok = validateJobSpec(base([{ name: 'g', gang: true, count: 4, gangTimeoutSeconds: 5, task: cmd }]));
    expect(ok.stages[0]).toMatchObject({ gang: true, gangTimeoutSeconds: 5 });
  });

  it('reports text that is not YAML', () => {
    const error = specError(() => parseJobSpec('{"name": "j", "stages": [1, 2'));
    expect(error.message).toMatch(/^\(spec\): not valid YAML or JSON: .* \(line 1\)/);
    expect(specError(() => parseJobSpec('name: a\nname: b\n')).message).toMatch(/unique/);
  });
});
