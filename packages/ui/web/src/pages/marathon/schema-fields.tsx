/**
 * Form fields drawn from a JSON Schema: one editor per kind of node ({@link editorKind}), each
 * with the node's limits as a hint and its errors beside it. Every field carries
 * `data-field="<path in the API's form>"` (`/cpus`, `/healthChecks(0)/path`) so that errors and
 * tests find it.
 */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import {
  branches,
  editorKind,
  formatPath,
  getAt,
  isScalar,
  type JsonSchema,
  limitsOf,
  objectBranch,
  type Path,
  typeOf,
} from './json-schema';

/** What every field of a form shares: the value, how to change it, and the errors to show. */
export interface FormContext {
  /** The whole definition. */
  root: unknown;
  /** Sets the value at a path (undefined removes it). */
  set: (path: Path, value: unknown) => void;
  /** The errors shown beside the field at `key` (the API's path form): its own, and its parts' where it draws no field for them. */
  errorsAt: (key: string) => string[];
  /** Whether a field inside the one at `key` shows an error. */
  hasErrorsUnder: (key: string) => boolean;
  /** A note for a field the schema does not describe, such as its unit. */
  noteFor?: (key: string) => string | undefined;
  /** Fields that cannot change (the id of an app being edited). */
  readOnly?: ReadonlySet<string>;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A DOM id for the control of a field. */
function controlId(key: string): string {
  return `mf${key.replace(/[^\w]/g, '_')}`;
}

function placeholderOf(s: JsonSchema): string | undefined {
  const d = s.default ?? s.examples?.[0];
  if (d === undefined) return undefined;
  return typeof d === 'string' ? d : JSON.stringify(d);
}

/** The hint under a field: the schema's description, or the page's note, and the limits. */
function Hint(props: { schema: JsonSchema; note: string | undefined }): JSX.Element | null {
  const text = props.schema.description ?? props.note;
  // A select lists the values of an enum itself.
  const limits = props.schema.enum === undefined ? limitsOf(props.schema) : '';
  if (!text && !limits) return null;
  return (
    <div class="hint">
      {text}
      {text && limits ? ' · ' : ''}
      {limits ? <span class="mf-limits">{limits}</span> : null}
    </div>
  );
}

/** The errors beside a field. */
function Errors(props: { errors: readonly string[] }): JSX.Element | null {
  if (props.errors.length === 0) return null;
  return (
    <div class="field-error" data-testid="field-error" role="alert">
      {props.errors.map((e) => (
        <div key={e}>{e}</div>
      ))}
    </div>
  );
}

/** One property of an object, drawn with the editor its schema calls for. */
export function SchemaField(props: { name: string; schema: JsonSchema; path: Path; required: boolean; ctx: FormContext }): JSX.Element {
  const { schema, path, ctx } = props;
  const kind = editorKind(schema);
  const key = formatPath(path);
  const errors = ctx.errorsAt(key);
  const value = getAt(ctx.root, path);
  const note = ctx.noteFor?.(key);
  const label = (
    <>
      <span class="mf-name">{schema.title ?? props.name}</span>
      {props.required ? <span class="mf-required" title="required"> *</span> : null}
    </>
  );

  if (kind === 'object') {
    const body = (
      <>
        <Hint schema={schema} note={note} />
        <Errors errors={errors} />
        <ObjectFields schema={schema} path={path} ctx={ctx} />
      </>
    );
    if (props.required) {
      return (
        <fieldset class={`mf-group wide${errors.length ? ' invalid' : ''}`} data-field={key}>
          <legend>{label}</legend>
          {body}
        </fieldset>
      );
    }
    // An optional group stays folded until it is set or has an error, so that its required parts do not look required of the app.
    const hasErrors = errors.length > 0 || ctx.hasErrorsUnder(key);
    return (
      <details class={`mf-group mf-optional wide${hasErrors ? ' invalid' : ''}`} data-field={key} open={value !== undefined || hasErrors || undefined}>
        <summary>
          {label}
          <span class="muted">{value === undefined ? ' · not set: the defaults apply' : ''}</span>
          {value !== undefined ? (
            <button
              type="button"
              class="mf-remove mf-unset"
              onClick={(e) => {
                e.preventDefault();
                ctx.set(path, undefined);
              }}
            >
              Unset
            </button>
          ) : null}
        </summary>
        {body}
      </details>
    );
  }
  if (kind === 'objects') return <ObjectList {...props} label={label} errors={errors} note={note} />;
  if (kind === 'choice') return <Choice {...props} label={label} errors={errors} note={note} value={value} />;

  const id = controlId(key);
  const set = (next: unknown) => ctx.set(path, next);
  const readOnly = ctx.readOnly?.has(key) ?? false;
  const wide = kind === 'record' || kind === 'tuples' || kind === 'json' || (kind === 'list' && typeOf(schema.items ?? {}) === 'string') || props.name === 'cmd';
  return (
    <div class={`field mf-field${wide ? ' wide' : path.length === 1 && props.name === 'id' ? ' span2' : ''}${errors.length ? ' invalid' : ''}`} data-field={key}>
      <label for={id}>{label}</label>
      <Control kind={kind} id={id} schema={schema} value={value} set={set} required={props.required} readOnly={readOnly} multiline={props.name === 'cmd'} />
      <Hint schema={schema} note={note} />
      <Errors errors={errors} />
    </div>
  );
}

/** The fields of an object node, in the schema's order, required ones marked. */
export function ObjectFields(props: { schema: JsonSchema; path: Path; ctx: FormContext; only?: readonly string[] }): JSX.Element {
  const props_ = props.schema.properties ?? {};
  const names = props.only ?? Object.keys(props_);
  return (
    <div class="mf-grid">
      {names.map((name) => {
        const s = props_[name];
        if (s === undefined) return null;
        return <SchemaField key={name} name={name} schema={s} path={[...props.path, name]} required={(props.schema.required ?? []).includes(name)} ctx={props.ctx} />;
      })}
    </div>
  );
}

function Control(props: {
  kind: ReturnType<typeof editorKind>;
  id: string;
  schema: JsonSchema;
  value: unknown;
  set: (v: unknown) => void;
  required: boolean;
  readOnly: boolean;
  multiline: boolean;
}): JSX.Element {
  const { kind, id, schema, value, set } = props;
  switch (kind) {
    case 'enum':
      return (
        <select id={id} value={value === undefined ? '' : String(value)} disabled={props.readOnly} onChange={(e) => set(enumValue(schema, e.currentTarget.value))}>
          <option value="">{placeholderOf(schema) ? `default (${placeholderOf(schema)})` : '— default —'}</option>
          {(schema.enum ?? []).map((v) => (
            <option key={String(v)} value={String(v)}>
              {String(v)}
            </option>
          ))}
        </select>
      );
    case 'boolean':
      return (
        <select id={id} value={value === undefined ? '' : String(value)} disabled={props.readOnly} onChange={(e) => set(e.currentTarget.value === '' ? undefined : e.currentTarget.value === 'true')}>
          <option value="">{placeholderOf(schema) ? `default (${placeholderOf(schema)})` : '— default —'}</option>
          <option value="true">yes</option>
          <option value="false">no</option>
        </select>
      );
    case 'number':
      return <NumberInput id={id} schema={schema} value={value} set={set} readOnly={props.readOnly} />;
    case 'string':
      return <StringInput {...props} />;
    case 'record':
      return <RecordEditor id={id} value={value} set={set} />;
    case 'list':
      return <ListEditor id={id} schema={schema} value={value} set={set} />;
    case 'tuples':
      return <TupleEditor id={id} schema={schema} value={value} set={set} />;
    default:
      return <JsonEditor id={id} value={value} set={set} />;
  }
}

function enumValue(schema: JsonSchema, text: string): unknown {
  if (text === '') return undefined;
  return (schema.enum ?? []).find((v) => String(v) === text) ?? text;
}

/** Text in the input while it still reads as the current value (so "0." can be typed), the value otherwise. */
function NumberInput(props: { id: string; schema: JsonSchema; value: unknown; set: (v: unknown) => void; readOnly: boolean }): JSX.Element {
  const [text, setText] = useState(() => numberText(props.value));
  const parse = (t: string) => (t.trim() === '' ? undefined : Number(t));
  const shown = same(parse(text), props.value) ? text : numberText(props.value);
  const integer = typeOf(props.schema) === 'integer';
  return (
    <input
      id={props.id}
      type="number"
      step={integer ? 1 : 'any'}
      value={shown}
      readOnly={props.readOnly}
      placeholder={placeholderOf(props.schema)}
      onInput={(e) => {
        const t = e.currentTarget.value;
        setText(t);
        props.set(parse(t));
      }}
    />
  );
}

function numberText(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function StringInput(props: { id: string; schema: JsonSchema; value: unknown; set: (v: unknown) => void; required: boolean; readOnly: boolean; multiline: boolean }): JSX.Element {
  const text = props.value === undefined ? '' : typeof props.value === 'string' ? props.value : JSON.stringify(props.value);
  // An empty optional field is left out of the definition, so the API applies its default.
  const onInput = (t: string) => props.set(t === '' && !props.required ? undefined : coerce(props.schema, t));
  if (props.multiline) {
    return <textarea id={props.id} rows={2} value={text} readOnly={props.readOnly} placeholder={placeholderOf(props.schema)} onInput={(e) => onInput(e.currentTarget.value)} />;
  }
  return (
    <input
      id={props.id}
      type="text"
      value={text}
      readOnly={props.readOnly}
      placeholder={placeholderOf(props.schema)}
      maxLength={props.schema.maxLength}
      spellcheck={false}
      onInput={(e) => onInput(e.currentTarget.value)}
    />
  );
}

/** A plain value typed as text, turned into what the schema takes: a number where it takes one. */
function coerce(s: JsonSchema, raw: string): unknown {
  const types = [typeOf(s), ...branches(s).map(typeOf)];
  const numeric = /^-?\d+(?:\.\d+)?$/.test(raw.trim());
  if (numeric && (types.includes('integer') || types.includes('number'))) return Number(raw.trim());
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
}

/** Key/value rows; rows without a key stay on the page but out of the definition. */
function RecordEditor(props: { id: string; value: unknown; set: (v: unknown) => void }): JSX.Element {
  const fromValue = (v: unknown): [string, string][] =>
    isPlainObject(v) ? Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]) : [];
  const toValue = (rows: [string, string][]): Record<string, string> | undefined => {
    const kept = rows.filter(([k]) => k !== '');
    return kept.length === 0 ? undefined : Object.fromEntries(kept);
  };
  const [rows, setRows] = useState(() => fromValue(props.value));
  const shown = same(toValue(rows), isPlainObject(props.value) && Object.keys(props.value).length === 0 ? undefined : props.value) ? rows : fromValue(props.value);
  const update = (next: [string, string][]) => {
    setRows(next);
    props.set(toValue(next));
  };
  return (
    <div class="mf-rows" id={props.id}>
      {shown.map(([k, v], i) => (
        <div class="mf-row" key={i}>
          <input type="text" class="mf-key" placeholder="name" value={k} spellcheck={false} onInput={(e) => update(shown.map((r, j) => (j === i ? [e.currentTarget.value, r[1]] : r)))} />
          <span class="muted">=</span>
          <input type="text" class="mf-value" placeholder="value" value={v} spellcheck={false} onInput={(e) => update(shown.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)))} />
          <button type="button" class="mf-remove" title="Remove" onClick={() => update(shown.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" class="mf-add" onClick={() => update([...shown, ['', '']])}>
        + Add
      </button>
    </div>
  );
}

/** A list of plain values: one per line for text, comma-separated for numbers and steps. */
function ListEditor(props: { id: string; schema: JsonSchema; value: unknown; set: (v: unknown) => void }): JSX.Element {
  const items = props.schema.items ?? {};
  const lines = typeOf(items) === 'string' && items.enum === undefined;
  const split = (t: string) => (lines ? t.split('\n') : t.split(',')).map((x) => (lines ? x : x.trim())).filter((x) => x !== '');
  const toValue = (t: string) => {
    const parts = split(t);
    return parts.length === 0 ? undefined : parts.map((p) => coerce(items, p));
  };
  const fromValue = (v: unknown) => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(lines ? '\n' : ', ') : '');
  const [text, setText] = useState(() => fromValue(props.value));
  const shown = same(toValue(text), props.value) ? text : fromValue(props.value);
  const onInput = (t: string) => {
    setText(t);
    props.set(toValue(t));
  };
  if (lines) {
    return <textarea id={props.id} rows={Math.min(6, Math.max(2, shown.split('\n').length))} value={shown} placeholder="one per line" spellcheck={false} onInput={(e) => onInput(e.currentTarget.value)} />;
  }
  return <input id={props.id} type="text" value={shown} placeholder="comma-separated" spellcheck={false} onInput={(e) => onInput(e.currentTarget.value)} />;
}

/**
 * The columns of a row of strings. The schema describes each column where it has `prefixItems`;
 * for `constraints`, which it leaves open, these are Marathon's `[field, operator, value]`.
 */
const TUPLE_COLUMNS = ['field', 'operator', 'value'] as const;
/** Marathon's constraint operators, offered as suggestions when the schema names none (the API checks them). */
const OPERATOR_SUGGESTIONS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS'];

/** Rows of short strings (`constraints`), the empty trailing ones dropped. */
function TupleEditor(props: { id: string; schema: JsonSchema; value: unknown; set: (v: unknown) => void }): JSX.Element {
  const prefix = props.schema.items?.prefixItems ?? props.schema.prefixItems;
  const columns = prefix?.map((p, i) => p.title ?? TUPLE_COLUMNS[i] ?? `part ${i + 1}`) ?? [...TUPLE_COLUMNS];
  const operatorEnum = prefix?.[1]?.enum?.map(String) ?? OPERATOR_SUGGESTIONS;
  const width = columns.length;
  const fromValue = (v: unknown): string[][] =>
    Array.isArray(v) ? v.map((row) => (Array.isArray(row) ? Array.from({ length: width }, (_, i) => (row[i] === undefined ? '' : String(row[i]))) : [JSON.stringify(row), '', ''])) : [];
  const toValue = (rows: string[][]): string[][] | undefined => {
    const kept = rows
      .map((r) => {
        const parts = [...r];
        while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
        return parts;
      })
      .filter((r) => r.length > 0);
    return kept.length === 0 ? undefined : kept;
  };
  const [rows, setRows] = useState(() => fromValue(props.value));
  const current = Array.isArray(props.value) && props.value.length === 0 ? undefined : props.value;
  const shown = same(toValue(rows), current) ? rows : fromValue(props.value);
  const update = (next: string[][]) => {
    setRows(next);
    props.set(toValue(next));
  };
  const listId = `${props.id}_ops`;
  return (
    <div class="mf-rows" id={props.id}>
      <datalist id={listId}>
        {operatorEnum.map((o) => (
          <option key={o} value={o} />
        ))}
      </datalist>
      {shown.map((row, i) => (
        <div class="mf-row" key={i}>
          {row.map((cell, c) => (
            <input
              key={c}
              type="text"
              placeholder={columns[c]}
              value={cell}
              list={c === 1 ? listId : undefined}
              spellcheck={false}
              onInput={(e) => update(shown.map((r, j) => (j === i ? r.map((x, k) => (k === c ? e.currentTarget.value : x)) : r)))}
            />
          ))}
          <button type="button" class="mf-remove" title="Remove" onClick={() => update(shown.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" class="mf-add" onClick={() => update([...shown, Array.from({ length: width }, () => '')])}>
        + Add
      </button>
    </div>
  );
}

/** JSON text for a node the form has no editor for. */
function JsonEditor(props: { id: string; value: unknown; set: (v: unknown) => void }): JSX.Element {
  const fromValue = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
  const [text, setText] = useState(() => fromValue(props.value));
  const [bad, setBad] = useState(false);
  const parse = (t: string): { ok: boolean; value?: unknown } => {
    if (t.trim() === '') return { ok: true, value: undefined };
    try {
      return { ok: true, value: JSON.parse(t) };
    } catch {
      return { ok: false };
    }
  };
  const p = parse(text);
  const shown = !p.ok || same(p.value, props.value) ? text : fromValue(props.value);
  return (
    <>
      <input
        id={props.id}
        type="text"
        class="mono"
        value={shown}
        placeholder="JSON"
        spellcheck={false}
        onInput={(e) => {
          const t = e.currentTarget.value;
          setText(t);
          const r = parse(t);
          setBad(!r.ok);
          if (r.ok) props.set(r.value);
        }}
      />
      {bad ? <div class="field-error">not valid JSON yet</div> : null}
    </>
  );
}

/** Repeated groups of fields (`portDefinitions`, `healthChecks`), each removable. */
function ObjectList(props: {
  name: string;
  schema: JsonSchema;
  path: Path;
  ctx: FormContext;
  label: JSX.Element;
  errors: string[];
  note: string | undefined;
}): JSX.Element {
  const { schema, path, ctx } = props;
  const key = formatPath(path);
  const items = getAt(ctx.root, path);
  const list = Array.isArray(items) ? items : [];
  const itemSchema = schema.items ?? {};
  return (
    <fieldset class={`mf-group wide${props.errors.length ? ' invalid' : ''}`} data-field={key}>
      <legend>{props.label}</legend>
      <Hint schema={schema} note={props.note} />
      <Errors errors={props.errors} />
      {list.map((_, i) => {
        const itemKey = formatPath([...path, i]);
        const itemErrors = ctx.errorsAt(itemKey);
        return (
          <div class={`mf-item${itemErrors.length ? ' invalid' : ''}`} key={i} data-field={itemKey}>
            <div class="mf-item-head">
              <span class="muted">
                {props.name}[{i}]
              </span>
              <button type="button" class="mf-remove" title="Remove" onClick={() => ctx.set([...path, i], undefined)}>
                Remove
              </button>
            </div>
            <Errors errors={itemErrors} />
            <ObjectFields schema={itemSchema} path={[...path, i]} ctx={ctx} />
          </div>
        );
      })}
      <button type="button" class="mf-add" data-testid={`add-${props.name}`} onClick={() => ctx.set([...path, list.length], {})}>
        + Add {list.length === 0 ? 'one' : 'another'}
      </button>
    </fieldset>
  );
}

/** One of several forms: each constant of the union, or its object form with fields of its own. */
function Choice(props: {
  name: string;
  schema: JsonSchema;
  path: Path;
  ctx: FormContext;
  label: JSX.Element;
  errors: string[];
  note: string | undefined;
  value: unknown;
}): JSX.Element {
  const { schema, path, ctx, value } = props;
  const key = formatPath(path);
  const consts = branches(schema).filter((b) => b.const !== undefined || (b.enum !== undefined && isScalar(b)));
  const constValues = consts.flatMap((b) => (b.const !== undefined ? [b.const] : (b.enum ?? [])));
  const object = objectBranch(schema);
  const selected = value === undefined ? '' : isPlainObject(value) ? '{}' : String(value);
  return (
    <fieldset class={`mf-group wide${props.errors.length ? ' invalid' : ''}`} data-field={key}>
      <legend>{props.label}</legend>
      <select
        id={controlId(key)}
        value={selected}
        onChange={(e) => {
          const t = e.currentTarget.value;
          ctx.set(path, t === '' ? undefined : t === '{}' ? {} : (constValues.find((c) => String(c) === t) ?? t));
        }}
      >
        <option value="">— default —</option>
        {constValues.map((c) => (
          <option key={String(c)} value={String(c)}>
            {String(c)}
          </option>
        ))}
        {object ? <option value="{}">custom…</option> : null}
      </select>
      <Hint schema={schema} note={props.note} />
      <Errors errors={props.errors} />
      {object && isPlainObject(value) ? <ObjectFields schema={object} path={path} ctx={ctx} /> : null}
    </fieldset>
  );
}
