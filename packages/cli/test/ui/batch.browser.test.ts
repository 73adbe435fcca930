/**
 * The batch page in a real browser over a real `stoa dev` cluster: a job of `echo` tasks
 * submitted through the API, its stage progress followed to done in the jobs table, its stages
 * and tasks in the detail and a task's stdout; a spec error shown with its path; a two-stage job
 * submitted through the page's form, its second stage waiting for the first; and that job
 * cancelled from the jobs table. Tests run in order.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUiCluster, type UiCluster } from './fixture.js';

let ui: UiCluster;
let base: string;
/** The job the form submits, cancelled by the test after. */
let formJobId: string;

beforeAll(async () => {
  ui = await startUiCluster();
  base = ui.url('batch');
}, 120_000);
afterAll(async () => {
  await ui?.stop();
});

interface Stage {
  stage: string;
  state: string;
  done: number;
  running: number;
  pending: number;
  total: number;
  dependsOn?: string[];
}
interface Task {
  taskId: string;
  stage: string;
  index: number;
  state: string;
  output?: { exitCode?: number; stdoutTail?: string };
}
interface Job {
  jobId: string;
  name: string;
  state: string;
  stages: Stage[];
  tasks: number | Task[];
}

const WAIT = { timeout: 60_000 };
const TEST_TIMEOUT = 180_000;
const small = { cpus: 0.1, mem: 32 };

async function submit(spec: unknown): Promise<Job> {
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: JSON.stringify(spec) });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Job;
}

async function getJob(jobId: string): Promise<Job> {
  return (await (await fetch(`${base}/v1/jobs/${jobId}`)).json()) as Job;
}

/** Opens a view of the page afresh (a new document, so no state of an earlier test is left in it). */
async function visit(view: string): Promise<void> {
  await ui.browser.page.goto('about:blank');
  await ui.browser.page.goto(`${base}/#${view}`);
}

/** Page errors other than the browser's log line for an answer the test expected to fail. */
function unexpectedPageErrors(allowedStatuses: number[] = []): string[] {
  return ui.browser.pageErrors.filter((e) => !allowedStatuses.some((s) => e.includes(`status of ${s}`)));
}

describe('the batch page', () => {
  it('follows a job’s stage progress to done, and shows its tasks and a task’s stdout', async () => {
    const job = await submit({
      name: 'ui-echo',
      stages: [{ name: 'say', count: 3, task: { command: 'echo "hello from task $STOA_TASK_INDEX"', resources: small } }],
    });
    const { page } = ui.browser;
    await visit('jobs');
    const row = page.locator(`[data-testid="jobs-table"] tr[data-key="${job.jobId}"]`);
    await row.waitFor(WAIT);
    const bar = row.locator('[data-testid="stage-progress"][data-stage="say"]');
    expect(await bar.getAttribute('data-total')).toBe('3');
    // The bar follows the tasks to done (polled, and pushed by the event stream).
    await expect.poll(async () => bar.getAttribute('data-done'), WAIT).toBe('3');
    await expect.poll(async () => bar.getAttribute('data-state'), WAIT).toBe('SUCCEEDED');
    await expect.poll(async () => row.getByTestId('job-state').getAttribute('data-state'), WAIT).toBe('SUCCEEDED');
    expect(await bar.textContent()).toContain('3/3');
    const done = await getJob(job.jobId);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.stages[0]).toMatchObject({ stage: 'say', state: 'SUCCEEDED', done: 3, total: 3 });
    await ui.browser.screenshot('batch-jobs');

    await row.getByTestId('job-link').click();
    await page.locator(`[data-testid="job-detail"][data-job="${job.jobId}"]`).waitFor(WAIT);
    const taskRows = page.locator('[data-testid="tasks-table"] tbody tr[data-key]');
    await expect.poll(async () => taskRows.count(), WAIT).toBe(3);
    expect(await taskRows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')))).toEqual([0, 1, 2].map((i) => `${job.jobId}.say.${i}`));
    for (const text of await taskRows.allTextContents()) expect(text).toContain('SUCCEEDED');
    expect(await page.locator('[data-testid="stages-table"] [data-testid="stage-progress"]').getAttribute('data-done')).toBe('3');
    await ui.browser.screenshot('batch-job-detail');

    await page.locator(`[data-testid="tasks-table"] tr[data-key="${job.jobId}.say.1"]`).click();
    const stdout = page.getByTestId('task-stdout');
    await stdout.waitFor(WAIT);
    expect(await stdout.textContent()).toBe('hello from task 1\n');
    const task = (await (await fetch(`${base}/v1/jobs/${job.jobId}/tasks/say.1`)).json()) as Task;
    expect(task.output).toMatchObject({ exitCode: 0, stdoutTail: 'hello from task 1\n' });
    expect(await page.getByTestId('task-output').textContent()).toContain(task.taskId);
    await ui.browser.screenshot('batch-task-output');
    expect(unexpectedPageErrors()).toEqual([]);
  }, TEST_TIMEOUT);

  it('shows the path of a bad field in a submitted spec and submits nothing', async () => {
    const { page } = ui.browser;
    const before = ((await (await fetch(`${base}/v1/jobs`)).json()) as { jobs: Job[] }).jobs.length;
    await visit('submit');
    await page.locator('#spec').fill('name: ui-bad\nstages:\n  - name: s\n    task: { command: "true", resources: { cpus: 0.1, mem: 32 }, retries: -1 }\n');
    await page.getByTestId('submit-job').click();
    const issue = page.getByTestId('spec-issue');
    await issue.first().waitFor(WAIT);
    expect(await issue.first().getAttribute('data-path')).toContain('retries');
    expect(await issue.first().textContent()).toContain('expected an integer ≥ 0');
    await ui.browser.screenshot('batch-spec-error');
    const after = ((await (await fetch(`${base}/v1/jobs`)).json()) as { jobs: Job[] }).jobs.length;
    expect(after).toBe(before);
    expect(unexpectedPageErrors([422])).toEqual([]);
  }, TEST_TIMEOUT);

  it('submits a two-stage spec through the form and shows its stages, the second waiting for the first', async () => {
    const { page } = ui.browser;
    await visit('submit');
    const spec = [
      'name: ui-form',
      'stages:',
      '  - name: first',
      '    count: 2',
      '    task: { command: "sleep 300", resources: { cpus: 0.1, mem: 32 } }',
      '  - name: second',
      '    dependsOn: [first]',
      '    task: { command: "echo two", resources: { cpus: 0.1, mem: 32 } }',
      '',
    ].join('\n');
    await page.locator('#spec').fill(spec);
    await ui.browser.screenshot('batch-submit-form');
    await page.getByTestId('submit-job').click();

    // The form opens the new job.
    const detail = page.locator('[data-testid="job-detail"]');
    await detail.waitFor(WAIT);
    formJobId = (await detail.getAttribute('data-job'))!;
    expect(formJobId).toMatch(/^ui-form-/);
    const job = await getJob(formJobId);
    expect(job.state).toBe('RUNNING');
    expect(job.stages.map((s) => [s.stage, s.total, s.dependsOn])).toEqual([
      ['first', 2, []],
      ['second', 1, ['first']],
    ]);

    const stage = (name: string) => page.locator(`[data-testid="stages-table"] [data-testid="stage-progress"][data-stage="${name}"]`);
    await stage('second').waitFor(WAIT);
    expect(await stage('first').getAttribute('data-total')).toBe('2');
    expect(await stage('second').getAttribute('data-total')).toBe('1');
    // The first stage's tasks sleep: the second waits for them, and the table says so.
    expect(await stage('second').getAttribute('data-state')).toBe('WAITING');
    expect(await page.locator('[data-testid="stages-table"] tr[data-key="second"]').textContent()).toContain('first');
    const taskRows = page.locator('[data-testid="tasks-table"] tbody tr[data-key]');
    expect(await taskRows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')))).toEqual([
      `${formJobId}.first.0`,
      `${formJobId}.first.1`,
      `${formJobId}.second.0`,
    ]);
    await ui.browser.screenshot('batch-form-job-detail');
    // (the 422 is the spec error of the test before)
    expect(unexpectedPageErrors([422])).toEqual([]);
  }, TEST_TIMEOUT);

  it('cancels a running job from the table', async () => {
    expect(formJobId, 'the job the form submitted').toBeDefined();
    const { page } = ui.browser;
    await visit('jobs');
    const row = page.locator(`[data-testid="jobs-table"] tr[data-key="${formJobId}"]`);
    await row.waitFor(WAIT);
    expect(await row.getByTestId('job-state').getAttribute('data-state')).toBe('RUNNING');
    await ui.browser.screenshot('batch-jobs-running');

    await row.locator('[data-action="cancel"]').click();
    await row.locator('[data-action="confirm-cancel"]').click();
    await expect.poll(async () => row.getByTestId('job-state').getAttribute('data-state'), WAIT).toBe('CANCELLED');
    const job = await getJob(formJobId);
    expect(job.state).toBe('CANCELLED');
    // Its tasks are cancelled (those under way killed): nothing of it runs or waits any more.
    for (const s of job.stages) expect(s).toMatchObject({ running: 0, pending: 0, done: 0 });
    for (const name of ['first', 'second']) {
      const bar = row.locator(`[data-testid="stage-progress"][data-stage="${name}"]`);
      expect(await bar.getAttribute('data-running')).toBe('0');
      expect(await bar.getAttribute('data-state')).toBe('CANCELLED');
    }
    expect(await row.locator('[data-action="cancel"]').count()).toBe(0);
    await ui.browser.screenshot('batch-jobs-cancelled');
    expect(unexpectedPageErrors([422])).toEqual([]);
  }, TEST_TIMEOUT);
});
