/**
 * The command line: `stoa marathon` runs one Marathon instance (options from flags, `STOA_…`
 * variables or `--config FILE`, as every component), and `stoa apps …` talks to a Marathon's
 * REST API: list, add, update, scale, restart, remove, tasks, versions, rollback, deployments —
 * tables for people, `--json` for scripts, a progress line while a deployment runs, and an exit
 * code that says whether it worked.
 *
 * @example
 * ```ts
 * await runMarathonCli(['--nats', 'nats://127.0.0.1:4222', '--http-port', '8080']);
 * process.exitCode = await runAppsCli(['scale', '/web', '5'], { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
 * ```
 * @module
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { componentUsage, resolveComponentOptions, untilSignal } from '@stoa/core/internal';
import { pino } from 'pino';
import { startMarathon } from './service.js';

/** The options of `stoa marathon`. */
export const MARATHON_OPTIONS = {
  nats: { type: 'string', description: 'NATS server URL(s), comma-separated', default: 'nats://127.0.0.1:4222', env: 'STOA_NATS_URL' },
  prefix: { type: 'string', description: 'subject prefix of the cluster', default: 'stoa' },
  bucket: { type: 'string', description: 'JetStream KV bucket of apps, deployments and instances', default: 'stoa-marathon' },
  replicas: { type: 'number', description: 'replicas of that bucket (3 on a 3-node NATS cluster)', default: 1 },
  'http-port': { type: 'number', description: 'port of the REST API', default: 8080 },
  host: { type: 'string', description: 'address the REST API listens on (and that followers reach the leader at)', default: '127.0.0.1' },
  'framework-name': { type: 'string', description: 'the framework name at the master', default: 'marathon' },
  role: { type: 'string', description: 'the role of the tasks', default: '*' },
  'lease-ms': { type: 'number', description: 'leader lease length among marathon instances (renewed every quarter)', default: 5000 },
  'marathon-id': { type: 'string', description: "this instance's id (default: a random one)" },
  'log-level': { type: 'string', description: 'log level', default: 'info', choices: ['silent', 'error', 'warn', 'info', 'debug', 'trace'] },
} as const;


/** `stoa marathon`: runs one Marathon instance until SIGINT or SIGTERM; prints `--help` when asked. */
export async function runMarathonCli(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const { values: o, help } = resolveComponentOptions(MARATHON_OPTIONS, argv, process.env, (path) => JSON.parse(readFileSync(path, 'utf8')));
  if (help) {
    out(
      componentUsage(
        'stoa marathon',
        'Runs one Marathon instance: long-running apps on Stoa with Marathon\'s REST API. Several instances on one bucket elect a leader; followers forward the API to it.',
        MARATHON_OPTIONS,
      ),
    );
    return;
  }
  const logger = pino({ level: o['log-level'] ?? 'info', base: { component: 'stoa-marathon' } }, pino.destination(2));
  const marathon = await startMarathon({
    servers: (o.nats ?? '').split(','),
    bucket: o.bucket ?? 'stoa-marathon',
    replicas: o.replicas ?? 1,
    subjectPrefix: o.prefix ?? 'stoa',
    httpPort: o['http-port'] ?? 8080,
    host: o.host ?? '127.0.0.1',
    frameworkName: o['framework-name'] ?? 'marathon',
    role: o.role ?? '*',
    leaseMs: o['lease-ms'] ?? 5000,
    ...(o['marathon-id'] ? { marathonId: o['marathon-id'] } : {}),
    logger,
  });
  logger.info({ marathonId: marathon.marathonId, http: marathon.httpUrl }, 'marathon running');
  const signal = await untilSignal();
  logger.info({ signal }, 'stopping');
  await marathon.stop();
}

/** Where `stoa apps` writes, and what it reads of its surroundings. */
export interface AppsCliIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** The environment (for `STOA_MARATHON_URL`). @default process.env */
  env?: Record<string, string | undefined>;
  /** Reads an app definition file. @default fs.readFileSync */
  readFile?(path: string): string;
  /** How often a deployment's progress is polled (ms). @default 500 */
  pollMs?: number;
  /** Give up waiting for a deployment after this long (ms). @default 600000 */
  waitTimeoutMs?: number;
}

const APPS_USAGE = `usage: stoa apps <command> [--marathon URL] [--json] [--force] [--no-wait]

Commands:
  list                    the apps, with instances and health
  add FILE                create an app from a JSON definition
  update ID FILE          replace an app's definition
  scale ID N              set an app's instance count
  restart ID              restart an app's tasks (rolling)
  remove ID               delete an app and its tasks
  tasks ID                an app's tasks
  versions ID             an app's stored versions
  rollback ID VERSION     go back to a stored version
  deployments             deployments in progress

Options:
  --marathon URL   the Marathon REST API (env STOA_MARATHON_URL, default http://127.0.0.1:8080)
  --json           print the API's JSON answer
  --force          override deployments in progress
  --no-wait        do not wait for the deployment to finish
`;

class CliError extends Error {}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`;
}

/**
 * `stoa apps …` against a Marathon REST API. Returns the exit code: 0 on success, 1 when the API
 * refused or a deployment failed, 2 for a usage error.
 */
export async function runAppsCli(argv: string[], io: AppsCliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { marathon: { type: 'string' }, json: { type: 'boolean' }, force: { type: 'boolean' }, 'no-wait': { type: 'boolean' }, help: { type: 'boolean' } },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${APPS_USAGE}`);
    return 2;
  }
  const flags = parsed.values as { marathon?: string; json?: boolean; force?: boolean; 'no-wait'?: boolean; help?: boolean };
  const [command, ...args] = parsed.positionals;
  if (flags.help || command === undefined) {
    (flags.help ? io.out : io.err)(APPS_USAGE);
    return flags.help ? 0 : 2;
  }
  const env = io.env ?? process.env;
  const base = (flags.marathon ?? env.STOA_MARATHON_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const query = flags.force ? '?force=true' : '';
  const appPath = (id: string | undefined) => {
    if (!id) throw new CliError('an app id is required');
    return `/v2/apps${id.startsWith('/') ? id : `/${id}`}`;
  };
  const readJson = (path: string | undefined): unknown => {
    if (!path) throw new CliError('a definition file is required');
    const text = (io.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new CliError(`${path} is not valid JSON: ${(error as Error).message}`);
    }
  };

  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    let answer: Response;
    try {
      answer = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new CliError(`cannot reach Marathon at ${base}: ${(error as Error).cause ?? (error as Error).message}`);
    }
    const text = await answer.text();
    const json = text === '' ? {} : (JSON.parse(text) as unknown);
    if (!answer.ok) {
      const b = json as { message?: string; details?: { path: string; errors: string[] }[]; deployments?: { id: string }[] };
      const details = (b.details ?? []).map((d) => `\n  ${d.path}: ${d.errors.join('; ')}`).join('');
      const deployments = b.deployments ? `\n  deployments: ${b.deployments.map((d) => d.id).join(', ')}` : '';
      throw new CliError(`${method} ${path}: HTTP ${answer.status}: ${b.message ?? text}${details}${deployments}`);
    }
    return json;
  };

  /** Prints the change's answer and waits for its deployment with a progress line. */
  const deployed = async (answer: unknown): Promise<number> => {
    const { deploymentId, version } = answer as { deploymentId?: string; version?: string };
    if (flags.json) io.out(`${JSON.stringify(answer, null, 2)}\n`);
    else io.out(`deployment ${deploymentId} (version ${version})\n`);
    if (!deploymentId || flags['no-wait']) return 0;
    const deadline = Date.now() + (io.waitTimeoutMs ?? 600_000);
    let last = '';
    for (;;) {
      const deployments = (await call('GET', '/v2/deployments')) as { id: string; currentStep: number; totalSteps: number; currentActions: { action: string; app: string }[] }[];
      const mine = deployments.find((d) => d.id === deploymentId);
      if (!mine) break;
      const line = `step ${mine.currentStep}/${mine.totalSteps}: ${mine.currentActions.map((a) => `${a.action} ${a.app}`).join(', ')}`;
      if (line !== last && !flags.json) io.err(`${line}\n`);
      last = line;
      if (Date.now() > deadline) {
        io.err(`deployment ${deploymentId} still running after ${(io.waitTimeoutMs ?? 600_000) / 1000}s\n`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, io.pollMs ?? 500));
    }
    if (!flags.json) io.out(`deployment ${deploymentId} finished\n`);
    return 0;
  };

  const print = (json: unknown, rows: () => string[][]): number => {
    io.out(flags.json ? `${JSON.stringify(json, null, 2)}\n` : table(rows()));
    return 0;
  };

  try {
    switch (command) {
      case 'list': {
        const json = (await call('GET', '/v2/apps?embed=apps.counts&embed=apps.deployments')) as { apps: Record<string, unknown>[] };
        return print(json, () => [
          ['ID', 'INSTANCES', 'RUNNING', 'HEALTHY', 'DEPLOYMENTS', 'CMD'],
          ...json.apps.map((a) => [
            String(a.id),
            String(a.instances),
            String(a.tasksRunning ?? 0),
            (a.healthChecks as unknown[]).length > 0 ? String(a.tasksHealthy ?? 0) : '-',
            String((a.deployments as unknown[] | undefined)?.length ?? 0),
            String(a.cmd ?? (a.args as string[] | undefined)?.join(' ') ?? '').slice(0, 60),
          ]),
        ]);
      }
      case 'add':
        return deployed(await call('POST', `/v2/apps${query}`, readJson(args[0])));
      case 'update':
        return deployed(await call('PUT', `${appPath(args[0])}${query}`, readJson(args[1])));
      case 'scale': {
        const n = Number(args[1]);
        if (!Number.isInteger(n) || n < 0) throw new CliError('scale needs a whole number of instances');
        return deployed(await call('PATCH', `${appPath(args[0])}${query}`, { instances: n }));
      }
      case 'restart':
        return deployed(await call('POST', `${appPath(args[0])}/restart${query}`));
      case 'remove':
        return deployed(await call('DELETE', `${appPath(args[0])}${query}`));
      case 'rollback':
        if (!args[1]) throw new CliError('rollback needs a version (see `stoa apps versions ID`)');
        return deployed(await call('PUT', `${appPath(args[0])}${query}`, { version: args[1] }));
      case 'tasks': {
        const json = (await call('GET', `${appPath(args[0])}/tasks`)) as { tasks: Record<string, unknown>[] };
        return print(json, () => [
          ['ID', 'STATE', 'HOST', 'PORTS', 'HEALTHY', 'VERSION'],
          ...json.tasks.map((t) => {
            const health = t.healthCheckResults as { alive: boolean }[] | undefined;
            return [String(t.id), String(t.state), String(t.host), (t.ports as number[]).join(','), health ? String(health[0]?.alive) : '-', String(t.version)];
          }),
        ]);
      }
      case 'versions': {
        const json = (await call('GET', `${appPath(args[0])}/versions`)) as { versions: string[] };
        return print(json, () => [['VERSION'], ...json.versions.map((v) => [v])]);
      }
      case 'deployments': {
        const json = (await call('GET', '/v2/deployments')) as { id: string; version: string; currentStep: number; totalSteps: number; affectedApps: string[] }[];
        return print(json, () => [['ID', 'VERSION', 'STEP', 'APPS'], ...json.map((d) => [d.id, d.version, `${d.currentStep}/${d.totalSteps}`, d.affectedApps.join(',')])]);
      }
      default:
        io.err(`unknown command "${command}"\n\n${APPS_USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
