/** Cancel a running job, asked twice: its tasks are killed. */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { cancelJob } from './batch-api';

/** The cancel button of one job; `onDone` gets an error message or nothing. */
export function CancelButton(props: { jobId: string; onDone: (error?: string) => void }): JSX.Element {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  // The button sits in a clickable table row: a press must not also open the row.
  const press = (fn: () => unknown) => (e: MouseEvent) => {
    e.stopPropagation();
    void fn();
  };
  if (!asking) {
    return (
      <button type="button" class="danger" data-action="cancel" onClick={press(() => setAsking(true))}>
        Cancel
      </button>
    );
  }
  return (
    <span class="confirm-inline">
      <span class="muted small">Kill its tasks?</span>
      <button
        type="button"
        class="danger"
        data-action="confirm-cancel"
        disabled={busy}
        onClick={press(async () => {
          setBusy(true);
          try {
            await cancelJob(props.jobId);
            props.onDone();
          } catch (error) {
            props.onDone(`${props.jobId}: ${error instanceof Error ? error.message : String(error)}`);
          } finally {
            setBusy(false);
            setAsking(false);
          }
        })}
      >
        {busy ? 'Cancelling…' : 'Cancel job'}
      </button>
      <button type="button" data-action="keep" onClick={press(() => setAsking(false))}>
        Keep
      </button>
    </span>
  );
}
