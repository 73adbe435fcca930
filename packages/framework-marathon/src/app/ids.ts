/**
 * App and group ids: Marathon's paths. An id is a `/`-separated path (`/shop/web`); paths form
 * the group tree, with `/` the root group. A relative id (`web`, `../db`) is resolved against a
 * base group, with `.` and `..` segments allowed; an absolute id is kept, `.`/`..` folded. Each
 * other segment is one or more dot-separated DNS labels: lowercase letters, digits and hyphens,
 * not starting or ending with a hyphen (Marathon's `PathId` rule).
 *
 * Task ids follow Marathon's form `<segments joined by _>.<uuid>`, so the app of a task can be
 * read back from its id (`_` never appears in an app id).
 *
 * @example
 * ```ts
 * import { resolveId, parentId, appIdToHostname } from './ids.js';
 * resolveId('web', '/shop');          // '/shop/web'
 * resolveId('../db', '/shop/web');    // '/shop/db'
 * parentId('/shop/web');              // '/shop'
 * appIdToHostname('/shop/web');       // 'web.shop'
 * ```
 * @module
 */

import { ValidationError } from '@stoa/sdk';

/** The id of the root group. */
export const ROOT_ID = '/';

/**
 * Last segments an app id may not have, because the REST API uses them as sub-resources
 * (`/v2/apps/{id}/restart`, `/tasks`, `/versions`).
 */
export const RESERVED_ID_SEGMENTS: readonly string[] = ['restart', 'tasks', 'versions'];

const LABEL = '(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])';
const SEGMENT = new RegExp(`^(?:${LABEL}\\.)*${LABEL}$`);

/** The outcome of {@link checkId}: the absolute, canonical id, or why there is none. */
export type IdCheck = { ok: true; id: string } | { ok: false; message: string };

/**
 * Why a single path segment is invalid, or `undefined` when it is valid. `.` and `..` are not
 * segments here: {@link checkId} folds them before.
 */
export function idSegmentProblem(segment: string): string | undefined {
  if (SEGMENT.test(segment)) return undefined;
  return (
    `segment "${segment}" is invalid: use lowercase letters, digits, hyphens and dots ` +
    '(each dot-separated part starts and ends with a letter or digit)'
  );
}

/** Whether an id is absolute (starts with `/`). */
export function isAbsoluteId(id: string): boolean {
  return id.startsWith('/');
}

/** The segments of an absolute, canonical id: `/shop/web` → `['shop', 'web']`, `/` → `[]`. */
export function idSegments(id: string): string[] {
  return id.split('/').filter((s) => s !== '');
}

function join(segments: readonly string[]): string {
  return `/${segments.join('/')}`;
}

/**
 * Resolves `id` against the group `base` (itself absolute) into an absolute, canonical id:
 * empty segments (`a//b`, a trailing `/`) are dropped, `.` and `..` folded. Fails on an empty
 * id, an invalid segment, or `..` above the root. The root itself (`/`) is a valid result; app
 * ids reject it separately ({@link checkAppId}).
 */
export function checkId(id: string, base: string = ROOT_ID): IdCheck {
  if (id.trim() === '') return { ok: false, message: 'must not be empty' };
  if (!isAbsoluteId(base)) return { ok: false, message: `the base group "${base}" is not absolute` };
  const out = isAbsoluteId(id) ? [] : idSegments(base);
  for (const segment of idSegments(id)) {
    if (segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return { ok: false, message: `"${id}" goes above the root group` };
      out.pop();
      continue;
    }
    const problem = idSegmentProblem(segment);
    if (problem !== undefined) return { ok: false, message: problem };
    out.push(segment);
  }
  return { ok: true, id: join(out) };
}

/**
 * {@link checkId} for an app: also refuses the root group and a reserved last segment
 * ({@link RESERVED_ID_SEGMENTS}).
 */
export function checkAppId(id: string, base: string = ROOT_ID): IdCheck {
  const checked = checkId(id, base);
  if (!checked.ok) return checked;
  const segments = idSegments(checked.id);
  const last = segments.at(-1);
  if (last === undefined) return { ok: false, message: 'an app id must name something below the root group' };
  if (RESERVED_ID_SEGMENTS.includes(last)) {
    return { ok: false, message: `must not end with a reserved word (${RESERVED_ID_SEGMENTS.join(', ')})` };
  }
  return checked;
}

/**
 * Resolves an id as {@link checkId} does, throwing a `ValidationError` (field `id`) when it is
 * invalid.
 */
export function resolveId(id: string, base: string = ROOT_ID): string {
  const checked = checkId(id, base);
  if (!checked.ok) throw new ValidationError(`invalid id "${id}": ${checked.message}`, { details: { field: 'id' } });
  return checked.id;
}

/** The group an absolute id sits in: `/shop/web` → `/shop`, `/web` → `/`, `/` → `/`. */
export function parentId(id: string): string {
  return join(idSegments(id).slice(0, -1));
}

/** Every group above an absolute id, nearest first: `/a/b/c` → `['/a/b', '/a', '/']`. */
export function ancestorIds(id: string): string[] {
  const segments = idSegments(id);
  const out: string[] = [];
  for (let n = segments.length - 1; n >= 0; n--) out.push(join(segments.slice(0, n)));
  return out;
}

/** Whether the absolute id `id` is `groupId` itself or anything below it. */
export function isWithin(id: string, groupId: string): boolean {
  const group = idSegments(groupId);
  const path = idSegments(id);
  return group.length <= path.length && group.every((s, i) => path[i] === s);
}

/**
 * A hostname-like name for an app: segments reversed and joined with `.` (`/shop/web` →
 * `web.shop`), as Marathon names its tasks for service discovery.
 */
export function appIdToHostname(id: string): string {
  return idSegments(id).reverse().join('.');
}

/**
 * The task id Marathon gives an instance of `appId`: the id's segments joined with `_`, a dot,
 * then `uuid` (`/shop/web` → `shop_web.<uuid>`).
 */
export function taskIdFor(appId: string, uuid: string): string {
  return `${idSegments(appId).join('_')}.${uuid}`;
}

/**
 * The app id a task id made by {@link taskIdFor} belongs to, or `undefined` when it is not of
 * that form. The uuid is what follows the last dot, so app ids with dots read back whole.
 */
export function appIdFromTaskId(taskId: string): string | undefined {
  const dot = taskId.lastIndexOf('.');
  if (dot <= 0 || dot === taskId.length - 1) return undefined;
  const checked = checkAppId(`/${taskId.slice(0, dot).split('_').join('/')}`);
  return checked.ok ? checked.id : undefined;
}
