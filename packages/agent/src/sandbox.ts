/**
 * Task sandboxes: the directory each run of a task works in
 * (`<workDir>/sandboxes/<frameworkId>/<taskId>/<runId>`, ids made safe by `fileNameOf`), and
 * reading them for READ_FILE — a listing or a slice of a file, never anything outside the sandbox
 * (`..`, absolute paths and symlinks that lead out are refused).
 *
 * @example
 * ```ts
 * const dir = await createSandbox(workDir, 'f-1', 'web.1', 'r7k2');
 * const listing = await readSandbox(dir, '');                  // { entries: [...] }
 * const slice = await readSandbox(dir, 'stdout', 0, 4096);     // { data, offset: 0, size }
 * ```
 * @module
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { NotFoundError, ValidationError } from '@stoa/core';
import { fileNameOf } from './checkpoint.js';

/** The most bytes one READ_FILE returns: well under NATS' default 1 MiB payload limit. */
export const MAX_READ_BYTES = 512 * 1024;

/** A short random id for one run of a task. */
export function newRunId(): string {
  return randomBytes(6).toString('hex');
}

/** `<workDir>/sandboxes/<frameworkId>/<taskId>`: where the runs of one task live. */
export function taskSandboxesDir(workDir: string, frameworkId: string, taskId: string): string {
  return join(workDir, 'sandboxes', fileNameOf(frameworkId), fileNameOf(taskId));
}

/** `<workDir>/sandboxes/<frameworkId>/<taskId>/<runId>`. */
export function sandboxPath(workDir: string, frameworkId: string, taskId: string, runId: string): string {
  return join(taskSandboxesDir(workDir, frameworkId, taskId), runId);
}

/** Creates the sandbox of one run and returns its path. */
export async function createSandbox(workDir: string, frameworkId: string, taskId: string, runId: string): Promise<string> {
  const dir = sandboxPath(workDir, frameworkId, taskId, runId);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** The sandbox of the latest run of a task found on disk (by modification time), if any. */
export async function latestSandbox(workDir: string, frameworkId: string, taskId: string): Promise<string | undefined> {
  const dir = taskSandboxesDir(workDir, frameworkId, taskId);
  let runs: string[];
  try {
    runs = await readdir(dir);
  } catch {
    return undefined;
  }
  let best: { path: string; mtimeMs: number } | undefined;
  for (const run of runs) {
    const path = join(dir, run);
    try {
      const s = await stat(path);
      if (s.isDirectory() && (best === undefined || s.mtimeMs > best.mtimeMs)) best = { path, mtimeMs: s.mtimeMs };
    } catch {
      // vanished meanwhile
    }
  }
  return best?.path;
}

/** Framework ids (decoded) with a sandbox directory for `taskId`, for READ_FILE without a framework id. */
export async function frameworksWithSandbox(workDir: string, taskId: string): Promise<string[]> {
  const root = join(workDir, 'sandboxes');
  let fws: string[];
  try {
    fws = await readdir(root);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const fw of fws) {
    try {
      if ((await stat(join(root, fw, fileNameOf(taskId)))).isDirectory()) out.push(decodeURIComponent(fw));
    } catch {
      // none for this framework
    }
  }
  return out;
}

/** One entry of a sandbox listing. */
export interface SandboxEntry {
  name: string;
  size: number;
  mtimeMs: number;
  dir: boolean;
}

/** What {@link readSandbox} returns: a listing, or a slice of a file with the file's size. */
export type SandboxRead = { entries: SandboxEntry[] } | { data: Uint8Array; offset: number; size: number };

/**
 * Lists a directory of the sandbox (`path` empty or naming a directory) or reads `length` bytes
 * (at most {@link MAX_READ_BYTES}) of a file from `offset`. Throws a `ValidationError` for a
 * path that leads out of the sandbox and a `NotFoundError` for one that does not exist.
 */
export async function readSandbox(sandboxDir: string, path: string, offset = 0, length = MAX_READ_BYTES): Promise<SandboxRead> {
  if (isAbsolute(path)) throw new ValidationError(`path must be relative to the sandbox: ${path}`, { details: { field: 'path' } });
  const root = await realpath(sandboxDir).catch(() => {
    throw new NotFoundError('the sandbox no longer exists', { details: { field: 'path' } });
  });
  const target = resolve(root, path);
  if (!inside(root, target)) throw new ValidationError(`path leads out of the sandbox: ${path}`, { details: { field: 'path' } });
  const real = await realpath(target).catch(() => {
    throw new NotFoundError(`no such file in the sandbox: ${path}`, { details: { field: 'path' } });
  });
  if (!inside(root, real)) throw new ValidationError(`path leads out of the sandbox: ${path}`, { details: { field: 'path' } });
  const s = await stat(real);
  if (s.isDirectory()) {
    const entries: SandboxEntry[] = [];
    for (const name of (await readdir(real)).sort()) {
      try {
        const e = await stat(join(real, name));
        entries.push({ name, size: e.isDirectory() ? 0 : e.size, mtimeMs: Math.floor(e.mtimeMs), dir: e.isDirectory() });
      } catch {
        // a dangling link or a file removed meanwhile
      }
    }
    return { entries };
  }
  const want = Math.min(length, MAX_READ_BYTES, Math.max(0, s.size - offset));
  const data = Buffer.alloc(want);
  let got = 0;
  if (want > 0) {
    const fh = await open(real, 'r');
    try {
      while (got < want) {
        const { bytesRead } = await fh.read(data, got, want - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, got), offset, size: s.size };
}

function inside(root: string, path: string): boolean {
  if (path === root) return true;
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}
