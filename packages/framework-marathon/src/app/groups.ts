/**
 * Groups: the tree that app ids form (`/shop/web` sits in group `/shop`, which sits in the root
 * group `/`), in the shape of Marathon's `GET /v2/groups`, and the order in which apps start
 * given their dependencies.
 *
 * A dependency names an app or a group; a group stands for every app below it. A group may
 * carry dependencies of its own, which every app below it inherits. {@link dependencyLayers}
 * orders apps in layers, each app after everything it depends on, and names a cycle when
 * there is one ({@link DependencyCycleError}).
 *
 * @example
 * ```ts
 * const tree = buildGroupTree(apps);            // { id: '/', apps: [], groups: [{ id: '/shop', … }], … }
 * const layers = dependencyLayers(apps);        // [[db], [api], [web]]: start each layer after the one before
 * ```
 * @module
 */

import { type StoaErrorOptions, ValidationError } from '@stoa/sdk';
import { ancestorIds, isWithin, parentId, ROOT_ID } from './ids.js';
import type { App } from './schema.js';
import { compareVersions } from './version.js';

/** A group as `GET /v2/groups` shows it. */
export interface Group {
  /** The group's absolute id; `/` for the root. */
  id: string;
  /** The apps directly in this group, by id. */
  apps: App[];
  /** The groups directly in this group, by id. */
  groups: Group[];
  /** Absolute ids of the apps and groups this group's apps wait for. */
  dependencies: string[];
  /** The group's version: given, or the latest of its apps' and groups' versions. */
  version?: string;
}

/** What is known of a group besides the apps in it (groups may also be empty). */
export interface GroupSpec {
  /** Absolute id. */
  id: string;
  /** Absolute ids of apps and groups every app below this group depends on. @default [] */
  dependencies?: string[];
  /** The group's version. */
  version?: string;
}

/**
 * What dependency ordering needs of an app: its id and its dependencies (absolute ids of apps or
 * groups). An {@link App} is one; so is the deployment planner's `DeployableApp`.
 */
export interface DependencyNode {
  /** Absolute app id. */
  readonly id: string;
  /** Absolute ids of the apps and groups it depends on. */
  readonly dependencies: readonly string[];
}

/** Options of {@link buildGroupTree} and {@link dependencyLayers}. */
export interface GroupOptions {
  /** Groups with their own dependencies or versions, or empty groups to show. @default [] */
  groups?: readonly GroupSpec[];
}

const CYCLE_MARKER = Symbol.for('stoa.marathon.dependency-cycle-error');

/** The apps' dependencies form a cycle. A `ValidationError` (field `dependencies`) with the cycle. */
export class DependencyCycleError extends ValidationError {
  /** The app ids around the cycle, the first repeated at the end: `['/a', '/b', '/a']`. */
  readonly cycle: string[];

  constructor(cycle: string[], options?: Omit<StoaErrorOptions, 'details'>) {
    super(`dependency cycle: ${cycle.join(' -> ')}`, { ...options, details: { field: 'dependencies', cycle } });
    this.name = 'DependencyCycleError';
    this.cycle = cycle;
    Object.defineProperty(this, CYCLE_MARKER, { value: true });
  }

  /** True for a {@link DependencyCycleError}, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is DependencyCycleError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CYCLE_MARKER] === true;
  }
}

/**
 * Ids used both by an app and as a group (an app `/a` beside an app `/a/b`, or beside a group
 * spec `/a`), sorted. Marathon refuses such a set of apps; so does {@link buildGroupTree}.
 */
export function idConflicts(apps: readonly App[], groups: readonly GroupSpec[] = []): string[] {
  const groupIds = new Set<string>(groups.map((g) => g.id));
  for (const app of apps) for (const id of ancestorIds(app.id)) groupIds.add(id);
  return [...new Set(apps.map((a) => a.id).filter((id) => groupIds.has(id)))].sort();
}

/** The apps at or below `groupId` (an app id names just that app). */
export function appsUnder<T extends DependencyNode>(apps: readonly T[], groupId: string): T[] {
  return apps.filter((app) => isWithin(app.id, groupId));
}

function latest(versions: readonly (string | undefined)[]): string | undefined {
  let out: string | undefined;
  for (const v of versions) if (v !== undefined && (out === undefined || compareVersions(v, out) > 0)) out = v;
  return out;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The group tree of a set of apps (every group an app id implies, plus `options.groups`), rooted
 * at `/`, with apps and groups sorted by id. Throws a `ValidationError` (field `id`) when an id
 * is both an app and a group ({@link idConflicts}) or two apps share an id.
 */
export function buildGroupTree(apps: readonly App[], options: GroupOptions = {}): Group {
  const specs = options.groups ?? [];
  const conflicts = idConflicts(apps, specs);
  if (conflicts.length > 0) {
    throw new ValidationError(`ids used by both an app and a group: ${conflicts.join(', ')}`, { details: { field: 'id', conflicts } });
  }
  const duplicates = apps.map((a) => a.id).filter((id, i, ids) => ids.indexOf(id) !== i);
  if (duplicates.length > 0) {
    throw new ValidationError(`apps with the same id: ${[...new Set(duplicates)].join(', ')}`, { details: { field: 'id', duplicates } });
  }
  const groups = new Map<string, Group>();
  const specOf = new Map(specs.map((s) => [s.id, s]));
  const groupOf = (id: string): Group => {
    let group = groups.get(id);
    if (group === undefined) {
      const spec = specOf.get(id);
      group = { id, apps: [], groups: [], dependencies: [...(spec?.dependencies ?? [])] };
      groups.set(id, group);
      if (id !== ROOT_ID) groupOf(parentId(id)).groups.push(group);
    }
    return group;
  };
  groupOf(ROOT_ID);
  for (const spec of specs) groupOf(spec.id);
  for (const app of apps) groupOf(parentId(app.id)).apps.push(app);
  const finish = (group: Group): void => {
    group.apps.sort(byId);
    group.groups.sort(byId);
    group.groups.forEach(finish);
    const version = specOf.get(group.id)?.version ?? latest([...group.apps.map((a) => a.version), ...group.groups.map((g) => g.version)]);
    if (version !== undefined) group.version = version;
  };
  const root = groupOf(ROOT_ID);
  finish(root);
  return root;
}

/** The dependencies of an app: its own and those of every group above it. */
function declaredDependencies(app: DependencyNode, specs: ReadonlyMap<string, GroupSpec>): string[] {
  const inherited = ancestorIds(app.id).flatMap((id) => specs.get(id)?.dependencies ?? []);
  return [...app.dependencies, ...inherited];
}

/**
 * The app ids each app depends on, with groups expanded to the apps below them; an app never
 * depends on itself (through a group that holds it) and dependencies that name nothing are
 * left out (see {@link missingDependencies}).
 */
export function dependencyEdges(apps: readonly DependencyNode[], options: GroupOptions = {}): Map<string, string[]> {
  const specs = new Map((options.groups ?? []).map((g) => [g.id, g]));
  const edges = new Map<string, string[]>();
  for (const app of apps) {
    const targets = new Set<string>();
    for (const dependency of declaredDependencies(app, specs)) {
      for (const target of appsUnder(apps, dependency)) if (target.id !== app.id) targets.add(target.id);
    }
    edges.set(app.id, [...targets].sort());
  }
  return edges;
}

/** A dependency that names neither an app nor a group with apps in it. */
export interface MissingDependency {
  /** The app that declares (or inherits) it. */
  appId: string;
  /** The id it names. */
  dependency: string;
}

/** The dependencies that name nothing among `apps`: to refuse, or to wait for. */
export function missingDependencies(apps: readonly DependencyNode[], options: GroupOptions = {}): MissingDependency[] {
  const specs = new Map((options.groups ?? []).map((g) => [g.id, g]));
  const out: MissingDependency[] = [];
  for (const app of apps) {
    for (const dependency of new Set(declaredDependencies(app, specs))) {
      if (appsUnder(apps, dependency).length === 0) out.push({ appId: app.id, dependency });
    }
  }
  return out;
}

/**
 * The apps in layers: every app comes in a later layer than each app it depends on (directly,
 * or through a group), and as early as that allows. Apps in one layer are sorted by id and may
 * start together. Throws a {@link DependencyCycleError} naming a cycle when there is one.
 */
export function dependencyLayers<T extends DependencyNode>(apps: readonly T[], options: GroupOptions = {}): T[][] {
  const edges = dependencyEdges(apps, options);
  const byAppId = new Map(apps.map((a) => [a.id, a]));
  const placed = new Set<string>();
  const layers: T[][] = [];
  let remaining = [...byAppId.keys()].sort();
  while (remaining.length > 0) {
    const ready = remaining.filter((id) => (edges.get(id) ?? []).every((d) => placed.has(d)));
    if (ready.length === 0) throw new DependencyCycleError(findCycle(remaining, edges));
    for (const id of ready) placed.add(id);
    layers.push(ready.map((id) => byAppId.get(id)!));
    remaining = remaining.filter((id) => !placed.has(id));
  }
  return layers;
}

/** A cycle among `nodes`, each of which has a dependency among them (so one exists). */
function findCycle(nodes: readonly string[], edges: ReadonlyMap<string, string[]>): string[] {
  const within = new Set(nodes);
  const start = nodes[0]!;
  const path: string[] = [];
  const onPath = new Map<string, number>();
  let at = start;
  // Walk to a dependency that is itself stuck until a node repeats.
  while (!onPath.has(at)) {
    onPath.set(at, path.length);
    path.push(at);
    at = (edges.get(at) ?? []).find((d) => within.has(d))!;
  }
  return [...path.slice(onPath.get(at)), at];
}
