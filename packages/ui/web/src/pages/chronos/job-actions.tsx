/**
 * The buttons of a job: run now, enable/disable, kill the active runs, delete (asked twice; a job
 * with children is deleted only when the user says its children may take over its parents).
 */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { type ChronosJob, deleteJob, hasChildren, killRuns, runNow, setDisabled } from './chronos-api';

/** What happened, for the view's notice line. */
export interface ActionOutcome {
  error?: string;
  message?: string;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The action buttons of one job. `compact` leaves out the rarer ones (for table rows). */
export function JobActions(props: {
  job: ChronosJob;
  active: boolean;
  compact?: boolean;
  onDone: (outcome: ActionOutcome) => void;
  onDeleted?: () => void;
}): JSX.Element {
  const { job } = props;
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [confirm, setConfirm] = useState<'delete' | 'force' | undefined>(undefined);

  const act = async (what: string, fn: () => Promise<string | undefined>) => {
    setBusy(what);
    try {
      const message = await fn();
      props.onDone(message ? { message } : {});
    } catch (error) {
      if (what === 'delete' && hasChildren(error)) {
        setConfirm('force');
        props.onDone({ error: messageOf(error) });
      } else {
        props.onDone({ error: `${job.name}: ${messageOf(error)}` });
      }
    } finally {
      setBusy(undefined);
    }
  };

  // The buttons sit in clickable table rows: a press must not also open the row.
  const press = (fn: () => unknown) => (e: MouseEvent) => {
    e.stopPropagation();
    void fn();
  };

  if (confirm !== undefined) {
    return (
      <span class="job-actions confirm" data-testid="confirm-delete">
        <span class="muted">{confirm === 'force' ? 'Its children take its parents. Delete anyway?' : `Delete ${job.name}?`}</span>
        <button
          type="button"
          class="danger"
          data-action="confirm-delete"
          disabled={busy !== undefined}
          onClick={press(() =>
            act('delete', async () => {
              await deleteJob(job.name, confirm === 'force');
              setConfirm(undefined);
              props.onDeleted?.();
              return `Deleted ${job.name}.`;
            }),
          )}
        >
          Delete
        </button>
        <button type="button" data-action="cancel-delete" onClick={press(() => setConfirm(undefined))}>
          Keep
        </button>
      </span>
    );
  }

  return (
    <span class="job-actions">
      <button
        type="button"
        class="primary"
        data-action="run-now"
        disabled={busy !== undefined}
        title="Start a run now, whatever the schedule"
        onClick={press(() =>
          act('run', async () => {
            const run = await runNow(job.name);
            return `Started run ${run} of ${job.name}.`;
          }),
        )}
      >
        {busy === 'run' ? 'Starting…' : 'Run now'}
      </button>
      <button
        type="button"
        data-action={job.disabled ? 'enable' : 'disable'}
        disabled={busy !== undefined}
        title={job.disabled ? 'Schedule the job again' : 'Stop scheduling the job (runs under way go on)'}
        onClick={press(() =>
          act('toggle', async () => {
            await setDisabled(job, !job.disabled);
            return `${job.name} ${job.disabled ? 'enabled' : 'disabled'}.`;
          }),
        )}
      >
        {job.disabled ? 'Enable' : 'Disable'}
      </button>
      {!props.compact || props.active ? (
        <button
          type="button"
          data-action="kill"
          disabled={busy !== undefined || !props.active}
          title="Kill the runs under way"
          onClick={press(() =>
            act('kill', async () => {
              const n = await killRuns(job.name);
              return `Killed ${n} run${n === 1 ? '' : 's'} of ${job.name}.`;
            }),
          )}
        >
          Kill
        </button>
      ) : null}
      <button type="button" class="danger" data-action="delete" disabled={busy !== undefined} onClick={press(() => setConfirm('delete'))}>
        Delete
      </button>
    </span>
  );
}
