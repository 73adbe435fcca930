/**
 * Reading `/proc`: a process's start time (to tell a live wrapper from a reused pid), whether it
 * still runs, the members of a process group, and the CPU time and RSS of a set of processes.
 * Linux only; every reader answers `undefined` (or skips the process) when a process vanished
 * between listing and reading, which is normal.
 *
 * @module
 */

import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of `utime`/`stime` in `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;
/** Bytes per page of `/proc/<pid>/statm` (`getconf PAGESIZE`, 4096 on x86-64 and most arm64 kernels). */
export const PAGE_SIZE_BYTES = 4096;

/** The fields of `/proc/<pid>/stat` that the containerizer uses. */
export interface ProcStat {
  pid: number;
  /** One letter: `R`, `S`, `D`, `Z` (zombie), `X` (dead)… */
  state: string;
  /** The process group. */
  pgrp: number;
  /** User CPU time in clock ticks. */
  utime: number;
  /** System CPU time in clock ticks. */
  stime: number;
  /** Start time in clock ticks since boot: with the pid, it names one process for good. */
  startTime: number;
}

/**
 * Parses the text of `/proc/<pid>/stat`. The command name (field 2) may hold spaces and
 * parentheses, so the fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number.parseInt(text, 10);
  // After ") ": field 3 (state) is index 0, so field n is index n - 3.
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const field = (n: number): number => Number(rest[n - 3]);
  const state = rest[0];
  if (!Number.isInteger(pid) || state === undefined || rest.length < 20) return undefined;
  return { pid, state, pgrp: field(5), utime: field(14), stime: field(15), startTime: field(22) };
}

/** Reads `/proc/<pid>/stat`, or `undefined` when the process is gone. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Whether the process `pid` that started at `startTime` still runs: it exists, is not a zombie
 * (an exited wrapper whose parent has not reaped it yet), and its start time matches, so a reused
 * pid is not mistaken for it. `startTime` undefined skips that check.
 */
export async function isProcessAlive(pid: number, startTime?: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM means it exists but belongs to someone else: still alive.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = await readProcStat(pid);
  if (stat === undefined) return false;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

/** The pids of every process whose process group is `pgid` (a scan of `/proc`). */
export async function processGroupMembers(pgid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  await Promise.all(
    entries.map(async (name) => {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) return;
      const stat = await readProcStat(Number(name));
      if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z') members.push(stat.pid);
    }),
  );
  return members;
}

/** Summed usage of a set of processes. */
export interface ProcessesUsage {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  rssBytes: number;
  /** How many of the pids were still there to read. */
  processes: number;
}

/** Sums CPU time (`/proc/<pid>/stat`) and resident memory (`/proc/<pid>/statm`) over `pids`. */
export async function usageOf(pids: readonly number[]): Promise<ProcessesUsage> {
  const total: ProcessesUsage = { cpuUserSeconds: 0, cpuSystemSeconds: 0, rssBytes: 0, processes: 0 };
  await Promise.all(
    pids.map(async (pid) => {
      const stat = await readProcStat(pid);
      if (stat === undefined) return;
      let residentPages = 0;
      try {
        residentPages = Number((await readFile(`/proc/${pid}/statm`, 'utf8')).split(' ')[1] ?? 0) || 0;
      } catch {
        // Gone between the two reads: count its CPU time, not its memory.
      }
      total.cpuUserSeconds += stat.utime / CLOCK_TICKS_PER_SECOND;
      total.cpuSystemSeconds += stat.stime / CLOCK_TICKS_PER_SECOND;
      total.rssBytes += residentPages * PAGE_SIZE_BYTES;
      total.processes += 1;
    }),
  );
  return total;
}
