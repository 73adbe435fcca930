/**
 * `launch`: how fast a framework built on the SDK gets tasks to TASK_RUNNING on simulated agents.
 * A real nats-server (testkit), the master in its own process (`stoa master`), the simulated agents
 * in another, and the framework here. Flags: `--agents` (1000), `--tasks` (10000), `--cpus` per task
 * (0.1), `--transport nats|memory` (nats; memory runs master, agents and framework in this one
 * process on the in-process bus, to see what NATS and the process boundaries cost), `--profile DIR`.
 * Figures: tasksPerSec (to RUNNING, from the first offer), totalMs, p50Ms / p99Ms (accept → RUNNING),
 * p99OfferToAcceptMs, masterCpuSec, masterRssMb (peak), agentsCpuSec (the simulated agents' process),
 * messagesPerTask (master in + out). On memory the CPU and RSS are the whole process's
 * (processCpuSec, processRssMb).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startSimulatedAgents } from '@stoa/agent';
import { MemoryBus, MemoryStore, MemoryTransport } from '@stoa/core';
import { startMaster } from '@stoa/master';
import { contains, parseResources, type Resource, SchedulerClient, type SchedulerClientOptions, subtract, type TaskInfo } from '@stoa/sdk';
import { freePort, startNats } from '@stoa/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));

export function child(args: string[], ready: RegExp, nodeArgs: string[] = []): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (process.env.BENCH_DEBUG) process.stderr.write(`[${args[0]}] ${d}`);
      if (ready.test(out)) resolve(proc);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

export function procStats(pid: number): { cpuSec: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSec = (Number(fields[11]) + Number(fields[12])) / 100;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSec, peakRssMb: Math.round(Number(hwm ?? 0) / 1024) };
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** What a run launches against: the cluster's parts, however they run. */
interface Parts {
  /** How the framework connects. */
  client: Pick<SchedulerClientOptions, 'servers' | 'transport'>;
  /** The master's HTTP API (metrics). */
  httpUrl: string;
  /** CPU and memory figures since `mark()`. */
  mark(): void;
  figures(): Record<string, number>;
  /** What to print when the launch stalls. */
  diagnose(): string;
  stop(): Promise<void>;
}

const SIM_RESOURCES = 'cpus:8;mem:32768;disk:100000;ports:[31000-32000]';

/** Master and agents in their own processes, on a real nats-server. */
async function processParts(agentCount: number, profile: string[]): Promise<Parts> {
  const nats = await startNats({ jetstream: true });
  const procs: ChildProcess[] = [];
  const stop = async () => {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve(null) : p.once('exit', resolve)))));
    await nats.stop();
  };
  try {
    const httpPort = await freePort();
    const master = await child(['packages/cli/src/bin.ts', 'master', '--nats', nats.url, '--http-port', String(httpPort), '--log-level', 'info', '--offer-timeout-ms', '0'], /master running/, profile);
    procs.push(master);
    const agents = await child(['bench/sim-agents.ts', '--nats', nats.url, '--count', String(agentCount), '--resources', SIM_RESOURCES], /registered \d+/, profile);
    procs.push(agents);
    let masterBefore = procStats(master.pid!);
    let agentsBefore = procStats(agents.pid!);
    return {
      client: { servers: nats.url },
      httpUrl: `http://127.0.0.1:${httpPort}`,
      mark() {
        masterBefore = procStats(master.pid!);
        agentsBefore = procStats(agents.pid!);
      },
      figures() {
        const m = procStats(master.pid!);
        const a = procStats(agents.pid!);
        return {
          masterCpuSec: Math.round((m.cpuSec - masterBefore.cpuSec) * 100) / 100,
          masterRssMb: m.peakRssMb,
          agentsCpuSec: Math.round((a.cpuSec - agentsBefore.cpuSec) * 100) / 100,
          benchCpuSec: Math.round(process.cpuUsage().user / 1e4) / 100,
        };
      },
      diagnose: () => `nats-server log:\n${nats.logTail(15)}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Master, agents and framework in this process on the in-process bus. */
async function memoryParts(agentCount: number): Promise<Parts> {
  const bus = new MemoryBus();
  const transport = () => MemoryTransport.create({ bus });
  const httpPort = await freePort();
  const master = await startMaster({ transport: transport(), store: new MemoryStore(), http: { port: httpPort, host: '127.0.0.1' }, offerTimeoutMs: 0 });
  const agents = await startSimulatedAgents({ transport: transport(), count: agentCount, resources: SIM_RESOURCES, concurrency: 500 });
  await agents.waitRegistered();
  let before = process.cpuUsage();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  sampler.unref();
  return {
    client: { transport: transport() },
    httpUrl: `http://127.0.0.1:${httpPort}`,
    mark() {
      before = process.cpuUsage();
    },
    figures() {
      const used = process.cpuUsage(before);
      return { processCpuSec: Math.round((used.user + used.system) / 1e4) / 100, processRssMb: Math.round(peakRss / 2 ** 20) };
    },
    diagnose: () => '',
    async stop() {
      clearInterval(sampler);
      await agents.stop();
      await master.stop();
    },
  };
}

/** Runs the launch scenario. */
export async function run(flags: Record<string, string | boolean | undefined>) {
  const agentCount = Number(flags.agents ?? 1000);
  const taskCount = Number(flags.tasks ?? 10_000);
  const transportKind = flags.transport ?? 'nats';
  if (transportKind !== 'nats' && transportKind !== 'memory') throw new Error(`--transport must be nats or memory, not ${String(transportKind)}`);
  const perTask = parseResources(`cpus:${flags.cpus ?? 0.1};mem:32`);
  // `--profile DIR`: the master and the agents write V8 CPU profiles there (open in Chrome's DevTools).
  const profile = typeof flags.profile === 'string' ? ['--cpu-prof', '--cpu-prof-dir', flags.profile] : [];
  console.error(`launch: master and ${agentCount} simulated agents (${transportKind}) …`);
  const parts = transportKind === 'memory' ? await memoryParts(agentCount) : await processParts(agentCount, profile);
  try {
    console.error('launch: agents registered');
    parts.mark();

    const submitted = new Map<string, number>();
    const running: number[] = [];
    const offerToAccept: number[] = [];
    let firstOfferAt = 0;
    let lastRunningAt = 0;
    let seq = 0;
    let acceptErrors = 0;
    const client = await SchedulerClient.connect({ ...parts.client, framework: { name: 'bench', principal: 'bench', failoverTimeoutMs: 60_000 } });
    console.error(`launch: launching ${taskCount} tasks …`);
    const done = new Promise<void>((resolve) => {
      client.on('OFFERS', async (event) => {
        const received = performance.now();
        firstOfferAt ||= received;
        const offerIds: string[] = [];
        const tasks: TaskInfo[] = [];
        const decline: string[] = [];
        for (const offer of event.offers) {
          let left: Resource[] = offer.resources;
          let used = false;
          while (seq < taskCount && contains(left, perTask)) {
            const taskId = `t-${seq++}`;
            tasks.push({ taskId, name: 'bench', agentId: offer.agentId, resources: perTask, command: { value: 'sleep' }, labels: {} });
            left = subtract(left, perTask);
            used = true;
          }
          (used ? offerIds : decline).push(offer.id);
        }
        const now = performance.now();
        for (const t of tasks) submitted.set(t.taskId, now);
        if (tasks.length > 0) {
          offerToAccept.push(now - received);
          await client.accept(offerIds, [{ type: 'LAUNCH', tasks }], { refuseMs: 60_000 }).catch((error: unknown) => {
            acceptErrors++;
            console.error(`launch: an ACCEPT of ${tasks.length} tasks failed: ${String(error)}`);
          });
        }
        if (decline.length > 0) await client.decline(decline, { refuseMs: 60_000 });
        if (seq >= taskCount) await client.suppress();
      });
      client.on('UPDATE', (event) => {
        const now = performance.now();
        for (const s of event.statuses) {
          if (s.state !== 'TASK_RUNNING') continue;
          const at = submitted.get(s.taskId);
          if (at === undefined) continue;
          submitted.delete(s.taskId);
          running.push(now - at);
          lastRunningAt = now;
        }
        if (running.length >= taskCount) resolve();
      });
    });
    const timeoutMs = Number(flags['timeout-ms'] ?? 300_000);
    try {
      await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${running.length} of ${taskCount} RUNNING after ${timeoutMs} ms`)), timeoutMs).unref())]);
    } catch (error) {
      // What the master counted, to tell where the launch stopped.
      const metrics = await fetch(`${parts.httpUrl}/metrics`).then((r) => r.text(), () => '');
      console.error(metrics.split('\n').filter((l) => /^stoa_master_(messages|tasks|offers|invalid|status)/.test(l)).join('\n'));
      console.error(parts.diagnose());
      throw error;
    }
    const figures = parts.figures();
    await client.close();
    const totalMs = lastRunningAt - firstOfferAt;
    running.sort((a, b) => a - b);
    offerToAccept.sort((a, b) => a - b);
    const masterMetrics = await fetch(`${parts.httpUrl}/metrics`).then((r) => r.text());
    const sum = (name: string) =>
      masterMetrics
        .split('\n')
        .filter((l) => l.startsWith(name))
        .reduce((acc, l) => acc + Number(l.split(' ').pop()), 0);
    const messages = sum('stoa_master_messages_in_total') + sum('stoa_master_messages_out_total');
    return {
      agents: agentCount,
      tasks: taskCount,
      transport: transportKind,
      tasksPerSec: Math.round((taskCount / totalMs) * 1000),
      totalMs: Math.round(totalMs),
      p50Ms: Math.round(quantile(running, 0.5)),
      p99Ms: Math.round(quantile(running, 0.99)),
      p99OfferToAcceptMs: Math.round(quantile(offerToAccept, 0.99) * 10) / 10,
      ...figures,
      acceptErrors,
      messagesPerTask: messages > 0 ? Math.round((messages / taskCount) * 100) / 100 : null,
    };
  } finally {
    await parts.stop();
  }
}
