/**
 * cgroup detection and bookkeeping against fake cgroup trees in a temp dir (the real kernel is
 * exercised by the process containerizer's tests): what is chosen, the notes, the limit files
 * written, OOM reading, and removal.
 *
 * @module
 */

import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentKeyOf, CgroupHierarchy, cgroupDirs, cgroupName, removeCgroups, wasOomKilled } from './cgroups.js';

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function fakeRoot(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'stoa-cgroups-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

describe('cgroupName', () => {
  it('keeps safe ids and makes others safe and distinct', () => {
    expect(cgroupName('web-1.0_a')).toBe('web-1.0_a');
    expect(cgroupName('a/b')).toMatch(/^a_b-[0-9a-f]{8}$/);
    expect(cgroupName('a/b')).not.toBe(cgroupName('a:b'));
    expect(cgroupName('..')).toMatch(/^_\.\.-[0-9a-f]{8}$/);
    expect(cgroupName('x'.repeat(300)).length).toBeLessThan(120);
    expect(agentKeyOf('/a')).not.toBe(agentKeyOf('/b'));
  });
});

describe('CgroupHierarchy.detect', () => {
  it('falls back to none, saying why, where nothing is usable', async () => {
    const root = await fakeRoot({ 'unified/cgroup.controllers': '\n' });
    const h = await CgroupHierarchy.detect({ root, agentKey: 'agent-x' });
    expect(h.isolation).toMatchObject({ kind: 'none', memory: false, cpu: false });
    expect(h.isolation.note).toContain('no memory or cpu controller');
    expect(await h.create('t', { memoryBytes: 1 << 20 })).toBeUndefined();
    await expect(CgroupHierarchy.detect({ root, agentKey: 'agent-x', mode: 'v1' })).rejects.toMatchObject({ code: 'INVALID_OPERATION' });
    await expect(CgroupHierarchy.detect({ root, agentKey: 'agent-x', mode: 'v2' })).rejects.toMatchObject({ code: 'INVALID_OPERATION' });
    expect((await CgroupHierarchy.detect({ root, agentKey: 'agent-x', mode: 'none' })).isolation.kind).toBe('none');
  });

  it('uses v1 memory and cpu hierarchies, writing limits, and removes them', async () => {
    const root = await fakeRoot({
      'unified/cgroup.controllers': '\n',
      'memory/memory.limit_in_bytes': '9223372036854771712\n',
      'cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
    });
    const h = await CgroupHierarchy.detect({ root, agentKey: 'agent-x' });
    expect(h.isolation).toMatchObject({ kind: 'cgroup-v1', memory: true, cpu: true });
    expect(h.isolation.note).toContain('not v2');
    const cg = await h.create('task 1', { memoryBytes: 32 << 20, cpus: 0.25 });
    expect(cg).toEqual({
      kind: 'cgroup-v1',
      memory: join(root, 'memory', 'stoa', 'agent-x', cgroupName('task 1')),
      cpu: join(root, 'cpu,cpuacct', 'stoa', 'agent-x', cgroupName('task 1')),
    });
    if (cg?.kind !== 'cgroup-v1') throw new Error('expected v1');
    expect(await readFile(join(cg.memory!, 'memory.limit_in_bytes'), 'utf8')).toBe(String(32 << 20));
    expect(await readFile(join(cg.cpu!, 'cpu.cfs_quota_us'), 'utf8')).toBe('25000');
    expect(await readFile(join(cg.cpu!, 'cpu.cfs_period_us'), 'utf8')).toBe('100000');

    expect(await wasOomKilled(cg)).toBeUndefined();
    await writeFile(join(cg.memory!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    expect(await wasOomKilled(cg)).toBe(true);
    await writeFile(join(cg.memory!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
    expect(await wasOomKilled(cg)).toBe(false);

    // A real cgroup directory holds only kernel files; a fake one must be emptied first.
    for (const dir of cgroupDirs(cg)) await rm(dir, { recursive: true }).then(() => mkdir(dir));
    await removeCgroups(cg);
    for (const dir of cgroupDirs(cg)) await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    // So is the probe made at detection, which the kernel would have let go of.
    for (const hierarchy of ['memory', 'cpu,cpuacct']) {
      const base = join(root, hierarchy, 'stoa', 'agent-x');
      for (const name of await readdir(base)) await rm(join(base, name), { recursive: true });
    }
    await h.release();
    await expect(stat(join(root, 'memory', 'stoa', 'agent-x'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads v2 OOM kills from memory.events', async () => {
    const root = await fakeRoot({ 'c/memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n' });
    expect(await wasOomKilled({ kind: 'cgroup-v2', dir: join(root, 'c'), memory: true, cpu: false })).toBe(true);
    expect(await wasOomKilled({ kind: 'cgroup-v2', dir: join(root, 'c'), memory: false, cpu: false })).toBeUndefined();
    expect(await wasOomKilled(undefined)).toBeUndefined();
  });
});
