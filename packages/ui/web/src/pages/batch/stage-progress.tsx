/** A stage's progress as one bar: done, running, failed, cancelled and pending tasks as segments of its total. */

import type { JSX } from 'preact';
import type { StageProgress } from './batch-api';

const SEGMENTS = ['done', 'running', 'failed', 'cancelled'] as const;

/** The bar of one stage, with its name and figures. */
export function StageBar(props: { stage: StageProgress; compact?: boolean; hideName?: boolean }): JSX.Element {
  const s = props.stage;
  const total = Math.max(1, s.total);
  const title = [
    `${s.stage}: ${s.state}`,
    `${s.done} done, ${s.running} running, ${s.failed} failed, ${s.pending} pending${s.cancelled ? `, ${s.cancelled} cancelled` : ''} of ${s.total}`,
    s.failedAttempts > 0 ? `${s.failedAttempts} attempts failed or were lost` : '',
  ]
    .filter(Boolean)
    .join('\n');
  return (
    <div
      class={`stage-progress${props.compact ? ' compact' : ''}${props.hideName ? ' no-name' : ''} state-${s.state.toLowerCase()}`}
      title={title}
      data-testid="stage-progress"
      data-stage={s.stage}
      data-state={s.state}
      data-done={s.done}
      data-running={s.running}
      data-failed={s.failed}
      data-total={s.total}
    >
      {props.hideName ? null : <span class="stage-name">{s.stage}</span>}
      <div class="segments">
        {SEGMENTS.map((k) => (s[k] > 0 ? <div key={k} class={`segment ${k}`} style={{ width: `${((s[k] / total) * 100).toFixed(2)}%` }} /> : null))}
        <span class="stage-figures">
          {s.done}/{s.total}
          {s.running > 0 ? ` · ${s.running} running` : ''}
          {s.failed > 0 ? ` · ${s.failed} failed` : ''}
          {s.cancelled > 0 ? ` · ${s.cancelled} cancelled` : ''}
          {s.state === 'WAITING' ? ' · waiting' : ''}
        </span>
      </div>
    </div>
  );
}

/** Every stage of a job, one bar each. */
export function StageBars(props: { stages: readonly StageProgress[]; compact?: boolean }): JSX.Element {
  return (
    <div class="stage-bars">
      {props.stages.map((s) => (
        <StageBar key={s.stage} stage={s} compact={props.compact} />
      ))}
    </div>
  );
}
