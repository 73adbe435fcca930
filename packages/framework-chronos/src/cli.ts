/**
 * The command line of Chronos:
 *
 * - {@link runChronosCli} — `stoa chronos`: runs one instance until SIGINT or SIGTERM, configured
 *   by flags, `STOA_…` environment variables or a JSON config file (core's component options).
 * - {@link runJobsCli} — `stoa jobs list | add FILE | run NAME | kill NAME | history NAME | graph`:
 *   a client of the REST API of the instance at `--chronos URL` (else `STOA_CHRONOS_URL`, else
 *   `http://127.0.0.1:4400`); tables by default, `--json` for the raw answer; exit code 0 on
 *   success, 1 when the API refused, 2 for bad usage.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { componentUsage, resolveComponentOptions, untilSignal } from '@stoa/core/internal';
import { pino } from 'pino';
import type { Run } from './run/run.js';
import type { JobView } from './scheduler.js';
import { startChronos } from './service.js';

/** The options of `stoa chronos`. */
export const CHRONOS_OPTIONS = {
  nats: { type: 'string', description: 'NATS server URL(s), comma-separated', default: 'nats://127.0.0.1:4222', env: 'STOA_NATS_URL' },
  prefix: { type: 'string', description: 'subject prefix of the cluster', default: 'stoa' },
  bucket: { type: 'string', description: 'JetStream KV bucket of jobs and runs (shared by every instance)', default: 'stoa-chronos' },
  'http-port': { type: 'number', description: 'port of the REST API', default: 4400 },
  'http-host': { type: 'string', description: 'address the REST API listens on', default: '127.0.0.1' },
  'advertised-url': { type: 'string', description: 'URL other instances forward requests to (default http://<host>:<port>)' },
  'framework-name': { type: 'string', description: 'framework name at the master', default: 'chronos' },
  principal: { type: 'string', description: 'framework principal', default: 'chronos' },
  role: { type: 'string', description: 'role of the tasks', default: '*' },
  'lease-ms': { type: 'number', description: 'leader lease length (renewed every quarter of it)', default: 5000 },
  'failover-timeout-ms': { type: 'number', description: 'how long the master keeps tasks while no instance is subscribed', default: 604800000 },
  'chronos-id': { type: 'string', description: "this instance's id (default: a random one)" },
  'failure-webhook': { type: 'string', description: 'URL that receives a JSON POST for every failed run' },
  'log-level': { type: 'string', description: 'log level', default: 'info', choices: ['silent', 'error', 'warn', 'info', 'debug', 'trace'] },
} as const;


/** Runs a Chronos instance from command-line arguments until a signal; prints `--help` when asked. */
export async function runChronosCli(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const { values: o, help } = resolveComponentOptions(CHRONOS_OPTIONS, argv, process.env, (path) => JSON.parse(readFileSync(path, 'utf8')));
  if (help) {
    out(componentUsage('stoa chronos', 'Runs one Chronos instance: scheduled and dependent jobs with a Chronos REST API. Instances sharing a bucket elect a leader; followers forward requests to it.', CHRONOS_OPTIONS));
    return;
  }
  const logger = pino({ level: o['log-level'] ?? 'info', base: { component: 'stoa-chronos' } }, pino.destination(2));
  const chronos = await startChronos({
    servers: (o.nats ?? '').split(','),
    bucket: o.bucket ?? 'stoa-chronos',
    subjectPrefix: o.prefix ?? 'stoa',
    httpPort: o['http-port'] ?? 4400,
    host: o['http-host'] ?? '127.0.0.1',
    frameworkName: o['framework-name'] ?? 'chronos',
    principal: o.principal ?? 'chronos',
    role: o.role ?? '*',
    leaseMs: o['lease-ms'] ?? 5000,
    failoverTimeoutMs: o['failover-timeout-ms'] ?? 604_800_000,
    ...(o['advertised-url'] ? { advertisedUrl: o['advertised-url'] } : {}),
    ...(o['chronos-id'] ? { chronosId: o['chronos-id'] } : {}),
    ...(o['failure-webhook'] ? { failureWebhook: o['failure-webhook'] } : {}),
    logger,
  });
  logger.info({ chronosId: chronos.chronosId, http: chronos.httpUrl }, 'chronos running');
  const signal = await untilSignal();
  logger.info({ signal }, 'stopping');
  await chronos.stop();
}

/** Where `stoa jobs` reads and writes. */
export interface JobsCliIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** The environment. @default process.env */
  env?: Record<string, string | undefined>;
  /** Reads a file (for `add`). @default fs.readFileSync as UTF-8 */
  readFile?(path: string): string;
}

const JOBS_USAGE = `usage: stoa jobs <command> [--chronos URL] [--json]

Commands:
  list                 every job: name, schedule or parents, last status, state
  add FILE             add or replace the job(s) in a JSON file (one job or an array)
  run NAME [ARG...]    run a job now, with extra arguments
  kill NAME            kill the job's active runs
  history NAME         the job's runs, newest first
  show NAME            the job's definition and statistics (JSON)
  delete NAME          delete a job (--force: one with children)
  graph [--format dot|csv|svg]   the dependency graph

Options:
  --chronos URL        the Chronos REST API (env STOA_CHRONOS_URL, default http://127.0.0.1:4400)
  --json               print the API's JSON answer
  --force              with 'delete': delete a job with children
`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`;
}

function time(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

/** Runs `stoa jobs …` and returns the exit code: 0 done, 1 refused or unreachable, 2 bad usage. */
export async function runJobsCli(argv: string[], io: JobsCliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: { chronos: { type: 'string' }; json: { type: 'boolean' }; format: { type: 'string' }; force: { type: 'boolean' }; help: { type: 'boolean' } }; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { chronos: { type: 'string' }, json: { type: 'boolean' }, format: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n${JOBS_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === undefined) {
    (values.help ? io.out : io.err)(JOBS_USAGE);
    return values.help ? 0 : 2;
  }
  const env = io.env ?? process.env;
  const base = (values.chronos ?? env.STOA_CHRONOS_URL ?? 'http://127.0.0.1:4400').replace(/\/$/, '');
  const api = `${base}/v1/scheduler`;
  const call = async (method: string, path: string, body?: unknown): Promise<{ ok: boolean; status: number; data: unknown; text: string }> => {
    const answer = await fetch(`${api}${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    const text = await answer.text();
    let data: unknown = text;
    try {
      data = text === '' ? null : JSON.parse(text);
    } catch {}
    return { ok: answer.ok, status: answer.status, data, text };
  };
  const refused = (r: { status: number; data: unknown; text: string }): number => {
    const d = r.data as { message?: string; details?: { path: string; errors: string[] }[] } | null;
    io.err(`error ${r.status}: ${d?.message ?? r.text}\n`);
    for (const detail of d?.details ?? []) io.err(`  ${detail.path}: ${detail.errors.join('; ')}\n`);
    return 1;
  };
  const need = (what: string): string | undefined => {
    if (args[0] === undefined) io.err(`stoa jobs ${command} needs ${what}\n`);
    return args[0];
  };
  try {
    switch (command) {
      case 'list': {
        const r = await call('GET', '/jobs/summary');
        if (!r.ok) return refused(r);
        const jobs = (r.data as { jobs: { name: string; status: string; state: string; schedule: string; parents: string[]; disabled: boolean }[] }).jobs;
        if (values.json) io.out(`${JSON.stringify(jobs, null, 2)}\n`);
        else io.out(table([['NAME', 'SCHEDULE / PARENTS', 'LAST', 'STATE', 'DISABLED'], ...jobs.map((j) => [j.name, j.schedule || j.parents.join(','), j.status, j.state, String(j.disabled)])]));
        return 0;
      }
      case 'add': {
        const file = need('a FILE');
        if (file === undefined) return 2;
        const read = io.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
        let parsedFile: unknown;
        try {
          parsedFile = JSON.parse(read(file));
        } catch (error) {
          io.err(`${file}: ${(error as Error).message}\n`);
          return 2;
        }
        for (const job of Array.isArray(parsedFile) ? parsedFile : [parsedFile]) {
          const dependent = typeof job === 'object' && job !== null && Array.isArray((job as { parents?: unknown }).parents);
          const r = await call('POST', dependent ? '/dependency' : '/iso8601', job);
          if (!r.ok) return refused(r);
          io.out(`added ${(job as { name?: string }).name}\n`);
        }
        return 0;
      }
      case 'run': {
        const name = need('a job NAME');
        if (name === undefined) return 2;
        const extra = args.slice(1);
        const r = await call('PUT', `/job/${encodeURIComponent(name)}`, extra.length > 0 ? { arguments: extra } : undefined);
        if (!r.ok) return refused(r);
        io.out(values.json ? `${r.text}\n` : `started run ${(r.data as { run: string }).run} of ${name}\n`);
        return 0;
      }
      case 'kill': {
        const name = need('a job NAME');
        if (name === undefined) return 2;
        const r = await call('DELETE', `/task/kill/${encodeURIComponent(name)}`);
        if (!r.ok) return refused(r);
        io.out(values.json ? `${r.text}\n` : `killed ${(r.data as { killed: number }).killed} run(s) of ${name}\n`);
        return 0;
      }
      case 'delete': {
        const name = need('a job NAME');
        if (name === undefined) return 2;
        const r = await call('DELETE', `/job/${encodeURIComponent(name)}${values.force ? '?force=true' : ''}`);
        if (!r.ok) return refused(r);
        io.out(`deleted ${name}\n`);
        return 0;
      }
      case 'history': {
        const name = need('a job NAME');
        if (name === undefined) return 2;
        const r = await call('GET', `/job/${encodeURIComponent(name)}/runs`);
        if (!r.ok) return refused(r);
        const runs = r.data as Run[];
        if (values.json) io.out(`${JSON.stringify(runs, null, 2)}\n`);
        else {
          io.out(
            table([
              ['RUN', 'TRIGGER', 'STATUS', 'ATTEMPT', 'DUE', 'STARTED', 'ENDED', 'EXIT', 'MESSAGE'],
              ...runs.map((run) => [run.id, run.trigger, run.status, String(run.attempt), time(run.scheduledAt), time(run.startedAt), time(run.endedAt), run.exitCode === undefined ? '-' : String(run.exitCode), run.message ?? '']),
            ]),
          );
        }
        return 0;
      }
      case 'show': {
        const name = need('a job NAME');
        if (name === undefined) return 2;
        const r = await call('GET', `/job/${encodeURIComponent(name)}`);
        if (!r.ok) return refused(r);
        io.out(`${JSON.stringify(r.data as JobView, null, 2)}\n`);
        return 0;
      }
      case 'graph': {
        const format = values.format ?? 'dot';
        if (format !== 'dot' && format !== 'csv' && format !== 'svg') {
          io.err(`--format must be dot, csv or svg\n`);
          return 2;
        }
        const r = await call('GET', `/graph/${format}`);
        if (!r.ok) return refused(r);
        io.out(r.text.endsWith('\n') ? r.text : `${r.text}\n`);
        return 0;
      }
      default:
        io.err(`unknown command '${command}'\n${JOBS_USAGE}`);
        return 2;
    }
  } catch (error) {
    io.err(`cannot reach Chronos at ${base}: ${(error as Error).message}\n`);
    return 1;
  }
}
