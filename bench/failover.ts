/**
 * `failover`: how fast a cluster comes back after its leading master is killed with SIGKILL. A real
 * nats-server (testkit) with JetStream, two masters in their own processes (`stoa master`,
 * `--replicas 1`: the registry in one KV bucket), the simulated agents in another process, and a
 * framework here that launches `--tasks` tasks spread evenly over the agents (they keep running).
 * Then the leader is killed.
 *
 * Flags: `--agents` (1000), `--tasks` (10000), `--lease-ms` (the master's default, 5000), `--profile DIR`,
 * `--timeout-ms` (600000).
 * Figures: electionMs (kill → LEADER_ELECTED from the other master on `stoa.master.leader`, which
 * it sends once it has loaded the registry), reregisterMs (election → the new leader's
 * `GET /api/v1/state` shows every agent ACTIVE with its tasks, `--tasks` TASK_RUNNING, and the
 * framework's reconciliation has reported every task RUNNING), and its two parts agentsBackMs and
 * reconciledMs; launchMs (to RUNNING before the kill), leaseMs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decode, LeaderElectedSchema, subjects } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { contains, parseResources, type Resource, SchedulerClient, subtract, type TaskInfo } from '@stoa/sdk';
import { freePort, startNats } from '@stoa/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Child {
  proc: ChildProcess;
  /** Resolves when a line matching `re` has been printed (now or later). */
  printed(re: RegExp): Promise<void>;
  exited: Promise<void>;
}

function child(args: string[], name: string, nodeArgs: string[] = []): Child {
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > 1_000_000) out = out.slice(-100_000);
    if (process.env.BENCH_DEBUG) process.stderr.write(`[${name}] ${d}`);
    for (const w of [...waiters]) {
      if (w.re.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  return {
    proc,
    exited,
    printed: (re) =>
      new Promise((resolve, reject) => {
        if (re.test(out)) return resolve();
        waiters.push({ re, resolve });
        void exited.then(() => reject(new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before printing ${re}: ${out.slice(-2000)}`)));
      }),
  };
}

/** Polls `probe` every `intervalMs` until it returns true or `deadline` (performance.now()) passes. */
async function until(probe: () => Promise<boolean> | boolean, what: string, deadline: number, intervalMs = 50): Promise<void> {
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** Runs the failover scenario. */
export async function run(flags: Record<string, string | boolean | undefined>) {
  const agentCount = Number(flags.agents ?? 1000);
  const taskCount = Number(flags.tasks ?? 10_000);
  const leaseMs = Number(flags['lease-ms'] ?? 5000);
  // `--profile DIR`: the masters and the agents write V8 CPU profiles there (the new leader's covers the take-over).
  const profile = typeof flags.profile === 'string' ? ['--cpu-prof', '--cpu-prof-dir', flags.profile] : [];
  const deadline = performance.now() + Number(flags['timeout-ms'] ?? 600_000);
  const perTask = parseResources('cpus:0.1;mem:32');
  const perAgent = Math.ceil(taskCount / agentCount);
  const nats = await startNats({ jetstream: true });
  const children: Child[] = [];
  let client: SchedulerClient | undefined;
  let watcher: NatsTransport | undefined;
  try {
    const master = async (id: string, ready: RegExp) => {
      const port = await freePort();
      const args = ['packages/cli/src/bin.ts', 'master', '--nats', nats.url, '--replicas', '1', '--master-id', id, '--http-port', String(port)];
      args.push('--lease-ms', String(leaseMs), '--offer-timeout-ms', '0', '--log-level', 'info');
      const c = child(args, id, profile);
      children.push(c);
      await c.printed(ready);
      return { ...c, url: `http://127.0.0.1:${port}` };
    };
    console.error(`failover: two masters (lease ${leaseMs} ms) and ${agentCount} simulated agents …`);
    const first = await master('m-first', /"msg":"leading"/);
    const second = await master('m-second', /master running/);
    const agents = child(['bench/sim-agents.ts', '--nats', nats.url, '--count', String(agentCount)], 'agents', profile);
    children.push(agents);
    await agents.printed(/registered \d+/);

    // The framework: `perAgent` tasks on every agent, so every agent has tasks to re-register with.
    console.error(`failover: launching ${taskCount} tasks (${perAgent} per agent) …`);
    client = await SchedulerClient.connect({
      servers: nats.url,
      framework: { name: 'failover', principal: 'bench', failoverTimeoutMs: 600_000 },
      requestTimeoutMs: 30_000,
      reconcile: { initialBackoffMs: 250, maxBackoffMs: 2000 },
    });
    const fw = client;
    let seq = 0;
    const running = new Set<string>();
    /** Tasks reported RUNNING since the new leader was elected (reconciliation, retried updates). */
    const runningAfter = new Set<string>();
    let electedAt = 0;
    const launchStart = performance.now();
    fw.on('OFFERS', async (event) => {
      const offerIds: string[] = [];
      const tasks: TaskInfo[] = [];
      const decline: string[] = [];
      for (const offer of event.offers) {
        let left: Resource[] = offer.resources;
        let n = 0;
        while (seq < taskCount && n < perAgent && contains(left, perTask)) {
          tasks.push({ taskId: `t-${seq++}`, name: 'failover', agentId: offer.agentId, resources: perTask, command: { value: 'sleep' } });
          left = subtract(left, perTask);
          n++;
        }
        (n > 0 ? offerIds : decline).push(offer.id);
      }
      if (tasks.length > 0) await fw.accept(offerIds, [{ type: 'LAUNCH', tasks }], { refuseMs: 600_000 });
      if (decline.length > 0) await fw.decline(decline, { refuseMs: 600_000 });
      if (seq >= taskCount) await fw.suppress();
    });
    fw.on('UPDATE', (event) => {
      for (const s of event.statuses) {
        if (s.state !== 'TASK_RUNNING') continue;
        running.add(s.taskId);
        if (electedAt > 0) runningAfter.add(s.taskId);
      }
    });
    await until(() => running.size >= taskCount, `${taskCount} tasks RUNNING`, deadline, 100);
    const launchMs = performance.now() - launchStart;
    console.error(`failover: ${taskCount} tasks running after ${Math.round(launchMs)} ms`);
    await until(
      async () => (await json<{ leader: boolean; leaderId?: string }>(`${second.url}/api/v1/master`)).leaderId === 'm-first',
      'the second master to follow the first',
      deadline,
    );

    // Kill the leader; the other master announces itself once it leads.
    watcher = await NatsTransport.connect({ servers: nats.url, name: 'failover-watch' });
    const elected = new Promise<number>((resolve) => {
      watcher!.subscribe(subjects('stoa').leader, {
        callback: (msg) => {
          const e = decode(LeaderElectedSchema, msg.data);
          if (e.masterId === 'm-second') resolve(performance.now());
        },
      });
    });
    await watcher.flush();
    console.error('failover: kill -9 the leader …');
    const killAt = performance.now();
    first.proc.kill('SIGKILL');
    electedAt = await Promise.race([
      elected,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no new leader within the timeout')), Math.max(0, deadline - performance.now())).unref()),
    ]);
    const electionMs = electedAt - killAt;
    console.error(`failover: m-second leads after ${Math.round(electionMs)} ms`);

    // Every agent back with its tasks: the cheap count first, then the full state once.
    type State = { agents: { state: string; taskCount: number }[]; taskCounts: Record<string, number> };
    await until(
      async () => (await json<{ total: number }>(`${second.url}/api/v1/tasks?state=TASK_RUNNING&limit=1`)).total >= taskCount,
      'the new leader to know every task',
      deadline,
      20,
    );
    await until(
      async () => {
        const state = await json<State>(`${second.url}/api/v1/state`);
        const back = state.agents.filter((a) => a.state === 'ACTIVE' && a.taskCount > 0);
        return back.length === agentCount && state.agents.length === agentCount && state.taskCounts.TASK_RUNNING === taskCount;
      },
      `${agentCount} agents ACTIVE with their tasks`,
      deadline,
      100,
    );
    const agentsBackMs = performance.now() - electedAt;
    // The framework asks about everything (the SDK reconciles by itself too, and retries).
    void fw.reconcile().catch(() => {});
    await until(() => runningAfter.size >= taskCount, 'the framework to hear every task RUNNING', deadline, 20);
    const reconciledMs = performance.now() - electedAt;
    const reregisterMs = Math.max(agentsBackMs, reconciledMs);
    console.error(`failover: every agent back after ${Math.round(agentsBackMs)} ms, every task reconciled after ${Math.round(reconciledMs)} ms`);
    return {
      agents: agentCount,
      tasks: taskCount,
      electionMs: Math.round(electionMs),
      reregisterMs: Math.round(reregisterMs),
      leaseMs,
      agentsBackMs: Math.round(agentsBackMs),
      reconciledMs: Math.round(reconciledMs),
      launchMs: Math.round(launchMs),
    };
  } finally {
    await client?.close().catch(() => {});
    await watcher?.close().catch(() => {});
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGTERM');
    const hard = setTimeout(() => {
      for (const c of children) c.proc.kill('SIGKILL');
    }, 10_000);
    await Promise.all(children.map((c) => c.exited));
    clearTimeout(hard);
    await nats.stop();
  }
}
