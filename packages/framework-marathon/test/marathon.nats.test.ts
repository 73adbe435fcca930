/**
 * Marathon end to end over a real nats-server: a real master, three real agents (process
 * containerizer, hostnames 127.0.0.2–4, port ranges of their own) running `node -e` HTTP servers,
 * and Marathon with its state in JetStream KV. Deploy with an HTTP health check, scale 1 → 5 → 2,
 * kill a task and see it replaced, a rolling restart that never drops below
 * `minimumHealthCapacity`, failing health checks replaced, `UNIQUE hostname`, `db` before `web`,
 * rollback, a Marathon restarted mid-deployment finishing without duplicates, 422s naming the
 * field, a follower proxying to the leader, and `/v2/queue` saying why an app does not launch.
 */

import { waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAppsCli, runMarathonCli } from '../src/cli.js';
import { healthyTasks, type Json, type MarathonCluster, startMarathonCluster, webApp } from './marathon-cluster.js';

let cluster: MarathonCluster;
const call = (method: string, path: string, body?: unknown, base?: string) => cluster.call(method, path, body, base);
const tasksOf = (appId: string) => cluster.tasksOf(appId);
const waitDeployments = (what: string, timeoutMs?: number) => cluster.waitDeployments(what, timeoutMs);
const waitHealthy = (appId: string, count: number, timeoutMs?: number) => cluster.waitHealthy(appId, count, timeoutMs);
const agentTasks = (prefix: string) => cluster.agentTasks(prefix);

beforeAll(async () => {
  cluster = await startMarathonCluster({ agents: 3, portBase: 34000 });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('marathon over NATS', () => {
  it('refuses invalid definitions with 422s naming the field', async () => {
    const bad = await call('POST', '/v2/apps', { id: '/bad', cmd: 'x', cpus: -1, container: { docker: { image: 'nginx' } }, color: 'red' });
    expect(bad.status).toBe(422);
    expect(bad.json.message).toBe('Object is not valid');
    const paths = bad.json.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['/cpus', '/container', '/color']));
    expect(bad.json.details.find((d: { path: string }) => d.path === '/container').errors[0]).toMatch(/not supported by Stoa/);
    expect((await call('GET', '/v2/apps/nope')).json).toEqual({ message: "App '/nope' does not exist" });
  });

  it('deploys an HTTP server with a health check, scales 1 → 5 → 2, and replaces a killed task', async () => {
    const created = await call('POST', '/v2/apps', webApp('/web'));
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toMatch(/\/v2\/apps\/web$/);
    expect(created.json.deploymentId).toEqual(expect.any(String));
    const [task] = await waitHealthy('/web', 1);
    const served = await fetch(`http://${task.host}:${task.ports[0]}/`);
    expect(await served.text()).toBe(created.json.version);
    await waitDeployments('the first deployment');

    const up = await call('PATCH', '/v2/apps/web', { instances: 5 });
    expect(up.json).toEqual({ deploymentId: expect.any(String), version: expect.any(String) });
    await waitHealthy('/web', 5);
    await waitDeployments('scale to 5');
    await call('PATCH', '/v2/apps/web', { instances: 2 });
    await waitHealthy('/web', 2);
    await waitDeployments('scale to 2');
    await waitFor(() => agentTasks('web').length === 2, { timeoutMs: 10_000, what: 'the agents run 2 web tasks' });

    const victim = (await tasksOf('/web'))[0].id as string;
    const killed = await call('DELETE', `/v2/apps/web/tasks/${victim}`);
    expect(killed.json.task.id).toBe(victim);
    await waitFor(
      async () => {
        const tasks = await tasksOf('/web');
        return healthyTasks(tasks).length === 2 && !tasks.some((t) => t.id === victim);
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the killed task replaced' },
    );
    const list = await call('GET', '/v2/apps?embed=apps.tasks');
    expect(list.json.apps.find((a: { id: string }) => a.id === '/web')).toMatchObject({ instances: 2, tasksRunning: 2, tasksHealthy: 2 });
  });

  it('restarts without dropping below minimumHealthCapacity healthy', async () => {
    await call('PATCH', '/v2/apps/web', { instances: 3, upgradeStrategy: { minimumHealthCapacity: 0.67, maximumOverCapacity: 0 } });
    await waitDeployments('the strategy change');
    await waitHealthy('/web', 3);
    const before = new Set((await tasksOf('/web')).map((t) => t.id));
    const restart = await call('POST', '/v2/apps/web/restart');
    expect(restart.status).toBe(200);
    let least = 3;
    await waitFor(
      async () => {
        const tasks = await tasksOf('/web');
        least = Math.min(least, healthyTasks(tasks).length);
        const deployments = (await call('GET', '/v2/deployments')).json;
        return deployments.length === 0 && healthyTasks(tasks).length === 3 && tasks.every((t) => !before.has(t.id));
      },
      { timeoutMs: 40_000, intervalMs: 50, what: 'the rolling restart done' },
    );
    expect(least).toBeGreaterThanOrEqual(2); // ceil(0.67 × 3)
  });

  it('replaces tasks whose health check fails', async () => {
    await call('POST', '/v2/apps', webApp('/sick', { env: { FAIL: '1' } }));
    const first = await waitFor(async () => (await tasksOf('/sick'))[0]?.id as string | undefined, { timeoutMs: 15_000, what: 'a sick task' });
    await waitFor(async () => (await tasksOf('/sick')).some((t) => t.id !== first), { timeoutMs: 25_000, intervalMs: 100, what: 'the sick task replaced' });
    const app = (await call('GET', '/v2/apps/sick')).json.app;
    expect(app.lastTaskFailure).toMatchObject({ appId: '/sick', taskId: first });
    expect((await call('DELETE', '/v2/apps/sick?force=true')).status).toBe(200);
  });

  it('spreads UNIQUE hostname over the three agents and says why a fourth does not launch', async () => {
    await call('POST', '/v2/apps', webApp('/uniq', { instances: 3, constraints: [['hostname', 'UNIQUE']] }));
    const tasks = await waitHealthy('/uniq', 3);
    expect(new Set(tasks.map((t) => t.host))).toEqual(new Set(['127.0.0.2', '127.0.0.3', '127.0.0.4']));
    await waitDeployments('uniq deployed');
    await call('PATCH', '/v2/apps/uniq', { instances: 4 });
    const entry = await waitFor(
      async () => {
        const queue = (await call('GET', '/v2/queue')).json.queue as Json[];
        const e = queue.find((q) => q.app.id === '/uniq');
        return e?.processedOffersSummary.rejectSummaryLastOffers.some((r: { reason: string; declined: number }) => r.reason === 'UnfulfilledConstraint' && r.declined > 0) ? e : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the queue naming the constraint' },
    );
    expect(entry.count).toBe(1);
    expect(entry.lastUnusedOffers[0].details.join(' ')).toMatch(/hostname:UNIQUE/);
    const conflict = await call('PATCH', '/v2/apps/uniq', { instances: 2 });
    expect(conflict.status).toBe(409);
    expect(conflict.json.deployments).toHaveLength(1);
    await call('DELETE', `/v2/deployments/${conflict.json.deployments[0].id}`);
    await waitDeployments('the rollback to 3');
    expect((await call('GET', '/v2/apps/uniq')).json.app.instances).toBe(3);
    await call('DELETE', '/v2/apps/uniq');
    await waitDeployments('uniq removed');
    expect(agentTasks('uniq')).toHaveLength(0);
  });

  it('starts db before web by dependency, and rolls back to an earlier version', async () => {
    const healthyAt = new Map<string, number>();
    const group = await call('PUT', '/v2/groups/shop', {
      apps: [webApp('front', { dependencies: ['/shop/db'] }), webApp('db')],
    });
    expect(group.status).toBe(200);
    const steps = (await call('GET', '/v2/deployments')).json[0].steps.map((s: Json) => s.actions.map((a: Json) => `${a.action} ${a.app}`));
    expect(steps).toEqual([['StartApplication /shop/db', 'StartApplication /shop/front'], ['ScaleApplication /shop/db'], ['ScaleApplication /shop/front']]);
    await waitFor(
      async () => {
        for (const id of ['/shop/db', '/shop/front']) {
          const tasks = await tasksOf(id);
          if (tasks.length > 0 && !healthyAt.has(id)) healthyAt.set(id, Date.now());
        }
        return healthyAt.size === 2;
      },
      { timeoutMs: 25_000, intervalMs: 20, what: 'db and front launched' },
    );
    expect(healthyAt.get('/shop/db')!).toBeLessThan(healthyAt.get('/shop/front')!);
    await waitDeployments('the group deployed');

    const v1 = (await call('GET', '/v2/apps/shop/db')).json.app.version as string;
    await call('PATCH', '/v2/apps/shop/db', { env: { COLOR: 'blue' } });
    await waitDeployments('db v2');
    const versions = (await call('GET', '/v2/apps/shop/db/versions')).json.versions as string[];
    expect(versions).toContain(v1);
    const back = await call('PUT', '/v2/apps/shop/db', { version: v1 });
    expect(back.status).toBe(200);
    await waitDeployments('the rollback');
    const db = (await call('GET', '/v2/apps/shop/db')).json.app;
    expect(db.env).toEqual({});
    expect(db.version > v1).toBe(true);
    await waitHealthy('/shop/db', 1);
    expect((await call('GET', '/v2/groups')).json.groups.map((g: { id: string }) => g.id)).toContain('/shop');
    await call('DELETE', '/v2/groups/shop');
    await waitDeployments('the group removed');
  });

  it('finishes a deployment after a marathon restart without launching anything twice, and a follower proxies to the leader', async () => {
    await call('PATCH', '/v2/apps/web', { instances: 4, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0 } });
    await waitDeployments('web at 4');
    await waitHealthy('/web', 4);
    const seenTasks = cluster.seenTasks;
    const launchedBefore = new Set(seenTasks.keys());
    const restart = await call('POST', '/v2/apps/web/restart');
    // Stop once the restart is under way (a new task launched), before it is done.
    await waitFor(() => [...seenTasks.keys()].some((id) => id.startsWith('web.') && !launchedBefore.has(id)), { timeoutMs: 15_000, what: 'the restart under way' });
    await cluster.marathon.stop();

    const second = await cluster.startAnotherMarathon('m2');
    const follower = await cluster.startAnotherMarathon('m3');
    try {
      cluster.marathon = second;
      await second.waitLeading();
      const viaFollower = await call('GET', '/v2/deployments', undefined, follower.httpUrl);
      expect(viaFollower.status).toBe(200);
      expect(viaFollower.headers.get('x-marathon-leader')).toBe(second.httpUrl);
      expect(viaFollower.json.map((d: { id: string }) => d.id)).toContain(restart.json.deploymentId);
      expect((await call('GET', '/ping')).headers.get('x-marathon-leader')).toBe(second.httpUrl);

      await waitDeployments('the restart finished by the new leader', 40_000);
      const tasks = await waitHealthy('/web', 4);
      expect(tasks.every((t) => !launchedBefore.has(t.id))).toBe(true);
      // Nothing launched twice: every task the agents ever ran for web is a distinct instance, and
      // the restart of 4 with maximumOverCapacity 0 launched 4 new tasks (one over capacity at a time).
      const newTasks = [...seenTasks.keys()].filter((id) => id.startsWith('web.') && !launchedBefore.has(id));
      expect(newTasks.length).toBe(4);
      expect(agentTasks('web')).toHaveLength(4);
    } finally {
      await follower.stop();
    }
  });

  it('lists, scales and shows tasks from the apps CLI, with events on /v2/events', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: { STOA_MARATHON_URL: cluster.marathon.httpUrl }, pollMs: 100 };
    const events = await fetch(`${cluster.marathon.httpUrl}/v2/events?event_type=deployment_success`);
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = '';
    const succeeded = (async () => {
      while (!seen.includes('event: deployment_success')) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
    })();
    expect(await runAppsCli(['scale', '/web', '2'], io)).toBe(0);
    await succeeded;
    await reader.cancel();
    expect(seen).not.toMatch(/event: status_update_event/);
    expect(JSON.parse(/event: deployment_success\ndata: (.*)\n/.exec(seen)![1]!).plan.target.apps[0].instances).toBe(2);
    expect(out.join('')).toMatch(/deployment .* finished/);
    expect(await runAppsCli(['list'], io)).toBe(0);
    expect(out.join('')).toMatch(/\/web\s+2\s+2\s+2/);
    expect(await runAppsCli(['tasks', '/nope'], io)).toBe(1);
    expect(err.join('')).toMatch(/App '\/nope' does not exist/);
    expect(await runAppsCli(['bogus'], io)).toBe(2);
    const help: string[] = [];
    await runMarathonCli(['--help'], (t) => help.push(t));
    for (const flag of ['--nats', '--bucket', '--replicas', '--http-port', '--host', '--framework-name', '--role', '--lease-ms', '--marathon-id', '--log-level', '--config']) {
      expect(help.join('')).toContain(flag);
    }
  });
});
