/**
 * The launch queue: the apps with instances waiting to launch, how long they have waited, their
 * launch delay, and why they are not launching, from the offers Marathon declined for them (per
 * reason, and per agent with the details).
 */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Notice, Section, when } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { since, Tone } from './app-status';
import { useReloadOn } from '../../lib/live';
import { marathon, type QueueItem } from './marathon-api';

/** Marathon's decline reasons, as people read them. */
const REASON_TEXT: Readonly<Record<string, string>> = {
  UnfulfilledRole: 'offered resources of another role',
  UnfulfilledConstraint: 'a placement constraint does not hold on the agent',
  InsufficientCpus: 'not enough CPUs',
  InsufficientMemory: 'not enough memory',
  InsufficientDisk: 'not enough disk',
  InsufficientGpus: 'not enough GPUs',
  InsufficientPorts: 'not enough free ports',
};

/** Why an app's instances are not launching: the reasons the latest offers were declined for, and each agent's details. */
export function QueueReasons(props: { item: QueueItem }): JSX.Element {
  const { item } = props;
  const summary = item.processedOffersSummary;
  const reasons = summary.rejectSummaryLastOffers.filter((r) => r.declined > 0).sort((a, b) => b.declined - a.declined);
  const delayed = item.delay.timeLeftSeconds > 0;
  const [reset, setReset] = useState<{ busy: boolean; error?: string }>({ busy: false });
  const resetDelay = () => {
    setReset({ busy: true });
    marathon.resetDelay(item.app.id).then(
      () => setReset({ busy: false }),
      (e: unknown) => setReset({ busy: false, error: e instanceof Error ? e.message : String(e) }),
    );
  };
  return (
    <div class="mf-reasons" data-testid="queue-reasons">
      {delayed ? (
        <div class="mf-reason">
          <Tone tone="warn">Delayed</Tone> launches back off after failures: the next attempt in {item.delay.timeLeftSeconds}s.{' '}
          <button type="button" data-testid="reset-delay" disabled={reset.busy} onClick={resetDelay}>
            Reset delay
          </button>
          {reset.error ? <span class="field-error"> {reset.error}</span> : null}
        </div>
      ) : null}
      {summary.processedOffersCount === 0 ? (
        <div class="mf-reason muted">
          No offer has been considered for it yet: the cluster may have no free resources, or offers are held by other frameworks.
        </div>
      ) : reasons.length === 0 ? (
        <div class="mf-reason muted">The latest offers were not declined for a resource reason; instances launch as offers arrive.</div>
      ) : (
        reasons.map((r) => (
          <div class="mf-reason" key={r.reason} data-reason={r.reason}>
            <Tone tone="bad">{r.reason}</Tone> {REASON_TEXT[r.reason] ?? ''}{' '}
            <span class="muted">
              ({r.declined} of {r.processed} offers in the latest round)
            </span>
          </div>
        ))
      )}
      {item.lastUnusedOffers.length > 0 ? (
        <table class="grid mf-offers">
          <thead>
            <tr>
              <th>Agent</th>
              <th>Declined for</th>
              <th>Details</th>
              <th>When</th>
            </tr>
          </thead>
          <tbody>
            {item.lastUnusedOffers.map((o) => (
              <tr key={o.offer.id}>
                <td class="mono" title={o.offer.agentId}>
                  {o.offer.hostname}
                </td>
                <td>{o.reason.join(', ') || '–'}</td>
                <td>{o.details.join('; ') || '–'}</td>
                <td>{when(o.timestamp)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

/** The queue view: what waits, why, and a reset of an app's launch delay when it backs off. */
export function QueueView(props: { tick: number }): JSX.Element {
  const queue = usePolled<{ queue: QueueItem[] }>('/v2/queue', 2000);
  useReloadOn(props.tick, queue.reload);
  const items = queue.data?.queue ?? [];
  return (
    <Section title="Launch queue" testId="queue">
      <Notice error={queue.error ? `Could not load the queue: ${queue.error}` : undefined} />
      {queue.data === undefined && !queue.error ? <p class="muted">Loading…</p> : null}
      {queue.data !== undefined && items.length === 0 ? (
        <p class="mf-empty" data-testid="queue-empty">
          Nothing is waiting to launch: every instance Marathon wants has been placed on an agent.
        </p>
      ) : null}
      {items.map((item) => (
        <div class="mf-queue-item" key={item.app.id} data-key={item.app.id} data-testid="queue-item">
          <div class="mf-queue-head">
            <a href={`#app${item.app.id}`} class="mf-app-id">
              {item.app.id}
            </a>
            <span>
              <strong>{item.count}</strong> waiting
              {item.app.instances !== undefined ? <span class="muted"> of {item.app.instances}</span> : null}
            </span>
            <span class="muted">since {when(item.since)} ({since(item.since)})</span>
            <span class="muted">
              needs {item.app.cpus ?? '–'} CPUs · {item.app.mem ?? '–'} MiB{item.app.disk ? ` · ${item.app.disk} MiB disk` : ''}
              {item.app.gpus ? ` · ${item.app.gpus} GPUs` : ''} each
            </span>
            <span class="muted">
              {item.processedOffersSummary.processedOffersCount} offers considered, {item.processedOffersSummary.unusedOffersCount} unused
              {item.processedOffersSummary.lastUsedOfferAt ? `, last used ${when(item.processedOffersSummary.lastUsedOfferAt)}` : ''}
            </span>
          </div>
          <QueueReasons item={item} />
        </div>
      ))}
    </Section>
  );
}
