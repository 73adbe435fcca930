/**
 * How an app is doing, as the apps list and the app's page show it: its instances by state in
 * one bar, its health, and whether it is deploying, waiting for offers, suspended or running.
 */

import type { JSX } from 'preact';
import type { Deployment, MarathonApp } from './marathon-api';

/** A label with an explicit tone (ok, warn, bad, plain). */
export function Tone(props: { tone: 'ok' | 'warn' | 'bad' | 'plain'; children: string; title?: string; testId?: string }): JSX.Element {
  return (
    <span class={`badge ${props.tone}`} title={props.title} data-testid={props.testId}>
      {props.children}
    </span>
  );
}

/** The counts of an app's instances. */
export interface InstanceCounts {
  desired: number;
  staged: number;
  running: number;
  healthy: number;
  unhealthy: number;
  /** Whether the app has a health check (without one, healthy and unhealthy are 0). */
  checked: boolean;
}

/** The counts of an app from its embedded `counts`. */
export function countsOf(app: MarathonApp): InstanceCounts {
  return {
    desired: app.instances,
    staged: app.tasksStaged ?? 0,
    running: app.tasksRunning ?? 0,
    healthy: app.tasksHealthy ?? 0,
    unhealthy: app.tasksUnhealthy ?? 0,
    checked: (app.healthChecks?.length ?? 0) > 0,
  };
}

/** The app's health: healthy, unhealthy, checking, or "no check". */
export function HealthBadge(props: { counts: InstanceCounts }): JSX.Element {
  const c = props.counts;
  if (!c.checked) return <Tone tone="plain" title="The app has no health check: running counts as up">no check</Tone>;
  if (c.unhealthy > 0) return <Tone tone="bad" testId="health">{`${c.unhealthy} unhealthy`}</Tone>;
  if (c.desired === 0 && c.running === 0) return <Tone tone="plain">no instances</Tone>;
  if (c.healthy >= c.desired && c.healthy === c.running) return <Tone tone="ok" testId="health">healthy</Tone>;
  return <Tone tone="warn" testId="health" title="Instances run, their health checks have not all passed yet">{`${c.healthy} of ${c.desired} healthy`}</Tone>;
}

/** What the app is doing: deploying, waiting, suspended, running. */
export function StatusBadge(props: { app: MarathonApp; counts: InstanceCounts; waiting?: number }): JSX.Element {
  const c = props.counts;
  if ((props.app.deployments?.length ?? 0) > 0) return <Tone tone="warn">Deploying</Tone>;
  if (c.desired === 0 && c.running === 0 && c.staged === 0) return <Tone tone="plain">Suspended</Tone>;
  if ((props.waiting ?? 0) > 0) return <Tone tone="warn" title="Instances wait for offers that fit: see the queue">Waiting</Tone>;
  if (c.running < c.desired) return <Tone tone="warn">Under capacity</Tone>;
  if (c.running > c.desired) return <Tone tone="warn">Over capacity</Tone>;
  return <Tone tone="ok">Running</Tone>;
}

/**
 * The instances in one bar: healthy (green), running but not (yet) healthy (blue), unhealthy
 * (red), staged (yellow), and the rest of the desired count (grey); "running / desired" beside.
 * Carries the counts as `data-*` attributes for tests and scripts.
 */
export function InstancesBar(props: { counts: InstanceCounts }): JSX.Element {
  const c = props.counts;
  const total = Math.max(c.desired, c.running + c.staged, 1);
  const healthy = c.checked ? c.healthy : 0;
  const unhealthy = c.checked ? c.unhealthy : 0;
  const plainRunning = Math.max(0, c.running - healthy - unhealthy);
  const parts: [string, number, string][] = [
    ['healthy', healthy, 'healthy'],
    ['running', plainRunning, c.checked ? 'running, not yet healthy' : 'running'],
    ['unhealthy', unhealthy, 'unhealthy'],
    ['staged', c.staged, 'staged'],
  ];
  const title = parts
    .filter(([, n]) => n > 0)
    .map(([, n, label]) => `${n} ${label}`)
    .join(', ');
  return (
    <div
      class="mf-instances"
      data-testid="instances"
      data-desired={c.desired}
      data-running={c.running}
      data-staged={c.staged}
      data-healthy={c.healthy}
      data-unhealthy={c.unhealthy}
      title={title || 'no instance runs'}
    >
      <div class="mf-segments">
        {parts.map(([cls, n]) => (n > 0 ? <span key={cls} class={`seg ${cls}`} style={{ width: `${(n / total) * 100}%` }} /> : null))}
      </div>
      <span class="mf-count">
        {c.running} / {c.desired}
      </span>
    </div>
  );
}

/** A deployment's progress: the step it is at, as a bar and "step 2 of 3". */
export function DeploymentProgress(props: { deployment: Deployment }): JSX.Element {
  const d = props.deployment;
  const done = Math.max(0, d.currentStep - 1);
  const total = Math.max(d.totalSteps, 1);
  const actions = d.currentActions.map((a) => a.action).join(', ');
  return (
    <div class="mf-progress" data-testid="deployment-progress" title={`step ${d.currentStep} of ${d.totalSteps}: ${actions}`}>
      <div class="mf-track">
        <span class="seg done" style={{ width: `${(done / total) * 100}%` }} />
        <span class="seg current" style={{ width: `${(1 / total) * 100}%` }} />
      </div>
      <span class="mf-count">
        step {d.currentStep}/{d.totalSteps}
        {actions ? ` · ${actions}` : ''}
      </span>
    </div>
  );
}

/** A duration since `iso`, short: "12s", "4m", "3h", "2d". */
export function since(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '–';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The first part of a long id (a task's uuid, a deployment's), the whole in the title. */
export function ShortId(props: { id: string; length?: number }): JSX.Element {
  const n = props.length ?? 8;
  const dot = props.id.lastIndexOf('.');
  const head = dot > 0 ? `${props.id.slice(0, dot + 1)}${props.id.slice(dot + 1, dot + 1 + n)}…` : props.id.length > n + 1 ? `${props.id.slice(0, n)}…` : props.id;
  return (
    <span class="mono" title={props.id}>
      {head}
    </span>
  );
}
