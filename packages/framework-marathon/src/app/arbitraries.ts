/**
 * fast-check arbitraries of valid Marathon app definitions, for property tests of this folder
 * and of the code built on it (the deployment planner, the REST API). Each generated
 * definition passes `parseApp`.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(appDefinitionArbitrary(), (body) => { parseApp(body); }));
 * ```
 * @module
 */

import fc from 'fast-check';
import { isWithin } from './ids.js';
import type { AppDefinition } from './schema.js';

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?$/);

/** An id segment: one or two dot-separated DNS labels, not a reserved word. */
export const idSegmentArbitrary: fc.Arbitrary<string> = fc
  .tuple(label, fc.option(label, { nil: undefined }))
  .map(([a, b]) => (b === undefined ? a : `${a}.${b}`))
  .filter((s) => s !== 'restart' && s !== 'tasks' && s !== 'versions');

/** An absolute app id of one to three segments. */
export const appIdArbitrary: fc.Arbitrary<string> = fc
  .array(idSegmentArbitrary, { minLength: 1, maxLength: 3 })
  .map((segments) => `/${segments.join('/')}`);

const envName = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/);
const text = fc.string({ maxLength: 12 });

const constraint = fc.constantFrom<unknown[]>(
  ['hostname', 'UNIQUE'],
  ['@hostname', 'CLUSTER', 'agent-1'],
  ['rack', 'GROUP_BY'],
  ['@zone', 'GROUP_BY', '3'],
  ['@region', 'IS', 'eu'],
  ['rack', 'LIKE', 'r[0-9]+'],
  ['rack', 'UNLIKE', 'r9'],
  ['rack', 'MAX_PER', '2'],
);

const ports = fc.oneof(
  fc.constant({}),
  fc.record({ ports: fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 3 }) }),
  fc.record({
    portDefinitions: fc.uniqueArray(
      fc.record(
        {
          port: fc.integer({ min: 1, max: 65535 }),
          protocol: fc.constantFrom('tcp', 'udp', 'tcp,udp'),
          name: fc.stringMatching(/^[a-z0-9-]{1,8}$/),
          labels: fc.dictionary(text, text, { maxKeys: 2 }),
        },
        { requiredKeys: ['port'] },
      ),
      { maxLength: 3, selector: (p) => p.port },
    ),
  }),
);

const seconds = fc.integer({ min: 0, max: 600 });

const upgradeStrategy = fc.record(
  {
    minimumHealthCapacity: fc.double({ min: 0, max: 1, noNaN: true }),
    maximumOverCapacity: fc.double({ min: 0, max: 1, noNaN: true }),
    steps: fc.constantFrom<(number | string)[]>([1, '25%', '50%', '100%'], ['100%'], [1, 2, '100%'], ['10%', '100%']),
    deadlineSeconds: fc.integer({ min: 1, max: 3600 }),
    progressDeadlineSeconds: fc.integer({ min: 1, max: 3600 }),
    autoRollback: fc.boolean(),
  },
  { requiredKeys: [] },
);

const unreachableStrategy = fc.oneof(
  fc.constant('disabled' as const),
  fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 })).map(([a, b]) => ({
    inactiveAfterSeconds: a,
    expungeAfterSeconds: a + b,
  })),
);

/**
 * A valid app definition: any mix of the supported fields, with at most one health check that
 * refers to an existing port.
 */
export function appDefinitionArbitrary(): fc.Arbitrary<AppDefinition> {
  return fc
    .record({
      id: appIdArbitrary,
      command: fc.oneof(
        text.filter((s) => s !== '').map((cmd) => ({ cmd })),
        fc.array(text, { minLength: 1, maxLength: 3 }).filter((a) => a[0] !== '').map((args) => ({ args })),
      ),
      ports,
      rest: fc.record(
        {
          instances: fc.integer({ min: 0, max: 50 }),
          cpus: fc.double({ min: 0.001, max: 16, noNaN: true }),
          mem: fc.double({ min: 0, max: 8192, noNaN: true }),
          disk: fc.double({ min: 0, max: 8192, noNaN: true }),
          gpus: fc.integer({ min: 0, max: 4 }),
          env: fc.dictionary(envName, text, { maxKeys: 4 }),
          labels: fc.dictionary(text, text, { maxKeys: 3 }),
          constraints: fc.uniqueArray(constraint, { maxLength: 3, selector: (c) => JSON.stringify(c) }),
          upgradeStrategy,
          backoffSeconds: seconds,
          backoffFactor: fc.double({ min: 1, max: 5, noNaN: true }),
          maxLaunchDelaySeconds: seconds,
          killSelection: fc.constantFrom<'YOUNGEST_FIRST' | 'OLDEST_FIRST'>('YOUNGEST_FIRST', 'OLDEST_FIRST'),
          unreachableStrategy,
          taskKillGracePeriodSeconds: seconds,
          acceptedResourceRoles: fc.constantFrom<string[]>(['*'], ['ops'], ['*', 'ops']),
          user: fc.constantFrom('nobody', 'www-data'),
          fetch: fc.array(
            fc.record(
              { uri: fc.webUrl(), executable: fc.boolean(), extract: fc.boolean(), cache: fc.boolean(), destPath: fc.constantFrom('a', 'b.tgz') },
              { requiredKeys: ['uri'] },
            ),
            { maxLength: 2 },
          ),
          dependencies: fc.uniqueArray(appIdArbitrary, { maxLength: 2 }),
        },
        { requiredKeys: [] },
      ),
      healthCheck: fc.option(
        fc.record(
          {
            protocol: fc.constantFrom('HTTP', 'HTTPS', 'TCP', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP'),
            gracePeriodSeconds: seconds,
            intervalSeconds: seconds,
            timeoutSeconds: seconds,
            maxConsecutiveFailures: fc.integer({ min: 0, max: 10 }),
            delaySeconds: seconds,
          },
          { requiredKeys: ['protocol'] },
        ),
        { nil: undefined },
      ),
    })
    .map(({ id, command, ports: portFields, rest, healthCheck }) => {
      const portCount = 'ports' in portFields ? portFields.ports.length : 'portDefinitions' in portFields ? portFields.portDefinitions.length : 1;
      const definition: AppDefinition = { id, ...command, ...portFields, ...rest };
      // Names must be unique; the generator only made the port numbers so.
      if ('portDefinitions' in portFields) {
        definition.portDefinitions = portFields.portDefinitions.map((p, i) => (p.name === undefined ? p : { ...p, name: `${p.name}-${i}` }));
      }
      definition.dependencies = (rest.dependencies ?? []).filter((d) => !isWithin(id, d));
      if (healthCheck !== undefined) {
        const http = healthCheck.protocol.includes('HTTP');
        definition.healthChecks = [
          portCount > 0 ? { ...healthCheck, portIndex: portCount - 1, ...(http ? { path: '/health' } : {}) } : { ...healthCheck, port: 8080 },
        ];
      }
      return definition;
    });
}
