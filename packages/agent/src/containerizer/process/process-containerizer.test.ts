/**
 * The process containerizer beyond the conformance suite: sandbox files, environment, argv,
 * grace periods, recovery across containerizer instances, usage, and cgroup limits (asserted
 * wherever the machine has cgroups; the memory test skips only when isolation is `none`).
 *
 * @module
 */

import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Resource } from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerLaunch } from '../containerizer.js';
import { type CgroupMode, ProcessContainerizer } from '../index.js';
import { isProcessAlive } from './proc-usage.js';

const resources: Resource[] = [
  { name: 'cpus', type: 'SCALAR', scalar: 0.5 },
  { name: 'mem', type: 'SCALAR', scalar: 128 },
];

/** Temp work dirs and containerizers made by a test, all released after it. */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function tempWorkDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stoa-process-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function containerizer(workDir: string, cgroups?: CgroupMode): Promise<ProcessContainerizer> {
  const c = await ProcessContainerizer.create({ workDir, ...(cgroups && { cgroups }) });
  cleanups.push(() => c.close({ killAll: true }));
  return c;
}

async function launchSpec(workDir: string, containerId: string, value: string, extra: Partial<ContainerLaunch> = {}): Promise<ContainerLaunch> {
  const sandboxDir = join(workDir, 'sandboxes', containerId);
  await mkdir(sandboxDir, { recursive: true });
  return { containerId, command: { value }, sandboxDir, env: {}, resources, ...extra };
}

const read = (path: string) => readFile(path, 'utf8').catch(() => '');
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('ProcessContainerizer', () => {
  it('runs in the sandbox with stdout, stderr and the environment', { timeout: 15_000 }, async () => {
    const workDir = await tempWorkDir();
    const c = await containerizer(workDir);
    const spec = await launchSpec(workDir, 'env', 'echo out; echo err >&2; echo "foo=$FOO home=$HOME"; pwd; echo "cmd=$FROM_COMMAND"', {
      env: { FOO: 'bar baz' },
    });
    spec.command.environment = { FROM_COMMAND: 'yes' };
    const { pid } = await c.launch(spec);
    expect(pid).toBeGreaterThan(0);
    expect(await c.wait('env')).toMatchObject({ exitCode: 0 });
    const stdout = await read(join(spec.sandboxDir, 'stdout'));
    expect(stdout).toContain('out\n');
    expect(stdout).toContain(`foo=bar baz home=${spec.sandboxDir}\n`);
    expect(stdout).toContain(`${spec.sandboxDir}\n`);
    expect(stdout).toContain('cmd=yes\n');
    expect(await read(join(spec.sandboxDir, 'stderr'))).toBe('err\n');
    expect((await read(join(spec.sandboxDir, '.stoa', 'exit'))).trim()).toBe('0');
    expect(JSON.parse(await read(join(spec.sandboxDir, '.stoa', 'pid')))).toMatchObject({ pid, startTime: expect.any(Number) });
  });

  it('runs the argv form, with arguments[0] as the program name', { timeout: 15_000 }, async () => {
    const workDir = await tempWorkDir();
    const c = await containerizer(workDir);
    const echo = await launchSpec(workDir, 'echo', '/bin/echo');
    echo.command = { shell: false, value: '/bin/echo', arguments: ['echo', 'a  b', '$HOME'] };
    await c.launch(echo);
    expect(await c.wait('echo')).toMatchObject({ exitCode: 0 });
    expect(await read(join(echo.sandboxDir, 'stdout'))).toBe('a  b $HOME\n');

    const named = await launchSpec(workDir, 'named', '/bin/sh');
    named.command = { shell: false, value: '/bin/sh', arguments: ['my-name', '-c', 'echo "$0"'] };
    await c.launch(named);
    await c.wait('named');
    expect(await read(join(named.sandboxDir, 'stdout'))).toBe('my-name\n');

    const bare = await launchSpec(workDir, 'bare', '/bin/false');
    bare.command = { shell: false, value: '/bin/false' };
    await c.launch(bare);
    expect(await c.wait('bare')).toMatchObject({ exitCode: 1 });

    const missing = await launchSpec(workDir, 'missing', '/no/such/program');
    missing.command = { shell: false, value: '/no/such/program' };
    await c.launch(missing);
    expect(await c.wait('missing')).toMatchObject({ exitCode: 127 });
  });

  it('rejects an unknown user', async () => {
    const workDir = await tempWorkDir();
    const c = await containerizer(workDir);
    await expect(c.launch(await launchSpec(workDir, 'who', 'true', { user: 'no-such-user-stoa' }))).rejects.toMatchObject({ code: 'INVALID_OPERATION' });
  });

  it('gives a task that traps SIGTERM its grace period', { timeout: 15_000 }, async () => {
    const workDir = await tempWorkDir();
    const c = await containerizer(workDir);
    const spec = await launchSpec(workDir, 'graceful', "trap 'echo term; exit 0' TERM; echo ready; while true; do sleep 0.1; done");
    await c.launch(spec);
    await waitFor(async () => (await read(join(spec.sandboxDir, 'stdout'))).includes('ready'), { what: 'the task to set its trap' });
    const started = Date.now();
    await c.kill('graceful', 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await c.wait('graceful')).toMatchObject({ exitCode: 0 });
    expect(await read(join(spec.sandboxDir, 'stdout'))).toContain('term\n');
  });

  it('SIGKILLs a task that ignores SIGTERM once the grace period is over', { timeout: 15_000 }, async () => {
    const workDir = await tempWorkDir();
    const c = await containerizer(workDir);
    const spec = await launchSpec(workDir, 'stubborn', "trap '' TERM; echo ready; while true; do sleep 0.1; done");
    await c.launch(spec);
    await waitFor(async () => (await read(join(spec.sandboxDir, 'stdout'))).includes('ready'), { what: 'the task to ignore SIGTERM' });
    const started = Date.now();
    await c.kill('stubborn', 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await c.wait('stubborn')).toMatchObject({ signal: 'SIGKILL' });
  });

  it('kills what the task left behind in its process group when it exits', { timeout: 15_000 }, async () => {
    const workDir = await tempWorkDir();
    const c = await containerizer(workDir);
    const spec = await launchSpec(workDir, 'leaver', 'sleep 30 & echo $! > bg.pid; exit 0');
    await c.launch(spec);
    expect(await c.wait('leaver')).toMatchObject({ exitCode: 0 });
    const bg = Number(await read(join(spec.sandboxDir, 'bg.pid')));
    expect(bg).toBeGreaterThan(0);
    await waitFor(async () => !(await isProcessAlive(bg)), { timeoutMs: 5_000, what: 'the background sleep to be killed' });
  });

  for (const mode of ['auto', 'none'] as const) {
    it(`reports usage of a running task (cgroups: ${mode})`, { timeout: 15_000 }, async () => {
      const workDir = await tempWorkDir();
      const c = await containerizer(workDir, mode);
      if (mode === 'none') expect(c.isolation()).toMatchObject({ kind: 'none', memory: false, cpu: false });
      const spec = await launchSpec(workDir, 'busy', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo spun; sleep 30');
      await c.launch(spec);
      await waitFor(async () => (await read(join(spec.sandboxDir, 'stdout'))).includes('spun'), { what: 'the task to burn some CPU' });
      const usage = await c.usage('busy');
      expect(usage?.rssBytes).toBeGreaterThan(0);
      expect((usage?.cpuUserSeconds ?? 0) + (usage?.cpuSystemSeconds ?? 0)).toBeGreaterThan(0);
      await c.kill('busy', 1_000);
      expect(await c.usage('busy')).toBeUndefined();
    });
  }

  describe('recovery', () => {
    it('re-attaches to a task that kept running while no containerizer watched', { timeout: 20_000 }, async () => {
      const workDir = await tempWorkDir();
      const a = await containerizer(workDir);
      const spec = await launchSpec(workDir, 'survivor', 'sleep 30');
      const { pid } = await a.launch(spec);
      await a.close();
      expect(await isProcessAlive(pid!)).toBe(true);

      const b = await containerizer(workDir);
      expect(await b.recover([{ containerId: 'survivor', sandboxDir: spec.sandboxDir }])).toEqual([{ containerId: 'survivor', state: 'running', pid }]);
      expect((await b.usage('survivor'))?.rssBytes).toBeGreaterThan(0);
      const waited = b.wait('survivor');
      await b.kill('survivor', 5_000);
      expect(await waited).toMatchObject({ signal: 'SIGTERM' });
      expect(await isProcessAlive(pid!)).toBe(false);
      await b.cleanup('survivor');
    });

    it('survives a kill -9 of the agent process, and a new one re-attaches', { timeout: 30_000 }, async () => {
      const workDir = await tempWorkDir();
      const running = await launchSpec(workDir, 'running', 'sleep 30');
      const ending = await launchSpec(workDir, 'ending', 'while [ ! -e release ]; do sleep 0.05; done; exit 9');
      // A separate agent process (the sources run through tsx), killed with SIGKILL once it has launched both.
      const repoRoot = fileURLToPath(new URL('../../../../../', import.meta.url));
      const script = join(workDir, 'agent.mts');
      await writeFile(
        script,
        [
          `import { ProcessContainerizer } from ${JSON.stringify(fileURLToPath(new URL('../index.ts', import.meta.url)))};`,
          `const c = await ProcessContainerizer.create({ workDir: ${JSON.stringify(workDir)} });`,
          `for (const spec of ${JSON.stringify([running, ending])}) await c.launch(spec);`,
          `console.log('launched');`,
          'setInterval(() => {}, 60_000);',
        ].join('\n'),
      );
      const agent = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
      const agentExited = new Promise((res) => agent.once('exit', res));
      cleanups.push(async () => {
        agent.kill('SIGKILL');
        await agentExited;
      });
      let output = '';
      agent.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      await waitFor(() => output.includes('launched'), { timeoutMs: 20_000, what: 'the agent process to launch its containers' });
      agent.kill('SIGKILL');
      await agentExited;
      const pid = (JSON.parse(await read(join(running.sandboxDir, '.stoa', 'pid'))) as { pid: number }).pid;
      expect(await isProcessAlive(pid)).toBe(true);
      await mkdir(join(ending.sandboxDir, 'release'));
      await waitFor(() => exists(join(ending.sandboxDir, '.stoa', 'exit')), { what: 'the exit record written with no agent around' });

      const b = await containerizer(workDir);
      const recovered = await b.recover([
        { containerId: 'running', sandboxDir: running.sandboxDir },
        { containerId: 'ending', sandboxDir: ending.sandboxDir },
      ]);
      expect(recovered).toMatchObject([
        { containerId: 'running', state: 'running', pid },
        { containerId: 'ending', state: 'exited', exit: { exitCode: 9 } },
      ]);
      await b.kill('running', 5_000);
      expect(await b.wait('running')).toMatchObject({ signal: 'SIGTERM' });
    });

    it('SIGKILLs a recovered task that ignores SIGTERM', { timeout: 20_000 }, async () => {
      const workDir = await tempWorkDir();
      const a = await containerizer(workDir);
      const spec = await launchSpec(workDir, 'stubborn', "trap '' TERM; echo ready; while true; do sleep 0.1; done");
      await a.launch(spec);
      await waitFor(async () => (await read(join(spec.sandboxDir, 'stdout'))).includes('ready'), { what: 'the task to ignore SIGTERM' });
      await a.close();
      const b = await containerizer(workDir);
      await b.recover([{ containerId: 'stubborn', sandboxDir: spec.sandboxDir }]);
      await b.kill('stubborn', 200);
      expect(await b.wait('stubborn')).toMatchObject({ signal: 'SIGKILL' });
    });

    it('reports the real exit of a task that ended while no containerizer watched', { timeout: 20_000 }, async () => {
      const workDir = await tempWorkDir();
      const a = await containerizer(workDir);
      const spec = await launchSpec(workDir, 'quick', 'echo started; while [ ! -e release ]; do sleep 0.05; done; exit 7');
      await a.launch(spec);
      await a.close();
      await mkdir(join(spec.sandboxDir, 'release'));
      await waitFor(() => exists(join(spec.sandboxDir, '.stoa', 'exit')), { what: 'the exit record' });

      const b = await containerizer(workDir);
      const [recovered] = await b.recover([{ containerId: 'quick', sandboxDir: spec.sandboxDir }]);
      expect(recovered).toMatchObject({ containerId: 'quick', state: 'exited', exit: { exitCode: 7 } });
      expect(await b.wait('quick')).toMatchObject({ exitCode: 7 });
      await b.cleanup('quick');
    });

    it('reports unknown for a wrapper killed while away and for a sandbox without records', { timeout: 20_000 }, async () => {
      const workDir = await tempWorkDir();
      const a = await containerizer(workDir);
      const spec = await launchSpec(workDir, 'murdered', 'sleep 30');
      const { pid } = await a.launch(spec);
      await a.close();
      process.kill(-pid!, 'SIGKILL');
      await waitFor(async () => !(await isProcessAlive(pid!)), { what: 'the wrapper to die' });

      const empty = join(workDir, 'sandboxes', 'never-started');
      await mkdir(empty, { recursive: true });
      const b = await containerizer(workDir);
      const recovered = await b.recover([
        { containerId: 'murdered', sandboxDir: spec.sandboxDir },
        { containerId: 'never-started', sandboxDir: empty },
      ]);
      expect(recovered).toMatchObject([
        { containerId: 'murdered', state: 'exited', exit: { unknown: true } },
        { containerId: 'never-started', state: 'exited', exit: { unknown: true } },
      ]);
      expect(await b.wait('murdered')).toMatchObject({ unknown: true });
    });

    it('watches a recovered task until it exits by itself', { timeout: 20_000 }, async () => {
      const workDir = await tempWorkDir();
      const a = await containerizer(workDir);
      const spec = await launchSpec(workDir, 'later', 'while [ ! -e release ]; do sleep 0.05; done; exit 5');
      await a.launch(spec);
      await a.close();
      const b = await containerizer(workDir);
      expect(await b.recover([{ containerId: 'later', sandboxDir: spec.sandboxDir }])).toMatchObject([{ state: 'running' }]);
      const waited = b.wait('later');
      await mkdir(join(spec.sandboxDir, 'release'));
      expect(await waited).toMatchObject({ exitCode: 5 });
    });
  });

  describe('cgroups', () => {
    it('starts the task inside its own cgroup and removes it at cleanup', { timeout: 15_000 }, async (ctx) => {
      const workDir = await tempWorkDir();
      const c = await containerizer(workDir);
      const isolation = c.isolation();
      if (isolation.kind === 'none') ctx.skip();
      const spec = await launchSpec(workDir, 'where am i', 'cat /proc/self/cgroup');
      await c.launch(spec);
      await c.wait('where am i');
      const lines = (await read(join(spec.sandboxDir, 'stdout'))).split('\n');
      const record = JSON.parse(await read(join(spec.sandboxDir, '.stoa', 'pid'))) as { cgroups: Record<string, unknown> };
      const dirs = Object.values(record.cgroups).filter((v): v is string => typeof v === 'string' && v.startsWith('/'));
      expect(dirs.length).toBeGreaterThan(0);
      for (const dir of dirs) {
        // /proc/self/cgroup shows the path below the hierarchy's mount, ending in the container's cgroup.
        const tail = dir.split('/').slice(-3).join('/');
        expect(tail).toMatch(/^stoa\/agent-[0-9a-f]+\/where_am_i-[0-9a-f]{8}$/);
        expect(lines.some((l) => l.endsWith(`/${tail}`))).toBe(true);
        expect(await exists(dir)).toBe(true);
      }
      await c.cleanup('where am i');
      for (const dir of dirs) expect(await exists(dir)).toBe(false);
      // The agent's own cgroup goes with the containerizer, once empty.
      await c.close();
      for (const dir of dirs) expect(await exists(join(dir, '..'))).toBe(false);
    });

    it('sets the CPU quota from cpus', { timeout: 15_000 }, async (ctx) => {
      const workDir = await tempWorkDir();
      const c = await containerizer(workDir);
      const isolation = c.isolation();
      if (!isolation.cpu) ctx.skip();
      const spec = await launchSpec(workDir, 'quota', 'sleep 30');
      await c.launch(spec);
      const record = JSON.parse(await read(join(spec.sandboxDir, '.stoa', 'pid'))) as {
        cgroups: { kind: string; dir?: string; cpu?: string };
      };
      if (record.cgroups.kind === 'cgroup-v2') expect((await read(join(record.cgroups.dir!, 'cpu.max'))).trim()).toBe('50000 100000');
      else expect((await read(join(record.cgroups.cpu!, 'cpu.cfs_quota_us'))).trim()).toBe('50000');
      await c.kill('quota', 1_000);
    });

    it('OOM-kills a task past its memory limit and says so', { timeout: 30_000 }, async (ctx) => {
      const workDir = await tempWorkDir();
      const c = await containerizer(workDir);
      if (c.isolation().kind === 'none') ctx.skip();
      expect(c.isolation().memory).toBe(true);
      const spec = await launchSpec(workDir, 'hog', 'head -c 200M /dev/zero | tail', {
        resources: [
          { name: 'cpus', type: 'SCALAR', scalar: 1 },
          { name: 'mem', type: 'SCALAR', scalar: 32 },
        ],
      });
      await c.launch(spec);
      expect(await c.wait('hog')).toMatchObject({ signal: 'SIGKILL', oomKilled: true });
      await c.cleanup('hog');
    });
  });
});
