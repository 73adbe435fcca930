/**
 * The master's dashboard over a real dev cluster: agents with their bars, a task launched through
 * marathon found and filtered in the tasks tab with its stdout followed live, frameworks, roles
 * with the weight form, the event stream arriving live, and the HTTP routes the page relies on.
 */

import { waitFor } from '@stoa/testkit';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUiCluster, type UiCluster } from './fixture.js';

interface Resource {
  name: string;
  type: string;
  scalar?: number;
}
interface Agent {
  id: string;
  hostname: string;
  resources: Resource[];
  attributes: Record<string, string>;
}
interface Task {
  taskId: string;
  frameworkId: string;
  agentId: string;
  name: string;
  state: string;
}
interface Framework {
  id: string;
  info: { name: string };
}

/** Long enough for a loaded two-core machine; every wait below ends as soon as its condition holds. */
const SLOW = { timeout: 30_000 };

let ui: UiCluster;
let page: Page;

beforeAll(async () => {
  ui = await startUiCluster();
  page = ui.browser.page;
}, 120_000);
afterAll(async () => {
  await ui?.stop();
});

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${ui.url('master')}${path}`, init);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function launchApp(app: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${ui.url('marathon')}/v2/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(app) });
  expect(res.status, await res.clone().text()).toBe(201);
}

/** The master's task of marathon app `name` once it runs. */
function runningTask(name: string): Promise<Task> {
  return waitFor(
    async () => (await api<{ tasks: Task[] }>('/api/v1/tasks?state=TASK_RUNNING&limit=1000')).tasks.find((t) => t.name === name),
    { timeoutMs: 60_000, intervalMs: 200, what: `a running task of ${name}` },
  );
}

const tasksRow = (taskId: string) => page.locator(`[data-testid="tasks-table"] tbody tr[data-key="${taskId}"]`);
const hash = () => decodeURIComponent(new URL(page.url()).hash);

describe('the master dashboard', () => {
  it('lists both agents with a bar per resource and the cluster in the header', { timeout: 90_000 }, async () => {
    const { agents } = await api<{ agents: Agent[] }>('/api/v1/agents');
    const { masterId } = await api<{ masterId: string }>('/api/v1/master');
    expect(agents).toHaveLength(2);

    await page.goto(`${ui.url('master')}/`);
    const rows = page.locator('[data-testid="agents-table"] tbody tr[data-key]');
    await expect.poll(() => rows.count(), SLOW).toBe(2);
    for (const agent of agents) {
      const row = page.locator(`[data-testid="agents-table"] tr[data-key="${agent.id}"]`);
      await expect.poll(() => row.getByTestId('agent-hostname').textContent(), SLOW).toBe(agent.hostname);
      for (const name of ['cpus', 'mem', 'disk']) {
        const bar = row.getByTestId(`bar-${name}`);
        await bar.waitFor();
        const total = agent.resources.filter((r) => r.name === name).reduce((n, r) => n + (r.scalar ?? 0), 0);
        expect(Number(await bar.getAttribute('data-total'))).toBe(total);
        expect(await bar.locator('.fill').first().getAttribute('style')).toMatch(/width: [\d.]+%/);
      }
      expect(await row.getByTestId('agent-ports').textContent()).toMatch(/^\d+ \/ 1,000$/);
      for (const [k, v] of Object.entries(agent.attributes)) expect(await row.getByTestId('agent-attributes').textContent()).toContain(`${k}${v}`);
      expect(await row.locator('.badge').first().textContent()).toBe('active');
    }
    // The cluster's totals add up the agents'.
    const cpus = agents.flatMap((a) => a.resources).filter((r) => r.name === 'cpus').reduce((n, r) => n + (r.scalar ?? 0), 0);
    expect(Number(await page.locator('[data-testid="cluster-capacity"] [data-testid="bar-cpus"]').getAttribute('data-total'))).toBe(cpus);

    await expect.poll(() => page.getByTestId('status-master').textContent(), SLOW).toBe(masterId);
    expect(await page.getByTestId('status-agents').textContent()).toBe('2 agents');
    expect(await page.getByTestId('status-frameworks').textContent()).toBe('3 frameworks');
    await expect.poll(() => page.getByTestId('status-live').getAttribute('data-live'), SLOW).toBe('yes');

    // An agent's details open from its row and are linked by the URL.
    await page.locator(`[data-testid="agents-table"] tr[data-key="${agents[0]!.id}"]`).click();
    await page.getByTestId('agent-detail').waitFor();
    expect(await page.getByTestId('agent-detail').textContent()).toContain(agents[0]!.id);
    expect(hash()).toBe(`#agents?agent=${agents[0]!.id}`);
    await ui.browser.screenshot('master-agents');
  });

  it('shows a task launched through marathon, filters tasks by state, framework and agent, and tails its stdout', { timeout: 120_000 }, async () => {
    await launchApp({ id: '/ui-echo', cmd: 'echo hello-from-ui; sleep 600', cpus: 0.1, mem: 32, instances: 1 });
    const task = await runningTask('ui-echo');
    const { frameworks } = await api<{ frameworks: Framework[] }>('/api/v1/frameworks');
    const { agents } = await api<{ agents: Agent[] }>('/api/v1/agents');
    const chronos = frameworks.find((f) => f.info.name === 'chronos')!;
    const otherAgent = agents.find((a) => a.id !== task.agentId)!;

    await page.locator('[data-tab="tasks"]').click();
    await page.getByTestId('view-tasks').waitFor();
    const row = tasksRow(task.taskId);
    await row.waitFor(SLOW);
    await expect.poll(() => row.getByTestId('task-state').getAttribute('data-state'), SLOW).toBe('TASK_RUNNING');
    expect(await row.textContent()).toContain('marathon');
    expect(await row.textContent()).toContain(agents.find((a) => a.id === task.agentId)!.hostname);

    // By state: another state hides it, its own shows it; the filter is in the URL.
    await page.getByTestId('filter-state').selectOption('TASK_FINISHED');
    await expect.poll(() => hash(), SLOW).toBe('#tasks?state=TASK_FINISHED');
    await expect.poll(() => page.locator('[data-testid="tasks-table"] td.empty').textContent(), SLOW).toBe('No task matches these filters.');
    expect(await row.count()).toBe(0);
    await page.getByTestId('filter-state').selectOption('TASK_RUNNING');
    await row.waitFor(SLOW);
    expect(hash()).toBe('#tasks?state=TASK_RUNNING');
    await ui.browser.screenshot('master-tasks-filtered');

    // By framework and by agent.
    await page.getByTestId('filter-framework').selectOption(chronos.id);
    await row.waitFor({ state: 'detached', ...SLOW });
    await page.getByTestId('filter-framework').selectOption(task.frameworkId);
    await row.waitFor(SLOW);
    await page.getByTestId('filter-agent').selectOption(otherAgent.id);
    await row.waitFor({ state: 'detached', ...SLOW });
    await page.getByTestId('filter-agent').selectOption(task.agentId);
    await row.waitFor(SLOW);
    expect(hash()).toBe(`#tasks?state=TASK_RUNNING&framework=${task.frameworkId}&agent=${task.agentId}`);

    // The filters survive a reload: they live in the URL.
    await page.reload();
    await row.waitFor(SLOW);
    expect(await page.getByTestId('filter-state').inputValue()).toBe('TASK_RUNNING');
    expect(await page.getByTestId('filter-agent').inputValue()).toBe(task.agentId);

    // The task's detail: its sandbox's files and its stdout, followed.
    await row.click();
    await page.getByTestId('task-detail').waitFor();
    expect(hash()).toContain(`task=${task.taskId}`);
    await expect.poll(() => page.getByTestId('task-log').textContent(), SLOW).toContain('hello-from-ui');
    const files = page.getByTestId('sandbox-files');
    await files.locator('tr[data-file="stdout"]').waitFor();
    await files.locator('tr[data-file="stderr"]').waitFor();
    expect(await page.getByTestId('task-detail-state').textContent()).toContain('RUNNING');
    await ui.browser.screenshot('master-task-detail');

    await page.getByTestId('filter-clear').click();
    await expect.poll(() => hash(), SLOW).toBe(`#tasks?task=${task.taskId}`);
  });

  it('appends a growing stdout from the last offset read, without repeating it', { timeout: 120_000 }, async () => {
    await launchApp({ id: '/ui-ticker', cmd: 'i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo tick-$i; sleep 0.2; done; sleep 600', cpus: 0.1, mem: 32, instances: 1 });
    const task = await runningTask('ui-ticker');
    await page.goto(`${ui.url('master')}/#tasks?task=${encodeURIComponent(task.taskId)}`);
    const log = page.getByTestId('task-log');
    await expect.poll(() => log.textContent(), SLOW).toContain('tick-3\n');
    const early = (await log.textContent()) ?? '';
    // Later lines arrive in the same view, after the ones already shown.
    await expect.poll(async () => ((await log.textContent()) ?? '').split('\n').length, SLOW).toBeGreaterThan(early.split('\n').length + 5);
    const later = ((await log.textContent()) ?? '').split('\n').filter(Boolean);
    expect(later.slice(0, early.split('\n').filter(Boolean).length)).toEqual(early.split('\n').filter(Boolean));
    const ticks = later.map((l) => Number(l.replace('tick-', '')));
    expect(ticks).toEqual(ticks.map((_, i) => i + 1));
    await ui.browser.screenshot('master-task-tail');
    // stderr is one click away, and empty.
    await page.getByTestId('tail-stderr').click();
    await expect.poll(() => log.getAttribute('data-file'), SLOW).toBe('stderr');
    await expect.poll(() => hash(), SLOW).toContain('file=stderr');
    await expect.poll(() => log.textContent(), SLOW).toBe('(empty so far)');
  });

  it('follows a large stdout from near its end, starting at a whole line', { timeout: 120_000 }, async () => {
    // 30,000 numbered lines, 168,894 bytes: far more than one read.
    await launchApp({ id: '/ui-seq', cmd: 'seq 1 30000; sleep 600', cpus: 0.1, mem: 32, instances: 1 });
    const task = await runningTask('ui-seq');
    await waitFor(async () => (await api<{ size: number }>(`/api/v1/tasks/${encodeURIComponent(task.taskId)}/files/stdout?length=0`)).size === 168_894, {
      timeoutMs: 30_000,
      what: 'the whole output of seq',
    });
    await page.goto(`${ui.url('master')}/#tasks?task=${encodeURIComponent(task.taskId)}`);
    const log = page.getByTestId('task-log');
    await expect.poll(() => log.textContent(), SLOW).toMatch(/\n30000\n$/);
    const lines = ((await log.textContent()) ?? '').split('\n').filter(Boolean).map(Number);
    expect(lines[0]).toBeGreaterThan(1);
    expect(lines).toEqual(lines.map((_, i) => lines[0]! + i));
    expect(await page.getByTestId('tail-info').textContent()).toContain('showing the end');
    // Kept scrolled to the newest line.
    expect(await log.evaluate((el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 8)).toBe(true);
  });

  it('shows each framework with its state, dominant share and running / total tasks', { timeout: 90_000 }, async () => {
    const { frameworks } = await api<{ frameworks: (Framework & { share: number })[] }>('/api/v1/frameworks');
    await page.locator('[data-tab="frameworks"]').click();
    const table = page.getByTestId('frameworks-table');
    await expect.poll(() => table.locator('tbody tr[data-key]').count(), SLOW).toBe(3);
    for (const fw of frameworks) {
      const row = table.locator(`tr[data-key="${fw.id}"]`);
      expect(await row.getByTestId('framework-name').textContent()).toBe(fw.info.name);
      expect(await row.getByTestId('framework-state').textContent()).toContain('active');
      const running = (await api<{ total: number }>(`/api/v1/tasks?limit=1&state=TASK_RUNNING&framework_id=${fw.id}`)).total;
      const total = (await api<{ total: number }>(`/api/v1/tasks?limit=1&framework_id=${fw.id}`)).total;
      await expect.poll(() => row.getByTestId('framework-tasks').textContent(), SLOW).toBe(`${running} / ${total}`);
    }
    const marathon = frameworks.find((f) => f.info.name === 'marathon')!;
    expect(marathon.share).toBeGreaterThan(0);
    await expect.poll(() => table.locator(`tr[data-key="${marathon.id}"]`).getByTestId('framework-share').textContent(), SLOW).not.toBe('0.0%');
    await ui.browser.screenshot('master-frameworks');
  });

  it("fills the agents' bars with what their tasks use", { timeout: 90_000 }, async () => {
    const { agents } = await api<{ agents: (Agent & { used: Resource[] })[] }>('/api/v1/agents');
    const mem = (a: { used: Resource[] }) => a.used.filter((r) => r.name === 'mem').reduce((n, r) => n + (r.scalar ?? 0), 0);
    expect(agents.reduce((n, a) => n + mem(a), 0)).toBeGreaterThanOrEqual(32 + 32);
    await page.locator('[data-tab="agents"]').click();
    for (const agent of agents) {
      const bar = page.locator(`[data-testid="agents-table"] tr[data-key="${agent.id}"] [data-testid="bar-mem"]`);
      await expect.poll(async () => Number(await bar.getAttribute('data-used')), SLOW).toBe(mem(agent));
    }
    const total = agents.reduce((n, a) => n + mem(a), 0);
    expect(Number(await page.locator('[data-testid="cluster-capacity"] [data-testid="bar-mem"]').getAttribute('data-used'))).toBe(total);
    await ui.browser.screenshot('master-agents-busy');
  });

  it('lists roles and sets a weight through the form, refusing a bad one beside its field', { timeout: 90_000 }, async () => {
    await page.locator('[data-tab="roles"]').click();
    const table = page.getByTestId('roles-table');
    await table.locator('tr[data-key="*"]').waitFor(SLOW);

    // A weight of 0 is refused before anything is sent.
    await page.getByTestId('weight-role').fill('analytics');
    await page.getByTestId('weight-value').fill('0');
    await page.getByTestId('weight-submit').click();
    await expect.poll(() => page.locator('[data-testid="weight-form"] .field.invalid .field-error').textContent(), SLOW).toBe('The weight must be above 0.');
    expect((await api<{ roles: { role: string }[] }>('/api/v1/roles')).roles.map((r) => r.role)).not.toContain('analytics');

    await page.getByTestId('weight-value').fill('2.5');
    await page.getByTestId('weight-submit').click();
    await expect.poll(() => page.getByTestId('weight-result').textContent(), SLOW).toBe('The weight of role analytics is now 2.5.');
    const saved = await waitFor(async () => (await api<{ roles: { role: string; weight: number }[] }>('/api/v1/roles')).roles.find((r) => r.role === 'analytics'), {
      what: 'role analytics',
    });
    expect(saved.weight).toBe(2.5);
    await expect.poll(() => table.locator('tr[data-key="analytics"]').getByTestId('role-weight').textContent(), SLOW).toBe('2.5');
    await ui.browser.screenshot('master-roles');
  });

  it('shows cluster events arriving live, newest first', { timeout: 120_000 }, async () => {
    await page.goto(`${ui.url('master')}/#events`);
    await expect.poll(() => page.getByTestId('events-live').getAttribute('data-live'), SLOW).toBe('yes');
    const rows = page.locator('[data-testid="events-table"] tbody tr[data-seq]');
    const seqs = async () => (await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-seq'))))) as number[];
    const before = Math.max(0, ...(await seqs()));

    await launchApp({ id: '/ui-events', cmd: 'sleep 600', cpus: 0.1, mem: 16, instances: 1 });
    const added = rows.filter({ hasText: 'ui-events' }).and(page.locator('[data-type="TASK_ADDED"]'));
    await added.first().waitFor(SLOW);
    const running = rows.filter({ hasText: 'ui-events' }).filter({ hasText: 'RUNNING' });
    await running.first().waitFor(SLOW);
    // Newest first: the sequence numbers fall down the table.
    const shown = await seqs();
    expect(shown.length).toBeGreaterThanOrEqual(2);
    expect(shown).toEqual([...shown].sort((a, b) => b - a));
    // They came over the stream after the page opened it, the task's RUNNING after its ADDED.
    const addedSeq = Number(await added.first().getAttribute('data-seq'));
    expect(addedSeq).toBeGreaterThan(before);
    expect(Number(await running.first().getAttribute('data-seq'))).toBeGreaterThan(addedSeq);
    await ui.browser.screenshot('master-events');
  });

  it('serves what the page reads: one task, a sandbox directory, file slices with their length', { timeout: 60_000 }, async () => {
    const task = await runningTask('ui-echo');
    const one = await api<Task>(`/api/v1/tasks/${encodeURIComponent(task.taskId)}`);
    expect(one).toMatchObject({ taskId: task.taskId, name: 'ui-echo', state: 'TASK_RUNNING' });
    const missing = await fetch(`${ui.url('master')}/api/v1/tasks/no-such-task`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toBe('no task no-such-task');

    const root = await api<{ entries: { name: string; dir: boolean }[] }>(`/api/v1/tasks/${encodeURIComponent(task.taskId)}/files`);
    const dir = root.entries.find((e) => e.dir);
    if (dir) {
      const listing = await api<{ entries?: unknown[] }>(`/api/v1/tasks/${encodeURIComponent(task.taskId)}/files/${encodeURIComponent(dir.name)}`);
      expect(Array.isArray(listing.entries)).toBe(true);
    }
    const slice = await api<{ data: string; offset: number; size: number; length: number }>(`/api/v1/tasks/${encodeURIComponent(task.taskId)}/files/stdout?offset=6&length=4`);
    expect(slice).toEqual({ data: 'from', offset: 6, size: 'hello-from-ui\n'.length, length: 4 });
    const bad = await fetch(`${ui.url('master')}/api/v1/tasks/${encodeURIComponent(task.taskId)}/files/stdout?offset=-1`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('offset');

    // A slice that would end inside a character stops before it; the next read starts there.
    await launchApp({ id: '/ui-utf8', cmd: "printf 'h\\303\\251llo\\n'; sleep 600", cpus: 0.1, mem: 16, instances: 1 });
    const utf8 = await runningTask('ui-utf8');
    const stdout = `/api/v1/tasks/${encodeURIComponent(utf8.taskId)}/files/stdout`;
    await waitFor(async () => (await api<{ size: number }>(`${stdout}?length=0`)).size === 7, { timeoutMs: 30_000, what: 'the output of printf' });
    expect(await api(`${stdout}?offset=0&length=2`)).toEqual({ data: 'h', offset: 0, size: 7, length: 1 });
    expect(await api(`${stdout}?offset=1&length=2`)).toEqual({ data: 'é', offset: 1, size: 7, length: 2 });
    expect(await api(`${stdout}?offset=0`)).toEqual({ data: 'héllo\n', offset: 0, size: 7, length: 7 });

    expect(ui.browser.pageErrors).toEqual([]);
  });
});
