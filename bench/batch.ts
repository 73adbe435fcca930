/**
 * `batch`: no-op tasks through Stoa's batch framework against no-op jobs through BullMQ, side by
 * side on this machine in one run.
 *
 * - Stoa: a real nats-server (JetStream), the master and 2 real agents (process containerizer)
 *   as processes of their own, and the batch framework here (its jobs in a JetStream KV bucket).
 *   One job of `--tasks` no-op module-function tasks runs through the batch executor, a real
 *   process per agent running up to `--concurrency` tasks at once. Timed from the submit to the
 *   job's end, after a warm-up job has started the executors.
 * - BullMQ: a `redis-server` (Debian's, from PATH) on a free port with a temp dir, 2 worker
 *   processes at `--concurrency` each, `--tasks` no-op jobs added in bulk. Timed from the first
 *   add to the last completion, after the workers are up. Needs `bullmq` in node_modules (imported
 *   dynamically; without it the BullMQ figure is null).
 *
 * Flags: `--tasks` (100000), `--concurrency` (100 per agent / per worker), `--per-offer` (tasks
 * per offer, the framework's default), `--bundle-size` (module tasks per bundle, the framework's default; 1 = none), `--timeout-ms` (600000), `--profile DIR` (the master and the agents write V8 CPU
 * profiles there; the framework's, in this process, with `node --cpu-prof --import tsx bench/run.ts …`),
 * `--work-dir DIR` (where the agents' work dirs go, checkpoints included: the OS temp dir by
 * default; `/dev/shm` shows what the agents' checkpoint writes cost). `BENCH_DEBUG=1` also prints
 * the children's output and how many tasks ended in each 250 ms. Figures: stoaTasksPerSec,
 * bullmqJobsPerSec, stoaMs, bullmqMs; a BullMQ side that cannot run (no `ioredis` for bullmq, no
 * redis-server) gives null and says why on stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BUNDLE_SIZE, DEFAULT_MAX_TASKS_PER_OFFER, startBatch } from '@stoa/framework-batch';
import { freePort, startNats } from '@stoa/testkit';
import { procStats } from './launch.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
/** Progress of the child processes goes to stderr when set. */
const debug = env.BENCH_DEBUG !== undefined;
/** The no-op task, as a module the executor imports without a file. */
const NOOP_MODULE = 'data:text/javascript,export function noop() {}';

function child(args: string[], ready: RegExp, options: { env?: Record<string, string>; nodeArgs?: string[]; tsx?: boolean } = {}): Promise<ChildProcess> {
  const argv = [...(options.nodeArgs ?? []), ...(options.tsx === false ? [] : ['--import', 'tsx']), ...args];
  const proc = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.length > 100_000) out = out.slice(-20_000);
      if (debug) process.stderr.write(`[${args[0]}] ${d}`);
      if (ready.test(out)) resolve(proc);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${args.slice(0, 2).join(' ')} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

/** Pids of the processes started for `dir` (the agents' batch executors), found as {@link killLeftovers} finds them. */
function pidsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) || readFileSync(`/proc/${pid}/environ`, 'utf8').includes(dir)) pids.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** CPU seconds each part of the Stoa side has used so far. */
interface CpuSnapshot {
  master: number;
  agents: number;
  executors: number;
  nats: number;
  framework: number;
}

/**
 * Kills what the agents left running under `dir` (their batch executors: tasks outlive a stopped
 * agent by design), found by the unique temp dir in their command lines or environments.
 */
function killLeftovers(dir: string): void {
  for (const pid of pidsUnder(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

async function stopAll(procs: ChildProcess[]): Promise<void> {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve(null) : p.once('exit', resolve)))));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Stoa: submit-to-end of one job of `tasks` no-op module tasks on 2 agents. */
async function runStoa(
  tasks: number,
  concurrency: number,
  perOffer: number,
  timeoutMs: number,
  profileDir: string | undefined,
  workRoot: string,
  bundleSize: number | undefined,
): Promise<{ ms: number; cpu: CpuSnapshot }> {
  const nats = await startNats({ jetstream: true });
  const work = mkdtempSync(join(workRoot, 'stoa-bench-batch-'));
  const procs: ChildProcess[] = [];
  try {
    const env = { STOA_NATS_URL: nats.url };
    const nodeArgs = profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    const httpPort = await freePort();
    procs.push(
      await child(['packages/cli/src/bin.ts', 'master', '--nats', nats.url, '--http-port', String(httpPort), '--allocation-interval-ms', '50', '--offer-timeout-ms', '0'], /master running/, { env, nodeArgs }),
    );
    for (const name of ['agent-1', 'agent-2']) {
      const args = ['packages/cli/src/bin.ts', 'agent', '--nats', nats.url, '--work-dir', join(work, name), '--hostname', name, '--resources', 'cpus:8;mem:16384;disk:10000', '--usage-interval-ms', '0'];
      procs.push(await child(args, /agent registered/, { env, nodeArgs }));
    }
    // Each task needs a thousandth of a CPU and one MB, so one offer holds many; the executor runs `concurrency` at once.
    await using batch = await startBatch({
      servers: nats.url,
      httpPort: 0,
      maxTasksPerOffer: perOffer,
      ...(bundleSize !== undefined ? { bundleSize } : {}),
      executor: { resources: 'cpus:1;mem:1024', maxConcurrency: concurrency },
    });
    await batch.waitLeading();
    const submit = async (count: number) => {
      const spec = { name: 'bench', stages: [{ name: 'noop', count, task: { module: NOOP_MODULE, export: 'noop', resources: { cpus: 0.001, mem: 1 } } }] };
      const res = await fetch(`${batch.httpUrl}/v1/jobs`, { method: 'POST', body: JSON.stringify(spec) });
      if (res.status !== 201) throw new Error(`submit: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { jobId: string }).jobId;
    };
    const ended = async (jobId: string) => {
      const job = (await (await fetch(`${batch.httpUrl}/v1/jobs/${jobId}?tasks=false`)).json()) as { state: string; message?: string };
      if (job.state === 'FAILED' || job.state === 'CANCELLED') throw new Error(`bench job ${job.state}: ${job.message}`);
      return job.state === 'SUCCEEDED';
    };
    console.error('batch: warming up (the executors start) …');
    // More than one offer's worth on each agent, so both agents' executors are up before the
    // clock starts (BullMQ's workers are started before its clock too).
    const warm = await submit(2 * perOffer + 200);
    await waitUntil(() => ended(warm), 60_000, 'the warm-up job');
    console.error(`batch: stoa, ${tasks} tasks …`);
    const cpuNow = (): CpuSnapshot => {
      const cpu = (pids: (number | undefined)[]) => pids.reduce((sum: number, pid) => sum + (pid === undefined ? 0 : procStats(pid).cpuSec), 0);
      const agentPids = procs.slice(1).map((p) => p.pid);
      const usage = process.cpuUsage();
      return {
        master: cpu([procs[0]!.pid]),
        agents: cpu(agentPids),
        executors: cpu(pidsUnder(work).filter((pid) => !agentPids.includes(pid))),
        nats: cpu([nats.pid]),
        framework: (usage.user + usage.system) / 1e6,
      };
    };
    const cpuBefore = cpuNow();
    const started = performance.now();
    const jobId = await submit(tasks);
    /** With BENCH_DEBUG: tasks ended per 250 ms since the submit, printed at the end. */
    const endedPerSlot: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const off = batch.scheduler!.onEvent((e) => {
        if (debug && e.type === 'TASK_ENDED' && e.jobId === jobId) {
          const slot = Math.floor((performance.now() - started) / 250);
          endedPerSlot[slot] = (endedPerSlot[slot] ?? 0) + 1;
        }
        if (e.type === 'JOB_ENDED' && e.jobId === jobId) {
          off();
          if (e.state === 'SUCCEEDED') resolve();
          else reject(new Error(`bench job ${e.state}: ${e.message}`));
        }
      });
    });
    const progress = setInterval(() => {
      void fetch(`${batch.httpUrl}/v1/jobs/${jobId}?tasks=false`)
        .then((r) => r.json() as Promise<{ stages: { done: number; running: number }[] }>)
        .then((j) => console.error(`batch: stoa ${Math.round(performance.now() - started)} ms: ${j.stages[0]?.done} done, ${j.stages[0]?.running} launching or running`))
        .catch(() => {});
    }, 2000);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([done, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`stoa: not done after ${timeoutMs} ms`)), timeoutMs)))]);
    clearTimeout(timer);
    clearInterval(progress);
    const ms = performance.now() - started;
    const cpuAfter = cpuNow();
    if (debug) console.error(`batch: tasks ended per 250 ms: ${Array.from(endedPerSlot, (n) => n ?? 0).join(' ')}`);
    const perTask = (k: keyof CpuSnapshot) => Math.round(((cpuAfter[k] - cpuBefore[k]) * 1e6) / tasks);
    return { ms, cpu: { master: perTask('master'), agents: perTask('agents'), executors: perTask('executors'), nats: perTask('nats'), framework: perTask('framework') } };
  } finally {
    await stopAll(procs);
    killLeftovers(work);
    await nats.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The worker process of the BullMQ side: a Worker at `concurrency` running no-op jobs. */
const BULLMQ_WORKER = `
import { Worker } from 'bullmq';
const [port, concurrency] = process.argv.slice(-2).map(Number);
const worker = new Worker('bench', async () => {}, { connection: { host: '127.0.0.1', port }, concurrency, autorun: true });
await worker.waitUntilReady();
console.log('worker ready');
process.on('SIGTERM', async () => { await worker.close(); process.exit(0); });
`;

/** BullMQ: first add to last completion of `tasks` no-op jobs on 2 workers; null without bullmq. */
async function runBullmq(tasks: number, concurrency: number, timeoutMs: number): Promise<number | null> {
  let bullmq: { Queue: new (name: string, opts: unknown) => BullQueue };
  try {
    bullmq = (await import('bullmq' as string)) as typeof bullmq;
  } catch {
    console.error('batch: bullmq is not installed (npm i -D bullmq): no BullMQ figure');
    return null;
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'stoa-bench-redis-'));
  const procs: ChildProcess[] = [];
  let queue: BullQueue | undefined;
  try {
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(redis);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      redis.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) resolve();
      });
      redis.once('error', (e) => reject(new Error(`cannot start redis-server (apt-get install -y redis-server): ${e.message}`)));
      redis.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-1000)}`)));
    });
    for (let i = 0; i < 2; i++) {
      procs.push(await child(['--input-type=module', '-e', BULLMQ_WORKER, String(port), String(concurrency)], /worker ready/, { tsx: false }));
    }
    queue = new bullmq.Queue('bench', { connection: { host: '127.0.0.1', port } });
    console.error(`batch: bullmq, ${tasks} jobs …`);
    const started = performance.now();
    for (let i = 0; i < tasks; i += 1000) {
      const n = Math.min(1000, tasks - i);
      await queue.addBulk(Array.from({ length: n }, (_, j) => ({ name: 'noop', data: { i: i + j } })));
    }
    await waitUntil(async () => ((await queue!.getJobCounts('completed')).completed ?? 0) >= tasks, timeoutMs, 'the BullMQ jobs');
    return performance.now() - started;
  } finally {
    await queue?.close();
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface BullQueue {
  addBulk(jobs: { name: string; data: unknown }[]): Promise<unknown>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** Runs the batch scenario. */
export async function run(flags: Record<string, string | boolean | undefined>) {
  const tasks = Number(flags.tasks ?? 100_000);
  const concurrency = Number(flags.concurrency ?? 100);
  const perOffer = Number(flags['per-offer'] ?? DEFAULT_MAX_TASKS_PER_OFFER);
  const timeoutMs = Number(flags['timeout-ms'] ?? 600_000);
  const profileDir = typeof flags.profile === 'string' ? flags.profile : undefined;
  const workRoot = typeof flags['work-dir'] === 'string' ? flags['work-dir'] : tmpdir();
  const bundleSize = flags['bundle-size'] !== undefined ? Number(flags['bundle-size']) : undefined;
  const { ms: stoaMs, cpu } = await runStoa(tasks, concurrency, perOffer, timeoutMs, profileDir, workRoot, bundleSize);
  const bullmqMs = await runBullmq(tasks, concurrency, timeoutMs).catch((error: unknown) => {
    console.error(`batch: the BullMQ side could not run, no BullMQ figure: ${error instanceof Error ? error.message.split('\n').find((l) => /Error:/.test(l)) ?? error.message.slice(0, 300) : String(error)}`);
    return null;
  });
  return {
    tasks,
    ...(workRoot !== tmpdir() ? { workDir: workRoot } : {}),
    bundleSize: bundleSize ?? DEFAULT_BUNDLE_SIZE,
    agents: 2,
    workers: 2,
    concurrency,
    stoaTasksPerSec: Math.round((tasks / stoaMs) * 1000),
    bullmqJobsPerSec: bullmqMs === null ? null : Math.round((tasks / bullmqMs) * 1000),
    stoaMs: Math.round(stoaMs),
    bullmqMs: bullmqMs === null ? null : Math.round(bullmqMs),
    /** CPU microseconds per task of each part of the Stoa side, during the timed job. */
    stoaCpuUsPerTask: cpu,
  };
}
