/**
 * The Marathon v2 app definition: the JSON body of `POST /v2/apps`, as a zod 4 schema
 * ({@link AppDefinitionSchema}, shapes and ranges only), and the app as Stoa keeps it
 * ({@link App}: ids resolved, Marathon's defaults applied, legacy fields folded into their
 * successors). `parseApp` in `validate.ts` goes from one to the other with the cross-field
 * checks; use it rather than the schema alone.
 *
 * Defaults are Marathon's (the 1.9 RAML types `app.raml`, `healthCheck.raml`,
 * `readinessCheck.raml`, `unreachableStrategy.raml`, and `UpgradeStrategy.empty`), collected in
 * {@link APP_DEFAULTS}, {@link HEALTH_CHECK_DEFAULTS}, {@link READINESS_CHECK_DEFAULTS}.
 *
 * @example
 * ```ts
 * const body: AppDefinition = { id: '/shop/web', cmd: 'python3 -m http.server $PORT0', instances: 3 };
 * const app: App = parseApp(body); // cpus 1, mem 128, portDefinitions [{ port: 0, … }], …
 * ```
 * @module
 */

import { z } from 'zod';
import type { MarathonConstraint } from './constraints.js';

/** Which instances go first when an app scales down. */
export const KILL_SELECTIONS = ['YOUNGEST_FIRST', 'OLDEST_FIRST'] as const;
/** Which instances go first when an app scales down. */
export type KillSelection = (typeof KILL_SELECTIONS)[number];

/**
 * Health check protocols. In Marathon `HTTP`, `HTTPS` and `TCP` run in Marathon and the
 * `MESOS_` ones on the agent; in Stoa every check runs on the agent, so each `MESOS_` protocol
 * behaves as its plain twin.
 */
export const HEALTH_CHECK_PROTOCOLS = ['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP'] as const;
/** A health check protocol. */
export type HealthCheckProtocol = (typeof HEALTH_CHECK_PROTOCOLS)[number];

/** The protocols of a port definition. */
export const PORT_PROTOCOLS = ['tcp', 'udp', 'tcp,udp'] as const;
/** The protocol of a port definition. */
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

/** Port names: lowercase letters, digits and hyphens (Marathon's rule). */
export const PORT_NAME_PATTERN = /^[a-z0-9-]+$/;

/** Marathon's defaults for an app, where the definition leaves a field out. */
export const APP_DEFAULTS = {
  instances: 1,
  cpus: 1,
  mem: 128,
  disk: 0,
  gpus: 0,
  executor: '',
  requirePorts: false,
  backoffSeconds: 1,
  backoffFactor: 1.15,
  /** 300 since Marathon 1.7 (`app.raml`, the backoff docs: "default: 5 minutes"); 3600 before. */
  maxLaunchDelaySeconds: 300,
  killSelection: 'YOUNGEST_FIRST',
  /** `UpgradeStrategy.empty`: keep every instance healthy, start up to all new ones at once. */
  upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
  unreachableStrategy: { inactiveAfterSeconds: 300, expungeAfterSeconds: 600 },
  /** When neither `ports` nor `portDefinitions` is given: one dynamic port. */
  portDefinitions: [{ port: 0, protocol: 'tcp', labels: {} }],
} as const;

/** Marathon's defaults for a health check. */
export const HEALTH_CHECK_DEFAULTS = {
  protocol: 'HTTP',
  gracePeriodSeconds: 300,
  intervalSeconds: 60,
  timeoutSeconds: 20,
  maxConsecutiveFailures: 3,
  delaySeconds: 15,
  path: '/',
  portIndex: 0,
  ignoreHttp1xx: false,
} as const;

/** Marathon's defaults for a readiness check. */
export const READINESS_CHECK_DEFAULTS = {
  name: 'readinessCheck',
  protocol: 'HTTP',
  path: '/',
  portName: 'http-api',
  intervalSeconds: 30,
  timeoutSeconds: 10,
  httpStatusCodesForReady: [200],
  preserveLastResponse: false,
} as const;

// ---------------------------------------------------------------------------------------------
// The app as Stoa keeps it.

/** A port the app's tasks listen on (host networking: one host port per definition). */
export interface PortDefinition {
  /**
   * `0`: any free host port. Otherwise, with `requirePorts`, the host port itself; without, a
   * service port (for load balancers) while the host port is any free one.
   */
  port: number;
  /** @default 'tcp' */
  protocol: PortProtocol;
  /** Unique among the app's ports; gives the task `PORT_<NAME>`. */
  name?: string;
  /** @default {} */
  labels: Record<string, string>;
}

/** A health check, with Marathon's defaults applied. */
export interface AppHealthCheck {
  /** @default 'HTTP' */
  protocol: HealthCheckProtocol;
  /** Failures within this many seconds of the task's start (and before its first success) do not count. @default 300 */
  gracePeriodSeconds: number;
  /** @default 60 */
  intervalSeconds: number;
  /** @default 20 */
  timeoutSeconds: number;
  /** Kill the task after this many consecutive failures; 0 never does. @default 3 */
  maxConsecutiveFailures: number;
  /** Wait this long before the first check. @default 15 */
  delaySeconds: number;
  /** HTTP(S) and TCP checks: the index of the port to check (exclusive with {@link port}). @default 0 when `port` is absent */
  portIndex?: number;
  /** HTTP(S) and TCP checks: a fixed port to check (exclusive with {@link portIndex}). */
  port?: number;
  /** HTTP(S) checks: the path to request. @default '/' */
  path?: string;
  /** COMMAND checks: the shell command; exit code 0 is healthy. */
  command?: { value: string };
  /** `HTTP` and `HTTPS` checks: whether 1xx responses are ignored. @default false */
  ignoreHttp1xx?: boolean;
}

/** A readiness check: a deployment waits for it before it counts a new task as ready. */
export interface ReadinessCheck {
  /** @default 'readinessCheck' */
  name: string;
  /** @default 'HTTP' */
  protocol: 'HTTP' | 'HTTPS';
  /** @default '/' */
  path: string;
  /** The name of one of the app's ports. @default 'http-api' */
  portName: string;
  /** @default 30 */
  intervalSeconds: number;
  /** Less than `intervalSeconds`. @default 10 */
  timeoutSeconds: number;
  /** @default [200] */
  httpStatusCodesForReady: number[];
  /** @default false */
  preserveLastResponse: boolean;
}

/**
 * A step of a rolling upgrade (a Stoa extension): a number of new instances, or a percentage
 * of `instances` (rounded up) written `'25%'`.
 */
export type UpgradeStep = number | `${number}%`;

/** How a deployment replaces old instances with new ones. */
export interface UpgradeStrategy {
  /** The share of `instances` kept healthy during an upgrade, in [0, 1]. @default 1 */
  minimumHealthCapacity: number;
  /** The share of `instances` that may run on top of `instances` during an upgrade, in [0, 1]. @default 1 */
  maximumOverCapacity: number;
  /**
   * Stoa extension: the counts of new instances to reach one after the other, each step
   * waiting for the previous to be healthy, such as `[1, '25%', '50%', '100%']`. Increasing;
   * the last is `'100%'`. Absent: Marathon's behaviour, bounded only by the two capacities.
   */
  steps?: UpgradeStep[];
  /** Stoa extension, for the deployment planner: a restart not finished after this many seconds fails. */
  deadlineSeconds?: number;
  /** Stoa extension, for the deployment planner: a restart making no progress for this many seconds fails. */
  progressDeadlineSeconds?: number;
  /** Stoa extension, for the deployment planner: roll a failed deployment back to the previous definition. @default false */
  autoRollback?: boolean;
}

/** When an unreachable instance is replaced and when it is forgotten; or `'disabled'`. */
export type UnreachableStrategy = { inactiveAfterSeconds: number; expungeAfterSeconds: number } | 'disabled';

/** A file the agent fetches into the task's sandbox. */
export interface FetchUri {
  uri: string;
  /** @default false */
  executable: boolean;
  /** @default true */
  extract: boolean;
  /** @default false */
  cache: boolean;
  /** The file name in the sandbox. @default the URI's last path segment */
  destPath?: string;
}

/** When the definition last changed, by kind of change (ISO-8601 timestamps). */
export interface VersionInfo {
  /** The last change of any kind, scaling included. */
  lastScalingAt: string;
  /** The last change that needed the tasks to restart. */
  lastConfigChangeAt: string;
}

/** A network the app's tasks join. Stoa runs tasks on the host network only. */
export interface AppNetwork {
  mode: 'host';
}

/**
 * A Marathon app as Stoa keeps it: the id absolute, Marathon's defaults applied, `ports` folded
 * into `portDefinitions` and `uris` into `fetch`, dependencies absolute. Exactly one of `cmd`
 * and `args` is present.
 */
export interface App {
  /** Absolute path, such as `/shop/web`. */
  id: string;
  /** A shell command (`sh -c`). */
  cmd?: string;
  /** An argv run without a shell; `args[0]` is the program. */
  args?: string[];
  /** The user to run as. */
  user?: string;
  /** @default 1 */
  instances: number;
  /** At least 0.001 (Marathon's minimum). @default 1 */
  cpus: number;
  /** MiB. @default 128 */
  mem: number;
  /** MiB. @default 0 */
  disk: number;
  /** @default 0 */
  gpus: number;
  /** `''` or `'//cmd'`: the command executor. @default '' */
  executor: string;
  /** @default [{ port: 0, protocol: 'tcp', labels: {} }] when neither `ports` nor `portDefinitions` was given */
  portDefinitions: PortDefinition[];
  /** Use the port definitions' numbers as host ports. @default false */
  requirePorts: boolean;
  /** @default {} */
  env: Record<string, string>;
  /** @default {} */
  labels: Record<string, string>;
  /** @default [] */
  constraints: MarathonConstraint[];
  /** At most one in Stoa. @default [] */
  healthChecks: AppHealthCheck[];
  /** At most one. @default [] */
  readinessChecks: ReadinessCheck[];
  /** @default { minimumHealthCapacity: 1, maximumOverCapacity: 1 } */
  upgradeStrategy: UpgradeStrategy;
  /** @default 1 */
  backoffSeconds: number;
  /** @default 1.15 */
  backoffFactor: number;
  /** @default 300 */
  maxLaunchDelaySeconds: number;
  /** Absolute ids of apps or groups this app waits for. @default [] */
  dependencies: string[];
  /** @default 'YOUNGEST_FIRST' */
  killSelection: KillSelection;
  /** @default { inactiveAfterSeconds: 300, expungeAfterSeconds: 600 } */
  unreachableStrategy: UnreachableStrategy;
  /** Seconds between SIGTERM and SIGKILL; absent: the agent's default. */
  taskKillGracePeriodSeconds?: number;
  /** Roles whose resources the app may use; absent: the framework's defaults. */
  acceptedResourceRoles?: string[];
  /** @default [] */
  fetch: FetchUri[];
  /** Always `[{ mode: 'host' }]`: the only network Stoa has. */
  networks: AppNetwork[];
  /** The role to launch under; absent: the framework's. */
  role?: string;
  /** The version of this definition (ISO-8601), set when it is stored. */
  version?: string;
  /** When it last scaled and last changed config, set when it is stored. */
  versionInfo?: VersionInfo;
}

// ---------------------------------------------------------------------------------------------
// The JSON body: shapes and ranges. Cross-field rules live in validate.ts.

const Seconds = z.number().int().min(0);
const Port = z.number().int().min(0).max(65535);
const Labels = z.record(z.string(), z.string());

/** A port definition as written in JSON. */
export const PortDefinitionSchema = z.strictObject({
  port: Port.optional(),
  protocol: z.enum(PORT_PROTOCOLS).optional(),
  name: z.string().max(63).regex(PORT_NAME_PATTERN, 'must consist of lowercase letters, digits and hyphens').optional(),
  labels: Labels.optional(),
});

/** A health check as written in JSON. */
export const HealthCheckSchema = z.strictObject({
  protocol: z.enum(HEALTH_CHECK_PROTOCOLS).optional(),
  gracePeriodSeconds: Seconds.optional(),
  intervalSeconds: Seconds.optional(),
  timeoutSeconds: Seconds.optional(),
  maxConsecutiveFailures: Seconds.optional(),
  delaySeconds: Seconds.optional(),
  portIndex: z.number().int().min(0).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  path: z.string().min(1).max(1024).optional(),
  command: z.strictObject({ value: z.string().min(1) }).optional(),
  ignoreHttp1xx: z.boolean().optional(),
  /** Only `IPv4` (the default) is supported. */
  ipProtocol: z.enum(['IPv4', 'IPv6']).optional(),
});

/** A readiness check as written in JSON. */
export const ReadinessCheckSchema = z.strictObject({
  name: z.string().min(1).optional(),
  protocol: z.enum(['HTTP', 'HTTPS']).optional(),
  path: z.string().min(1).max(1024).optional(),
  portName: z.string().min(1).optional(),
  intervalSeconds: Seconds.optional(),
  timeoutSeconds: z.number().int().min(1).optional(),
  httpStatusCodesForReady: z.array(z.number().int().min(100).max(999)).min(1).optional(),
  preserveLastResponse: z.boolean().optional(),
});

const Capacity = z.number().min(0).max(1);

/** An upgrade step as written in JSON: a positive count, or a percentage in (0, 100] such as `'25%'`. */
export const UpgradeStepSchema = z.union([z.number().int().min(1), z.string().regex(/^(?:100|[1-9]?\d(?:\.\d+)?)%$/)], {
  error: 'must be a positive whole number or a percentage such as "25%"',
});

/** An upgrade strategy as written in JSON. */
export const UpgradeStrategySchema = z.strictObject({
  minimumHealthCapacity: Capacity.optional(),
  maximumOverCapacity: Capacity.optional(),
  steps: z.array(UpgradeStepSchema).min(1).optional(),
  deadlineSeconds: z.number().positive().optional(),
  progressDeadlineSeconds: z.number().positive().optional(),
  autoRollback: z.boolean().optional(),
});

/** An unreachable strategy as written in JSON. */
export const UnreachableStrategySchema = z.union(
  [
    z.literal('disabled'),
    z.strictObject({
      inactiveAfterSeconds: z.number().int().min(1).optional(),
      expungeAfterSeconds: z.number().int().min(1).optional(),
    }),
  ],
  { error: 'must be "disabled" or an object { inactiveAfterSeconds, expungeAfterSeconds }' },
);

/** A fetch entry as written in JSON. */
export const FetchUriSchema = z.strictObject({
  uri: z.string().min(1).max(1024),
  executable: z.boolean().optional(),
  extract: z.boolean().optional(),
  cache: z.boolean().optional(),
  destPath: z.string().min(1).optional(),
});

/** A network as written in JSON; only `{ mode: 'host' }` passes validation. */
export const NetworkSchema = z.strictObject({
  mode: z.enum(['container', 'container/bridge', 'host']).optional(),
  name: z.string().optional(),
  labels: Labels.optional(),
});

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))$/;

/**
 * Whether `value` is an ISO-8601 timestamp with a time zone, such as Marathon's
 * `2015-04-02T09:37:00.596Z`, naming a real date and time (no 30th of February).
 */
export function isTimestamp(value: string): boolean {
  const m = TIMESTAMP.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = m.slice(1).map((part) => (part === undefined ? undefined : Number(part)));
  if (month === undefined || month < 1 || month > 12) return false;
  const days = new Date(Date.UTC(year ?? 0, month, 0)).getUTCDate();
  const fits = (day ?? 0) >= 1 && (day ?? 0) <= days && (hour ?? 0) <= 23 && (minute ?? 0) <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59;
  return fits && !Number.isNaN(Date.parse(value));
}

/** An ISO-8601 timestamp with a time zone ({@link isTimestamp}). */
export const TimestampSchema = z.string().refine(isTimestamp, 'must be an ISO-8601 timestamp with a time zone, such as 2015-04-02T09:37:00.596Z');

/** `versionInfo` as written in JSON. */
export const VersionInfoSchema = z.strictObject({
  lastScalingAt: TimestampSchema,
  lastConfigChangeAt: TimestampSchema,
});

/**
 * The JSON body of an app definition: every field Stoa supports, with its type and range.
 * Unknown fields fail (strict objects). Fields Stoa does not support are taken out and reported
 * before this schema runs, and the rules that involve several fields are checked after it; see
 * `parseApp`. `env` values and `constraints` are checked there too, for messages that name the
 * problem.
 */
export const AppDefinitionSchema = z.strictObject({
  id: z.string(),
  cmd: z.string().min(1).optional(),
  args: z.array(z.string()).min(1).optional(),
  user: z.string().min(1).optional(),
  instances: z.number().int().min(0).optional(),
  cpus: z.number().min(0.001).optional(),
  mem: z.number().min(0).optional(),
  disk: z.number().min(0).optional(),
  gpus: z.number().int().min(0).optional(),
  executor: z.string().optional(),
  portDefinitions: z.array(PortDefinitionSchema).optional(),
  ports: z.array(Port).optional(),
  requirePorts: z.boolean().optional(),
  env: z.record(z.string(), z.unknown()).optional(),
  labels: Labels.optional(),
  constraints: z.array(z.unknown()).optional(),
  healthChecks: z.array(HealthCheckSchema).optional(),
  readinessChecks: z.array(ReadinessCheckSchema).optional(),
  upgradeStrategy: UpgradeStrategySchema.optional(),
  backoffSeconds: Seconds.optional(),
  backoffFactor: z.number().min(1).optional(),
  maxLaunchDelaySeconds: Seconds.optional(),
  dependencies: z.array(z.string()).optional(),
  killSelection: z.enum(KILL_SELECTIONS).optional(),
  unreachableStrategy: UnreachableStrategySchema.optional(),
  taskKillGracePeriodSeconds: Seconds.optional(),
  acceptedResourceRoles: z.array(z.string()).optional(),
  uris: z.array(z.string().min(1).max(1024)).optional(),
  fetch: z.array(FetchUriSchema).optional(),
  networks: z.array(NetworkSchema).optional(),
  role: z.string().optional(),
  version: TimestampSchema.optional(),
  versionInfo: VersionInfoSchema.optional(),
});

/** An app definition as a client writes it (the JSON body of `POST /v2/apps`). */
export type AppDefinition = z.input<typeof AppDefinitionSchema>;

/** {@link AppDefinitionSchema}'s output: shapes checked, nothing resolved or defaulted yet. */
export type CheckedAppDefinition = z.output<typeof AppDefinitionSchema>;

/**
 * Fields of Marathon's app definition that Stoa does not support, with why. A definition that
 * sets one to anything but an empty value (`null`, `[]`, `{}`, `''`) is refused; empty values
 * are what Marathon's own output carries for them, so a definition read from Marathon still
 * passes.
 */
export const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = {
  container: 'Stoa runs tasks as processes on the agent, without container images',
  docker: 'Stoa runs tasks as processes on the agent, without container images',
  residency: 'Stoa has no resident tasks (local persistent volumes)',
  secrets: 'Stoa has no secret store',
  ipAddress: 'Stoa runs tasks on the host network only',
  taskGroup: 'Stoa runs Marathon apps as single tasks, not task groups (pods)',
  storeUrls: 'Stoa has no artifact store',
  resourceLimits: 'Stoa has no resource limits beyond the requested resources',
  executorResources: 'Stoa runs apps with the command executor, which needs no resources of its own',
  check: 'Stoa runs health checks only (no Mesos checks)',
  tty: 'Stoa tasks have no TTY',
};

/**
 * Fields of Marathon's `GET /v2/apps/{id}` answer that describe the app's state, not its
 * definition. A definition that carries one is refused with a message saying so.
 */
export const STATUS_FIELDS: readonly string[] = [
  'tasksStaged',
  'tasksRunning',
  'tasksHealthy',
  'tasksUnhealthy',
  'deployments',
  'tasks',
  'lastTaskFailure',
  'readinessCheckResults',
  'taskStats',
];
