/**
 * `marathon`: how long Marathon takes from `POST /v2/apps` to every instance of the app running.
 * A real nats-server (testkit) with JetStream, the master in its own process (`stoa master`, as
 * `launch` starts it), the simulated agents in another (`bench/sim-agents.ts`), and Marathon here
 * (`startMarathon`, on the JetStream KV bucket `bench-marathon`). The app is
 * `{ id: '/bench', cmd: 'sleep 3600', cpus: 0.01, mem: 8, instances: N }`, without health checks.
 *
 * Without health checks Marathon reports `tasksHealthy: 0` (it counts health only for apps that
 * have checks), so "healthy" here is `tasksRunning` = N: for an app without health checks a
 * running instance is a healthy one (that is what the deployment waits for too). The app is polled
 * every 20 ms with `GET /v2/apps?id=/bench&embed=apps.counts&embed=apps.deployments` (not
 * `/v2/apps/bench`, which embeds every task by default and would make the poll cost grow with N,
 * in this process where Marathon runs).
 *
 *   npm run bench -- marathon [--agents 1000] [--instances 1000] [--timeout-ms 300000] [--log info]
 *
 * Figures: healthyMs (POST → tasksRunning = N), deploymentDoneMs (POST → no deployment left on the
 * app), postMs (the POST's own round trip), instances, agents, masterCpuSec (from the POST on) and
 * masterRssMb (peak) from /proc, benchCpuSec (this process, Marathon included, user + system from
 * the POST on). `--log LEVEL` prints Marathon's log on stderr; `BENCH_DEBUG=1` the children's output.
 */
import type { ChildProcess } from 'node:child_process';
import { startMarathon, type MarathonHandle } from '@stoa/framework-marathon';
import { freePort, startNats } from '@stoa/testkit';
import { pino } from 'pino';
import { child, procStats } from './launch.js';

interface AppCounts {
  tasksRunning: number;
  tasksStaged: number;
  tasksHealthy: number;
  deployments: { id: string }[];
}

const SIM_RESOURCES = 'cpus:8;mem:32768;disk:100000;ports:[31000-32000]';

/** Runs the marathon scenario. */
export async function run(flags: Record<string, string | boolean | undefined>) {
  const agentCount = Number(flags.agents ?? 1000);
  const instances = Number(flags.instances ?? 1000);
  const timeoutMs = Number(flags['timeout-ms'] ?? 300_000);
  const nats = await startNats({ jetstream: true });
  const procs: ChildProcess[] = [];
  let marathon: MarathonHandle | undefined;
  let masterUrl = '';
  try {
    console.error(`marathon: master, ${agentCount} simulated agents and Marathon …`);
    const masterPort = await freePort();
    masterUrl = `http://127.0.0.1:${masterPort}`;
    const master = await child(['packages/cli/src/bin.ts', 'master', '--nats', nats.url, '--http-port', String(masterPort), '--log-level', 'info', '--offer-timeout-ms', '0'], /master running/);
    procs.push(master);
    const agents = await child(['bench/sim-agents.ts', '--nats', nats.url, '--count', String(agentCount), '--resources', SIM_RESOURCES], /registered \d+/);
    procs.push(agents);
    console.error('marathon: agents registered');

    const logger = pino({ level: typeof flags.log === 'string' ? flags.log : 'silent' }, pino.destination(2));
    marathon = await startMarathon({ servers: nats.url, bucket: 'bench-marathon', httpPort: await freePort(), logger });
    await marathon.waitLeading();
    const url = marathon.httpUrl;
    console.error(`marathon: leading at ${url}; posting /bench with ${instances} instances …`);

    const masterBefore = procStats(master.pid!);
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const res = await fetch(`${url}/v2/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: '/bench', cmd: 'sleep 3600', cpus: 0.01, mem: 8, instances }),
    });
    const postMs = performance.now() - start;
    if (res.status !== 201) throw new Error(`POST /v2/apps: ${res.status} ${await res.text()}`);
    await res.body?.cancel();

    let healthyAt = 0;
    let deployedAt = 0;
    let allStagedAt = 0;
    let firstRunningAt = 0;
    let seenDeployment = false;
    let last: AppCounts | undefined;
    let lastLogged = start;
    const deadline = start + timeoutMs;
    while (healthyAt === 0 || deployedAt === 0) {
      const r = await fetch(`${url}/v2/apps?id=/bench&embed=apps.counts&embed=apps.deployments`);
      const now = performance.now();
      if (r.ok) {
        const body = (await r.json()) as { apps: (AppCounts & { id: string })[] };
        last = body.apps.find((a) => a.id === '/bench');
        if (last) {
          if (allStagedAt === 0 && last.tasksStaged + last.tasksRunning >= instances) allStagedAt = now;
          if (firstRunningAt === 0 && last.tasksRunning > 0) firstRunningAt = now;
          if (healthyAt === 0 && last.tasksRunning >= instances) healthyAt = now;
          // Only once the deployment was seen (or all run): an empty list before it shows is not "done".
          if (last.deployments.length > 0) seenDeployment = true;
          else if (deployedAt === 0 && (seenDeployment || healthyAt > 0)) deployedAt = now;
        }
      } else {
        await r.body?.cancel();
      }
      if (now - lastLogged >= 1000) {
        lastLogged = now;
        console.error(`marathon: ${Math.round(now - start)} ms: ${last?.tasksRunning ?? '?'} running, ${last?.tasksStaged ?? '?'} staged, ${last?.deployments.length ?? '?'} deployments`);
      }
      if (now > deadline) {
        const metrics = await fetch(`${masterUrl}/metrics`).then((m) => m.text(), () => '');
        console.error(metrics.split('\n').filter((l) => /^stoa_master_(messages|tasks|offers|invalid|status)/.test(l)).join('\n'));
        const queue = await fetch(`${url}/v2/queue`).then((q) => q.text(), () => '');
        console.error(`marathon /v2/queue: ${queue.slice(0, 3000)}`);
        console.error(`nats-server log:\n${nats.logTail(15)}`);
        throw new Error(`after ${timeoutMs} ms: ${last?.tasksRunning ?? 0} of ${instances} running, ${last?.deployments.length ?? '?'} deployments left`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const cpu = process.cpuUsage(cpuBefore);
    const masterAfter = procStats(master.pid!);
    console.error(`marathon: all ${instances} running after ${Math.round(healthyAt - start)} ms`);
    return {
      agents: agentCount,
      instances,
      healthyMs: Math.round(healthyAt - start),
      deploymentDoneMs: Math.round(deployedAt - start),
      postMs: Math.round(postMs),
      allLaunchedMs: Math.round(allStagedAt - start),
      firstRunningMs: Math.round(firstRunningAt - start),
      masterCpuSec: Math.round((masterAfter.cpuSec - masterBefore.cpuSec) * 100) / 100,
      masterRssMb: masterAfter.peakRssMb,
      benchCpuSec: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    };
  } finally {
    await marathon?.stop().catch((error: unknown) => console.error(`marathon: stop failed: ${String(error)}`));
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve(null) : p.once('exit', resolve)))));
    await nats.stop();
  }
}
