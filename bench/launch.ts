/**
 * `launch`: how fast a framework built on the SDK gets tasks to TASK_RUNNING on simulated agents.
 * A real nats-server (testkit), the master in its own process (`stoa master`), the simulated agents
 * in another, and the framework here. Flags: `--agents` (1000), `--tasks` (10000), `--cpus` per task
 * (0.1), `--transport nats` (only nats: the parts are separate processes).
 * Figures: tasksPerSec (to RUNNING, from the first offer), totalMs, p50Ms / p99Ms (accept → RUNNING),
 * p99OfferToAcceptMs, masterCpuSec, masterRssMb (peak), agentsCpuSec (the simulated agents' process),
 * messagesPerTask (master in + out).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { contains, parseResources, type Resource, SchedulerClient, subtract, type TaskInfo } from '@stoa/sdk';
import { freePort, startNats } from '@stoa/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));

function child(args: string[], ready: RegExp): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
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

function procStats(pid: number): { cpuSec: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSec = (Number(fields[11]) + Number(fields[12])) / 100;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSec, peakRssMb: Math.round(Number(hwm ?? 0) / 1024) };
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs the launch scenario. */
export async function run(flags: Record<string, string | boolean | undefined>) {
  const agentCount = Number(flags.agents ?? 1000);
  const taskCount = Number(flags.tasks ?? 10_000);
  const perTask = parseResources(`cpus:${flags.cpus ?? 0.1};mem:32`);
  const nats = await startNats({ jetstream: true });
  const procs: ChildProcess[] = [];
  try {
    console.error(`launch: master and ${agentCount} simulated agents …`);
    const httpPort = await freePort();
    const master = await child(['packages/cli/src/bin.ts', 'master', '--nats', nats.url, '--http-port', String(httpPort), '--log-level', 'info', '--offer-timeout-ms', '0'], /master running/);
    procs.push(master);
    const agents = await child(['bench/sim-agents.ts', '--nats', nats.url, '--count', String(agentCount)], /registered \d+/);
    procs.push(agents);
    console.error('launch: agents registered');
    const before = procStats(master.pid!);
    const agentsBefore = procStats(agents.pid!);

    const submitted = new Map<string, number>();
    const running: number[] = [];
    const offerToAccept: number[] = [];
    let firstOfferAt = 0;
    let lastRunningAt = 0;
    let seq = 0;
    const client = await SchedulerClient.connect({ servers: nats.url, framework: { name: 'bench', principal: 'bench', failoverTimeoutMs: 60_000 } });
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
          await client.accept(offerIds, [{ type: 'LAUNCH', tasks }], { refuseMs: 60_000 });
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
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${running.length} of ${taskCount} RUNNING after ${timeoutMs} ms`)), timeoutMs).unref())]);
    const after = procStats(master.pid!);
    const agentsAfter = procStats(agents.pid!);
    await client.close();
    const totalMs = lastRunningAt - firstOfferAt;
    running.sort((a, b) => a - b);
    offerToAccept.sort((a, b) => a - b);
    const masterMetrics = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text());
    const sum = (name: string) =>
      masterMetrics
        .split('\n')
        .filter((l) => l.startsWith(name))
        .reduce((acc, l) => acc + Number(l.split(' ').pop()), 0);
    const messages = sum('stoa_master_messages_in_total') + sum('stoa_master_messages_out_total');
    return {
      agents: agentCount,
      tasks: taskCount,
      transport: 'nats',
      tasksPerSec: Math.round((taskCount / totalMs) * 1000),
      totalMs: Math.round(totalMs),
      p50Ms: Math.round(quantile(running, 0.5)),
      p99Ms: Math.round(quantile(running, 0.99)),
      p99OfferToAcceptMs: Math.round(quantile(offerToAccept, 0.99) * 10) / 10,
      masterCpuSec: Math.round((after.cpuSec - before.cpuSec) * 100) / 100,
      masterRssMb: after.peakRssMb,
      agentsCpuSec: Math.round((agentsAfter.cpuSec - agentsBefore.cpuSec) * 100) / 100,
      benchCpuSec: Math.round(process.cpuUsage().user / 1e4) / 100,
      messagesPerTask: messages > 0 ? Math.round((messages / taskCount) * 100) / 100 : null,
    };
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve(null) : p.once('exit', resolve)))));
    await nats.stop();
  }
}
