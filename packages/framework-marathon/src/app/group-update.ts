/**
 * The body of `PUT /v2/groups/{id}` (and `POST`): a group with its apps and, nested, its groups,
 * as Marathon takes it — `{"id": "/prod", "apps": […], "groups": [{"id": "/prod/db", "apps": […]}]}` —
 * or `{"scaleBy": 2}`. {@link parseGroupUpdate} checks it strictly (an unknown or unsupported field
 * is a 422 naming it, such as `/groups(0)/pods`), resolves every id, and turns it into the apps to
 * deploy; {@link removedByGroupUpdate} says which existing apps the update drops.
 *
 * Decisions:
 * - Ids resolve as in Marathon: the body's `id` against the path's group, a nested group's `id`
 *   against its parent group, an app's `id` against its group. A nested group must lie below its
 *   parent.
 * - A group's `dependencies` (resolved against the group's parent) are added to the dependencies
 *   of every app below it: Stoa keeps no group records, and the apps then start in the order the
 *   group asks for.
 * - A group that lists `apps` replaces its direct apps with those (the others are removed); one
 *   that lists `groups` replaces its subgroups likewise. A group that leaves out `apps` or
 *   `groups` keeps what it has there (Marathon's group update).
 *
 * @example
 * ```ts
 * const update = parseGroupUpdate(body, '/prod');
 * for (const { definition, group } of update.apps) parseApp(definition, { baseGroup: group });
 * const gone = removedByGroupUpdate(update, currentAppIds, newAppIds);
 * ```
 * @module
 */

import { checkId, isWithin, parentId, ROOT_ID } from './ids.js';
import { AppValidationError, formatPath, type ValidationDetail } from './validate.js';

/** A group of the body, with its absolute id and what it lists. */
export interface GroupUpdateNode {
  /** The group's absolute id. */
  id: string;
  /** Whether the body lists the group's `apps` (then they replace its direct apps). */
  listsApps: boolean;
  /** The absolute ids of the subgroups it lists, when it lists `groups` (then they replace its subgroups). */
  groups?: string[];
}

/** An app definition of the body. */
export interface GroupUpdateApp {
  /** The definition, with the dependencies of the groups above it added. */
  definition: Record<string, unknown>;
  /** The group its `id` resolves against. */
  group: string;
  /** Its path in the body, such as `/groups(0)/apps(1)`, for error messages. */
  path: string;
}

/** A parsed group body. */
export type GroupUpdate =
  | {
      /** `{"scaleBy": f}`. */
      kind: 'scale';
      /** The group. */
      id: string;
      /** The factor every app's `instances` is multiplied by (rounded up). */
      scaleBy: number;
    }
  | {
      /** A group with apps and groups. */
      kind: 'update';
      /** The group. */
      id: string;
      /** The apps, outermost group first. */
      apps: GroupUpdateApp[];
      /** The groups of the body, the outermost first. */
      nodes: GroupUpdateNode[];
    };

/** The fields a group body may have. */
const GROUP_FIELDS = new Set(['id', 'apps', 'groups', 'dependencies', 'scaleBy']);

/** Fields of Marathon's group body that Stoa does not support, with why. */
const UNSUPPORTED_GROUP_FIELDS: Record<string, string> = {
  pods: 'pods are not supported by Stoa',
  version: 'group versions are not supported by Stoa: roll an app back with PUT /v2/apps/{id} {"version": …}',
  enforceRole: 'enforceRole is not supported by Stoa: set acceptedResourceRoles on the apps',
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type Path = (string | number)[];

/**
 * Checks and flattens a group body for the group `groupId` (the path of the request). Throws an
 * {@link AppValidationError} naming every field that is wrong. The app definitions themselves are
 * checked later, by `parseApp`.
 */
export function parseGroupUpdate(body: unknown, groupId: string): GroupUpdate {
  const issues: ValidationDetail[] = [];
  const add = (path: Path, message: string) => {
    const key = formatPath(path);
    const found = issues.find((d) => d.path === key);
    if (found) found.errors.push(message);
    else issues.push({ path: key, errors: [message] });
  };
  const fail = (): never => {
    throw new AppValidationError(issues);
  };
  if (!isPlainObject(body)) {
    add([], 'expected a JSON object');
    return fail();
  }
  if (body.id !== undefined) {
    const own = typeof body.id === 'string' ? checkId(body.id, groupId) : undefined;
    if (!own?.ok) add(['id'], own ? own.message : 'expected a string');
    else if (own.id !== groupId) add(['id'], `does not match the path (${groupId})`);
  }
  if (body.scaleBy !== undefined) {
    if (typeof body.scaleBy !== 'number' || !Number.isFinite(body.scaleBy) || body.scaleBy <= 0) add(['scaleBy'], 'must be a number above 0');
    for (const key of Object.keys(body)) if (key !== 'id' && key !== 'scaleBy') add([key], 'cannot be given with scaleBy');
    if (issues.length > 0) return fail();
    return { kind: 'scale', id: groupId, scaleBy: body.scaleBy as number };
  }
  const apps: GroupUpdateApp[] = [];
  const nodes: GroupUpdateNode[] = [];
  const visit = (node: Record<string, unknown>, id: string, path: Path, inherited: string[]): void => {
    for (const key of Object.keys(node)) {
      if (GROUP_FIELDS.has(key)) continue;
      add([...path, key], UNSUPPORTED_GROUP_FIELDS[key] ?? 'unknown field');
    }
    if (path.length > 0 && node.scaleBy !== undefined) add([...path, 'scaleBy'], 'only the group of the path can be scaled');
    const dependencies = [...inherited];
    if (node.dependencies !== undefined) {
      if (!Array.isArray(node.dependencies)) add([...path, 'dependencies'], 'expected an array of ids');
      else {
        node.dependencies.forEach((dependency, i) => {
          const resolved = typeof dependency === 'string' ? checkId(dependency, id === ROOT_ID ? ROOT_ID : parentId(id)) : undefined;
          if (!resolved?.ok) add([...path, 'dependencies', i], resolved ? resolved.message : 'expected a string');
          else if (isWithin(resolved.id, id) || isWithin(id, resolved.id)) add([...path, 'dependencies', i], `a group cannot depend on itself or a group around it (${resolved.id})`);
          else dependencies.push(resolved.id);
        });
      }
    }
    const entry: GroupUpdateNode = { id, listsApps: node.apps !== undefined };
    nodes.push(entry);
    if (node.apps !== undefined) {
      if (!Array.isArray(node.apps)) add([...path, 'apps'], 'expected an array of apps');
      else {
        node.apps.forEach((app, i) => {
          if (!isPlainObject(app)) {
            add([...path, 'apps', i], 'expected a JSON object');
            return;
          }
          const own: unknown[] = Array.isArray(app.dependencies) ? app.dependencies : [];
          const ownIds = new Set(own.map((d) => (typeof d === 'string' ? checkId(d, id) : undefined)).flatMap((c) => (c?.ok ? [c.id] : [])));
          const extra = dependencies.filter((d) => !ownIds.has(d));
          const definition = extra.length > 0 && (app.dependencies === undefined || Array.isArray(app.dependencies)) ? { ...app, dependencies: [...own, ...extra] } : app;
          apps.push({ definition, group: id, path: formatPath([...path, 'apps', i]) });
        });
      }
    }
    if (node.groups !== undefined) {
      if (!Array.isArray(node.groups)) {
        add([...path, 'groups'], 'expected an array of groups');
        return;
      }
      entry.groups = [];
      node.groups.forEach((child, i) => {
        const childPath = [...path, 'groups', i];
        if (!isPlainObject(child)) {
          add(childPath, 'expected a JSON object');
          return;
        }
        const childId = typeof child.id === 'string' ? checkId(child.id, id) : undefined;
        if (!childId?.ok) {
          add([...childPath, 'id'], childId ? childId.message : 'a nested group needs an id');
          return;
        }
        if (childId.id === id || !isWithin(childId.id, id)) {
          add([...childPath, 'id'], `must lie below ${id}`);
          return;
        }
        if (entry.groups!.some((g) => isWithin(childId.id, g) || isWithin(g, childId.id))) {
          add([...childPath, 'id'], `${childId.id} is given twice (or inside another group of the list)`);
          return;
        }
        entry.groups!.push(childId.id);
        visit(child, childId.id, childPath, dependencies);
      });
    }
  };
  visit(body, groupId, [], []);
  if (issues.length > 0) return fail();
  return { kind: 'update', id: groupId, apps, nodes };
}

/**
 * The existing apps an update removes: below a group that lists `apps`, its direct apps not
 * listed; below a group that lists `groups`, the apps of subgroups not listed.
 */
export function removedByGroupUpdate(update: Extract<GroupUpdate, { kind: 'update' }>, existing: Iterable<string>, listed: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const appId of existing) {
    if (listed.has(appId)) continue;
    // The innermost group of the body that holds the app decides.
    let owner: GroupUpdateNode | undefined;
    for (const node of update.nodes) if (isWithin(appId, node.id) && (!owner || isWithin(node.id, owner.id))) owner = node;
    if (!owner) continue;
    const direct = parentId(appId) === owner.id;
    if (direct ? owner.listsApps : owner.groups !== undefined) out.push(appId);
  }
  return out.sort();
}
