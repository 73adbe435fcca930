/**
 * A modal that asks before something that cannot be undone (destroy an app, stop a deployment
 * where it stands): the question, what will happen, and two buttons.
 */

import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/** The modal; shown while mounted. Escape or "Cancel" calls `onCancel`. */
export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}): JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class="mf-dialog"
      data-testid="confirm-dialog"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h3 class="mf-dialog-title">{props.title}</h3>
      <div class="mf-dialog-body">{props.children}</div>
      <div class="mf-dialog-actions">
        <button type="button" onClick={props.onCancel} data-testid="confirm-cancel">
          Cancel
        </button>
        <button type="button" class={props.danger ? 'danger-solid' : 'primary'} onClick={props.onConfirm} data-testid="confirm">
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
