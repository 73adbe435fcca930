/**
 * The app form's reading of a JSON Schema (what `GET /v2/schemas/app` serves, made by zod from
 * the schema the API validates with): which editor each node gets, the limits to show as hints,
 * client-side checks in the API's own path form (`/healthChecks(0)/portIndex`), and which field
 * an error path belongs to. The schema is the authority on types, limits and enums; nothing of
 * them is repeated here.
 */

/** The subset of JSON Schema (draft 2020-12) the form understands. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  readOnly?: boolean;
}

/** A place in a definition: property names and array indexes. */
export type Path = readonly (string | number)[];

/** A path in the API's form: names as `/name`, indexes as `(i)`; the whole definition is `/`. */
export function formatPath(path: Path): string {
  if (path.length === 0) return '/';
  return path.map((p) => (typeof p === 'number' ? `(${p})` : `/${p}`)).join('');
}

/** Reads a path in the API's form back (`/healthChecks(0)/portIndex` → `['healthChecks', 0, 'portIndex']`). */
export function parsePath(text: string): Path {
  const out: (string | number)[] = [];
  const re = /\/([^/(]*)|\((\d+)\)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[1] !== undefined && m[1] !== '') out.push(m[1]);
  }
  return out;
}

/** How the form edits a node of the schema. */
export type EditorKind =
  /** A select of the schema's `enum`. */
  | 'enum'
  /** A select: default, yes, no. */
  | 'boolean'
  | 'number'
  | 'string'
  /** A group of named fields (`upgradeStrategy`). */
  | 'object'
  /** Key/value rows (`env`, `labels`). */
  | 'record'
  /** A list of plain values (`args`, `upgradeStrategy.steps`). */
  | 'list'
  /** Repeated groups of fields (`portDefinitions`, `healthChecks`). */
  | 'objects'
  /** Rows of short strings (`constraints`: `[field, operator, value]`), for arrays whose items the schema leaves open. */
  | 'tuples'
  /** One of several forms (`unreachableStrategy`: `"disabled"` or an object). */
  | 'choice'
  /** Anything else: JSON text. */
  | 'json';

/** The branches of a union. */
export function branches(s: JsonSchema): JsonSchema[] {
  return s.anyOf ?? s.oneOf ?? [];
}

/** The schema's type, the first one when it lists several. */
export function typeOf(s: JsonSchema): string | undefined {
  return Array.isArray(s.type) ? s.type[0] : s.type;
}

/** Whether a node holds one plain value (string, number, boolean, or a union of those). */
export function isScalar(s: JsonSchema): boolean {
  const t = typeOf(s);
  if (t === 'string' || t === 'number' || t === 'integer' || t === 'boolean') return true;
  if (s.enum !== undefined || s.const !== undefined) return true;
  const b = branches(s);
  return b.length > 0 && b.every(isScalar);
}

/** Picks the editor of a node. */
export function editorKind(s: JsonSchema): EditorKind {
  if (s.enum !== undefined) return 'enum';
  if (branches(s).length > 0) return branches(s).every(isScalar) ? 'string' : 'choice';
  switch (typeOf(s)) {
    case 'boolean':
      return 'boolean';
    case 'number':
    case 'integer':
      return 'number';
    case 'string':
      return 'string';
    case 'object':
      if (s.properties !== undefined) return 'object';
      return 'record';
    case 'array': {
      const items = s.items;
      if (items === undefined || s.prefixItems !== undefined) return 'tuples';
      if (isScalar(items)) return 'list';
      if (typeOf(items) === 'object' && items.properties !== undefined) return 'objects';
      return 'tuples';
    }
    default:
      return 'json';
  }
}

/** Editors that show the errors of everything inside them (their parts are not fields of their own). */
export function ownsDescendants(kind: EditorKind): boolean {
  return kind === 'record' || kind === 'list' || kind === 'tuples' || kind === 'json';
}

/** The branch of a union that is an object with properties. */
export function objectBranch(s: JsonSchema): JsonSchema | undefined {
  return branches(s).find((b) => typeOf(b) === 'object' && b.properties !== undefined);
}

/** The node one step down from `s`, or undefined where the schema has nothing there. */
export function childSchema(s: JsonSchema, segment: string | number): JsonSchema | undefined {
  if (typeof segment === 'number') return typeOf(s) === 'array' ? (s.prefixItems?.[segment] ?? s.items) : undefined;
  const props = s.properties ?? objectBranch(s)?.properties;
  if (props && Object.hasOwn(props, segment)) return props[segment];
  if (typeof s.additionalProperties === 'object') return s.additionalProperties;
  return undefined;
}

/**
 * The field (its path in the API's form) that shows an error at `errorPath`: the deepest node the
 * form draws as a field, or the editor that owns its parts. Undefined for errors of the whole
 * definition, of fields the form does not draw (`hidden`), and of fields the schema does not know:
 * those go at the top of the form.
 */
export function errorOwner(root: JsonSchema, errorPath: string, hidden: ReadonlySet<string>): string | undefined {
  const path = parsePath(errorPath);
  let node = root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string | number;
    if (i === 0 && typeof segment === 'string' && hidden.has(segment)) return undefined;
    if (i > 0 && ownsDescendants(editorKind(node))) return formatPath(path.slice(0, i));
    const next = childSchema(node, segment);
    if (next === undefined) return i === 0 ? undefined : formatPath(path.slice(0, i));
    node = next;
  }
  return path.length === 0 ? undefined : formatPath(path);
}

const BIG = Number.MAX_SAFE_INTEGER;

function bound(n: number | undefined): number | undefined {
  return n === undefined || Math.abs(n) >= BIG ? undefined : n;
}

/** The limits of a node as people read them: "whole number ≥ 0", "0 to 1", "1–1024 characters". */
export function limitsOf(s: JsonSchema): string {
  const parts: string[] = [];
  const t = typeOf(s);
  if (s.enum !== undefined) return `one of ${s.enum.map((v) => String(v)).join(', ')}`;
  if (t === 'integer' || t === 'number') {
    const min = bound(s.minimum);
    const max = bound(s.maximum);
    const word = t === 'integer' ? 'whole number' : 'number';
    const bounds = [
      min !== undefined && max !== undefined ? `${min} to ${max}` : '',
      min !== undefined && max === undefined ? `≥ ${min}` : '',
      max !== undefined && min === undefined ? `≤ ${max}` : '',
      s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : '',
      s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : '',
    ].filter(Boolean);
    parts.push(bounds.length === 0 ? word : `${word} ${bounds.join(', ')}`);
  }
  if (t === 'string') {
    if (s.minLength !== undefined && s.maxLength !== undefined) parts.push(`${s.minLength}–${s.maxLength} characters`);
    else if (s.maxLength !== undefined) parts.push(`at most ${s.maxLength} characters`);
    else if (s.minLength !== undefined && s.minLength > 1) parts.push(`at least ${s.minLength} characters`);
    if (s.pattern !== undefined) parts.push(`matching ${s.pattern}`);
  }
  if (t === 'array') {
    if (s.minItems !== undefined && s.minItems > 0) parts.push(`at least ${s.minItems}`);
    if (s.maxItems !== undefined) parts.push(`at most ${s.maxItems}`);
  }
  const b = branches(s);
  if (b.length > 0 && b.every(isScalar)) parts.push(b.map(limitsOf).filter(Boolean).join(' or '));
  return parts.join(', ');
}

/** One client-side problem, in the API's path form. */
export interface Problem {
  path: string;
  message: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? 'a list' : isPlainObject(value) ? 'an object' : String(value);
}

function typeMatches(t: string, value: unknown): boolean {
  switch (t) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isPlainObject(value);
    case 'null':
      return value === null;
    default:
      return true;
  }
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};

/**
 * Checks `value` against the schema as the API's first pass does (types, required fields,
 * ranges, lengths, patterns, enums, unknown fields) and returns every problem. The server checks
 * more (rules across fields); its answer is the authority.
 */
export function validate(schema: JsonSchema, value: unknown, path: Path = []): Problem[] {
  const out: Problem[] = [];
  check(schema, value, path, out);
  return out;
}

function check(s: JsonSchema, value: unknown, path: Path, out: Problem[]): void {
  const at = formatPath(path);
  const add = (message: string): void => {
    out.push({ path: at, message });
  };
  const b = branches(s);
  if (b.length > 0) {
    const results = b.map((branch) => validate(branch, value, path));
    if (results.some((r) => r.length === 0)) return;
    const objectOne = isPlainObject(value) ? b.findIndex((branch) => typeOf(branch) === 'object') : -1;
    if (objectOne >= 0) out.push(...(results[objectOne] ?? []));
    else add(`must be ${b.map((branch) => (branch.const !== undefined ? JSON.stringify(branch.const) : limitsOf(branch) || TYPE_WORDS[typeOf(branch) ?? ''] || 'another form')).join(' or ')}`);
    return;
  }
  if (s.const !== undefined && value !== s.const) {
    add(`must be ${JSON.stringify(s.const)}`);
    return;
  }
  if (s.enum !== undefined && !s.enum.includes(value)) {
    add(`must be one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`);
    return;
  }
  const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
  if (types.length > 0 && !types.some((t) => typeMatches(t, value))) {
    add(`expected ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}, got ${show(value)}`);
    return;
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) add(`must be at least ${s.minimum}, got ${value}`);
    if (s.maximum !== undefined && value > s.maximum) add(`must be at most ${s.maximum}, got ${value}`);
    if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) add(`must be more than ${s.exclusiveMinimum}, got ${value}`);
    if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) add(`must be less than ${s.exclusiveMaximum}, got ${value}`);
  }
  if (typeof value === 'string') {
    if (s.minLength !== undefined && value.length < s.minLength) add(s.minLength === 1 ? 'must not be empty' : `must be at least ${s.minLength} characters long`);
    if (s.maxLength !== undefined && value.length > s.maxLength) add(`must be at most ${s.maxLength} characters long`);
    if (s.pattern !== undefined && !safePattern(s.pattern).test(value)) add(`must match ${s.pattern}`);
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) add(`must have at least ${s.minItems} item(s)`);
    if (s.maxItems !== undefined && value.length > s.maxItems) add(`must have at most ${s.maxItems} item(s)`);
    value.forEach((item, i) => {
      const itemSchema = s.prefixItems?.[i] ?? s.items;
      if (itemSchema !== undefined) check(itemSchema, item, [...path, i], out);
    });
  }
  if (isPlainObject(value)) {
    for (const name of s.required ?? []) {
      if (value[name] === undefined || value[name] === '') out.push({ path: formatPath([...path, name]), message: 'is required' });
    }
    for (const [key, item] of Object.entries(value)) {
      const prop = s.properties?.[key];
      if (prop !== undefined) {
        if (!((s.required ?? []).includes(key) && item === '')) check(prop, item, [...path, key], out);
      } else if (s.additionalProperties === false) out.push({ path: formatPath([...path, key]), message: 'unknown field' });
      else if (typeof s.additionalProperties === 'object') check(s.additionalProperties, item, [...path, key], out);
    }
  }
}

function safePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return /(?:)/;
  }
}

/** Returns a copy of `root` with the value at `path` set, or removed when `value` is undefined. */
export function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as (string | number)[];
  if (typeof head === 'number') {
    const list = Array.isArray(root) ? [...root] : [];
    const next = setAt(list[head], rest, value);
    if (next === undefined && rest.length === 0) list.splice(head, 1);
    else list[head] = next;
    return list;
  }
  const obj: Record<string, unknown> = isPlainObject(root) ? { ...root } : {};
  const next = setAt(obj[head as string], rest, value);
  if (next === undefined) delete obj[head as string];
  else obj[head as string] = next;
  return obj;
}

/** The value at `path`, or undefined. */
export function getAt(root: unknown, path: Path): unknown {
  let at: unknown = root;
  for (const p of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string | number, unknown>)[p];
  }
  return at;
}
