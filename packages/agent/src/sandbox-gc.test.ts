/**
 * The sandbox GC on a temp work dir, with an injected clock and disk: the delay, live sandboxes,
 * disk pressure (oldest first, measured again after each removal), the restart scan, ended
 * executors, and symlinks that must never lead it out of the work dir.
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type DiskSpace, effectiveGcDelay, SandboxGc, type SandboxGcOptions } from './sandbox-gc.js';

const HOUR = 3600_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Makes a sandbox with a file of `bytes` bytes, its times set `ageMs` before the real clock. */
function sandbox(workDir: string, parts: string[], bytes = 10, ageMs = 0): string {
  const dir = join(workDir, 'sandboxes', ...parts);
  mkdirSync(join(dir, '.stoa'), { recursive: true });
  writeFileSync(join(dir, 'stdout'), 'x'.repeat(bytes));
  if (ageMs > 0) {
    const t = (Date.now() - ageMs) / 1000;
    for (const p of [join(dir, 'stdout'), join(dir, '.stoa'), dir]) utimesSync(p, t, t);
  }
  return dir;
}

/** A disk whose free fraction the test sets. */
function disk(free: number): { space: { free: number }; statfs: (path: string) => Promise<DiskSpace> } {
  const space = { free };
  return { space, statfs: async () => ({ bavail: Math.round(space.free * 1_000_000), blocks: 1_000_000 }) };
}

async function gcOf(options: SandboxGcOptions): Promise<SandboxGc> {
  const gc = await SandboxGc.create(options);
  cleanups.push(() => gc.stop());
  return gc;
}

describe('effectiveGcDelay', () => {
  it('scales the delay by the free space above the headroom, and is 0 at or below it', () => {
    expect(effectiveGcDelay(1000, 1, 0.1)).toBe(1000);
    expect(effectiveGcDelay(1000, 0.55, 0.1)).toBe(500);
    expect(effectiveGcDelay(1000, 0.1, 0.1)).toBe(0);
    expect(effectiveGcDelay(1000, 0.02, 0.1)).toBe(0);
    expect(effectiveGcDelay(1000, 0.5, 0)).toBe(500);
    expect(effectiveGcDelay(1000, Number.NaN, 0.1)).toBe(0);
  });
});

describe('SandboxGc', () => {
  it('removes a sandbox once the delay has passed, and counts what it freed', async () => {
    const workDir = tempDir('stoa-gc-');
    let now = 1_000_000;
    const gc = await gcOf({ workDir, delayMs: HOUR, now: () => now, statfs: disk(1).statfs });
    const dir = sandbox(workDir, ['fw-1', 'web.1', 'r1'], 1234);
    expect(gc.schedule(dir)).toBe(true);
    now += HOUR - 1;
    await gc.sweep();
    expect(existsSync(dir)).toBe(true);
    expect(gc.stats).toEqual({ scheduled: 1, removed: 0, bytesFreed: 0, failed: 0 });
    now += 1;
    await gc.sweep();
    expect(existsSync(dir)).toBe(false);
    expect(gc.stats).toEqual({ scheduled: 0, removed: 1, bytesFreed: 1234, failed: 0 });
    // Parents left empty go too; the sandboxes directory stays.
    expect(existsSync(join(workDir, 'sandboxes', 'fw-1'))).toBe(false);
    expect(existsSync(join(workDir, 'sandboxes'))).toBe(true);
  });

  it('arms its timer for the earliest due sandbox', async () => {
    const workDir = tempDir('stoa-gc-');
    const gc = await gcOf({ workDir, delayMs: 150, statfs: disk(1).statfs });
    const dir = sandbox(workDir, ['fw-1', 't', 'r1']);
    const start = Date.now();
    gc.schedule(dir, start);
    expect(existsSync(dir)).toBe(true);
    // The count is taken once the removal has finished, which is after the directory is gone.
    await waitFor(() => gc.stats.removed === 1, { what: 'the sandbox removed by its timer', timeoutMs: 5000 });
    expect(existsSync(dir)).toBe(false);
    expect(Date.now() - start).toBeGreaterThanOrEqual(140);
  });

  it('never removes a sandbox in use, nor one inside or above it', async () => {
    const workDir = tempDir('stoa-gc-');
    const live = sandbox(workDir, ['fw-1', 'live', 'r1']);
    const ended = sandbox(workDir, ['fw-1', 'ended', 'r1']);
    const gc = await gcOf({ workDir, delayMs: 0, statfs: disk(1).statfs, inUse: () => [live] });
    gc.schedule(live);
    gc.schedule(join(live, '.stoa'));
    gc.schedule(join(workDir, 'sandboxes', 'fw-1', 'live'));
    gc.schedule(ended);
    await waitFor(() => gc.stats.scheduled === 0, { what: 'the schedule emptied' });
    await gc.sweep();
    expect(existsSync(join(live, 'stdout'))).toBe(true);
    expect(existsSync(join(live, '.stoa'))).toBe(true);
    expect(existsSync(ended)).toBe(false);
    expect(gc.stats.removed).toBe(1);
  });

  it('refuses paths outside the sandboxes directory', async () => {
    const workDir = tempDir('stoa-gc-');
    const gc = await gcOf({ workDir, delayMs: 0, statfs: disk(1).statfs });
    mkdirSync(join(workDir, 'meta'));
    expect(gc.schedule(join(workDir, 'meta'))).toBe(false);
    expect(gc.schedule(join(workDir, 'sandboxes'))).toBe(false);
    expect(gc.schedule(join(workDir, 'sandboxes', '..', 'meta'))).toBe(false);
    expect(gc.stats.scheduled).toBe(0);
    expect(existsSync(join(workDir, 'meta'))).toBe(true);
  });

  it('removes at once under disk pressure, oldest first, until the disk has room again', async () => {
    const workDir = tempDir('stoa-gc-');
    const now = 100 * HOUR;
    let dirs: string[] = [];
    // Before each removal the GC measures the disk: record which sandboxes still exist then.
    const seen: string[][] = [];
    let free = 0.9;
    let freedBy: number | undefined; // the removal after which the disk has room again
    const statfs = async (): Promise<DiskSpace> => {
      const left = ['a', 'b', 'c'].filter((_, i) => existsSync(dirs[i]!));
      seen.push(left);
      const f = freedBy !== undefined && 3 - left.length >= freedBy ? 0.5 : free;
      return { bavail: f * 1_000_000, blocks: 1_000_000 };
    };
    const gc = await gcOf({ workDir, delayMs: 10 * HOUR, diskHeadroom: 0.1, now: () => now, statfs });
    dirs = ['a', 'b', 'c'].map((t) => sandbox(workDir, ['fw-1', t, 'r1']));
    // Scheduled out of order: b ended first, then c, then a.
    gc.schedule(dirs[0]!, now - 1 * HOUR);
    gc.schedule(dirs[1]!, now - 3 * HOUR);
    gc.schedule(dirs[2]!, now - 2 * HOUR);
    await gc.sweep();
    expect(gc.stats.removed).toBe(0);

    // Below the headroom, and one removal brings the disk back to half free: only the oldest goes.
    free = 0.05;
    freedBy = 1;
    await gc.sweep();
    expect(existsSync(dirs[1]!)).toBe(false);
    expect(existsSync(dirs[0]!)).toBe(true);
    expect(existsSync(dirs[2]!)).toBe(true);
    expect(gc.effectiveDelayMs).toBe(Math.floor((10 * HOUR * 0.4) / 0.9));

    // Pressure that stays: everything goes, oldest first.
    freedBy = undefined;
    seen.length = 0;
    await gc.sweep();
    expect(seen).toEqual([['a', 'c'], ['a'], []]);
    expect(gc.stats).toMatchObject({ scheduled: 0, removed: 3 });
  });

  it('measures the disk again every check interval and acts on new pressure', async () => {
    const workDir = tempDir('stoa-gc-');
    const { space, statfs } = disk(0.9);
    const gc = await gcOf({ workDir, delayMs: 10 * HOUR, diskCheckIntervalMs: 20, statfs });
    const dir = sandbox(workDir, ['fw-1', 't', 'r1']);
    gc.schedule(dir);
    await gc.sweep();
    expect(existsSync(dir)).toBe(true);
    space.free = 0.01;
    await waitFor(() => !existsSync(dir), { what: 'the sandbox removed under pressure', timeoutMs: 5000 });
    expect(gc.effectiveDelayMs).toBe(0);
  });

  it('schedules what an earlier run left at start, by its newest modification time', async () => {
    const workDir = tempDir('stoa-gc-');
    const oldTask = sandbox(workDir, ['fw-1', 'old', 'r1'], 100, 3 * HOUR);
    const youngTask = sandbox(workDir, ['fw-1', 'young', 'r1'], 100, 0);
    const liveTask = sandbox(workDir, ['fw-2', 'live', 'r1'], 100, 3 * HOUR);
    const oldExecutor = sandbox(workDir, ['fw-2', 'executors', 'ex-1', 'r9'], 50, 3 * HOUR);
    const liveExecutor = sandbox(workDir, ['fw-2', 'executors', 'ex-2', 'r8'], 50, 3 * HOUR);
    // An old run whose task wrote its exit an hour ago: it ended then, not when it started.
    const recentExit = sandbox(workDir, ['fw-1', 'late', 'r1'], 10, 3 * HOUR);
    const t = (Date.now() - HOUR) / 1000;
    utimesSync(join(recentExit, '.stoa'), t, t);
    const gc = await gcOf({ workDir, delayMs: 2 * HOUR, statfs: disk(1).statfs, inUse: () => [liveTask, liveExecutor] });
    await waitFor(() => gc.stats.removed === 2, { what: 'two old sandboxes removed' });
    expect(existsSync(oldTask)).toBe(false);
    expect(existsSync(oldExecutor)).toBe(false);
    for (const kept of [youngTask, liveTask, liveExecutor, recentExit]) expect(existsSync(kept)).toBe(true);
    expect(gc.stats.scheduled).toBe(2); // young and late wait for their time; the live ones are not scheduled
    expect(gc.stats.bytesFreed).toBe(150);
  });

  it('schedules executor sandboxes once their executor ended', async () => {
    const workDir = tempDir('stoa-gc-');
    const ex = sandbox(workDir, ['fw-1', 'executors', 'ex-1', 'r1']);
    const task = sandbox(workDir, ['fw-1', 'task', 'r1']);
    const live = new Set([ex, task]);
    let now = 10 * HOUR;
    const gc = await gcOf({ workDir, delayMs: HOUR, now: () => now, statfs: disk(1).statfs, inUse: () => live });
    expect(gc.stats.scheduled).toBe(0);
    live.delete(ex);
    live.delete(task);
    await gc.noticeEndedExecutors();
    expect(gc.stats.scheduled).toBe(1); // the executor's; task sandboxes are scheduled by their owner
    now += HOUR;
    await gc.sweep();
    expect(existsSync(ex)).toBe(false);
    expect(existsSync(task)).toBe(true);
  });

  it('never follows a symlink out of the work dir', async () => {
    const workDir = tempDir('stoa-gc-');
    const outside = tempDir('stoa-gc-outside-');
    writeFileSync(join(outside, 'precious'), 'keep me');
    // A link inside a sandbox: the link goes, its target stays.
    const withLink = sandbox(workDir, ['fw-1', 'linker', 'r1']);
    symlinkSync(outside, join(withLink, 'escape'));
    symlinkSync(join(outside, 'precious'), join(withLink, 'file-link'));
    // A sandbox that is itself a link.
    mkdirSync(join(workDir, 'sandboxes', 'fw-1', 'swapped'), { recursive: true });
    const swapped = join(workDir, 'sandboxes', 'fw-1', 'swapped', 'r1');
    symlinkSync(outside, swapped);
    // A framework directory that is a link: neither scanned nor removed through.
    mkdirSync(join(outside, 'task', 'r1'), { recursive: true });
    writeFileSync(join(outside, 'task', 'r1', 'stdout'), 'keep me too');
    symlinkSync(outside, join(workDir, 'sandboxes', 'fw-linked'));
    const old = (Date.now() - 3 * HOUR) / 1000;
    utimesSync(join(outside, 'task', 'r1'), old, old);

    let now = Date.now();
    const gc = await gcOf({ workDir, delayMs: HOUR, now: () => now, statfs: disk(1).statfs });
    expect(gc.stats.scheduled).toBe(1); // linker: the scan skips the link r1 and all under fw-linked
    gc.schedule(swapped);
    gc.schedule(join(workDir, 'sandboxes', 'fw-linked', 'task', 'r1'));
    now += 2 * HOUR;
    await gc.sweep();
    expect(existsSync(withLink)).toBe(false);
    expect(existsSync(swapped)).toBe(false); // the link, not its target
    expect(readFileSync(join(outside, 'precious'), 'utf8')).toBe('keep me');
    expect(readFileSync(join(outside, 'task', 'r1', 'stdout'), 'utf8')).toBe('keep me too');
    expect(gc.stats.failed).toBe(1); // the one under the linked framework directory
  });

  it('stops its timers, leaving scheduled sandboxes on disk', async () => {
    const workDir = tempDir('stoa-gc-');
    const gc = await SandboxGc.create({ workDir, delayMs: 50, statfs: disk(1).statfs });
    const dir = sandbox(workDir, ['fw-1', 't', 'r1']);
    gc.schedule(dir);
    await gc.stop();
    expect(gc.state).toBe('stopped');
    expect(gc.schedule(dir)).toBe(false);
    await gc.sweep();
    expect(existsSync(dir)).toBe(true);
  });

  it('refuses options out of range', async () => {
    const workDir = tempDir('stoa-gc-');
    await expect(SandboxGc.create({ workDir, diskHeadroom: 1 })).rejects.toThrow(/gcDiskHeadroom/);
    await expect(SandboxGc.create({ workDir, delayMs: -1 })).rejects.toThrow(/sandboxGcDelayMs/);
    await expect(SandboxGc.create({ workDir, diskCheckIntervalMs: 0 })).rejects.toThrow(/gcDiskCheckIntervalMs/);
  });
});
