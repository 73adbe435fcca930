import { describe, expect, it } from 'vitest';
import { componentUsage, envName, resolveComponentOptions } from './component-options.js';
import { ValidationError } from './errors.js';

const spec = {
  nats: { type: 'string', description: 'NATS URL', default: 'nats://127.0.0.1:4222', env: 'STOA_NATS_URL' },
  'work-dir': { type: 'string', description: 'work dir' },
  'http-port': { type: 'number', description: 'port', default: 5050 },
  verbose: { type: 'boolean', description: 'more' },
  mode: { type: 'string', description: 'mode', choices: ['a', 'b'] },
} as const;

const noConfig = () => {
  throw new Error('no config expected');
};

describe('component options', () => {
  it('takes the command line first, then the environment, then the config file, then the default', () => {
    const config = { 'work-dir': '/from/config', 'http-port': 7000, mode: 'a' };
    const r = resolveComponentOptions(spec, ['--config', 'c.json', '--http-port', '6000'], { STOA_WORK_DIR: '/from/env', STOA_NATS_URL: 'nats://n:1' }, () => config);
    expect(r.values).toEqual({ nats: 'nats://n:1', 'work-dir': '/from/env', 'http-port': 6000, mode: 'a' });
    expect(envName('http-port')).toBe('STOA_HTTP_PORT');
  });

  it('names the flag in every error', () => {
    const fail = (argv: string[], env: Record<string, string> = {}, config: unknown = undefined) => {
      try {
        resolveComponentOptions(spec, argv, env, () => config);
      } catch (e) {
        expect(ValidationError.isInstance(e)).toBe(true);
        return (e as ValidationError).field;
      }
      throw new Error('expected an error');
    };
    expect(fail(['--http-port', 'x'])).toBe('http-port');
    expect(fail([], { STOA_HTTP_PORT: 'many' })).toBe('http-port');
    expect(fail(['--mode', 'c'])).toBe('mode');
    expect(fail(['--bogus'])).toBe('bogus');
    expect(fail(['--config', 'c.json'], {}, { unknown: 1 })).toBe('unknown');
    expect(fail(['--config', 'c.json'], {}, [1])).toBe('config');
  });

  it('answers --help without resolving, and documents every option', () => {
    expect(resolveComponentOptions(spec, ['--help'], {}, noConfig).help).toBe(true);
    const usage = componentUsage('stoa x', 'Does x.', spec);
    for (const flag of Object.keys(spec)) expect(usage).toContain(`--${flag}`);
    expect(usage).toContain('STOA_HTTP_PORT');
    expect(usage).toContain('default 5050');
  });
});
