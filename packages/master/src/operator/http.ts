/**
 * The master's HTTP operator API (hono on node's http server): state reads, operator writes,
 * Prometheus metrics, and the cluster event stream as server-sent events. Every route maps to an
 * operator call, so HTTP and NATS always agree. Invalid requests get a 4xx whose body names the
 * field: `{ error: { code, message, field } }`.
 *
 * @module
 */

import { type ServerType, serve } from '@hono/node-server';
import {
  type ClusterEvent,
  fromUnknown,
  httpError,
  NotFoundError,
  type OperatorCall,
  OperatorCallSchema,
  TaskStateSchema,
  type TaskSummary,
  ValidationError,
  validate,
} from '@stoa/core';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { MasterContext } from '../context.js';
import type { MasterMetrics } from '../metrics.js';
import { mountUi } from '@stoa/ui';

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  port: number;
  host: string;
  context: MasterContext;
  metrics: MasterMetrics;
  operator: (call: OperatorCall) => Promise<unknown>;
  onEvent: (listener: (event: ClusterEvent) => void) => () => void;
  /** Whether this master leads, and who does. Followers redirect to the leader. */
  leadership?: () => { leading: boolean; leader?: { masterId: string; httpUrl?: string } | undefined };
}

/** A running HTTP server. */
export interface HttpServerHandle {
  readonly url: string;
  close(): Promise<void>;
}

const DrainBody = z.strictObject({ gracePeriodMs: z.number().nonnegative().optional(), markGone: z.boolean().optional() }).optional();
const WeightsBody = z.union([
  z.array(z.strictObject({ role: z.string(), weight: z.number() })),
  z.strictObject({ weights: z.array(z.strictObject({ role: z.string(), weight: z.number() })) }),
]);
const QuotaBody = z.strictObject({ quotas: z.array(z.unknown()) });
const ReservationBody = z.strictObject({ agentId: z.string(), resources: z.array(z.unknown()), action: z.enum(['reserve', 'unreserve']).optional() });
const TasksQuery = z.strictObject({
  state: TaskStateSchema.optional(),
  framework_id: z.string().optional(),
  agent_id: z.string().optional(),
  offset: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});
const FileQuery = z.strictObject({ offset: z.coerce.number().int().nonnegative().optional(), length: z.coerce.number().int().nonnegative().optional() });

/** The page size in which `GET /api/v1/tasks/:id` searches the master's tasks. */
const TASK_SEARCH_PAGE = 10_000;

/**
 * The bytes up to the end of the last whole UTF-8 character: a slice of a file cut in the middle
 * of a character leaves its first bytes for the next read instead of decoding them as U+FFFD.
 */
function wholeCharacters(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  for (let i = n - 1; i >= 0 && i >= n - 4; i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look for its lead byte
    const width = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return n - i < width ? bytes.subarray(0, i) : bytes;
  }
  return bytes;
}

/** Validates an operator call built from a request, naming the field on failure. */
function toCall(input: unknown): OperatorCall {
  return validate(OperatorCallSchema, input, 'request');
}

/** Starts the HTTP operator API. Port 0 picks a free port. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const app = new Hono();
  const call = (input: unknown) => options.operator(toCall(input));
  const body = async (req: Request): Promise<unknown> => {
    const text = await req.text();
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new ValidationError('the body is not valid JSON', { details: { field: 'body' } });
    }
  };

  app.onError((error, c) => {
    const { status, body } = httpError(fromUnknown(error));
    return c.json(body, status);
  });

  // The dashboard is served by every master; its API calls follow the redirect to the leader.
  mountUi(app, 'master');

  // A follower answers who leads, serves its own metrics, and sends everything else to the leader.
  app.use(async (c, next) => {
    const who = options.leadership?.();
    if (!who || who.leading) return next();
    const path = new URL(c.req.url).pathname;
    const leader = who.leader;
    if (path === '/health') return c.json({ healthy: true, leader: false, ...(leader ? { leaderId: leader.masterId } : {}) });
    if (path === '/metrics') return next();
    if (path === '/api/v1/master') {
      return c.json({ leader: false, ...(leader ? { leaderId: leader.masterId, ...(leader.httpUrl ? { leaderUrl: leader.httpUrl } : {}) } : {}) });
    }
    if (leader?.httpUrl) {
      const target = new URL(c.req.url);
      const base = new URL(leader.httpUrl);
      target.protocol = base.protocol;
      target.host = base.host;
      c.header('x-stoa-leader', leader.masterId);
      return c.redirect(target.toString(), 307);
    }
    return c.json({ error: { code: 'NOT_LEADER', message: 'this master is not the leader, and no leader is known yet' } }, 503);
  });

  app.get('/health', async (c) => c.json(await call({ v: 1, type: 'GET_HEALTH' })));
  app.get('/api/v1/master', async (c) => c.json(await call({ v: 1, type: 'GET_MASTER' })));
  app.get('/api/v1/state', async (c) => c.json(await call({ v: 1, type: 'GET_STATE' })));
  app.get('/api/v1/agents', async (c) => c.json(await call({ v: 1, type: 'GET_AGENTS' })));
  app.get('/api/v1/frameworks', async (c) => c.json(await call({ v: 1, type: 'GET_FRAMEWORKS' })));
  app.get('/api/v1/roles', async (c) => c.json(await call({ v: 1, type: 'GET_ROLES' })));
  app.get('/api/v1/tasks', async (c) => {
    const q = validate(TasksQuery, c.req.query(), 'query');
    return c.json(
      await call({
        v: 1,
        type: 'GET_TASKS',
        ...(q.state ? { state: q.state } : {}),
        ...(q.framework_id ? { frameworkId: q.framework_id } : {}),
        ...(q.agent_id ? { agentId: q.agent_id } : {}),
        ...(q.offset !== undefined ? { offset: q.offset } : {}),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
      }),
    );
  });
  app.post('/api/v1/agents/:id/drain', async (c) => {
    const b = validate(DrainBody, await body(c.req.raw), 'body');
    return c.json(await call({ v: 1, type: 'DRAIN_AGENT', agentId: c.req.param('id'), ...(b ?? {}) }));
  });
  app.post('/api/v1/agents/:id/deactivate', async (c) => c.json(await call({ v: 1, type: 'DEACTIVATE_AGENT', agentId: c.req.param('id') })));
  app.post('/api/v1/agents/:id/reactivate', async (c) => c.json(await call({ v: 1, type: 'REACTIVATE_AGENT', agentId: c.req.param('id') })));
  app.post('/api/v1/agents/:id/gone', async (c) => c.json(await call({ v: 1, type: 'MARK_AGENT_GONE', agentId: c.req.param('id') })));
  app.post('/api/v1/frameworks/:id/teardown', async (c) => c.json(await call({ v: 1, type: 'TEARDOWN', frameworkId: c.req.param('id') })));
  app.post('/api/v1/tasks/:id/kill', async (c) => c.json(await call({ v: 1, type: 'KILL_TASKS', taskIds: [c.req.param('id')] })));
  app.post('/api/v1/weights', async (c) => {
    const b = validate(WeightsBody, await body(c.req.raw), 'body');
    return c.json(await call({ v: 1, type: 'UPDATE_WEIGHTS', weights: Array.isArray(b) ? b : b.weights }));
  });
  app.post('/api/v1/quota', async (c) => {
    const b = validate(QuotaBody, await body(c.req.raw), 'body');
    return c.json(await call({ v: 1, type: 'UPDATE_QUOTA', quotas: b.quotas }));
  });
  app.post('/api/v1/reservations', async (c) => {
    const b = validate(ReservationBody, await body(c.req.raw), 'body');
    const type = b.action === 'unreserve' ? 'UNRESERVE_RESOURCES' : 'RESERVE_RESOURCES';
    return c.json(await call({ v: 1, type, agentId: b.agentId, resources: b.resources }));
  });
  app.get('/api/v1/tasks/:id', async (c) => {
    // One task, live or recently completed: the pages of GET_TASKS searched for it.
    const id = c.req.param('id');
    for (let offset = 0; ; offset += TASK_SEARCH_PAGE) {
      const page = (await call({ v: 1, type: 'GET_TASKS', offset, limit: TASK_SEARCH_PAGE })) as { tasks: TaskSummary[]; total: number };
      const task = page.tasks.find((t) => t.taskId === id);
      if (task) return c.json(task);
      if (offset + TASK_SEARCH_PAGE >= page.total) break;
    }
    throw new NotFoundError(`no task ${id}`, { details: { kind: 'task', id } });
  });
  app.get('/api/v1/tasks/:id/files', async (c) => c.json(await call({ v: 1, type: 'READ_FILE', taskId: c.req.param('id'), path: '' })));
  app.get('/api/v1/tasks/:id/files/:name{.+}', async (c) => {
    const q = validate(FileQuery, c.req.query(), 'query');
    const r = (await call({ v: 1, type: 'READ_FILE', taskId: c.req.param('id'), path: c.req.param('name'), ...q })) as {
      entries?: unknown[];
      data?: Uint8Array;
      offset?: number;
      size?: number;
    };
    // A directory of the sandbox is listed, as the sandbox itself is.
    if (r.entries) return c.json({ entries: r.entries });
    // `length` is the bytes `data` covers, so a reader following the file asks next from offset + length.
    const slice = r.data ? wholeCharacters(r.data) : new Uint8Array(0);
    return c.json({ data: Buffer.from(slice).toString('utf8'), offset: r.offset ?? 0, size: r.size ?? 0, length: slice.length });
  });
  app.get('/metrics', async (c) => {
    const text = await options.metrics.registry.metrics();
    return c.text(text, 200, { 'content-type': options.metrics.registry.contentType });
  });
  app.get('/api/v1/events', (c) =>
    streamSSE(c, async (stream) => {
      const queue: ClusterEvent[] = [];
      let wake: (() => void) | undefined;
      const off = options.onEvent((event) => {
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
        if (next) {
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

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
