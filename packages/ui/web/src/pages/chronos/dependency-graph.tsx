/** The job dependency graph drawn as SVG: columns by depth, arrows parent → child, boxes coloured by last status. */

import type { JSX } from 'preact';
import { useMemo } from 'preact/hooks';
import { Notice, Section } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { API, type JobSummary } from './chronos-api';
import { placeGraph } from './graph-layout';
import { useReloadOn } from '../../lib/live';

const NODE_HEIGHT = 44;

function statusLine(job: JobSummary): string {
  if (job.state === 'running') return 'running…';
  if (job.state === 'queued') return 'queued';
  if (job.disabled) return 'disabled';
  if (job.status === 'success') return '✓ succeeded';
  if (job.status === 'failure') return '✗ failed';
  return 'never ran';
}

function cut(text: string, width: number, charWidth: number): string {
  const fits = Math.floor((width - 24) / charWidth);
  return text.length <= fits ? text : `${text.slice(0, Math.max(1, fits - 1))}…`;
}

/** The graph view: every job, and an arrow from each parent to each of its dependent jobs. */
export function DependencyGraph(props: { tick: number }): JSX.Element {
  const summary = usePolled<{ jobs: JobSummary[] }>(`${API}/jobs/summary`, 2000);
  useReloadOn(props.tick, summary.reload);
  const jobs = summary.data?.jobs;
  const placement = useMemo(() => placeGraph(jobs ?? [], { nodeHeight: NODE_HEIGHT }), [jobs]);
  const byName = new Map((jobs ?? []).map((j) => [j.name, j]));
  const edgeCount = placement.edges.length;

  return (
    <Section
      title="Dependency graph"
      testId="dependency-graph"
      actions={
        <>
          <span class="muted">
            {jobs ? `${jobs.length} job${jobs.length === 1 ? '' : 's'}, ${edgeCount} dependenc${edgeCount === 1 ? 'y' : 'ies'}` : ''}
          </span>
          <a class="button" href={`${API}/graph/dot`} target="_blank" rel="noreferrer">
            DOT
          </a>
          <a class="button" href={`${API}/graph/svg`} target="_blank" rel="noreferrer">
            SVG
          </a>
        </>
      }
    >
      <Notice error={summary.error} />
      <div class="graph-legend">
        <span class="swatch success" /> last run succeeded
        <span class="swatch failure" /> last run failed
        <span class="swatch fresh" /> never ran
        <span class="swatch running" /> running
        <span class="swatch disabled" /> disabled
      </div>
      {jobs === undefined ? (
        <p class="muted">Loading…</p>
      ) : jobs.length === 0 ? (
        <p class="empty-state" data-testid="graph-empty">
          No jobs yet. <a href="#new">Create a job</a>; a job with parents runs after them and is drawn to their right.
        </p>
      ) : (
        <div class="graph-scroll">
          <svg
            class="job-graph"
            data-testid="graph-svg"
            width={placement.width}
            height={placement.height}
            viewBox={`0 0 ${placement.width} ${placement.height}`}
            role="img"
            aria-label="Job dependency graph"
          >
            <defs>
              <marker id="graph-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
              </marker>
            </defs>
            <g class="edges">
              {placement.edges.map((e) => (
                <path key={`${e.from}\u0000${e.to}`} d={e.path} class="edge" marker-end="url(#graph-arrow)" data-testid="graph-edge" data-from={e.from} data-to={e.to}>
                  <title>
                    {e.from} → {e.to}
                  </title>
                </path>
              ))}
            </g>
            <g class="nodes">
              {placement.nodes.map((n) => {
                const job = byName.get(n.name);
                if (!job) return null;
                const classes = ['node', job.status, job.state !== 'idle' ? 'active' : '', job.disabled ? 'disabled' : ''].filter(Boolean).join(' ');
                return (
                  <a key={n.name} href={`#job/${encodeURIComponent(n.name)}`} aria-label={`${n.name}: ${statusLine(job)}`}>
                    <g
                      class={classes}
                      transform={`translate(${n.x},${n.y})`}
                      data-testid="graph-node"
                      data-job={n.name}
                      data-status={job.status}
                      data-state={job.state}
                      data-layer={n.layer}
                      data-x={n.x}
                    >
                      <title>
                        {n.name}
                        {job.schedule ? `\nschedule ${job.schedule}` : ''}
                        {job.parents.length > 0 ? `\nafter ${job.parents.join(', ')}` : ''}
                      </title>
                      <rect width={n.width} height={n.height} rx="6" />
                      <text x="12" y="18" class="node-name">
                        {cut(n.name, n.width, 7.4)}
                      </text>
                      <text x="12" y="35" class="node-sub">
                        {statusLine(job)}
                      </text>
                    </g>
                  </a>
                );
              })}
            </g>
          </svg>
        </div>
      )}
    </Section>
  );
}
