/**
 * What an agent offers: its total resources, given as text (`cpus:4;mem:4096;ports:[31000-32000]`),
 * as a list, or detected from the machine, and its attributes (`rack:r1;zone:a`).
 *
 * Detection follows Mesos' defaults: every CPU, the memory less 1 GiB for the system (at least
 * 512 MB), the free space of the work dir's file system less 10 %, ports 31000–32000, and the GPUs
 * `nvidia-smi` lists when it is installed.
 *
 * @example
 * ```ts
 * const total = await resolveResources('cpus:2;mem:1024', { workDir: '/var/lib/stoa' });
 * const detected = await detectResources({ workDir: '/var/lib/stoa' });
 * ```
 * @module
 */

import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { type Attributes, add, normalize, parseAttributes, parseResources, type Resource, ResourcesSchema, ValidationError } from '@stoa/core';

/** The port range an agent offers when none is configured (as Mesos does). */
export const DEFAULT_PORTS = { begin: 31000, end: 32000 } as const;

/** Options of {@link detectResources}. */
export interface DetectResourcesOptions {
  /** The file system whose free space becomes `disk`; none (no `disk`) when absent. */
  workDir?: string;
  /** Look for GPUs with `nvidia-smi`. @default true */
  gpus?: boolean;
}

/** The machine's resources, Mesos-style: cpus, mem less 1 GiB (min 512), disk less 10 %, ports, gpus. */
export async function detectResources(options: DetectResourcesOptions = {}): Promise<Resource[]> {
  const cpus = Math.max(1, os.cpus().length);
  const totalMb = Math.floor(os.totalmem() / (1024 * 1024));
  const mem = Math.max(512, totalMb - 1024);
  const out: Resource[] = [
    { name: 'cpus', type: 'SCALAR', scalar: cpus },
    { name: 'mem', type: 'SCALAR', scalar: mem },
    { name: 'ports', type: 'RANGES', ranges: [{ ...DEFAULT_PORTS }] },
  ];
  if (options.workDir !== undefined) {
    const disk = await freeDiskMb(options.workDir);
    if (disk !== undefined && disk > 0) out.push({ name: 'disk', type: 'SCALAR', scalar: disk });
  }
  if (options.gpus !== false) {
    const gpus = await countGpus();
    if (gpus > 0) out.push({ name: 'gpus', type: 'SCALAR', scalar: gpus });
  }
  return normalize(out);
}

/** Free MB of the file system holding `dir`, less 10 %; undefined when it cannot be read. */
async function freeDiskMb(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    const free = (Number(s.bavail) * Number(s.bsize)) / (1024 * 1024);
    return Math.floor(free * 0.9);
  } catch {
    return undefined;
  }
}

/** How many GPUs `nvidia-smi` lists; 0 when it is absent or fails. */
export function countGpus(): Promise<number> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], { timeout: 5000 }, (error, stdout) => {
      if (error) return resolve(0);
      resolve(stdout.split('\n').filter((line) => line.trim() !== '').length);
    });
  });
}

/** Options of {@link resolveResources}. */
export interface ResolveResourcesOptions {
  /** For detection of `disk`. */
  workDir?: string;
}

/**
 * The agent's total resources: parsed from text, validated from a list, or detected when absent.
 * Text that names only some resources (`cpus:2`) gets the rest detected, as Mesos' `--resources`
 * does; a list is taken as it is. Throws a `ValidationError` for bad text or a bad list.
 */
export async function resolveResources(spec: string | readonly Resource[] | undefined, options: ResolveResourcesOptions = {}): Promise<Resource[]> {
  if (spec === undefined) return detectResources(options);
  if (typeof spec !== 'string') {
    const parsed = ResourcesSchema.safeParse(spec);
    if (!parsed.success) {
      throw new ValidationError(`invalid resources: ${parsed.error.issues[0]?.message ?? 'bad list'}`, { details: { field: 'resources' } });
    }
    return normalize(parsed.data);
  }
  const given = parseResources(spec);
  const named = new Set(given.map((r) => r.name));
  const detected = await detectResources({ ...options, gpus: !named.has('gpus') });
  const missing = detected.filter((r) => !named.has(r.name));
  return add(given, missing);
}

/** The agent's attributes from text (`rack:r1;zone:a`) or an object; none when absent. */
export function resolveAttributes(spec: string | Attributes | undefined): Attributes {
  if (spec === undefined) return {};
  if (typeof spec === 'string') return parseAttributes(spec);
  return { ...spec };
}
