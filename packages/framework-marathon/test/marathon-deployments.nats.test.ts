/**
 * Marathon's deployments over a real nats-server with real process agents: HTTP event callbacks
 * (`/v2/eventSubscriptions`) with a failed delivery retried; a restart held back by a readiness
 * check until the new task answers ready; a deployment that makes no progress failing with
 * `NO_PROGRESS` and rolling back by itself; one past its deadline failing with `DEADLINE` while
 * `/v2/queue` says which resource is missing; `DELETE /v2/queue/{id}/delay` resetting the launch
 * backoff.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthyTasks, type Json, type MarathonCluster, SERVER, startMarathonCluster, webApp } from './marathon-cluster.js';

let cluster: MarathonCluster;

beforeAll(async () => {
  cluster = await startMarathonCluster({ agents: 2, portBase: 35000 });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** The JSON lines of a file, or none when it does not exist yet. */
function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

describe('marathon deployments over NATS', () => {
  it('posts events to a callback URL and retries a failed delivery', async () => {
    const received: { status: number; event: Json }[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        // The first delivery fails; every later one is taken.
        const status = received.length === 0 ? 500 : 200;
        received.push({ status, event: JSON.parse(body) });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
    try {
      const subscribed = await cluster.call('POST', `/v2/eventSubscriptions?callbackUrl=${encodeURIComponent(url)}`);
      expect(subscribed.status).toBe(200);
      expect(subscribed.json).toMatchObject({ eventType: 'subscribe_event', callbackUrl: url });
      expect((await cluster.call('GET', '/v2/eventSubscriptions')).json).toEqual({ callbackUrls: [url] });
      // The subscription is in the Store, so a new leader keeps posting.
      const stored = await cluster.store.get('marathon.subscriptions');
      expect(JSON.parse(new TextDecoder().decode(stored!.value))).toEqual({ callbackUrls: [url] });

      await waitFor(() => received.length >= 2, { timeoutMs: 10_000, what: 'the subscribe event delivered again' });
      expect(received[0]!.status).toBe(500);
      expect(received[1]!.status).toBe(200);
      expect(received[0]!.event.eventType).toBe('subscribe_event');
      expect(received[1]!.event).toEqual(received[0]!.event);

      const created = await cluster.call('POST', '/v2/apps', webApp('/hooked'));
      expect(created.status).toBe(201);
      await waitFor(() => received.some((r) => r.event.eventType === 'deployment_success' && r.event.id === created.json.deploymentId), {
        timeoutMs: 25_000,
        intervalMs: 100,
        what: 'deployment_success posted to the callback',
      });
      const types = received.map((r) => r.event.eventType);
      expect(types).toEqual(expect.arrayContaining(['api_post_event', 'deployment_info', 'status_update_event', 'deployment_success']));
      expect(received.find((r) => r.event.eventType === 'status_update_event' && r.event.taskStatus === 'TASK_RUNNING')?.event.appId).toBe('/hooked');

      const bad = await cluster.call('POST', '/v2/eventSubscriptions?callbackUrl=not-a-url');
      expect(bad.status).toBe(422);
      expect(bad.json.details[0].path).toBe('/callbackUrl');
      expect((await cluster.call('DELETE', '/v2/eventSubscriptions')).json.details[0].path).toBe('/callbackUrl');
      const unsubscribed = await cluster.call('DELETE', `/v2/eventSubscriptions?callbackUrl=${encodeURIComponent(url)}`);
      expect(unsubscribed.json).toMatchObject({ eventType: 'unsubscribe_event', callbackUrl: url });
      expect((await cluster.call('GET', '/v2/eventSubscriptions')).json).toEqual({ callbackUrls: [] });
      expect((await cluster.call('DELETE', '/v2/apps/hooked')).status).toBe(200);
      await cluster.waitDeployments('hooked removed');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('keeps the old task until the new one passes its readiness check', async () => {
    const dir = cluster.workDir;
    const readyV1 = join(dir, 'ready-v1');
    const readyV2 = join(dir, 'ready-v2');
    const logV2 = join(dir, 'ready-v2.log');
    writeFileSync(readyV1, '');
    // 200 on every path, except /ready: 503 until $READY_FILE exists; each /ready answer is logged.
    const cmd = `node -e "const fs=require('fs');require('http').createServer((q,s)=>{if(q.url==='/ready'){const ok=fs.existsSync(process.env.READY_FILE);fs.appendFileSync(process.env.READY_LOG,(ok?200:503)+'\\n');s.statusCode=ok?200:503}else s.statusCode=200;s.end('ok')}).listen(+process.env.PORT0)"`;
    const app = webApp('/ready', {
      cmd,
      portDefinitions: [{ port: 0, name: 'http' }],
      readinessChecks: [{ portName: 'http', path: '/ready', intervalSeconds: 2, timeoutSeconds: 1, preserveLastResponse: true }],
      env: { READY_FILE: readyV1, READY_LOG: join(dir, 'ready-v1.log') },
    });
    expect((await cluster.call('POST', '/v2/apps', app)).status).toBe(201);
    const [old] = await cluster.waitHealthy('/ready', 1);
    await cluster.waitDeployments('ready v1 deployed');
    expect(lines(join(dir, 'ready-v1.log'))).toContain('200');

    const change = await cluster.call('PATCH', '/v2/apps/ready', { env: { READY_FILE: readyV2, READY_LOG: logV2 } });
    expect(change.status).toBe(200);
    // The new task is up and healthy, and its readiness check has answered "not ready" twice.
    const fresh = await waitFor(
      async () => {
        const tasks = healthyTasks(await cluster.tasksOf('/ready')).filter((t) => t.id !== old.id);
        return tasks.length === 1 && lines(logV2).filter((l) => l === '503').length >= 2 ? tasks[0] : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'a healthy new task that is not ready' },
    );
    const deployments = (await cluster.call('GET', '/v2/deployments')).json as Json[];
    const running = deployments.find((d) => d.id === change.json.deploymentId);
    expect(running).toBeDefined();
    const results = running.currentActions[0].readinessCheckResults as Json[];
    expect(results).toEqual([{ name: 'readinessCheck', taskId: fresh.id, ready: false, lastResponse: { status: 503, contentType: '', body: 'ok' } }]);
    // Not ready, so the old task still serves.
    expect((await cluster.tasksOf('/ready')).map((t) => t.id)).toContain(old.id);

    writeFileSync(readyV2, '');
    await cluster.waitDeployments('the restart finished once ready', 30_000);
    const tasks = await cluster.tasksOf('/ready');
    expect(tasks.map((t) => t.id)).toEqual([fresh.id]);
    expect(lines(logV2)).toContain('200');
    expect((await cluster.call('DELETE', '/v2/apps/ready')).status).toBe(200);
    await cluster.waitDeployments('ready removed');
  });

  it('fails a deployment that makes no progress and rolls it back by itself', async () => {
    const listener = await cluster.listenEvents(['deployment_failed', 'deployment_success']);
    try {
      expect((await cluster.call('POST', '/v2/apps', webApp('/roll'))).status).toBe(201);
      const [v1Task] = await cluster.waitHealthy('/roll', 1);
      await cluster.waitDeployments('roll v1 deployed');
      const v1 = (await cluster.call('GET', '/v2/apps/roll')).json.app;

      // The new version never passes its health check.
      const broken = await cluster.call('PATCH', '/v2/apps/roll', {
        env: { FAIL: '1' },
        upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1, progressDeadlineSeconds: 4, autoRollback: true },
      });
      expect(broken.status).toBe(200);
      const failed = await waitFor(() => listener.events.find((e) => e.eventType === 'deployment_failed' && e.id === broken.json.deploymentId), {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'the broken deployment failed',
      });
      expect(failed.reason).toBe('NO_PROGRESS');
      expect(failed.message).toMatch(/made no progress for 4s/);

      // The rollback: a deployment of its own, back to the first definition.
      await cluster.waitDeployments('the rollback finished', 30_000);
      const rollback = listener.events.find((e) => e.eventType === 'deployment_success' && e.plan.target.apps[0]?.id === '/roll' && e.id !== broken.json.deploymentId);
      expect(rollback).toBeDefined();
      const app = (await cluster.call('GET', '/v2/apps/roll')).json.app;
      expect(app.env).toEqual({});
      expect(app.upgradeStrategy).toEqual(v1.upgradeStrategy);
      expect(app.version > broken.json.version).toBe(true);
      // minimumHealthCapacity 1: the first task served throughout and is the one left.
      const tasks = await cluster.waitHealthy('/roll', 1);
      expect(tasks[0].id).toBe(v1Task.id);
      expect((await cluster.call('GET', '/v2/apps/roll/versions')).json.versions).toHaveLength(3);
    } finally {
      await listener.stop();
    }
    expect((await cluster.call('DELETE', '/v2/apps/roll')).status).toBe(200);
    await cluster.waitDeployments('roll removed');
  });

  it('fails a deployment at its deadline without rollback, and the queue names the missing resource', async () => {
    const listener = await cluster.listenEvents(['deployment_failed']);
    try {
      // More memory than any agent has: it can never launch.
      const huge = await cluster.call('POST', '/v2/apps', { id: '/huge', cmd: SERVER, cpus: 0.05, mem: 8192, upgradeStrategy: { deadlineSeconds: 3 } });
      expect(huge.status).toBe(201);
      const failed = await waitFor(() => listener.events.find((e) => e.eventType === 'deployment_failed' && e.id === huge.json.deploymentId), {
        timeoutMs: 20_000,
        intervalMs: 50,
        what: 'the deployment of /huge failed',
      });
      expect(failed.reason).toBe('DEADLINE');
      expect((await cluster.call('GET', '/v2/deployments')).json).toEqual([]);
      // No rollback: the app stays as asked, and still waits to launch.
      expect((await cluster.call('GET', '/v2/apps/huge')).json.app).toMatchObject({ mem: 8192, instances: 1 });
      const entry = await waitFor(
        async () => {
          const queue = (await cluster.call('GET', '/v2/queue')).json.queue as Json[];
          const e = queue.find((q) => q.app.id === '/huge');
          return e?.processedOffersSummary.rejectSummaryLastOffers.some((r: Json) => r.reason === 'InsufficientMemory' && r.declined > 0) ? e : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 100, what: 'the queue naming memory' },
      );
      expect(entry.count).toBe(1);
      expect(entry.processedOffersSummary.rejectSummaryLastOffers.find((r: Json) => r.reason === 'UnfulfilledConstraint').declined).toBe(0);
      expect(entry.lastUnusedOffers[0].reason).toContain('InsufficientMemory');
      expect(entry.lastUnusedOffers[0].details.join(' ')).toMatch(/mem/);
    } finally {
      await listener.stop();
    }
    expect((await cluster.call('DELETE', '/v2/apps/huge')).status).toBe(200);
    await cluster.waitDeployments('huge removed');
    expect(((await cluster.call('GET', '/v2/queue')).json.queue as Json[]).some((q) => q.app.id === '/huge')).toBe(false);
  });

  it('resets the launch delay of a crashing app on DELETE /v2/queue/{id}/delay', async () => {
    const crash = { id: '/crash', cmd: 'sleep 1; exit 1', cpus: 0.05, mem: 16, backoffSeconds: 60, backoffFactor: 1, maxLaunchDelaySeconds: 300 };
    expect((await cluster.call('POST', '/v2/apps', crash)).status).toBe(201);
    const firstFailure = await waitFor(async () => (await cluster.call('GET', '/v2/apps/crash')).json.app.lastTaskFailure?.taskId as string | undefined, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the first crash',
    });
    const delayed = await waitFor(
      async () => (((await cluster.call('GET', '/v2/queue')).json.queue as Json[]).find((q) => q.app.id === '/crash' && q.delay.timeLeftSeconds > 30)),
      { timeoutMs: 10_000, intervalMs: 100, what: 'the crash app delayed' },
    );
    expect(delayed.delay.overdue).toBe(false);

    const reset = await cluster.call('DELETE', '/v2/queue/crash/delay');
    expect(reset.status).toBe(204);
    const after = ((await cluster.call('GET', '/v2/queue')).json.queue as Json[]).find((q) => q.app.id === '/crash');
    expect(after?.delay.timeLeftSeconds ?? 0).toBe(0);
    // Launched again at once (not 60 s later), so it crashes again.
    await waitFor(async () => (await cluster.call('GET', '/v2/apps/crash')).json.app.lastTaskFailure?.taskId !== firstFailure, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'a second crash after the reset',
    });

    const missing = await cluster.call('DELETE', '/v2/queue/nope/delay');
    expect(missing.status).toBe(404);
    expect(missing.json.message).toBe('Application /nope not found in tasks queue.');
    expect((await cluster.call('DELETE', '/v2/apps/crash?force=true')).status).toBe(200);
    await cluster.waitDeployments('crash removed');
  });
});
