/**
 * cgroups for the process containerizer: finding which hierarchy this machine lets the agent use
 * (v2 first, then v1, else none), making one cgroup per container with its memory and CPU limits,
 * and the after-life of a container's cgroup (its processes, its OOM kills, its removal).
 *
 * Containers live in `<hierarchy>/stoa/<agentKey>/<container>`: `agentKey` is derived from the
 * agent's work dir, so several agents on one machine (as `stoa dev` runs them) never share a
 * cgroup even when their container ids collide. A container's cgroup is described by a plain
 * {@link ContainerCgroups} object, recorded in the sandbox, so an agent that restarts can find it
 * again without detecting anything.
 *
 * @example
 * ```ts
 * const cgroups = await CgroupHierarchy.detect({ mode: 'auto', root: '/sys/fs/cgroup', agentKey });
 * const cg = await cgroups.create('task-1', { memoryBytes: 64 << 20, cpus: 0.5 });
 * if (cg) await joinCgroups(cg, pid);
 * ```
 * @module
 */

import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { InternalError, InvalidOperationError, type Isolation } from '@stoa/core';

/** Which cgroup version to use: `auto` picks v2, then v1, then none. */
export type CgroupMode = 'auto' | 'v2' | 'v1' | 'none';

/** A container's cgroup(s): one directory in v2, one per controller hierarchy in v1. */
export type ContainerCgroups =
  | { kind: 'cgroup-v2'; dir: string; memory: boolean; cpu: boolean }
  | { kind: 'cgroup-v1'; memory?: string; cpu?: string };

/** The limits of one container. */
export interface CgroupLimits {
  /** Memory limit in bytes; absent or 0 for none. */
  memoryBytes?: number;
  /** CPU limit in cpus (0.5 = half a core); absent or 0 for none. */
  cpus?: number;
}

/** The CFS period the CPU quota is expressed in (100 ms, the kernel's default). */
export const CPU_PERIOD_US = 100_000;
/** The smallest CFS quota the kernel accepts. */
const MIN_CPU_QUOTA_US = 1_000;
/** Sub-directory of each hierarchy that holds every Stoa agent's cgroups. */
const STOA_DIR = 'stoa';

/**
 * The name of a container's cgroup: the id with anything but `[A-Za-z0-9._-]` replaced, never a
 * dot-name, at most ~100 characters; a short hash of the id is added whenever the name had to
 * change, so two ids never map to one cgroup.
 */
export function cgroupName(containerId: string): string {
  let safe = containerId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100);
  if (safe.startsWith('.')) safe = `_${safe}`;
  if (safe === containerId) return safe;
  return `${safe}-${createHash('sha256').update(containerId).digest('hex').slice(0, 8)}`;
}

/** A short stable key for an agent's work dir, naming its group of cgroups. */
export function agentKeyOf(workDir: string): string {
  return `agent-${createHash('sha256').update(workDir).digest('hex').slice(0, 12)}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Options of {@link CgroupHierarchy.detect}. */
export interface DetectOptions {
  /** @default 'auto' */
  mode?: CgroupMode;
  /** Where the cgroup filesystems are mounted. @default '/sys/fs/cgroup' */
  root?: string;
  /** The agent's key (see {@link agentKeyOf}). */
  agentKey: string;
}

type Backend =
  | { kind: 'cgroup-v2'; base: string; memory: boolean; cpu: boolean }
  | { kind: 'cgroup-v1'; memoryBase?: string; cpuBase?: string }
  | { kind: 'none' };

/** The cgroup hierarchy an agent uses: detected once, then makes one cgroup per container. */
export class CgroupHierarchy {
  /** The isolation in force, for AgentInfo. */
  readonly isolation: Isolation;
  readonly #backend: Backend;

  private constructor(backend: Backend, isolation: Isolation) {
    this.#backend = backend;
    this.isolation = isolation;
  }

  /**
   * Finds what this machine allows. v2 is used where a unified hierarchy (at `root`, or at
   * `root/unified` in the hybrid layout) offers `memory` or `cpu` and the agent can create a
   * child with those controllers enabled; else v1 where `root/memory` or `root/cpu[,cpuacct]` take
   * a new child and its limit; else none. A probe cgroup is made and removed to prove it.
   * An explicit `mode` that the machine cannot honour throws `InvalidOperationError`.
   */
  static async detect(options: DetectOptions): Promise<CgroupHierarchy> {
    const { mode = 'auto', root = '/sys/fs/cgroup', agentKey } = options;
    const notes: string[] = [];
    if (mode === 'none') return new CgroupHierarchy({ kind: 'none' }, { kind: 'none', memory: false, cpu: false, note: 'cgroups disabled by configuration' });
    if (mode === 'auto' || mode === 'v2') {
      const v2 = await detectV2(root, agentKey, notes);
      if (v2) return new CgroupHierarchy(v2.backend, v2.isolation);
      if (mode === 'v2') throw new InvalidOperationError(`cgroup v2 is not usable: ${notes.join('; ')}`, { details: { root } });
    }
    const v1 = await detectV1(root, agentKey, notes);
    if (v1) return new CgroupHierarchy(v1.backend, v1.isolation);
    if (mode === 'v1') throw new InvalidOperationError(`cgroup v1 is not usable: ${notes.join('; ')}`, { details: { root } });
    return new CgroupHierarchy({ kind: 'none' }, { kind: 'none', memory: false, cpu: false, note: `no usable cgroups, processes only: ${notes.join('; ')}` });
  }

  /**
   * Removes the agent's own cgroup directory (`stoa/<agentKey>`) where it is empty, so a closed
   * agent leaves no trace; one that still holds containers stays for the agent's next life.
   */
  async release(): Promise<void> {
    const b = this.#backend;
    const bases = b.kind === 'cgroup-v2' ? [b.base] : b.kind === 'cgroup-v1' ? [b.memoryBase, b.cpuBase] : [];
    for (const base of bases) if (base !== undefined) await rmdir(base).catch(() => undefined);
  }

  /**
   * Makes the cgroup(s) of a container with its limits, replacing an empty leftover of the same
   * name. Returns undefined when no cgroups are in force. Throws `InternalError` (and leaves
   * nothing behind) when the kernel refuses.
   */
  async create(containerId: string, limits: CgroupLimits): Promise<ContainerCgroups | undefined> {
    const b = this.#backend;
    if (b.kind === 'none') return undefined;
    const name = cgroupName(containerId);
    const memoryBytes = limits.memoryBytes !== undefined && limits.memoryBytes > 0 ? Math.floor(limits.memoryBytes) : undefined;
    const quota = limits.cpus !== undefined && limits.cpus > 0 ? Math.max(MIN_CPU_QUOTA_US, Math.round(limits.cpus * CPU_PERIOD_US)) : undefined;
    let cg: ContainerCgroups;
    if (b.kind === 'cgroup-v2') {
      cg = { kind: 'cgroup-v2', dir: join(b.base, name), memory: b.memory, cpu: b.cpu };
    } else {
      cg = { kind: 'cgroup-v1' };
      if (b.memoryBase) cg.memory = join(b.memoryBase, name);
      if (b.cpuBase) cg.cpu = join(b.cpuBase, name);
    }
    try {
      for (const dir of cgroupDirs(cg)) await freshDir(dir);
      if (cg.kind === 'cgroup-v2') {
        if (memoryBytes !== undefined && cg.memory) {
          await writeFile(join(cg.dir, 'memory.max'), String(memoryBytes));
          await writeFile(join(cg.dir, 'memory.swap.max'), '0').catch(() => undefined);
        }
        if (quota !== undefined && cg.cpu) await writeFile(join(cg.dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
      } else {
        if (memoryBytes !== undefined && cg.memory) {
          await writeFile(join(cg.memory, 'memory.limit_in_bytes'), String(memoryBytes));
          // Without this a machine with swap lets the task swap past its limit; absent without swap accounting.
          await writeFile(join(cg.memory, 'memory.memsw.limit_in_bytes'), String(memoryBytes)).catch(() => undefined);
        }
        if (quota !== undefined && cg.cpu) {
          await writeFile(join(cg.cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
          await writeFile(join(cg.cpu, 'cpu.cfs_quota_us'), String(quota));
        }
      }
    } catch (error) {
      await removeCgroups(cg, 0);
      throw new InternalError(`cannot create the cgroup of container ${containerId}: ${errorText(error)}`, {
        details: { containerId, cgroups: cg },
        cause: error,
      });
    }
    return cg;
  }
}

/** The distinct directories of a container's cgroups. */
export function cgroupDirs(cg: ContainerCgroups): string[] {
  if (cg.kind === 'cgroup-v2') return [cg.dir];
  return [cg.memory, cg.cpu].filter((d): d is string => d !== undefined);
}

/** Moves `pid` into the container's cgroups (before the task starts, so all it forks is inside). */
export async function joinCgroups(cg: ContainerCgroups, pid: number): Promise<void> {
  for (const dir of cgroupDirs(cg)) await writeFile(join(dir, 'cgroup.procs'), String(pid));
}

/** The pids in the container's cgroup (the memory one in v1), or `[]` when it is gone. */
export async function cgroupPids(cg: ContainerCgroups): Promise<number[]> {
  const dir = cgroupDirs(cg)[0];
  if (dir === undefined) return [];
  const text = await readText(join(dir, 'cgroup.procs'));
  if (text === undefined) return [];
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Whether the kernel's OOM killer killed a process of the container at its limit: `oom_kill` of
 * `memory.events` (v2) or of `memory.oom_control` (v1, kernel 4.13+), falling back to v1's
 * `memory.failcnt` on older kernels. Undefined when there is no memory cgroup to ask.
 */
export async function wasOomKilled(cg: ContainerCgroups | undefined): Promise<boolean | undefined> {
  if (cg === undefined) return undefined;
  if (cg.kind === 'cgroup-v2') {
    if (!cg.memory) return undefined;
    const events = await readText(join(cg.dir, 'memory.events'));
    const count = events && /^oom_kill (\d+)$/m.exec(events)?.[1];
    return count ? Number(count) > 0 : undefined;
  }
  if (cg.memory === undefined) return undefined;
  const control = await readText(join(cg.memory, 'memory.oom_control'));
  if (control === undefined) return undefined;
  const count = /^oom_kill (\d+)$/m.exec(control)?.[1];
  if (count !== undefined) return Number(count) > 0;
  const failcnt = await readText(join(cg.memory, 'memory.failcnt'));
  return failcnt === undefined ? undefined : Number(failcnt.trim()) > 0;
}

/** SIGKILLs every process left in the container's cgroups (`cgroup.kill` where v2 has it). */
export async function killCgroup(cg: ContainerCgroups): Promise<void> {
  if (cg.kind === 'cgroup-v2') {
    try {
      await writeFile(join(cg.dir, 'cgroup.kill'), '1');
      return;
    } catch {
      // Kernels before 5.14 have no cgroup.kill: signal each member below.
    }
  }
  for (const dir of cgroupDirs(cg)) {
    const text = await readText(join(dir, 'cgroup.procs'));
    for (const line of text?.split('\n') ?? []) {
      const pid = Number(line);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

/**
 * Removes the container's cgroup directories. A cgroup with processes cannot be removed, and one
 * whose last process just died may still be busy for a moment, so `rmdir` is retried for up to
 * `retryMs`; the last error is thrown as `InternalError`. A missing directory counts as removed.
 */
export async function removeCgroups(cg: ContainerCgroups, retryMs = 2_000): Promise<void> {
  const deadline = Date.now() + retryMs;
  for (const dir of cgroupDirs(cg)) {
    for (;;) {
      try {
        await rmdir(dir);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (Date.now() >= deadline) {
          if (retryMs === 0) break;
          throw new InternalError(`cannot remove cgroup ${dir}: ${errorText(error)}`, { details: { dir }, cause: error });
        }
        await delay(20);
      }
    }
  }
}

/** Makes `dir` anew: an empty leftover from an earlier agent is removed first. */
async function freshDir(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dir);
}

async function probe(base: string, check: (dir: string) => Promise<void>): Promise<void> {
  const dir = join(base, `.probe-${process.pid}`);
  await freshDir(dir);
  try {
    await check(dir);
  } finally {
    await rmdir(dir).catch(() => undefined);
  }
}

/** A detected hierarchy. */
interface Detected {
  backend: Backend;
  isolation: Isolation;
}

async function detectV2(root: string, agentKey: string, notes: string[]): Promise<Detected | undefined> {
  let mount: string | undefined;
  for (const candidate of [root, join(root, 'unified')]) {
    if (await exists(join(candidate, 'cgroup.controllers'))) {
      mount = candidate;
      break;
    }
  }
  if (mount === undefined) {
    notes.push(`no cgroup v2 hierarchy at ${root}`);
    return undefined;
  }
  const controllers = ((await readText(join(mount, 'cgroup.controllers'))) ?? '').trim().split(/\s+/);
  const wanted = ['memory', 'cpu'].filter((c) => controllers.includes(c));
  if (wanted.length === 0) {
    notes.push(`cgroup v2 at ${mount} has no memory or cpu controller`);
    return undefined;
  }
  // Each level down to the agent's must delegate the controllers to its children.
  const levels = [mount, join(mount, STOA_DIR), join(mount, STOA_DIR, agentKey)];
  const enabled = new Set(wanted);
  try {
    for (const [i, level] of levels.entries()) {
      if (i > 0) await mkdir(level, { recursive: true });
      for (const c of wanted) {
        await writeFile(join(level, 'cgroup.subtree_control'), `+${c}`).catch(() => enabled.delete(c));
      }
    }
    const base = levels[2]!;
    await probe(base, async (dir) => {
      if (enabled.has('memory') && !(await exists(join(dir, 'memory.max')))) enabled.delete('memory');
      if (enabled.has('cpu') && !(await exists(join(dir, 'cpu.max')))) enabled.delete('cpu');
    });
    if (enabled.size === 0) {
      notes.push(`cgroup v2 at ${mount}: cannot delegate memory or cpu to ${base} (processes in a parent cgroup?)`);
      return undefined;
    }
    const memory = enabled.has('memory');
    const cpu = enabled.has('cpu');
    return {
      backend: { kind: 'cgroup-v2', base, memory, cpu },
      isolation: { kind: 'cgroup-v2', memory, cpu, note: `cgroup v2 at ${base}: ${[memory && 'memory.max', cpu && 'cpu.max'].filter(Boolean).join(' and ')} enforced` },
    };
  } catch (error) {
    notes.push(`cgroup v2 at ${mount} is not writable (${errorText(error)})`);
    return undefined;
  }
}

async function detectV1(root: string, agentKey: string, notes: string[]): Promise<Detected | undefined> {
  const whyNotV2 = [...notes];
  const tryHierarchy = async (mount: string, limitFile: string, value: string): Promise<string | undefined> => {
    if (!(await exists(join(mount, limitFile)))) return undefined;
    const base = join(mount, STOA_DIR, agentKey);
    try {
      await mkdir(base, { recursive: true });
      await probe(base, (dir) => writeFile(join(dir, limitFile), value));
      return base;
    } catch (error) {
      notes.push(`cgroup v1 ${mount} is not writable (${errorText(error)})`);
      return undefined;
    }
  };
  const memoryBase = await tryHierarchy(join(root, 'memory'), 'memory.limit_in_bytes', String(64 << 20));
  let cpuBase: string | undefined;
  for (const name of ['cpu,cpuacct', 'cpu', 'cpuacct,cpu']) {
    if (!(await exists(join(root, name, 'cpu.cfs_quota_us')))) continue;
    cpuBase = await tryHierarchy(join(root, name), 'cpu.cfs_quota_us', String(CPU_PERIOD_US));
    break;
  }
  if (memoryBase === undefined && cpuBase === undefined) {
    notes.push(`no writable cgroup v1 memory or cpu hierarchy under ${root}`);
    return undefined;
  }
  const parts = [memoryBase && `memory limit at ${memoryBase}`, cpuBase && `cpu quota at ${cpuBase}`].filter(Boolean);
  const backend: Extract<Backend, { kind: 'cgroup-v1' }> = { kind: 'cgroup-v1' };
  if (memoryBase !== undefined) backend.memoryBase = memoryBase;
  if (cpuBase !== undefined) backend.cpuBase = cpuBase;
  const note = `cgroup v1: ${parts.join(', ')} enforced${whyNotV2.length > 0 ? ` (not v2: ${whyNotV2.join('; ')})` : ''}`;
  return { backend, isolation: { kind: 'cgroup-v1', memory: memoryBase !== undefined, cpu: cpuBase !== undefined, note } };
}
