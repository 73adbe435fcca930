/**
 * App versions, as Marathon keeps them: `version` is the ISO-8601 timestamp of the definition's
 * last change, and `versionInfo` says when it last scaled (`lastScalingAt`, which any change
 * moves) and when its configuration last changed (`lastConfigChangeAt`, which only changes that
 * need the tasks restarted move). A change of `instances` alone is scaling; a change of anything
 * else is a config change, and a deployment restarts the tasks for it.
 *
 * @example
 * ```ts
 * const change = diffApps(current, next);     // { kind: 'scaling', changed: ['instances'] }
 * const stored = stampVersion(next, current, new Date());
 * ```
 * @module
 */

import { createHash } from 'node:crypto';
import type { App } from './schema.js';

/** What kind of change leads from one definition to another. */
export type AppChangeKind = 'none' | 'scaling' | 'config';

/** The difference between two definitions of an app. */
export interface AppChange {
  /** `none`: equal; `scaling`: only `instances` differs; `config`: anything else differs (tasks restart). */
  kind: AppChangeKind;
  /** The top-level fields that differ, sorted; `version` and `versionInfo` never count. */
  changed: string[];
}

const IGNORED: ReadonlySet<string> = new Set(['version', 'versionInfo']);

/** A version string for a time: `2015-04-02T09:37:00.596Z`. */
export function formatVersion(time: Date): string {
  return time.toISOString();
}

/** Whether `value` is a version (an ISO-8601 timestamp as {@link formatVersion} writes it). */
export function isVersion(value: string): boolean {
  const time = Date.parse(value);
  return !Number.isNaN(time) && new Date(time).toISOString() === value;
}

/** Orders versions by time: negative when `a` is older than `b`. */
export function compareVersions(a: string, b: string): number {
  return Date.parse(a) - Date.parse(b);
}

/** Equality of JSON values, where object key order does not matter and array order does. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const key of keys) if (!jsonEqual(ao[key], bo[key])) return false;
  return true;
}

/** JSON with object keys sorted, so that equal values give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A digest of everything in an app whose change needs its tasks replaced: every field but
 * `instances`, `version` and `versionInfo`, key order aside (`sha256:<hex>`). Two definitions
 * have the same hash exactly when {@link diffApps} finds no config change between them; the
 * deployment planner's `configHash`.
 */
export function configHash(app: App): string {
  const { instances: _instances, version: _version, versionInfo: _versionInfo, ...config } = app;
  return `sha256:${createHash('sha256').update(canonicalJson(config)).digest('hex')}`;
}

/** Which fields differ between two definitions of an app, and whether the change is scaling only. */
export function diffApps(previous: App, next: App): AppChange {
  const a = previous as unknown as Record<string, unknown>;
  const b = next as unknown as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const changed = [...keys].filter((key) => !IGNORED.has(key) && !jsonEqual(a[key], b[key])).sort();
  const kind: AppChangeKind = changed.length === 0 ? 'none' : changed.length === 1 && changed[0] === 'instances' ? 'scaling' : 'config';
  return { kind, changed };
}

/**
 * `next` with the `version` and `versionInfo` it is stored with, `previous` being the stored
 * definition it replaces (none for a new app):
 *
 * - a new app: both timestamps are `now`;
 * - no change: `previous`'s version and versionInfo stay (nothing new to deploy);
 * - scaling: a new version; `lastScalingAt` moves, `lastConfigChangeAt` stays;
 * - config change: a new version, and both move.
 *
 * A new version is always later than the previous one, by a millisecond when the clock has not
 * moved past it.
 */
export function stampVersion(next: App, previous: App | undefined, now: Date): App {
  if (previous === undefined) {
    const version = formatVersion(now);
    return { ...next, version, versionInfo: { lastScalingAt: version, lastConfigChangeAt: version } };
  }
  const { kind } = diffApps(previous, next);
  const previousVersion = previous.version;
  if (kind === 'none' && previousVersion !== undefined) {
    return { ...next, version: previousVersion, versionInfo: previous.versionInfo ?? { lastScalingAt: previousVersion, lastConfigChangeAt: previousVersion } };
  }
  let time = now.getTime();
  if (previousVersion !== undefined) time = Math.max(time, Date.parse(previousVersion) + 1);
  const version = formatVersion(new Date(time));
  const lastConfigChangeAt = kind === 'scaling' ? (previous.versionInfo?.lastConfigChangeAt ?? previousVersion ?? version) : version;
  return { ...next, version, versionInfo: { lastScalingAt: version, lastConfigChangeAt } };
}
