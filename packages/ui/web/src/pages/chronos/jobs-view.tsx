/** The jobs table: schedule or parents, last run and its status, counts, and each job's buttons; filtered by name and status. */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Badge, type Column, fmt, Notice, Section, Table, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { API, type ChronosJob, type JobSummary, lastRunOf } from './chronos-api';
import { type ActionOutcome, JobActions } from './job-actions';
import { useReloadOn } from '../../lib/live';
import { ago } from '../../lib/time-format';

/** A job with what the summary adds: whether runs are under way. */
interface Row {
  job: ChronosJob;
  summary: JobSummary | undefined;
}

const STATUS_FILTERS = {
  all: 'All jobs',
  running: 'Running or queued',
  failure: 'Last run failed',
  success: 'Last run succeeded',
  fresh: 'Never ran',
  disabled: 'Disabled',
} as const;

type StatusFilter = keyof typeof STATUS_FILTERS;

function matches(row: Row, filter: StatusFilter): boolean {
  const s = row.summary;
  switch (filter) {
    case 'all':
      return true;
    case 'running':
      return s !== undefined && s.state !== 'idle';
    case 'disabled':
      return row.job.disabled;
    default:
      return (s?.status ?? 'fresh') === filter;
  }
}

/** The job's status: what runs now, else how its last run ended. */
export function JobStatus(props: { summary: JobSummary | undefined }): JSX.Element {
  const s = props.summary;
  if (s?.state === 'running') return <Badge state="RUNNING" />;
  if (s?.state === 'queued') return <Badge state="QUEUED" title="waiting for resources" />;
  if (s?.status === 'success') return <Badge state="SUCCESS" />;
  if (s?.status === 'failure') return <Badge state="FAILURE" />;
  return <span class="muted">never ran</span>;
}

/** The schedule of a scheduled job, or the parents of a dependent one (as links). */
export function ScheduleCell(props: { job: Pick<ChronosJob, 'schedule' | 'scheduleTimeZone' | 'parents'> }): JSX.Element {
  const { job } = props;
  if (job.parents && job.parents.length > 0) {
    return (
      <span class="parents">
        <span class="muted">after </span>
        {job.parents.map((p, i) => (
          <span key={p}>
            {i > 0 ? ', ' : ''}
            <a href={`#job/${encodeURIComponent(p)}`} onClick={(e) => e.stopPropagation()}>
              {p}
            </a>
          </span>
        ))}
      </span>
    );
  }
  return (
    <span class="mono" title={job.schedule?.startsWith('R') ? 'ISO 8601 repeating interval' : 'cron expression'}>
      {job.schedule}
      {job.scheduleTimeZone ? <span class="muted"> ({job.scheduleTimeZone})</span> : null}
    </span>
  );
}

/** The jobs view. */
export function JobsView(props: { tick: number; onOpen: (name: string) => void }): JSX.Element {
  const jobs = usePolled<ChronosJob[]>(`${API}/jobs`, 2000);
  const summary = usePolled<{ jobs: JobSummary[] }>(`${API}/jobs/summary`, 2000);
  useReloadOn(props.tick, jobs.reload);
  useReloadOn(props.tick, summary.reload);
  const [text, setText] = useState('');
  const [status, setStatus] = useState<StatusFilter>('all');
  const [outcome, setOutcome] = useState<ActionOutcome>({});

  const summaries = new Map((summary.data?.jobs ?? []).map((s) => [s.name, s]));
  const all: Row[] = (jobs.data ?? []).map((job) => ({ job, summary: summaries.get(job.name) }));
  const needle = text.trim().toLowerCase();
  const rows = all
    .filter((r) => needle === '' || r.job.name.toLowerCase().includes(needle))
    .filter((r) => matches(r, status))
    .sort((a, b) => a.job.name.localeCompare(b.job.name));
  const running = all.filter((r) => r.summary && r.summary.state !== 'idle').length;
  const failing = all.filter((r) => r.summary?.status === 'failure').length;

  const done = (o: ActionOutcome) => {
    setOutcome(o);
    jobs.reload();
    summary.reload();
  };

  const columns: Column<Row>[] = [
    {
      label: 'Job',
      cell: (r) => (
        <div class="job-name">
          <a href={`#job/${encodeURIComponent(r.job.name)}`} data-testid="job-link">
            {r.job.name}
          </a>
          {r.job.description ? <div class="muted small">{r.job.description}</div> : null}
        </div>
      ),
    },
    { label: 'Schedule / parents', cell: (r) => <ScheduleCell job={r.job} /> },
    { label: 'Status', cell: (r) => <JobStatus summary={r.summary} /> },
    {
      label: 'Last run',
      cell: (r) => {
        const last = lastRunOf(r.job);
        if (!last) return <span class="muted">–</span>;
        return (
          <span title={new Date(last.at).toISOString()}>
            {when(last.at)} <span class="muted small">{ago(last.at)}</span>
          </span>
        );
      },
    },
    { label: 'Successes', numeric: true, cell: (r) => <span data-testid="success-count">{fmt(r.job.successCount)}</span> },
    {
      label: 'Errors',
      numeric: true,
      cell: (r) => (
        <span class={r.job.errorsSinceLastSuccess > 0 ? 'bad-text' : undefined} title={`${r.job.errorsSinceLastSuccess} since the last success`}>
          {fmt(r.job.errorCount)}
        </span>
      ),
    },
    { label: 'Enabled', cell: (r) => (r.job.disabled ? <Badge state="disabled" /> : <span class="muted">yes</span>) },
    {
      label: '',
      cell: (r) => <JobActions job={r.job} active={r.summary !== undefined && r.summary.state !== 'idle'} compact onDone={done} />,
    },
  ];

  return (
    <Section
      title="Jobs"
      testId="jobs"
      actions={
        <>
          <span class="muted">
            {jobs.data ? `${all.length} job${all.length === 1 ? '' : 's'} · ${running} running · ${failing} failing` : ''}
          </span>
          <a class="button primary-link" href="#new">
            New job
          </a>
        </>
      }
    >
      <div class="filters">
        <input
          type="search"
          placeholder="Filter by name"
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
          data-testid="job-filter"
          aria-label="Filter jobs by name"
        />
        <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as StatusFilter)} aria-label="Filter jobs by status">
          {Object.entries(STATUS_FILTERS).map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <Notice error={jobs.error ?? summary.error} />
      <Notice error={outcome.error}>{outcome.message}</Notice>
      {jobs.data === undefined && !jobs.error ? (
        <p class="muted">Loading…</p>
      ) : (
        <Table
          rows={rows}
          columns={columns}
          rowKey={(r) => r.job.name}
          testId="jobs-table"
          onRowClick={(r) => props.onOpen(r.job.name)}
          empty={all.length === 0 ? 'No jobs yet. Create one with “New job”, or POST it to /v1/scheduler/iso8601.' : 'No job matches the filter.'}
        />
      )}
    </Section>
  );
}
