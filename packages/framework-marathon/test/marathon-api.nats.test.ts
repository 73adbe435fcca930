/**
 * Marathon's bulk and group API over a real nats-server with real process agents: concurrent
 * changes that must not undo each other, bulk `PUT`/`PATCH /v2/apps`, `POST /v2/tasks/delete`
 * with `scale` and `wipe`, and `/v2/groups` with nested groups, group dependencies, `scaleBy` and
 * the replacement of a group's apps — with 422s naming the field for bad bodies.
 */

import { waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, type MarathonCluster, startMarathonCluster } from './marathon-cluster.js';

let cluster: MarathonCluster;

/** A small app that just runs (no health check, so it counts as soon as it runs). */
function sleeper(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, cmd: 'sleep 3600', cpus: 0.02, mem: 16, ...extra };
}

/** The ids of an app's running tasks, once it has exactly `count`. */
async function running(appId: string, count: number): Promise<string[]> {
  const tasks = await waitFor(
    async () => {
      const list = await cluster.tasksOf(appId);
      return list.length === count && list.every((t) => t.state === 'TASK_RUNNING') ? list : undefined;
    },
    { timeoutMs: 25_000, intervalMs: 100, what: `${count} running tasks of ${appId}` },
  );
  return tasks.map((t: Json) => t.id as string).sort();
}

beforeAll(async () => {
  cluster = await startMarathonCluster({ agents: 2, portBase: 37000 });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('marathon bulk and group API over NATS', () => {
  it('keeps every one of several concurrent changes, and refuses the second of two identical POSTs', async () => {
    const posts = await Promise.all(['/c1', '/c2', '/c3'].map((id) => cluster.call('POST', '/v2/apps', sleeper(id))));
    expect(posts.map((p) => p.status)).toEqual([201, 201, 201]);
    const ids = ((await cluster.call('GET', '/v2/apps')).json.apps as Json[]).map((a) => a.id);
    expect(ids).toEqual(expect.arrayContaining(['/c1', '/c2', '/c3']));
    const twins = await Promise.all([cluster.call('POST', '/v2/apps', sleeper('/twin')), cluster.call('POST', '/v2/apps', sleeper('/twin'))]);
    expect(twins.map((t) => t.status).sort()).toEqual([201, 409]);
    expect(twins.find((t) => t.status === 409)!.json.message).toBe('An app with id [/twin] already exists.');
    for (const id of ['/c1', '/c2', '/c3']) await running(id, 1);
    for (const id of ['/c1', '/c2', '/c3', '/twin']) await cluster.call('DELETE', `/v2/apps${id}?force=true`);
    await cluster.waitDeployments('the concurrent apps removed');
  });

  it('creates and scales apps in bulk, and deletes tasks with scale and wipe', async () => {
    const badBulk = await cluster.call('PUT', '/v2/apps', [sleeper('/bulk/a'), sleeper('/bulk/b', { cpus: -1 })]);
    expect(badBulk.status).toBe(422);
    expect(badBulk.json.details.map((d: Json) => d.path)).toEqual(['/(1)/cpus']);
    expect((await cluster.call('GET', '/v2/apps/bulk/a')).status).toBe(404);

    const created = await cluster.call('PUT', '/v2/apps', [sleeper('/bulk/a'), sleeper('/bulk/b')]);
    expect(created.status).toBe(200);
    expect(created.json).toEqual({ deploymentId: expect.any(String), version: expect.any(String) });
    await cluster.waitDeployments('bulk created');
    const scaled = await cluster.call('PATCH', '/v2/apps', [
      { id: '/bulk/a', instances: 2 },
      { id: '/bulk/b', instances: 2 },
    ]);
    expect(scaled.status).toBe(200);
    await cluster.waitDeployments('bulk scaled');
    const [a1, a2] = await running('/bulk/a', 2);
    const [b1, b2] = await running('/bulk/b', 2);
    // PATCH kept what it did not name.
    expect((await cluster.call('GET', '/v2/apps/bulk/a')).json.app).toMatchObject({ cmd: 'sleep 3600', instances: 2 });

    // scale=true: the tasks go and the apps shrink by as many, with no replacement.
    const shrink = await cluster.call('POST', '/v2/tasks/delete?scale=true', { ids: [a1, b1] });
    expect(shrink.status).toBe(200);
    expect(shrink.json).toEqual({ deploymentId: expect.any(String), version: expect.any(String) });
    await cluster.waitDeployments('scaled down by the kill');
    expect(await running('/bulk/a', 1)).toEqual([a2]);
    expect(await running('/bulk/b', 1)).toEqual([b2]);
    expect((await cluster.call('GET', '/v2/apps/bulk/a')).json.app.instances).toBe(1);
    expect((await cluster.call('GET', '/v2/apps/bulk/b')).json.app.instances).toBe(1);

    // wipe=true: the task is forgotten at once and killed; the app, still at 1, gets a new one.
    const wiped = await cluster.call('POST', '/v2/tasks/delete?wipe=true', { ids: [a2] });
    expect(wiped.status).toBe(200);
    expect(wiped.json.tasks.map((t: Json) => t.id)).toEqual([a2]);
    expect((await cluster.tasksOf('/bulk/a')).some((t) => t.id === a2)).toBe(false);
    const [replacement] = await running('/bulk/a', 1);
    expect(replacement).not.toBe(a2);
    await waitFor(() => !cluster.agentTasks('bulk_a').some((t) => t.taskId === a2), { timeoutMs: 10_000, what: `${a2} killed at its agent` });
    expect((await cluster.call('GET', '/v2/apps/bulk/a')).json.app.instances).toBe(1);

    const bad = await cluster.call('POST', '/v2/tasks/delete', { ids: 'all' });
    expect(bad.status).toBe(422);
    expect(bad.json.details[0].path).toBe('/ids');
    await cluster.call('DELETE', '/v2/groups/bulk');
    await cluster.waitDeployments('bulk removed');
  });

  it('deploys nested groups in dependency order, scales them by a factor, and replaces what a group lists', async () => {
    const listener = await cluster.listenEvents(['deployment_info']);
    let deploymentId: string;
    try {
      const put = await cluster.call('PUT', '/v2/groups/prod', {
        id: '/prod',
        apps: [sleeper('web', { dependencies: ['/prod/db'] })],
        groups: [
          { id: '/prod/db', apps: [sleeper('pg')], groups: [{ id: 'cache', apps: [sleeper('redis')] }] },
          { id: 'api', dependencies: ['db'], apps: [sleeper('srv')] },
        ],
      });
      expect(put.status).toBe(200);
      deploymentId = put.json.deploymentId;
      const info = await waitFor(() => listener.events.find((e) => e.plan?.id === deploymentId), { timeoutMs: 10_000, what: 'the group deployment planned' });
      const stepOf = (app: string) => (info.plan.steps as Json[]).findIndex((s) => s.actions.some((a: Json) => a.action === 'ScaleApplication' && a.app === app));
      for (const later of ['/prod/web', '/prod/api/srv']) {
        for (const earlier of ['/prod/db/pg', '/prod/db/cache/redis']) expect(stepOf(later)).toBeGreaterThan(stepOf(earlier));
      }
    } finally {
      await listener.stop();
    }
    await cluster.waitDeployments('prod deployed');
    // The group's dependency went onto its app, resolved against the group's parent.
    expect((await cluster.call('GET', '/v2/apps/prod/api/srv')).json.app.dependencies).toEqual(['/prod/db']);
    const tree = (await cluster.call('GET', '/v2/groups/prod')).json;
    expect(tree.apps.map((a: Json) => a.id)).toEqual(['/prod/web']);
    expect(tree.groups.map((g: Json) => g.id)).toEqual(['/prod/api', '/prod/db']);
    expect(tree.groups[1].groups[0]).toMatchObject({ id: '/prod/db/cache', apps: [expect.objectContaining({ id: '/prod/db/cache/redis' })] });

    const all = ['/prod/web', '/prod/db/pg', '/prod/db/cache/redis', '/prod/api/srv'];
    const scaled = await cluster.call('PUT', '/v2/groups/prod', { scaleBy: 2 });
    expect(scaled.status).toBe(200);
    await cluster.waitDeployments('prod scaled by 2');
    for (const id of all) await running(id, 2);

    // A group that lists its apps keeps its subgroups; one that lists its groups drops the others.
    const pg = (await cluster.call('GET', '/v2/apps/prod/db/pg')).json.app;
    expect((await cluster.call('PUT', '/v2/groups/prod/db', { apps: [sleeper('pg', { instances: 2 })] })).status).toBe(200);
    await cluster.waitDeployments('db apps replaced');
    expect((await cluster.call('GET', '/v2/apps/prod/db/cache/redis')).status).toBe(200);
    expect((await cluster.call('GET', '/v2/apps/prod/db/pg')).json.app.instances).toBe(pg.instances);
    expect((await cluster.call('PUT', '/v2/groups/prod/db', { groups: [] })).status).toBe(200);
    await cluster.waitDeployments('db subgroups dropped');
    expect((await cluster.call('GET', '/v2/apps/prod/db/cache/redis')).status).toBe(404);
    expect((await cluster.call('GET', '/v2/apps/prod/db/pg')).status).toBe(200);

    const bad = [
      [{ groups: [{ id: '/elsewhere', apps: [] }] }, '/groups(0)/id'],
      [{ apps: [{ id: 'x', cmd: 'y', cpus: -1 }] }, '/apps(0)/cpus'],
      [{ groups: [{ id: 'db', apps: [{ id: 'z', cmd: 'y', mem: 'a lot' }] }] }, '/groups(0)/apps(0)/mem'],
      [{ pods: [] }, '/pods'],
      [{ scaleBy: 0 }, '/scaleBy'],
      [{ colour: 'red' }, '/colour'],
    ] as const;
    for (const [body, path] of bad) {
      const answer = await cluster.call('PUT', '/v2/groups/prod', body);
      expect(answer.status, JSON.stringify(body)).toBe(422);
      expect(answer.json.details.map((d: Json) => d.path)).toContain(path);
    }
    expect((await cluster.call('GET', '/v2/apps/prod/web')).json.app.instances).toBe(2);

    expect((await cluster.call('DELETE', '/v2/groups/prod')).status).toBe(200);
    await cluster.waitDeployments('prod removed');
    expect(((await cluster.call('GET', '/v2/tasks')).json.tasks as Json[]).filter((t) => String(t.appId).startsWith('/prod/'))).toEqual([]);
    await waitFor(() => cluster.agents.flatMap((a) => a.tasks()).every((t) => !t.taskId.startsWith('prod_') || !['TASK_RUNNING', 'TASK_STAGING', 'TASK_STARTING'].includes(t.state)), {
      timeoutMs: 15_000,
      what: 'no prod task left at the agents',
    });
  });
});
