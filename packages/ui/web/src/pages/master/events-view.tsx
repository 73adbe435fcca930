/** The events view: the cluster's event stream as it happens, newest first, filterable, pausable. */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Badge, Section, when } from '../../lib/components';
import { type ClusterFeed, type ClusterEvent, type FeedEvent, MAX_EVENTS } from './cluster-events';
import { type ClusterState, shortState } from './model';
import { formatRoute } from './route';
import { LiveDot } from './widgets';

/** What an event is about and what it says, in a line. */
function describe(e: ClusterEvent, state: ClusterState): { subject: JSX.Element | string; status: string; detail: string } {
  const fwName = (id: string) => state.frameworks.find((f) => f.id === id)?.info.name ?? id;
  const host = (id: string) => state.agents.find((a) => a.id === id)?.hostname ?? id;
  if (e.task) {
    const t = e.task;
    return {
      subject: (
        <a href={`#${formatRoute({ tab: 'tasks', params: { task: t.taskId } })}`} title={t.taskId}>
          {t.name} <span class="muted mono">{t.taskId}</span>
        </a>
      ),
      status: shortState(t.state),
      detail: [`${fwName(t.frameworkId)} on ${host(t.agentId)}`, t.status?.reason, t.status?.message].filter(Boolean).join(' · '),
    };
  }
  if (e.agent) {
    const a = e.agent;
    return {
      subject: <a href={`#${formatRoute({ tab: 'agents', params: { agent: a.id } })}`}>{a.hostname}</a>,
      status: a.state.toLowerCase(),
      detail: `${a.taskCount} tasks · ${Object.entries(a.attributes)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    };
  }
  if (e.framework) {
    const f = e.framework;
    return { subject: f.info.name, status: f.state.toLowerCase(), detail: `${f.taskCount} tasks · share ${(f.share * 100).toFixed(1)}%` };
  }
  if (e.agentId) return { subject: host(e.agentId), status: 'removed', detail: e.agentId };
  if (e.frameworkId) return { subject: fwName(e.frameworkId), status: 'removed', detail: e.frameworkId };
  return { subject: '', status: '', detail: '' };
}

/** The kind of an event: task, agent or framework. */
function kindOf(type: string): string {
  return type.split('_')[0]?.toLowerCase() ?? '';
}

/** The events view. */
export function EventsView(props: { feed: ClusterFeed; state: ClusterState }): JSX.Element {
  const { feed } = props;
  const [kind, setKind] = useState('');
  const [text, setText] = useState('');
  const [frozen, setFrozen] = useState<readonly FeedEvent[] | undefined>(undefined);
  const shown = (frozen ?? feed.events).filter((f) => {
    if (kind && kindOf(f.event.type) !== kind) return false;
    if (!text) return true;
    return JSON.stringify(f.event).toLowerCase().includes(text.toLowerCase());
  });
  return (
    <div data-testid="view-events">
      <Section
        title="Cluster events"
        testId="events"
        actions={
          <>
            <LiveDot live={feed.connected} testId="events-live" />
            <span class="muted small" data-testid="events-count">
              {feed.received} received · keeping the last {MAX_EVENTS}
            </span>
          </>
        }
      >
        <div class="filters">
          <label class="filter">
            Kind
            <select data-testid="events-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
              <option value="">all</option>
              <option value="task">tasks</option>
              <option value="agent">agents</option>
              <option value="framework">frameworks</option>
            </select>
          </label>
          <label class="filter">
            Contains
            <input type="search" data-testid="events-search" value={text} placeholder="task id, hostname, state…" onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <button type="button" data-testid="events-pause" onClick={() => setFrozen(frozen ? undefined : feed.events)}>
            {frozen ? `Resume (${Math.max(0, feed.received - (frozen[0]?.seq ?? 0))} new)` : 'Pause'}
          </button>
          <button
            type="button"
            onClick={() => {
              feed.clear();
              setFrozen(undefined);
            }}
          >
            Clear
          </button>
        </div>
        <table class="grid events-table" data-testid="events-table">
          <thead>
            <tr>
              <th>Time</th>
              <th>Event</th>
              <th>Subject</th>
              <th>State</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {shown.length === 0 ? (
              <tr>
                <td colSpan={5} class="empty">
                  {feed.events.length === 0
                    ? feed.connected
                      ? 'Listening: events show here as tasks, agents and frameworks change.'
                      : 'Connecting to the event stream…'
                    : 'No event matches the filter.'}
                </td>
              </tr>
            ) : (
              shown.map((f) => {
                const d = describe(f.event, props.state);
                return (
                  <tr key={f.seq} data-seq={f.seq} data-type={f.event.type}>
                    <td class="small nowrap">{when(f.event.timestampMs ?? f.receivedMs)}</td>
                    <td class="mono small nowrap">{f.event.type}</td>
                    <td class="small">{d.subject}</td>
                    <td>{d.status ? <Badge state={d.status} /> : null}</td>
                    <td class="small clip" title={d.detail}>
                      {d.detail}
                    </td>
                  </tr>
                );
              })
            )}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
