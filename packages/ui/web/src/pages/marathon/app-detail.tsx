/**
 * One app's page: what it is doing, its actions (scale, suspend, restart, edit, destroy), its
 * configuration at a glance, its deployments, why instances wait, its tasks (host, ports, state,
 * health), and its stored versions with a rollback to any of them.
 */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Badge, type Column, fmt, Notice, Section, Table, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { countsOf, DeploymentProgress, HealthBadge, InstancesBar, ShortId, StatusBadge, since, Tone } from './app-status';
import { ConfirmDialog } from './confirm-dialog';
import { useReloadOn } from '../../lib/live';
import { appPath, type Deployment, isLocked, type MarathonApp, type MarathonTask, marathon, type QueueItem } from './marathon-api';
import { QueueReasons } from './queue-view';

/** What an action answered, for the line under the actions. */
interface ActionResult {
  message?: string;
  error?: string;
  /** Runs the same action with `force`, offered when a running deployment locks the app. */
  forced?: () => void;
}

/** The page of the app `appId`. */
export function AppDetail(props: { appId: string; tick: number; navigate: (hash: string) => void }): JSX.Element {
  const { appId } = props;
  const app = usePolled<{ app: MarathonApp }>(appPath(appId), 2000);
  const deployments = usePolled<Deployment[]>('/v2/deployments', 2000);
  const queue = usePolled<{ queue: QueueItem[] }>('/v2/queue', 3000);
  useReloadOn(props.tick, app.reload);
  useReloadOn(props.tick, deployments.reload);
  useReloadOn(props.tick, queue.reload);
  const [result, setResult] = useState<ActionResult>({});
  const [busy, setBusy] = useState(false);
  const [scaleTo, setScaleTo] = useState('');
  const [confirm, setConfirm] = useState<'destroy' | 'suspend' | undefined>(undefined);

  const run = async (label: string, action: (force: boolean) => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setResult({});
    try {
      const answer = (await action(false)) as { deploymentId?: string } | undefined;
      setResult({ message: `${label}: ${answer?.deploymentId ? `deployment ${answer.deploymentId} started` : 'done'}.` });
      after?.();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      setResult({
        error: `${label} failed: ${message}`,
        ...(isLocked(e) ? { forced: () => void run(`${label} (forced)`, () => action(true), after) } : {}),
      });
    } finally {
      setBusy(false);
      app.reload();
      deployments.reload();
    }
  };

  if (app.data === undefined) {
    return (
      <Section title={appId}>
        {app.error ? <Notice error={`Could not load ${appId}: ${app.error}`} /> : <p class="muted">Loading…</p>}
        <a href="#apps">← All apps</a>
      </Section>
    );
  }
  const a = app.data.app;
  const counts = countsOf(a);
  const mine = (deployments.data ?? []).filter((d) => d.affectedApps.includes(appId));
  const waiting = (queue.data?.queue ?? []).find((q) => q.app.id === appId);
  const scaleValue = scaleTo === '' ? String(a.instances) : scaleTo;
  const scaleNumber = Number(scaleValue);
  const scaleInvalid = !Number.isInteger(scaleNumber) || scaleNumber < 0;

  return (
    <>
      <div class="mf-crumbs">
        <a href="#apps">Applications</a> <span class="muted">/</span> <span class="mono">{appId}</span>
      </div>
      {app.error ? <Notice error={`The app could not be refreshed: ${app.error}`} /> : null}
      <Section
        title={appId}
        testId="app-detail"
        actions={
          <>
            <StatusBadge app={a} counts={counts} waiting={waiting?.count} />
            <HealthBadge counts={counts} />
          </>
        }
      >
        <div class="mf-actions" data-testid="app-actions">
          <form
            class="mf-scale"
            onSubmit={(e) => {
              e.preventDefault();
              if (scaleInvalid) return;
              void run(`Scale to ${scaleNumber}`, (force) => marathon.scale(appId, scaleNumber, force), () => setScaleTo(''));
            }}
          >
            <label for="mf-scale">Instances</label>
            <input id="mf-scale" type="number" min={0} step={1} value={scaleValue} data-testid="scale-input" onInput={(e) => setScaleTo(e.currentTarget.value)} />
            <button type="submit" class="primary" data-testid="scale" disabled={busy || scaleInvalid || scaleNumber === a.instances}>
              Scale
            </button>
          </form>
          <button type="button" data-testid="suspend" disabled={busy || a.instances === 0} onClick={() => setConfirm('suspend')}>
            Suspend
          </button>
          <button type="button" data-testid="restart" disabled={busy} onClick={() => void run('Restart', (force) => marathon.restart(appId, force))}>
            Restart
          </button>
          <a class="button" href={`#edit${appId}`} data-testid="edit">
            Edit
          </a>
          <button type="button" class="danger" data-testid="destroy" disabled={busy} onClick={() => setConfirm('destroy')}>
            Destroy
          </button>
          <InstancesBar counts={counts} />
        </div>
        {scaleInvalid ? <div class="field-error">Instances must be a whole number, 0 or more.</div> : null}
        {result.message ? <Notice>{result.message}</Notice> : null}
        {result.error ? (
          <div class="notice error" role="alert" data-testid="action-error">
            {result.error}{' '}
            {result.forced ? (
              <button type="button" class="danger" data-testid="force-action" onClick={result.forced}>
                Override the running deployment (force)
              </button>
            ) : null}
          </div>
        ) : null}
        {a.lastTaskFailure ? (
          <div class="notice mf-failure-notice" data-testid="last-failure">
            Last task failure {since(a.lastTaskFailure.timestamp)} ago on {a.lastTaskFailure.host || 'an unknown host'} ({a.lastTaskFailure.state}):{' '}
            {a.lastTaskFailure.message}
          </div>
        ) : null}
        <Overview app={a} />
      </Section>

      {mine.length > 0 ? (
        <Section title="Deployment in progress" testId="app-deployments" actions={<a href="#deployments">All deployments</a>}>
          {mine.map((d) => (
            <div class="mf-dep-line" key={d.id}>
              <ShortId id={d.id} /> <DeploymentProgress deployment={d} />
            </div>
          ))}
        </Section>
      ) : null}

      {waiting ? (
        <Section title={`${waiting.count} instance${waiting.count === 1 ? '' : 's'} waiting to launch`} testId="app-queue" actions={<a href="#queue">Launch queue</a>}>
          <QueueReasons item={waiting} />
        </Section>
      ) : null}

      <Section title={`Tasks (${a.tasks?.length ?? 0})`} testId="tasks">
        <TasksTable app={a} onKill={(task, scale) => void run(scale ? `Kill ${task.id} and scale down` : `Kill ${task.id}`, () => marathon.killTask(appId, task.id, scale))} busy={busy} />
      </Section>

      <Versions appId={appId} current={a} tick={props.tick} onRollback={(v) => void run(`Roll back to ${v}`, (force) => marathon.rollback(appId, v, force))} busy={busy} />

      {confirm === 'destroy' ? (
        <ConfirmDialog
          title={`Destroy ${appId}?`}
          confirmLabel="Destroy"
          danger
          onCancel={() => setConfirm(undefined)}
          onConfirm={() => {
            setConfirm(undefined);
            void run('Destroy', (force) => marathon.destroy(appId, force), () => props.navigate('apps'));
          }}
        >
          Its {counts.running} running instance{counts.running === 1 ? '' : 's'} will be killed and the app and its versions removed. This cannot be undone.
        </ConfirmDialog>
      ) : null}
      {confirm === 'suspend' ? (
        <ConfirmDialog
          title={`Suspend ${appId}?`}
          confirmLabel="Suspend"
          onCancel={() => setConfirm(undefined)}
          onConfirm={() => {
            setConfirm(undefined);
            void run('Suspend', (force) => marathon.scale(appId, 0, force));
          }}
        >
          It scales to 0 instances: every task is killed, the definition stays. Scale it up again to resume.
        </ConfirmDialog>
      ) : null}
    </>
  );
}

function describeHealthCheck(app: MarathonApp): string {
  const h = app.healthChecks?.[0];
  if (!h) return 'none';
  const target = h.command ? `command ${h.command.value}` : h.port !== undefined ? `port ${h.port}` : `port index ${h.portIndex ?? 0}${h.path ? ` ${h.path}` : ''}`;
  const timing = [
    h.intervalSeconds !== undefined ? `every ${h.intervalSeconds}s` : '',
    h.gracePeriodSeconds !== undefined ? `grace ${h.gracePeriodSeconds}s` : '',
    h.maxConsecutiveFailures !== undefined ? `kill after ${h.maxConsecutiveFailures} failures` : '',
  ].filter(Boolean);
  return `${h.protocol} ${target}${timing.length ? ` · ${timing.join(', ')}` : ''}`;
}

function Overview(props: { app: MarathonApp }): JSX.Element {
  const a = props.app;
  const labels = Object.entries(a.labels ?? {});
  const env = Object.keys(a.env ?? {});
  return (
    <dl class="kv mf-overview" data-testid="app-overview">
      <dt>Command</dt>
      <dd class="mono mf-wrap">{a.cmd ?? (a.args ? JSON.stringify(a.args) : '–')}</dd>
      <dt>Resources</dt>
      <dd>
        {fmt(a.cpus)} CPUs · {fmt(a.mem)} MiB mem · {fmt(a.disk)} MiB disk{a.gpus ? ` · ${a.gpus} GPUs` : ''} per instance
      </dd>
      <dt>Ports</dt>
      <dd>
        {(a.portDefinitions ?? []).length === 0
          ? 'none'
          : (a.portDefinitions ?? []).map((p, i) => `PORT${i}${p.name ? ` (${p.name})` : ''} ${p.port === 0 ? 'any' : p.port}/${p.protocol}`).join(', ')}
      </dd>
      <dt>Health check</dt>
      <dd>{describeHealthCheck(a)}</dd>
      <dt>Constraints</dt>
      <dd class="mono">{(a.constraints ?? []).length === 0 ? '–' : (a.constraints ?? []).map((c) => (Array.isArray(c) ? c.join(' ') : JSON.stringify(c))).join('; ')}</dd>
      <dt>Labels</dt>
      <dd>
        {labels.length === 0
          ? '–'
          : labels.map(([k, v]) => (
              <span class="mf-chip" key={k}>
                {k}={v}
              </span>
            ))}
      </dd>
      <dt>Environment</dt>
      <dd class="mono">{env.length === 0 ? '–' : env.join(', ')}</dd>
      <dt>Upgrade strategy</dt>
      <dd>
        {a.upgradeStrategy
          ? `keep ≥ ${Math.round(a.upgradeStrategy.minimumHealthCapacity * 100)}% healthy, up to ${Math.round(a.upgradeStrategy.maximumOverCapacity * 100)}% extra`
          : '–'}
      </dd>
      <dt>Version</dt>
      <dd>
        <span class="mono">{a.version ?? '–'}</span>
        {a.versionInfo ? (
          <span class="muted">
            {' '}
            · config changed {when(a.versionInfo.lastConfigChangeAt)} · scaled {when(a.versionInfo.lastScalingAt)}
          </span>
        ) : null}
      </dd>
    </dl>
  );
}

function TasksTable(props: { app: MarathonApp; busy: boolean; onKill: (task: MarathonTask, scale: boolean) => void }): JSX.Element {
  const checked = (props.app.healthChecks?.length ?? 0) > 0;
  // Scaling stamps a new version without restarting anything: a task is outdated only when the configuration changed after its launch.
  const configChange = Date.parse(props.app.versionInfo?.lastConfigChangeAt ?? '');
  const configAt = Number.isNaN(configChange) ? undefined : configChange;
  const columns: Column<MarathonTask>[] = [
    { label: 'Task', cell: (t) => <ShortId id={t.id} /> },
    { label: 'Host', cell: (t) => <span class="mono">{t.host || '–'}</span> },
    { label: 'Ports', cell: (t) => <span class="mono">{t.ports.length ? t.ports.join(', ') : '–'}</span> },
    { label: 'State', cell: (t) => <Badge state={t.state} /> },
    {
      label: 'Health',
      cell: (t) => {
        const r = t.healthCheckResults?.[0];
        if (!checked) return <span class="muted">no check</span>;
        if (!r) return <Tone tone="warn">pending</Tone>;
        return r.alive ? <Tone tone="ok">healthy</Tone> : <Tone tone="bad">{`unhealthy${r.consecutiveFailures > 1 ? ` ×${r.consecutiveFailures}` : ''}`}</Tone>;
      },
    },
    { label: 'Message', cell: (t) => <span class="muted mf-message" title={t.message}>{t.message ?? ''}</span> },
    { label: 'Started', cell: (t) => <span title={t.startedAt ?? t.stagedAt ?? ''}>{t.startedAt ? `${since(t.startedAt)} ago` : t.stagedAt ? `staged ${since(t.stagedAt)} ago` : '–'}</span> },
    {
      label: 'Config',
      cell: (t) =>
        configAt !== undefined && Date.parse(t.version) < configAt ? (
          <Tone tone="warn" title={`launched with ${t.version}, before the configuration changed at ${props.app.versionInfo?.lastConfigChangeAt}`}>
            outdated
          </Tone>
        ) : (
          <span class="muted" title={t.version}>
            current
          </span>
        ),
    },
    {
      label: '',
      cell: (t) => (
        <span class="mf-row-actions">
          <button type="button" class="small" disabled={props.busy} title="Kill the task; Marathon starts a replacement" onClick={() => props.onKill(t, false)}>
            Kill
          </button>
          <button type="button" class="small" disabled={props.busy} title="Kill the task and lower the instance count by one" onClick={() => props.onKill(t, true)}>
            Kill &amp; scale
          </button>
        </span>
      ),
    },
  ];
  return (
    <Table
      testId="tasks-table"
      rows={[...(props.app.tasks ?? [])].sort((x, y) => (x.host + x.id < y.host + y.id ? -1 : 1))}
      columns={columns}
      rowKey={(t) => t.id}
      empty={props.app.instances === 0 ? 'Suspended: no instance should run. Scale up to start it again.' : 'No task has been launched yet: see the deployment and the launch queue.'}
    />
  );
}

/** Fields that are status or bookkeeping rather than definition, left out of version comparisons. */
const NOT_COMPARED = new Set(['version', 'versionInfo', 'tasksStaged', 'tasksRunning', 'tasksHealthy', 'tasksUnhealthy', 'deployments', 'tasks', 'lastTaskFailure']);

function Versions(props: { appId: string; current: MarathonApp; tick: number; busy: boolean; onRollback: (version: string) => void }): JSX.Element {
  const versions = usePolled<{ versions: string[] }>(`${appPath(props.appId)}/versions`, 5000);
  useReloadOn(props.tick, versions.reload);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const detail = usePolled<MarathonApp>(selected === undefined ? null : `${appPath(props.appId)}/versions/${encodeURIComponent(selected)}`, 0);
  const list = versions.data?.versions ?? [];
  const changes =
    detail.data && selected !== undefined
      ? [...new Set([...Object.keys(detail.data), ...Object.keys(props.current)])]
          .filter((k) => !NOT_COMPARED.has(k))
          .filter((k) => JSON.stringify(detail.data?.[k]) !== JSON.stringify(props.current[k]))
          .sort()
      : [];
  return (
    <Section title={`Versions (${list.length})`} testId="versions">
      <Notice error={versions.error ? `Could not load the versions: ${versions.error}` : undefined} />
      <div class="mf-versions">
        <ul class="mf-version-list" data-testid="version-list">
          {list.map((v) => (
            <li key={v} class={v === selected ? 'selected' : ''}>
              <button type="button" class="link" data-version={v} onClick={() => setSelected(v === selected ? undefined : v)}>
                {when(v)}
              </button>
              {v === props.current.version ? <Tone tone="ok">current</Tone> : null}
            </li>
          ))}
          {list.length === 0 ? <li class="muted">No stored version.</li> : null}
        </ul>
        <div class="mf-version-detail">
          {selected === undefined ? (
            <p class="muted">Pick a version to see how it differs from the current definition and to roll back to it.</p>
          ) : detail.error ? (
            <Notice error={detail.error} />
          ) : !detail.data ? (
            <p class="muted">Loading…</p>
          ) : (
            <>
              <div class="mf-version-head">
                <span class="mono">{selected}</span>
                {selected === props.current.version ? (
                  <span class="muted">This is the current version.</span>
                ) : (
                  <button type="button" class="primary" data-testid="rollback" disabled={props.busy} onClick={() => props.onRollback(selected)}>
                    Roll back to this version
                  </button>
                )}
              </div>
              {selected === props.current.version ? null : changes.length === 0 ? (
                <p class="muted">Same definition as the current one.</p>
              ) : (
                <table class="grid mf-diff" data-testid="version-diff">
                  <thead>
                    <tr>
                      <th>Field</th>
                      <th>This version</th>
                      <th>Current</th>
                    </tr>
                  </thead>
                  <tbody>
                    {changes.map((k) => (
                      <tr key={k}>
                        <td class="mono">{k}</td>
                        <td class="mono mf-wrap">{JSON.stringify(detail.data?.[k]) ?? '–'}</td>
                        <td class="mono mf-wrap">{JSON.stringify(props.current[k]) ?? '–'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )}
        </div>
      </div>
    </Section>
  );
}
