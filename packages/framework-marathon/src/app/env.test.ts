import { ValidationError } from '@stoa/sdk';
import { describe, expect, it } from 'vitest';
import { formatDouble, labelEnvironment, labelEnvName, portEnvironment, taskEnvironment } from './env.js';
import { parseApp } from './validate.js';

describe('formatDouble', () => {
  it("writes numbers as Scala's Double.toString does", () => {
    expect(formatDouble(1)).toBe('1.0');
    expect(formatDouble(0)).toBe('0.0');
    expect(formatDouble(0.5)).toBe('0.5');
    expect(formatDouble(128)).toBe('128.0');
    expect(formatDouble(0.001)).toBe('0.001');
    expect(formatDouble(1e7)).toBe('1.0E7');
    expect(formatDouble(12345678.5)).toBe('1.23456785E7');
    expect(formatDouble(0.0001)).toBe('1.0E-4');
  });
});

describe('label variables', () => {
  it('escapes names as Marathon does', () => {
    expect(labelEnvName('tier')).toBe('TIER');
    expect(labelEnvName('com.example/tier')).toBe('COM_EXAMPLE_TIER');
    expect(labelEnvName('a--b__c')).toBe('A_B__C');
  });

  it('lists the names and sets one variable per label, leaving out labels past the limits', () => {
    expect(labelEnvironment({ tier: 'web', 'com.x/owner': 'ops', long: 'x'.repeat(512) })).toEqual({
      MARATHON_APP_LABELS: 'TIER COM_X_OWNER',
      MARATHON_APP_LABEL_TIER: 'web',
      MARATHON_APP_LABEL_COM_X_OWNER: 'ops',
    });
    expect(labelEnvironment({})).toEqual({ MARATHON_APP_LABELS: '' });
  });
});

describe('port variables', () => {
  const app = parseApp({ id: '/web', cmd: 'x', portDefinitions: [{ port: 0, name: 'http' }, { port: 8443, name: 'https-api' }, { port: 0 }] });

  it('sets PORTn, PORT, PORTS, PORT_<NAME> and PORT_<port>', () => {
    expect(portEnvironment(app, [31000, 31001, 31002])).toEqual({
      PORT0: '31000',
      PORT1: '31001',
      PORT2: '31002',
      PORT_31000: '31000',
      PORT_8443: '31001',
      PORT_31002: '31002',
      PORT_HTTP: '31000',
      'PORT_HTTPS-API': '31001',
      PORT: '31000',
      PORTS: '31000,31001,31002',
    });
  });

  it('sets nothing for an app without ports, and refuses a wrong number of ports', () => {
    expect(portEnvironment(parseApp({ id: '/w', cmd: 'x', ports: [] }), [])).toEqual({});
    expect(() => portEnvironment(app, [31000])).toThrow(ValidationError);
  });
});

describe('taskEnvironment', () => {
  const app = parseApp({
    id: '/shop/web',
    cmd: 'x',
    cpus: 0.5,
    mem: 256,
    gpus: 1,
    labels: { tier: 'web' },
    env: { APP_MODE: 'prod', PORT: '9999', MARATHON_APP_ID: 'mine' },
    version: '2015-04-02T09:37:00.596Z',
  });

  it('puts together the task context, ports, HOST and the user env, the user env winning', () => {
    expect(taskEnvironment({ app, taskId: 'shop_web.1', hostname: 'agent-1', ports: [31005] })).toEqual({
      MESOS_TASK_ID: 'shop_web.1',
      MARATHON_APP_ID: 'mine',
      MARATHON_APP_VERSION: '2015-04-02T09:37:00.596Z',
      MARATHON_APP_RESOURCE_CPUS: '0.5',
      MARATHON_APP_RESOURCE_MEM: '256.0',
      MARATHON_APP_RESOURCE_DISK: '0.0',
      MARATHON_APP_RESOURCE_GPUS: '1',
      MARATHON_APP_LABELS: 'TIER',
      MARATHON_APP_LABEL_TIER: 'web',
      PORT0: '31005',
      PORT_31005: '31005',
      PORT: '9999',
      PORTS: '31005',
      HOST: 'agent-1',
      APP_MODE: 'prod',
    });
  });

  it('prefixes the port variables and HOST only, and leaves MARATHON_APP_VERSION out without a version', () => {
    const { version: _v, ...unversioned } = app;
    const env = taskEnvironment({ app: unversioned, taskId: 't', hostname: 'h', ports: [1], envPrefix: 'STOA_' });
    expect(env).toMatchObject({ STOA_PORT0: '1', STOA_PORT: '1', STOA_PORTS: '1', STOA_HOST: 'h', MESOS_TASK_ID: 't', PORT: '9999' });
    expect(env).not.toHaveProperty('HOST');
    expect(env).not.toHaveProperty('MARATHON_APP_VERSION');
    expect(env).not.toHaveProperty('MARATHON_APP_DOCKER_IMAGE');
  });
});
