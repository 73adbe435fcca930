/**
 * `stoa dev` as a user runs it: a child process, the hello-framework example against it from a
 * second process, `stoa tasks --json`, then Ctrl-C — and no process of the cluster left behind.
 * Then the same without nats-server on PATH: the in-process bus, reached over HTTP.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const stoaBin = join(root, 'packages/cli/bin/stoa.mjs');

/** Every live process whose ancestry leads to `pid`. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (const [p] of parent) {
    let q: number | undefined = p;
    while (q !== undefined && q > 1) {
      q = parent.get(q);
      if (q === pid) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Run {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

async function stoa(data: string, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const run = start([stoaBin, '--data', data, ...args]);
  const code = await run.exited;
  return { code, out: run.out() };
}

const dirs: string[] = [];
const runs: Run[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function stopAndCheckNothingLeft(dev: Run, expectChildren: boolean): Promise<void> {
  const pid = dev.child.pid!;
  const family = descendants(pid);
  // The cluster has children (nats-server and its watchdog on NATS; the tasks' processes) to end with it.
  expect(family.length > 0).toBe(expectChildren);
  dev.child.kill('SIGINT');
  const code = await Promise.race([dev.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000))]);
  expect(code, dev.out()).toBe(0);
  expect(dev.out()).toContain('stopped.');
  await waitFor(() => family.every((p) => !alive(p)), { timeoutMs: 10_000, what: `processes ${family.filter(alive).join(', ')} to end` });
}

describe('stoa dev', () => {
  it('runs a cluster that the hello-framework example uses from another process, and leaves nothing on Ctrl-C', async () => {
    const data = mkdtempSync(join(tmpdir(), 'stoa-dev-e2e-'));
    dirs.push(data);
    const dev = start([stoaBin, '--data', data, 'dev', '--agents', '2', '--master-port', '0', '--marathon-port', '0', '--chronos-port', '0', '--batch-port', '0']);
    runs.push(dev);
    await waitFor(() => dev.out().includes('Stoa dev cluster is up.'), { timeoutMs: 30_000, what: `stoa dev to come up:\n${dev.out()}` });
    const cluster = JSON.parse(readFileSync(join(data, 'cluster.json'), 'utf8')) as { transport: string; natsUrl: string; http: { master: string } };
    expect(cluster.transport).toBe('nats');
    expect(dev.out()).toContain(cluster.natsUrl);

    const hello = start(['--import', 'tsx', 'examples/hello-framework/index.ts', '--tasks', '3'], { STOA_DATA: data });
    runs.push(hello);
    const helloCode = await Promise.race([hello.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 40_000))]);
    expect(helloCode, hello.out()).toBe(0);
    expect(hello.out()).toContain('done: 3 finished, 0 failed');

    const tasks = await stoa(data, '--json', 'tasks');
    expect(tasks.code, tasks.out).toBe(0);
    const listed = JSON.parse(tasks.out) as { tasks: { taskId: string; state: string }[] };
    expect(listed.tasks.map((t) => t.taskId).sort()).toEqual(['hello-1', 'hello-2', 'hello-3']);
    expect(new Set(listed.tasks.map((t) => t.state))).toEqual(new Set(['TASK_FINISHED']));

    const logs = await stoa(data, 'logs', 'hello-2');
    expect(logs.out).toContain('hello from hello-2');

    // The batch framework runs in the dev cluster: the word count example against it.
    const wordcount = start(['examples/wordcount/run.mjs'], { STOA_DATA: data });
    runs.push(wordcount);
    const wordcountCode = await Promise.race([wordcount.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 40_000))]);
    expect(wordcountCode, wordcount.out()).toBe(0);
    expect(wordcount.out()).toMatch(/\d+ words, \d+ distinct, in 4 files\. Top words:/);
    const batchJobs = await stoa(data, '--json', 'batch', 'status');
    expect(batchJobs.code, batchJobs.out).toBe(0);
    expect(batchJobs.out).toContain('wordcount');

    // Chronos, found through cluster.json by `stoa jobs`: a job added from a file runs on the cluster.
    const jobFile = join(data, 'job.json');
    writeFileSync(jobFile, JSON.stringify({ name: 'e2e-hello', command: 'echo chronos-ran', schedule: 'R1/2099-01-01T00:00:00Z/PT1H', owner: 'e2e@example.com' }));
    const added = await stoa(data, 'jobs', 'add', jobFile);
    expect(added.code, added.out).toBe(0);
    const ran = await stoa(data, 'jobs', 'run', 'e2e-hello');
    expect(ran.code, ran.out).toBe(0);
    await waitFor(
      async () => {
        const history = await stoa(data, '--json', 'jobs', 'history', 'e2e-hello');
        return history.code === 0 && /SUCCEEDED/.test(history.out);
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the chronos run to succeed' },
    );

    await stopAndCheckNothingLeft(dev, true);
  }, 120_000);

  it('without nats-server runs on the in-process bus, says so, and serves the stoa commands over HTTP', async () => {
    const data = mkdtempSync(join(tmpdir(), 'stoa-dev-e2e-mem-'));
    dirs.push(data);
    const dev = start([stoaBin, '--data', data, 'dev', '--agents', '2', '--master-port', '0', '--marathon-port', '0', '--chronos-port', '0', '--batch-port', '0'], { STOA_NATS_SERVER: '/nonexistent/nats-server' });
    runs.push(dev);
    await waitFor(() => dev.out().includes('Stoa dev cluster is up.'), { timeoutMs: 30_000, what: `stoa dev to come up:\n${dev.out()}` });
    expect(dev.out()).toContain('in-process bus');
    expect(dev.out()).toContain('apt-get install -y nats-server');
    const cluster = JSON.parse(readFileSync(join(data, 'cluster.json'), 'utf8')) as { transport: string; natsUrl?: string };
    expect(cluster.transport).toBe('memory');
    expect(cluster.natsUrl).toBeUndefined();

    const agents = await stoa(data, '--json', 'agents');
    expect(agents.code, agents.out).toBe(0);
    expect((JSON.parse(agents.out) as unknown[]).length).toBe(2);
    const tasks = await stoa(data, '--json', 'tasks');
    expect(tasks.code, tasks.out).toBe(0);
    expect(JSON.parse(tasks.out)).toMatchObject({ tasks: [], total: 0 });

    // Marathon runs in the cluster: an app added with `stoa apps` (found through cluster.json)
    // runs its instances, and `stoa tasks` over HTTP shows them.
    const appFile = join(data, 'app.json');
    writeFileSync(appFile, JSON.stringify({ id: '/e2e-sleep', cmd: 'sleep 600', cpus: 0.1, mem: 32, instances: 2 }));
    const added = await stoa(data, 'apps', 'add', appFile);
    expect(added.code, added.out).toBe(0);
    await waitFor(
      async () => {
        const r = await stoa(data, '--json', 'tasks', '--state', 'TASK_RUNNING');
        return r.code === 0 && (JSON.parse(r.out) as { total: number }).total === 2;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "the app's two instances to run" },
    );
    const apps = await stoa(data, '--json', 'apps', 'list');
    expect(apps.code, apps.out).toBe(0);
    expect(JSON.parse(apps.out)).toMatchObject({ apps: [{ id: '/e2e-sleep', instances: 2, tasksRunning: 2 }] });

    // Ctrl-C ends the app's processes too.
    await stopAndCheckNothingLeft(dev, true);
  }, 90_000);

  it('gives a clear error and exit code 1 when no cluster is found', async () => {
    const data = mkdtempSync(join(tmpdir(), 'stoa-nocluster-'));
    dirs.push(data);
    const r = await stoa(data, 'status');
    expect(r.code).toBe(1);
    expect(r.out).toContain('no cluster found');
    expect(r.out).toContain('npm run dev');
    expect(existsSync(join(data, 'cluster.json'))).toBe(false);
  }, 30_000);
});
