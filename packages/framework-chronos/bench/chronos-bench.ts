/**
 * `chronos`: how late Chronos starts jobs when many are due at once. A real nats-server
 * (testkit), the master in its own process (`stoa master`), simulated agents in another
 * (`bench/sim-agents.ts`), and Chronos here, on a JetStream KV bucket. `--jobs` jobs (10000) are
 * all due every minute (cron `* * * * *`; `--every-seconds N` uses a 6-field cron instead, for a
 * quick run), from the next boundary, for `--minutes` (1) rounds.
 *
 * Figures: p50LatenessMs / p99LatenessMs / maxLatenessMs (task RUNNING, at the agent, minus the due
 * time), p99HeardMs (when Chronos hears of RUNNING, minus the due time), measuredRuns (runs that reached RUNNING), expectedRuns, addJobsMs, and p99 of
 * each stage: due→queued (negative: prepared ahead), queued→launched, due→launched (ACCEPT sent,
 * Chronos' share) and launched→RUNNING (master and agents). Chronos
 * runs with `--lease-ms` 15000: adding 10,000 jobs keeps its event loop busy past the default
 * 3 s lease.
 *
 *   npm run bench -- chronos --jobs 10000 [--agents 1000] [--agent-procs 2] [--minutes 1] [--every-seconds 60]
 */
import type { ChildProcess } from 'node:child_process';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { freePort, startNats } from '@stoa/testkit';
import { pino } from 'pino';
import { child } from '../../../bench/launch.js';
import { startChronos } from '../src/service.js';



function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs the chronos scenario. */
export async function run(flags: Record<string, string | boolean | undefined>) {
  const jobCount = Number(flags.jobs ?? 10_000);
  const agentCount = Number(flags.agents ?? 1000);
  const minutes = Number(flags.minutes ?? 1);
  const everySeconds = Number(flags['every-seconds'] ?? 60);
  const schedule = everySeconds === 60 ? '* * * * *' : `*/${everySeconds} * * * * *`;
  const nats = await startNats({ jetstream: true });
  const procs: ChildProcess[] = [];
  const transport = await NatsTransport.connect({ servers: nats.url, name: 'bench-chronos' });
  const store = await NatsKvStore.open(transport.connection, { bucket: 'bench-chronos' });
  try {
    console.error(`chronos: master and ${agentCount} simulated agents …`);
    const httpPort = await freePort();
    procs.push(await child(['packages/cli/src/bin.ts', 'master', '--nats', nats.url, '--http-port', String(httpPort), '--log-level', 'info'], /master running/));
    // The agents in `--agent-procs` processes (2: one a core), each with its share.
    const agentProcs = Math.max(1, Number(flags['agent-procs'] ?? 2));
    const started = await Promise.all(
      Array.from({ length: agentProcs }, (_, i) => {
        const count = Math.floor(agentCount / agentProcs) + (i < agentCount % agentProcs ? 1 : 0);
        return child(['bench/sim-agents.ts', '--nats', nats.url, '--count', String(count), '--prefix', `sim-${i}-`], /registered \d+/);
      }),
    );
    procs.push(...started);
    const logger = pino({ level: process.env.BENCH_DEBUG ? 'warn' : 'silent' }, pino.destination(2));
    // When Chronos hears that each scheduled run is RUNNING, minus its due time.
    const heard: { scheduledAt: number; heardAt: number }[] = [];
    const chronos = await startChronos({
      transport,
      store,
      httpPort: 0,
      frameworkName: 'bench-chronos',
      logger,
      leaseMs: Number(flags['lease-ms'] ?? 15_000),
      onEvent: (e) => {
        if (e.type === 'run_running' && e.run?.trigger === 'schedule' && e.run.scheduledAt !== undefined) heard.push({ scheduledAt: e.run.scheduledAt, heardAt: Date.now() });
      },
    });
    await chronos.waitLeading();
    const runner = chronos.runner!;

    console.error(`chronos: adding ${jobCount} jobs due on '${schedule}' …`);
    const addStarted = performance.now();
    const names = Array.from({ length: jobCount }, (_, i) => `job-${i}`);
    for (let i = 0; i < names.length; i += 500) {
      await Promise.all(names.slice(i, i + 500).map((name) => runner.upsertJob({ name, command: 'sleep', schedule, cpus: 0.01, mem: 1, disk: 0, concurrencyPolicy: 'ALLOW' }, 'iso8601')));
    }
    const addJobsMs = Math.round(performance.now() - addStarted);
    // Measure the rounds that start after every job was added.
    const period = everySeconds * 1000;
    const firstDue = Math.ceil((Date.now() + 1) / period) * period;
    const lastDue = firstDue + (minutes - 1) * period;
    console.error(`chronos: ${jobCount} jobs added in ${addJobsMs} ms; measuring ${minutes} round(s) from ${new Date(firstDue).toISOString()} …`);
    const expectedRuns = jobCount * minutes;
    // Where the time goes: due → queued (engine; negative when prepared ahead), queued → launched
    // (offers, store), due → launched (Chronos' share), launched → RUNNING (master, agent).
    const stages = { queue: [] as number[], launch: [] as number[], dueLaunch: [] as number[], start: [] as number[] };
    const lateness = (): number[] => {
      const out: number[] = [];
      stages.queue = [];
      stages.launch = [];
      stages.start = [];
      stages.dueLaunch = [];
      for (const name of names) {
        for (const r of runner.runs(name)) {
          if (r.trigger !== 'schedule' || r.runningAt === undefined || r.scheduledAt! < firstDue || r.scheduledAt! > lastDue) continue;
          out.push(r.runningAt - r.scheduledAt!);
          stages.queue.push(r.queuedAt - r.scheduledAt!);
          stages.launch.push(r.startedAt! - r.queuedAt);
          stages.dueLaunch.push(r.startedAt! - r.scheduledAt!);
          stages.start.push(r.runningAt - r.startedAt!);
        }
      }
      return out;
    };
    const deadline = lastDue + 30_000;
    let measured = lateness();
    while (measured.length < expectedRuns && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      measured = lateness();
      if (Date.now() > firstDue) console.error(`chronos: ${measured.length} of ${expectedRuns} runs RUNNING`);
    }
    measured.sort((a, b) => a - b);
    await chronos.stop();
    return {
      jobs: jobCount,
      agents: agentCount,
      agentProcs: Math.max(1, Number(flags['agent-procs'] ?? 2)),
      minutes,
      schedule,
      expectedRuns,
      measuredRuns: measured.length,
      p50LatenessMs: quantile(measured, 0.5),
      p99LatenessMs: quantile(measured, 0.99),
      p99HeardMs: quantile(
        heard
          .filter((h) => h.scheduledAt >= firstDue && h.scheduledAt <= lastDue)
          .map((h) => h.heardAt - h.scheduledAt)
          .sort((a, b) => a - b),
        0.99,
      ),
      maxLatenessMs: measured.at(-1) ?? 0,
      p99DueToQueuedMs: quantile(stages.queue.sort((a, b) => a - b), 0.99),
      p99QueuedToLaunchedMs: quantile(stages.launch.sort((a, b) => a - b), 0.99),
      p99DueToLaunchedMs: quantile(stages.dueLaunch.sort((a, b) => a - b), 0.99),
      p99LaunchedToRunningMs: quantile(stages.start.sort((a, b) => a - b), 0.99),
      addJobsMs,
    };
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await store.close();
    await transport.close();
    await nats.stop();
  }
}
