/**
 * The wrapper's pure parts: task argv, exit status decoding, and the sandbox records.
 *
 * @module
 */

import { describe, expect, it } from 'vitest';
import { decodeExitStatus, parseExitRecord, parsePidRecord, signalName, taskArgv } from './wrapper.js';

describe('taskArgv', () => {
  const tools = { bash: '/bin/bash', setpriv: '/usr/bin/setpriv' };

  it('runs a shell command with sh -c, shell being the default', () => {
    expect(taskArgv({ value: 'echo hi' }, tools)).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(taskArgv({ value: 'echo hi', shell: true, arguments: ['ignored'] }, tools)).toEqual(['/bin/sh', '-c', 'echo hi']);
  });

  it('runs the argv form with arguments[0] as the program name', () => {
    expect(taskArgv({ shell: false, value: '/bin/ls' }, tools)).toEqual(['/bin/ls']);
    expect(taskArgv({ shell: false, value: '/bin/ls', arguments: ['/bin/ls', '-l'] }, tools)).toEqual(['/bin/ls', '-l']);
    expect(taskArgv({ shell: false, value: '/bin/ls', arguments: ['ls', '-l'] }, tools)).toEqual(['/bin/bash', '-c', 'exec -a "$0" "$@"', 'ls', '/bin/ls', '-l']);
    expect(taskArgv({ shell: false, value: '/bin/ls', arguments: ['ls', '-l'] }, {})).toEqual(['/bin/ls', '-l']);
  });

  it('switches users with setpriv, and needs a value', () => {
    expect(taskArgv({ value: 'id' }, tools, { name: 'nobody', uid: 65534, gid: 65534 })).toEqual([
      '/usr/bin/setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--init-groups',
      '--',
      '/bin/sh',
      '-c',
      'id',
    ]);
    expect(() => taskArgv({ value: 'id' }, {}, { name: 'nobody', uid: 65534, gid: 65534 })).toThrow(/setpriv/);
    expect(() => taskArgv({}, tools)).toThrow(/no value/);
    expect(() => taskArgv({ value: '' }, tools)).toThrow(/no value/);
  });
});

describe('exit records', () => {
  it('decodes shell statuses into codes and signals', () => {
    expect(decodeExitStatus(0)).toMatchObject({ exitCode: 0 });
    expect(decodeExitStatus(3)).toMatchObject({ exitCode: 3 });
    expect(decodeExitStatus(128)).toMatchObject({ exitCode: 128 });
    expect(decodeExitStatus(137)).toMatchObject({ signal: 'SIGKILL' });
    expect(decodeExitStatus(143)).toMatchObject({ signal: 'SIGTERM' });
    expect(decodeExitStatus(143).exitCode).toBeUndefined();
    expect(decodeExitStatus(250)).toMatchObject({ exitCode: 250 });
    expect(signalName(15)).toBe('SIGTERM');
  });

  it('accepts only complete exit records', () => {
    expect(parseExitRecord('7\n')).toMatchObject({ exitCode: 7 });
    expect(parseExitRecord('7')).toBeUndefined();
    expect(parseExitRecord('')).toBeUndefined();
    expect(parseExitRecord('x\n')).toBeUndefined();
    expect(parseExitRecord('300\n')).toBeUndefined();
  });

  it('accepts only valid pid records', () => {
    expect(parsePidRecord('{"pid":12,"startTime":34}\n')).toEqual({ pid: 12, startTime: 34 });
    expect(parsePidRecord('{"pid":12}')).toBeUndefined();
    expect(parsePidRecord('{"pid":')).toBeUndefined();
  });
});
