/** The batch jobs table: state, submission, per-stage progress, duration; filtered by name and state. */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Badge, type Column, fmt, Notice, Section, Table, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { type BatchJob, jobDuration } from './batch-api';
import { CancelButton } from './cancel-button';
import { useReloadOn } from '../../lib/live';
import { StageBars } from './stage-progress';
import { ago, duration } from '../../lib/time-format';

const STATE_FILTERS = { all: 'All jobs', RUNNING: 'Running', SUCCEEDED: 'Succeeded', FAILED: 'Failed', CANCELLED: 'Cancelled' } as const;
type StateFilter = keyof typeof STATE_FILTERS;

/** A job's state, with why it ended when it did not succeed. */
export function JobState(props: { job: Pick<BatchJob, 'state' | 'reason' | 'message'> }): JSX.Element {
  const { job } = props;
  return (
    <span data-testid="job-state" data-state={job.state}>
      <Badge state={job.state} title={job.message} />
      {job.reason && job.reason !== 'CANCELLED' ? <span class="muted small"> {job.reason.replace(/_/g, ' ').toLowerCase()}</span> : null}
    </span>
  );
}

/** The jobs view. */
export function JobsView(props: { tick: number; onOpen: (jobId: string) => void }): JSX.Element {
  const jobs = usePolled<{ jobs: BatchJob[] }>('/v1/jobs', 2000);
  useReloadOn(props.tick, jobs.reload);
  const [text, setText] = useState('');
  const [state, setState] = useState<StateFilter>('all');
  const [error, setError] = useState<string | undefined>(undefined);

  const all = jobs.data?.jobs ?? [];
  const needle = text.trim().toLowerCase();
  const rows = all.filter((j) => (needle === '' || j.jobId.toLowerCase().includes(needle)) && (state === 'all' || j.state === state));
  const running = all.filter((j) => j.state === 'RUNNING').length;
  const now = Date.now();

  const columns: Column<BatchJob>[] = [
    {
      label: 'Job',
      cell: (j) => (
        <div class="job-name">
          <a href={`#job/${encodeURIComponent(j.jobId)}`} data-testid="job-link">
            {j.name}
          </a>
          <div class="mono small muted">{j.jobId}</div>
        </div>
      ),
    },
    { label: 'State', cell: (j) => <JobState job={j} /> },
    {
      label: 'Submitted',
      cell: (j) => (
        <span title={new Date(j.createdAtMs).toISOString()}>
          {when(j.createdAtMs)} <span class="muted small">{ago(j.createdAtMs, now)}</span>
        </span>
      ),
    },
    { label: 'Stages', cell: (j) => <StageBars stages={j.stages} compact /> },
    { label: 'Tasks', numeric: true, cell: (j) => fmt(j.tasks) },
    {
      label: 'Duration',
      numeric: true,
      cell: (j) => (j.endedAtMs === undefined ? <span class="muted">{duration(jobDuration(j, now))}…</span> : duration(jobDuration(j))),
    },
    { label: '', cell: (j) => (j.state === 'RUNNING' ? <CancelButton jobId={j.jobId} onDone={(e) => {
              setError(e);
              jobs.reload();
            }} /> : null) },
  ];

  return (
    <Section
      title="Jobs"
      testId="jobs"
      actions={
        <>
          <span class="muted">{jobs.data ? `${all.length} job${all.length === 1 ? '' : 's'} · ${running} running` : ''}</span>
          <a class="button primary-link" href="#submit">
            Submit job
          </a>
        </>
      }
    >
      <div class="filters">
        <input
          type="search"
          placeholder="Filter by name or id"
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
          data-testid="job-filter"
          aria-label="Filter jobs by name or id"
        />
        <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value as StateFilter)} aria-label="Filter jobs by state">
          {Object.entries(STATE_FILTERS).map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <Notice error={jobs.error ?? error} />
      {jobs.data === undefined && !jobs.error ? (
        <p class="muted">Loading…</p>
      ) : (
        <Table
          rows={rows}
          columns={columns}
          rowKey={(j) => j.jobId}
          testId="jobs-table"
          onRowClick={(j) => props.onOpen(j.jobId)}
          empty={all.length === 0 ? 'No jobs yet. Submit a spec with “Submit job”, `stoa batch submit`, or POST /v1/jobs.' : 'No job matches the filter.'}
        />
      )}
    </Section>
  );
}
