/** The building blocks every page uses: the frame, tabs, tables, bars, badges, messages. */

import type { ComponentChildren, JSX } from 'preact';

/** The page frame: a header with the product and component name, tabs, and the content. */
export function Layout(props: {
  component: string;
  tabs?: readonly { id: string; label: string }[];
  tab?: string;
  onTab?: (id: string) => void;
  status?: ComponentChildren;
  children: ComponentChildren;
}): JSX.Element {
  return (
    <div class="layout">
      <header class="top">
        <span class="brand">Stoa</span>
        <span class="component">{props.component}</span>
        <nav class="tabs">
          {props.tabs?.map((t) => (
            <a
              key={t.id}
              href={`#${t.id}`}
              class={t.id === props.tab ? 'tab active' : 'tab'}
              data-tab={t.id}
              onClick={(e) => {
                if (!props.onTab) return;
                e.preventDefault();
                props.onTab(t.id);
              }}
            >
              {t.label}
            </a>
          ))}
        </nav>
        <span class="status">{props.status}</span>
      </header>
      <main>{props.children}</main>
    </div>
  );
}

/** A column of {@link Table}. */
export interface Column<T> {
  label: string;
  /** The cell; strings and numbers are shown as they are. */
  cell: (row: T) => ComponentChildren;
  /** Right-aligned numbers. */
  numeric?: boolean;
}

/** A table with a header, one row per item, and a line when there is none. */
export function Table<T>(props: {
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  empty?: string;
  testId?: string;
  onRowClick?: (row: T) => void;
}): JSX.Element {
  return (
    <table class="grid" data-testid={props.testId}>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th key={c.label} class={c.numeric ? 'num' : undefined}>
              {c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.length === 0 ? (
          <tr>
            <td colSpan={props.columns.length} class="empty">
              {props.empty ?? 'Nothing here yet.'}
            </td>
          </tr>
        ) : (
          props.rows.map((row) => (
            <tr
              key={props.rowKey(row)}
              data-key={props.rowKey(row)}
              class={props.onRowClick ? 'clickable' : undefined}
              onClick={props.onRowClick ? () => props.onRowClick?.(row) : undefined}
            >
              {props.columns.map((c) => (
                <td key={c.label} class={c.numeric ? 'num' : undefined}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

/** A used/total bar with its figures. */
export function Bar(props: { used: number; total: number; label?: string; unit?: string }): JSX.Element {
  const fraction = props.total > 0 ? Math.min(1, props.used / props.total) : 0;
  const level = fraction > 0.9 ? 'high' : fraction > 0.7 ? 'mid' : 'low';
  return (
    <div class="bar" title={`${props.label ?? ''} ${fmt(props.used)} of ${fmt(props.total)}${props.unit ?? ''}`}>
      <div class={`fill ${level}`} style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
      <span class="figures">
        {props.label ? `${props.label} ` : ''}
        {fmt(props.used)} / {fmt(props.total)}
        {props.unit ?? ''}
      </span>
    </div>
  );
}

/** A state shown as a coloured label (TASK_RUNNING, healthy, FAILED…). */
export function Badge(props: { state: string; title?: string }): JSX.Element {
  const s = props.state.toUpperCase();
  // Bad words first: UNHEALTHY contains HEALTHY, INACTIVE contains ACTIVE.
  const tone = /FAIL|ERROR|LOST|KILLED|UNHEALTHY|GONE|DROPPED|UNREACHABLE|CANCEL/.test(s)
    ? 'bad'
    : /RUNNING|HEALTHY|SUCCESS|FINISHED|ACTIVE|SUCCEEDED|FRESH|COMPLETE/.test(s) && !/INACTIVE/.test(s)
      ? 'ok'
      : /STAGING|STARTING|PENDING|KILLING|QUEUED|DEPLOY|WAIT|DRAIN|RECOVER/.test(s)
        ? 'warn'
        : 'plain';
  return (
    <span class={`badge ${tone}`} title={props.title}>
      {props.state}
    </span>
  );
}

/** A message shown above a view: an error in red, a notice in grey. */
export function Notice(props: { error?: string | undefined; children?: ComponentChildren }): JSX.Element | null {
  if (!props.error && !props.children) return null;
  return <div class={props.error ? 'notice error' : 'notice'} role={props.error ? 'alert' : 'status'}>{props.error ?? props.children}</div>;
}

/** A titled section. */
export function Section(props: { title: string; actions?: ComponentChildren; children: ComponentChildren; testId?: string }): JSX.Element {
  return (
    <section class="section" data-testid={props.testId}>
      <div class="section-head">
        <h2>{props.title}</h2>
        <div class="actions">{props.actions}</div>
      </div>
      {props.children}
    </section>
  );
}

/** A number shown short: 1234.5 → "1,234.5", big ones with separators. */
export function fmt(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '–';
  const rounded = Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100;
  return rounded.toLocaleString('en-US');
}

/** A time as "12:03:04" today, with the date otherwise. */
export function when(ms: number | string | undefined): string {
  if (ms === undefined) return '–';
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString('en-GB') : d.toLocaleString('en-GB');
}
