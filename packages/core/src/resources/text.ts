/**
 * The text form of resources and attributes, as agent flags and the CLI write them (Mesos's
 * `--resources` and `--attributes` syntax).
 *
 * Resources are `;`-separated `name(role):value` entries: a number is a scalar, `[b-e,…]` are
 * ranges, `{a,b}` is a set. A role in parentheses makes a STATIC reservation; without one the
 * entry gets `defaultRole`. The text form has no place for dynamic reservations or disk info, so
 * {@link formatResources} shows those resources by role only and does not round-trip them.
 *
 * @example
 * ```ts
 * const rs = parseResources('cpus:4;mem:1024;ports:[31000-32000];cpus(ops):2;zones:{a,b}');
 * formatResources(rs);                 // 'cpus:4;cpus(ops):2;mem:1024;ports:[31000-32000];zones:{a,b}'
 * parseAttributes('rack:r1;zone:a');   // { rack: 'r1', zone: 'a' }
 * ```
 * @module
 */

import { ValidationError } from '../errors.js';
import type { Attributes, Resource, ResourceType, ValueRange } from '../protocol/resources.js';
import { UNRESERVED_ROLE, WELL_KNOWN_RESOURCE_TYPES } from '../protocol/resources.js';
import { isNormalized, normalize } from './algebra.js';

const NAME = /^[^\s()[\]{}:;,]+$/;
const KEY = /^([^\s()[\]{}:;,]+)(?:\(([^()]*)\))?$/;
const NUMBER = /^\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const RANGE = /^(\d+)(?:\s*-\s*(\d+))?$/;
const SET_ITEM = /^[^;,{}[\]]+$/;

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(`invalid resource '${field}': ${message}`, { details: { field } });
}

/** Whether `role` is a valid role name: `*`, or `/`-separated segments without spaces or syntax. */
function isValidRole(role: string): boolean {
  if (role === UNRESERVED_ROLE) return true;
  if (!NAME.test(role) || role.startsWith('-')) return false;
  return role.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..' && segment !== '*');
}

function parseRanges(field: string, body: string): ValueRange[] {
  if (body.trim() === '') return [];
  return body.split(',').map((item) => {
    const m = RANGE.exec(item.trim());
    if (m === null) throw invalid(field, `'${item.trim()}' is not a range like 31000-32000`);
    const begin = Number(m[1]);
    const end = m[2] === undefined ? begin : Number(m[2]);
    if (!Number.isSafeInteger(end)) throw invalid(field, `'${item.trim()}' is out of range`);
    if (end < begin) throw invalid(field, `range '${item.trim()}' ends before it begins`);
    return { begin, end };
  });
}

function parseSet(field: string, body: string): string[] {
  if (body.trim() === '') return [];
  return body.split(',').map((item) => {
    const value = item.trim();
    if (!SET_ITEM.test(value)) throw invalid(field, `'${value}' is not a set item`);
    return value;
  });
}

function parseEntry(raw: string, defaultRole: string): Resource {
  const colon = raw.indexOf(':');
  if (colon < 0) throw invalid(raw, "expected 'name:value'");
  const field = raw.slice(0, colon).trim();
  const text = raw.slice(colon + 1).trim();
  const key = KEY.exec(field);
  if (key === null) throw invalid(field || raw, "expected a name, optionally with '(role)'");
  const name = key[1]!;
  const role = key[2] === undefined ? defaultRole : key[2].trim();
  if (!isValidRole(role)) throw invalid(field, `'${role}' is not a valid role`);

  let r: Resource;
  if (text.startsWith('[') && text.endsWith(']')) {
    r = { name, type: 'RANGES', ranges: parseRanges(field, text.slice(1, -1)) };
  } else if (text.startsWith('{') && text.endsWith('}')) {
    r = { name, type: 'SET', set: parseSet(field, text.slice(1, -1)) };
  } else if (NUMBER.test(text) && Number.isFinite(Number(text))) {
    r = { name, type: 'SCALAR', scalar: Number(text) };
  } else {
    throw invalid(field, `'${text}' is neither a non-negative number, [ranges] nor a {set}`);
  }
  const known: ResourceType | undefined = Object.hasOwn(WELL_KNOWN_RESOURCE_TYPES, name) ? WELL_KNOWN_RESOURCE_TYPES[name] : undefined;
  if (known !== undefined && known !== r.type) throw invalid(field, `'${name}' must be ${known}`);
  r.role = role;
  if (role !== UNRESERVED_ROLE) r.reservation = { type: 'STATIC' };
  return r;
}

/**
 * Reads resources from their text form, such as `cpus:4;mem:1024;ports:[31000-32000];cpus(ops):2`.
 * Entries without a role get `defaultRole` (statically reserved unless `'*'`); repeated entries
 * add up. Throws a {@link ValidationError} whose `details.field` is the bad entry's key (for
 * example `cpus(ops)`).
 */
export function parseResources(text: string, defaultRole: string = UNRESERVED_ROLE): Resource[] {
  if (!isValidRole(defaultRole)) {
    throw new ValidationError(`'${defaultRole}' is not a valid role`, { details: { field: 'defaultRole' } });
  }
  const out: Resource[] = [];
  for (const entry of text.split(';')) {
    const raw = entry.trim();
    if (raw !== '') out.push(parseEntry(raw, defaultRole));
  }
  return normalize(out);
}

function formatEntry(r: Resource): string {
  const key = r.role === UNRESERVED_ROLE ? r.name : `${r.name}(${r.role})`;
  switch (r.type) {
    case 'SCALAR':
      return `${key}:${r.scalar}`;
    case 'RANGES':
      return `${key}:[${r.ranges!.map((x) => `${x.begin}-${x.end}`).join(',')}]`;
    case 'SET':
      return `${key}:{${r.set!.join(',')}}`;
  }
}

/**
 * Writes resources in their text form, normalized; {@link parseResources} reads it back to the
 * same resources, except for what the text cannot show: dynamic reservations, disk info, and
 * names, roles or set items containing the syntax's own characters (`;:,()[]{}`).
 */
export function formatResources(rs: readonly Resource[]): string {
  return (isNormalized(rs) ? rs : normalize(rs)).map(formatEntry).join(';');
}

/**
 * Reads agent attributes from their text form, such as `rack:r1;zone:a`. Values keep any further
 * `:`. Throws a {@link ValidationError} naming the entry that has no name or value, or repeats a
 * name.
 */
export function parseAttributes(text: string): Attributes {
  const out = new Map<string, string>();
  for (const entry of text.split(';')) {
    const raw = entry.trim();
    if (raw === '') continue;
    const colon = raw.indexOf(':');
    const name = colon < 0 ? raw : raw.slice(0, colon).trim();
    const value = colon < 0 ? '' : raw.slice(colon + 1).trim();
    if (!NAME.test(name)) {
      throw new ValidationError(`invalid attribute '${raw}': expected 'name:value'`, { details: { field: name || raw } });
    }
    if (value === '') {
      throw new ValidationError(`invalid attribute '${name}': no value`, { details: { field: name } });
    }
    if (out.has(name)) {
      throw new ValidationError(`invalid attribute '${name}': given twice`, { details: { field: name } });
    }
    out.set(name, value);
  }
  // fromEntries defines own properties, so an attribute named `__proto__` cannot do harm.
  return Object.fromEntries(out);
}
