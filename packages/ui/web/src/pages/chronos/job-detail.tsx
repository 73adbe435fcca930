/** One job: its definition and statistics, its dependents, and its run history, polled while open. */

import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Badge, type Column, fmt, Notice, Section, Table, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { API, type ChronosJob, type ChronosRun, type JobStat, type JobSummary, jobPath, lastRunOf } from './chronos-api';
import { type ActionOutcome, JobActions } from './job-actions';
import { JobStatus, ScheduleCell } from './jobs-view';
import { useReloadOn } from '../../lib/live';
import { ago, duration } from '../../lib/time-format';

const ACTIVE = new Set(['QUEUED', 'STARTING', 'RUNNING']);

function Field(props: { label: string; children: ComponentChildren }): JSX.Element {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </>
  );
}

function runDuration(run: ChronosRun, now: number): JSX.Element | string {
  if (run.startedAt === undefined) return '–';
  if (run.endedAt === undefined) return <span class="muted">{duration(now - run.startedAt)}…</span>;
  return duration(run.endedAt - run.startedAt);
}

/** The run history table. */
function RunHistory(props: { runs: readonly ChronosRun[]; retries: number }): JSX.Element {
  const now = Date.now();
  const columns: Column<ChronosRun>[] = [
    {
      label: 'Run',
      cell: (r) => (
        <span class="mono" title={r.id}>
          {r.id.length > 14 ? `…${r.id.slice(-12)}` : r.id}
        </span>
      ),
    },
    { label: 'Trigger', cell: (r) => r.trigger },
    {
      label: 'Status',
      cell: (r) => (
        <div>
          <span data-testid="run-status">
            <Badge state={r.status} />
          </span>
          {r.message ? <div class="muted small run-message">{r.message}</div> : null}
        </div>
      ),
    },
    {
      label: 'Attempts',
      numeric: true,
      cell: (r) => (
        <span title={`attempt ${r.attempt} of at most ${props.retries + 1}`}>
          {r.attempt}
          <span class="muted"> / {props.retries + 1}</span>
        </span>
      ),
    },
    { label: 'Queued', cell: (r) => when(r.queuedAt) },
    { label: 'Started', cell: (r) => (r.startedAt === undefined ? <span class="muted">{r.notBefore ? `retry ${ago(r.notBefore, now)}` : '–'}</span> : when(r.startedAt)) },
    { label: 'Ended', cell: (r) => (r.endedAt === undefined ? '–' : when(r.endedAt)) },
    { label: 'Duration', numeric: true, cell: (r) => runDuration(r, now) },
    { label: 'Exit', numeric: true, cell: (r) => (r.exitCode === undefined ? '–' : String(r.exitCode)) },
    {
      label: 'Task',
      cell: (r) => {
        const task = r.taskIds.at(-1);
        return task ? (
          <span class="mono small" title={r.taskIds.join('\n')}>
            {task}
          </span>
        ) : (
          '–'
        );
      },
    },
  ];
  return (
    <Table
      rows={props.runs}
      columns={columns}
      rowKey={(r) => r.id}
      testId="run-history"
      empty="No runs yet. “Run now” starts one; otherwise the first runs at its schedule or after its parents."
    />
  );
}

/** The job detail view. */
export function JobDetail(props: { name: string; tick: number; onBack: () => void }): JSX.Element {
  const path = jobPath(props.name);
  const job = usePolled<ChronosJob>(path, 2000);
  const runs = usePolled<ChronosRun[]>(`${path}/runs`, 1000);
  const stat = usePolled<JobStat>(`${API}/job/stat/${encodeURIComponent(props.name)}`, 5000);
  const summary = usePolled<{ jobs: JobSummary[] }>(`${API}/jobs/summary`, 3000);
  useReloadOn(props.tick, job.reload);
  useReloadOn(props.tick, runs.reload);
  useReloadOn(props.tick, summary.reload);
  const [outcome, setOutcome] = useState<ActionOutcome>({});

  const gone = job.data === undefined && job.error !== undefined && /not found/i.test(job.error);
  if (gone) {
    return (
      <Section title={props.name}>
        <Notice error={`There is no job named ${props.name} (any more).`} />
        <a href="#jobs">Back to the jobs</a>
      </Section>
    );
  }
  const j = job.data;
  const active = (runs.data ?? []).some((r) => ACTIVE.has(r.status));
  const mySummary = summary.data?.jobs.find((s) => s.name === props.name);
  const children = (summary.data?.jobs ?? []).filter((s) => s.parents.includes(props.name)).map((s) => s.name);
  const last = j ? lastRunOf(j) : undefined;
  const h = stat.data?.histogram;
  const done = (o: ActionOutcome) => {
    setOutcome(o);
    job.reload();
    runs.reload();
    summary.reload();
  };

  return (
    <div data-testid="job-detail" data-job={props.name}>
      <div class="detail-head">
        <a href="#jobs" class="back">
          ← Jobs
        </a>
        <h1>{props.name}</h1>
        <JobStatus summary={mySummary} />
        {j?.disabled ? <Badge state="disabled" /> : null}
        <span class="spacer" />
        {j ? <JobActions job={j} active={active} onDone={done} onDeleted={props.onBack} /> : null}
      </div>
      <Notice error={job.error ?? runs.error} />
      <Notice error={outcome.error}>{outcome.message}</Notice>
      {j === undefined ? (
        <p class="muted">Loading…</p>
      ) : (
        <div class="row">
          <Section title="Definition" testId="job-definition">
            <dl class="kv">
              <Field label="Command">
                <code class="command">{j.shell ? j.command : [j.command, ...j.arguments].join(' ')}</code>
              </Field>
              {j.description ? <Field label="Description">{j.description}</Field> : null}
              <Field label={j.parents && j.parents.length > 0 ? 'Runs after' : 'Schedule'}>
                <ScheduleCell job={j} />
              </Field>
              <Field label="Dependents">
                {children.length === 0 ? (
                  <span class="muted">none</span>
                ) : (
                  children.map((c, i) => (
                    <span key={c}>
                      {i > 0 ? ', ' : ''}
                      <a href={`#job/${encodeURIComponent(c)}`}>{c}</a>
                    </span>
                  ))
                )}
              </Field>
              <Field label="Resources">
                {fmt(j.cpus)} cpus · {fmt(j.mem)} MB mem · {fmt(j.disk)} MB disk
              </Field>
              <Field label="Retries">
                {j.retries} (after {duration(j.retryDelayMs)}){j.softError ? ' · soft errors' : ''}
              </Field>
              <Field label="Concurrency">{j.concurrencyPolicy}</Field>
              {j.maxCompletionTime ? <Field label="Time limit">{duration(j.maxCompletionTime)}</Field> : null}
              {j.environmentVariables.length > 0 ? (
                <Field label="Environment">
                  <span class="mono">{j.environmentVariables.map((e) => `${e.name}=${e.value}`).join(' ')}</span>
                </Field>
              ) : null}
              {j.owner || j.ownerName ? <Field label="Owner">{[j.ownerName, j.owner].filter(Boolean).join(' · ')}</Field> : null}
            </dl>
            <details class="raw">
              <summary>JSON</summary>
              <pre class="log">{JSON.stringify(j, null, 2)}</pre>
            </details>
          </Section>
          <Section title="Statistics" testId="job-stats">
            <dl class="kv">
              <Field label="Last run">
                {last ? (
                  <>
                    <Badge state={last.status === 'success' ? 'SUCCESS' : 'FAILURE'} /> {when(last.at)} <span class="muted small">{ago(last.at)}</span>
                  </>
                ) : (
                  <span class="muted">never</span>
                )}
              </Field>
              <Field label="Successes">{fmt(j.successCount)}</Field>
              <Field label="Errors">
                {fmt(j.errorCount)}
                {j.errorsSinceLastSuccess > 0 ? <span class="bad-text"> ({j.errorsSinceLastSuccess} since the last success)</span> : null}
              </Field>
              <Field label="Last success">{j.lastSuccess ? when(j.lastSuccess) : <span class="muted">never</span>}</Field>
              <Field label="Last error">{j.lastError ? when(j.lastError) : <span class="muted">never</span>}</Field>
              <Field label="Run time">
                {h && h.count > 0 ? (
                  <span>
                    median {duration(h.median)} · p95 {duration(h['95thPercentile'])} · p99 {duration(h['99thPercentile'])}{' '}
                    <span class="muted">({h.count} successful runs)</span>
                  </span>
                ) : (
                  <span class="muted">no successful runs yet</span>
                )}
              </Field>
            </dl>
          </Section>
        </div>
      )}
      <Section
        title="Run history"
        testId="job-runs"
        actions={<span class="muted">{runs.data ? `${runs.data.length} run${runs.data.length === 1 ? '' : 's'}, newest first` : ''}</span>}
      >
        {runs.data === undefined ? (
          <p class="muted">{runs.error ? '' : 'Loading…'}</p>
        ) : (
          <RunHistory runs={runs.data} retries={j?.retries ?? 0} />
        )}
      </Section>
    </div>
  );
}
