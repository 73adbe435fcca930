/**
 * Sandbox garbage collection, as Mesos' `gc_delay` and `gc_disk_headroom`: the sandbox of a task
 * whose end was acknowledged (or of an executor that ended) is removed `delayMs` after that end,
 * sooner when the work dir's filesystem runs short of space.
 *
 * - **Delay under disk pressure.** With `free` the fraction of the filesystem still available
 *   (`bavail / blocks` of `statfs`), the delay in force is
 *   `delayMs × clamp((free − headroom) / (1 − headroom), 0, 1)`: the whole delay on an empty disk,
 *   shrinking linearly, and nothing at or below the headroom, where every ended sandbox is due.
 *   Sandboxes go oldest end first, and the disk is measured again after each one, so a sweep under
 *   pressure stops once enough space is back.
 * - **One timer**, armed for the earliest due sandbox, plus a disk check every
 *   `diskCheckIntervalMs` (only while something is scheduled) that re-arms it.
 * - **Never a live sandbox.** Right before removing a sandbox the collector asks `inUse()` for the
 *   sandboxes the agent still uses; one that is, contains one or lies inside one is dropped from
 *   the schedule (its owner schedules it again when done with it).
 * - **Restarts.** `create()` scans `<workDir>/sandboxes` for task runs
 *   (`<frameworkId>/<taskId>/<runId>`) and executor runs (`<frameworkId>/executors/<executorId>/<runId>`)
 *   not in use, and schedules them as ended at their newest modification time (the run
 *   directory's or a direct entry's: the wrapper writes `.stoa/exit` when the task ends).
 * - **Inside the work dir only.** Symlinks are never followed: the scan skips them, a sandbox that
 *   is itself a symlink loses only the link, a sandbox whose parent resolves outside the sandboxes
 *   directory is left alone, and `rm` removes links inside a sandbox, not their targets.
 *
 * @example
 * ```ts
 * const gc = await SandboxGc.create({ workDir, delayMs: 7 * 24 * 3600_000, inUse: () => liveSandboxes() });
 * gc.schedule(sandboxDir);        // the task's end was acknowledged
 * gc.stats;                       // { scheduled, removed, bytesFreed, failed }
 * await gc.stop();
 * ```
 * @module
 */

import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath, rm, rmdir, statfs as fsStatfs } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ValidationError } from '@stoa/core';
import { type Logger, pino } from 'pino';

/** One week, Mesos' default `gc_delay`. */
export const DEFAULT_SANDBOX_GC_DELAY_MS = 7 * 24 * 3600 * 1000;
/** Mesos' default `gc_disk_headroom`. */
export const DEFAULT_GC_DISK_HEADROOM = 0.1;
/** How often the disk is measured while sandboxes are scheduled, as Mesos' `disk_watch_interval`. */
export const DEFAULT_GC_DISK_CHECK_INTERVAL_MS = 60_000;

/** The longest a Node timer can wait (longer ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the collector needs of `statfs`: available and total blocks. */
export interface DiskSpace {
  /** Blocks available to an unprivileged user. */
  bavail: number;
  /** Total blocks. */
  blocks: number;
}

/** Options of {@link SandboxGc.create}. */
export interface SandboxGcOptions {
  /** The agent's work dir; sandboxes live under `<workDir>/sandboxes`. Required. */
  workDir: string;
  /** How long after its end a sandbox is removed when the disk has room. @default one week */
  delayMs?: number;
  /** The fraction of the disk to keep free: at or below it sandboxes go at once. In [0, 1). @default 0.1 */
  diskHeadroom?: number;
  /** How often the disk is measured while sandboxes are scheduled. @default 60000 */
  diskCheckIntervalMs?: number;
  /** The sandbox directories in use now (live tasks, running executors). @default none */
  inUse?: () => Iterable<string>;
  /** Measures the filesystem of a path. @default `fs.promises.statfs` */
  statfs?: (path: string) => Promise<DiskSpace>;
  /** The clock (ms since the epoch) end times and due times are read on. @default Date.now */
  now?: () => number;
  /** A pino logger. @default silent */
  logger?: Logger;
}

/** Counts of a {@link SandboxGc}. */
export interface SandboxGcStats {
  /** Sandboxes waiting for their time. */
  scheduled: number;
  /** Sandboxes removed. */
  removed: number;
  /** Bytes of the files in the sandboxes removed (apparent sizes; symlinks count as themselves). */
  bytesFreed: number;
  /** Removals that failed (the sandbox is dropped from the schedule, and found again by the next restart's scan). */
  failed: number;
}

/**
 * The delay in force when `freeFraction` of the disk is available: `delayMs` scaled by how far
 * the free space is above the headroom, relative to an empty disk; 0 at or below the headroom.
 */
export function effectiveGcDelay(delayMs: number, freeFraction: number, headroom: number): number {
  if (!(freeFraction > headroom)) return 0;
  const scale = Math.min(1, (freeFraction - headroom) / (1 - headroom));
  return Math.floor(delayMs * scale);
}

/** Removes ended sandboxes after a delay, sooner under disk pressure. See the module comment. */
export class SandboxGc implements AsyncDisposable {
  /** `running` until `stop()`. */
  state: 'running' | 'stopped' = 'running';

  private readonly root: string;
  private readonly delayMs: number;
  private readonly headroom: number;
  private readonly diskCheckIntervalMs: number;
  private readonly inUse: () => Iterable<string>;
  private readonly statfs: (path: string) => Promise<DiskSpace>;
  private readonly now: () => number;
  private readonly log: Logger;
  /** Sandbox path → when it ended. */
  private readonly due = new Map<string, number>();
  /** A lower bound of the earliest end time scheduled (exact after a sweep). */
  private earliest = Number.POSITIVE_INFINITY;
  /** The delay in force, from the latest disk measurement. */
  private currentDelayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private diskTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  private scanning: Promise<void> | undefined;
  private readonly counts = { removed: 0, bytesFreed: 0, failed: 0 };

  private constructor(options: SandboxGcOptions) {
    if (options.workDir === undefined || options.workDir === '') {
      throw new ValidationError('the sandbox GC needs a workDir', { details: { field: 'workDir' } });
    }
    this.delayMs = options.delayMs ?? DEFAULT_SANDBOX_GC_DELAY_MS;
    this.headroom = options.diskHeadroom ?? DEFAULT_GC_DISK_HEADROOM;
    this.diskCheckIntervalMs = options.diskCheckIntervalMs ?? DEFAULT_GC_DISK_CHECK_INTERVAL_MS;
    if (!(this.delayMs >= 0)) throw new ValidationError('sandboxGcDelayMs must be 0 or more', { details: { field: 'sandboxGcDelayMs' } });
    if (!(this.headroom >= 0 && this.headroom < 1)) throw new ValidationError('gcDiskHeadroom must be in [0, 1)', { details: { field: 'gcDiskHeadroom' } });
    if (!(this.diskCheckIntervalMs > 0)) {
      throw new ValidationError('gcDiskCheckIntervalMs must be more than 0', { details: { field: 'gcDiskCheckIntervalMs' } });
    }
    this.root = join(resolve(options.workDir), 'sandboxes');
    this.inUse = options.inUse ?? (() => []);
    this.statfs = options.statfs ?? ((path) => fsStatfs(path));
    this.now = options.now ?? Date.now;
    this.log = options.logger ?? pino({ level: 'silent' });
    this.currentDelayMs = this.delayMs;
  }

  /**
   * Makes a collector: measures the disk, schedules the ended sandboxes an earlier run left (see
   * the module comment), and arms its timer. Sandboxes already due go at once, in the background.
   */
  static async create(options: SandboxGcOptions): Promise<SandboxGc> {
    const gc = new SandboxGc(options);
    await gc.measure();
    await gc.scan('mtime');
    gc.arm();
    return gc;
  }

  /** Counts, for metrics. */
  get stats(): SandboxGcStats {
    return { scheduled: this.due.size, ...this.counts };
  }

  /** The delay in force after the latest disk measurement. */
  get effectiveDelayMs(): number {
    return this.currentDelayMs;
  }

  /**
   * Schedules a sandbox that ended at `endedAtMs` (default now); one already scheduled keeps the
   * later end. Returns false (and schedules nothing) for a path outside `<workDir>/sandboxes`.
   */
  schedule(sandboxDir: string, endedAtMs: number = this.now()): boolean {
    if (this.state === 'stopped') return false;
    const path = resolve(sandboxDir);
    if (!isStrictlyInside(this.root, path)) {
      this.log.warn({ sandboxDir }, 'not scheduling a path outside the sandboxes directory');
      return false;
    }
    const before = this.due.get(path);
    this.due.set(path, before === undefined ? endedAtMs : Math.max(before, endedAtMs));
    if (endedAtMs < this.earliest) this.earliest = endedAtMs;
    this.arm();
    return true;
  }

  /**
   * Schedules, as ended now, every executor sandboxes not in use and not yet scheduled: called
   * when an executor ended (the agent does not learn which sandbox it left).
   */
  noticeEndedExecutors(): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    const run = (this.scanning ?? Promise.resolve())
      .then(() => this.scan('executors-now'))
      .catch((error: unknown) => this.log.warn({ err: error }, 'cannot scan executor sandboxes'));
    this.scanning = run;
    void run.finally(() => {
      if (this.scanning === run) this.scanning = undefined;
    });
    return run;
  }

  /** Removes what is due now (and re-arms). Resolves when that sweep is over. */
  sweep(): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    if (this.sweeping !== undefined) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    this.clearTimer();
    this.sweeping = this.runSweeps().finally(() => {
      this.sweeping = undefined;
      this.arm();
    });
    return this.sweeping;
  }

  /** Stops the timers; resolves once a sweep or scan under way has finished. Scheduled sandboxes stay on disk. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    this.clearTimer();
    if (this.diskTimer !== undefined) clearInterval(this.diskTimer);
    this.diskTimer = undefined;
    await Promise.allSettled([this.sweeping, this.scanning]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  // ---------------------------------------------------------------------------------------------

  /** Arms the one timer for the earliest due sandbox, and the disk check while anything is scheduled. */
  private arm(): void {
    if (this.state === 'stopped' || this.sweeping !== undefined) return;
    this.clearTimer();
    if (this.due.size === 0) {
      if (this.diskTimer !== undefined) clearInterval(this.diskTimer);
      this.diskTimer = undefined;
      return;
    }
    if (this.diskTimer === undefined) {
      this.diskTimer = setInterval(() => void this.checkDisk(), this.diskCheckIntervalMs);
      this.diskTimer.unref();
    }
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, this.earliest + this.currentDelayMs - this.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sweep();
    }, wait);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async checkDisk(): Promise<void> {
    if (this.state === 'stopped' || this.sweeping !== undefined) return;
    const before = this.currentDelayMs;
    await this.measure();
    if (this.currentDelayMs !== before) this.arm();
  }

  /** Measures the disk and sets the delay in force. A failed measurement counts as no pressure. */
  private async measure(): Promise<void> {
    let free = 1;
    try {
      const space = await this.statfs(this.root).catch(() => this.statfs(dirname(this.root)));
      if (space.blocks > 0) free = space.bavail / space.blocks;
    } catch (error) {
      this.log.warn({ err: error }, 'cannot measure the work dir filesystem; assuming it has room');
    }
    const delay = effectiveGcDelay(this.delayMs, free, this.headroom);
    if (delay !== this.currentDelayMs) {
      const fields = { freeFraction: Number(free.toFixed(4)), headroom: this.headroom, delayMs: delay };
      if (delay === 0 && this.delayMs > 0) this.log.warn(fields, 'free disk at or below the headroom: ended sandboxes are removed at once');
      else this.log.debug(fields, 'sandbox GC delay changed with the free disk space');
    }
    this.currentDelayMs = delay;
  }

  private async runSweeps(): Promise<void> {
    do {
      this.sweepAgain = false;
      await this.sweepOnce();
    } while (this.sweepAgain && this.state === 'running');
  }

  /** Removes due sandboxes oldest first, measuring the disk again after each removal. */
  private async sweepOnce(): Promise<void> {
    await this.measure();
    const order = [...this.due].sort((a, b) => a[1] - b[1]);
    for (const [path, endedAt] of order) {
      if (this.state === 'stopped') return;
      if (this.due.get(path) !== endedAt) continue; // rescheduled meanwhile: the next sweep sees it
      if (endedAt + this.currentDelayMs > this.now()) break;
      this.due.delete(path);
      if (usedBy(path, this.inUse())) {
        this.log.debug({ sandboxDir: path }, 'sandbox in use again: not removed');
        continue;
      }
      await this.remove(path);
      await this.measure();
    }
    let earliest = Number.POSITIVE_INFINITY;
    for (const endedAt of this.due.values()) if (endedAt < earliest) earliest = endedAt;
    this.earliest = earliest;
  }

  /** Removes one sandbox without following a symlink anywhere, then its parents left empty. */
  private async remove(path: string): Promise<void> {
    try {
      const realRoot = await realpath(this.root);
      const realParent = await realpath(dirname(path));
      if (!isStrictlyInside(realRoot, realParent) && realParent !== realRoot) {
        this.log.warn({ sandboxDir: path, resolvesTo: realParent }, 'sandbox parent leads out of the sandboxes directory: left alone');
        this.counts.failed++;
        return;
      }
      const bytes = await sizeOf(path);
      await rm(path, { recursive: true, force: true });
      this.counts.removed++;
      this.counts.bytesFreed += bytes;
      this.log.info({ sandboxDir: path, bytes }, 'sandbox removed');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // gone already
      this.counts.failed++;
      this.log.warn({ err: error, sandboxDir: path }, 'cannot remove a sandbox');
      return;
    }
    // `<taskId>` (or `executors/<executorId>`, `executors`) and `<frameworkId>` when left empty.
    for (let dir = dirname(path); isStrictlyInside(this.root, dir); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break; // not empty (or not a directory): everything above holds something too
      }
    }
  }

  /**
   * Finds sandboxes not in use and schedules them: `mtime` (at start) every run under the
   * sandboxes directory, as ended at its newest modification time; `executors-now` only executor
   * runs not yet scheduled, as ended now.
   */
  private async scan(mode: 'mtime' | 'executors-now'): Promise<void> {
    const live = liveIndex(this.inUse());
    const found: string[] = [];
    for (const fw of await subdirs(this.root)) {
      const fwDir = join(this.root, fw);
      for (const name of await subdirs(fwDir)) {
        const dir = join(fwDir, name);
        if (name === 'executors') {
          for (const executor of await subdirs(dir)) {
            for (const run of await subdirs(join(dir, executor))) found.push(join(dir, executor, run));
          }
        } else if (mode === 'mtime') {
          for (const run of await subdirs(dir)) found.push(join(dir, run));
        }
      }
    }
    const now = this.now();
    for (const path of found) {
      if (this.state === 'stopped') return;
      if (isLive(path, live) || (mode === 'executors-now' && this.due.has(path))) continue;
      const endedAt = mode === 'mtime' ? ((await newestMtime(path)) ?? now) : now;
      this.schedule(path, Math.min(endedAt, now));
    }
    if (found.length > 0) this.log.debug({ mode, found: found.length, scheduled: this.due.size }, 'sandboxes scanned');
  }
}

/** Names of the real directories (not symlinks) in `dir`; none when it cannot be read. */
async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** The newest mtime of a directory and its direct entries (not following links). */
async function newestMtime(dir: string): Promise<number | undefined> {
  let newest: number | undefined;
  try {
    newest = (await lstat(dir)).mtimeMs;
    for (const name of await readdir(dir)) {
      try {
        const m = (await lstat(join(dir, name))).mtimeMs;
        if (m > newest) newest = m;
      } catch {
        // removed meanwhile
      }
    }
  } catch {
    // vanished or unreadable: its end is unknown
  }
  return newest === undefined ? undefined : Math.floor(newest);
}

/** The apparent size of what is under `path`, never following a symlink. */
async function sizeOf(path: string): Promise<number> {
  const top = await lstat(path);
  if (!top.isDirectory()) return top.size;
  let total = 0;
  const stack = [path];
  for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else {
        try {
          total += (await lstat(p)).size;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return total;
}

/** Live sandboxes, and every directory above one (which holds a live one). */
interface LiveIndex {
  exact: Set<string>;
  above: Set<string>;
}

function liveIndex(dirs: Iterable<string>): LiveIndex {
  const exact = new Set<string>();
  const above = new Set<string>();
  for (const d of dirs) {
    if (d === '') continue;
    const path = resolve(d);
    exact.add(path);
    for (let up = dirname(path); up !== dirname(up) && !above.has(up); up = dirname(up)) above.add(up);
  }
  return { exact, above };
}

/** Whether `path` is a live sandbox, holds one, or lies inside one. */
function isLive(path: string, live: LiveIndex): boolean {
  if (live.exact.has(path) || live.above.has(path)) return true;
  for (let up = dirname(path); up !== dirname(up); up = dirname(up)) if (live.exact.has(up)) return true;
  return false;
}

function usedBy(path: string, dirs: Iterable<string>): boolean {
  return isLive(path, liveIndex(dirs));
}

function isStrictlyInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
