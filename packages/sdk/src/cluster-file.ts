/**
 * `<data>/cluster.json`: where `stoa dev` writes its NATS URL and HTTP endpoints, and how clients
 * find a cluster — from `--nats`, then `STOA_NATS_URL`, then that file.
 *
 * @module
 */

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ValidationError } from '@stoa/core';
import { z } from 'zod';

/** The default data dir of `stoa dev`, relative to the working directory. */
export const DEFAULT_DATA_DIR = '.stoa';

/** What `stoa dev` writes. */
export const ClusterFileSchema = z.object({
  v: z.literal(1),
  /** `nats` when other processes can join over NATS; `memory` when only HTTP reaches the cluster. */
  transport: z.enum(['nats', 'memory']),
  natsUrl: z.string().optional(),
  subjectPrefix: z.string(),
  /** HTTP endpoints by component: master, marathon, chronos, batch. */
  http: z.record(z.string(), z.string()),
  pid: z.number().int(),
  startedMs: z.number(),
});

/** The contents of `cluster.json`. */
export type ClusterFile = z.infer<typeof ClusterFileSchema>;

/** The path of the cluster file in a data dir. */
export function clusterFilePath(dataDir: string): string {
  return join(resolve(dataDir), 'cluster.json');
}

/** Writes the cluster file atomically. */
export function writeClusterFile(dataDir: string, file: ClusterFile): string {
  const path = clusterFilePath(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}

/** Reads the cluster file, or undefined when there is none. */
export function readClusterFile(dataDir: string): ClusterFile | undefined {
  const path = clusterFilePath(dataDir);
  if (!existsSync(path)) return undefined;
  const parsed = ClusterFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new ValidationError(`${path} is not a cluster file: ${parsed.error.issues[0]?.message}`, { details: { field: 'cluster.json' } });
  return parsed.data;
}

/** How a client reaches a cluster. */
export interface ClusterAddress {
  /** NATS, when the cluster has it. */
  natsUrl?: string;
  /** The master's HTTP API, when known. */
  masterHttp?: string;
  subjectPrefix: string;
  /** Where the address came from. */
  source: 'flag' | 'env' | 'file';
}

/** Options that say where a cluster is. */
export interface DiscoverOptions {
  nats?: string;
  http?: string;
  data?: string;
  prefix?: string;
}

/** The error when no cluster can be found; its message says what to do. */
export class NoClusterError extends Error {
  constructor(dataDir: string) {
    super(
      `no cluster found: no --nats flag, no STOA_NATS_URL, and no ${clusterFilePath(dataDir)}.\n` +
        'Start one with `npm run dev` (stoa dev) in this directory, or pass --nats nats://host:4222 (or set STOA_NATS_URL).',
    );
    this.name = 'NoClusterError';
  }
}

/** Finds the cluster: `--nats`/`--http`, then `STOA_NATS_URL`, then `<data>/cluster.json`. */
export function discoverCluster(options: DiscoverOptions = {}): ClusterAddress {
  const prefix = options.prefix ?? 'stoa';
  if (options.nats || options.http) {
    return { ...(options.nats ? { natsUrl: options.nats } : {}), ...(options.http ? { masterHttp: options.http } : {}), subjectPrefix: prefix, source: 'flag' };
  }
  const env = process.env.STOA_NATS_URL;
  if (env) return { natsUrl: env, subjectPrefix: prefix, source: 'env' };
  const dataDir = options.data ?? process.env.STOA_DATA ?? DEFAULT_DATA_DIR;
  const file = readClusterFile(dataDir);
  if (!file) throw new NoClusterError(dataDir);
  const address: ClusterAddress = { subjectPrefix: file.subjectPrefix, source: 'file' };
  if (file.natsUrl) address.natsUrl = file.natsUrl;
  if (file.http.master) address.masterHttp = file.http.master;
  return address;
}
