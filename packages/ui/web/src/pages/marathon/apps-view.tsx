/**
 * The apps view: every app with its instances by state, health, what it is doing and the
 * progress of its deployment, its resources and last task failure; totals above, a filter, and
 * the way to create an app.
 */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { type Column, fmt, Notice, Section, Table, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { countsOf, DeploymentProgress, HealthBadge, InstancesBar, StatusBadge, since } from './app-status';
import { useReloadOn } from '../../lib/live';
import { APPS_PATH, type Deployment, type MarathonApp, type QueueItem } from './marathon-api';

/** The apps list; `tick` moves when Marathon reports a change. */
export function AppsView(props: { tick: number; navigate: (hash: string) => void }): JSX.Element {
  const apps = usePolled<{ apps: MarathonApp[] }>(APPS_PATH, 2000);
  const deployments = usePolled<Deployment[]>('/v2/deployments', 2000);
  const queue = usePolled<{ queue: QueueItem[] }>('/v2/queue', 2000);
  useReloadOn(props.tick, apps.reload);
  useReloadOn(props.tick, deployments.reload);
  useReloadOn(props.tick, queue.reload);
  const [filter, setFilter] = useState('');

  const list = apps.data?.apps ?? [];
  const byId = new Map((deployments.data ?? []).map((d) => [d.id, d]));
  const waiting = new Map((queue.data?.queue ?? []).map((q) => [q.app.id, q.count]));
  const needle = filter.trim().toLowerCase();
  const shown = needle
    ? list.filter((a) => a.id.toLowerCase().includes(needle) || Object.entries(a.labels ?? {}).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(needle)))
    : list;

  const totals = list.reduce(
    (t, a) => {
      const c = countsOf(a);
      return {
        desired: t.desired + c.desired,
        running: t.running + c.running,
        healthy: t.healthy + c.healthy,
        unhealthy: t.unhealthy + c.unhealthy,
        cpus: t.cpus + a.cpus * c.running,
        mem: t.mem + a.mem * c.running,
      };
    },
    { desired: 0, running: 0, healthy: 0, unhealthy: 0, cpus: 0, mem: 0 },
  );
  const waitingTotal = [...waiting.values()].reduce((a, b) => a + b, 0);

  const columns: Column<MarathonApp>[] = [
    {
      label: 'App',
      cell: (a) => (
        <div class="mf-app-cell">
          <a href={`#app${a.id}`} class="mf-app-id" data-testid="app-link" onClick={(e) => e.stopPropagation()}>
            {a.id}
          </a>
          <div class="muted mono mf-cmd" title={a.cmd ?? a.args?.join(' ')}>
            {a.cmd ?? a.args?.join(' ') ?? ''}
          </div>
        </div>
      ),
    },
    { label: 'Instances', cell: (a) => <InstancesBar counts={countsOf(a)} /> },
    { label: 'Health', cell: (a) => <HealthBadge counts={countsOf(a)} /> },
    { label: 'Status', cell: (a) => <StatusBadge app={a} counts={countsOf(a)} waiting={waiting.get(a.id)} /> },
    {
      label: 'Deployment',
      cell: (a) => {
        const d = a.deployments?.map((ref) => byId.get(ref.id)).find((x) => x !== undefined);
        return d ? <DeploymentProgress deployment={d} /> : <span class="muted">–</span>;
      },
    },
    { label: 'CPUs', numeric: true, cell: (a) => fmt(a.cpus) },
    { label: 'Mem (MiB)', numeric: true, cell: (a) => fmt(a.mem) },
    { label: 'Changed', cell: (a) => <span title={a.versionInfo?.lastConfigChangeAt ?? a.version}>{since(a.version)} ago</span> },
    {
      label: 'Last failure',
      cell: (a) =>
        a.lastTaskFailure ? (
          <span class="mf-failure" title={`${a.lastTaskFailure.state} on ${a.lastTaskFailure.host} at ${when(a.lastTaskFailure.timestamp)}: ${a.lastTaskFailure.message}`}>
            {since(a.lastTaskFailure.timestamp)} ago · {a.lastTaskFailure.message}
          </span>
        ) : (
          <span class="muted">–</span>
        ),
    },
  ];

  return (
    <>
      <div class="mf-stats" data-testid="app-totals">
        <Stat label="Apps" value={list.length} />
        <Stat label="Instances running" value={`${totals.running} / ${totals.desired}`} />
        <Stat label="Healthy" value={totals.healthy} tone={totals.healthy > 0 ? 'ok' : undefined} />
        <Stat label="Unhealthy" value={totals.unhealthy} tone={totals.unhealthy > 0 ? 'bad' : undefined} />
        <Stat label="Deployments" value={(deployments.data ?? []).length} href="#deployments" tone={(deployments.data ?? []).length > 0 ? 'warn' : undefined} />
        <Stat label="Waiting to launch" value={waitingTotal} href="#queue" tone={waitingTotal > 0 ? 'warn' : undefined} />
        <Stat label="CPUs in use" value={fmt(totals.cpus)} />
        <Stat label="Memory in use (MiB)" value={fmt(totals.mem)} />
      </div>
      <Section
        title="Applications"
        testId="apps"
        actions={
          <>
            <input type="search" placeholder="Filter by id or label" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} data-testid="app-filter" />
            <button type="button" class="primary" data-testid="create-app" onClick={() => props.navigate('new')}>
              Create app
            </button>
          </>
        }
      >
        <Notice error={apps.error ? `Could not load the apps: ${apps.error}` : undefined} />
        {apps.data === undefined && !apps.error ? (
          <p class="muted">Loading…</p>
        ) : (
          <Table
            testId="apps-table"
            rows={shown}
            columns={columns}
            rowKey={(a) => a.id}
            onRowClick={(a) => props.navigate(`app${a.id}`)}
            empty={list.length === 0 ? 'No apps yet. "Create app" starts a long-running service on the cluster.' : `No app matches "${filter}".`}
          />
        )}
      </Section>
    </>
  );
}

function Stat(props: { label: string; value: string | number; tone?: 'ok' | 'warn' | 'bad' | undefined; href?: string }): JSX.Element {
  const body = (
    <>
      <div class={`mf-stat-value${props.tone ? ` ${props.tone}` : ''}`}>{props.value}</div>
      <div class="mf-stat-label">{props.label}</div>
    </>
  );
  return props.href ? (
    <a class="mf-stat" href={props.href}>
      {body}
    </a>
  ) : (
    <div class="mf-stat">{body}</div>
  );
}
