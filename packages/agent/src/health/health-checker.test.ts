/**
 * Tests of the HealthChecker's semantics with tiny local servers and intervals of tens of
 * milliseconds: change-only reporting, the kill after consecutive failures, the grace period
 * (driven by an injected clock), timeouts, each check type, and that stop() silences everything.
 */

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOperationError, ValidationError, type HealthCheck } from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECK_DEFAULTS, HealthChecker, type HealthCheckerOptions, resolveHealthCheck, type TaskHealth } from './health-checker.js';

/**
 * One HTTP server for all tests. Each path answers from its own script of statuses, one per
 * request, repeating the last; `hang` never answers. Hits are counted per path.
 */
const scripts = new Map<string, (number | 'hang')[]>();
const hits = new Map<string, number>();
let server: Server;
let port: number;
let tmp: string;

function script(path: string, ...statuses: (number | 'hang')[]): { path: string; port: number } {
  scripts.set(path, statuses);
  return { path, port };
}

function hitsOf(path: string): number {
  return hits.get(path) ?? 0;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stoa-health-'));
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    const n = hitsOf(path);
    hits.set(path, n + 1);
    const statuses = scripts.get(path) ?? [404];
    const status = statuses[Math.min(n, statuses.length - 1)] ?? 404;
    if (status !== 'hang') res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(tmp, { recursive: true, force: true });
});

const checkers: HealthChecker[] = [];

afterEach(() => {
  for (const checker of checkers.splice(0)) checker.stop();
});

/** A checker with recorded callbacks, fast timing, and cleanup after the test. */
function checker(check: HealthCheck, options: Partial<HealthCheckerOptions> = {}) {
  const changes: TaskHealth[] = [];
  const kills: string[] = [];
  const c = new HealthChecker(
    { delayMs: 0, intervalMs: 10, timeoutMs: 2_000, gracePeriodMs: 0, ...check },
    { onChange: (h) => changes.push(h), onKill: (r) => kills.push(r), ...options },
  );
  checkers.push(c);
  return { checker: c, changes, kills };
}

const http = (target: { path: string; port: number }, extra: Partial<HealthCheck> = {}): HealthCheck => ({ type: 'HTTP', http: target, ...extra });

describe('resolveHealthCheck', () => {
  it('applies the documented defaults', () => {
    const resolved = resolveHealthCheck({ type: 'TCP', tcp: { port: 80 } });
    expect(resolved).toEqual({ type: 'TCP', tcp: { port: 80 }, ...HEALTH_CHECK_DEFAULTS });
    expect(HEALTH_CHECK_DEFAULTS).toEqual({ delayMs: 15_000, intervalMs: 10_000, timeoutMs: 20_000, gracePeriodMs: 10_000, consecutiveFailures: 3 });
    expect(resolveHealthCheck({ type: 'TCP', tcp: { port: 80 }, consecutiveFailures: 0, delayMs: 0 })).toMatchObject({ consecutiveFailures: 0, delayMs: 0 });
  });

  it('rejects a check without the part its type needs', () => {
    expect(() => resolveHealthCheck({ type: 'HTTPS', tcp: { port: 1 } })).toThrow(ValidationError);
    expect(() => new HealthChecker({ type: 'COMMAND' }, { onChange: () => {}, onKill: () => {} })).toThrow(/needs "command"/);
  });
});

describe('HealthChecker', () => {
  it('reports healthy once, however many checks pass', async () => {
    const target = script('/healthy', 200);
    const { checker: c, changes, kills } = checker(http(target));
    expect(c.state).toBe('idle');
    c.start();
    expect(c.state).toBe('running');
    await waitFor(() => hitsOf('/healthy') >= 6, { timeoutMs: 5_000, what: '6 checks' });
    expect(changes).toEqual([{ healthy: true, consecutiveFailures: 0, message: `GET http://127.0.0.1:${port}/healthy returned 200` }]);
    expect(c.health).toEqual(changes[0]);
    expect(kills).toEqual([]);
  });

  it('reports unhealthy when a server starts failing, then kills once after N failures', async () => {
    const target = script('/degrades', 200, 200, 500);
    const { checker: c, changes, kills } = checker(http(target, { consecutiveFailures: 3 }));
    c.start();
    await waitFor(() => kills.length > 0, { timeoutMs: 5_000, what: 'the kill' });
    expect(changes.map((h) => [h.healthy, h.consecutiveFailures])).toEqual([
      [true, 0],
      [false, 1],
    ]);
    expect(changes[1]?.message).toMatch(/returned 500/);
    expect(kills).toEqual([`health check failed 3 consecutive times: GET http://127.0.0.1:${port}/degrades returned 500`]);
    expect(hitsOf('/degrades')).toBe(5);
    expect(c.state).toBe('stopped');
  });

  it('reports every flip, and a success resets the failure count', async () => {
    const target = script('/flaps', 200, 500, 500, 200, 500, 500, 200);
    const { changes, kills, checker: c } = checker(http(target, { consecutiveFailures: 3 }));
    c.start();
    await waitFor(() => hitsOf('/flaps') >= 9, { timeoutMs: 5_000, what: '9 checks' });
    expect(changes.map((h) => h.healthy)).toEqual([true, false, true, false, true]);
    expect(kills).toEqual([]);
  });

  it('never kills with consecutiveFailures: 0', async () => {
    const target = script('/always-down', 503);
    const { checker: c, changes, kills } = checker(http(target, { consecutiveFailures: 0 }));
    c.start();
    await waitFor(() => hitsOf('/always-down') >= 8, { timeoutMs: 5_000, what: '8 checks' });
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ healthy: false, consecutiveFailures: 1 });
    expect(kills).toEqual([]);
  });

  it('swallows failures within the grace period until they count', async () => {
    let clock = 1_000;
    const target = script('/slow-start', 500);
    const { checker: c, changes, kills } = checker(http(target, { gracePeriodMs: 5_000, consecutiveFailures: 2 }), { now: () => clock });
    c.start();
    await waitFor(() => hitsOf('/slow-start') >= 5, { timeoutMs: 5_000, what: '5 checks in the grace period' });
    expect(changes).toEqual([]);
    expect(kills).toEqual([]);
    clock = 6_000;
    await waitFor(() => kills.length > 0, { timeoutMs: 5_000, what: 'the kill after the grace period' });
    expect(changes.map((h) => [h.healthy, h.consecutiveFailures])).toEqual([[false, 1]]);
  });

  it('counts failures within the grace period once a check has passed', async () => {
    const target = script('/up-then-down', 200, 500);
    const { checker: c, changes, kills } = checker(http(target, { gracePeriodMs: 60_000, consecutiveFailures: 2 }), { now: () => 0 });
    c.start();
    await waitFor(() => kills.length > 0, { timeoutMs: 5_000, what: 'the kill' });
    expect(changes.map((h) => h.healthy)).toEqual([true, false]);
    expect(hitsOf('/up-then-down')).toBe(3);
  });

  it('counts a check that times out as a failure', async () => {
    const target = script('/hangs', 'hang');
    const { checker: c, changes, kills } = checker(http(target, { timeoutMs: 50, consecutiveFailures: 2 }));
    c.start();
    await waitFor(() => kills.length > 0, { timeoutMs: 5_000, what: 'the kill' });
    expect(changes).toEqual([{ healthy: false, consecutiveFailures: 1, message: 'timed out after 50 ms' }]);
    expect(kills).toEqual(['health check failed 2 consecutive times: timed out after 50 ms']);
  });

  it('waits delayMs before the first check', async () => {
    const target = script('/delayed', 200);
    const { checker: c, changes } = checker(http(target, { delayMs: 150 }));
    const started = Date.now();
    c.start();
    await waitFor(() => changes.length > 0, { timeoutMs: 5_000, what: 'the first result' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('checks TCP: healthy on an open port, unhealthy on a closed one', async () => {
    const tcp = createTcpServer((socket) => socket.end());
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const openPort = (tcp.address() as AddressInfo).port;
    try {
      const open = checker({ type: 'TCP', tcp: { port: openPort } });
      open.checker.start();
      await waitFor(() => open.changes.length > 0, { timeoutMs: 5_000, what: 'the TCP result' });
      expect(open.changes[0]).toMatchObject({ healthy: true });
    } finally {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
    const closed = checker({ type: 'TCP', tcp: { port: openPort }, consecutiveFailures: 1 });
    closed.checker.start();
    await waitFor(() => closed.kills.length > 0, { timeoutMs: 5_000, what: 'the TCP kill' });
    expect(closed.changes).toEqual([expect.objectContaining({ healthy: false, message: expect.stringMatching(/ECONNREFUSED/) })]);
  });

  it('checks a COMMAND by exit code, in the sandbox with the task env', async () => {
    const ok = checker(
      { type: 'COMMAND', command: { value: 'test "$(pwd)" = "$SANDBOX" && test "$ROLE" = web' } },
      { sandboxDir: tmp, env: { SANDBOX: tmp, ROLE: 'web' } },
    );
    ok.checker.start();
    await waitFor(() => ok.changes.length > 0, { timeoutMs: 5_000, what: 'the command result' });
    expect(ok.changes).toEqual([{ healthy: true, consecutiveFailures: 0, message: 'command exited with 0' }]);

    const failing = checker({ type: 'COMMAND', command: { value: 'exit 7' }, consecutiveFailures: 2 }, { sandboxDir: tmp });
    failing.checker.start();
    await waitFor(() => failing.kills.length > 0, { timeoutMs: 5_000, what: 'the command kill' });
    expect(failing.changes).toEqual([{ healthy: false, consecutiveFailures: 1, message: 'command exited with 7' }]);
  });

  it('stop() silences the checker: no checks and no callbacks after it', async () => {
    const target = script('/stopped', 200, 500);
    const control = script('/control', 200);
    const stopped = checker(http(target, { consecutiveFailures: 1 }));
    const running = checker(http(control));
    stopped.checker.start();
    running.checker.start();
    await waitFor(() => stopped.changes.length > 0, { timeoutMs: 5_000, what: 'the first result' });
    stopped.checker.stop();
    expect(stopped.checker.state).toBe('stopped');
    const hitsAtStop = hitsOf('/stopped');
    const controlAtStop = hitsOf('/control');
    // The control checker on the same timing proves time has passed for many intervals.
    await waitFor(() => hitsOf('/control') >= controlAtStop + 10, { timeoutMs: 5_000, what: '10 control checks' });
    // A request already on the wire at stop() may still reach the server; nothing after it.
    expect(hitsOf('/stopped')).toBeLessThanOrEqual(hitsAtStop + 1);
    expect(stopped.changes.map((h) => h.healthy)).toEqual([true]);
    expect(stopped.kills).toEqual([]);
  });

  it('stop() aborts a check in flight without reporting it', async () => {
    const pidFile = join(tmp, 'inflight.pid');
    const inFlight = checker({ type: 'COMMAND', command: { value: `echo $$ > ${pidFile}; exec sleep 30` }, consecutiveFailures: 1 }, { sandboxDir: tmp });
    const control = checker(http(script('/control-2', 200)));
    inFlight.checker.start();
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', { timeoutMs: 5_000, what: 'the command to start' });
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    inFlight.checker.stop();
    await waitFor(() => !isAlive(pid), { timeoutMs: 5_000, what: `the check command ${pid} to be killed` });
    control.checker.start();
    await waitFor(() => hitsOf('/control-2') >= 5, { timeoutMs: 5_000, what: '5 control checks' });
    expect(inFlight.changes).toEqual([]);
    expect(inFlight.kills).toEqual([]);
  });

  it('start() twice is a no-op; a stopped checker cannot restart; stop() is idempotent', async () => {
    const target = script('/restart', 200);
    const { checker: c, changes } = checker(http(target));
    c.start();
    c.start();
    await waitFor(() => changes.length > 0, { timeoutMs: 5_000, what: 'the first result' });
    c.stop();
    c.stop();
    expect(() => c.start()).toThrow(InvalidOperationError);
  });

  it('keeps running when a callback throws, reporting it as a process warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const target = script('/throwing', 200, 500);
      const kills: string[] = [];
      const c = new HealthChecker(
        { type: 'HTTP', http: target, delayMs: 0, intervalMs: 10, gracePeriodMs: 0, consecutiveFailures: 2 },
        {
          onChange: () => {
            throw new Error('listener bug');
          },
          onKill: (r) => kills.push(r),
        },
      );
      checkers.push(c);
      c.start();
      await waitFor(() => kills.length > 0, { timeoutMs: 5_000, what: 'the kill despite a throwing onChange' });
      await waitFor(() => warnings.length >= 2, { timeoutMs: 5_000, what: 'two warnings' });
      expect(warnings[0]?.message).toBe('listener bug');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
