/**
 * Unit tests of sandboxes: safe paths, listings, slices, and refusing paths that lead out.
 */

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError, ValidationError } from '@stoa/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, latestSandbox, readSandbox, sandboxPath } from './sandbox.js';

const root = mkdtempSync(join(tmpdir(), 'stoa-sandbox-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('sandbox', () => {
  it('keeps odd task ids inside the sandboxes directory', () => {
    expect(sandboxPath(root, 'f', '..', 'r')).toBe(join(root, 'sandboxes', 'f', '%2E.', 'r'));
    expect(sandboxPath(root, 'f', 'a/b', 'r')).toBe(join(root, 'sandboxes', 'f', 'a%2Fb', 'r'));
    expect(sandboxPath(root, 'f', 'web.1', 'r')).toBe(join(root, 'sandboxes', 'f', 'web.1', 'r'));
  });

  it('lists and reads slices of files', async () => {
    const dir = await createSandbox(root, 'f', 't1', 'r1');
    writeFileSync(join(dir, 'stdout'), 'hello world');
    mkdirSync(join(dir, 'sub'));
    const listing = await readSandbox(dir, '');
    expect('entries' in listing && listing.entries.map((e) => [e.name, e.dir])).toEqual([
      ['stdout', false],
      ['sub', true],
    ]);
    const slice = await readSandbox(dir, 'stdout', 6, 5);
    expect('data' in slice && Buffer.from(slice.data).toString()).toBe('world');
    expect('size' in slice && slice.size).toBe(11);
    const past = await readSandbox(dir, 'stdout', 100, 5);
    expect('data' in past && past.data.length).toBe(0);
  });

  it('refuses paths that leave the sandbox, by .. or by symlink', async () => {
    const dir = await createSandbox(root, 'f', 't2', 'r1');
    writeFileSync(join(root, 'secret'), 'x');
    symlinkSync(join(root, 'secret'), join(dir, 'link'));
    await expect(readSandbox(dir, '../../../../secret')).rejects.toSatisfy((e) => ValidationError.isInstance(e));
    await expect(readSandbox(dir, '/etc/passwd')).rejects.toSatisfy((e) => ValidationError.isInstance(e));
    await expect(readSandbox(dir, 'link')).rejects.toSatisfy((e) => ValidationError.isInstance(e));
    await expect(readSandbox(dir, 'missing')).rejects.toSatisfy((e) => NotFoundError.isInstance(e));
  });

  it('finds the latest run of a task', async () => {
    await createSandbox(root, 'f', 't3', 'old');
    const newer = await createSandbox(root, 'f', 't3', 'new');
    const later = new Date(Date.now() + 10_000);
    utimesSync(newer, later, later);
    expect(await latestSandbox(root, 'f', 't3')).toBe(newer);
    expect(await latestSandbox(root, 'f', 'none')).toBeUndefined();
  });
});
