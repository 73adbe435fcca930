/**
 * The `stoa` command: `stoa dev` (a whole cluster on this machine), the components on their own
 * (`stoa master`, `stoa agent`), and operator commands against a running cluster (`status`,
 * `agents`, `frameworks`, `tasks`, `kill`, `logs`, `drain`) with tables for people and `--json`
 * for scripts. Exit codes: 0 done, 1 failed, 2 bad usage.
 *
 * @module
 */

import { isTerminalState, type OperatorCall, StoaError, TaskStateSchema, TaskStates } from '@stoa/core';
import { untilSignal } from '@stoa/core/internal';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { runAgentCli } from '@stoa/agent';
import { runBatchCli } from '@stoa/framework-batch';
import { runChronosCli, runJobsCli } from '@stoa/framework-chronos';
import { runAppsCli, runMarathonCli } from '@stoa/framework-marathon';
import { runMasterCli } from '@stoa/master';
import { DEFAULT_DATA_DIR, discoverCluster, NoClusterError, readClusterFile } from '@stoa/sdk';
import { banner, startDevCluster } from './dev.js';
import { table } from './format.js';
import { openOperator, type OperatorAccess } from './operator-access.js';

/** Where output goes (tests capture it). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

function int(name: string, min = 0) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be a whole number ≥ ${min}`);
    return n;
  };
}

interface Global {
  nats?: string;
  http?: string;
  data?: string;
  prefix?: string;
  json?: boolean;
}


/** Builds the program. `io` receives all output. */
export function buildProgram(io: Io = processIo): Command {
  const program = new Command('stoa')
    .description('Stoa: a cluster resource manager. `stoa dev` runs a whole cluster on this machine.')
    .version('0.1.0')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .option('--nats <url>', 'NATS URL of the cluster (else STOA_NATS_URL, else <data>/cluster.json)')
    .option('--http <url>', "the master's HTTP API instead of NATS")
    .option('--data <dir>', 'the dev cluster data dir, where cluster.json is', DEFAULT_DATA_DIR)
    .option('--prefix <prefix>', 'subject prefix of the cluster', 'stoa')
    .option('--json', 'print JSON for scripts instead of tables');

  const withOperator = async <T>(fn: (ops: OperatorAccess, g: Global) => Promise<T>): Promise<T> => {
    const g = program.opts<Global>();
    const address = discoverCluster({
      ...(g.nats ? { nats: g.nats } : {}),
      ...(g.http ? { http: g.http } : {}),
      ...(g.data ? { data: g.data } : {}),
      ...(g.prefix ? { prefix: g.prefix } : {}),
    });
    const ops = await openOperator(address);
    try {
      return await fn(ops, g);
    } finally {
      await ops.close();
    }
  };
  const print = (g: Global, json: unknown, text: () => string) => io.out(g.json ? JSON.stringify(json, null, 2) : text());

  program
    .command('dev')
    .description('run a whole cluster in this process: nats-server, master, agents')
    .addOption(new Option('--agents <n>', 'process agents').default(3).argParser(int('--agents')))
    .addOption(new Option('--simulated-agents <n>', 'simulated agents besides').default(0).argParser(int('--simulated-agents')))
    .addOption(new Option('--master-port <port>', "the master's HTTP port (0: a free one)").default(5050).argParser(int('--master-port')))
    .addOption(new Option('--marathon-port <port>', "marathon's HTTP port (0: a free one)").default(8080).argParser(int('--marathon-port')))
    .addOption(new Option('--chronos-port <port>', "chronos' HTTP port (0: a free one)").default(4400).argParser(int('--chronos-port')))
    .addOption(new Option('--batch-port <port>', "the batch framework's HTTP port (0: a free one)").default(4500).argParser(int('--batch-port')))
    .option('--memory', 'use the in-process bus even if nats-server is installed')
    .option('--log-level <level>', 'log level (silent, error, warn, info, debug)', 'warn')
    .action(async (opts: { agents: number; simulatedAgents: number; masterPort: number; marathonPort: number; chronosPort: number; batchPort: number; memory?: boolean; logLevel: string }) => {
      const g = program.opts<Global>();
      const logger = pino({ level: opts.logLevel }, pino.destination(2));
      const dataDir = g.data ?? DEFAULT_DATA_DIR;
      const cluster = await startDevCluster({
        dataDir,
        agents: opts.agents,
        simulatedAgents: opts.simulatedAgents,
        masterPort: opts.masterPort,
        frameworks: { marathon: opts.marathonPort, chronos: opts.chronosPort, batch: opts.batchPort },
        ...(g.nats ? { nats: g.nats } : {}),
        ...(opts.memory ? { memory: true } : {}),
        ...(g.prefix ? { subjectPrefix: g.prefix } : {}),
        logger,
      });
      io.out(banner(cluster, dataDir));
      const signal = await untilSignal();
      io.out(`\n${signal}: stopping…`);
      await cluster.stop();
      io.out('stopped.');
    });

  // Listed for --help; `run` hands their arguments to them before this program parses anything.
  program.command('master').description('run one master on NATS (stoa master --help lists its options)');
  program.command('agent').description('run one agent on NATS (stoa agent --help lists its options)');
  program.command('marathon').description('run one marathon instance (stoa marathon --help lists its options)');
  program.command('apps').description('marathon apps: list | add FILE | update ID FILE | scale ID N | restart ID | remove ID | tasks ID | versions ID | rollback ID VERSION | deployments');
  program.command('chronos').description('run one chronos instance (stoa chronos --help lists its options)');
  program.command('jobs').description('chronos jobs: list | add FILE | run NAME | kill NAME | history NAME | graph (stoa jobs --help)');
  program.command('batch').description('batch jobs: `stoa batch serve` runs the framework; submit FILE [--wait] | status [ID] | logs ID TASK | cancel ID');

  program
    .command('status')
    .description('the master, agents, frameworks and task counts at a glance')
    .action(() =>
      withOperator(async (ops, g) => {
        const state = (await ops.call({ v: 1, type: 'GET_STATE' })) as {
          master: { masterId: string; epoch: number; httpUrl?: string };
          agents: { state: string }[];
          frameworks: { state: string }[];
          taskCounts: Record<string, number>;
        };
        print(g, state, () => {
          const byState = (xs: { state: string }[]) => {
            const counts = new Map<string, number>();
            for (const x of xs) counts.set(x.state, (counts.get(x.state) ?? 0) + 1);
            return [...counts].map(([k, v]) => `${v} ${k.toLowerCase()}`).join(', ') || 'none';
          };
          return [
            `master      ${state.master.masterId} (epoch ${state.master.epoch})${state.master.httpUrl ? ` ${state.master.httpUrl}` : ''}`,
            `agents      ${byState(state.agents)}`,
            `frameworks  ${byState(state.frameworks)}`,
            `tasks       ${Object.entries(state.taskCounts).map(([k, v]) => `${v} ${k.replace('TASK_', '').toLowerCase()}`).join(', ') || 'none'}`,
          ].join('\n');
        });
      }),
    );

  program
    .command('agents')
    .description('list agents')
    .action(() =>
      withOperator(async (ops, g) => {
        const { agents } = (await ops.call({ v: 1, type: 'GET_AGENTS' })) as {
          agents: { id: string; hostname: string; state: string; taskCount: number; resources: { name: string; scalar?: number }[]; used: { name: string; scalar?: number }[] }[];
        };
        const scalar = (rs: { name: string; scalar?: number }[], n: string) => rs.filter((r) => r.name === n).reduce((a, r) => a + (r.scalar ?? 0), 0);
        print(g, agents, () =>
          table(
            ['ID', 'HOSTNAME', 'STATE', 'TASKS', 'CPUS', 'MEM'],
            agents.map((a) => [a.id, a.hostname, a.state, String(a.taskCount), `${scalar(a.used, 'cpus')}/${scalar(a.resources, 'cpus')}`, `${scalar(a.used, 'mem')}/${scalar(a.resources, 'mem')}`]),
          ),
        );
      }),
    );

  program
    .command('frameworks')
    .description('list frameworks')
    .action(() =>
      withOperator(async (ops, g) => {
        const { frameworks } = (await ops.call({ v: 1, type: 'GET_FRAMEWORKS' })) as {
          frameworks: { id: string; info: { name: string; principal: string }; state: string; taskCount: number; share: number }[];
        };
        print(g, frameworks, () =>
          table(
            ['ID', 'NAME', 'PRINCIPAL', 'STATE', 'TASKS', 'SHARE'],
            frameworks.map((f) => [f.id, f.info.name, f.info.principal, f.state, String(f.taskCount), f.share.toFixed(3)]),
          ),
        );
      }),
    );

  program
    .command('tasks')
    .description('list tasks (live first, then the most recent finished ones)')
    .addOption(new Option('--state <state>', 'only tasks in this state').choices([...TaskStates]))
    .option('--framework <id>', 'only tasks of this framework')
    .option('--agent <id>', 'only tasks on this agent')
    .addOption(new Option('--limit <n>', 'at most this many').default(100).argParser(int('--limit', 1)))
    .action((opts: { state?: string; framework?: string; agent?: string; limit: number }) =>
      withOperator(async (ops, g) => {
        const call: OperatorCall = {
          v: 1,
          type: 'GET_TASKS',
          limit: opts.limit,
          ...(opts.state ? { state: TaskStateSchema.parse(opts.state) } : {}),
          ...(opts.framework ? { frameworkId: opts.framework } : {}),
          ...(opts.agent ? { agentId: opts.agent } : {}),
        };
        const r = (await ops.call(call)) as { tasks: { taskId: string; frameworkId: string; agentId: string; name: string; state: string }[]; total: number };
        print(g, r, () =>
          `${table(['ID', 'NAME', 'STATE', 'FRAMEWORK', 'AGENT'], r.tasks.map((t) => [t.taskId, t.name, t.state, t.frameworkId, t.agentId]))}\n${r.tasks.length} of ${r.total}`,
        );
      }),
    );

  program
    .command('kill')
    .description('kill a task (its framework sees TASK_KILLED)')
    .argument('<task>', 'task id')
    .action((taskId: string) =>
      withOperator(async (ops, g) => {
        await ops.call({ v: 1, type: 'KILL_TASKS', taskIds: [taskId] });
        print(g, { killed: taskId }, () => `kill sent to ${taskId}`);
      }),
    );

  program
    .command('drain')
    .description('drain an agent: no new offers, its tasks killed with grace')
    .argument('<agent>', 'agent id')
    .addOption(new Option('--grace-period <ms>', 'kill grace period').argParser(int('--grace-period')))
    .action((agentId: string, opts: { gracePeriod?: number }) =>
      withOperator(async (ops, g) => {
        await ops.call({ v: 1, type: 'DRAIN_AGENT', agentId, ...(opts.gracePeriod !== undefined ? { gracePeriodMs: opts.gracePeriod } : {}) });
        print(g, { draining: agentId }, () => `draining ${agentId}`);
      }),
    );

  program
    .command('logs')
    .description("print a task's stdout (or stderr)")
    .argument('<task>', 'task id')
    .option('--stderr', 'stderr instead of stdout')
    .option('-f, --follow', 'keep printing as the task writes, until it ends')
    .action((taskId: string, opts: { stderr?: boolean; follow?: boolean }) =>
      withOperator(async (ops) => {
        const path = opts.stderr ? 'stderr' : 'stdout';
        let offset = 0;
        const decoder = new TextDecoder();
        for (;;) {
          const r = (await ops.call({ v: 1, type: 'READ_FILE', taskId, path, offset, length: 65536 })) as { data?: Uint8Array };
          const chunk = r.data ?? new Uint8Array();
          if (chunk.length > 0) {
            process.stdout.write(decoder.decode(chunk, { stream: true }));
            offset += chunk.length;
            continue;
          }
          if (!opts.follow) break;
          const t = (await ops.call({ v: 1, type: 'GET_TASKS', limit: 10_000 })) as { tasks: { taskId: string; state: string }[] };
          const task = t.tasks.find((x) => x.taskId === taskId);
          if (!task || isTerminalState(TaskStateSchema.parse(task.state))) {
            // One last read: the task may have written its final lines as it ended.
            const last = (await ops.call({ v: 1, type: 'READ_FILE', taskId, path, offset, length: 65536 })) as { data?: Uint8Array };
            if (last.data?.length) process.stdout.write(decoder.decode(last.data));
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }),
    );

  return program;
}

/**
 * The components own their options: `stoa master …`, `stoa agent …` and the frameworks' commands
 * hand every argument after the component's name to it, untouched (the program's own `--nats`
 * must not swallow theirs).
 */
/** The program's own options that may come before a component's name. */
const GLOBAL_OPTIONS = new Set(['--nats', '--http', '--data', '--prefix', '--json']);

const components: Record<string, (args: string[], io: Io & { dataDir: string }) => Promise<unknown>> = {
  master: (args, io) => runMasterCli(args, io.out),
  agent: (args, io) => runAgentCli(args, io.out),
  marathon: (args, io) => runMarathonCli(args, io.out),
  apps: (args, io) => runAppsCli(args, { ...io, env: withClusterUrl(io.dataDir, 'marathon', 'STOA_MARATHON_URL') }),
  chronos: (args, io) => runChronosCli(args, io.out),
  jobs: (args, io) => runJobsCli(args, { ...io, env: withClusterUrl(io.dataDir, 'chronos', 'STOA_CHRONOS_URL') }),
  batch: (args, io) => runBatchCli(args, { ...io, env: withClusterUrl(io.dataDir, 'batch', 'STOA_BATCH_URL') }),
};

/**
 * The environment, with `name` set to the framework's URL from the dev cluster's file when neither
 * the environment nor a flag names one (the framework commands read `--<framework> URL`, then `name`).
 */
function withClusterUrl(dataDir: string, framework: string, name: string): Record<string, string | undefined> {
  if (process.env[name]) return process.env;
  const url = readClusterFile(dataDir)?.http[framework];
  return url ? { ...process.env, [name]: url } : process.env;
}

/** Runs the program on `argv` and returns the exit code. */
export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    // Global options may come first (`stoa --data DIR jobs list`): the data dir and --json reach the component.
    let i = 0;
    let dataDir: string | undefined;
    let json = false;
    while (i < argv.length && GLOBAL_OPTIONS.has(argv[i]!)) {
      if (argv[i] === '--json') json = true;
      else if (argv[i] === '--data') dataDir = argv[i + 1];
      i += argv[i] === '--json' ? 1 : 2;
    }
    const component = argv[i] === undefined ? undefined : components[argv[i]!];
    if (component) {
      const rest = [...argv.slice(i + 1), ...(json ? ['--json'] : [])];
      const code = await component(rest, { ...io, dataDir: dataDir ?? process.env.STOA_DATA ?? DEFAULT_DATA_DIR });
      return typeof code === 'number' ? code : 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof NoClusterError) {
      io.err(error.message);
      return 1;
    }
    if (StoaError.isInstance(error)) {
      io.err(`stoa: ${error.message}${error.code === 'NO_RESPONDERS' ? '\nNo master answers: is the cluster running (stoa dev)?' : ''}`);
      return error.code === 'VALIDATION_ERROR' ? 2 : 1;
    }
    io.err(`stoa: ${(error as Error)?.message ?? String(error)}`);
    return 1;
  }
}
