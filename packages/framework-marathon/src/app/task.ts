/**
 * From an app to the protocol's `TaskInfo` for one of its instances, as Marathon's
 * `TaskBuilder` makes a Mesos TaskInfo:
 *
 * - name: the app id as a hostname (`/shop/web` → `web.shop`);
 * - command: `cmd` through the shell; `args` as an argv without one (`value` is `args[0]`, as
 *   Marathon sets it for the command executor); the environment of `env.ts`; `fetch` as URIs;
 *   `user`;
 * - resources: `cpus` and `mem`, `disk` and `gpus` when not 0 (Marathon leaves a zero disk out),
 *   and the assigned host ports as one `ports` range resource, all of one role;
 * - the health check, with its port resolved (`portIndex` → the assigned host port);
 * - `taskKillGracePeriodSeconds` as the kill policy; the app's labels.
 *
 * @example
 * ```ts
 * const task = buildTaskInfo({ app, taskId: taskIdFor(app.id, randomUUID()), agentId: offer.agentId,
 *   hostname: offer.hostname, ports: placement.ports[taskId] ?? [] });
 * ```
 * @module
 */

import {
  type CommandInfo,
  type CommandUri,
  type HealthCheck,
  portsToRanges,
  type Resource,
  type TaskInfo,
  UNRESERVED_ROLE,
  ValidationError,
} from '@stoa/sdk';
import { taskEnvironment } from './env.js';
import { appIdToHostname } from './ids.js';
import type { App, AppHealthCheck, FetchUri } from './schema.js';

/** What {@link buildTaskInfo} needs. */
export interface BuildTaskInfoOptions {
  /** The app the task is an instance of. */
  app: App;
  /** The task's id (see `taskIdFor`). */
  taskId: string;
  /** The agent the task runs on. */
  agentId: string;
  /** The agent's hostname (`HOST`). */
  hostname: string;
  /** The host ports assigned to the task, one per port definition, in order. */
  ports: readonly number[];
  /**
   * The resources the task uses, as taken from the offer (for example by `placeTasks`), ports
   * included. Absent: built from the app with {@link taskResources} for {@link role}.
   */
  resources?: Resource[];
  /**
   * The role of the resources when {@link resources} is absent.
   * @default {@link defaultTaskRole}(app)
   */
  role?: string;
  /** Marathon's `--env_vars_prefix` for the port variables and `HOST`. @default '' */
  envPrefix?: string;
}

/**
 * The role an app's task uses by default: unreserved (`*`) when `acceptedResourceRoles` is
 * absent or contains `*`, else its first role.
 */
export function defaultTaskRole(app: App): string {
  const roles = app.acceptedResourceRoles;
  if (roles === undefined || roles.includes(UNRESERVED_ROLE)) return UNRESERVED_ROLE;
  return roles[0] ?? UNRESERVED_ROLE;
}

function scalar(name: string, value: number, role: string): Resource {
  return role === UNRESERVED_ROLE ? { name, type: 'SCALAR', scalar: value } : { name, type: 'SCALAR', scalar: value, role };
}

/**
 * The resources of one task of `app` with `ports` as its host ports, all of `role`:
 * `cpus`, `mem`, `disk` and `gpus` when not 0, and `ports` when there are any.
 */
export function taskResources(app: App, ports: readonly number[], role: string = defaultTaskRole(app)): Resource[] {
  const out: Resource[] = [scalar('cpus', app.cpus, role), scalar('mem', app.mem, role)];
  if (app.disk > 0) out.push(scalar('disk', app.disk, role));
  if (app.gpus > 0) out.push(scalar('gpus', app.gpus, role));
  if (ports.length > 0) {
    const ranges = portsToRanges(ports);
    out.push(role === UNRESERVED_ROLE ? { name: 'ports', type: 'RANGES', ranges } : { name: 'ports', type: 'RANGES', ranges, role });
  }
  return out;
}

/** The URIs the agent fetches for `fetch` entries (`destPath` is the protocol's `outputFile`). */
export function fetchToCommandUris(fetch: readonly FetchUri[]): CommandUri[] {
  return fetch.map((f) => ({
    value: f.uri,
    executable: f.executable,
    extract: f.extract,
    cache: f.cache,
    ...(f.destPath === undefined ? {} : { outputFile: f.destPath }),
  }));
}

/**
 * The protocol's health check for an app's health check, for a task with host ports `ports`.
 * `MESOS_` protocols map to their plain twins, since the agent runs every check. Throws a
 * `ValidationError` when `portIndex` has no assigned port.
 */
export function toTaskHealthCheck(check: AppHealthCheck, ports: readonly number[]): HealthCheck {
  const timing = {
    delayMs: check.delaySeconds * 1000,
    intervalMs: check.intervalSeconds * 1000,
    timeoutMs: check.timeoutSeconds * 1000,
    gracePeriodMs: check.gracePeriodSeconds * 1000,
    consecutiveFailures: check.maxConsecutiveFailures,
  };
  if (check.protocol === 'COMMAND') {
    return { type: 'COMMAND', ...timing, command: { shell: true, value: check.command?.value ?? '' } };
  }
  const port = check.port ?? ports[check.portIndex ?? 0];
  if (port === undefined) {
    throw new ValidationError(`health check port index ${check.portIndex ?? 0} has no assigned port (${ports.length} assigned)`, {
      details: { field: 'healthChecks.0.portIndex' },
    });
  }
  switch (check.protocol) {
    case 'HTTP':
    case 'MESOS_HTTP':
      return { type: 'HTTP', ...timing, http: { port, path: check.path ?? '/' } };
    case 'HTTPS':
    case 'MESOS_HTTPS':
      return { type: 'HTTPS', ...timing, http: { port, path: check.path ?? '/' } };
    case 'TCP':
    case 'MESOS_TCP':
      return { type: 'TCP', ...timing, tcp: { port } };
  }
}

/** The command of a task of `app`, with `environment` (see `taskEnvironment`). */
export function taskCommand(app: App, environment: Record<string, string>): CommandInfo {
  const command: CommandInfo =
    app.args !== undefined
      ? { shell: false, value: app.args[0] ?? '', arguments: [...app.args], environment }
      : { shell: true, value: app.cmd ?? '', environment };
  if (app.fetch.length > 0) command.uris = fetchToCommandUris(app.fetch);
  if (app.user !== undefined) command.user = app.user;
  return command;
}

/**
 * The `TaskInfo` of one instance of `app` on an agent. Throws a `ValidationError` when the
 * ports do not fit the app (a different number than its port definitions, or, with
 * `requirePorts`, other ports than the required ones), or when `resources` use a role the app
 * does not accept.
 */
export function buildTaskInfo(options: BuildTaskInfoOptions): TaskInfo {
  const { app, taskId, agentId, hostname, ports } = options;
  if (app.requirePorts) {
    app.portDefinitions.forEach((definition, i) => {
      if (ports[i] !== undefined && ports[i] !== definition.port) {
        throw new ValidationError(`app ${app.id} requires port ${definition.port} as its port ${i}, but got ${ports[i]}`, {
          details: { field: 'ports' },
        });
      }
    });
  }
  const environment = taskEnvironment({ app, taskId, hostname, ports, envPrefix: options.envPrefix ?? '' });
  const resources = options.resources ?? taskResources(app, ports, options.role ?? defaultTaskRole(app));
  const accepted = app.acceptedResourceRoles;
  if (accepted !== undefined) {
    for (const r of resources) {
      const role = r.role ?? UNRESERVED_ROLE;
      if (!accepted.includes(role)) {
        throw new ValidationError(`app ${app.id} does not accept resources of role "${role}" (${r.name})`, {
          details: { field: 'resources', acceptedResourceRoles: accepted },
        });
      }
    }
  }
  const task: TaskInfo = {
    taskId,
    name: appIdToHostname(app.id),
    agentId,
    resources,
    command: taskCommand(app, environment),
  };
  const check = app.healthChecks[0];
  if (check !== undefined) task.healthCheck = toTaskHealthCheck(check, ports);
  if (app.taskKillGracePeriodSeconds !== undefined) task.killPolicy = { gracePeriodMs: app.taskKillGracePeriodSeconds * 1000 };
  if (Object.keys(app.labels).length > 0) task.labels = { ...app.labels };
  return task;
}
