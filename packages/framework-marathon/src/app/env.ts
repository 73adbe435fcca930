/**
 * The environment Marathon gives each task, as Marathon 1.x builds it (`TaskBuilder`,
 * `EnvironmentHelper`):
 *
 * - task context: `MESOS_TASK_ID`, `MARATHON_APP_ID`, `MARATHON_APP_VERSION`,
 *   `MARATHON_APP_RESOURCE_CPUS|MEM|DISK|GPUS`, `MARATHON_APP_LABELS` (the label names, escaped,
 *   space-separated) and `MARATHON_APP_LABEL_<NAME>` per label (`MARATHON_APP_DOCKER_IMAGE` is
 *   never set: Stoa has no images);
 * - ports, with the optional prefix of Marathon's `--env_vars_prefix`: `PORT0..PORTn`, `PORT`
 *   (= `PORT0`), `PORTS` (comma-joined), `PORT_<NAME>` per named port (the name upper-cased, as
 *   Marathon does, so `http-api` gives `PORT_HTTP-API`), `PORT_<port>` per non-zero port
 *   definition and `PORT_<host port>` per dynamic one; and `HOST`;
 * - then the app's own `env`, which wins over all of the above (Marathon merges it last).
 *
 * Resource values are written as Marathon (Scala `Double.toString`) writes them: `1.0`, `0.5`,
 * `128.0`; gpus as a whole number.
 *
 * @example
 * ```ts
 * taskEnvironment({ app, taskId: 'shop_web.1a2b', hostname: 'agent-1', ports: [31005] });
 * // { MESOS_TASK_ID: 'shop_web.1a2b', MARATHON_APP_ID: '/shop/web', …, PORT0: '31005', PORT: '31005', PORTS: '31005', HOST: 'agent-1' }
 * ```
 * @module
 */

import { ValidationError } from '@stoa/sdk';
import type { App } from './schema.js';

/** Marathon's limit on one environment variable's value (and name). */
export const MAX_ENV_VALUE_LENGTH = 512;

/** The prefix of the per-label variables. */
export const LABEL_ENV_PREFIX = 'MARATHON_APP_LABEL_';

/** What {@link taskEnvironment} needs. */
export interface TaskEnvironmentOptions {
  /** The app the task is an instance of. */
  app: App;
  /** The task's id. */
  taskId: string;
  /** The hostname of the agent the task runs on. */
  hostname: string;
  /** The host ports assigned to the task, one per port definition, in order. */
  ports: readonly number[];
  /** Marathon's `--env_vars_prefix`: prepended to the port variables and `HOST`. @default '' */
  envPrefix?: string;
}

/**
 * A label name as it appears in `MARATHON_APP_LABEL_<NAME>`: each run of characters other than
 * ASCII letters, digits and `_` becomes one `_`, then everything is upper-cased
 * (`com.example/tier` → `COM_EXAMPLE_TIER`).
 */
export function labelEnvName(label: string): string {
  return label.replace(/[^a-zA-Z0-9_]+/g, '_').toUpperCase();
}

/**
 * A number as Scala's `Double.toString` writes it, which is what Marathon puts into
 * `MARATHON_APP_RESOURCE_*`: `1` → `1.0`, `0.25` → `0.25`, `1e7` → `1.0E7`, `1e-4` → `1.0E-4`.
 */
export function formatDouble(value: number): string {
  const magnitude = Math.abs(value);
  if (value === 0) return '0.0';
  if (magnitude >= 1e-3 && magnitude < 1e7) return Number.isInteger(value) ? `${value}.0` : String(value);
  const [mantissa = '', exponent = ''] = value.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${exponent.replace('+', '')}`;
}

/** `MARATHON_APP_LABELS` and `MARATHON_APP_LABEL_<NAME>` for an app's labels; labels too long for Marathon's limits are left out, as Marathon does. */
export function labelEnvironment(labels: Readonly<Record<string, string>>): Record<string, string> {
  const names: string[] = [];
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (key.length >= MAX_ENV_VALUE_LENGTH - LABEL_ENV_PREFIX.length || value.length >= MAX_ENV_VALUE_LENGTH) continue;
    const name = labelEnvName(key);
    names.push(name);
    values[`${LABEL_ENV_PREFIX}${name}`] = value;
  }
  return { MARATHON_APP_LABELS: names.join(' '), ...values };
}

/**
 * The port variables for the host ports assigned to a task. Throws a `ValidationError` (field
 * `ports`) when the number of ports is not the number of the app's port definitions.
 */
export function portEnvironment(app: App, ports: readonly number[]): Record<string, string> {
  const definitions = app.portDefinitions;
  if (ports.length !== definitions.length) {
    throw new ValidationError(`app ${app.id} has ${definitions.length} port(s), but ${ports.length} were assigned`, {
      details: { field: 'ports' },
    });
  }
  if (ports.length === 0) return {};
  const env: Record<string, string> = {};
  ports.forEach((port, i) => {
    env[`PORT${i}`] = String(port);
  });
  ports.forEach((port, i) => {
    const requested = definitions[i]!.port;
    env[`PORT_${requested === 0 ? port : requested}`] = String(port);
  });
  ports.forEach((port, i) => {
    const name = definitions[i]!.name;
    if (name !== undefined) env[`PORT_${name.toUpperCase()}`] = String(port);
  });
  env.PORT = String(ports[0]);
  env.PORTS = ports.join(',');
  return env;
}

/** The whole environment of a task of `app`: see the module's description for what and in which precedence. */
export function taskEnvironment(options: TaskEnvironmentOptions): Record<string, string> {
  const { app, taskId, hostname, ports, envPrefix = '' } = options;
  const context: Record<string, string> = {
    MESOS_TASK_ID: taskId,
    MARATHON_APP_ID: app.id,
    ...(app.version === undefined ? {} : { MARATHON_APP_VERSION: app.version }),
    MARATHON_APP_RESOURCE_CPUS: formatDouble(app.cpus),
    MARATHON_APP_RESOURCE_MEM: formatDouble(app.mem),
    MARATHON_APP_RESOURCE_DISK: formatDouble(app.disk),
    MARATHON_APP_RESOURCE_GPUS: String(app.gpus),
    ...labelEnvironment(app.labels),
  };
  const host: Record<string, string> = { ...portEnvironment(app, ports), HOST: hostname };
  const prefixed = Object.fromEntries(Object.entries(host).map(([key, value]) => [`${envPrefix}${key}`, value]));
  return { ...context, ...prefixed, ...app.env };
}
