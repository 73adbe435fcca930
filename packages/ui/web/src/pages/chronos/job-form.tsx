/**
 * The form that creates a job: a scheduled one is POSTed to `/v1/scheduler/iso8601`, a dependent
 * one to `/v1/scheduler/dependency`. What can be checked here is checked before sending; what the
 * API refuses (422) is shown beside the field it names.
 */

import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { request } from '../../lib/api';
import { Notice, Section } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { API, fieldErrorsOf, type JobSummary } from './chronos-api';

/** The fields the form shows; errors for other fields go to the form's notice. */
const FIELDS = ['name', 'description', 'command', 'schedule', 'scheduleTimeZone', 'parents', 'cpus', 'mem', 'retries'] as const;
type FieldName = (typeof FIELDS)[number];
type Errors = Partial<Record<FieldName | '', string[]>>;

interface FormState {
  name: string;
  description: string;
  command: string;
  kind: 'scheduled' | 'dependent';
  schedule: string;
  scheduleTimeZone: string;
  parents: string[];
  cpus: string;
  mem: string;
  retries: string;
}

const EMPTY: FormState = {
  name: '',
  description: '',
  command: '',
  kind: 'scheduled',
  schedule: '',
  scheduleTimeZone: '',
  parents: [],
  cpus: '0.1',
  mem: '128',
  retries: '2',
};

/** The next whole minute, in ISO 8601 without milliseconds. */
function nextMinute(offsetMinutes = 1): string {
  const d = new Date(Date.now() + offsetMinutes * 60_000);
  d.setUTCSeconds(0, 0);
  return d.toISOString().replace('.000Z', 'Z');
}

const PRESETS: readonly { label: string; value: () => string }[] = [
  { label: 'every hour from now', value: () => `R/${nextMinute()}/PT1H` },
  { label: 'once, in a minute', value: () => `R1/${nextMinute()}/PT1M` },
  { label: 'every 5 minutes (cron)', value: () => '*/5 * * * *' },
  { label: 'daily at 02:00 (cron)', value: () => '0 2 * * *' },
];

function Field(props: { name: FieldName; label: string; errors: Errors; hint?: ComponentChildren; children: ComponentChildren }): JSX.Element {
  const errors = props.errors[props.name];
  return (
    <div class={errors ? 'field invalid' : 'field'} data-field={props.name}>
      <label for={`job-${props.name}`}>{props.label}</label>
      {props.children}
      {props.hint ? <span class="hint">{props.hint}</span> : null}
      {errors?.map((e) => (
        <span key={e} class="field-error" data-testid={`error-${props.name}`}>
          {e}
        </span>
      ))}
    </div>
  );
}

/** Checks what needs no server; returns errors per field. */
function check(form: FormState): Errors {
  const errors: Errors = {};
  if (form.name.trim() === '') errors.name = ['is required'];
  else if (!/^[\w\s.#-]+$/.test(form.name)) errors.name = ['may contain only letters, digits, _, -, #, . and whitespace'];
  if (form.command.trim() === '') errors.command = ['is required'];
  if (form.kind === 'scheduled' && form.schedule.trim() === '') errors.schedule = ['is required for a scheduled job: an ISO 8601 interval such as R/2030-01-01T00:00:00Z/PT1H, or cron'];
  if (form.kind === 'dependent' && form.parents.length === 0) errors.parents = ['pick at least one job this one runs after'];
  const positive = (field: 'cpus' | 'mem', v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) errors[field] = ['must be a number greater than 0'];
  };
  positive('cpus', form.cpus);
  positive('mem', form.mem);
  const r = Number(form.retries);
  if (form.retries.trim() === '' || !Number.isInteger(r) || r < 0) errors.retries = ['must be a whole number ≥ 0'];
  return errors;
}

/** The body the API takes. */
function bodyOf(form: FormState): Record<string, unknown> {
  return {
    name: form.name.trim(),
    command: form.command,
    ...(form.description.trim() ? { description: form.description.trim() } : {}),
    ...(form.kind === 'scheduled'
      ? { schedule: form.schedule.trim(), ...(form.scheduleTimeZone.trim() ? { scheduleTimeZone: form.scheduleTimeZone.trim() } : {}) }
      : { parents: form.parents }),
    cpus: Number(form.cpus),
    mem: Number(form.mem),
    retries: Number(form.retries),
  };
}

/** The new-job form; `onCreated` is told the new job's name. */
export function JobForm(props: { onCreated: (name: string) => void }): JSX.Element {
  const [form, setForm] = useState<FormState>(EMPTY);
  const [errors, setErrors] = useState<Errors>({});
  const [general, setGeneral] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [parentFilter, setParentFilter] = useState('');
  const summary = usePolled<{ jobs: JobSummary[] }>(`${API}/jobs/summary`, 5000);
  const names = (summary.data?.jobs ?? []).map((j) => j.name).sort((a, b) => a.localeCompare(b));

  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    if (errors[key as FieldName]) setErrors((e) => ({ ...e, [key]: undefined }));
  };
  const text = (key: 'name' | 'description' | 'command' | 'schedule' | 'scheduleTimeZone' | 'cpus' | 'mem' | 'retries') => ({
    id: `job-${key}`,
    name: key,
    value: form[key],
    onInput: (e: Event) => set(key, (e.target as HTMLInputElement).value),
  });

  const submit = async (e: Event) => {
    e.preventDefault();
    setGeneral(undefined);
    const local = check(form);
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    setBusy(true);
    try {
      await request('POST', `${API}/${form.kind === 'scheduled' ? 'iso8601' : 'dependency'}`, bodyOf(form));
      setForm(EMPTY);
      props.onCreated(form.name.trim());
    } catch (error) {
      const byField = fieldErrorsOf(error);
      const shown: Errors = {};
      const rest: string[] = [];
      for (const [field, messages] of Object.entries(byField)) {
        if ((FIELDS as readonly string[]).includes(field)) shown[field as FieldName] = messages;
        else rest.push(...messages.map((m) => (field ? `${field}: ${m}` : m)));
      }
      setErrors(shown);
      if (Object.keys(byField).length === 0) setGeneral(error instanceof Error ? error.message : String(error));
      else if (rest.length > 0) setGeneral(rest.join('; '));
    } finally {
      setBusy(false);
    }
  };

  const shownParents = names.filter((n) => n.toLowerCase().includes(parentFilter.trim().toLowerCase()));

  return (
    <Section title="New job" testId="job-form">
      <form class="job-form" onSubmit={submit} noValidate>
        <Notice error={general} />
        <div class="form-grid">
          <div>
            <Field name="name" label="Name" errors={errors} hint="Letters, digits, _, -, #, . and spaces; a job with this name is replaced.">
              <input {...text('name')} autoComplete="off" placeholder="nightly-backup" />
            </Field>
            <Field name="command" label="Command" errors={errors} hint="Run with /bin/sh -c on an agent; exit code 0 is a success.">
              <textarea {...text('command')} rows={3} placeholder="pg_dump app > /backups/app.sql" />
            </Field>
            <Field name="description" label="Description" errors={errors}>
              <input {...text('description')} placeholder="optional" />
            </Field>
            <div class="field-row">
              <Field name="cpus" label="CPUs" errors={errors}>
                <input {...text('cpus')} inputMode="decimal" />
              </Field>
              <Field name="mem" label="Memory (MB)" errors={errors}>
                <input {...text('mem')} inputMode="numeric" />
              </Field>
              <Field name="retries" label="Retries" errors={errors} hint="after a failed attempt">
                <input {...text('retries')} inputMode="numeric" />
              </Field>
            </div>
          </div>
          <div>
            <fieldset class="kind">
              <legend>When it runs</legend>
              <label>
                <input type="radio" name="kind" value="scheduled" checked={form.kind === 'scheduled'} onChange={() => set('kind', 'scheduled')} /> On a
                schedule
              </label>
              <label>
                <input type="radio" name="kind" value="dependent" checked={form.kind === 'dependent'} onChange={() => set('kind', 'dependent')} /> After
                other jobs succeed
              </label>
            </fieldset>
            {form.kind === 'scheduled' ? (
              <>
                <Field
                  name="schedule"
                  label="Schedule"
                  errors={errors}
                  hint={
                    <>
                      ISO 8601 <span class="mono">R[n]/start/period</span> or cron. Fill in:{' '}
                      {PRESETS.map((p, i) => (
                        <span key={p.label}>
                          {i > 0 ? ' · ' : ''}
                          <button type="button" class="link-button" onClick={() => set('schedule', p.value())}>
                            {p.label}
                          </button>
                        </span>
                      ))}
                    </>
                  }
                >
                  <input {...text('schedule')} class="mono" placeholder="R/2030-01-01T02:00:00Z/P1D" autoComplete="off" />
                </Field>
                <Field name="scheduleTimeZone" label="Time zone" errors={errors} hint="IANA name, e.g. Europe/Berlin; UTC when empty.">
                  <input {...text('scheduleTimeZone')} placeholder="UTC" />
                </Field>
              </>
            ) : (
              <Field name="parents" label="Runs after" errors={errors} hint="It runs when every job picked here has succeeded since its last run.">
                <input
                  id="job-parents"
                  type="search"
                  placeholder="Filter jobs"
                  value={parentFilter}
                  onInput={(e) => setParentFilter((e.target as HTMLInputElement).value)}
                />
                <div class="parent-list" data-testid="parent-list">
                  {names.length === 0 ? (
                    <span class="muted">There are no jobs yet to depend on.</span>
                  ) : (
                    shownParents.map((n) => (
                      <label key={n}>
                        <input
                          type="checkbox"
                          value={n}
                          checked={form.parents.includes(n)}
                          onChange={(e) =>
                            set('parents', (e.target as HTMLInputElement).checked ? [...form.parents, n] : form.parents.filter((p) => p !== n))
                          }
                        />{' '}
                        {n}
                      </label>
                    ))
                  )}
                </div>
              </Field>
            )}
          </div>
        </div>
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy} data-testid="create-job">
            {busy ? 'Creating…' : 'Create job'}
          </button>
          <a href="#jobs">Cancel</a>
        </div>
      </form>
    </Section>
  );
}
