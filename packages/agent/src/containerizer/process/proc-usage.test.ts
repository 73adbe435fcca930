/**
 * Reading /proc: stat parsing (names with spaces and parentheses), liveness against pid reuse,
 * process groups, and usage sums — on this very process.
 *
 * @module
 */

import { describe, expect, it } from 'vitest';
import { isProcessAlive, parseProcStat, processGroupMembers, readProcStat, usageOf } from './proc-usage.js';

describe('/proc readers', () => {
  it('parses a stat line whose command name holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S';
    const stat = parseProcStat(`4242 (we (ird) name) ${fields.join(' ')}\n`);
    expect(stat).toEqual({ pid: 4242, state: 'S', pgrp: 5, utime: 14, stime: 15, startTime: 22 });
    expect(parseProcStat('garbage')).toBeUndefined();
  });

  it('tells a live process from a gone one and from a reused pid', async () => {
    const self = await readProcStat(process.pid);
    expect(self?.pid).toBe(process.pid);
    expect(await isProcessAlive(process.pid)).toBe(true);
    expect(await isProcessAlive(process.pid, self!.startTime)).toBe(true);
    expect(await isProcessAlive(process.pid, self!.startTime + 1)).toBe(false);
    expect(await isProcessAlive(2 ** 22 + 17)).toBe(false);
  });

  it('lists a process group and sums the usage of processes', async () => {
    const self = await readProcStat(process.pid);
    expect(await processGroupMembers(self!.pgrp)).toContain(process.pid);
    const usage = await usageOf([process.pid, 2 ** 22 + 17]);
    expect(usage.processes).toBe(1);
    expect(usage.rssBytes).toBeGreaterThan(1 << 20);
    expect(usage.cpuUserSeconds).toBeGreaterThan(0);
  });
});
