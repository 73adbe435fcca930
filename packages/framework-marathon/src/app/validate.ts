/**
 * Validation of app definitions, strict as Stoa wants it: nothing in a definition is silently
 * ignored. A field Stoa does not support is an error that says so ("not supported by Stoa"), an
 * unknown field is an error naming it ("unknown field"), and every range and cross-field rule
 * of Marathon is checked, each error naming its field in Marathon's path form
 * (`/healthChecks(0)/portIndex`). Errors come all at once, in Marathon's 422 body shape:
 * `{ message: 'Object is not valid', details: [{ path, errors }] }` ({@link AppValidationError}).
 *
 * `parseApp` serves `POST /v2/apps` (and reads stored apps back: a parsed {@link App} parses to
 * itself), `replaceApp` serves `PUT /v2/apps/{id}` and `mergeApp` serves `PATCH /v2/apps/{id}`.
 *
 * **`version` and `versionInfo` are read-only.** They are accepted on input, so that a
 * definition read from `GET /v2/apps/{id}` can be sent back as it is, and they must be
 * well-formed timestamps. `parseApp` keeps them as given (it has nothing to compare them with);
 * `replaceApp` and `mergeApp` accept them only when they equal the current app's, and refuse a
 * different value, rather than ignore it: it would otherwise look as if a client could set them.
 * The result carries the current app's values. Whoever stores an app sets both with
 * `stampVersion` (version.ts).
 *
 * `null` for a field means the field is absent (Marathon's own output writes `null` for unset
 * fields); in a PATCH it resets the field to its default.
 *
 * @example
 * ```ts
 * try {
 *   const app = parseApp(await c.req.json(), { baseGroup: '/' });
 * } catch (e) {
 *   if (AppValidationError.isInstance(e)) return c.json(e.body, 422);
 *   throw e;
 * }
 * ```
 * @module
 */

import { RoleSchema, type StoaErrorOptions, ValidationError } from '@stoa/sdk';
import type { z } from 'zod';
import { constraintProblems, type MarathonConstraint } from './constraints.js';
import { checkAppId, checkId, isAbsoluteId, isWithin, parentId, ROOT_ID } from './ids.js';
import {
  APP_DEFAULTS,
  type App,
  AppDefinitionSchema,
  type AppHealthCheck,
  type CheckedAppDefinition,
  type FetchUri,
  HEALTH_CHECK_DEFAULTS,
  type HealthCheckProtocol,
  isTimestamp,
  type PortDefinition,
  READINESS_CHECK_DEFAULTS,
  type ReadinessCheck,
  STATUS_FIELDS,
  UNSUPPORTED_FIELDS,
  type UnreachableStrategy,
  type UpgradeStep,
  type UpgradeStrategy,
} from './schema.js';

/** One failing field and its errors, as in Marathon's 422 body. */
export interface ValidationDetail {
  /** The field in Marathon's form: `/cpus`, `/healthChecks(0)/portIndex`, `/env/FOO`; `/` for the whole app. */
  path: string;
  /** What is wrong with it. */
  errors: string[];
}

/** Marathon's body for an invalid definition (HTTP 422). */
export interface InvalidObjectBody {
  /** Always `Object is not valid`. */
  message: string;
  /** Every failing field. */
  details: ValidationDetail[];
}

/** The structured details of an {@link AppValidationError}. */
export type AppValidationDetails = {
  /** The first failing field's path (as `ValidationError.field` reports it). */
  field: string;
  /** Every failing field. */
  details: ValidationDetail[];
};

const MARKER = Symbol.for('stoa.marathon.app-validation-error');

/** The message of Marathon's 422 body. */
export const INVALID_OBJECT_MESSAGE = 'Object is not valid';

/**
 * An app definition is invalid. A `ValidationError` (code `VALIDATION_ERROR`) whose `details`
 * carry every failing field; {@link AppValidationError.body} is Marathon's 422 body.
 */
export class AppValidationError extends ValidationError {
  /** `field`: the first failing path; `details`: every failing field with its errors. */
  declare readonly details: AppValidationDetails;

  constructor(details: ValidationDetail[], options?: Omit<StoaErrorOptions, 'details'>) {
    const summary = details.map((d) => `${d.path}: ${d.errors.join('; ')}`).join(', ');
    super(`${INVALID_OBJECT_MESSAGE}: ${summary}`, { ...options, details: { field: details[0]?.path ?? '/', details } });
    this.name = 'AppValidationError';
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** Marathon's 422 body: `{ message: 'Object is not valid', details }`. */
  get body(): InvalidObjectBody {
    return { message: INVALID_OBJECT_MESSAGE, details: this.details.details };
  }

  /** The errors of one path (`'/cpus'`), empty when that field is fine. */
  errorsAt(path: string): string[] {
    return this.details.details.find((d) => d.path === path)?.errors ?? [];
  }

  /** True for an {@link AppValidationError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is AppValidationError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Options of {@link parseApp}. */
export interface ParseAppOptions {
  /** The group a relative `id` is resolved against. @default '/' */
  baseGroup?: string;
}

/** The outcome of {@link safeParseApp}. */
export type SafeParseAppResult = { ok: true; value: App } | { ok: false; error: AppValidationError };

/**
 * Validates an app definition (the JSON body of `POST /v2/apps`) and returns the app with its id
 * resolved and Marathon's defaults applied. Throws an {@link AppValidationError} listing every
 * problem.
 */
export function parseApp(input: unknown, options: ParseAppOptions = {}): App {
  const result = safeParseApp(input, options);
  if (!result.ok) throw result.error;
  return result.value;
}

/**
 * {@link parseApp} without throwing: `{ ok: true, value }` or `{ ok: false, error }`. It throws
 * only for a programming error: a `baseGroup` that is not an absolute id (a `ValidationError`
 * with field `baseGroup`).
 */
export function safeParseApp(input: unknown, options: ParseAppOptions = {}): SafeParseAppResult {
  const baseGroup = options.baseGroup ?? ROOT_ID;
  const base = isAbsoluteId(baseGroup) ? checkId(baseGroup) : ({ ok: false, message: 'must be absolute' } as const);
  if (!base.ok) throw new ValidationError(`invalid base group "${baseGroup}": ${base.message}`, { details: { field: 'baseGroup' } });
  const issues = new Issues();
  const app = analyse(input, base.id, issues);
  if (app === undefined || issues.size > 0) return { ok: false, error: new AppValidationError(issues.details()) };
  return { ok: true, value: app };
}

/**
 * `PUT /v2/apps/{id}`: `input` replaces `current` entirely (fields it leaves out take their
 * defaults). Its `id` may be left out; given, it must name the same app. `version` and
 * `versionInfo`, when given, must equal the current app's (see the module description); the
 * result carries the current app's.
 */
export function replaceApp(current: App, input: unknown, options: ParseAppOptions = {}): App {
  const issues = new Issues();
  if (!isPlainObject(input)) {
    issues.add([], 'expected a JSON object');
    throw new AppValidationError(issues.details());
  }
  const body = { ...input };
  if (body.id === undefined || body.id === null) body.id = current.id;
  checkReadOnly(body, current, issues);
  const result = safeParseApp(body, options);
  if (!result.ok) issues.merge(result.error.details.details);
  else checkSameId(result.value.id, current.id, issues);
  if (!result.ok || issues.size > 0) throw new AppValidationError(issues.details());
  return withVersionOf(result.value, current);
}

/**
 * `PATCH /v2/apps/{id}`: the fields of `patch` replace those of `current`, field by field at the
 * top level (a nested object such as `upgradeStrategy` is replaced whole); `null` resets a field
 * to its default. Giving `cmd` drops the current `args` and the other way round; giving `ports`
 * drops the current `portDefinitions`, and `uris` the current `fetch`. The result is validated
 * as {@link parseApp} does; `id`, `version` and `versionInfo` follow {@link replaceApp}'s rules.
 */
export function mergeApp(current: App, patch: unknown, options: ParseAppOptions = {}): App {
  const issues = new Issues();
  if (!isPlainObject(patch)) {
    issues.add([], 'expected a JSON object');
    throw new AppValidationError(issues.details());
  }
  checkReadOnly(patch, current, issues);
  const merged: Record<string, unknown> = { ...current };
  const replaces: Readonly<Record<string, string>> = { cmd: 'args', args: 'cmd', ports: 'portDefinitions', uris: 'fetch' };
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'version' || key === 'versionInfo') continue;
    const displaced = Object.hasOwn(replaces, key) ? replaces[key] : undefined;
    if (displaced !== undefined && value !== null && !Object.hasOwn(patch, displaced)) delete merged[displaced];
    // A null for a field Stoa does not know stays, so that validation names it.
    if (value === null && Object.hasOwn(AppDefinitionSchema.shape, key)) delete merged[key];
    else merged[key] = value;
  }
  if (merged.id === undefined) merged.id = current.id;
  const result = safeParseApp(merged, options);
  if (!result.ok) issues.merge(result.error.details.details);
  else checkSameId(result.value.id, current.id, issues);
  if (!result.ok || issues.size > 0) throw new AppValidationError(issues.details());
  return withVersionOf(result.value, current);
}

/** The same instant, whatever the time zone it is written in. */
function sameInstant(given: unknown, current: string | undefined): boolean {
  return typeof given === 'string' && current !== undefined && isTimestamp(given) && Date.parse(given) === Date.parse(current);
}

function checkReadOnly(input: Record<string, unknown>, current: App, issues: Issues): void {
  const readOnly = (key: string, value: unknown) =>
    issues.add([key], `is read-only: it is set when the app is stored (current: ${JSON.stringify(value ?? null)})`);
  const version = input.version;
  if (version !== undefined && version !== null && !sameInstant(version, current.version)) readOnly('version', current.version);
  const info = input.versionInfo;
  if (info === undefined || info === null) return;
  const same =
    isPlainObject(info) &&
    Object.keys(info).length === 2 &&
    sameInstant(info.lastScalingAt, current.versionInfo?.lastScalingAt) &&
    sameInstant(info.lastConfigChangeAt, current.versionInfo?.lastConfigChangeAt);
  if (!same) readOnly('versionInfo', current.versionInfo);
}

function checkSameId(id: string, currentId: string, issues: Issues): void {
  if (id !== currentId) issues.add(['id'], `names another app (${id}) than the one being updated (${currentId})`);
}

function withVersionOf(app: App, current: App): App {
  const { version: _version, versionInfo: _versionInfo, ...rest } = app;
  return {
    ...rest,
    ...(current.version === undefined ? {} : { version: current.version }),
    ...(current.versionInfo === undefined ? {} : { versionInfo: current.versionInfo }),
  };
}

// ---------------------------------------------------------------------------------------------

type Path = readonly (string | number)[];

/** Errors by path, in the order they were first seen. */
class Issues {
  private readonly byPath = new Map<string, string[]>();

  get size(): number {
    return this.byPath.size;
  }

  add(path: Path, message: string): void {
    const key = formatPath(path);
    const errors = this.byPath.get(key);
    if (errors === undefined) this.byPath.set(key, [message]);
    else if (!errors.includes(message)) errors.push(message);
  }

  merge(details: readonly ValidationDetail[]): void {
    for (const d of details) {
      const errors = this.byPath.get(d.path) ?? [];
      for (const e of d.errors) if (!errors.includes(e)) errors.push(e);
      this.byPath.set(d.path, errors);
    }
  }

  details(): ValidationDetail[] {
    return [...this.byPath].map(([path, errors]) => ({ path, errors }));
  }
}

/** A path in Marathon's form: names as `/name`, indexes as `(i)`; the whole object is `/`. */
export function formatPath(path: Path): string {
  if (path.length === 0) return '/';
  return path.map((p) => (typeof p === 'number' ? `(${p})` : `/${p}`)).join('');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEmptyValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isPlainObject(value) && Object.keys(value).length === 0;
}

function valueAt(root: unknown, path: Path): unknown {
  let at: unknown = root;
  for (const p of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string | number, unknown>)[p];
  }
  return at;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

const EXPECTED: Readonly<Record<string, string>> = { int: 'a whole number', object: 'an object', array: 'an array' };

function addZodIssues(issues: Issues, zodIssues: readonly z.core.$ZodIssue[], root: unknown, prefix: Path = []): void {
  for (const issue of zodIssues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) issues.add([...path, key], 'unknown field');
        break;
      case 'invalid_type': {
        const value = valueAt(root, path);
        if (value === undefined) issues.add(path, 'is required');
        else issues.add(path, `expected ${EXPECTED[issue.expected] ?? `a ${issue.expected}`}, got ${describe(value)}`);
        break;
      }
      case 'too_small':
      case 'too_big': {
        const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
        const small = issue.code === 'too_small';
        if (issue.origin === 'array') issues.add(path, `must have ${small ? 'at least' : 'at most'} ${bound} item(s)`);
        else if (issue.origin === 'string') {
          issues.add(path, small && Number(bound) === 1 ? 'must not be empty' : `must be ${small ? 'at least' : 'at most'} ${bound} characters long`);
        } else {
          const word = small ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'less than';
          issues.add(path, `must be ${word} ${bound}, got ${describe(valueAt(root, path))}`);
        }
        break;
      }
      case 'invalid_value':
        issues.add(path, `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`);
        break;
      case 'invalid_union': {
        // An object that fails the object branch is best explained by that branch's own issues.
        const objectBranch = isPlainObject(valueAt(root, path))
          ? issue.errors.find((branch) => branch.every((i) => i.path.length > 0 || i.code === 'unrecognized_keys'))
          : undefined;
        if (objectBranch !== undefined) addZodIssues(issues, objectBranch, root, path);
        else issues.add(path, issue.message);
        break;
      }
      default:
        issues.add(path, issue.message);
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Checks everything, collecting issues; returns the app when the shapes were right. */
function analyse(input: unknown, baseGroup: string, issues: Issues): App | undefined {
  if (!isPlainObject(input)) {
    issues.add([], `expected a JSON object, got ${describe(input)}`);
    return undefined;
  }
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === null && Object.hasOwn(AppDefinitionSchema.shape, key)) continue;
    if (Object.hasOwn(UNSUPPORTED_FIELDS, key)) {
      if (!isEmptyValue(value)) issues.add([key], `not supported by Stoa: ${UNSUPPORTED_FIELDS[key]}`);
      continue;
    }
    if (STATUS_FIELDS.includes(key)) {
      issues.add([key], 'unknown field: it is read-only status from GET /v2/apps, not part of a definition');
      continue;
    }
    body[key] = value;
  }
  const parsed = AppDefinitionSchema.safeParse(body);
  if (!parsed.success) {
    addZodIssues(issues, parsed.error.issues, body);
    checkWithoutShape(body, baseGroup, issues);
    return undefined;
  }
  return normalise(parsed.data, baseGroup, issues);
}

/**
 * When the shapes are wrong the cross-field rules cannot run, but the fields that stand alone
 * still can, so that one answer lists as much as possible.
 */
function checkWithoutShape(body: Record<string, unknown>, baseGroup: string, issues: Issues): void {
  const idCheck = typeof body.id === 'string' ? checkAppId(body.id, baseGroup) : undefined;
  if (idCheck !== undefined && !idCheck.ok) issues.add(['id'], idCheck.message);
  const partial = {} as CheckedAppDefinition;
  if (isPlainObject(body.env)) partial.env = body.env;
  if (Array.isArray(body.constraints)) partial.constraints = body.constraints;
  resolveEnv(partial, issues);
  resolveConstraints(partial, issues);
}

/** The cross-field rules, and the app with defaults applied. */
function normalise(def: CheckedAppDefinition, baseGroup: string, issues: Issues): App {
  const idCheck = checkAppId(def.id, baseGroup);
  if (!idCheck.ok) issues.add(['id'], idCheck.message);
  const id = idCheck.ok ? idCheck.id : def.id;

  checkCommand(def, issues);
  checkExecutor(def, issues);
  checkNetworks(def, issues);
  const portDefinitions = resolvePorts(def, issues);
  const env = resolveEnv(def, issues);
  const constraints = resolveConstraints(def, issues);
  const healthChecks = resolveHealthChecks(def, portDefinitions, issues);
  const readinessChecks = resolveReadinessChecks(def, portDefinitions, issues);
  const upgradeStrategy = resolveUpgradeStrategy(def, issues);
  const dependencies = resolveDependencies(def, id, idCheck.ok, issues);
  const unreachableStrategy = resolveUnreachableStrategy(def, issues);
  checkRoles(def, issues);
  const fetch = resolveFetch(def, issues);
  checkSingleInstance(def, upgradeStrategy, issues);

  const app: App = {
    id,
    ...(def.cmd === undefined ? {} : { cmd: def.cmd }),
    ...(def.args === undefined ? {} : { args: def.args }),
    ...(def.user === undefined ? {} : { user: def.user }),
    instances: def.instances ?? APP_DEFAULTS.instances,
    cpus: def.cpus ?? APP_DEFAULTS.cpus,
    mem: def.mem ?? APP_DEFAULTS.mem,
    disk: def.disk ?? APP_DEFAULTS.disk,
    gpus: def.gpus ?? APP_DEFAULTS.gpus,
    executor: def.executor ?? APP_DEFAULTS.executor,
    portDefinitions,
    requirePorts: def.requirePorts ?? APP_DEFAULTS.requirePorts,
    env,
    labels: def.labels ?? {},
    constraints,
    healthChecks,
    readinessChecks,
    upgradeStrategy,
    backoffSeconds: def.backoffSeconds ?? APP_DEFAULTS.backoffSeconds,
    backoffFactor: def.backoffFactor ?? APP_DEFAULTS.backoffFactor,
    maxLaunchDelaySeconds: def.maxLaunchDelaySeconds ?? APP_DEFAULTS.maxLaunchDelaySeconds,
    dependencies,
    killSelection: def.killSelection ?? APP_DEFAULTS.killSelection,
    unreachableStrategy,
    ...(def.taskKillGracePeriodSeconds === undefined ? {} : { taskKillGracePeriodSeconds: def.taskKillGracePeriodSeconds }),
    ...(def.acceptedResourceRoles === undefined ? {} : { acceptedResourceRoles: def.acceptedResourceRoles }),
    fetch,
    networks: [{ mode: 'host' }],
    ...(def.role === undefined ? {} : { role: def.role }),
    ...(def.version === undefined ? {} : { version: new Date(def.version).toISOString() }),
    ...(def.versionInfo === undefined
      ? {}
      : {
          versionInfo: {
            lastScalingAt: new Date(def.versionInfo.lastScalingAt).toISOString(),
            lastConfigChangeAt: new Date(def.versionInfo.lastConfigChangeAt).toISOString(),
          },
        }),
  };
  return app;
}

function checkCommand(def: CheckedAppDefinition, issues: Issues): void {
  if (def.cmd !== undefined && def.args !== undefined) issues.add(['args'], 'must not be given together with "cmd": give exactly one of them');
  if (def.cmd === undefined && def.args === undefined) issues.add([], 'an app needs exactly one of "cmd" (a shell command) and "args" (an argv)');
  if (def.args !== undefined && def.args[0] === '') issues.add(['args', 0], 'the program must not be empty');
}

function checkExecutor(def: CheckedAppDefinition, issues: Issues): void {
  if (def.executor !== undefined && def.executor !== '' && def.executor !== '//cmd') {
    issues.add(['executor'], 'not supported by Stoa: only the command executor ("" or "//cmd")');
  }
}

function checkNetworks(def: CheckedAppDefinition, issues: Issues): void {
  const networks = def.networks ?? [];
  if (networks.length > 1) issues.add(['networks'], 'not supported by Stoa: one network only, the host network ([{"mode": "host"}])');
  networks.forEach((network, i) => {
    const mode = network.mode ?? 'container';
    if (mode !== 'host') issues.add(['networks', i, 'mode'], `not supported by Stoa: "${mode}" networking; only "host"`);
    if (network.name !== undefined) issues.add(['networks', i, 'name'], 'must not be given for the host network');
    if (network.labels !== undefined && Object.keys(network.labels).length > 0) {
      issues.add(['networks', i, 'labels'], 'must not be given for the host network');
    }
  });
}

function resolvePorts(def: CheckedAppDefinition, issues: Issues): PortDefinition[] {
  if (def.ports !== undefined && def.portDefinitions !== undefined) {
    issues.add(['ports'], 'must not be given together with "portDefinitions" (ports is its legacy form)');
  }
  const field = def.portDefinitions !== undefined ? 'portDefinitions' : 'ports';
  const definitions: PortDefinition[] =
    def.portDefinitions?.map((p) => ({
      port: p.port ?? 0,
      protocol: p.protocol ?? 'tcp',
      ...(p.name === undefined ? {} : { name: p.name }),
      labels: p.labels ?? {},
    })) ??
    def.ports?.map((port) => ({ port, protocol: 'tcp', labels: {} })) ??
    APP_DEFAULTS.portDefinitions.map((p) => ({ ...p, labels: {} }));

  const names = new Map<string, number>();
  const numbers = new Map<number, number>();
  definitions.forEach((p, i) => {
    const at = field === 'ports' ? [field, i] : [field, i, 'port'];
    if (p.name !== undefined) {
      const first = names.get(p.name);
      if (first !== undefined) issues.add([field, i, 'name'], `port name "${p.name}" is already used by port ${first}`);
      else names.set(p.name, i);
    }
    if (p.port !== 0) {
      const first = numbers.get(p.port);
      if (first !== undefined) issues.add(at, `port ${p.port} is already used by port ${first}`);
      else numbers.set(p.port, i);
    }
  });
  if (def.requirePorts === true && definitions.some((p) => p.port === 0)) {
    issues.add(['requirePorts'], 'needs every port to be non-zero: with requirePorts the given ports are the host ports');
  }
  return definitions;
}

const ENV_NAME_FORBIDDEN = /[=\0]/;

function resolveEnv(def: CheckedAppDefinition, issues: Issues): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(def.env ?? {})) {
    if (name === '' || ENV_NAME_FORBIDDEN.test(name)) issues.add(['env', name], 'is not a valid variable name (empty, or with "=" or NUL)');
    if (typeof value === 'string') env[name] = value;
    else if (isPlainObject(value) && Object.hasOwn(value, 'secret')) {
      issues.add(['env', name], 'not supported by Stoa: secret references (Stoa has no secret store)');
    } else issues.add(['env', name], `expected a string, got ${describe(value)}`);
  }
  return env;
}

function resolveConstraints(def: CheckedAppDefinition, issues: Issues): MarathonConstraint[] {
  const raw = def.constraints ?? [];
  const seen = new Map<string, number>();
  raw.forEach((constraint, i) => {
    for (const problem of constraintProblems(constraint)) issues.add(['constraints', i], problem);
    const key = JSON.stringify(constraint);
    const first = seen.get(key);
    if (first !== undefined) issues.add(['constraints', i], `is the same as constraint ${first}`);
    else seen.set(key, i);
  });
  // Copies; when a constraint is invalid the result is not used.
  return raw.map((c) => (Array.isArray(c) ? [...c] : c) as MarathonConstraint);
}

const HTTP_PROTOCOLS: ReadonlySet<HealthCheckProtocol> = new Set(['HTTP', 'HTTPS', 'MESOS_HTTP', 'MESOS_HTTPS']);

function resolveHealthChecks(def: CheckedAppDefinition, ports: readonly PortDefinition[], issues: Issues): AppHealthCheck[] {
  const checks = def.healthChecks ?? [];
  if (checks.length > 1) {
    issues.add(['healthChecks'], 'not supported by Stoa: at most one health check per app (the agent runs one per task)');
  }
  return checks.map((check, i) => {
    const at = (field: string) => ['healthChecks', i, field];
    const protocol = check.protocol ?? HEALTH_CHECK_DEFAULTS.protocol;
    const isHttp = HTTP_PROTOCOLS.has(protocol);
    const isCommand = protocol === 'COMMAND';
    if (check.ipProtocol === 'IPv6') issues.add(at('ipProtocol'), 'not supported by Stoa: IPv6 health checks');
    if (isCommand && check.command === undefined) issues.add(at('command'), 'a COMMAND health check needs "command": {"value": "…"}');
    if (!isCommand && check.command !== undefined) issues.add(at('command'), `only COMMAND health checks take a command, not ${protocol}`);
    if (!isHttp && check.path !== undefined) issues.add(at('path'), `only HTTP(S) health checks take a path, not ${protocol}`);
    if (check.ignoreHttp1xx !== undefined && protocol !== 'HTTP' && protocol !== 'HTTPS') {
      issues.add(at('ignoreHttp1xx'), `only HTTP and HTTPS health checks take ignoreHttp1xx, not ${protocol}`);
    }
    let portIndex: number | undefined;
    if (isCommand) {
      if (check.port !== undefined) issues.add(at('port'), 'a COMMAND health check takes no port');
      if (check.portIndex !== undefined) issues.add(at('portIndex'), 'a COMMAND health check takes no port index');
    } else if (check.port !== undefined && check.portIndex !== undefined) {
      issues.add(at('port'), 'give either "port" or "portIndex", not both');
    } else if (check.port === undefined) {
      portIndex = check.portIndex ?? HEALTH_CHECK_DEFAULTS.portIndex;
      if (ports.length === 0) {
        issues.add(at('portIndex'), 'the app has no ports: give the health check a fixed "port" or give the app ports');
      } else if (portIndex >= ports.length) {
        issues.add(at('portIndex'), `refers to port ${portIndex}, but the app has ${ports.length} port(s)`);
      }
    }
    return {
      protocol,
      gracePeriodSeconds: check.gracePeriodSeconds ?? HEALTH_CHECK_DEFAULTS.gracePeriodSeconds,
      intervalSeconds: check.intervalSeconds ?? HEALTH_CHECK_DEFAULTS.intervalSeconds,
      timeoutSeconds: check.timeoutSeconds ?? HEALTH_CHECK_DEFAULTS.timeoutSeconds,
      maxConsecutiveFailures: check.maxConsecutiveFailures ?? HEALTH_CHECK_DEFAULTS.maxConsecutiveFailures,
      delaySeconds: check.delaySeconds ?? HEALTH_CHECK_DEFAULTS.delaySeconds,
      ...(portIndex === undefined ? {} : { portIndex }),
      ...(check.port === undefined || isCommand ? {} : { port: check.port }),
      ...(isHttp ? { path: check.path ?? HEALTH_CHECK_DEFAULTS.path } : {}),
      ...(isCommand && check.command !== undefined ? { command: { value: check.command.value } } : {}),
      ...(protocol === 'HTTP' || protocol === 'HTTPS' ? { ignoreHttp1xx: check.ignoreHttp1xx ?? HEALTH_CHECK_DEFAULTS.ignoreHttp1xx } : {}),
    };
  });
}

function resolveReadinessChecks(def: CheckedAppDefinition, ports: readonly PortDefinition[], issues: Issues): ReadinessCheck[] {
  const checks = def.readinessChecks ?? [];
  if (checks.length > 1) issues.add(['readinessChecks'], 'at most one readiness check per app');
  const names = ports.flatMap((p) => (p.name === undefined ? [] : [p.name]));
  return checks.map((check, i) => {
    const resolved: ReadinessCheck = {
      name: check.name ?? READINESS_CHECK_DEFAULTS.name,
      protocol: check.protocol ?? READINESS_CHECK_DEFAULTS.protocol,
      path: check.path ?? READINESS_CHECK_DEFAULTS.path,
      portName: check.portName ?? READINESS_CHECK_DEFAULTS.portName,
      intervalSeconds: check.intervalSeconds ?? READINESS_CHECK_DEFAULTS.intervalSeconds,
      timeoutSeconds: check.timeoutSeconds ?? READINESS_CHECK_DEFAULTS.timeoutSeconds,
      httpStatusCodesForReady: check.httpStatusCodesForReady ?? [...READINESS_CHECK_DEFAULTS.httpStatusCodesForReady],
      preserveLastResponse: check.preserveLastResponse ?? READINESS_CHECK_DEFAULTS.preserveLastResponse,
    };
    if (!names.includes(resolved.portName)) {
      const known = names.length === 0 ? 'the app has no named ports' : `the app's port names are ${names.join(', ')}`;
      issues.add(['readinessChecks', i, 'portName'], `no port is named "${resolved.portName}" (${known})`);
    }
    if (resolved.timeoutSeconds >= resolved.intervalSeconds) {
      issues.add(['readinessChecks', i, 'timeoutSeconds'], `must be less than intervalSeconds (${resolved.intervalSeconds})`);
    }
    if (new Set(resolved.httpStatusCodesForReady).size !== resolved.httpStatusCodesForReady.length) {
      issues.add(['readinessChecks', i, 'httpStatusCodesForReady'], 'must not repeat a status code');
    }
    return resolved;
  });
}

function resolveUpgradeStrategy(def: CheckedAppDefinition, issues: Issues): UpgradeStrategy {
  const given = def.upgradeStrategy;
  const strategy: UpgradeStrategy = {
    minimumHealthCapacity: given?.minimumHealthCapacity ?? APP_DEFAULTS.upgradeStrategy.minimumHealthCapacity,
    maximumOverCapacity: given?.maximumOverCapacity ?? APP_DEFAULTS.upgradeStrategy.maximumOverCapacity,
    ...(given?.deadlineSeconds === undefined ? {} : { deadlineSeconds: given.deadlineSeconds }),
    ...(given?.progressDeadlineSeconds === undefined ? {} : { progressDeadlineSeconds: given.progressDeadlineSeconds }),
    ...(given?.autoRollback === undefined ? {} : { autoRollback: given.autoRollback }),
  };
  const steps = given?.steps;
  if (steps === undefined) return strategy;
  for (const problem of upgradeStepProblems(steps)) {
    issues.add(problem.index === undefined ? ['upgradeStrategy', 'steps'] : ['upgradeStrategy', 'steps', problem.index], problem.message);
  }
  return { ...strategy, steps: steps as UpgradeStep[] };
}

/** One problem with `upgradeStrategy.steps`, from {@link upgradeStepProblems}. */
export interface UpgradeStepProblem {
  /** The step at fault; absent when the list as a whole is. */
  index?: number;
  /** `STEPS_EMPTY`, `STEP_INVALID`, `STEPS_NOT_INCREASING` or `LAST_STEP_NOT_ALL`. */
  code: 'STEPS_EMPTY' | 'STEP_INVALID' | 'STEPS_NOT_INCREASING' | 'LAST_STEP_NOT_ALL';
  /** What is wrong, for people. */
  message: string;
}

const STEP_PERCENT = /^(\d+(?:\.\d+)?)%$/;

/**
 * The one rule set for canary steps, used when an app is defined and again by the deployment
 * planner's checks. It looks at the form only, never at `instances` (which a later scale may
 * change): each step a whole count of at least 1 or a percentage in (0, 100]; counts first, then
 * percentages, each strictly increasing; the last one `"100%"`. The planner resolves steps
 * against the instances of the moment and clamps (a count above `instances` is all of them).
 */
export function upgradeStepProblems(steps: readonly unknown[]): UpgradeStepProblem[] {
  if (steps.length === 0) return [{ code: 'STEPS_EMPTY', message: 'must list at least one step, the last one "100%"' }];
  const problems: UpgradeStepProblem[] = [];
  let lastCount = 0;
  let lastPercent = 0;
  steps.forEach((step, index) => {
    if (typeof step === 'number' && Number.isInteger(step) && step >= 1) {
      if (lastPercent > 0) problems.push({ index, code: 'STEPS_NOT_INCREASING', message: 'counts must come before percentages' });
      else if (step <= lastCount) problems.push({ index, code: 'STEPS_NOT_INCREASING', message: `must be more than the step before (${lastCount})` });
      lastCount = Math.max(lastCount, step);
      return;
    }
    const match = typeof step === 'string' ? STEP_PERCENT.exec(step) : null;
    const p = match === null ? Number.NaN : Number(match[1]);
    if (!(p > 0 && p <= 100)) {
      problems.push({ index, code: 'STEP_INVALID', message: `${JSON.stringify(step)} is neither a count of at least 1 nor a percentage in (0, 100]` });
      return;
    }
    if (p <= lastPercent) problems.push({ index, code: 'STEPS_NOT_INCREASING', message: `must be more than the step before (${lastPercent}%)` });
    lastPercent = Math.max(lastPercent, p);
  });
  if (steps.at(-1) !== '100%' && !problems.some((p) => p.code === 'STEP_INVALID' && p.index === steps.length - 1)) {
    problems.push({ index: steps.length - 1, code: 'LAST_STEP_NOT_ALL', message: 'the last step must be "100%" (every instance)' });
  }
  return problems;
}

function resolveDependencies(def: CheckedAppDefinition, id: string, idValid: boolean, issues: Issues): string[] {
  const base = idValid ? parentId(id) : ROOT_ID;
  const out: string[] = [];
  (def.dependencies ?? []).forEach((dependency, i) => {
    const checked = checkId(dependency, base);
    if (!checked.ok) {
      issues.add(['dependencies', i], checked.message);
      return;
    }
    if (checked.id === ROOT_ID) issues.add(['dependencies', i], 'must not be the root group (it holds the app itself)');
    else if (idValid && checked.id === id) issues.add(['dependencies', i], 'an app cannot depend on itself');
    else if (idValid && isWithin(id, checked.id)) issues.add(['dependencies', i], `${checked.id} is a group that holds the app itself`);
    if (out.includes(checked.id)) issues.add(['dependencies', i], `${checked.id} is listed more than once`);
    out.push(checked.id);
  });
  return out;
}

function resolveUnreachableStrategy(def: CheckedAppDefinition, issues: Issues): UnreachableStrategy {
  const given = def.unreachableStrategy;
  if (given === 'disabled') return 'disabled';
  const inactiveAfterSeconds = given?.inactiveAfterSeconds ?? APP_DEFAULTS.unreachableStrategy.inactiveAfterSeconds;
  const expungeAfterSeconds = given?.expungeAfterSeconds ?? APP_DEFAULTS.unreachableStrategy.expungeAfterSeconds;
  if (inactiveAfterSeconds >= expungeAfterSeconds) {
    issues.add(['unreachableStrategy', 'inactiveAfterSeconds'], `must be less than expungeAfterSeconds (${expungeAfterSeconds})`);
  }
  return { inactiveAfterSeconds, expungeAfterSeconds };
}

function checkRoles(def: CheckedAppDefinition, issues: Issues): void {
  if (def.role !== undefined && !RoleSchema.safeParse(def.role).success) {
    issues.add(['role'], 'is not a valid role: "*" or a name without spaces, "*", ">" and not starting with "." or "/"');
  }
  const roles = def.acceptedResourceRoles;
  if (roles === undefined) return;
  if (roles.length === 0) issues.add(['acceptedResourceRoles'], 'must not be empty: leave it out to accept the default roles');
  roles.forEach((role, i) => {
    if (!RoleSchema.safeParse(role).success) issues.add(['acceptedResourceRoles', i], `"${role}" is not a valid role`);
    else if (roles.indexOf(role) !== i) issues.add(['acceptedResourceRoles', i], `"${role}" is listed more than once`);
    else if (def.role !== undefined && role !== '*' && role !== def.role) {
      issues.add(['acceptedResourceRoles', i], `must be "*" or the app's role "${def.role}"`);
    }
  });
}

const EXTRACTED = ['.tgz', '.tar.gz', '.tbz2', '.tar.bz2', '.txz', '.tar.xz', '.zip'];

function resolveFetch(def: CheckedAppDefinition, issues: Issues): FetchUri[] {
  if (def.uris !== undefined && def.fetch !== undefined) issues.add(['uris'], 'must not be given together with "fetch" (uris is its legacy form)');
  if (def.fetch !== undefined) {
    return def.fetch.map((f) => ({
      uri: f.uri,
      executable: f.executable ?? false,
      extract: f.extract ?? true,
      cache: f.cache ?? false,
      ...(f.destPath === undefined ? {} : { destPath: f.destPath }),
    }));
  }
  // Marathon turns a legacy URI into a fetch entry that extracts only archives.
  return (def.uris ?? []).map((uri) => ({ uri, executable: false, extract: EXTRACTED.some((x) => uri.endsWith(x)), cache: false }));
}

/** The label that makes Marathon keep at most one instance of an app, never two at once. */
export const SINGLE_INSTANCE_LABEL = 'MARATHON_SINGLE_INSTANCE_APP';

function checkSingleInstance(def: CheckedAppDefinition, strategy: UpgradeStrategy, issues: Issues): void {
  if (def.labels?.[SINGLE_INSTANCE_LABEL] !== 'true') return;
  if ((def.instances ?? APP_DEFAULTS.instances) > 1) issues.add(['instances'], `must be 0 or 1 for an app labelled ${SINGLE_INSTANCE_LABEL}`);
  if (strategy.minimumHealthCapacity !== 0) {
    issues.add(['upgradeStrategy', 'minimumHealthCapacity'], `must be 0 for an app labelled ${SINGLE_INSTANCE_LABEL}`);
  }
  if (strategy.maximumOverCapacity !== 0) {
    issues.add(['upgradeStrategy', 'maximumOverCapacity'], `must be 0 for an app labelled ${SINGLE_INSTANCE_LABEL}`);
  }
}
