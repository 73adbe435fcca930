import { describe, expect, it } from 'vitest';
import { CHRONOS_OPTIONS, runChronosCli, runJobsCli } from './cli.js';

describe('stoa chronos', () => {
  it('documents every option in --help', async () => {
    let text = '';
    await runChronosCli(['--help'], (t) => (text += t));
    for (const flag of Object.keys(CHRONOS_OPTIONS)) expect(text).toContain(`--${flag}`);
    expect(text).toContain('STOA_NATS_URL');
  });
});

describe('stoa jobs', () => {
  const io = () => {
    const s = { out: '', err: '' };
    return { s, io: { out: (t: string) => (s.out += t), err: (t: string) => (s.err += t), env: {} } };
  };

  it('exits 2 on bad usage, before calling anything', async () => {
    const a = io();
    expect(await runJobsCli([], a.io)).toBe(2);
    expect(a.s.err).toContain('usage: stoa jobs');
    expect(await runJobsCli(['add'], a.io)).toBe(2);
    expect(await runJobsCli(['list', '--bogus'], a.io)).toBe(2);
    expect(await runJobsCli(['graph', '--format', 'png'], a.io)).toBe(2);
  });

  it('exits 1 when Chronos cannot be reached', async () => {
    const a = io();
    expect(await runJobsCli(['list', '--chronos', 'http://127.0.0.1:1'], a.io)).toBe(1);
    expect(a.s.err).toContain('cannot reach Chronos');
  });
});
