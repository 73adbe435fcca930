/**
 * Chronos' REST API (hono): every route under `/v1/scheduler` and, for old clients, under
 * `/scheduler`; `/ping` and `/metrics` at the root. The leader answers from its runner; a
 * follower forwards the request to the leader's URL (taken from the lease) and returns its
 * answer, so clients may talk to any instance.
 *
 * | route | what |
 * | --- | --- |
 * | `POST iso8601` | add or replace a scheduled job (204) |
 * | `POST dependency` | add or replace a dependent job (204) |
 * | `GET jobs` | every job with its statistics |
 * | `GET jobs/summary` | `{jobs: [{name, status, state, schedule, parents, disabled}]}` |
 * | `GET jobs/search?name=&command=&any=&limit=&offset=` | jobs whose fields contain the text |
 * | `GET/DELETE/PUT job/{name}` | read; delete (`?force=true` with children); run now (body `{arguments, environmentVariables}` or `?arguments=a,b`) |
 * | `GET job/{name}/runs` | the run history, newest first |
 * | `PUT/POST job/success/{name}` | mark a success: children may run |
 * | `GET job/stat/{name}` | run-time percentiles of a job |
 * | `GET stats/{percentile}` | `[{jobNameLabel, time}]` for every job, `99thPercentile`, `median`, `mean`… |
 * | `DELETE task/kill/{name}` | kill the job's active runs |
 * | `GET graph/dot`, `graph/csv`, `graph/svg` | the dependency graph |
 * | `GET events` | server-sent events of runs and jobs |
 *
 * Errors: 422 with `{code, message, details: [{path, errors}]}` naming the field, 404 for an
 * unknown job, 409 for a delete refused because of children, 503 when no instance leads.
 *
 * @module
 */

import { Hono } from 'hono';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Registry } from 'prom-client';
import { httpStatusOf, JobValidationError } from '../errors.js';
import { renderCsv, renderDot, renderSvg } from '../graph/render.js';
import type { RunOverrides } from '../run/run.js';
import type { ChronosEvent, JobRunner } from '../scheduler.js';
import { mountUi } from '@stoa/ui';

/** What the API needs from the service. */
export interface ApiContext {
  /** The runner, when this instance leads. */
  runner(): JobRunner | undefined;
  /** The leader's HTTP URL, when another instance leads. */
  leaderUrl(): string | undefined;
  /** Subscribes to events; returns the unsubscribe function. */
  onEvent(listener: (event: ChronosEvent) => void): () => void;
  /** The Prometheus registry. */
  metrics: Registry;
  /** This instance's id. */
  instanceId: string;
}

const PERCENTILES: Record<string, number> = {
  median: 0.5,
  '75thPercentile': 0.75,
  '95thPercentile': 0.95,
  '98thPercentile': 0.98,
  '99thPercentile': 0.99,
  '999thPercentile': 0.999,
};

/** The `q` quantile (0..1) of sorted numbers, nearest rank; `undefined` for none. */
export function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function statOf(values: readonly number[], name: string): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  if (name === 'mean') return sorted.length === 0 ? undefined : sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const q = PERCENTILES[name];
  return q === undefined ? undefined : quantile(sorted, q);
}

function errorResponse(c: Context, error: unknown): Response {
  const status = httpStatusOf(error) as ContentfulStatusCode;
  if (JobValidationError.isInstance(error)) return c.json(error.toResponseBody(), status);
  const e = error as { code?: string; message?: string; details?: Record<string, unknown> };
  const field = typeof e.details?.field === 'string' ? e.details.field : undefined;
  return c.json({ code: e.code ?? 'INTERNAL', message: e.message ?? String(error), ...(field !== undefined ? { field } : {}) }, status);
}

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new JobValidationError([{ path: '', message: 'the body is not JSON' }]);
  }
}

/** Per-run overrides from a run-now request: the body `{arguments, environmentVariables}` or `?arguments=a,b`. */
function overridesOf(body: unknown, query: string | undefined): RunOverrides | undefined {
  const out: RunOverrides = {};
  if (query !== undefined && query !== '') out.arguments = query.split(',');
  if (body !== undefined) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new JobValidationError([{ path: '', message: 'must be an object' }]);
    const { arguments: args, environmentVariables: env, ...rest } = body as Record<string, unknown>;
    for (const key of Object.keys(rest)) throw new JobValidationError([{ path: key, message: 'unknown field' }]);
    if (args !== undefined) {
      if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new JobValidationError([{ path: 'arguments', message: 'must be an array of strings' }]);
      out.arguments = args;
    }
    if (env !== undefined) {
      if (!Array.isArray(env)) throw new JobValidationError([{ path: 'environmentVariables', message: 'must be an array of {name, value}' }]);
      out.env = {};
      env.forEach((v: unknown, i) => {
        const ok = typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string' && typeof (v as { value?: unknown }).value === 'string';
        if (!ok) throw new JobValidationError([{ path: `environmentVariables.${i}`, message: 'must be {name, value} with string values' }]);
        out.env![(v as { name: string }).name] = (v as { value: string }).value;
      });
    }
  }
  return out.arguments === undefined && out.env === undefined ? undefined : out;
}

/** The routes of one prefix, answered by the leader's runner. */
function schedulerRoutes(ctx: ApiContext): Hono {
  const api = new Hono();
  const runner = (): JobRunner => ctx.runner()!;

  api.onError((error, c) => errorResponse(c, error));

  api.post('/iso8601', async (c) => {
    await runner().upsertJob(await jsonBody(c), 'iso8601');
    return c.body(null, 204);
  });
  api.post('/dependency', async (c) => {
    await runner().upsertJob(await jsonBody(c), 'dependency');
    return c.body(null, 204);
  });
  api.get('/jobs', (c) => c.json(runner().jobs()));
  api.get('/jobs/summary', (c) => {
    const r = runner();
    const jobs = r.jobs().map((j) => {
      const s = r.nodeStatus(j.name);
      return { name: j.name, status: s.lastStatus, state: s.state ?? 'idle', schedule: j.schedule ?? '', parents: j.parents ?? [], disabled: j.disabled };
    });
    return c.json({ jobs });
  });
  api.get('/jobs/search', (c) => {
    const { name, command, any } = c.req.query();
    const limit = Number(c.req.query('limit') ?? 10_000);
    const offset = Number(c.req.query('offset') ?? 0);
    const has = (field: string | undefined, text: string | undefined) => text === undefined || (field ?? '').toLowerCase().includes(text.toLowerCase());
    const found = runner()
      .jobs()
      .filter((j) => has(j.name, name) && has(j.command, command))
      .filter((j) => any === undefined || [j.name, j.command, j.description, j.owner, j.ownerName].some((f) => has(f, any)));
    return c.json(found.slice(offset, offset + limit));
  });
  api.get('/job/stat/:name', (c) => {
    const name = c.req.param('name');
    const durations = runner().durations(name);
    const histogram = Object.fromEntries(['75thPercentile', '95thPercentile', '98thPercentile', '99thPercentile', 'median', 'mean'].map((p) => [p, statOf(durations, p) ?? 0]));
    const history = runner()
      .runs(name)
      .filter((r) => r.endedAt !== undefined)
      .map((r) => ({ taskId: r.taskIds.at(-1) ?? '', jobName: name, taskStatus: r.status, startedAt: r.startedAt, endedAt: r.endedAt, attempt: r.attempt }));
    return c.json({ histogram: { ...histogram, count: durations.length, unit: 'ms' }, taskStatHistory: history });
  });
  const success = async (c: Context) => {
    await runner().markSuccess(c.req.param('name')!);
    return c.body(null, 204);
  };
  api.put('/job/success/:name', success);
  api.post('/job/success/:name', success);
  api.get('/job/:name/runs', (c) => c.json(runner().runs(c.req.param('name'))));
  api.get('/job/:name', (c) => c.json(runner().job(c.req.param('name'))));
  api.delete('/job/:name', async (c) => {
    const removal = await runner().deleteJob(c.req.param('name'), c.req.query('force') === 'true');
    return removal.rewired.length === 0 ? c.body(null, 204) : c.json(removal, 200);
  });
  api.put('/job/:name', async (c) => {
    const run = await runner().runNow(c.req.param('name'), overridesOf(await jsonBody(c), c.req.query('arguments')));
    return c.json({ run: run.id }, 202);
  });
  api.get('/stats/:percentile', (c) => {
    const p = c.req.param('percentile');
    if (p !== 'mean' && PERCENTILES[p] === undefined) {
      throw new JobValidationError([{ path: 'percentile', message: `one of ${[...Object.keys(PERCENTILES), 'mean'].join(', ')}` }]);
    }
    const r = runner();
    return c.json(r.jobs().map((j) => ({ jobNameLabel: j.name, time: statOf(r.durations(j.name), p) ?? 0 })));
  });
  api.delete('/task/kill/:name', async (c) => {
    const killed = await runner().killJob(c.req.param('name'));
    return c.json({ killed }, 200);
  });
  const statusOf = (name: string) => runner().nodeStatus(name);
  api.get('/graph/dot', (c) => c.text(renderDot(runner().graph, statusOf)));
  api.get('/graph/csv', (c) => c.text(renderCsv(runner().graph, statusOf)));
  api.get('/graph/svg', (c) => c.body(renderSvg(runner().graph, statusOf), 200, { 'content-type': 'image/svg+xml' }));
  api.get('/events', (c) =>
    streamSSE(c, async (stream) => {
      const queue: ChronosEvent[] = [];
      let wake: (() => void) | undefined;
      const off = ctx.onEvent((event) => {
        queue.push(event);
        wake?.();
      });
      stream.onAbort(() => {
        off();
        wake?.();
      });
      while (!stream.aborted) {
        const event = queue.shift();
        if (event === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
      }
      off();
    }),
  );
  return api;
}

const FORWARDED = 'x-chronos-forwarded-by';

/**
 * The whole HTTP app: `/ping`, `/metrics`, and the scheduler routes under both prefixes, with
 * followers forwarding to the leader.
 */
export function createApi(ctx: ApiContext): Hono {
  const app = new Hono();
  mountUi(app, 'chronos');
  app.get('/ping', (c) => c.text('pong'));
  app.get('/metrics', async (c) => c.body(await ctx.metrics.metrics(), 200, { 'content-type': ctx.metrics.contentType }));
  app.get('/v1/leader', (c) => c.json({ leader: ctx.runner() ? 'self' : (ctx.leaderUrl() ?? null), instanceId: ctx.instanceId }));

  const routes = schedulerRoutes(ctx);
  for (const prefix of ['/v1/scheduler', '/scheduler']) {
    app.use(`${prefix}/*`, async (c, next) => {
      if (ctx.runner() !== undefined) return next();
      const leader = ctx.leaderUrl();
      if (leader === undefined || c.req.header(FORWARDED) !== undefined) {
        return c.json({ code: 'NOT_LEADER', message: 'no Chronos instance leads right now; try again' }, 503);
      }
      const url = new URL(c.req.url);
      const headers = new Headers(c.req.raw.headers);
      headers.set(FORWARDED, ctx.instanceId);
      headers.delete('host');
      const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await c.req.arrayBuffer();
      try {
        const answer = await fetch(`${leader}${url.pathname}${url.search}`, { method: c.req.method, headers, ...(body ? { body } : {}) });
        return new Response(answer.body, { status: answer.status, headers: answer.headers });
      } catch (error) {
        return c.json({ code: 'UNAVAILABLE', message: `the leader at ${leader} did not answer: ${String(error)}` }, 503);
      }
    });
    app.route(prefix, routes);
  }
  return app;
}
