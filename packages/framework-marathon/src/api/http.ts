/**
 * Marathon's REST API (hono): `/v2/apps`, `/v2/groups`, `/v2/deployments`, `/v2/tasks`,
 * `/v2/queue`, `/v2/events`, `/v2/eventSubscriptions`, `/v2/info`, `/v2/leader`, `/ping` and
 * `/metrics`, with Marathon's paths, shapes and status codes. Every change goes through one
 * function, {@link MarathonScheduler.deploy}, with the whole set of apps as they are to be.
 *
 * A follower forwards every request but `/ping` and `/metrics` to the leader (with `fetch`, not a
 * redirect) and passes the answer on; every answer carries `X-Marathon-Leader`.
 *
 * @example
 * ```ts
 * const app = createApi({ scheduler: () => current, events, leadership, registry, abdicate, info });
 * serve({ fetch: app.fetch, port: 8080 });
 * ```
 * @module
 */

import { fromUnknown } from '@stoa/sdk';
import { mountUi } from '@stoa/ui';
import { type Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { parseGroupUpdate, removedByGroupUpdate } from '../app/group-update.js';
import { buildGroupTree, DependencyCycleError } from '../app/groups.js';
import { checkId, isWithin, ROOT_ID } from '../app/ids.js';
import { type App, AppDefinitionSchema } from '../app/schema.js';
import { AppValidationError, mergeApp, parseApp, replaceApp, type ValidationDetail } from '../app/validate.js';
import { stampVersion } from '../app/version.js';
import { toDeployableApp } from '../deployment/deployable-app.js';
import { UpgradeStrategyError } from '../deployment/errors.js';
import { validateDeployable } from '../deployment/validate.js';
import { type EventBus, MARATHON_EVENT_TYPES, type MarathonEvent } from '../events.js';
import type { DeploymentRef, MarathonScheduler } from '../scheduler.js';
import { appJson, deploymentJson, launchedInstances, parseEmbed, queueJson, taskJson } from './format.js';

/** Who leads, as the API needs to know it. */
export interface Leadership {
  /** Whether this instance leads and its scheduler runs. */
  leading: boolean;
  /** The leader's REST API, when known. */
  leaderUrl: string | undefined;
}

/** What {@link createApi} needs. */
export interface ApiContext {
  /** The scheduler, while this instance leads. */
  scheduler(): MarathonScheduler | undefined;
  /** The event bus. */
  events: EventBus;
  /** Who leads. */
  leadership(): Leadership;
  /** Prometheus metrics. */
  registry: Registry;
  /** Gives up leadership (`DELETE /v2/leader`). */
  abdicate(): Promise<void>;
  /** Stores the event subscriptions. */
  saveCallbackUrls(urls: string[]): Promise<void>;
  /** What `/v2/info` shows. */
  info(): Record<string, unknown>;
  /** This instance's own REST API URL. */
  selfUrl(): string;
}

const PROXIED = 'x-marathon-proxied';
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host']);

/** An HTTP error with Marathon's body. */
class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message ?? status));
  }
}

function notFound(appId: string): HttpError {
  return new HttpError(404, { message: `App '${appId}' does not exist` });
}

/** The Marathon-shaped error answer for anything thrown. */
function errorAnswer(error: unknown): { status: ContentfulStatusCode; body: Record<string, unknown> } {
  if (error instanceof HttpError) return { status: error.status, body: error.body };
  if (AppValidationError.isInstance(error)) return { status: 422, body: { ...error.body } };
  if (DependencyCycleError.isInstance(error)) return { status: 422, body: { message: 'Object is not valid', details: [{ path: '/dependencies', errors: [error.message] }] } };
  if (UpgradeStrategyError.isInstance(error)) {
    return { status: 422, body: { message: 'Object is not valid', details: error.issues.map((i) => ({ path: `/${i.field.replaceAll('.', '/').replace(/\[(\d+)\]/g, '($1)')}`, errors: [i.message] })) } };
  }
  const e = fromUnknown(error);
  if (e.code === 'CONFLICT') return { status: 409, body: { message: e.message, ...(Array.isArray(e.details.deployments) ? { deployments: e.details.deployments } : {}) } };
  if (e.code === 'NOT_FOUND') return { status: 404, body: { message: e.message } };
  if (e.code === 'VALIDATION_ERROR') {
    const field = typeof e.details.field === 'string' ? e.details.field : '';
    return { status: 422, body: { message: 'Object is not valid', details: [{ path: `/${field}`, errors: [e.message] }] } };
  }
  return { status: 500, body: { message: e.message } };
}

async function jsonBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, { message: 'Invalid JSON' });
  }
}

function flag(value: string | undefined): boolean {
  return value === 'true' || value === '';
}

/** Refuses an app whose strategy a deployment could never carry out (422 naming the field). */
function assertDeployable(app: App): void {
  const errors = validateDeployable(toDeployableApp(app)).filter((i) => i.severity === 'error');
  if (errors.length > 0) throw new UpgradeStrategyError(app.id, errors);
}

/** Builds the REST API. */
export function createApi(ctx: ApiContext): Hono {
  const api = new Hono();

  const leader = (): MarathonScheduler => {
    const scheduler = ctx.scheduler();
    if (!scheduler) throw new HttpError(503, { message: 'Leader not ready: try again shortly' });
    return scheduler;
  };

  /**
   * Stamps the changed apps and deploys the whole set. The edit runs on the apps of the moment,
   * one change at a time (see `MarathonScheduler.deploy`), so concurrent changes all land.
   */
  const change = async (edit: (apps: Map<string, App>) => void, options: { force: boolean; restart?: string[] }): Promise<DeploymentRef> => {
    const scheduler = leader();
    return scheduler.deploy((current) => {
      const next = new Map(current);
      edit(next);
      const now = new Date();
      for (const [id, app] of next) {
        const previous = current.get(id);
        if (app === previous) continue;
        assertDeployable(app);
        next.set(id, stampVersion(app, previous, now));
      }
      return next;
    }, options);
  };

  api.onError((error, c) => {
    const { status, body } = errorAnswer(error);
    return c.json(body, status);
  });

  // Every instance serves the page; its API calls are forwarded to the leader like any other.
  mountUi(api, 'marathon');
  // The JSON Schema of an app definition, derived from the schema the API validates with (as
  // Marathon's /v2/schemas/app): the web form is built from it.
  const appJsonSchema = z.toJSONSchema(AppDefinitionSchema, { io: 'input', unrepresentable: 'any' });
  api.get('/v2/schemas/app', (c) => c.json(appJsonSchema));

  // Followers forward to the leader; every answer says who leads.
  api.use(async (c, next) => {
    const who = ctx.leadership();
    const path = new URL(c.req.url).pathname;
    if (who.leading || path === '/ping' || path === '/metrics') {
      await next();
      if (who.leaderUrl) c.header('X-Marathon-Leader', who.leaderUrl);
      return;
    }
    if (!who.leaderUrl || c.req.header(PROXIED)) {
      return c.json({ message: 'Leader not ready: no marathon leads at the moment' }, 503);
    }
    const url = new URL(c.req.url);
    const target = new URL(`${url.pathname}${url.search}`, who.leaderUrl);
    const headers = new Headers();
    c.req.raw.headers.forEach((value, key) => {
      if (!HOP_BY_HOP.has(key)) headers.set(key, value);
    });
    headers.set(PROXIED, ctx.selfUrl());
    const method = c.req.method;
    const body = method === 'GET' || method === 'HEAD' ? undefined : await c.req.arrayBuffer();
    let upstream: Response;
    try {
      upstream = await fetch(target, { method, headers, ...(body ? { body } : {}), redirect: 'manual', signal: c.req.raw.signal });
    } catch (error) {
      return c.json({ message: `the leader at ${who.leaderUrl} did not answer: ${String(error)}` }, 502);
    }
    const out = new Headers();
    upstream.headers.forEach((value, key) => {
      if (!HOP_BY_HOP.has(key)) out.set(key, value);
    });
    out.set('X-Marathon-Leader', who.leaderUrl);
    return new Response(upstream.body ? endsWithClient(upstream.body, c.req.raw.signal) : null, { status: upstream.status, headers: out });
  });

  api.get('/ping', (c) => c.text('pong'));
  api.get('/metrics', async (c) => c.text(await ctx.registry.metrics(), 200, { 'content-type': ctx.registry.contentType }));
  api.get('/v2/info', (c) => c.json(ctx.info()));
  api.get('/v2/leader', (c) => {
    const who = ctx.leadership();
    if (!who.leaderUrl) throw new HttpError(404, { message: 'There is no leader' });
    return c.json({ leader: new URL(who.leaderUrl).host });
  });
  api.delete('/v2/leader', async (c) => {
    await ctx.abdicate();
    return c.json({ message: 'Leadership abdicated' });
  });

  // ---- apps ----------------------------------------------------------------------------------

  api.get('/v2/apps', (c) => {
    const scheduler = leader();
    const embed = parseEmbed(c.req.queries('embed') ?? []);
    const idFilter = c.req.query('id');
    const cmdFilter = c.req.query('cmd');
    const labelFilter = c.req.query('label');
    const apps = [...scheduler.apps.values()]
      .filter((app) => idFilter === undefined || app.id.includes(idFilter))
      .filter((app) => cmdFilter === undefined || (app.cmd ?? app.args?.join(' ') ?? '').includes(cmdFilter))
      .filter((app) => labelFilter === undefined || matchesLabels(app, labelFilter))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return c.json({ apps: apps.map((app) => appJson(scheduler, app, embed)) });
  });

  api.post('/v2/apps', async (c) => {
    const scheduler = leader();
    const app = parseApp(await jsonBody(c.req.raw));
    const ref = await change(
      (apps) => {
        if (apps.has(app.id)) throw new HttpError(409, { message: `An app with id [${app.id}] already exists.` });
        apps.set(app.id, app);
      },
      { force: flag(c.req.query('force')) },
    );
    ctx.events.emit('api_post_event', { clientIp: null, uri: `/v2/apps${app.id}`, appDefinition: scheduler.apps.get(app.id) });
    const stored = scheduler.apps.get(app.id) ?? app;
    c.header('Location', new URL(`/v2/apps${app.id}`, c.req.url).toString());
    return c.json({ ...appJson(scheduler, stored, parseEmbed([])), deployments: [{ id: ref.deploymentId }], deploymentId: ref.deploymentId }, 201);
  });

  const bulk = (merge: boolean) => async (c: Context) => {
    const scheduler = leader();
    const body = await jsonBody(c.req.raw);
    if (!Array.isArray(body)) throw new HttpError(422, { message: 'Object is not valid', details: [{ path: '/', errors: ['expected an array of apps'] }] });
    const details: ValidationDetail[] = [];
    const updated: App[] = [];
    body.forEach((item, i) => {
      const id = typeof item === 'object' && item !== null && typeof (item as { id?: unknown }).id === 'string' ? checkId((item as { id: string }).id) : undefined;
      const current = id?.ok ? scheduler.apps.get(id.id) : undefined;
      try {
        const app = !current ? parseApp(item) : merge ? mergeApp(current, item) : replaceApp(current, item);
        if (updated.some((a) => a.id === app.id)) details.push({ path: `/(${i})/id`, errors: [`${app.id} is given twice`] });
        else updated.push(app);
      } catch (error) {
        if (!AppValidationError.isInstance(error)) throw error;
        for (const d of error.details.details) details.push({ path: `/(${i})${d.path === '/' ? '' : d.path}`, errors: d.errors });
      }
    });
    if (details.length > 0) throw new AppValidationError(details);
    const ref = await change((apps) => {
      for (const app of updated) apps.set(app.id, app);
    }, { force: flag(c.req.query('force')) });
    return c.json(ref);
  };
  api.put('/v2/apps', bulk(false));
  api.patch('/v2/apps', bulk(true));

  api.all('/v2/apps/*', async (c) => {
    const scheduler = leader();
    const rest = decodeURIComponent(new URL(c.req.url).pathname.slice('/v2/apps'.length));
    const match = /^(.*?)(?:\/(restart|tasks|versions)(?:\/([^/]+))?)?\/?$/.exec(rest);
    const checked = checkId(match?.[1] ?? '');
    if (!checked.ok || checked.id === ROOT_ID) throw new HttpError(404, { message: `App '${rest}' does not exist` });
    const appId = checked.id;
    const sub = match?.[2];
    const arg = match?.[3];
    const method = c.req.method;
    const force = flag(c.req.query('force'));
    const current = scheduler.apps.get(appId);

    if (sub === undefined) {
      if (method === 'GET') {
        if (!current) throw notFound(appId);
        const embed = parseEmbed(c.req.queries('embed') ?? [], { tasks: true, lastTaskFailure: true });
        return c.json({ app: appJson(scheduler, current, embed) });
      }
      if (method === 'PUT' || method === 'PATCH') {
        const body = await jsonBody(c.req.raw);
        const keys = typeof body === 'object' && body !== null ? Object.keys(body) : [];
        let next: App;
        if (keys.length === 1 && keys[0] === 'version' && method === 'PUT') {
          const version = (body as { version: unknown }).version;
          const old = scheduler.versions.get(appId)?.find((v) => v.version === version);
          if (!old) throw new HttpError(404, { message: `Version '${String(version)}' of app '${appId}' does not exist` });
          next = { ...old };
        } else if (current) next = method === 'PUT' ? replaceApp(current, body) : mergeApp(current, body);
        else next = parseApp({ ...(body as object), id: appId });
        if (next.id !== appId) throw new HttpError(422, { message: 'Object is not valid', details: [{ path: '/id', errors: [`does not match the path (${appId})`] }] });
        const ref = await change((apps) => apps.set(appId, next), { force });
        return c.json(ref, current ? 200 : 201);
      }
      if (method === 'DELETE') {
        if (!current) throw notFound(appId);
        return c.json(await change((apps) => apps.delete(appId), { force }));
      }
    }
    if (!current) throw notFound(appId);
    if (sub === 'restart' && method === 'POST') {
      const ref = await scheduler.deploy((apps) => new Map(apps), { force, restart: [appId] });
      return c.json(ref);
    }
    if (sub === 'tasks') {
      if (method === 'GET') return c.json({ tasks: launchedInstances(scheduler, appId).map((i) => taskJson(scheduler, i)) });
      if (method === 'DELETE') {
        const host = c.req.query('host');
        const ids = arg !== undefined ? [arg] : launchedInstances(scheduler, appId).filter((i) => host === undefined || i.hostname === host).map((i) => i.taskId);
        if (arg !== undefined && scheduler.instances.get(arg)?.appId !== appId) throw new HttpError(404, { message: `Task '${arg}' does not exist` });
        const { killed, deployment } = await scheduler.killInstances(ids, { scale: flag(c.req.query('scale')), wipe: flag(c.req.query('wipe')) });
        if (deployment) return c.json(deployment);
        const tasks = killed.map((i) => taskJson(scheduler, i));
        return c.json(arg !== undefined ? { task: tasks[0] } : { tasks });
      }
    }
    if (sub === 'versions' && method === 'GET') {
      const versions = scheduler.versions.get(appId) ?? [];
      if (arg === undefined) return c.json({ versions: versions.map((v) => v.version).reverse() });
      const found = versions.find((v) => v.version === arg);
      if (!found) throw new HttpError(404, { message: `Version '${arg}' of app '${appId}' does not exist` });
      return c.json(found);
    }
    throw new HttpError(405, { message: `${method} is not supported on this path` });
  });

  // ---- groups --------------------------------------------------------------------------------

  api.all('/v2/groups/*', groupRoute);
  api.all('/v2/groups', groupRoute);
  async function groupRoute(c: Context) {
    const scheduler = leader();
    const rest = decodeURIComponent(new URL(c.req.url).pathname.slice('/v2/groups'.length)) || '/';
    const checked = checkId(rest);
    if (!checked.ok) throw new HttpError(404, { message: `Group '${rest}' does not exist` });
    const groupId = checked.id;
    const force = flag(c.req.query('force'));
    const under = [...scheduler.apps.values()].filter((a) => isWithin(a.id, groupId));
    if (c.req.method === 'GET') {
      const tree = buildGroupTree([...scheduler.apps.values()]);
      const find = (g: typeof tree): typeof tree | undefined => (g.id === groupId ? g : g.groups.map(find).find((x) => x !== undefined));
      const group = find(tree);
      if (!group) throw new HttpError(404, { message: `Group '${groupId}' does not exist` });
      return c.json(group);
    }
    if (c.req.method === 'DELETE') {
      if (under.length === 0 && groupId !== ROOT_ID) throw new HttpError(404, { message: `Group '${groupId}' does not exist` });
      return c.json(
        await change((apps) => {
          for (const a of under) apps.delete(a.id);
        }, { force }),
      );
    }
    if (c.req.method === 'PUT' || c.req.method === 'POST') {
      const update = parseGroupUpdate(await jsonBody(c.req.raw), groupId);
      if (update.kind === 'scale') {
        if (under.length === 0) throw new HttpError(404, { message: `Group '${groupId}' does not exist` });
        return c.json(
          await change((apps) => {
            for (const a of under) apps.set(a.id, { ...a, instances: Math.ceil(a.instances * update.scaleBy) });
          }, { force }),
        );
      }
      const details: ValidationDetail[] = [];
      const parsed: App[] = [];
      for (const item of update.apps) {
        try {
          const app = parseApp(item.definition, { baseGroup: item.group });
          if (app.id === item.group || !isWithin(app.id, item.group)) {
            details.push({ path: `${item.path}/id`, errors: [`${app.id} does not lie in the group ${item.group}`] });
            continue;
          }
          if (parsed.some((a) => a.id === app.id)) {
            details.push({ path: `${item.path}/id`, errors: [`${app.id} is given twice`] });
            continue;
          }
          const existing = scheduler.apps.get(app.id);
          parsed.push(existing ? replaceApp(existing, { ...item.definition, id: app.id }) : app);
        } catch (error) {
          if (!AppValidationError.isInstance(error)) throw error;
          for (const d of error.details.details) details.push({ path: `${item.path}${d.path === '/' ? '' : d.path}`, errors: d.errors });
        }
      }
      if (details.length > 0) throw new AppValidationError(details);
      const listed = new Set(parsed.map((a) => a.id));
      const removed = removedByGroupUpdate(update, under.map((a) => a.id), listed);
      const ref = await change((apps) => {
        for (const id of removed) apps.delete(id);
        for (const a of parsed) apps.set(a.id, a);
      }, { force });
      return c.json(ref, c.req.method === 'POST' ? 201 : 200);
    }
    throw new HttpError(405, { message: `${c.req.method} is not supported on this path` });
  }

  // ---- deployments, tasks, queue -------------------------------------------------------------

  api.get('/v2/deployments', (c) => {
    const scheduler = leader();
    return c.json([...scheduler.deployments.values()].map((d) => deploymentJson(d, scheduler)));
  });
  api.delete('/v2/deployments/:id', async (c) => {
    const scheduler = leader();
    const id = c.req.param('id');
    if (!scheduler.deployments.has(id)) throw new HttpError(404, { message: `DeploymentPlan ${id} does not exist` });
    const force = flag(c.req.query('force'));
    const ref = await scheduler.cancelDeployment(id, { force });
    if (!ref) return c.body(null, 202);
    return c.json(ref);
  });

  api.get('/v2/tasks', (c) => {
    const scheduler = leader();
    const status = c.req.query('status');
    const tasks = launchedInstances(scheduler)
      .map((i) => taskJson(scheduler, i))
      .filter((t) => status === undefined || String(t.state).toLowerCase() === `task_${status.toLowerCase()}`);
    return c.json({ tasks });
  });
  api.post('/v2/tasks/delete', async (c) => {
    const scheduler = leader();
    const body = (await jsonBody(c.req.raw)) as { ids?: unknown };
    if (!Array.isArray(body.ids) || !body.ids.every((id) => typeof id === 'string')) {
      throw new HttpError(422, { message: 'Object is not valid', details: [{ path: '/ids', errors: ['expected an array of task ids'] }] });
    }
    const { killed, deployment } = await scheduler.killInstances(body.ids as string[], { scale: flag(c.req.query('scale')), wipe: flag(c.req.query('wipe')) });
    if (deployment) return c.json(deployment);
    return c.json({ tasks: killed.map((i) => taskJson(scheduler, i)) });
  });
  api.get('/v2/queue', (c) => c.json(queueJson(leader())));
  // Marathon's `DELETE /v2/queue/{appId}/delay`: the app's launch delay is reset.
  api.delete('/v2/queue/*', (c) => {
    const scheduler = leader();
    const rest = decodeURIComponent(new URL(c.req.url).pathname.slice('/v2/queue'.length));
    const match = /^(.+)\/delay\/?$/.exec(rest);
    if (!match) throw new HttpError(404, { message: `DELETE ${new URL(c.req.url).pathname} is not part of the API` });
    const checked = checkId(match[1]!);
    const appId = checked.ok ? checked.id : match[1]!;
    if (!checked.ok || !scheduler.resetDelay(appId)) throw new HttpError(404, { message: `Application ${appId} not found in tasks queue.` });
    return c.body(null, 204);
  });

  // ---- events --------------------------------------------------------------------------------

  api.get('/v2/events', (c) => {
    const wanted = new Set(c.req.queries('event_type') ?? []);
    return streamSSE(c, async (stream) => {
      const queue: MarathonEvent[] = [];
      let wake: (() => void) | undefined;
      const stop = ctx.events.listen((event) => {
        if (wanted.size > 0 && !wanted.has(event.eventType)) return;
        queue.push(event);
        wake?.();
      });
      stream.onAbort(() => {
        stop();
        wake?.();
      });
      await stream.writeSSE({ event: 'event_stream_attached', data: JSON.stringify({ eventType: 'event_stream_attached', timestamp: new Date().toISOString() }) });
      while (!stream.aborted && !stream.closed) {
        const event = queue.shift();
        if (event) {
          await stream.writeSSE({ event: event.eventType, data: JSON.stringify(event) });
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 15_000).unref();
        });
        wake = undefined;
        if (queue.length === 0 && !stream.aborted) await stream.write(': keep-alive\n\n');
      }
      stop();
    });
  });
  api.get('/v2/eventSubscriptions', (c) => c.json({ callbackUrls: ctx.events.callbackUrls }));
  api.post('/v2/eventSubscriptions', async (c) => {
    const url = c.req.query('callbackUrl');
    if (!url || !URL.canParse(url)) throw new HttpError(422, { message: 'Object is not valid', details: [{ path: '/callbackUrl', errors: ['expected an absolute URL'] }] });
    ctx.events.subscribe(url);
    await ctx.saveCallbackUrls(ctx.events.callbackUrls);
    return c.json(ctx.events.emit('subscribe_event', { clientIp: null, callbackUrl: url }));
  });
  api.delete('/v2/eventSubscriptions', async (c) => {
    const url = c.req.query('callbackUrl');
    if (!url) throw new HttpError(422, { message: 'Object is not valid', details: [{ path: '/callbackUrl', errors: ['expected the callback URL to remove'] }] });
    ctx.events.unsubscribe(url);
    await ctx.saveCallbackUrls(ctx.events.callbackUrls);
    return c.json(ctx.events.emit('unsubscribe_event', { clientIp: null, callbackUrl: url }));
  });

  api.notFound((c) => c.json({ message: `${c.req.method} ${new URL(c.req.url).pathname} is not part of the API` }, 404));
  return api;
}

/**
 * A forwarded answer's body that just ends when the client has gone (which aborts the request to
 * the leader), instead of failing with `aborted`; any other failure of the leader's answer still
 * fails it.
 */
function endsWithClient(body: ReadableStream<Uint8Array>, client: AbortSignal): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        if (client.aborted) controller.close();
        else controller.error(error);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** Marathon's label filter: `key==value`, `key!=value`, or `key` (present), comma-separated, all must hold. */
function matchesLabels(app: App, filter: string): boolean {
  return filter.split(',').every((term) => {
    const eq = /^(.+?)(==|!=)(.*)$/.exec(term.trim());
    if (!eq) return Object.hasOwn(app.labels, term.trim());
    const value = app.labels[eq[1]!];
    return eq[2] === '==' ? value === eq[3] : value !== eq[3];
  });
}

/** Marathon's event types, for documentation and filters. */
export const EVENT_TYPES = MARATHON_EVENT_TYPES;
