/**
 * Chronos' page in a real browser over a real `stoa dev` cluster: a job created through the form
 * (and a form error for a bad schedule), run from the jobs table with "Run now" and seen to
 * succeed in its run history; the dependency graph drawn with an arrow parent → child, the child
 * to the right; disable/enable and delete from the table. Tests run in order and share the jobs.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUiCluster, type UiCluster } from './fixture.js';

let ui: UiCluster;
let base: string;

beforeAll(async () => {
  ui = await startUiCluster();
  base = ui.url('chronos');
}, 120_000);
afterAll(async () => {
  await ui?.stop();
});

interface Job {
  name: string;
  command: string;
  schedule?: string;
  parents?: string[];
  disabled: boolean;
  successCount: number;
}
interface Run {
  id: string;
  status: string;
  trigger: string;
  attempt: number;
}

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}/v1/scheduler${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Page errors other than the browser's log line for an answer the test expected to fail. */
function unexpectedPageErrors(allowedStatuses: number[] = []): string[] {
  return ui.browser.pageErrors.filter((e) => !allowedStatuses.some((s) => e.includes(`status of ${s}`)));
}

const WAIT = { timeout: 60_000 };
/** A test's bound: its waits are generous for a loaded machine. */
const TEST_TIMEOUT = 180_000;

/** Opens a view of the page afresh (a new document, so no state of an earlier test is left in it). */
async function visit(view: string): Promise<void> {
  await ui.browser.page.goto('about:blank');
  await ui.browser.page.goto(`${base}/#${view}`);
}
// Far in the future: the job runs only when asked to.
const LATER = 'R/2100-01-01T00:00:00Z/P1D';

describe('the chronos page', () => {
  it('shows the API’s error beside the schedule field and creates nothing', async () => {
    const { page } = ui.browser;
    await visit('new');
    await page.locator('#job-name').fill('ui-bad-schedule');
    await page.locator('#job-command').fill('true');
    await page.locator('#job-schedule').fill('every tuesday at noon');
    await page.getByTestId('create-job').click();
    const error = page.locator('[data-field="schedule"] [data-testid="error-schedule"]');
    await error.waitFor(WAIT);
    expect((await error.textContent())?.trim()).not.toBe('');
    expect(await page.locator('[data-field="schedule"]').getAttribute('class')).toContain('invalid');
    // Only the schedule is wrong: no other field shows an error.
    expect(await page.locator('.field-error').count()).toBe(await error.count());
    await ui.browser.screenshot('chronos-form-error');
    expect((await api('GET', '/job/ui-bad-schedule')).status).toBe(404);
    expect(unexpectedPageErrors([422])).toEqual([]);
  }, TEST_TIMEOUT);

  it('checks numbers in the form before sending', async () => {
    const { page } = ui.browser;
    await visit('new');
    await page.locator('#job-name').fill('ui-bad-cpus');
    await page.locator('#job-command').fill('true');
    await page.locator('#job-schedule').fill(LATER);
    await page.locator('#job-cpus').fill('-1');
    await page.getByTestId('create-job').click();
    await page.getByTestId('error-cpus').waitFor(WAIT);
    expect(await page.getByTestId('error-cpus').textContent()).toContain('greater than 0');
    expect((await api('GET', '/job/ui-bad-cpus')).status).toBe(404);
  }, TEST_TIMEOUT);

  it('creates a job through the form, runs it with “Run now”, and shows the successful run in its history', async () => {
    const { page } = ui.browser;
    await visit('new');
    await page.locator('#job-name').fill('ui-parent');
    await page.locator('#job-description').fill('made by the browser test');
    await page.locator('#job-command').fill('echo hello from chronos');
    await page.locator('#job-schedule').fill(LATER);
    await page.locator('#job-retries').fill('1');
    await ui.browser.screenshot('chronos-new-job');
    await page.getByTestId('create-job').click();

    // The form opens the new job.
    await page.locator('[data-testid="job-detail"][data-job="ui-parent"]').waitFor(WAIT);
    const created = await api<Job>('GET', '/job/ui-parent');
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ name: 'ui-parent', command: 'echo hello from chronos', schedule: LATER, retries: 1, disabled: false });

    // The jobs table lists it, never run.
    await visit('jobs');
    const row = page.locator('[data-testid="jobs-table"] tr[data-key="ui-parent"]');
    await row.waitFor(WAIT);
    expect(await row.textContent()).toContain(LATER);
    expect(await row.textContent()).toContain('never ran');
    await ui.browser.screenshot('chronos-jobs-before-run');

    await row.locator('[data-action="run-now"]').click();
    await page.locator('.notice', { hasText: 'Started run' }).waitFor(WAIT);
    // The row's counts follow the run (polled and pushed by the event stream).
    await expect.poll(async () => row.getByTestId('success-count').textContent(), WAIT).toBe('1');
    await ui.browser.screenshot('chronos-jobs');

    await row.getByTestId('job-link').click();
    await page.locator('[data-testid="job-detail"][data-job="ui-parent"]').waitFor(WAIT);
    const history = page.locator('[data-testid="run-history"] tbody tr[data-key]');
    await expect.poll(async () => history.first().getByTestId('run-status').textContent(), WAIT).toBe('SUCCEEDED');

    const runs = await api<Run[]>('GET', '/job/ui-parent/runs');
    expect(runs.body).toHaveLength(1);
    expect(runs.body[0]).toMatchObject({ status: 'SUCCEEDED', trigger: 'manual', attempt: 1 });
    expect(await history.count()).toBe(1);
    expect(await history.first().getAttribute('data-key')).toBe(runs.body[0]!.id);
    expect(await history.first().textContent()).toContain('manual');
    expect((await api<Job>('GET', '/job/ui-parent')).body.successCount).toBe(1);
    await ui.browser.screenshot('chronos-job-detail');
    expect(unexpectedPageErrors([422])).toEqual([]);
  }, TEST_TIMEOUT);

  it('draws the dependency graph left to right, with an arrow from a parent to its child', async () => {
    expect((await api('POST', '/dependency', { name: 'ui-child', command: 'echo child', parents: ['ui-parent'] })).status).toBe(204);
    expect((await api('POST', '/dependency', { name: 'ui-grandchild', command: 'echo grandchild', parents: ['ui-child'] })).status).toBe(204);
    expect((await api('POST', '/iso8601', { name: 'ui-lonely', command: 'true', schedule: LATER })).status).toBe(204);

    const { page } = ui.browser;
    await visit('graph');
    const edge = page.locator('[data-testid="graph-edge"][data-from="ui-parent"][data-to="ui-child"]');
    await edge.waitFor({ state: 'attached', ...WAIT });
    await page.locator('[data-testid="graph-edge"][data-from="ui-child"][data-to="ui-grandchild"]').waitFor({ state: 'attached', ...WAIT });
    // Only the real dependencies are drawn.
    expect(await page.getByTestId('graph-edge').count()).toBe(2);
    expect(await page.getByTestId('graph-node').count()).toBe(4);

    const node = (name: string) => page.locator(`[data-testid="graph-node"][data-job="${name}"]`);
    expect(await node('ui-parent').getAttribute('data-layer')).toBe('0');
    expect(await node('ui-child').getAttribute('data-layer')).toBe('1');
    expect(await node('ui-grandchild').getAttribute('data-layer')).toBe('2');
    expect(await node('ui-lonely').getAttribute('data-layer')).toBe('0');
    // The parent succeeded (the run before); the child never ran.
    expect(await node('ui-parent').getAttribute('data-status')).toBe('success');
    expect(await node('ui-parent').getAttribute('class')).toContain('success');
    expect(await node('ui-child').getAttribute('data-status')).toBe('fresh');

    // Drawn: the child's box lies right of the parent's, and the arrow runs from the middle of the
    // parent's right side to the middle of the child's left side (in the SVG's own units).
    const parentBox = (await node('ui-parent').locator('rect').boundingBox())!;
    const childBox = (await node('ui-child').locator('rect').boundingBox())!;
    expect(childBox.x).toBeGreaterThan(parentBox.x + parentBox.width);
    const rectOf = async (job: string) => {
      const g = node(job);
      const [, x, y] = /translate\(([\d.]+),([\d.]+)\)/.exec((await g.getAttribute('transform')) ?? '') ?? [];
      const rect = g.locator('rect');
      return { x: Number(x), y: Number(y), width: Number(await rect.getAttribute('width')), height: Number(await rect.getAttribute('height')) };
    };
    const points = [...((await edge.getAttribute('d')) ?? '').matchAll(/([\d.]+),([\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
    const geometry = { parent: await rectOf('ui-parent'), child: await rectOf('ui-child'), start: points[0]!, end: points.at(-1)! };
    expect(geometry.start.x).toBeCloseTo(geometry.parent.x + geometry.parent.width, 1);
    expect(geometry.start.y).toBeCloseTo(geometry.parent.y + geometry.parent.height / 2, 1);
    expect(geometry.end.x).toBeCloseTo(geometry.child.x, 1);
    expect(geometry.end.y).toBeCloseTo(geometry.child.y + geometry.child.height / 2, 1);
    expect(await edge.getAttribute('marker-end')).toContain('graph-arrow');
    await ui.browser.screenshot('chronos-graph');

    // A node opens its job.
    await node('ui-child').click();
    await page.locator('[data-testid="job-detail"][data-job="ui-child"]').waitFor(WAIT);
    expect(await page.getByTestId('job-definition').textContent()).toContain('ui-parent');
    await ui.browser.screenshot('chronos-child-detail');
  }, TEST_TIMEOUT);

  it('disables and enables a job from the jobs table', async () => {
    const { page } = ui.browser;
    await visit('jobs');
    const row = page.locator('[data-testid="jobs-table"] tr[data-key="ui-lonely"]');
    await row.waitFor(WAIT);
    await row.locator('[data-action="disable"]').click();
    await row.locator('[data-action="enable"]').waitFor(WAIT);
    expect(await row.textContent()).toContain('disabled');
    expect((await api<Job>('GET', '/job/ui-lonely')).body.disabled).toBe(true);
    await ui.browser.screenshot('chronos-jobs-disabled');

    await row.locator('[data-action="enable"]').click();
    await row.locator('[data-action="disable"]').waitFor(WAIT);
    const job = (await api<Job>('GET', '/job/ui-lonely')).body;
    expect(job.disabled).toBe(false);
    expect(job.schedule).toBe(LATER);
  }, TEST_TIMEOUT);

  it('filters the jobs by name', async () => {
    const { page } = ui.browser;
    await visit('jobs');
    const rows = page.locator('[data-testid="jobs-table"] tbody tr[data-key]');
    await expect.poll(async () => rows.count(), WAIT).toBe(4);
    await page.getByTestId('job-filter').fill('child');
    await expect.poll(async () => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')).sort()), WAIT).toEqual(['ui-child', 'ui-grandchild']);
    await ui.browser.screenshot('chronos-jobs-filtered');
  }, TEST_TIMEOUT);

  it('deletes a job from the table after asking', async () => {
    const { page } = ui.browser;
    await visit('jobs');
    const row = page.locator('[data-testid="jobs-table"] tr[data-key="ui-lonely"]');
    await row.waitFor(WAIT);
    await row.locator('[data-action="delete"]').click();
    await row.locator('[data-action="confirm-delete"]').click();
    await row.waitFor({ state: 'detached', ...WAIT });
    expect((await api('GET', '/job/ui-lonely')).status).toBe(404);
    expect(unexpectedPageErrors([422])).toEqual([]);
  }, TEST_TIMEOUT);
});
