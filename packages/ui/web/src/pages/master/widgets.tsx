/** Small pieces the dashboard's views share: resource bars, attribute chips, short ids, the live dot. */

import type { ComponentChildren, JSX } from 'preact';
import { type Resource, amount, showAmount } from './model';

/** A used/total bar for one resource, figures in its unit (`0.1 / 2`, `32 MB / 11.3 GB`). */
export function ResourceBar(props: { name: string; used: number; total: number; offered?: number }): JSX.Element {
  const { name, used, total } = props;
  const fraction = total > 0 ? Math.min(1, used / total) : 0;
  const offered = total > 0 && props.offered ? Math.min(1 - fraction, props.offered / total) : 0;
  const level = fraction > 0.9 ? 'high' : fraction > 0.7 ? 'mid' : 'low';
  const title = `${name}: ${showAmount(name, used)} used of ${showAmount(name, total)}${props.offered ? `, ${showAmount(name, props.offered)} offered` : ''} (${Math.round(fraction * 100)}%)`;
  return (
    <div class="bar rbar" title={title} data-testid={`bar-${name}`} data-used={used} data-total={total}>
      <div class={`fill ${level}`} style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
      {offered > 0 ? <div class="fill offered" style={{ left: `${(fraction * 100).toFixed(1)}%`, width: `${(offered * 100).toFixed(1)}%` }} /> : null}
      <span class="figures">
        {showAmount(name, used)} / {showAmount(name, total)}
      </span>
    </div>
  );
}

/** The bar of resource `name` of an agent (or the whole cluster): used and offered against total. */
export function AgentResourceBar(props: { name: string; total: readonly Resource[]; used: readonly Resource[]; offered?: readonly Resource[] }): JSX.Element {
  const total = amount(props.total, props.name);
  if (total === 0) return <span class="muted">–</span>;
  return <ResourceBar name={props.name} used={amount(props.used, props.name)} total={total} offered={props.offered ? amount(props.offered, props.name) : 0} />;
}

/** Attributes as `key=value` chips. */
export function Chips(props: { values: Readonly<Record<string, string>> | undefined; testId?: string }): JSX.Element {
  const entries = Object.entries(props.values ?? {});
  if (entries.length === 0) return <span class="muted">–</span>;
  return (
    <span class="chips" data-testid={props.testId}>
      {entries.map(([k, v]) => (
        <span key={k} class="chip">
          <span class="chip-key">{k}</span>
          {v}
        </span>
      ))}
    </span>
  );
}

/** A long id cut to its start, whole in the tooltip, selectable. */
export function ShortId(props: { id: string; length?: number }): JSX.Element {
  const n = props.length ?? 12;
  return (
    <span class="mono muted short-id" title={props.id}>
      {props.id.length > n + 1 ? `${props.id.slice(0, n)}…` : props.id}
    </span>
  );
}

/** A dot that is green while a live stream is open. */
export function LiveDot(props: { live: boolean; testId?: string }): JSX.Element {
  return (
    <span class={props.live ? 'live-dot on' : 'live-dot'} data-testid={props.testId} data-live={props.live ? 'yes' : 'no'}>
      {props.live ? 'live' : 'reconnecting…'}
    </span>
  );
}

/** A link to another view of the dashboard that does not also click the row it sits in. */
export function ViewLink(props: { href: string; children: ComponentChildren; testId?: string }): JSX.Element {
  return (
    <a href={props.href} data-testid={props.testId} onClick={(e) => e.stopPropagation()}>
      {props.children}
    </a>
  );
}

/** A key/value list. */
export function KeyValues(props: { items: readonly (readonly [string, ComponentChildren] | false | undefined)[]; testId?: string }): JSX.Element {
  return (
    <dl class="kv" data-testid={props.testId}>
      {props.items
        .filter((i): i is readonly [string, ComponentChildren] => Array.isArray(i))
        .map(([k, v]) => [<dt key={`k-${k}`}>{k}</dt>, <dd key={`v-${k}`}>{v}</dd>])}
    </dl>
  );
}
