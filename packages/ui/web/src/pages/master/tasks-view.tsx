/** The tasks view: tasks filtered by state, framework and agent (kept in the URL), a page at a time, and one task's details. */

import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { Badge, type Column, Notice, Section, Table, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { type ClusterState, type TaskPage, type TaskSummary, shortState, showResources, TASK_STATES } from './model';
import type { Route } from './route';
import { TaskDetail } from './task-detail';
import { ShortId } from './widgets';

/** Tasks per page. */
const PAGE = 100;

/** The API query for the filters of a route. */
export function tasksQuery(params: Readonly<Record<string, string>>): string {
  const q = new URLSearchParams();
  if (params.state) q.set('state', params.state);
  if (params.framework) q.set('framework_id', params.framework);
  if (params.agent) q.set('agent_id', params.agent);
  const page = Number(params.page ?? '1');
  if (Number.isInteger(page) && page > 1) q.set('offset', String((page - 1) * PAGE));
  q.set('limit', String(PAGE));
  return `/api/v1/tasks?${q}`;
}

/** The tasks view. */
export function TasksView(props: { state: ClusterState; route: Route; go: (r: Route) => void; tick: number }): JSX.Element {
  const { params } = props.route;
  const tasks = usePolled<TaskPage>(tasksQuery(params), 2000);
  const { reload } = tasks;
  useEffect(() => reload(), [props.tick, reload]);

  const frameworks = new Map(props.state.frameworks.map((f) => [f.id, f]));
  const agents = new Map(props.state.agents.map((a) => [a.id, a]));
  const set = (changes: Record<string, string | undefined>) => {
    const next: Record<string, string> = { ...params };
    for (const [k, v] of Object.entries(changes)) {
      if (v) next[k] = v;
      else delete next[k];
    }
    props.go({ tab: 'tasks', params: next });
  };
  const filter = (changes: Record<string, string | undefined>) => set({ ...changes, page: undefined });

  const page = Math.max(1, Number(params.page ?? '1') || 1);
  const total = tasks.data?.total ?? 0;
  const first = (page - 1) * PAGE;
  const filtered = Boolean(params.state || params.framework || params.agent);

  const columns: Column<TaskSummary>[] = [
    {
      label: 'Task',
      cell: (t) => (
        <div class="stack">
          <span class="strong" data-testid="task-name">
            {t.name}
          </span>
          <ShortId id={t.taskId} length={28} />
        </div>
      ),
    },
    {
      label: 'State',
      cell: (t) => (
        <span data-testid="task-state" data-state={t.state}>
          <Badge state={shortState(t.state)} title={t.state} />
          {t.status?.healthy !== undefined ? <Badge state={t.status.healthy ? 'healthy' : 'unhealthy'} /> : null}
        </span>
      ),
    },
    { label: 'Framework', cell: (t) => frameworks.get(t.frameworkId)?.info.name ?? <ShortId id={t.frameworkId} /> },
    { label: 'Agent', cell: (t) => agents.get(t.agentId)?.hostname ?? <ShortId id={t.agentId} /> },
    { label: 'Resources', cell: (t) => <span class="small">{showResources(t.resources)}</span> },
    { label: 'Started', cell: (t) => <span class="small">{when(t.startedMs)}</span> },
    { label: 'Last update', cell: (t) => <span class="small">{when(t.status?.timestampMs)}</span> },
    {
      label: 'Message',
      cell: (t) => (
        <span class="small clip" title={[t.status?.reason, t.status?.message].filter(Boolean).join(': ')}>
          {t.status?.message ?? t.status?.reason ?? ''}
        </span>
      ),
    },
  ];

  return (
    <div data-testid="view-tasks">
      {params.task ? <style>{`[data-testid="tasks-table"] tr[data-key="${CSS.escape(params.task)}"] td { background: #eaf1ff; }`}</style> : null}
      {params.task ? (
        <TaskDetail
          taskId={params.task}
          file={params.file ?? 'stdout'}
          state={props.state}
          tick={props.tick}
          onFile={(file) => set({ file: file === 'stdout' ? undefined : file })}
          onClose={() => set({ task: undefined, file: undefined })}
        />
      ) : null}
      <Section
        title="Tasks"
        testId="tasks"
        actions={
          <span class="muted small" data-testid="tasks-count">
            {tasks.data ? (total === 0 ? 'none' : `${first + 1}–${Math.min(total, first + tasks.data.tasks.length)} of ${total}`) : tasks.error ? '' : 'loading…'}
          </span>
        }
      >
        <div class="filters">
          <label class="filter">
            State
            <select data-testid="filter-state" value={params.state ?? ''} onChange={(e) => filter({ state: e.currentTarget.value })}>
              <option value="">all states</option>
              {TASK_STATES.map((s) => (
                <option key={s} value={s}>
                  {shortState(s).toLowerCase()}
                </option>
              ))}
              {params.state && !(TASK_STATES as readonly string[]).includes(params.state) ? <option value={params.state}>{params.state}</option> : null}
            </select>
          </label>
          <label class="filter">
            Framework
            <select data-testid="filter-framework" value={params.framework ?? ''} onChange={(e) => filter({ framework: e.currentTarget.value })}>
              <option value="">all frameworks</option>
              {props.state.frameworks.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.info.name}
                </option>
              ))}
              {params.framework && !frameworks.has(params.framework) ? <option value={params.framework}>{params.framework}</option> : null}
            </select>
          </label>
          <label class="filter">
            Agent
            <select data-testid="filter-agent" value={params.agent ?? ''} onChange={(e) => filter({ agent: e.currentTarget.value })}>
              <option value="">all agents</option>
              {props.state.agents.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.hostname}
                </option>
              ))}
              {params.agent && !agents.has(params.agent) ? <option value={params.agent}>{params.agent}</option> : null}
            </select>
          </label>
          {filtered ? (
            <button type="button" data-testid="filter-clear" onClick={() => filter({ state: undefined, framework: undefined, agent: undefined })}>
              Clear filters
            </button>
          ) : null}
          <span class="pager">
            <button type="button" disabled={page <= 1} onClick={() => set({ page: page > 2 ? String(page - 1) : undefined })}>
              ‹ Newer
            </button>
            <button type="button" disabled={first + PAGE >= total} onClick={() => set({ page: String(page + 1) })}>
              Older ›
            </button>
          </span>
        </div>
        <Notice error={tasks.error} />
        <Table
          testId="tasks-table"
          rows={tasks.data?.tasks ?? []}
          columns={columns}
          rowKey={(t) => t.taskId}
          empty={
            tasks.data
              ? filtered
                ? 'No task matches these filters.'
                : 'No tasks yet: launch one through a framework (marathon, chronos, batch).'
              : tasks.error
                ? 'The tasks could not be read (see above).'
                : 'Loading…'
          }
          onRowClick={(t) => {
            set({ task: t.taskId === params.task ? undefined : t.taskId, file: undefined });
            if (t.taskId !== params.task) window.scrollTo({ top: 0 });
          }}
        />
      </Section>
    </div>
  );
}
