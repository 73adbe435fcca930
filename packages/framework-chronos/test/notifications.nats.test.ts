/**
 * How failures reach people, over real NATS with a real master and agent: the failure webhook
 * (a local HTTP server receives it), the event stream `GET /v1/scheduler/events` (server-sent
 * events, read from the leader and through a follower), and the runs counter on `/metrics`.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChronosEvent } from '../src/scheduler.js';
import type { FailureNotification } from '../src/service.js';
import { type ChronosCluster, NEVER, SMALL, type StreamedEvent, startChronosCluster, subscribeEvents } from './chronos-cluster.js';

let cluster: ChronosCluster;
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  cluster = await startChronosCluster();
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await cluster.cleanup();
});
afterAll(() => cluster?.stop());

/** A webhook receiver: records every POST; answers `statuses` in turn, then 200. */
async function webhookServer(statuses: number[] = []): Promise<{ url: string; received: { status: number; body: FailureNotification }[] }> {
  const received: { status: number; body: FailureNotification }[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      received.push({ status, body: JSON.parse(text) as FailureNotification });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

/** Reads the event stream of `base` until the test ends. */
async function subscribe(base: string): Promise<{ events: StreamedEvent[] }> {
  const abort = new AbortController();
  closers.push(() => abort.abort());
  return subscribeEvents(base, abort.signal);
}

describe('failure notifications over NATS', () => {
  it('posts each failed run to the webhook once, with the owner, and retries a refused post', async () => {
    const hook = await webhookServer([500]);
    const c = await cluster.chronos(await cluster.bucket(), { failureWebhook: hook.url });
    await c.waitLeading();
    const owner = { owner: 'ops@example.com', ownerName: 'Ops team' };
    await cluster.api(c, 'POST', '/iso8601', { name: 'fine', command: 'true', schedule: NEVER, ...owner, ...SMALL });
    await cluster.api(c, 'POST', '/iso8601', { name: 'killed', command: 'sleep 60', schedule: NEVER, ...owner, ...SMALL });
    await cluster.api(c, 'POST', '/iso8601', { name: 'hard-fail', command: 'exit 4', schedule: NEVER, retries: 1, retryDelayMs: 100, ...owner, ...SMALL });
    await cluster.api(c, 'POST', '/iso8601', { name: 'soft-fail', command: 'exit 1', schedule: NEVER, retries: 0, softError: true, ...SMALL });
    // A success and a kill by request are no failures.
    await cluster.api(c, 'PUT', '/job/fine');
    await cluster.api(c, 'PUT', '/job/killed');
    await waitFor(async () => (await cluster.runsOf(c, 'fine'))[0]?.status === 'SUCCEEDED', { timeoutMs: 10_000, what: 'fine succeeded' });
    await waitFor(async () => (await cluster.runsOf(c, 'killed'))[0]?.status === 'RUNNING', { timeoutMs: 10_000, what: 'killed running' });
    await cluster.api(c, 'DELETE', '/task/kill/killed');

    await cluster.api(c, 'PUT', '/job/hard-fail');
    await waitFor(async () => (await cluster.runsOf(c, 'hard-fail'))[0]?.status === 'FAILED', { timeoutMs: 10_000, what: 'hard-fail failed' });
    await cluster.api(c, 'PUT', '/job/soft-fail');
    await waitFor(async () => (await cluster.runsOf(c, 'soft-fail'))[0]?.status === 'FAILED', { timeoutMs: 10_000, what: 'soft-fail failed' });
    // The first post was refused (500) and sent again after a backoff.
    await waitFor(() => hook.received.filter((r) => r.status === 200).length === 2, { timeoutMs: 15_000, what: 'two accepted notifications' });

    const accepted = hook.received.filter((r) => r.status === 200).map((r) => r.body);
    const hard = accepted.find((n) => n.job === 'hard-fail')!;
    const hardRun = (await cluster.runsOf(c, 'hard-fail'))[0]!;
    expect(hard).toMatchObject({ type: 'job_failed', owner: 'ops@example.com', ownerName: 'Ops team', runId: hardRun.id, attempt: 2, message: 'exited with code 4' });
    expect(Date.parse(hard.at)).toBeGreaterThanOrEqual(hardRun.endedAt!);
    const soft = accepted.find((n) => n.job === 'soft-fail')!;
    expect(soft).toMatchObject({ type: 'job_failed', owner: '', ownerName: '', attempt: 1, message: 'exited with code 1' });
    // One notification per failed run: the refused one is resent unchanged, nothing else is sent.
    expect(hook.received).toHaveLength(3);
    expect(hook.received[0]!.status).toBe(500);
    expect(accepted).toContainEqual(hook.received[0]!.body);
    expect(hook.received.map((r) => r.body.job).sort()).toEqual(['hard-fail', 'hard-fail', 'soft-fail']);

    const metrics = await (await fetch(`${c.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/chronos_runs_finished_total\{outcome="failure"\} 1\b/);
    expect(metrics).toMatch(/chronos_runs_finished_total\{outcome="soft-failure"\} 1\b/);
    expect(metrics).toMatch(/chronos_runs_finished_total\{outcome="success"\} 1\b/);
    expect(metrics).toMatch(/chronos_runs_finished_total\{outcome="killed"\} 1\b/);
  });

  it("streams a run's events, in order, from the leader and through a follower", async () => {
    const store = await cluster.bucket();
    const leader = await cluster.chronos(store);
    await leader.waitLeading();
    const follower = await cluster.chronos(store);
    await waitFor(async () => ((await (await fetch(`${follower.httpUrl}/v1/leader`)).json()) as { leader: string }).leader === leader.httpUrl, { what: 'the follower knows the leader' });
    // Connected before anything happens: the stream opens without waiting for a first event.
    const direct = await subscribe(leader.httpUrl);
    const forwarded = await subscribe(follower.httpUrl);

    await cluster.api(leader, 'POST', '/iso8601', { name: 'streamed', command: 'exit 2', schedule: NEVER, retries: 1, retryDelayMs: 100, ...SMALL });
    const started = await cluster.api(follower, 'PUT', '/job/streamed');
    expect(started.status).toBe(202);
    const runId = started.data.run as string;
    const finished = (events: ChronosEvent[]) => events.some((e) => e.type === 'run_finished' && e.job === 'streamed');
    await waitFor(() => finished(direct.events) && finished(forwarded.events), { timeoutMs: 15_000, what: 'the run to finish on both streams' });

    for (const { events } of [direct, forwarded]) {
      expect(events[0]).toMatchObject({ type: 'job_added', sseType: 'job_added', job: 'streamed' });
      const ofRun = events.filter((e) => e.run?.id === runId);
      // Two attempts, then the failure, each event naming its type as the SSE event name.
      expect(ofRun.map((e) => e.type)).toEqual(['run_queued', 'run_launched', 'run_running', 'run_queued', 'run_launched', 'run_running', 'run_finished']);
      expect(ofRun.every((e) => e.sseType === e.type && e.job === 'streamed' && !Number.isNaN(Date.parse(e.at)))).toBe(true);
      expect(ofRun.map((e) => e.run!.attempt)).toEqual([1, 1, 1, 2, 2, 2, 2]);
      expect(ofRun[3]!.message).toBe('retry 1 after: exited with code 2');
      expect(ofRun.at(-1)).toMatchObject({ outcome: 'failure', message: 'exited with code 2', run: { status: 'FAILED', exitCode: 2 } });
    }
  });
});
