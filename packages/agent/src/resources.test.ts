/**
 * Unit tests of resource detection and of the text and list forms of resources and attributes.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scalar, ValidationError } from '@stoa/core';
import { afterAll, describe, expect, it } from 'vitest';
import { detectResources, resolveAttributes, resolveResources } from './resources.js';

const dir = mkdtempSync(join(tmpdir(), 'stoa-res-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resources', () => {
  it('detects cpus, mem, disk and ports', async () => {
    const rs = await detectResources({ workDir: dir });
    expect(scalar(rs, 'cpus')).toBeGreaterThanOrEqual(1);
    expect(scalar(rs, 'mem')).toBeGreaterThanOrEqual(512);
    expect(scalar(rs, 'disk')).toBeGreaterThan(0);
    expect(rs.find((r) => r.name === 'ports')?.ranges).toEqual([{ begin: 31000, end: 32000 }]);
  });

  it('takes text, filling in what it does not name', async () => {
    const rs = await resolveResources('cpus:2;mem:1024', { workDir: dir });
    expect(scalar(rs, 'cpus')).toBe(2);
    expect(scalar(rs, 'mem')).toBe(1024);
    expect(rs.some((r) => r.name === 'ports')).toBe(true);
  });

  it('takes a list as it is and refuses a bad one', async () => {
    const rs = await resolveResources([{ name: 'cpus', type: 'SCALAR', scalar: 1 }]);
    expect(rs.map((r) => r.name)).toEqual(['cpus']);
    await expect(resolveResources([{ name: 'cpus', type: 'RANGES', ranges: [] }])).rejects.toSatisfy((e) => ValidationError.isInstance(e));
    await expect(resolveResources('cpus:lots')).rejects.toSatisfy((e) => ValidationError.isInstance(e));
  });

  it('parses attributes', () => {
    expect(resolveAttributes('rack:r1;zone:a')).toEqual({ rack: 'r1', zone: 'a' });
    expect(resolveAttributes({ rack: 'r2' })).toEqual({ rack: 'r2' });
    expect(resolveAttributes(undefined)).toEqual({});
  });
});
