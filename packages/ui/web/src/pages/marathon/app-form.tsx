/**
 * The create/edit form of an app, built from `GET /v2/schemas/app` (the JSON Schema of the
 * definition the API validates with), with a JSON view of the whole definition kept in step with
 * it. It checks what the schema says before sending; the API's 422 answer is the authority, and
 * each of its errors is shown beside its field, the rest at the top.
 */

import type { JSX } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { ApiError } from '../../lib/api';
import { Notice, Section } from '../../lib/components';
import { usePolled } from '../../lib/hooks';
import { errorOwner, formatPath, type JsonSchema, type Path, type Problem, setAt, validate } from './json-schema';
import { appPath, isLocked, type MarathonApp, marathon, type ValidationDetail, validationDetailsOf } from './marathon-api';
import { type FormContext, ObjectFields } from './schema-fields';

/** The groups of the form, by the API's field names; fields the schema lacks are left out. */
const SECTIONS: readonly { title: string; fields: readonly string[] }[] = [
  { title: 'Application', fields: ['id', 'cmd', 'args', 'user', 'instances'] },
  { title: 'Resources', fields: ['cpus', 'mem', 'disk', 'gpus'] },
  { title: 'Environment and labels', fields: ['env', 'labels'] },
  { title: 'Ports', fields: ['portDefinitions', 'requirePorts'] },
  { title: 'Health', fields: ['healthChecks'] },
  { title: 'Placement', fields: ['constraints', 'acceptedResourceRoles', 'role'] },
  { title: 'Upgrades and restarts', fields: ['upgradeStrategy', 'backoffSeconds', 'backoffFactor', 'maxLaunchDelaySeconds', 'killSelection'] },
];

/**
 * Fields the form does not draw: `version` and `versionInfo` are set when an app is stored,
 * `ports` and `uris` are the legacy forms of `portDefinitions` and `fetch`. The JSON view has them.
 */
const HIDDEN: ReadonlySet<string> = new Set(['version', 'versionInfo', 'ports', 'uris']);

/** What the page says of a field when the schema carries no description of it (units, mostly). */
const NOTES: Readonly<Record<string, string>> = {
  '/id': 'absolute path such as /shop/web',
  '/cmd': 'run with sh -c; $PORT0… hold the ports',
  '/args': 'an argv run without a shell, instead of cmd',
  '/cpus': 'CPU shares per instance',
  '/mem': 'MiB per instance',
  '/disk': 'MiB per instance',
  '/env': 'environment variables of every instance',
  '/backoffSeconds': 'delay after a failed launch',
  '/backoffFactor': 'the delay grows by this factor each failure',
  '/maxLaunchDelaySeconds': 'the delay never exceeds this',
};

/** The definition an app's `GET` answer holds: the fields the schema defines, minus those set when stored. */
export function definitionOf(app: MarathonApp, schema: JsonSchema): Record<string, unknown> {
  const known = schema.properties ?? {};
  return Object.fromEntries(Object.entries(app).filter(([k, v]) => Object.hasOwn(known, k) && k !== 'version' && k !== 'versionInfo' && v !== undefined && !known[k]?.readOnly));
}

/** The form, creating an app (`appId` absent) or editing one. */
export function AppForm(props: { appId?: string; navigate: (hash: string) => void }): JSX.Element {
  const schema = usePolled<JsonSchema>('/v2/schemas/app', 0);
  const app = usePolled<{ app: MarathonApp }>(props.appId === undefined ? null : appPath(props.appId), 0);
  const title = props.appId === undefined ? 'Create an app' : `Edit ${props.appId}`;
  const error = schema.error ?? app.error;
  if (error) {
    return (
      <Section title={title}>
        <Notice error={`Could not load ${schema.error ? 'the app schema' : `the app ${props.appId}`}: ${error}`} />
        <a href="#apps">Back to the apps</a>
      </Section>
    );
  }
  if (!schema.data || (props.appId !== undefined && !app.data)) {
    return (
      <Section title={title}>
        <p class="muted">Loading the app schema…</p>
      </Section>
    );
  }
  const initial = app.data ? definitionOf(app.data.app, schema.data) : { id: '' };
  return <AppEditor key={props.appId ?? ''} title={title} schema={schema.data} initial={initial} appId={props.appId} navigate={props.navigate} />;
}

function AppEditor(props: { title: string; schema: JsonSchema; initial: Record<string, unknown>; appId: string | undefined; navigate: (hash: string) => void }): JSX.Element {
  const { schema, appId } = props;
  const [definition, setDefinition] = useState<Record<string, unknown>>(props.initial);
  const [mode, setMode] = useState<'form' | 'json'>('form');
  const [jsonText, setJsonText] = useState('');
  const [jsonError, setJsonError] = useState<string | undefined>(undefined);
  const [attempted, setAttempted] = useState(false);
  const [serverErrors, setServerErrors] = useState<ValidationDetail[]>([]);
  const [topError, setTopError] = useState<string | undefined>(undefined);
  const [locked, setLocked] = useState(false);
  const [busy, setBusy] = useState(false);

  const clientProblems: Problem[] = useMemo(() => (attempted ? validate(schema, definition) : []), [attempted, schema, definition]);

  // Every error, by the field that shows it (undefined: the top of the form).
  const byField = useMemo(() => {
    const map = new Map<string | undefined, string[]>();
    const add = (path: string, errors: readonly string[]) => {
      const owner = errorOwner(schema, path, HIDDEN);
      const list = map.get(owner) ?? [];
      for (const e of errors) {
        const text = owner === undefined && path !== '/' ? `${path}: ${e}` : owner !== undefined && owner !== path ? `${path.slice(owner.length).replace(/^\//, '')}: ${e}` : e;
        if (!list.includes(text)) list.push(text);
      }
      map.set(owner, list);
    };
    for (const p of clientProblems) add(p.path, [p.message]);
    for (const d of serverErrors) add(d.path, d.errors);
    return map;
  }, [clientProblems, serverErrors, schema]);

  const setField = (path: Path, value: unknown) => {
    setDefinition((d) => setAt(d, path, value) as Record<string, unknown>);
    // The server's errors of a field go when the field changes; the client's are worked out again.
    const key = formatPath(path);
    setServerErrors((errs) => errs.filter((e) => !(e.path === key || e.path.startsWith(`${key}/`) || e.path.startsWith(`${key}(`))));
  };

  const ctx: FormContext = {
    root: definition,
    set: setField,
    errorsAt: (key) => byField.get(key) ?? [],
    hasErrorsUnder: (key) => [...byField.keys()].some((owner) => owner !== undefined && (owner.startsWith(`${key}/`) || owner.startsWith(`${key}(`))),
    noteFor: (key) => NOTES[key],
    readOnly: appId === undefined ? new Set() : new Set(['/id']),
  };

  const toJson = () => {
    setJsonText(JSON.stringify(definition, null, 2));
    setJsonError(undefined);
    setMode('json');
  };
  const onJson = (text: string) => {
    setJsonText(text);
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        setJsonError('the definition must be a JSON object');
        return;
      }
      setJsonError(undefined);
      setDefinition(parsed as Record<string, unknown>);
      setServerErrors([]);
    } catch (e) {
      setJsonError(`not valid JSON: ${(e as Error).message}`);
    }
  };

  const submit = async (force: boolean) => {
    if (mode === 'json' && jsonError) return;
    setAttempted(true);
    setTopError(undefined);
    setLocked(false);
    if (validate(schema, definition).length > 0) return;
    setBusy(true);
    try {
      if (appId === undefined) {
        const created = await marathon.create(definition, force);
        props.navigate(`app${created.id}`);
      } else {
        await marathon.replace(appId, definition, force);
        props.navigate(`app${appId}`);
      }
    } catch (e) {
      const details = validationDetailsOf(e);
      if (details) {
        setServerErrors(details);
        setTopError(e instanceof ApiError && e.message !== 'Object is not valid' ? e.message : undefined);
      } else {
        setTopError(e instanceof Error ? e.message : String(e));
        setLocked(isLocked(e));
      }
    } finally {
      setBusy(false);
    }
  };

  const top = byField.get(undefined) ?? [];
  const fieldErrorCount = [...byField].filter(([k]) => k !== undefined).length;
  const properties = schema.properties ?? {};
  const listed = new Set(SECTIONS.flatMap((s) => s.fields));
  const more = Object.keys(properties).filter((k) => !listed.has(k) && !HIDDEN.has(k) && !properties[k]?.readOnly);
  const moreHasErrors = more.some((k) => [...byField.keys()].some((owner) => owner !== undefined && (owner === `/${k}` || owner.startsWith(`/${k}/`) || owner.startsWith(`/${k}(`))));

  return (
    <Section
      title={props.title}
      testId="app-form"
      actions={
        <>
          <div class="mf-toggle" role="tablist">
            <button type="button" role="tab" class={mode === 'form' ? 'active' : ''} data-testid="form-view" onClick={() => !jsonError && setMode('form')} disabled={!!jsonError}>
              Form
            </button>
            <button type="button" role="tab" class={mode === 'json' ? 'active' : ''} data-testid="json-view" onClick={toJson}>
              JSON
            </button>
          </div>
          <button type="button" class="primary" data-testid="submit-app-top" disabled={busy || (mode === 'json' && !!jsonError)} onClick={() => void submit(false)}>
            {appId === undefined ? 'Create app' : 'Save and deploy'}
          </button>
        </>
      }
    >
      {topError || top.length > 0 || fieldErrorCount > 0 ? (
        <div class="notice error mf-top-errors" role="alert" data-testid="form-errors">
          {topError ? <div>{topError}</div> : null}
          {fieldErrorCount > 0 ? <div>{`${fieldErrorCount} field${fieldErrorCount === 1 ? ' needs' : 's need'} fixing: see beside ${fieldErrorCount === 1 ? 'it' : 'them'}${mode === 'json' ? ' in the form view' : ''}.`}</div> : null}
          {top.map((e) => (
            <div key={e}>{e}</div>
          ))}
          {locked ? (
            <button type="button" class="danger" data-testid="force-submit" onClick={() => void submit(true)}>
              Override the running deployment (force)
            </button>
          ) : null}
        </div>
      ) : null}
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit(false);
        }}
      >
        {mode === 'form' ? (
          <div class="mf-form">
            {SECTIONS.map((section) => {
              const fields = section.fields.filter((f) => Object.hasOwn(properties, f) && !HIDDEN.has(f));
              if (fields.length === 0) return null;
              return (
                <div class="mf-section" key={section.title}>
                  <h3>{section.title}</h3>
                  <ObjectFields schema={schema} path={[]} ctx={ctx} only={fields} />
                </div>
              );
            })}
            {more.length > 0 ? (
              <details class="mf-section" open={moreHasErrors || undefined}>
                <summary>
                  <h3>More fields</h3>
                  <span class="muted"> {more.join(', ')}</span>
                </summary>
                <ObjectFields schema={schema} path={[]} ctx={ctx} only={more} />
              </details>
            ) : null}
          </div>
        ) : (
          <div class="field mf-json">
            <label for="mf-json">The whole definition, as the API takes it</label>
            <textarea id="mf-json" data-testid="json-text" rows={28} spellcheck={false} value={jsonText} onInput={(e) => onJson(e.currentTarget.value)} />
            {jsonError ? <div class="field-error">{jsonError}</div> : <div class="hint">Edits here show in the form view, and the form's in here.</div>}
          </div>
        )}
        <div class="mf-submit-bar">
          <button type="submit" class="primary" data-testid="submit-app" disabled={busy || (mode === 'json' && !!jsonError)}>
            {busy ? 'Sending…' : appId === undefined ? 'Create app' : 'Save and deploy'}
          </button>
          <a class="button" href={appId === undefined ? '#apps' : `#app${appId}`}>
            Cancel
          </a>
          <span class="muted">{appId === undefined ? 'POST /v2/apps' : `PUT ${appPath(appId)}`}</span>
        </div>
      </form>
    </Section>
  );
}
