import { TaskInfoSchema, ValidationError } from '@stoa/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appDefinitionArbitrary } from './arbitraries.js';
import { taskIdFor } from './ids.js';
import { buildTaskInfo, defaultTaskRole, fetchToCommandUris, taskResources, toTaskHealthCheck } from './task.js';
import { parseApp } from './validate.js';

const base = { taskId: 'shop_web.1', agentId: 'agent-1', hostname: 'host-1' };

describe('buildTaskInfo', () => {
  it('makes a shell command task with resources, ports, health check, kill policy and labels', () => {
    const app = parseApp({
      id: '/shop/web',
      cmd: 'python3 -m http.server $PORT0',
      cpus: 0.5,
      mem: 256,
      disk: 10,
      portDefinitions: [{ port: 0, name: 'http' }, { port: 0 }],
      healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 1, gracePeriodSeconds: 30, intervalSeconds: 5, timeoutSeconds: 2 }],
      taskKillGracePeriodSeconds: 7,
      labels: { tier: 'web' },
      user: 'nobody',
      fetch: [{ uri: 'https://example.com/app.tgz', destPath: 'app.tgz' }],
      version: '2020-01-01T00:00:00.000Z',
    });
    const task = buildTaskInfo({ ...base, app, ports: [31000, 31002] });
    expect(TaskInfoSchema.parse(task)).toEqual(task);
    expect(task).toMatchObject({
      taskId: 'shop_web.1',
      name: 'web.shop',
      agentId: 'agent-1',
      resources: [
        { name: 'cpus', type: 'SCALAR', scalar: 0.5 },
        { name: 'mem', type: 'SCALAR', scalar: 256 },
        { name: 'disk', type: 'SCALAR', scalar: 10 },
        {
          name: 'ports',
          type: 'RANGES',
          ranges: [
            { begin: 31000, end: 31000 },
            { begin: 31002, end: 31002 },
          ],
        },
      ],
      command: {
        shell: true,
        value: 'python3 -m http.server $PORT0',
        user: 'nobody',
        uris: [{ value: 'https://example.com/app.tgz', executable: false, extract: true, cache: false, outputFile: 'app.tgz' }],
      },
      healthCheck: {
        type: 'HTTP',
        http: { port: 31002, path: '/health' },
        delayMs: 15_000,
        intervalMs: 5_000,
        timeoutMs: 2_000,
        gracePeriodMs: 30_000,
        consecutiveFailures: 3,
      },
      killPolicy: { gracePeriodMs: 7_000 },
      labels: { tier: 'web' },
    });
    expect(task.command?.environment).toMatchObject({ PORT0: '31000', PORT1: '31002', PORT_HTTP: '31000', HOST: 'host-1', MESOS_TASK_ID: 'shop_web.1' });
  });

  it('runs args as an argv without a shell, and leaves out what the app does not set', () => {
    const app = parseApp({ id: '/w', args: ['/bin/serve', '--port', '8080'], ports: [] });
    const task = buildTaskInfo({ ...base, app, ports: [] });
    expect(task.command).toMatchObject({ shell: false, value: '/bin/serve', arguments: ['/bin/serve', '--port', '8080'] });
    expect(task.resources.map((r) => r.name)).toEqual(['cpus', 'mem']);
    for (const field of ['healthCheck', 'killPolicy', 'labels'] as const) expect(task).not.toHaveProperty(field);
    expect(task.command).not.toHaveProperty('uris');
    expect(task.command).not.toHaveProperty('user');
  });

  it('uses the resources given, checking their roles against acceptedResourceRoles', () => {
    const app = parseApp({ id: '/w', cmd: 'x', ports: [], acceptedResourceRoles: ['ops'] });
    const resources = [{ name: 'cpus', type: 'SCALAR' as const, scalar: 1, role: 'ops' }];
    expect(buildTaskInfo({ ...base, app, ports: [], resources }).resources).toEqual(resources);
    expect(() => buildTaskInfo({ ...base, app, ports: [], resources: [{ name: 'cpus', type: 'SCALAR', scalar: 1 }] })).toThrow(/role "\*"/);
    expect(buildTaskInfo({ ...base, app, ports: [] }).resources.every((r) => r.role === 'ops')).toBe(true);
  });

  it('refuses ports that do not fit the app', () => {
    const app = parseApp({ id: '/w', cmd: 'x', requirePorts: true, ports: [8080] });
    expect(buildTaskInfo({ ...base, app, ports: [8080] }).command?.environment?.PORT).toBe('8080');
    expect(() => buildTaskInfo({ ...base, app, ports: [31000] })).toThrow(ValidationError);
    expect(() => buildTaskInfo({ ...base, app, ports: [8080, 8081] })).toThrow(ValidationError);
  });

  it('makes a valid TaskInfo for every valid app', () => {
    fc.assert(
      fc.property(appDefinitionArbitrary(), fc.uuid(), (definition, uuid) => {
        const app = parseApp(definition);
        const ports = app.portDefinitions.map((p, i) => (app.requirePorts ? p.port : 31000 + i));
        const role = app.acceptedResourceRoles?.[0];
        const task = buildTaskInfo({ app, taskId: taskIdFor(app.id, uuid), agentId: 'a1', hostname: 'h1', ports, ...(role === undefined ? {} : { role }) });
        expect(TaskInfoSchema.safeParse(task).success).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the parts', () => {
  it('picks the default role from acceptedResourceRoles', () => {
    const app = (roles?: string[]) => parseApp({ id: '/w', cmd: 'x', ...(roles ? { acceptedResourceRoles: roles } : {}) });
    expect(defaultTaskRole(app())).toBe('*');
    expect(defaultTaskRole(app(['ops', '*']))).toBe('*');
    expect(defaultTaskRole(app(['ops', 'dev']))).toBe('ops');
  });

  it('makes resources of a role, leaving zero disk and gpus out', () => {
    const app = parseApp({ id: '/w', cmd: 'x', gpus: 1 });
    expect(taskResources(app, [31000, 31001], 'ops')).toEqual([
      { name: 'cpus', type: 'SCALAR', scalar: 1, role: 'ops' },
      { name: 'mem', type: 'SCALAR', scalar: 128, role: 'ops' },
      { name: 'gpus', type: 'SCALAR', scalar: 1, role: 'ops' },
      { name: 'ports', type: 'RANGES', ranges: [{ begin: 31000, end: 31001 }], role: 'ops' },
    ]);
  });

  it('maps every health check protocol to what the agent runs', () => {
    const check = (fields: Record<string, unknown>) => parseApp({ id: '/w', cmd: 'x', ports: [0, 0], healthChecks: [fields] }).healthChecks[0]!;
    expect(toTaskHealthCheck(check({ protocol: 'MESOS_HTTPS', portIndex: 1 }), [1, 2])).toMatchObject({ type: 'HTTPS', http: { port: 2, path: '/' } });
    expect(toTaskHealthCheck(check({ protocol: 'MESOS_HTTP' }), [1, 2])).toMatchObject({ type: 'HTTP', http: { port: 1 } });
    expect(toTaskHealthCheck(check({ protocol: 'TCP', port: 9000 }), [1, 2])).toMatchObject({ type: 'TCP', tcp: { port: 9000 } });
    expect(toTaskHealthCheck(check({ protocol: 'MESOS_TCP', portIndex: 1 }), [1, 2])).toMatchObject({ type: 'TCP', tcp: { port: 2 } });
    expect(toTaskHealthCheck(check({ protocol: 'COMMAND', command: { value: 'curl -f localhost' }, maxConsecutiveFailures: 0 }), [])).toEqual({
      type: 'COMMAND',
      delayMs: 15_000,
      intervalMs: 60_000,
      timeoutMs: 20_000,
      gracePeriodMs: 300_000,
      consecutiveFailures: 0,
      command: { shell: true, value: 'curl -f localhost' },
    });
    expect(() => toTaskHealthCheck(check({ portIndex: 1 }), [1])).toThrow(ValidationError);
  });

  it('maps fetch entries to URIs', () => {
    expect(fetchToCommandUris([{ uri: 'u', executable: true, extract: false, cache: true }])).toEqual([{ value: 'u', executable: true, extract: false, cache: true }]);
  });
});
