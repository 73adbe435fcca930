import { StoaError, ValidationError } from '@stoa/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appDefinitionArbitrary } from './arbitraries.js';
import { type App, UNSUPPORTED_FIELDS } from './schema.js';
import {
  AppValidationError,
  formatPath,
  mergeApp,
  parseApp,
  replaceApp,
  safeParseApp,
  type ValidationDetail,
} from './validate.js';

/** The details of the error `input` fails with (fails the test when it passes). */
function errorsOf(input: unknown, options?: { baseGroup?: string }): ValidationDetail[] {
  const result = safeParseApp(input, options);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be invalid`);
  return result.error.body.details;
}

/** The errors at one path. */
function errorsAt(input: unknown, path: string): string[] {
  return errorsOf(input).find((d) => d.path === path)?.errors ?? [];
}

const app = (fields: Record<string, unknown> = {}) => ({ id: '/web', cmd: 'serve', ...fields });

describe('parseApp: defaults', () => {
  it("applies Marathon's defaults to a minimal definition", () => {
    expect(parseApp({ id: '/web', cmd: './serve' })).toEqual({
      id: '/web',
      cmd: './serve',
      instances: 1,
      cpus: 1,
      mem: 128,
      disk: 0,
      gpus: 0,
      executor: '',
      portDefinitions: [{ port: 0, protocol: 'tcp', labels: {} }],
      requirePorts: false,
      env: {},
      labels: {},
      constraints: [],
      healthChecks: [],
      readinessChecks: [],
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
      backoffSeconds: 1,
      backoffFactor: 1.15,
      maxLaunchDelaySeconds: 300,
      dependencies: [],
      killSelection: 'YOUNGEST_FIRST',
      unreachableStrategy: { inactiveAfterSeconds: 300, expungeAfterSeconds: 600 },
      fetch: [],
      networks: [{ mode: 'host' }],
    } satisfies App);
  });

  it('resolves a relative id against the base group', () => {
    expect(parseApp(app({ id: 'web' }), { baseGroup: '/shop' }).id).toBe('/shop/web');
    expect(parseApp(app({ id: '../db' }), { baseGroup: '/shop/backend' }).id).toBe('/shop/db');
    expect(parseApp(app({ id: './a//b/' })).id).toBe('/a/b');
    expect(parseApp(app({ id: '/abs' }), { baseGroup: '/shop' }).id).toBe('/abs');
  });

  it('refuses an invalid base group as a programming error', () => {
    expect(() => parseApp(app(), { baseGroup: 'relative' })).toThrow(ValidationError);
  });

  it('gives HTTP, TCP and COMMAND health checks their defaults', () => {
    const parsed = parseApp(app({ healthChecks: [{}] }));
    expect(parsed.healthChecks).toEqual([
      {
        protocol: 'HTTP',
        gracePeriodSeconds: 300,
        intervalSeconds: 60,
        timeoutSeconds: 20,
        maxConsecutiveFailures: 3,
        delaySeconds: 15,
        portIndex: 0,
        path: '/',
        ignoreHttp1xx: false,
      },
    ]);
    expect(parseApp(app({ healthChecks: [{ protocol: 'MESOS_TCP', port: 8080 }] })).healthChecks[0]).toEqual({
      protocol: 'MESOS_TCP',
      gracePeriodSeconds: 300,
      intervalSeconds: 60,
      timeoutSeconds: 20,
      maxConsecutiveFailures: 3,
      delaySeconds: 15,
      port: 8080,
    });
    const command = parseApp(app({ healthChecks: [{ protocol: 'COMMAND', command: { value: 'true' } }] })).healthChecks[0];
    expect(command).toMatchObject({ protocol: 'COMMAND', command: { value: 'true' } });
    expect(command).not.toHaveProperty('portIndex');
    expect(command).not.toHaveProperty('path');
  });

  it('gives readiness checks their defaults', () => {
    const parsed = parseApp(app({ portDefinitions: [{ port: 0, name: 'http-api' }], readinessChecks: [{}] }));
    expect(parsed.readinessChecks).toEqual([
      {
        name: 'readinessCheck',
        protocol: 'HTTP',
        path: '/',
        portName: 'http-api',
        intervalSeconds: 30,
        timeoutSeconds: 10,
        httpStatusCodesForReady: [200],
        preserveLastResponse: false,
      },
    ]);
  });

  it('folds legacy ports into portDefinitions, and keeps an explicit empty list', () => {
    expect(parseApp(app({ ports: [0, 8080] })).portDefinitions).toEqual([
      { port: 0, protocol: 'tcp', labels: {} },
      { port: 8080, protocol: 'tcp', labels: {} },
    ]);
    expect(parseApp(app({ ports: [] })).portDefinitions).toEqual([]);
    expect(parseApp(app({ portDefinitions: [] })).portDefinitions).toEqual([]);
    expect(parseApp(app({ portDefinitions: [{ name: 'http' }] })).portDefinitions).toEqual([
      { port: 0, protocol: 'tcp', name: 'http', labels: {} },
    ]);
  });

  it('folds legacy uris into fetch, extracting archives only (as Marathon does)', () => {
    expect(parseApp(app({ uris: ['https://x/a.tgz', 'https://x/run.sh'] })).fetch).toEqual([
      { uri: 'https://x/a.tgz', executable: false, extract: true, cache: false },
      { uri: 'https://x/run.sh', executable: false, extract: false, cache: false },
    ]);
    expect(parseApp(app({ fetch: [{ uri: 'https://x/b', destPath: 'b' }] })).fetch).toEqual([
      { uri: 'https://x/b', executable: false, extract: true, cache: false, destPath: 'b' },
    ]);
  });

  it('carries the deployment planner’s upgrade extensions', () => {
    const strategy = { minimumHealthCapacity: 0.5, maximumOverCapacity: 0, deadlineSeconds: 600, progressDeadlineSeconds: 120, autoRollback: true };
    expect(parseApp(app({ upgradeStrategy: strategy })).upgradeStrategy).toEqual(strategy);
    expect(errorsAt(app({ upgradeStrategy: { deadlineSeconds: 0 } }), '/upgradeStrategy/deadlineSeconds')).toHaveLength(1);
  });

  it('fills in the upgrade and unreachable strategies field by field', () => {
    expect(parseApp(app({ upgradeStrategy: { minimumHealthCapacity: 0.5 } })).upgradeStrategy).toEqual({
      minimumHealthCapacity: 0.5,
      maximumOverCapacity: 1,
    });
    expect(parseApp(app({ unreachableStrategy: { expungeAfterSeconds: 900 } })).unreachableStrategy).toEqual({
      inactiveAfterSeconds: 300,
      expungeAfterSeconds: 900,
    });
    expect(parseApp(app({ unreachableStrategy: 'disabled' })).unreachableStrategy).toBe('disabled');
  });

  it('takes null as absent, and empty values of unsupported fields as absent', () => {
    const parsed = parseApp(app({ cmd: null, args: ['/bin/serve', '-v'], user: null, container: null, secrets: {}, storeUrls: [], tty: false }));
    expect(parsed.args).toEqual(['/bin/serve', '-v']);
    expect(parsed).not.toHaveProperty('cmd');
    expect(parsed).not.toHaveProperty('user');
  });

  it('accepts host networking and the command executor', () => {
    expect(parseApp(app({ networks: [{ mode: 'host' }], executor: '//cmd' })).executor).toBe('//cmd');
  });

  it('keeps version and versionInfo, normalised to UTC', () => {
    const parsed = parseApp(
      app({ version: '2015-04-02T11:37:00.596+02:00', versionInfo: { lastScalingAt: '2015-04-02T09:37:00.596Z', lastConfigChangeAt: '2015-04-01T00:00:00Z' } }),
    );
    expect(parsed.version).toBe('2015-04-02T09:37:00.596Z');
    expect(parsed.versionInfo).toEqual({ lastScalingAt: '2015-04-02T09:37:00.596Z', lastConfigChangeAt: '2015-04-01T00:00:00.000Z' });
  });

  it('resolves dependencies against the app’s group', () => {
    expect(parseApp(app({ id: '/shop/web', dependencies: ['db', '../infra/dns', '/auth'] })).dependencies).toEqual([
      '/shop/db',
      '/infra/dns',
      '/auth',
    ]);
  });
});

describe('parseApp: errors', () => {
  it('throws an AppValidationError in Marathon’s 422 shape', () => {
    let caught: unknown;
    try {
      parseApp(app({ cpus: -1 }));
    } catch (e) {
      caught = e;
    }
    expect(AppValidationError.isInstance(caught)).toBe(true);
    expect(caught).toBeInstanceOf(ValidationError);
    const error = caught as AppValidationError;
    expect(error.name).toBe('AppValidationError');
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.field).toBe('/cpus');
    expect(error.body).toEqual({ message: 'Object is not valid', details: [{ path: '/cpus', errors: ['must be at least 0.001, got -1'] }] });
    expect(error.errorsAt('/cpus')).toHaveLength(1);
    expect(error.message).toContain('/cpus');
    expect(error.toWire()).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: '/cpus', details: error.body.details } });
  });

  it('tells its own errors from other validation errors', () => {
    expect(AppValidationError.isInstance(new ValidationError('x'))).toBe(false);
    expect(AppValidationError.isInstance({})).toBe(false);
    expect(StoaError.isInstance(new AppValidationError([{ path: '/', errors: ['x'] }]))).toBe(true);
  });

  it('refuses what is not an object', () => {
    for (const input of [null, 3, 'app', [app()]]) expect(errorsOf(input)[0]?.path).toBe('/');
  });

  it('lists every problem at once', () => {
    const paths = errorsOf({ id: 'Web!', cpus: -1, instances: -1, foo: 1, env: { A: 2 } }).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['/id', '/cpus', '/instances', '/foo', '/env/A']));
  });

  it.each(Object.keys(UNSUPPORTED_FIELDS))('refuses %s as not supported by Stoa', (field) => {
    const errors = errorsAt(app({ [field]: { something: true } }), `/${field}`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^not supported by Stoa: /);
  });

  it('refuses other networks than host, custom executors, secret env refs and IPv6 checks as not supported', () => {
    expect(errorsAt(app({ networks: [{ mode: 'container', name: 'dcos' }] }), '/networks(0)/mode')[0]).toMatch(/not supported by Stoa/);
    expect(errorsAt(app({ networks: [{}] }), '/networks(0)/mode')[0]).toMatch(/not supported by Stoa: "container"/);
    expect(errorsAt(app({ networks: [{ mode: 'host', name: 'x' }] }), '/networks(0)/name')).toHaveLength(1);
    expect(errorsAt(app({ executor: '/opt/my-executor' }), '/executor')[0]).toMatch(/not supported by Stoa/);
    expect(errorsAt(app({ env: { DB: { secret: 'db-password' } } }), '/env/DB')[0]).toMatch(/not supported by Stoa: secret/);
    expect(errorsAt(app({ healthChecks: [{ protocol: 'TCP', ipProtocol: 'IPv6' }] }), '/healthChecks(0)/ipProtocol')[0]).toMatch(
      /not supported by Stoa/,
    );
    expect(errorsAt(app({ healthChecks: [{}, { protocol: 'TCP' }] }), '/healthChecks')[0]).toMatch(/not supported by Stoa: at most one/);
  });

  it('names unknown fields, at any depth', () => {
    expect(errorsAt(app({ cmdd: 'x' }), '/cmdd')).toEqual(['unknown field']);
    expect(errorsAt(app({ cmdd: null }), '/cmdd')).toEqual(['unknown field']);
    expect(errorsAt(app({ portDefinitions: [{ port: 0, hostPort: 1 }] }), '/portDefinitions(0)/hostPort')).toEqual(['unknown field']);
    expect(errorsAt(app({ upgradeStrategy: { minimumHealthCapacity: 1, speed: 2 } }), '/upgradeStrategy/speed')).toEqual(['unknown field']);
    expect(errorsAt(app({ unreachableStrategy: { inactiveAfterSeconds: 10, later: 1 } }), '/unreachableStrategy/later')).toEqual(['unknown field']);
    expect(errorsAt(app({ tasksRunning: 3 }), '/tasksRunning')[0]).toMatch(/^unknown field: it is read-only status/);
  });

  it('checks ranges, naming the field', () => {
    expect(errorsAt(app({ cpus: -0.5 }), '/cpus')).toEqual(['must be at least 0.001, got -0.5']);
    expect(errorsAt(app({ mem: -1 }), '/mem')).toEqual(['must be at least 0, got -1']);
    expect(errorsAt(app({ instances: -1 }), '/instances')).toEqual(['must be at least 0, got -1']);
    expect(errorsAt(app({ instances: 1.5 }), '/instances')).toEqual(['expected a whole number, got 1.5']);
    expect(errorsAt(app({ gpus: 0.5 }), '/gpus')).toHaveLength(1);
    expect(errorsAt(app({ upgradeStrategy: { minimumHealthCapacity: 1.5 } }), '/upgradeStrategy/minimumHealthCapacity')).toEqual([
      'must be at most 1, got 1.5',
    ]);
    expect(errorsAt(app({ upgradeStrategy: { maximumOverCapacity: -0.1 } }), '/upgradeStrategy/maximumOverCapacity')).toHaveLength(1);
    expect(errorsAt(app({ backoffFactor: 0.5 }), '/backoffFactor')).toHaveLength(1);
    expect(errorsAt(app({ ports: [70000] }), '/ports(0)')).toHaveLength(1);
    expect(errorsAt(app({ healthChecks: [{ timeoutSeconds: -1 }] }), '/healthChecks(0)/timeoutSeconds')).toHaveLength(1);
    expect(errorsAt(app({ killSelection: 'RANDOM' }), '/killSelection')).toEqual(['must be one of "YOUNGEST_FIRST", "OLDEST_FIRST"']);
    expect(errorsAt(app({ cpus: '1' }), '/cpus')).toEqual(['expected a number, got the string "1"']);
    expect(errorsAt({ cmd: 'x' }, '/id')).toEqual(['is required']);
  });

  it('checks ids with Marathon’s rule', () => {
    for (const id of ['My-App', '/a/-b', '/a/b-', '/a b', '/a/b_c', '/a..b', '']) {
      expect(errorsAt(app({ id }), '/id'), id).toHaveLength(1);
    }
    expect(errorsAt(app({ id: '/shop/restart' }), '/id')[0]).toMatch(/reserved/);
    expect(errorsAt(app({ id: '../x' }), '/id')[0]).toMatch(/above the root/);
    expect(errorsAt(app({ id: '/' }), '/id')[0]).toMatch(/below the root/);
    expect(parseApp(app({ id: '/my.app/v1.2-beta' })).id).toBe('/my.app/v1.2-beta');
  });

  it('needs exactly one of cmd and args', () => {
    expect(errorsAt({ id: '/a' }, '/')[0]).toMatch(/exactly one of "cmd"/);
    expect(errorsAt({ id: '/a', cmd: 'x', args: ['y'] }, '/args')[0]).toMatch(/together with "cmd"/);
    expect(errorsAt({ id: '/a', args: [] }, '/args')).toHaveLength(1);
    expect(errorsAt({ id: '/a', args: [''] }, '/args(0)')).toHaveLength(1);
    expect(errorsAt({ id: '/a', cmd: '' }, '/cmd')).toEqual(['must not be empty']);
  });

  it('checks ports', () => {
    expect(errorsAt(app({ ports: [0], portDefinitions: [] }), '/ports')[0]).toMatch(/together with "portDefinitions"/);
    expect(errorsAt(app({ portDefinitions: [{ name: 'http' }, { name: 'http' }] }), '/portDefinitions(1)/name')[0]).toMatch(/already used/);
    expect(errorsAt(app({ ports: [80, 80] }), '/ports(1)')[0]).toMatch(/already used/);
    expect(errorsAt(app({ portDefinitions: [{ port: 80 }, { port: 80 }] }), '/portDefinitions(1)/port')).toHaveLength(1);
    expect(parseApp(app({ ports: [0, 0] })).portDefinitions).toHaveLength(2);
    expect(errorsAt(app({ requirePorts: true, ports: [80, 0] }), '/requirePorts')[0]).toMatch(/non-zero/);
    expect(errorsAt(app({ requirePorts: true }), '/requirePorts')).toHaveLength(1);
    expect(parseApp(app({ requirePorts: true, ports: [80, 443] })).requirePorts).toBe(true);
    expect(errorsAt(app({ portDefinitions: [{ name: 'Http' }] }), '/portDefinitions(0)/name')).toHaveLength(1);
    expect(errorsAt(app({ portDefinitions: [{ protocol: 'sctp' }] }), '/portDefinitions(0)/protocol')).toHaveLength(1);
  });

  it('checks that health checks refer to existing ports', () => {
    expect(errorsAt(app({ ports: [0, 0], healthChecks: [{ portIndex: 2 }] }), '/healthChecks(0)/portIndex')).toEqual([
      'refers to port 2, but the app has 2 port(s)',
    ]);
    expect(errorsAt(app({ ports: [], healthChecks: [{ protocol: 'TCP' }] }), '/healthChecks(0)/portIndex')[0]).toMatch(/no ports/);
    expect(parseApp(app({ ports: [], healthChecks: [{ protocol: 'TCP', port: 9000 }] })).healthChecks[0]?.port).toBe(9000);
    expect(errorsAt(app({ healthChecks: [{ port: 80, portIndex: 0 }] }), '/healthChecks(0)/port')[0]).toMatch(/not both/);
    expect(errorsAt(app({ healthChecks: [{ protocol: 'COMMAND' }] }), '/healthChecks(0)/command')).toHaveLength(1);
    expect(errorsAt(app({ healthChecks: [{ protocol: 'COMMAND', command: { value: 'x' }, portIndex: 0 }] }), '/healthChecks(0)/portIndex')).toHaveLength(1);
    expect(errorsAt(app({ healthChecks: [{ protocol: 'HTTP', command: { value: 'x' } }] }), '/healthChecks(0)/command')).toHaveLength(1);
    expect(errorsAt(app({ healthChecks: [{ protocol: 'TCP', path: '/x' }] }), '/healthChecks(0)/path')).toHaveLength(1);
    expect(errorsAt(app({ healthChecks: [{ protocol: 'MESOS_HTTP', ignoreHttp1xx: true }] }), '/healthChecks(0)/ignoreHttp1xx')).toHaveLength(1);
    expect(errorsAt(app({ healthChecks: [{ protocol: 'UDP' }] }), '/healthChecks(0)/protocol')).toHaveLength(1);
  });

  it('checks readiness checks', () => {
    expect(errorsAt(app({ readinessChecks: [{}] }), '/readinessChecks(0)/portName')[0]).toMatch(/no port is named "http-api"/);
    const named = { portDefinitions: [{ name: 'web' }] };
    expect(parseApp(app({ ...named, readinessChecks: [{ portName: 'web' }] })).readinessChecks[0]?.portName).toBe('web');
    expect(
      errorsAt(app({ ...named, readinessChecks: [{ portName: 'web', intervalSeconds: 5, timeoutSeconds: 5 }] }), '/readinessChecks(0)/timeoutSeconds'),
    ).toEqual(['must be less than intervalSeconds (5)']);
    expect(errorsAt(app({ ...named, readinessChecks: [{ portName: 'web' }, { portName: 'web' }] }), '/readinessChecks')).toHaveLength(1);
    expect(errorsAt(app({ ...named, readinessChecks: [{ portName: 'web', httpStatusCodesForReady: [] }] }), '/readinessChecks(0)/httpStatusCodesForReady')).toHaveLength(1);
    expect(errorsAt(app({ ...named, readinessChecks: [{ portName: 'web', httpStatusCodesForReady: [200, 200] }] }), '/readinessChecks(0)/httpStatusCodesForReady')).toHaveLength(1);
  });

  it('checks dependencies', () => {
    const at = (dependencies: string[], id = '/shop/web') => errorsOf(app({ id, dependencies }));
    expect(at(['/shop/web'])).toEqual([{ path: '/dependencies(0)', errors: ['an app cannot depend on itself'] }]);
    expect(at(['web'])[0]?.errors[0]).toMatch(/itself/);
    expect(at(['/shop'])[0]?.errors[0]).toMatch(/holds the app itself/);
    expect(at(['..'])[0]?.errors[0]).toMatch(/root group/);
    expect(at(['../..'])[0]?.errors[0]).toMatch(/above the root/);
    expect(at(['/db', '../db'])).toEqual([{ path: '/dependencies(1)', errors: ['/db is listed more than once'] }]);
    expect(at(['/DB'])[0]?.path).toBe('/dependencies(0)');
  });

  it('checks constraints', () => {
    const at = (constraint: unknown) => errorsAt(app({ constraints: [constraint] }), '/constraints(0)');
    expect(safeParseApp(app({ constraints: [['hostname', 'UNIQUE']] })).ok).toBe(true);
    expect(at(['hostname'])[0]).toMatch(/expected \[field, operator/);
    expect(at('hostname:UNIQUE')[0]).toMatch(/expected \[field, operator/);
    expect(at(['hostname', 'UNIQUE', 'x'])).toEqual(['UNIQUE takes no value']);
    expect(at(['hostname', 'NEAR'])[0]).toMatch(/unknown operator "NEAR"/);
    expect(at(['hostname', 'EQUALS', 'a'])[0]).toMatch(/unknown operator/);
    expect(at(['rack', 'MAX_PER'])).toEqual(['MAX_PER needs a positive whole number']);
    expect(at(['rack', 'MAX_PER', '0'])).toEqual(['MAX_PER needs a positive whole number']);
    expect(at(['rack', 'MAX_PER', 2])).toEqual(['the value must be a string']);
    expect(at(['rack', 'GROUP_BY', 'x'])[0]).toMatch(/GROUP_BY takes a positive whole number/);
    expect(at(['rack', 'LIKE', '('])[0]).toMatch(/not a valid regular expression/);
    expect(at(['rack', 'UNLIKE'])).toEqual(['UNLIKE needs a regular expression']);
    expect(at(['rack', 'IS'])).toEqual(['IS needs a value']);
    expect(at(['@datacenter', 'UNIQUE'])[0]).toMatch(/unknown field "@datacenter"/);
    expect(at(['', 'UNIQUE'])[0]).toMatch(/non-empty string/);
    expect(errorsAt(app({ constraints: [['hostname', 'UNIQUE'], ['hostname', 'UNIQUE']] }), '/constraints(1)')[0]).toMatch(/same as constraint 0/);
    expect(parseApp(app({ constraints: [['@zone', 'GROUP_BY', '3'], ['rack', 'CLUSTER']] })).constraints).toEqual([
      ['@zone', 'GROUP_BY', '3'],
      ['rack', 'CLUSTER'],
    ]);
  });

  it('checks upgrade steps', () => {
    const at = (steps: unknown[]) => errorsOf(app({ upgradeStrategy: { steps } }));
    expect(parseApp(app({ upgradeStrategy: { steps: [1, '25%', '50%', '100%'] } })).upgradeStrategy.steps).toEqual([1, '25%', '50%', '100%']);
    expect(at([1, '50%', '25%', '100%'])).toEqual([{ path: '/upgradeStrategy/steps(2)', errors: ['must be more than the step before (50%)'] }]);
    expect(at([2, 1, '100%'])[0]?.path).toBe('/upgradeStrategy/steps(1)');
    expect(at(['50%', 2, '100%'])[0]?.errors).toEqual(['counts must come before percentages']);
    expect(at([1, '50%'])).toEqual([{ path: '/upgradeStrategy/steps(1)', errors: ['the last step must be "100%" (every instance)'] }]);
    expect(at(['0%', '100%'])[0]?.errors).toEqual(['"0%" is neither a count of at least 1 nor a percentage in (0, 100]']);
    expect(at([0, '100%'])[0]?.path).toBe('/upgradeStrategy/steps(0)');
    expect(at(['150%'])[0]?.path).toBe('/upgradeStrategy/steps(0)');
    expect(at([])[0]?.path).toBe('/upgradeStrategy/steps');
  });

  it('checks the unreachable strategy', () => {
    expect(errorsAt(app({ unreachableStrategy: { inactiveAfterSeconds: 600, expungeAfterSeconds: 600 } }), '/unreachableStrategy/inactiveAfterSeconds')).toEqual([
      'must be less than expungeAfterSeconds (600)',
    ]);
    expect(errorsAt(app({ unreachableStrategy: { inactiveAfterSeconds: 0 } }), '/unreachableStrategy/inactiveAfterSeconds')).toHaveLength(1);
    expect(errorsAt(app({ unreachableStrategy: 'never' }), '/unreachableStrategy')[0]).toMatch(/"disabled" or an object/);
  });

  it('checks roles', () => {
    expect(errorsAt(app({ acceptedResourceRoles: [] }), '/acceptedResourceRoles')[0]).toMatch(/must not be empty/);
    expect(errorsAt(app({ acceptedResourceRoles: ['a b'] }), '/acceptedResourceRoles(0)')).toHaveLength(1);
    expect(errorsAt(app({ acceptedResourceRoles: ['*', '*'] }), '/acceptedResourceRoles(1)')[0]).toMatch(/more than once/);
    expect(errorsAt(app({ role: 'ops', acceptedResourceRoles: ['*', 'dev'] }), '/acceptedResourceRoles(1)')).toEqual([
      'must be "*" or the app\'s role "ops"',
    ]);
    expect(parseApp(app({ role: 'ops', acceptedResourceRoles: ['*', 'ops'] })).acceptedResourceRoles).toEqual(['*', 'ops']);
    expect(errorsAt(app({ role: 'a>b' }), '/role')).toHaveLength(1);
  });

  it('checks env names and values', () => {
    expect(errorsAt(app({ env: { A: 1 } }), '/env/A')).toEqual(['expected a string, got 1']);
    expect(errorsAt(app({ env: { 'A=B': 'x' } }), '/env/A=B')).toHaveLength(1);
  });

  it('refuses both uris and fetch', () => {
    expect(errorsAt(app({ uris: ['a'], fetch: [{ uri: 'b' }] }), '/uris')[0]).toMatch(/together with "fetch"/);
  });

  it('holds single-instance apps to one instance and no overlap', () => {
    const labels = { MARATHON_SINGLE_INSTANCE_APP: 'true' };
    const paths = errorsOf(app({ labels, instances: 2 })).map((d) => d.path);
    expect(paths.sort()).toEqual(['/instances', '/upgradeStrategy/maximumOverCapacity', '/upgradeStrategy/minimumHealthCapacity']);
    expect(parseApp(app({ labels, instances: 1, upgradeStrategy: { minimumHealthCapacity: 0, maximumOverCapacity: 0 } })).instances).toBe(1);
  });

  it('checks version fields as timestamps', () => {
    expect(errorsAt(app({ version: 'yesterday' }), '/version')).toHaveLength(1);
    expect(errorsAt(app({ version: '2015-02-30T00:00:00Z' }), '/version')).toHaveLength(1);
    expect(errorsAt(app({ version: '2015-02-03T00:00:00' }), '/version')).toHaveLength(1);
    expect(errorsAt(app({ version: '2015-02-03T24:00:00Z' }), '/version')).toHaveLength(1);
    expect(parseApp(app({ version: '2016-02-29T23:59:59+05:30' })).version).toBe('2016-02-29T18:29:59.000Z');
    expect(errorsAt(app({ versionInfo: { lastScalingAt: '2015-04-02T09:37:00.596Z' } }), '/versionInfo/lastConfigChangeAt')).toEqual(['is required']);
  });
});

describe('formatPath', () => {
  it('writes Marathon’s paths', () => {
    expect(formatPath([])).toBe('/');
    expect(formatPath(['healthChecks', 0, 'portIndex'])).toBe('/healthChecks(0)/portIndex');
    expect(formatPath(['constraints', 1])).toBe('/constraints(1)');
  });
});


describe('replaceApp (PUT)', () => {
  const current = parseApp({ id: '/shop/web', cmd: 'serve', instances: 3, mem: 512, version: '2020-01-01T00:00:00.000Z' });

  it('replaces the whole definition; fields left out take their defaults', () => {
    const next = replaceApp(current, { cmd: 'serve --new' });
    expect(next).toMatchObject({ id: '/shop/web', cmd: 'serve --new', instances: 1, mem: 128, version: current.version });
  });

  it('refuses another id, and a version other than the current one', () => {
    expect(() => replaceApp(current, { id: '/other', cmd: 'x' })).toThrow(/names another app/);
    try {
      replaceApp(current, { cmd: 'x', version: '2021-01-01T00:00:00.000Z' });
      expect.unreachable();
    } catch (e) {
      expect(AppValidationError.isInstance(e) && e.errorsAt('/version')[0]).toMatch(/read-only/);
    }
    expect(replaceApp(current, { cmd: 'x', version: current.version }).cmd).toBe('x');
    expect(replaceApp(current, { cmd: 'x', version: '2020-01-01T01:00:00+01:00' }).version).toBe(current.version);
  });

  it('resolves a relative id like POST does', () => {
    expect(replaceApp(current, { id: 'shop/web', cmd: 'x' }).id).toBe('/shop/web');
    expect(() => replaceApp(current, 'x')).toThrow(AppValidationError);
  });
});

describe('mergeApp (PATCH)', () => {
  const current = parseApp({
    id: '/shop/web',
    args: ['/bin/serve'],
    instances: 3,
    ports: [0, 0],
    uris: ['https://x/a.tgz'],
    labels: { tier: 'web' },
    version: '2020-01-01T00:00:00.000Z',
    versionInfo: { lastScalingAt: '2020-01-01T00:00:00.000Z', lastConfigChangeAt: '2020-01-01T00:00:00.000Z' },
  });

  it('changes only the given fields', () => {
    const next = mergeApp(current, { instances: 5 });
    expect(next).toEqual({ ...current, instances: 5 });
  });

  it('replaces nested objects whole', () => {
    const withStrategy = mergeApp(current, { upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0 } });
    expect(mergeApp(withStrategy, { upgradeStrategy: { maximumOverCapacity: 0.2 } }).upgradeStrategy).toEqual({
      minimumHealthCapacity: 1,
      maximumOverCapacity: 0.2,
    });
  });

  it('lets cmd displace args (and back), ports displace portDefinitions, uris displace fetch', () => {
    const withCmd = mergeApp(current, { cmd: 'serve' });
    expect(withCmd.cmd).toBe('serve');
    expect(withCmd).not.toHaveProperty('args');
    expect(mergeApp(withCmd, { args: ['x'] })).not.toHaveProperty('cmd');
    expect(mergeApp(current, { ports: [8080] }).portDefinitions).toEqual([{ port: 8080, protocol: 'tcp', labels: {} }]);
    expect(mergeApp(current, { uris: ['https://x/b'] }).fetch).toEqual([{ uri: 'https://x/b', executable: false, extract: false, cache: false }]);
    expect(() => mergeApp(current, { cmd: 'a', args: ['b'] })).toThrow(AppValidationError);
  });

  it('resets a field given as null to its default', () => {
    expect(mergeApp(current, { labels: null, portDefinitions: null })).toMatchObject({ labels: {}, portDefinitions: [{ port: 0 }] });
    expect(() => mergeApp(current, { lables: null })).toThrow(/\/lables: unknown field/);
  });

  it('validates the result like POST', () => {
    try {
      mergeApp(current, { instances: -1, container: { type: 'DOCKER' } });
      expect.unreachable();
    } catch (e) {
      expect(AppValidationError.isInstance(e) && e.body.details.map((d) => d.path).sort()).toEqual(['/container', '/instances']);
    }
  });

  it('keeps id, version and versionInfo: accepted when equal, refused when not', () => {
    expect(mergeApp(current, { id: '/shop/web', version: current.version, versionInfo: current.versionInfo, instances: 1 }).instances).toBe(1);
    expect(() => mergeApp(current, { id: '/shop/api' })).toThrow(/names another app/);
    expect(() => mergeApp(current, { versionInfo: { lastScalingAt: '2030-01-01T00:00:00.000Z', lastConfigChangeAt: '2030-01-01T00:00:00.000Z' } })).toThrow(
      /read-only/,
    );
    expect(mergeApp(current, {}).version).toBe(current.version);
    expect(() => mergeApp(current, [1])).toThrow(AppValidationError);
  });
});

describe('properties', () => {
  it('every generated definition is valid, and the app round-trips through JSON and validation unchanged', () => {
    fc.assert(
      fc.property(appDefinitionArbitrary(), (definition) => {
        const parsed = parseApp(definition);
        const again = parseApp(JSON.parse(JSON.stringify(parsed)));
        expect(again).toEqual(parsed);
        expect(mergeApp(parsed, {})).toEqual(parsed);
        expect(replaceApp(parsed, JSON.parse(JSON.stringify(parsed)))).toEqual(parsed);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but a result for any JSON input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom('id', 'cmd', 'args', 'ports', 'healthChecks', 'env', 'constraints', 'upgradeStrategy', 'dependencies'), fc.jsonValue())), (input) => {
        const result = safeParseApp(input);
        if (!result.ok) {
          expect(result.error.body.details.length).toBeGreaterThan(0);
          for (const d of result.error.body.details) {
            expect(d.path.startsWith('/')).toBe(true);
            expect(d.errors.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a valid definition with one field replaced by any JSON is either valid or explained', () => {
    fc.assert(
      fc.property(appDefinitionArbitrary(), fc.string({ maxLength: 20 }), fc.jsonValue(), (definition, key, value) => {
        const result = safeParseApp({ ...definition, [key]: value });
        if (!result.ok) expect(result.error.body.details.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});
