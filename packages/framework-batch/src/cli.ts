/**
 * The `stoa batch` commands. `stoa batch serve` runs the framework ({@link runBatchComponentCli}:
 * flags, `STOA_…` environment variables or a JSON config file, as every Stoa component); the
 * others talk to a running one over its API ({@link runBatchCli}):
 *
 * ```
 * stoa batch submit job.yaml [--wait]    submit; with --wait, live progress per stage until it ends
 * stoa batch status [ID]                 every job, or one job's stages
 * stoa batch logs ID TASK                a task's exit code, stdout and stderr tails, result
 * stoa batch cancel ID                   cancel a job (its tasks are killed)
 * ```
 * The API is found from `--batch URL`, else `STOA_BATCH_URL`, else the `batch` endpoint of
 * `<data>/cluster.json` (written by `stoa dev`), else `http://127.0.0.1:4500`. `--json` prints
 * JSON. Exit codes: 0 done (a waited job succeeded), 1 failed (a job failed, the API refused), 2
 * bad usage (including a spec that does not validate: the field is named).
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { componentUsage, resolveComponentOptions, untilSignal } from '@stoa/core/internal';
import { readClusterFile } from '@stoa/sdk';
import { pino } from 'pino';
import { DEFAULT_BATCH_PORT, DEFAULT_BUNDLE_SIZE, DEFAULT_MAX_TASKS_PER_OFFER, startBatch } from './service.js';

/** The options of `stoa batch serve`. */
export const BATCH_OPTIONS = {
  nats: { type: 'string', description: 'NATS server URL(s), comma-separated', default: 'nats://127.0.0.1:4222', env: 'STOA_NATS_URL' },
  prefix: { type: 'string', description: 'subject prefix of the cluster', default: 'stoa' },
  bucket: { type: 'string', description: 'JetStream KV bucket of the jobs', default: 'stoa-batch' },
  replicas: { type: 'number', description: 'replicas of the bucket (3 on a 3-node NATS cluster)', default: 1 },
  'http-port': { type: 'number', description: 'port of the REST API', default: DEFAULT_BATCH_PORT },
  'http-host': { type: 'string', description: 'address the REST API listens on', default: '127.0.0.1' },
  'framework-name': { type: 'string', description: 'the framework name shown by the master', default: 'batch' },
  principal: { type: 'string', description: 'the principal it subscribes as', default: 'batch' },
  role: { type: 'string', description: 'the role of jobs whose spec names none', default: '*' },
  'lease-ms': { type: 'number', description: 'leader lease among batch instances (renewed every quarter of it)', default: 5000 },
  'failover-timeout-ms': { type: 'number', description: 'how long the master keeps the tasks while no instance is subscribed', default: 604800000 },
  'executor-resources': { type: 'string', description: "the batch executor's resources: they bound how many tasks it runs at once", default: 'cpus:1;mem:512' },
  'max-tasks-per-offer': { type: 'number', description: 'the most tasks launched on one offer', default: 1000 },
  'bundle-size': { type: 'number', description: 'the most module tasks of a stage launched as one bundle (1: none)', default: 64 },
  'instance-id': { type: 'string', description: "this instance's id (default: a random one)" },
  'log-level': { type: 'string', description: 'log level', default: 'info', choices: ['silent', 'error', 'warn', 'info', 'debug', 'trace'] },
} as const;


/** `stoa batch serve`: runs one batch framework instance until SIGINT or SIGTERM; prints `--help` when asked. */
export async function runBatchComponentCli(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const { values: o, help } = resolveComponentOptions(BATCH_OPTIONS, argv, process.env, (path) => JSON.parse(readFileSync(path, 'utf8')));
  if (help) {
    out(componentUsage('stoa batch serve', 'Runs the Stoa batch framework: on-demand jobs of stages, with retries, locality and gangs, and its REST API.', BATCH_OPTIONS));
    return;
  }
  const logger = pino({ level: o['log-level'] ?? 'info', base: { component: 'stoa-batch' } }, pino.destination(2));
  const batch = await startBatch({
    servers: (o.nats ?? '').split(','),
    subjectPrefix: o.prefix ?? 'stoa',
    bucket: o.bucket ?? 'stoa-batch',
    replicas: o.replicas ?? 1,
    httpPort: o['http-port'] ?? DEFAULT_BATCH_PORT,
    host: o['http-host'] ?? '127.0.0.1',
    frameworkName: o['framework-name'] ?? 'batch',
    principal: o.principal ?? 'batch',
    role: o.role ?? '*',
    leaseMs: o['lease-ms'] ?? 5000,
    failoverTimeoutMs: o['failover-timeout-ms'] ?? 604800000,
    executor: { resources: o['executor-resources'] ?? 'cpus:1;mem:512' },
    maxTasksPerOffer: o['max-tasks-per-offer'] ?? DEFAULT_MAX_TASKS_PER_OFFER,
    bundleSize: o['bundle-size'] ?? DEFAULT_BUNDLE_SIZE,
    ...(o['instance-id'] ? { instanceId: o['instance-id'] } : {}),
    logger,
  });
  logger.info({ http: batch.httpUrl, instanceId: batch.instanceId }, 'batch framework running');
  const signal = await untilSignal();
  logger.info({ signal }, 'stopping');
  await batch.stop();
}

/** Where {@link runBatchCli} writes, and what it reads of its environment. */
export interface BatchCliIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** Whether `out` is a terminal (progress bars are redrawn in place). @default false */
  isTTY?: boolean;
  /** How often `--wait` polls, in ms. @default 500 */
  pollMs?: number;
}

const USAGE = `usage: stoa batch <command> [options]

Commands:
  serve [options]              run the batch framework (see stoa batch serve --help)
  submit FILE [--wait]         submit a job spec (YAML or JSON); --wait shows progress until it ends
  status [ID]                  list the jobs, or show one job's stages
  logs ID TASK                 a task's exit code, stdout and stderr tails, and result (TASK: map.3 or the full id)
  cancel ID                    cancel a job; its tasks are killed

Options:
  --batch URL                  the batch API (env STOA_BATCH_URL, else .stoa/cluster.json, else http://127.0.0.1:${DEFAULT_BATCH_PORT})
  --data DIR                   where stoa dev keeps cluster.json (default .stoa)
  --json                       print JSON
`;

interface StageView {
  stage: string;
  state: string;
  total: number;
  done: number;
  running: number;
  failed: number;
  pending: number;
}

interface JobView {
  jobId: string;
  name: string;
  state: string;
  message?: string;
  reason?: string;
  stages: StageView[];
}

class UsageError extends Error {}

/** Runs `stoa batch <command>`; resolves with the exit code. */
export async function runBatchCli(argv: string[], io: BatchCliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve') {
    await runBatchComponentCli(rest, io.out);
    return 0;
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { batch: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' }, wait: { type: 'boolean' }, help: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const env = io.env ?? process.env;
    const base = batchUrl(values.batch, values.data, env);
    const cli = { io, base, json: values.json === true };
    switch (command) {
      case 'submit':
        return await submit(cli, positionals, values.wait === true);
      case 'status':
        return await status(cli, positionals[0]);
      case 'logs':
        return await logs(cli, positionals);
      case 'cancel':
        return await cancel(cli, positionals);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`stoa batch: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`stoa batch: ${(error as Error).message}\n`);
    return 1;
  }
}

/** The API's URL: flag, environment, cluster file, default. */
function batchUrl(flag: string | undefined, data: string | undefined, env: Record<string, string | undefined>): string {
  if (flag) return flag.replace(/\/$/, '');
  if (env.STOA_BATCH_URL) return env.STOA_BATCH_URL.replace(/\/$/, '');
  try {
    const file = readClusterFile(data ?? env.STOA_DATA ?? '.stoa');
    if (file?.http.batch) return file.http.batch.replace(/\/$/, '');
  } catch {
    // An unreadable cluster file: fall back to the default.
  }
  return `http://127.0.0.1:${DEFAULT_BATCH_PORT}`;
}

interface Cli {
  io: BatchCliIo;
  base: string;
  json: boolean;
}

/** Calls the API; returns the parsed body, or throws with the API's message. */
async function call(cli: Cli, method: string, path: string, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${cli.base}${path}`, { method, ...(body !== undefined ? { body, headers: { 'content-type': 'application/yaml' } } : {}) });
  } catch (error) {
    throw new Error(`cannot reach the batch API at ${cli.base} (${(error as Error).cause ?? (error as Error).message}); is the batch framework running? (stoa dev, or stoa batch serve)`);
  }
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

function apiError(body: Record<string, unknown>, status: number): Error {
  const e = body.error as { message?: string } | undefined;
  return new Error(e?.message ?? `the batch API answered ${status}`);
}

async function submit(cli: Cli, positionals: string[], wait: boolean): Promise<number> {
  const file = positionals[0];
  if (file === undefined) throw new UsageError('submit needs a job spec file');
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const r = await call(cli, 'POST', `/v1/jobs?baseDir=${encodeURIComponent(dirname(path))}`, text);
  if (r.status === 422) {
    const e = r.body.error as { issues?: { path: string; message: string; line?: number }[]; message?: string };
    if (cli.json) cli.io.out(`${JSON.stringify(r.body)}\n`);
    else for (const i of e.issues ?? [{ path: '', message: e.message ?? 'invalid' }]) cli.io.err(`${file}${i.line !== undefined ? `:${i.line}` : ''}: ${i.path || '(spec)'}: ${i.message}\n`);
    return 2;
  }
  if (r.status !== 201) throw apiError(r.body, r.status);
  const job = r.body as unknown as JobView;
  if (!wait) {
    cli.io.out(cli.json ? `${JSON.stringify(job)}\n` : `submitted ${job.jobId}\n`);
    return 0;
  }
  if (!cli.json) cli.io.out(`submitted ${job.jobId}\n`);
  const final = await waitForJob(cli, job.jobId);
  if (cli.json) cli.io.out(`${JSON.stringify(final)}\n`);
  else cli.io.out(`${final.jobId} ${final.state}${final.message ? `: ${final.message}` : ''}\n`);
  return final.state === 'SUCCEEDED' ? 0 : 1;
}

/** Polls a job until it ends, drawing a progress bar per stage. */
async function waitForJob(cli: Cli, jobId: string): Promise<JobView> {
  let drawn = 0;
  let last = '';
  for (;;) {
    const r = await call(cli, 'GET', `/v1/jobs/${encodeURIComponent(jobId)}?tasks=false`);
    if (r.status !== 200) throw apiError(r.body, r.status);
    const job = r.body as unknown as JobView;
    if (!cli.json) {
      const lines = job.stages.map(progressLine);
      const text = lines.join('\n');
      if (cli.io.isTTY) {
        cli.io.out(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`);
        drawn = lines.length;
      } else if (text !== last) {
        cli.io.out(`${text}\n`);
      }
      last = text;
    }
    if (job.state !== 'RUNNING') return job;
    await new Promise((resolve) => setTimeout(resolve, cli.io.pollMs ?? 500));
  }
}

/** `map      [██████████··········]  10/20 done · 2 running · 0 failed`. */
export function progressLine(s: StageView): string {
  const width = 24;
  const filled = s.total === 0 ? width : Math.round((s.done / s.total) * width);
  const bar = `${'█'.repeat(filled)}${'·'.repeat(width - filled)}`;
  return `${s.stage.padEnd(12)} [${bar}] ${String(s.done).padStart(String(s.total).length)}/${s.total} done · ${s.running} running · ${s.failed} failed${s.state !== 'RUNNING' ? ` · ${s.state}` : ''}`;
}

async function status(cli: Cli, jobId: string | undefined): Promise<number> {
  if (jobId === undefined) {
    const r = await call(cli, 'GET', '/v1/jobs');
    if (r.status !== 200) throw apiError(r.body, r.status);
    const jobs = (r.body.jobs ?? []) as JobView[];
    if (cli.json) {
      cli.io.out(`${JSON.stringify(jobs)}\n`);
      return 0;
    }
    if (jobs.length === 0) cli.io.out('no jobs\n');
    for (const j of jobs) {
      const done = j.stages.reduce((n, s) => n + s.done, 0);
      const total = j.stages.reduce((n, s) => n + s.total, 0);
      cli.io.out(`${j.jobId.padEnd(36)} ${j.state.padEnd(10)} ${done}/${total} tasks done\n`);
    }
    return 0;
  }
  const r = await call(cli, 'GET', `/v1/jobs/${encodeURIComponent(jobId)}?tasks=false`);
  if (r.status !== 200) throw apiError(r.body, r.status);
  const job = r.body as unknown as JobView;
  if (cli.json) cli.io.out(`${JSON.stringify(job)}\n`);
  else cli.io.out(`${job.jobId} ${job.state}${job.message ? `: ${job.message}` : ''}\n${job.stages.map(progressLine).join('\n')}\n`);
  return 0;
}

async function logs(cli: Cli, positionals: string[]): Promise<number> {
  const [jobId, taskId] = positionals;
  if (jobId === undefined || taskId === undefined) throw new UsageError('logs needs a job id and a task (map.3, or the full id)');
  const r = await call(cli, 'GET', `/v1/jobs/${encodeURIComponent(jobId)}/tasks/${encodeURIComponent(taskId)}`);
  if (r.status !== 200) throw apiError(r.body, r.status);
  if (cli.json) {
    cli.io.out(`${JSON.stringify(r.body)}\n`);
    return 0;
  }
  const t = r.body as { taskId: string; state: string; attempt: number; message?: string; agentId?: string; output?: { exitCode?: number; stdoutTail?: string; stderrTail?: string; result?: unknown; error?: string; durationMs?: number } };
  const o = t.output ?? {};
  cli.io.err(`${t.taskId}: ${t.state}, attempt ${t.attempt}${t.agentId ? ` on ${t.agentId}` : ''}${o.exitCode !== undefined ? `, exit code ${o.exitCode}` : ''}${o.durationMs !== undefined ? `, ${o.durationMs} ms` : ''}${t.message ? ` — ${t.message}` : ''}\n`);
  if (o.stdoutTail) cli.io.out(o.stdoutTail.endsWith('\n') ? o.stdoutTail : `${o.stdoutTail}\n`);
  if (o.stderrTail) cli.io.err(o.stderrTail.endsWith('\n') ? o.stderrTail : `${o.stderrTail}\n`);
  if (o.error && !o.stderrTail) cli.io.err(`${o.error}\n`);
  if (o.result !== undefined) cli.io.out(`result: ${JSON.stringify(o.result)}\n`);
  return 0;
}

async function cancel(cli: Cli, positionals: string[]): Promise<number> {
  const jobId = positionals[0];
  if (jobId === undefined) throw new UsageError('cancel needs a job id');
  const r = await call(cli, 'DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`);
  if (r.status !== 200) throw apiError(r.body, r.status);
  cli.io.out(cli.json ? `${JSON.stringify(r.body)}\n` : `${jobId} ${(r.body as { state?: string }).state ?? 'cancelled'}\n`);
  return 0;
}
