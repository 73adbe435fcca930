/** The roles view: each role's weight, quota and allocation, and a form to set a role's weight. */

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, request } from '../../lib/api';
import { type Column, Notice, Section, Table } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { type ClusterState, type RoleSummary, showQuantities } from './model';

/** What the master accepts as a role name (its RoleSchema). */
const ROLE = /^(\*|[^\s.*>/][^\s*>]*)$/;

/** The form's problems, by field; empty when it may be sent. */
export function weightErrors(role: string, weight: string): { role?: string; weight?: string } {
  const errors: { role?: string; weight?: string } = {};
  const r = role.trim();
  if (!r) errors.role = 'Name the role.';
  else if (r.length > 128) errors.role = 'A role name has at most 128 characters.';
  else if (!ROLE.test(r)) errors.role = 'A role is "*", or a name without spaces, "*" or ">" that does not start with "." or "/".';
  const w = Number(weight);
  if (weight.trim() === '' || !Number.isFinite(w)) errors.weight = 'Give the weight as a number.';
  else if (w <= 0) errors.weight = 'The weight must be above 0.';
  return errors;
}

/** The roles view. */
export function RolesView(props: { state: ClusterState; tick: number }): JSX.Element {
  // The state's roles refresh every 2 s; this view asks for them too so a new weight shows at once.
  const roles = usePolled<{ roles: RoleSummary[] }>('/api/v1/roles', 2000);
  const list = [...(roles.data?.roles ?? props.state.roles)].sort((a, b) => a.role.localeCompare(b.role));
  const names = new Map(props.state.frameworks.map((f) => [f.id, f.info.name]));
  const columns: Column<RoleSummary>[] = [
    { label: 'Role', cell: (r) => <span class="mono strong" data-testid="role-name">{r.role}</span> },
    { label: 'Weight', numeric: true, cell: (r) => <span data-testid="role-weight">{r.weight}</span> },
    { label: 'Guarantee', cell: (r) => <span class="small">{showQuantities(r.quota?.guarantee) || <span class="muted">–</span>}</span> },
    { label: 'Limit', cell: (r) => <span class="small">{showQuantities(r.quota?.limit) || <span class="muted">–</span>}</span> },
    { label: 'Allocated', cell: (r) => <span class="small">{showQuantities(r.allocated) || <span class="muted">nothing</span>}</span> },
    {
      label: 'Frameworks',
      cell: (r) =>
        r.frameworkIds.length ? <span class="small">{r.frameworkIds.map((id) => names.get(id) ?? id).join(', ')}</span> : <span class="muted">–</span>,
    },
  ];
  return (
    <div data-testid="view-roles">
      <div class="roles-layout">
        <Section title={`Roles (${list.length})`} testId="roles">
          <Notice error={roles.error} />
          <Table testId="roles-table" rows={list} columns={columns} rowKey={(r) => r.role} empty="No roles yet: a role appears when a framework subscribes with it, or when it gets a weight or a quota." />
          <p class="muted small">
            Frameworks share the cluster in proportion to their role's weight (dominant resource fairness). A quota's guarantee is set aside for
            its role; its limit is never exceeded.
          </p>
        </Section>
        <WeightForm roles={list.map((r) => r.role)} onSaved={roles.reload} />
      </div>
    </div>
  );
}

/** Sets one role's weight through `POST /api/v1/weights`. */
function WeightForm(props: { roles: readonly string[]; onSaved: () => void }): JSX.Element {
  const [role, setRole] = useState('');
  const [weight, setWeight] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; message: string; field?: string } | undefined>(undefined);
  const errors = touched ? weightErrors(role, weight) : {};
  const serverField = result && !result.ok ? result.field : undefined;

  const submit = async (e: Event) => {
    e.preventDefault();
    setTouched(true);
    const problems = weightErrors(role, weight);
    if (problems.role || problems.weight) return;
    setBusy(true);
    try {
      await request('POST', '/api/v1/weights', [{ role: role.trim(), weight: Number(weight) }]);
      setResult({ ok: true, message: `The weight of role ${role.trim()} is now ${Number(weight)}.` });
      setTouched(false);
      props.onSaved();
    } catch (err) {
      const field = err instanceof ApiError ? (err.body as { error?: { field?: string } } | undefined)?.error?.field : undefined;
      setResult({ ok: false, message: err instanceof Error ? err.message : String(err), ...(field ? { field } : {}) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Set a weight" testId="weight-form">
      <form onSubmit={submit} noValidate>
        <div class={errors.role || serverField?.includes('role') ? 'field invalid' : 'field'}>
          <label for="weight-role">Role</label>
          <input
            id="weight-role"
            data-testid="weight-role"
            list="known-roles"
            value={role}
            placeholder="e.g. analytics"
            autocomplete="off"
            onInput={(e) => setRole(e.currentTarget.value)}
          />
          <datalist id="known-roles">
            {props.roles.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
          {errors.role ? <span class="field-error">{errors.role}</span> : <span class="hint">An existing role or a new one.</span>}
        </div>
        <div class={errors.weight || serverField?.includes('weight') ? 'field invalid' : 'field'}>
          <label for="weight-value">Weight</label>
          <input
            id="weight-value"
            data-testid="weight-value"
            type="number"
            min="0"
            step="any"
            value={weight}
            placeholder="1"
            onInput={(e) => setWeight(e.currentTarget.value)}
          />
          {errors.weight ? <span class="field-error">{errors.weight}</span> : <span class="hint">Above 0; every role starts at 1.</span>}
        </div>
        <button type="submit" class="primary" disabled={busy} data-testid="weight-submit">
          {busy ? 'Saving…' : 'Set weight'}
        </button>
      </form>
      {result ? (
        <div class={result.ok ? 'notice ok' : 'notice error'} role={result.ok ? 'status' : 'alert'} data-testid="weight-result">
          {result.message}
        </div>
      ) : null}
    </Section>
  );
}
