/**
 * Marathon's page in a real browser over a real dev cluster: an app created through the form
 * built from the API's schema becomes healthy in the apps view; invalid values are shown beside
 * their fields and create nothing; the app scales from the page, rolls back to an older version,
 * and is destroyed; the launch queue says why an app that fits nowhere waits, and its deployment
 * is rolled back from the deployments view.
 */

import { waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUiCluster, type UiCluster } from './fixture.js';

/** A tiny HTTP server on the task's first port. */
const SERVER_CMD = `node -e "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT0)"`;
const APP_ID = '/ui-web';
const HEALTHY_MS = 120_000;

let ui: UiCluster;
let base: string;

interface AppStatus {
  id: string;
  instances: number;
  tasksRunning: number;
  tasksHealthy: number;
  version: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  healthChecks: { protocol: string; portIndex?: number; path?: string }[];
}

async function api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Waits until no deployment acts on `appId` any more. */
async function waitForNoDeployment(appId: string): Promise<void> {
  await waitFor(async () => (await api<{ affectedApps: string[] }[]>('/v2/deployments')).body.every((d) => !d.affectedApps.includes(appId)), {
    timeoutMs: HEALTHY_MS,
    intervalMs: 250,
    what: `the deployments of ${appId} to finish`,
  });
}

const appIds = async () => (await api<{ apps: { id: string }[] }>('/v2/apps')).body.apps.map((a) => a.id);

beforeAll(async () => {
  ui = await startUiCluster();
  base = ui.url('marathon');
}, 120_000);

afterAll(async () => {
  await ui?.stop();
});

/** The page's own errors; failed requests the page expects (a 422 it shows, a 404 after a destroy) are the browser's log, not errors. */
const pageFaults = () => ui.browser.pageErrors.filter((e) => !e.includes('Failed to load resource'));

// Launches and health checks take their time on a loaded machine: the tests wait on conditions, bounded by this.
describe('the marathon page', { timeout: 240_000 }, () => {
  it('shows the empty apps view, connected to the event stream', async () => {
    const { page } = ui.browser;
    await page.goto(`${base}/#apps`);
    await page.getByTestId('apps-table').waitFor();
    await expect.poll(() => page.getByTestId('live').textContent(), { timeout: 20_000 }).toContain('live');
    expect(await page.getByTestId('apps-table').textContent()).toContain('No apps yet');
    await ui.browser.screenshot('marathon-apps-empty');
  });

  it('shows errors beside their fields, from the schema and from the API, and creates nothing', async () => {
    const { page } = ui.browser;
    await page.goto(`${base}/#apps`);
    await page.getByTestId('create-app').click();
    const form = page.getByTestId('app-form');
    await form.locator('[data-field="/id"] input').fill('/Bad_App');
    await form.locator('[data-field="/cmd"] textarea').fill('sleep 1000');
    await form.locator('[data-field="/cpus"] input').fill('-1');
    await page.getByTestId('submit-app').click();

    // The schema's minimum for cpus is checked in the page, before anything is sent.
    const cpusError = form.locator('[data-field="/cpus"] [data-testid="field-error"]');
    await cpusError.waitFor();
    const schema = (await api<{ properties: { cpus: { minimum: number } } }>('/v2/schemas/app')).body;
    expect(await cpusError.textContent()).toContain(`at least ${schema.properties.cpus.minimum}`);
    expect(await form.locator('[data-field="/id"] [data-testid="field-error"]').count()).toBe(0);
    await ui.browser.screenshot('marathon-form-client-error');

    // With cpus fixed, the API refuses the id, a health check's port index and a constraint: each
    // error shows beside its field, nested ones too, worded as the API words them.
    await form.locator('[data-field="/cpus"] input').fill('0.1');
    await expect.poll(() => cpusError.count()).toBe(0);
    await page.getByTestId('add-healthChecks').click();
    await form.locator('[data-field="/healthChecks(0)/portIndex"] input').fill('5');
    await form.locator('[data-field="/constraints"] button.mf-add').click();
    const constraint = form.locator('[data-field="/constraints"] .mf-row input');
    await constraint.nth(0).fill('hostname');
    await constraint.nth(1).fill('NEARBY');
    await page.getByTestId('submit-app').click();
    const errorBeside = (field: string) => form.locator(`[data-field="${field}"] > [data-testid="field-error"]`);
    await errorBeside('/id').waitFor();
    const direct = await api<{ details: { path: string; errors: string[] }[] }>('/v2/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: '/Bad_App', cmd: 'sleep 1000', cpus: 0.1, healthChecks: [{ portIndex: 5 }], constraints: [['hostname', 'NEARBY']] }),
    });
    expect(direct.status).toBe(422);
    const errorsAt = (path: string) => direct.body.details.find((d) => d.path === path)?.errors ?? [];
    for (const path of ['/id', '/healthChecks(0)/portIndex', '/constraints(0)']) expect(errorsAt(path).length, path).toBeGreaterThan(0);
    expect((await errorBeside('/id').textContent())?.trim()).toBe(errorsAt('/id').join(''));
    expect((await errorBeside('/healthChecks(0)/portIndex').textContent())?.trim()).toBe(errorsAt('/healthChecks(0)/portIndex').join(''));
    // A constraint is a row of the constraints editor: its error is shown there, naming the row.
    expect(await errorBeside('/constraints').textContent()).toContain(`(0): ${errorsAt('/constraints(0)')[0]}`);
    await ui.browser.screenshot('marathon-form-server-error');

    expect(await appIds()).toEqual([]);
  });

  it('creates an app through the form, keeps the JSON view in step, and sees it healthy', async () => {
    const { page } = ui.browser;
    // A fresh form: the previous test left its draft open at #new.
    await page.goto(`${base}/#apps`);
    await page.getByTestId('create-app').click();
    const form = page.getByTestId('app-form');
    expect(await form.locator('[data-field="/id"] input').inputValue()).toBe('');
    await form.locator('[data-field="/id"] input').fill(APP_ID);
    await form.locator('[data-field="/cmd"] textarea').fill(SERVER_CMD);
    await form.locator('[data-field="/instances"] input').fill('1');
    await form.locator('[data-field="/cpus"] input').fill('0.1');
    await form.locator('[data-field="/mem"] input').fill('64');
    await form.locator('[data-field="/labels"] button.mf-add').click();
    await form.locator('[data-field="/labels"] input.mf-key').fill('team');
    await form.locator('[data-field="/labels"] input.mf-value').fill('web');
    await page.getByTestId('add-portDefinitions').click();
    await form.locator('[data-field="/portDefinitions(0)/name"] input').fill('http');
    await page.getByTestId('add-healthChecks').click();
    await form.locator('[data-field="/healthChecks(0)/protocol"] select').selectOption('HTTP');
    await form.locator('[data-field="/healthChecks(0)/portIndex"] input').fill('0');
    await form.locator('[data-field="/healthChecks(0)/path"] input').fill('/');
    await form.locator('[data-field="/healthChecks(0)/gracePeriodSeconds"] input').fill('30');
    await form.locator('[data-field="/healthChecks(0)/intervalSeconds"] input').fill('2');
    await form.locator('[data-field="/healthChecks(0)/timeoutSeconds"] input').fill('2');
    await form.locator('[data-field="/healthChecks(0)/delaySeconds"] input').fill('0');
    await ui.browser.screenshot('marathon-form-filled');

    // The JSON view holds what the form holds; an edit there shows in the form.
    await page.getByTestId('json-view').click();
    const json = page.getByTestId('json-text');
    const shown = JSON.parse(await json.inputValue()) as Record<string, unknown>;
    expect(shown).toMatchObject({
      id: APP_ID,
      cmd: SERVER_CMD,
      instances: 1,
      cpus: 0.1,
      mem: 64,
      labels: { team: 'web' },
      portDefinitions: [{ name: 'http' }],
      healthChecks: [{ protocol: 'HTTP', portIndex: 0, path: '/', gracePeriodSeconds: 30, intervalSeconds: 2, timeoutSeconds: 2, delaySeconds: 0 }],
    });
    await json.fill(JSON.stringify({ ...shown, env: { GREETING: 'hello' } }, null, 2));
    await ui.browser.screenshot('marathon-form-json');
    await page.getByTestId('form-view').click();
    expect(await form.locator('[data-field="/env"] input.mf-key').inputValue()).toBe('GREETING');
    expect(await form.locator('[data-field="/env"] input.mf-value').inputValue()).toBe('hello');

    await page.getByTestId('submit-app').click();
    await page.getByTestId('app-detail').waitFor();
    expect(page.url()).toContain(`#app${APP_ID}`);

    await page.locator('a.tab[data-tab="apps"]').click();
    const row = page.locator(`[data-testid="apps-table"] tr[data-key="${APP_ID}"]`);
    const instances = row.getByTestId('instances');
    await expect.poll(() => instances.getAttribute('data-healthy'), { timeout: HEALTHY_MS }).toBe('1');
    expect(await row.getByTestId('health').textContent()).toBe('healthy');
    const stored = (await api<{ app: AppStatus }>(`/v2/apps${APP_ID}`)).body.app;
    expect(stored).toMatchObject({ instances: 1, tasksHealthy: 1, labels: { team: 'web' }, env: { GREETING: 'hello' } });
    await waitForNoDeployment(APP_ID);
    await ui.browser.screenshot('marathon-apps-healthy');
  });

  it('scales the app from its page, 1 → 3, and sees 3 healthy instances', async () => {
    const { page } = ui.browser;
    await page.goto(`${base}/#apps`);
    await page.locator(`tr[data-key="${APP_ID}"] [data-testid="app-link"]`).click();
    const detail = page.getByTestId('app-detail');
    await detail.waitFor();
    await page.getByTestId('scale-input').fill('3');
    await page.getByTestId('scale').click();
    const bar = detail.getByTestId('app-actions').getByTestId('instances');
    await expect.poll(() => bar.getAttribute('data-desired'), { timeout: 20_000 }).toBe('3');
    await expect.poll(() => bar.getAttribute('data-healthy'), { timeout: HEALTHY_MS }).toBe('3');
    await expect.poll(() => page.locator('[data-testid="tasks-table"] tbody tr[data-key]').count(), { timeout: 20_000 }).toBe(3);
    const stored = (await api<{ app: AppStatus }>(`/v2/apps${APP_ID}`)).body.app;
    expect(stored).toMatchObject({ instances: 3, tasksRunning: 3, tasksHealthy: 3 });
    await waitForNoDeployment(APP_ID);
    await ui.browser.screenshot('marathon-app-scaled');

    await page.locator('a.tab[data-tab="apps"]').click();
    await expect.poll(() => page.locator(`tr[data-key="${APP_ID}"] [data-testid="instances"]`).getAttribute('data-healthy'), { timeout: 20_000 }).toBe('3');
    await ui.browser.screenshot('marathon-apps-scaled');
  });

  it('edits the app through the same form, loaded from the API, and deploys the change', async () => {
    const { page } = ui.browser;
    await page.goto(`${base}/#app${APP_ID}`);
    await page.getByTestId('edit').click();
    const form = page.getByTestId('app-form');
    const id = form.locator('[data-field="/id"] input');
    await id.waitFor();
    expect(await id.inputValue()).toBe(APP_ID);
    expect(await id.getAttribute('readonly')).not.toBeNull();
    expect(await form.locator('[data-field="/instances"] input').inputValue()).toBe('3');
    const label = form.locator('[data-field="/labels"] input.mf-value');
    expect(await label.inputValue()).toBe('web');
    await label.fill('platform');

    // The definition sent is the form's, without what the API sets itself or reports as status.
    await page.getByTestId('json-view').click();
    const json = JSON.parse(await page.getByTestId('json-text').inputValue()) as Record<string, unknown>;
    expect(json).toMatchObject({ id: APP_ID, instances: 3, labels: { team: 'platform' } });
    for (const key of ['version', 'versionInfo', 'tasksRunning', 'deployments', 'tasks']) expect(json).not.toHaveProperty(key);
    await page.getByTestId('form-view').click();
    await ui.browser.screenshot('marathon-form-edit');
    await page.getByTestId('submit-app').click();
    await page.getByTestId('app-detail').waitFor();

    await waitFor(async () => (await api<{ app: AppStatus }>(`/v2/apps${APP_ID}`)).body.app.labels.team === 'platform', {
      timeoutMs: 20_000,
      intervalMs: 250,
      what: 'the edited label to be stored',
    });
    await waitForNoDeployment(APP_ID);
    const bar = page.getByTestId('app-actions').getByTestId('instances');
    await expect.poll(() => bar.getAttribute('data-healthy'), { timeout: HEALTHY_MS }).toBe('3');
    expect(await page.getByTestId('app-overview').textContent()).toContain('team=platform');
  });

  it('restarts the app: every task is replaced and healthy again', async () => {
    const { page } = ui.browser;
    await page.goto(`${base}/#app${APP_ID}`);
    const rows = page.locator('[data-testid="tasks-table"] tbody tr[data-key]');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(3);
    const before = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')));
    await page.getByTestId('restart').click();
    await page.getByText(/^Restart: deployment \S+ started\.$/).waitFor();
    const tasks = async () => (await api<{ tasks: { id: string; healthCheckResults?: { alive: boolean }[] }[] }>(`/v2/apps${APP_ID}/tasks`)).body.tasks;
    await waitFor(async () => {
      const now = await tasks();
      return now.length === 3 && now.every((t) => !before.includes(t.id) && t.healthCheckResults?.[0]?.alive === true);
    }, { timeoutMs: HEALTHY_MS, intervalMs: 250, what: `3 new healthy tasks of ${APP_ID}` });
    const after = (await tasks()).map((t) => t.id).sort();
    await expect.poll(async () => (await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')))).sort(), { timeout: 20_000 }).toEqual(after);
    await expect.poll(() => page.getByTestId('app-actions').getByTestId('instances').getAttribute('data-healthy'), { timeout: 20_000 }).toBe('3');
    await waitForNoDeployment(APP_ID);
  });

  it('rolls the app back to its first version from the versions list', async () => {
    const { page } = ui.browser;
    await page.goto(`${base}/#app${APP_ID}`);
    const versions = (await api<{ versions: string[] }>(`/v2/apps${APP_ID}/versions`)).body.versions;
    expect(versions.length).toBeGreaterThanOrEqual(2);
    const first = versions[versions.length - 1] as string;
    const firstDefinition = (await api<AppStatus>(`/v2/apps${APP_ID}/versions/${encodeURIComponent(first)}`)).body;
    expect(firstDefinition.instances).toBe(1);

    await page.locator(`[data-testid="version-list"] button[data-version="${first}"]`).click();
    const diff = page.getByTestId('version-diff');
    await diff.waitFor();
    expect(await diff.textContent()).toContain('instances');
    await ui.browser.screenshot('marathon-app-versions');
    await page.getByTestId('rollback').click();

    const bar = page.getByTestId('app-actions').getByTestId('instances');
    await expect.poll(() => bar.getAttribute('data-desired'), { timeout: 20_000 }).toBe('1');
    await expect.poll(() => bar.getAttribute('data-running'), { timeout: HEALTHY_MS }).toBe('1');
    await expect.poll(() => bar.getAttribute('data-healthy'), { timeout: HEALTHY_MS }).toBe('1');
    await waitForNoDeployment(APP_ID);
    const stored = (await api<{ app: AppStatus }>(`/v2/apps${APP_ID}`)).body.app;
    expect(stored).toMatchObject({ instances: 1, labels: { team: 'web' }, tasksHealthy: 1 });
  });

  it('says in the launch queue why an app waits, and rolls its deployment back', async () => {
    const { page } = ui.browser;
    const created = await api('/v2/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: '/ui-too-big', cmd: 'sleep 1000', cpus: 10_000, mem: 32 }),
    });
    expect(created.status).toBe(201);

    await page.goto(`${base}/#queue`);
    const item = page.locator('[data-testid="queue-item"][data-key="/ui-too-big"]');
    await item.locator('[data-reason="InsufficientCpus"]').waitFor({ timeout: 60_000 });
    const queue = (await api<{ queue: { app: { id: string }; processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number }[] } }[] }>('/v2/queue')).body.queue;
    const declined = queue.find((q) => q.app.id === '/ui-too-big')?.processedOffersSummary.rejectSummaryLastOffers.find((r) => r.reason === 'InsufficientCpus')?.declined;
    expect(declined).toBeGreaterThan(0);
    await ui.browser.screenshot('marathon-queue');

    await page.locator('a.tab[data-tab="deployments"]').click();
    const deployments = (await api<{ id: string; affectedApps: string[] }[]>('/v2/deployments')).body.filter((d) => d.affectedApps.includes('/ui-too-big'));
    expect(deployments).toHaveLength(1);
    const id = deployments[0]?.id as string;
    const card = page.locator(`[data-testid="deployment"][data-key="${id}"]`);
    await card.waitFor();
    expect(await card.textContent()).toContain('/ui-too-big');
    await ui.browser.screenshot('marathon-deployments');

    await card.getByTestId('deployment-rollback').click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm').click();
    // Rolling back the deployment that created the app takes the app away again.
    await waitFor(async () => !(await appIds()).includes('/ui-too-big'), { timeoutMs: 60_000, intervalMs: 250, what: 'the rollback to remove /ui-too-big' });
    await page.getByTestId('deployments-empty').waitFor({ timeout: 30_000 });
    await page.locator('a.tab[data-tab="queue"]').click();
    await page.getByTestId('queue-empty').waitFor({ timeout: 30_000 });
  });

  it('resets the launch delay of a crashing app from the queue, and it launches again at once', async () => {
    const { page } = ui.browser;
    const appId = '/ui-crash';
    // Fails at once; the next launch would wait 300 s without the reset.
    const created = await api('/v2/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: appId, cmd: 'exit 1', cpus: 0.1, mem: 16, backoffSeconds: 300, maxLaunchDelaySeconds: 600 }),
    });
    expect(created.status).toBe(201);
    const lastFailure = async () =>
      (await api<{ app: { lastTaskFailure?: { taskId: string } } }>(`/v2/apps${appId}?embed=apps.lastTaskFailure`)).body.app.lastTaskFailure?.taskId;
    await waitFor(async () => (await lastFailure()) !== undefined, { timeoutMs: 60_000, intervalMs: 250, what: 'the first failure' });
    const first = await lastFailure();

    await page.goto(`${base}/#queue`);
    const item = page.locator(`[data-testid="queue-item"][data-key="${appId}"]`);
    await item.getByTestId('reset-delay').waitFor({ timeout: 30_000 });
    await ui.browser.screenshot('marathon-queue-delayed');
    await item.getByTestId('reset-delay').click();
    await waitFor(async () => {
      const now = await lastFailure();
      return now !== undefined && now !== first;
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'a second launch right after the reset' });

    expect((await api(`/v2/apps${appId}?force=true`, { method: 'DELETE' })).status).toBe(200);
    await waitFor(async () => !(await appIds()).includes(appId), { timeoutMs: 60_000, intervalMs: 250, what: `${appId} removed` });
  });

  it('destroys the app after a confirmation', async () => {
    const { page } = ui.browser;
    await page.goto(`${base}/#app${APP_ID}`);
    await page.getByTestId('app-detail').waitFor();

    // Suspend first: scaled to 0, the definition kept.
    await page.getByTestId('suspend').click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm').click();
    const bar = page.getByTestId('app-actions').getByTestId('instances');
    await expect.poll(() => bar.getAttribute('data-desired'), { timeout: 20_000 }).toBe('0');
    await expect.poll(() => bar.getAttribute('data-running'), { timeout: HEALTHY_MS }).toBe('0');
    await waitForNoDeployment(APP_ID);
    await page.getByTestId('app-detail').getByText('Suspended', { exact: true }).waitFor();
    expect((await api<{ app: AppStatus }>(`/v2/apps${APP_ID}`)).body.app).toMatchObject({ instances: 0, tasksRunning: 0 });
    await ui.browser.screenshot('marathon-app-suspended');

    await page.getByTestId('destroy').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(APP_ID);
    await ui.browser.screenshot('marathon-destroy-confirm');
    await page.getByTestId('confirm').click();

    await page.getByTestId('apps-table').waitFor();
    await page.locator(`tr[data-key="${APP_ID}"]`).waitFor({ state: 'detached', timeout: 60_000 });
    expect((await api(`/v2/apps${APP_ID}`)).status).toBe(404);
    await waitFor(async () => (await api<{ tasks: { appId: string }[] }>('/v2/tasks')).body.tasks.every((t) => t.appId !== APP_ID), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: `the tasks of ${APP_ID} to be gone`,
    });
    await ui.browser.screenshot('marathon-apps-after-destroy');
    expect(pageFaults()).toEqual([]);
  });
});
