/** One batch job: its summary, its stages with their progress, its tasks, and a task's output (stdout and stderr tails, result). */

import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Badge, type Column, fmt, Notice, Section, Table, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { type BatchJobDetail, type BatchTask, jobDuration, jobPath, type StageProgress, taskPath } from './batch-api';
import { CancelButton } from './cancel-button';
import { JobState } from './jobs-view';
import { useReloadOn } from '../../lib/live';
import { StageBar } from './stage-progress';
import { duration } from '../../lib/time-format';

/** Tasks shown at once; the filters narrow a bigger job down. */
const SHOWN_TASKS = 300;
const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

function Field(props: { label: string; children: ComponentChildren }): JSX.Element {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </>
  );
}

function taskDuration(t: BatchTask, now: number): string {
  if (t.output?.durationMs !== undefined && ENDED.has(t.state)) return duration(t.output.durationMs);
  const start = t.startedAtMs ?? t.launchedAtMs;
  if (start === undefined) return '–';
  return t.endedAtMs !== undefined ? duration(t.endedAtMs - start) : `${duration(now - start)}…`;
}

/** The short name of a task within its job: `map.3`. */
const shortId = (t: Pick<BatchTask, 'stage' | 'index'>) => `${t.stage}.${t.index}`;

/** The stages table. */
function Stages(props: { stages: readonly StageProgress[] }): JSX.Element {
  const columns: Column<StageProgress>[] = [
    { label: 'Stage', cell: (s) => <strong>{s.stage}</strong> },
    {
      label: 'After',
      cell: (s) => (s.dependsOn && s.dependsOn.length > 0 ? s.dependsOn.join(', ') : <span class="muted">–</span>),
    },
    { label: 'State', cell: (s) => <Badge state={s.state} /> },
    { label: 'Progress', cell: (s) => <StageBar stage={s} hideName /> },
    { label: 'Done', numeric: true, cell: (s) => fmt(s.done) },
    { label: 'Running', numeric: true, cell: (s) => fmt(s.running) },
    { label: 'Pending', numeric: true, cell: (s) => fmt(s.pending) },
    { label: 'Failed', numeric: true, cell: (s) => (s.failed > 0 ? <span class="bad-text">{fmt(s.failed)}</span> : '0') },
    { label: 'Total', numeric: true, cell: (s) => fmt(s.total) },
    { label: 'Failed attempts', numeric: true, cell: (s) => fmt(s.failedAttempts) },
    { label: 'Gang', cell: (s) => (s.gang ? 'yes' : <span class="muted">no</span>) },
  ];
  return <Table rows={props.stages} columns={columns} rowKey={(s) => s.stage} testId="stages-table" />;
}

/** A task's state, attempt, placement and what it left behind; polled while the task is not done. */
function TaskOutputPanel(props: { jobId: string; taskId: string; tick: number; onClose: () => void }): JSX.Element {
  const task = usePolled<BatchTask & { jobId: string }>(taskPath(props.jobId, props.taskId), 1500);
  useReloadOn(props.tick, task.reload);
  const t = task.data;
  const out = t?.output;
  return (
    <Section
      title={`Task ${t ? shortId(t) : props.taskId}`}
      testId="task-output"
      actions={
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      }
    >
      <Notice error={task.error} />
      {t === undefined ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <dl class="kv">
            <Field label="Task id">
              <span class="mono">{t.taskId}</span>
            </Field>
            <Field label="State">
              <Badge state={t.state} /> {t.message ? <span class="muted small">{t.message}</span> : null}
            </Field>
            <Field label="Attempt">
              {t.attempt} <span class="muted">({t.failures} failed, {t.losses} lost)</span>
            </Field>
            <Field label="Agent">{t.agentId ? <span class="mono small">{t.agentId}</span> : <span class="muted">–</span>}</Field>
            <Field label="Started">{when(t.startedAtMs ?? t.launchedAtMs)}</Field>
            <Field label="Ended">{when(t.endedAtMs)}</Field>
            <Field label="Exit code">{out?.exitCode ?? '–'}</Field>
            {out?.error ? (
              <Field label="Error">
                <span class="bad-text">{out.error}</span>
              </Field>
            ) : null}
          </dl>
          <h3 class="log-title">stdout</h3>
          {out?.stdoutTail ? (
            <pre class="log" data-testid="task-stdout">
              {out.stdoutTail}
            </pre>
          ) : (
            <p class="muted small">{ENDED.has(t.state) ? 'Nothing was written to stdout.' : 'The output is sent when the attempt ends.'}</p>
          )}
          {out?.stderrTail ? (
            <>
              <h3 class="log-title">stderr</h3>
              <pre class="log" data-testid="task-stderr">
                {out.stderrTail}
              </pre>
            </>
          ) : null}
          {out?.result !== undefined ? (
            <>
              <h3 class="log-title">result</h3>
              <pre class="log">{JSON.stringify(out.result, null, 2)}</pre>
            </>
          ) : null}
        </>
      )}
    </Section>
  );
}

/** The tasks table, filtered by stage and state. */
function Tasks(props: { jobId: string; tasks: readonly BatchTask[]; selected?: string; onSelect: (taskId: string) => void }): JSX.Element {
  const [stage, setStage] = useState('');
  const [state, setState] = useState('');
  const stages = [...new Set(props.tasks.map((t) => t.stage))];
  const matching = props.tasks.filter((t) => (stage === '' || t.stage === stage) && (state === '' || t.state === state));
  const now = Date.now();
  const columns: Column<BatchTask>[] = [
    {
      label: 'Task',
      cell: (t) => (
        <span class={t.taskId === props.selected ? 'mono selected-task' : 'mono'} title={t.taskId}>
          {shortId(t)}
        </span>
      ),
    },
    { label: 'State', cell: (t) => <Badge state={t.state} /> },
    { label: 'Attempt', numeric: true, cell: (t) => t.attempt },
    { label: 'Agent', cell: (t) => (t.agentId ? <span class="mono small">{t.agentId.length > 18 ? `…${t.agentId.slice(-16)}` : t.agentId}</span> : '–') },
    { label: 'Started', cell: (t) => when(t.startedAtMs ?? t.launchedAtMs) },
    { label: 'Duration', numeric: true, cell: (t) => taskDuration(t, now) },
    { label: 'Exit', numeric: true, cell: (t) => t.output?.exitCode ?? '–' },
    { label: 'Message', cell: (t) => (t.message ? <span class="muted small">{t.message}</span> : null) },
  ];
  return (
    <>
      <div class="filters">
        <select value={stage} onChange={(e) => setStage((e.target as HTMLSelectElement).value)} aria-label="Filter tasks by stage">
          <option value="">All stages</option>
          {stages.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)} aria-label="Filter tasks by state">
          <option value="">All states</option>
          {['PENDING', 'LAUNCHING', 'RUNNING', 'RETRY_WAIT', 'SUCCEEDED', 'FAILED', 'CANCELLED'].map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <span class="muted small filter-count">
          {matching.length > SHOWN_TASKS ? `showing ${SHOWN_TASKS} of ${matching.length} tasks` : `${matching.length} tasks`} · click one for its output
        </span>
      </div>
      <Table
        rows={matching.slice(0, SHOWN_TASKS)}
        columns={columns}
        rowKey={(t) => t.taskId}
        testId="tasks-table"
        onRowClick={(t) => props.onSelect(t.taskId)}
        empty="No task matches the filter."
      />
    </>
  );
}

/** The job detail view; `taskId` opens that task's output. */
export function JobDetail(props: { jobId: string; taskId?: string; tick: number; onTask: (taskId?: string) => void }): JSX.Element {
  const [allTasks, setAllTasks] = useState(false);
  const job = usePolled<BatchJobDetail>(`${jobPath(props.jobId)}${allTasks ? '?tasks=true' : ''}`, 1500);
  useReloadOn(props.tick, job.reload);
  const [error, setError] = useState<string | undefined>(undefined);
  const j = job.data;

  if (j === undefined && job.error && /no job/i.test(job.error)) {
    return (
      <Section title={props.jobId}>
        <Notice error={`There is no job ${props.jobId}.`} />
        <a href="#jobs">Back to the jobs</a>
      </Section>
    );
  }
  const tasks = j && Array.isArray(j.tasks) ? j.tasks : undefined;
  const taskCount = j ? (Array.isArray(j.tasks) ? j.tasks.length : j.tasks) : 0;

  return (
    <div data-testid="job-detail" data-job={props.jobId}>
      <div class="detail-head">
        <a href="#jobs" class="back">
          ← Jobs
        </a>
        <h1>{j?.name ?? props.jobId}</h1>
        <span class="mono small muted">{props.jobId}</span>
        {j ? <JobState job={j} /> : null}
        <span class="spacer" />
        {j?.state === 'RUNNING' ? (
          <CancelButton
            jobId={props.jobId}
            onDone={(e) => {
              setError(e);
              job.reload();
            }}
          />
        ) : null}
      </div>
      <Notice error={job.error ?? error} />
      {j === undefined ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <Section title="Summary" testId="job-summary">
            <dl class="kv summary-grid">
              <Field label="Submitted">{when(j.createdAtMs)}</Field>
              <Field label="Ended">{j.endedAtMs === undefined ? <span class="muted">running</span> : when(j.endedAtMs)}</Field>
              <Field label="Duration">{duration(jobDuration(j))}</Field>
              <Field label="Tasks">{fmt(taskCount)}</Field>
              <Field label="Role / weight">
                {j.role} / {j.weight}
              </Field>
              {j.deadlineAtMs !== undefined ? <Field label="Deadline">{when(j.deadlineAtMs)}</Field> : null}
              {j.message ? (
                <Field label="Message">
                  <span class={j.state === 'SUCCEEDED' ? undefined : 'bad-text'}>{j.message}</span>
                </Field>
              ) : null}
            </dl>
          </Section>
          <Section title="Stages" testId="job-stages">
            <Stages stages={j.stages} />
          </Section>
          {props.taskId ? <TaskOutputPanel key={props.taskId} jobId={props.jobId} taskId={props.taskId} tick={props.tick} onClose={() => props.onTask(undefined)} /> : null}
          <Section title="Tasks" testId="job-tasks">
            {tasks ? (
              <Tasks jobId={props.jobId} tasks={tasks} selected={props.taskId} onSelect={(id) => props.onTask(id)} />
            ) : (
              <p class="muted">
                This job has {fmt(taskCount)} tasks; they are not listed by default.{' '}
                <button type="button" onClick={() => setAllTasks(true)}>
                  Load all tasks
                </button>
              </p>
            )}
          </Section>
        </>
      )}
    </div>
  );
}
