/** The frameworks view: each framework with its roles, dominant share, resources and tasks. */

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson } from '../../lib/api';
import { Badge, type Column, Section, Table, when } from '../../lib/components';
import { type ClusterState, duration, type FrameworkSummary, type TaskPage, amount, showAmount } from './model';
import { formatRoute } from './route';
import { ShortId, ViewLink } from './widgets';

/** Running and all known tasks (live and recently completed) of one framework. */
interface TaskCounts {
  running: number;
  total: number;
}

/** Whether a framework is active, as operators say it. */
export function activity(fw: FrameworkSummary): 'active' | 'inactive' | 'completed' {
  if (fw.state === 'CONNECTED') return 'active';
  if (fw.state === 'COMPLETED') return 'completed';
  return 'inactive';
}

/**
 * Counts the tasks of each framework through `GET /api/v1/tasks` (its `total`, one task per page),
 * again every `intervalMs` and whenever `tick` moves.
 */
function useTaskCounts(frameworkIds: readonly string[], tick: number, intervalMs = 3000): Map<string, TaskCounts> {
  const [counts, setCounts] = useState(() => new Map<string, TaskCounts>());
  const key = frameworkIds.join(',');
  useEffect(() => {
    let live = true;
    const ids = key ? key.split(',') : [];
    const total = (q: string) => getJson<TaskPage>(`/api/v1/tasks?limit=1&${q}`).then((p) => p.total);
    const load = () =>
      Promise.all(
        ids.map(async (id) => {
          const f = `framework_id=${encodeURIComponent(id)}`;
          const [running, all] = await Promise.all([total(`${f}&state=TASK_RUNNING`), total(f)]);
          return [id, { running, total: all }] as const;
        }),
      ).then(
        (entries) => live && setCounts(new Map(entries)),
        () => undefined, // the header shows the master being unreachable; keep the last counts
      );
    void load();
    const timer = setInterval(load, intervalMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [key, tick, intervalMs]);
  return counts;
}

/** The frameworks view. */
export function FrameworksView(props: { state: ClusterState; tick: number }): JSX.Element {
  const frameworks = [...props.state.frameworks].sort((a, b) => activity(a).localeCompare(activity(b)) || a.info.name.localeCompare(b.info.name));
  const counts = useTaskCounts(
    frameworks.map((f) => f.id),
    props.tick,
  );
  const columns: Column<FrameworkSummary>[] = [
    {
      label: 'Framework',
      cell: (f) => (
        <div class="stack">
          <span class="strong" data-testid="framework-name">
            {f.info.webuiUrl ? (
              <a href={f.info.webuiUrl} target="_blank" rel="noreferrer" onClick={(e) => e.stopPropagation()}>
                {f.info.name}
              </a>
            ) : (
              f.info.name
            )}
          </span>
          <ShortId id={f.id} length={14} />
        </div>
      ),
    },
    { label: 'Principal', cell: (f) => <span class="mono">{f.info.principal}</span> },
    { label: 'Roles', cell: (f) => <span class="mono">{(f.info.roles ?? ['*']).join(', ')}</span> },
    {
      label: 'State',
      cell: (f) => (
        <span data-testid="framework-state">
          <Badge state={activity(f)} title={f.state} />
          {f.failoverDeadlineMs !== undefined && f.state !== 'CONNECTED' ? (
            <span class="muted small" title={`torn down at ${when(f.failoverDeadlineMs)} unless it reconnects`}>
              {' '}
              failover in {duration(f.failoverDeadlineMs - Date.now())}
            </span>
          ) : null}
        </span>
      ),
    },
    {
      label: 'Dominant share',
      cell: (f) => (
        <div class="bar share" title={`its largest share of any resource in the cluster: ${(f.share * 100).toFixed(2)}%`} data-testid="framework-share">
          <div class="fill low" style={{ width: `${Math.min(100, f.share * 100).toFixed(1)}%` }} />
          <span class="figures">{(f.share * 100).toFixed(1)}%</span>
        </div>
      ),
    },
    {
      label: 'Using',
      cell: (f) =>
        f.used.length ? (
          <span class="small">
            {['cpus', 'mem', 'gpus']
              .filter((n) => amount(f.used, n) > 0)
              .map((n) => `${n} ${showAmount(n, amount(f.used, n))}`)
              .join(' · ')}
          </span>
        ) : (
          <span class="muted">–</span>
        ),
    },
    {
      label: 'Tasks running / total',
      numeric: true,
      cell: (f) => {
        const c = counts.get(f.id);
        return (
          <ViewLink href={`#${formatRoute({ tab: 'tasks', params: { framework: f.id } })}`} testId="framework-tasks">
            <span title={`${f.taskCount} live (not yet finished); total counts recently completed tasks too`}>
              {c ? `${c.running} / ${c.total}` : `… / ${f.taskCount}`}
            </span>
          </ViewLink>
        );
      },
    },
    { label: 'Registered', cell: (f) => <span class="small">{when(f.registeredMs)}</span> },
  ];
  return (
    <div data-testid="view-frameworks">
      <Section title={`Frameworks (${frameworks.length})`} testId="frameworks">
        <Table
          testId="frameworks-table"
          rows={frameworks}
          columns={columns}
          rowKey={(f) => f.id}
          empty="No framework is subscribed. Marathon, Chronos and batch subscribe when they start."
        />
      </Section>
    </div>
  );
}
