/**
 * Submits a job spec, YAML or JSON, as `stoa batch submit` does. The API's 422 names every bad
 * field with its path (and line); they are listed under the spec.
 */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Notice, Section } from '../../lib/components';
import { type SpecIssue, specIssuesOf, submitSpec } from './batch-api';

const EXAMPLE = `# Three tasks that each print a line, then one that runs after them all.
name: hello
stages:
  - name: say
    count: 3
    task:
      command: echo "hello from task $STOA_TASK_INDEX"
      resources: { cpus: 0.1, mem: 32 }
      retries: 1
  - name: done
    dependsOn: [say]
    task:
      command: echo "all said"
      resources: { cpus: 0.1, mem: 32 }
`;

/** The submit form; `onSubmitted` is told the new job's id. */
export function SubmitForm(props: { onSubmitted: (jobId: string) => void }): JSX.Element {
  const [text, setText] = useState(EXAMPLE);
  const [baseDir, setBaseDir] = useState('');
  const [issues, setIssues] = useState<SpecIssue[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setIssues([]);
    setError(undefined);
    if (text.trim() === '') {
      setIssues([{ path: '', message: 'the spec is empty' }]);
      return;
    }
    setBusy(true);
    try {
      const job = await submitSpec(text, baseDir.trim() || undefined);
      props.onSubmitted(job.jobId);
    } catch (err) {
      const found = specIssuesOf(err);
      if (found.length > 0) setIssues(found);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Submit a job" testId="submit-form">
      <form onSubmit={submit} noValidate>
        <Notice error={error} />
        <div class={issues.length > 0 ? 'field invalid' : 'field'}>
          <label for="spec">Job spec (YAML or JSON)</label>
          <textarea id="spec" name="spec" rows={18} value={text} spellcheck={false} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          {issues.map((i) => (
            <span key={`${i.path}:${i.message}`} class="field-error" data-testid="spec-issue" data-path={i.path}>
              <span class="mono">{i.path || '(spec)'}</span>: {i.message}
              {i.line !== undefined ? ` (line ${i.line})` : ''}
            </span>
          ))}
          <span class="hint">
            Stages run in the order their <span class="mono">dependsOn</span> allows; <span class="mono">count</span> makes an array of tasks.
          </span>
        </div>
        <div class="field">
          <label for="baseDir">Base directory</label>
          <input id="baseDir" name="baseDir" value={baseDir} placeholder="the framework's working directory" onInput={(e) => setBaseDir((e.target as HTMLInputElement).value)} />
          <span class="hint">Where a task's relative module path is resolved (an absolute path on the agents).</span>
        </div>
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy} data-testid="submit-job">
            {busy ? 'Submitting…' : 'Submit'}
          </button>
          <a href="#jobs">Cancel</a>
        </div>
      </form>
    </Section>
  );
}
