/**
 * A test cluster for Chronos over real NATS: one nats-server, the real master, real agents running
 * shell commands with the process containerizer, and Chronos instances each on a JetStream KV
 * bucket of its own (one bucket per test, so each test is a framework of its own). Jobs are added
 * and read through the REST API, as a user would.
 *
 * @example
 * ```ts
 * const cluster = await startChronosCluster({ agents: [{ name: 'a', resources: 'cpus:1;mem:1024;disk:100' }] });
 * const c = await cluster.chronos(await cluster.bucket());
 * await c.waitLeading();
 * await cluster.api(c, 'POST', '/iso8601', job);
 * await cluster.stop();
 * ```
 * @module
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentHandle, startAgent } from '@stoa/agent';
import { MemoryStore } from '@stoa/core';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { type MasterHandle, startMaster } from '@stoa/master';
import { type NatsServerHandle, startNats } from '@stoa/testkit';
import { expect } from 'vitest';
import type { Run } from '../src/run/run.js';
import type { ChronosEvent } from '../src/scheduler.js';
import { type ChronosHandle, type ChronosOptions, startChronos } from '../src/service.js';

/** One agent of the test cluster. */
export interface TestAgentSpec {
  /** Its name: its host name and the folder of its sandboxes. */
  name: string;
  /** @default 'cpus:8;mem:8192;disk:10000' */
  resources?: string;
  /** @default none */
  attributes?: string;
}

/** JSON answers are read loosely: each test asserts the fields it needs. */
// biome-ignore lint/suspicious/noExplicitAny: test helper over arbitrary JSON
export type Json = any;

/** A running test cluster. */
export interface ChronosCluster {
  /** The nats-server. */
  nats: NatsServerHandle;
  /** The master. */
  master: MasterHandle;
  /** The agents, in the order given. */
  agents: AgentHandle[];
  /** A temp folder removed by {@link stop}: the agents' work dirs live here, tests write files here. */
  dir: string;
  /** A Store bucket of its own, closed after the test ({@link cleanup}). */
  bucket(): Promise<NatsKvStore>;
  /** A Chronos instance on `store`, stopped after the test ({@link cleanup}); lease 1 s unless given. */
  chronos(store: NatsKvStore, extra?: Partial<ChronosOptions>): Promise<ChronosHandle>;
  /** Forgets an instance the test stopped itself. */
  forget(c: ChronosHandle): void;
  /** A request to `/v1/scheduler<path>`; the answer parsed as JSON when it is. */
  api(c: ChronosHandle | string, method: string, path: string, body?: unknown): Promise<{ status: number; data: Json }>;
  /** A job's runs, oldest first. */
  runsOf(c: ChronosHandle, job: string): Promise<Run[]>;
  /** Stops the instances and closes the buckets of the test. */
  cleanup(): Promise<void>;
  /** Stops everything and removes {@link dir}. */
  stop(): Promise<void>;
}

/** Starts nats-server, a master and the agents. */
export async function startChronosCluster(options: { agents?: TestAgentSpec[] } = {}): Promise<ChronosCluster> {
  const nats = await startNats();
  const dir = mkdtempSync(join(tmpdir(), 'stoa-chronos-e2e-'));
  const transports: NatsTransport[] = [];
  const connect = async (name: string) => {
    const t = await NatsTransport.connect({ servers: nats.url, name });
    transports.push(t);
    return t;
  };
  const master = await startMaster({
    transport: await connect('master'),
    store: new MemoryStore(),
    http: false,
    allocationIntervalMs: 100,
    heartbeatIntervalMs: 1000,
    offerTimeoutMs: 2000,
  });
  const agents: AgentHandle[] = [];
  for (const spec of options.agents ?? [{ name: 'agent-1' }]) {
    const agent = await startAgent({
      transport: await connect(spec.name),
      workDir: join(dir, spec.name),
      hostname: spec.name,
      resources: spec.resources ?? 'cpus:8;mem:8192;disk:10000',
      ...(spec.attributes !== undefined ? { attributes: spec.attributes } : {}),
      killGracePeriodMs: 500,
    });
    agents.push(agent);
    await agent.waitRegistered();
  }

  const running: ChronosHandle[] = [];
  const stores: NatsKvStore[] = [];
  let bucketSeq = 0;

  const api = async (c: ChronosHandle | string, method: string, path: string, body?: unknown) => {
    const base = typeof c === 'string' ? c : c.httpUrl;
    const init = body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {};
    const answer = await fetch(`${base}/v1/scheduler${path}`, { method, ...init });
    const text = await answer.text();
    const data: Json = text === '' ? null : text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text;
    return { status: answer.status, data };
  };

  return {
    nats,
    master,
    agents,
    dir,
    async bucket() {
      const t = await connect('chronos-store');
      const store = await NatsKvStore.open(t.connection, { bucket: `chronos-test-${process.pid}-${++bucketSeq}` });
      stores.push(store);
      return store;
    },
    async chronos(store, extra = {}) {
      const c = await startChronos({ servers: nats.url, store, httpPort: 0, leaseMs: 1000, frameworkName: 'chronos-test', ...extra });
      running.push(c);
      return c;
    },
    forget(c) {
      const i = running.indexOf(c);
      if (i >= 0) running.splice(i, 1);
    },
    api,
    async runsOf(c, job) {
      const r = await api(c, 'GET', `/job/${encodeURIComponent(job)}/runs`);
      expect(r.status).toBe(200);
      return (r.data as Run[]).slice().reverse();
    },
    async cleanup() {
      for (const c of running.splice(0)) await c.stop();
      for (const s of stores.splice(0)) await s.close();
    },
    async stop() {
      for (const c of running.splice(0)) await c.stop();
      for (const s of stores.splice(0)) await s.close();
      for (const agent of agents) await agent.stop({ killTasks: true });
      await master.stop();
      for (const t of transports) await t.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An ISO start `ms` from now, on a whole second. */
export function startIn(ms: number): string {
  return new Date(Math.ceil((Date.now() + ms) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A schedule that never fires during a test: runs are started by hand. */
export const NEVER = 'R1/2100-01-01T00:00:00Z/PT1M';

/** Small resources, so many tasks fit on an agent. */
export const SMALL = { cpus: 0.1, mem: 32, disk: 0 };

/** An event read from the event stream, with the SSE event name it came under. */
export type StreamedEvent = ChronosEvent & { sseType: string };

/**
 * Reads the event stream `GET /v1/scheduler/events` of `base` into `events` until `signal`
 * aborts; resolves once the stream is open (its headers arrived).
 */
export async function subscribeEvents(base: string, signal: AbortSignal): Promise<{ events: StreamedEvent[] }> {
  const answer = await fetch(`${base}/v1/scheduler/events`, { signal, headers: { accept: 'text/event-stream' } });
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toContain('text/event-stream');
  const events: StreamedEvent[] = [];
  const reader = answer.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (type !== undefined && data !== undefined) events.push({ ...(JSON.parse(data) as ChronosEvent), sseType: type });
      }
    }
  })();
  return { events };
}
