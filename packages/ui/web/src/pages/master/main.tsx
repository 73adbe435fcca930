/**
 * The master's dashboard: agents, frameworks, tasks, roles and the event stream of the cluster,
 * refreshed every 2 s and at once when the event stream says something changed. Each view and
 * its filters live in the URL hash (`#tasks?state=TASK_RUNNING`), so they can be linked.
 */

import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { Layout, Notice } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { mountPage } from '../../lib/mount';
import { AgentsView } from './agents-view';
import { useClusterFeed } from './cluster-events';
import { EventsView } from './events-view';
import { FrameworksView } from './frameworks-view';
import type { ClusterState, MasterInfo } from './model';
import { RolesView } from './roles-view';
import { type Route, useRoute } from './route';
import { TasksView } from './tasks-view';
import { LiveDot } from './widgets';
import './master.css';

const TABS = [
  { id: 'agents', label: 'Agents' },
  { id: 'frameworks', label: 'Frameworks' },
  { id: 'tasks', label: 'Tasks' },
  { id: 'roles', label: 'Roles' },
  { id: 'events', label: 'Events' },
] as const;

/** The header's summary: who leads, and how big the cluster is. */
function Status(props: { master: MasterInfo | undefined; state: ClusterState | undefined; live: boolean; error: string | undefined }): JSX.Element {
  const s = props.state;
  if (props.master?.leader === false) {
    return (
      <span data-testid="master-status">
        standby{props.master.leaderId ? <> · leader <b class="mono">{props.master.leaderId}</b></> : ' · no leader yet'}
      </span>
    );
  }
  if (!s) return <span data-testid="master-status">{props.error ? <span class="status-error">master unreachable</span> : 'connecting…'}</span>;
  const agents = s.agents.filter((a) => a.state !== 'GONE').length;
  const running = s.taskCounts.TASK_RUNNING ?? 0;
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  return (
    <span class="status-items" data-testid="master-status">
      <span title={`master ${s.master.masterId}, epoch ${s.master.epoch}${s.master.hostname ? ` on ${s.master.hostname}` : ''}, since ${new Date(s.master.startedMs ?? 0).toLocaleString('en-GB')}`}>
        leader <b class="mono" data-testid="status-master">{s.master.masterId}</b>
      </span>
      <span data-testid="status-agents">{plural(agents, 'agent')}</span>
      <span data-testid="status-frameworks">{plural(s.frameworks.length, 'framework')}</span>
      <span data-testid="status-running">{running} running</span>
      {props.error ? <span class="status-error" title={props.error}>stale: {props.error}</span> : <LiveDot live={props.live} testId="status-live" />}
    </span>
  );
}

/** What a standby master shows: who leads and where its dashboard is. */
function Standby(props: { master: MasterInfo }): JSX.Element {
  const { leaderId, leaderUrl } = props.master;
  return (
    <div class="standby" data-testid="standby">
      <h2>This master is on standby</h2>
      <p>
        {leaderId ? (
          <>
            The cluster is led by master <b class="mono">{leaderId}</b>
            {leaderUrl ? (
              <>
                : the dashboard is at <a href={leaderUrl}>{leaderUrl}</a>.
              </>
            ) : (
              ', which has no HTTP address.'
            )}
          </>
        ) : (
          'No leader is known yet; an election is under way. This page checks again every 2 seconds.'
        )}
      </p>
    </div>
  );
}

function App(): JSX.Element {
  const [route, go] = useRoute();
  const tab = TABS.some((t) => t.id === route.tab) ? route.tab : 'agents';
  const master = usePolled<MasterInfo>('/api/v1/master', 2000);
  const leading = master.data?.leader === true;
  const state = usePolled<ClusterState>(leading ? '/api/v1/state' : null, 2000);
  const feed = useClusterFeed(leading);
  const { reload } = state;
  useEffect(() => {
    if (feed.tick > 0) reload();
  }, [feed.tick, reload]);

  // Coming back to a tab shows it as it was left (filters, selected task).
  const lastRoutes = useRef(new Map<string, Route>());
  useEffect(() => {
    lastRoutes.current.set(tab, { tab, params: route.params });
  }, [tab, route]);
  const onTab = (id: string) => go(lastRoutes.current.get(id) ?? { tab: id, params: {} });

  useEffect(() => {
    const s = state.data;
    document.title = s ? `Stoa master · ${TABS.find((t) => t.id === tab)?.label} · ${s.agents.length} agents` : 'Stoa master';
  }, [state.data, tab]);

  let body: JSX.Element;
  if (master.data && !leading) body = <Standby master={master.data} />;
  else if (!state.data)
    body = master.error || state.error ? <Notice error={`Cannot reach the master: ${master.error ?? state.error}`} /> : <p class="muted">Loading the cluster state…</p>;
  else {
    const s = state.data;
    body = (
      <>
        {state.error ? <Notice error={`The last refresh failed (${state.error}); showing the state from before.`} /> : null}
        {tab === 'agents' ? <AgentsView state={s} route={route} go={go} /> : null}
        {tab === 'frameworks' ? <FrameworksView state={s} tick={feed.tick} /> : null}
        {tab === 'tasks' ? <TasksView state={s} route={{ tab, params: route.params }} go={go} tick={feed.tick} /> : null}
        {tab === 'roles' ? <RolesView state={s} tick={feed.tick} /> : null}
        {tab === 'events' ? <EventsView feed={feed} state={s} /> : null}
      </>
    );
  }

  return (
    <Layout component="master" tabs={TABS} tab={tab} onTab={onTab} status={<Status master={master.data} state={state.data} live={feed.connected} error={state.error ?? master.error} />}>
      {body}
    </Layout>
  );
}

mountPage(App);
