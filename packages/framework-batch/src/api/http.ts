/**
 * The batch framework's REST API (hono on node's http server), port 4500 by default:
 *
 * | route | |
 * | --- | --- |
 * | `POST /v1/jobs[?baseDir=/abs/dir]` | submit a spec, YAML or JSON (201; 422 naming the field) |
 * | `GET /v1/jobs` | every job's summary, newest first |
 * | `GET /v1/jobs/{id}[?tasks=true]` | progress per stage (with its `dependsOn` and `gang`); the tasks with their outputs (always for jobs of ≤ 1000 tasks) |
 * | `DELETE /v1/jobs/{id}` | cancel: its tasks are killed |
 * | `GET /v1/jobs/{id}/tasks/{taskId}` | one task (`map.3` or the full id): state, attempts, exit code, stdout tail, result |
 * | `GET /v1/events` | server-sent events: job and stage progress, task ends ({@link BatchEvent}) |
 * | `GET /ping`, `GET /metrics` | liveness, Prometheus |
 *
 * Errors are `{ error: { code, message, field? , issues? } }`. A follower (not the leader) proxies
 * every route but `/ping` and `/metrics` to the leader.
 *
 * @module
 */

import { type ServerType, serve } from '@hono/node-server';
import { fromUnknown, httpError } from '@stoa/sdk';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { BatchEvent } from '../events.js';
import type { BatchMetrics } from '../metrics.js';
import type { TaskProgress } from '../plan/job-state.js';
import type { BatchScheduler } from '../scheduler.js';
import { JobSpecError } from '../spec/errors.js';
import { mountUi } from '@stoa/ui';

/** Jobs with at most this many tasks list them in `GET /v1/jobs/{id}` without `?tasks=true`. */
export const TASKS_INLINE_LIMIT = 1000;

/** Options of {@link startHttpApi}. */
export interface HttpApiOptions {
  port: number;
  host: string;
  metrics: BatchMetrics;
  /** The scheduler when this instance leads; undefined while it follows. */
  scheduler(): BatchScheduler | undefined;
  /** The leader's API, when another instance leads. */
  leaderUrl(): string | undefined;
}

/** A running API server. */
export interface HttpApiHandle {
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

/** A task as the API shows it. */
function taskView(task: TaskProgress) {
  const { pendingSinceMs: _p, retries: _r, backoffMs: _b, ...rest } = task;
  return rest;
}

/** Starts the API; port 0 picks a free port. */
export async function startHttpApi(options: HttpApiOptions): Promise<HttpApiHandle> {
  const app = new Hono();
  const notFound = (what: string) => ({ error: { code: 'NOT_FOUND', message: `no ${what}` } });

  app.onError((error, c) => {
    if (JobSpecError.isInstance(error)) {
      return c.json({ error: { code: 'INVALID_JOB_SPEC', message: error.message, field: error.issues[0]?.path ?? '', issues: error.issues } }, 422);
    }
    const { status, body } = httpError(fromUnknown(error));
    return c.json(body, status);
  });

  mountUi(app, 'batch');
  app.get('/ping', (c) => c.text('pong'));
  app.get('/metrics', async (c) => c.text(await options.metrics.registry.metrics(), 200, { 'content-type': options.metrics.registry.contentType }));

  // Everything else needs the leader: here, or proxied to it.
  app.use(async (c, next) => {
    if (options.scheduler() !== undefined) return next();
    const leader = options.leaderUrl();
    if (leader === undefined) return c.json({ error: { code: 'NOT_LEADER', message: 'no batch framework leads yet; try again shortly' } }, 503);
    const target = new URL(c.req.url);
    const base = new URL(leader);
    target.protocol = base.protocol;
    target.host = base.host;
    const req = c.req.raw;
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
    const res = await fetch(target, { method: req.method, headers: req.headers, ...(body !== undefined ? { body } : {}), signal: req.signal });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });

  const scheduler = () => options.scheduler()!;

  app.post('/v1/jobs', async (c) => {
    const text = await c.req.text();
    const baseDir = c.req.query('baseDir') ?? process.cwd();
    const job = await scheduler().submit(text, baseDir);
    return c.json(job, 201, { location: `/v1/jobs/${job.jobId}` });
  });
  app.get('/v1/jobs', (c) => c.json({ jobs: scheduler().list() }));
  app.get('/v1/jobs/:id', (c) => {
    const found = scheduler().job(c.req.param('id'));
    if (found === undefined) return c.json(notFound(`job ${c.req.param('id')}`), 404);
    const withTasks = c.req.query('tasks') === 'true' || (c.req.query('tasks') !== 'false' && found.entry.planned.size <= TASKS_INLINE_LIMIT);
    const plans = found.entry.state.stages;
    const tasks = withTasks ? plans.flatMap((s) => s.taskIds.map((id) => taskView(found.entry.state.tasks[id]!))) : undefined;
    // The detail adds each stage's place in the plan (what it waits for, whether it is a gang) to its progress.
    const stages = found.summary.stages.map((s, i) => ({ ...s, dependsOn: plans[i]?.dependsOn ?? [], gang: plans[i]?.gang ?? false }));
    return c.json({ ...found.summary, stages, ...(tasks !== undefined ? { tasks } : {}) });
  });
  app.delete('/v1/jobs/:id', async (c) => {
    const job = await scheduler().cancel(c.req.param('id'));
    if (job === undefined) return c.json(notFound(`job ${c.req.param('id')}`), 404);
    return c.json(job);
  });
  app.get('/v1/jobs/:id/tasks/:taskId', (c) => {
    const jobId = c.req.param('id');
    const found = scheduler().job(jobId);
    if (found === undefined) return c.json(notFound(`job ${jobId}`), 404);
    const given = c.req.param('taskId');
    const task = found.entry.state.tasks[given] ?? found.entry.state.tasks[`${jobId}.${given}`];
    if (task === undefined) return c.json(notFound(`task ${given} in job ${jobId}`), 404);
    return c.json({ jobId, ...taskView(task) });
  });
  app.get('/v1/events', (c) =>
    streamSSE(c, async (stream) => {
      const queue: BatchEvent[] = [];
      let wake: (() => void) | undefined;
      const off = scheduler().onEvent((event) => {
        queue.push(event);
        wake?.();
      });
      stream.onAbort(() => {
        off();
        wake?.();
      });
      await stream.writeSSE({ event: 'subscribed', data: '{}' });
      while (!stream.aborted && !stream.closed) {
        const next = queue.shift();
        if (next !== undefined) {
          await stream.writeSSE({ event: next.type, data: JSON.stringify(next) });
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      off();
    }),
  );

  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        const s = server as unknown as { closeAllConnections?: () => void; close(cb: () => void): void };
        s.close(() => resolve());
        s.closeAllConnections?.();
      }),
  };
}
