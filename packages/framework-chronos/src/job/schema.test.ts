import { describe, expect, it } from 'vitest';
import { JobValidationError } from '../errors.js';
import { emptyJobStats, type Job, parseJob, safeParseJob, startWindowMs } from './schema.js';

const NOW = Date.parse('2025-06-01T00:00:00Z');
const base = { name: 'nightly', command: 'backup.sh', schedule: 'R/2025-01-01T02:00:00Z/P1D' };

function issuesOf(input: unknown): Record<string, string> {
  const r = safeParseJob(input, { now: NOW });
  if (r.ok) throw new Error('expected a validation error');
  expect(JobValidationError.isInstance(r.error)).toBe(true);
  expect(r.error.status).toBe(422);
  return Object.fromEntries(r.error.issues.map((i) => [i.path, i.message]));
}

describe('job schema', () => {
  it("applies Chronos' defaults", () => {
    const job = parseJob(base, { now: NOW });
    expect(job).toEqual<Job>({
      name: 'nightly',
      description: '',
      command: 'backup.sh',
      shell: true,
      arguments: [],
      schedule: 'R/2025-01-01T02:00:00Z/P1D',
      retries: 2,
      retryDelayMs: 60_000,
      softError: false,
      disabled: false,
      concurrent: false,
      concurrencyPolicy: 'FORBID',
      cpus: 0.1,
      mem: 128,
      disk: 256,
      constraints: [],
      environmentVariables: [],
      fetch: [],
      uris: [],
      owner: '',
      ownerName: '',
      highPriority: false,
      epsilon: 'PT60S',
      catchUp: 'none',
    });
    expect(startWindowMs(job)).toBe(60_000);
  });

  it('accepts the Chronos sample job, with its statistics ignored', () => {
    const job = parseJob({
      name: 'camus_kafka2hdfs',
      command: '/srv/data-infra/kafka/camus/kafka_hdfs_job.bash',
      arguments: ['-verbose', '-debug'],
      shell: false,
      epsilon: 'PT30M',
      executor: '',
      executorFlags: '',
      retries: 2,
      owner: 'bofh@your-company.com',
      async: false,
      successCount: 190,
      errorCount: 3,
      lastSuccess: '2014-03-08T16:57:17.507Z',
      lastError: '2014-03-01T00:10:15.957Z',
      errorsSinceLastSuccess: 0,
      cpus: 1.0,
      disk: 10240,
      mem: '1024',
      disabled: false,
      fetch: [{ uri: 'https://url-to-file', cache: false, extract: false, executable: false }],
      schedule: 'R/2014-03-08T20:00:00.000Z/PT2H',
      environmentVariables: [{ name: 'JVMOPTS', value: '-Xmx1000m' }],
      constraints: [['rack', 'EQUALS', 'rack-1']],
    });
    expect(job).not.toHaveProperty('successCount');
    expect(job).not.toHaveProperty('executor');
    expect(job.mem).toBe(1024);
    expect(job.uris).toEqual(['https://url-to-file']);
    expect(job.constraints).toEqual([['rack', 'EQUALS', 'rack-1']]);
    expect(startWindowMs(job)).toBe(30 * 60_000);
  });

  it('names an unknown field', () => {
    const r = safeParseJob({ ...base, colour: 'red' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.field).toBe('colour');
      expect(r.error.message).toBe('colour: unknown field');
      expect(r.error.toResponseBody().details).toEqual([{ path: '/colour', errors: ['unknown field'] }]);
    }
  });

  it('names nested fields with their index', () => {
    expect(issuesOf({ ...base, environmentVariables: [{ name: 'A', value: '1' }, { name: 'B' }] })).toEqual({
      'environmentVariables.1.value': 'is required',
    });
    expect(issuesOf({ ...base, constraints: [['hostname', 'UNIQUE'], ['rack', 'NEAR', 'x']] })['constraints.1']).toMatch(/unknown operator/);
    expect(issuesOf({ ...base, fetch: [{ uri: 'x', colour: 1 }] })).toEqual({ 'fetch.0.colour': 'unknown field' });
  });

  it("applies Chronos' name rule", () => {
    expect(parseJob({ ...base, name: 'db_export-airbed #2.v1 x' }).name).toBe('db_export-airbed #2.v1 x');
    expect(issuesOf({ ...base, name: 'a/b' }).name).toMatch(/letters, digits/);
    expect(issuesOf({ ...base, name: '' }).name).toBeDefined();
    expect(issuesOf({ ...base, name: 'a,b' }).name).toBeDefined();
  });

  it('needs exactly one of schedule and parents', () => {
    expect(issuesOf({ name: 'x', command: 'y' })).toEqual({ schedule: 'a job needs a schedule or parents' });
    expect(issuesOf({ ...base, parents: ['a'] })).toEqual({ parents: 'a job has either a schedule or parents, not both' });
    const dependent = parseJob({ name: 'child', command: 'y', parents: ['a', 'b'] });
    expect(dependent.parents).toEqual(['a', 'b']);
    expect(dependent.schedule).toBeUndefined();
    expect(issuesOf({ name: 'child', command: 'y', parents: ['child', 'a', 'a'] })).toEqual({
      'parents.0': 'a job cannot be its own parent',
      'parents.2': "'a' is listed twice",
    });
    expect(issuesOf({ name: 'child', command: 'y', parents: ['a'], scheduleTimeZone: 'UTC' })).toHaveProperty('scheduleTimeZone');
  });

  it('checks the schedule and its zone, naming which', () => {
    expect(issuesOf({ ...base, schedule: 'R/2025-01-01T02:00:00Z/P1Q' }).schedule).toMatch(/period/);
    expect(issuesOf({ ...base, scheduleTimeZone: 'Europe/Atlantis' }).scheduleTimeZone).toMatch(/IANA/);
    expect(issuesOf({ ...base, schedule: '61 * * * *' }).schedule).toMatch(/cron/);
    expect(parseJob({ ...base, schedule: '30 2 * * *', scheduleTimeZone: 'Europe/Berlin' }).scheduleTimeZone).toBe('Europe/Berlin');
  });

  it('pins an empty ISO start to the parse time', () => {
    expect(parseJob({ ...base, schedule: 'R5//PT1H' }, { now: NOW }).schedule).toBe('R5/2025-06-01T00:00:00.000Z/PT1H');
  });

  it('checks epsilon as a duration of fixed length', () => {
    expect(issuesOf({ ...base, epsilon: 'soon' }).epsilon).toMatch(/ISO 8601 duration/);
    expect(issuesOf({ ...base, epsilon: 'P1M' }).epsilon).toMatch(/years or months/);
    expect(startWindowMs(parseJob({ ...base, epsilon: 'P1D' }))).toBe(86_400_000);
  });

  it('resolves concurrency from concurrent and concurrencyPolicy', () => {
    expect(parseJob({ ...base, concurrent: true }).concurrencyPolicy).toBe('ALLOW');
    const replace = parseJob({ ...base, concurrencyPolicy: 'REPLACE' });
    expect(replace).toMatchObject({ concurrencyPolicy: 'REPLACE', concurrent: false });
    expect(parseJob(replace).concurrencyPolicy).toBe('REPLACE'); // round trip
    expect(issuesOf({ ...base, concurrent: true, concurrencyPolicy: 'FORBID' }).concurrent).toMatch(/contradicts/);
    expect(issuesOf({ ...base, concurrencyPolicy: 'SOMETIMES' })).toHaveProperty('concurrencyPolicy');
  });

  it('prefers startingDeadlineSeconds to epsilon as the start window', () => {
    expect(startWindowMs(parseJob({ ...base, epsilon: 'PT5M', startingDeadlineSeconds: 30 }))).toBe(30_000);
    expect(issuesOf({ ...base, startingDeadlineSeconds: -1 })).toHaveProperty('startingDeadlineSeconds');
  });

  it('turns uris into fetch entries and keeps both in step', () => {
    const job = parseJob({ ...base, uris: ['http://a/x.tgz'] });
    expect(job.fetch).toEqual([{ uri: 'http://a/x.tgz', executable: false, extract: true, cache: false }]);
    expect(job.uris).toEqual(['http://a/x.tgz']);
  });

  it('refuses Chronos features Stoa does not implement, unless at their default', () => {
    expect(issuesOf({ ...base, async: true }).async).toMatch(/not supported/);
    expect(issuesOf({ ...base, container: { type: 'DOCKER', image: 'x' } }).container).toMatch(/not supported/);
    expect(parseJob({ ...base, container: null, runAsUser: '' }).name).toBe('nightly');
  });

  it('checks types and ranges', () => {
    const issues = issuesOf({ ...base, retries: -1, cpus: 0, mem: 'lots', maxCompletionTime: 1.5, shell: 'yes' });
    expect(Object.keys(issues).sort()).toEqual(['cpus', 'maxCompletionTime', 'mem', 'retries', 'shell']);
    expect(issuesOf({ ...base, command: '  ' })).toEqual({ command: 'must not be empty' });
    expect(issuesOf(null)).toHaveProperty('');
    expect(() => parseJob({ ...base, retries: 'x' })).toThrow(JobValidationError);
  });

  it('starts statistics empty', () => {
    expect(emptyJobStats()).toEqual({ successCount: 0, errorCount: 0, lastSuccess: '', lastError: '', errorsSinceLastSuccess: 0 });
  });
});
