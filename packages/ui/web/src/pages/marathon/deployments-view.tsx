/**
 * The deployments in progress: their steps, the step each is at, how far its apps have got, and
 * the two ways to stop one — roll back (a new deployment returns the apps to where they were) or
 * cancel by force (it stops where it stands).
 */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Notice, Section, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { countsOf, DeploymentProgress, InstancesBar, ShortId, since } from './app-status';
import { ConfirmDialog } from './confirm-dialog';
import { useReloadOn } from '../../lib/live';
import { APPS_PATH, type Deployment, type MarathonApp, marathon } from './marathon-api';

/** The deployments view. */
export function DeploymentsView(props: { tick: number }): JSX.Element {
  const deployments = usePolled<Deployment[]>('/v2/deployments', 1500);
  const apps = usePolled<{ apps: MarathonApp[] }>(APPS_PATH, 2000);
  useReloadOn(props.tick, deployments.reload);
  useReloadOn(props.tick, apps.reload);
  const [pending, setPending] = useState<{ deployment: Deployment; force: boolean } | undefined>(undefined);
  const [result, setResult] = useState<{ message?: string; error?: string }>({});
  const [busy, setBusy] = useState(false);
  const appsById = new Map((apps.data?.apps ?? []).map((a) => [a.id, a]));
  const list = [...(deployments.data ?? [])].sort((a, b) => (a.version < b.version ? -1 : 1));

  const stop = async (d: Deployment, force: boolean) => {
    setBusy(true);
    setResult({});
    try {
      const answer = await marathon.cancelDeployment(d.id, force);
      setResult({
        message: force
          ? `Deployment ${d.id} cancelled: its apps stay as they are now.`
          : `Deployment ${d.id} is rolling back${answer?.deploymentId ? ` (deployment ${answer.deploymentId})` : ''}.`,
      });
    } catch (e) {
      setResult({ error: `Could not ${force ? 'cancel' : 'roll back'} ${d.id}: ${e instanceof Error ? e.message : String(e)}` });
    } finally {
      setBusy(false);
      deployments.reload();
      apps.reload();
    }
  };

  return (
    <Section title="Deployments in progress" testId="deployments">
      <Notice error={deployments.error ? `Could not load the deployments: ${deployments.error}` : result.error} />
      {result.message ? <Notice>{result.message}</Notice> : null}
      {deployments.data === undefined && !deployments.error ? <p class="muted">Loading…</p> : null}
      {deployments.data !== undefined && list.length === 0 ? (
        <p class="mf-empty" data-testid="deployments-empty">
          No deployment is in progress: every app is as its definition says. Creating, changing, scaling or restarting an app starts one.
        </p>
      ) : null}
      {list.map((d) => (
        <div class="mf-deployment" key={d.id} data-key={d.id} data-testid="deployment">
          <div class="mf-deployment-head">
            <ShortId id={d.id} length={13} />
            <span class="muted" title={d.version}>
              started {when(d.version)} ({since(d.version)} ago)
            </span>
            <DeploymentProgress deployment={d} />
            <span class="mf-spacer" />
            <button type="button" disabled={busy} data-testid="deployment-rollback" onClick={() => setPending({ deployment: d, force: false })}>
              Roll back
            </button>
            <button type="button" class="danger" disabled={busy} data-testid="deployment-cancel" onClick={() => setPending({ deployment: d, force: true })}>
              Cancel (force)
            </button>
          </div>
          <ol class="mf-steps">
            {d.steps.map((step, i) => {
              const state = i + 1 < d.currentStep ? 'done' : i + 1 === d.currentStep ? 'current' : 'todo';
              return (
                <li key={i} class={`mf-step ${state}`}>
                  <span class="mf-step-no">{i + 1}</span>
                  {step.actions.map((a) => {
                    const app = appsById.get(a.app);
                    return (
                      <div class="mf-action" key={`${a.action}${a.app}`}>
                        <span class="mf-action-name">{a.action}</span>{' '}
                        <a href={`#app${a.app}`} class="mono">
                          {a.app}
                        </a>
                        {state === 'current' && app ? <InstancesBar counts={countsOf(app)} /> : null}
                      </div>
                    );
                  })}
                </li>
              );
            })}
          </ol>
        </div>
      ))}
      {pending ? (
        <ConfirmDialog
          title={pending.force ? `Cancel deployment ${pending.deployment.id}?` : `Roll back deployment ${pending.deployment.id}?`}
          confirmLabel={pending.force ? 'Cancel (force)' : 'Roll back'}
          danger={pending.force}
          onCancel={() => setPending(undefined)}
          onConfirm={() => {
            const p = pending;
            setPending(undefined);
            void stop(p.deployment, p.force);
          }}
        >
          {pending.force
            ? `The deployment stops where it stands and ${pending.deployment.affectedApps.join(', ')} stay${pending.deployment.affectedApps.length === 1 ? 's' : ''} half-way: some instances may run the new version and some the old.`
            : `A new deployment takes ${pending.deployment.affectedApps.join(', ')} back to ${pending.deployment.affectedApps.length === 1 ? 'its' : 'their'} definition before this one.`}
        </ConfirmDialog>
      ) : null}
    </Section>
  );
}
