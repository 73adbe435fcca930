/**
 * Tests of the one-shot probes against local HTTP, HTTPS (a self-signed certificate made with
 * `openssl` when present) and TCP servers, and against real `sh` commands.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeCommand, probeHttp, probeTcp } from './probes.js';

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server | ReturnType<typeof createTcpServer>): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server);
  await close(server);
  return port;
}

function never(): AbortSignal {
  return new AbortController().signal;
}

function timeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error(`timed out after ${ms} ms`)), ms).unref();
  return controller.signal;
}

/** Alive and not a zombie (a killed grandchild waits for whoever reaps orphans here). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

const hasOpenssl = spawnSync('sh', ['-c', 'command -v openssl'], { stdio: 'ignore' }).status === 0;

let tmp: string;
let http: Server;
let httpPort: number;
const requests: string[] = [];
const openSockets = new Set<unknown>();

const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/': (_req, res) => res.writeHead(200).end('root'),
  '/health': (_req, res) => res.writeHead(200).end('ok'),
  '/redirect': (_req, res) => res.writeHead(302, { location: '/elsewhere' }).end(),
  '/no-content': (_req, res) => res.writeHead(204).end(),
  '/fail': (_req, res) => res.writeHead(503).end('down'),
  '/hang': () => {},
};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stoa-probes-'));
  http = createServer((req, res) => {
    requests.push(req.url ?? '');
    openSockets.add(req.socket);
    req.socket.once('close', () => openSockets.delete(req.socket));
    (routes[req.url ?? ''] ?? ((_q, s) => s.writeHead(404).end()))(req, res);
  });
  httpPort = await listen(http);
});

afterAll(async () => {
  await close(http);
  await rm(tmp, { recursive: true, force: true });
});

describe('probeHttp', () => {
  const target = (path?: string, statuses?: number[]) => ({ scheme: 'http' as const, host: '127.0.0.1', port: httpPort, path, statuses });

  it('accepts 200–399 by default, without following redirects', async () => {
    expect(await probeHttp(target('/health'), never())).toEqual({ ok: true, message: `GET http://127.0.0.1:${httpPort}/health returned 200` });
    expect((await probeHttp(target('/redirect'), never())).ok).toBe(true);
    expect(requests).not.toContain('/elsewhere');
    expect(await probeHttp(target('/fail'), never())).toEqual({ ok: false, message: `GET http://127.0.0.1:${httpPort}/fail returned 503` });
  });

  it('defaults the path to / and adds a missing leading slash', async () => {
    requests.length = 0;
    await probeHttp(target(), never());
    await probeHttp(target('health'), never());
    expect(requests).toEqual(['/', '/health']);
  });

  it('accepts exactly the given statuses', async () => {
    expect((await probeHttp(target('/health', [204]), never())).ok).toBe(false);
    expect((await probeHttp(target('/no-content', [204]), never())).ok).toBe(true);
    expect((await probeHttp(target('/fail', [503]), never())).ok).toBe(true);
  });

  it('fails when nothing listens', async () => {
    const port = await closedPort();
    const result = await probeHttp({ scheme: 'http', host: '127.0.0.1', port }, never());
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/ECONNREFUSED/);
  });

  it('fails at the abort and closes its connection', async () => {
    const result = await probeHttp(target('/hang'), timeoutSignal(50));
    expect(result).toEqual({ ok: false, message: 'timed out after 50 ms' });
    await waitFor(() => openSockets.size === 0, { timeoutMs: 5_000, what: 'the hanging request to be closed' });
  });

  it('answers at once for an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    expect(await probeHttp(target('/health'), controller.signal)).toEqual({ ok: false, message: 'stopped' });
  });

  it.skipIf(!hasOpenssl)('accepts a self-signed certificate over HTTPS', async () => {
    const key = join(tmp, 'key.pem');
    const cert = join(tmp, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const https = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => res.writeHead(req.url === '/health' ? 200 : 500).end());
    const port = await listen(https);
    try {
      expect((await probeHttp({ scheme: 'https', host: '127.0.0.1', port, path: '/health' }, never())).ok).toBe(true);
      expect((await probeHttp({ scheme: 'https', host: '127.0.0.1', port, path: '/other' }, never())).ok).toBe(false);
      // Plain HTTP against the TLS port is a failure, not a hang.
      expect((await probeHttp({ scheme: 'http', host: '127.0.0.1', port, path: '/health' }, timeoutSignal(5_000))).ok).toBe(false);
    } finally {
      await close(https);
    }
  });
});

describe('probeTcp', () => {
  it('succeeds when a connection opens and fails on a closed port', async () => {
    const server = createTcpServer((socket) => socket.end());
    const port = await listen(server);
    try {
      expect(await probeTcp({ host: '127.0.0.1', port }, never())).toEqual({ ok: true, message: `connected to 127.0.0.1:${port}` });
    } finally {
      await close(server);
    }
    const result = await probeTcp({ host: '127.0.0.1', port: await closedPort() }, never());
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/ECONNREFUSED/);
  });
});

describe('probeCommand', () => {
  it('is healthy on exit 0 and unhealthy otherwise, with the output tail', async () => {
    expect(await probeCommand({ command: { value: 'true' } }, never())).toEqual({ ok: true, message: 'command exited with 0' });
    expect(await probeCommand({ command: { value: 'echo not ready >&2; exit 3' } }, never())).toEqual({
      ok: false,
      message: 'command exited with 3: not ready',
    });
  });

  it('runs in the sandbox with the task env and the command environment on top', async () => {
    await writeFile(join(tmp, 'marker'), '');
    const command = { value: 'test -f marker && test "$TASK" = web && test "$EXTRA" = yes && test -n "$PATH"', environment: { EXTRA: 'yes' } };
    expect((await probeCommand({ command, cwd: tmp, env: { TASK: 'web', EXTRA: 'no' } }, never())).ok).toBe(true);
    expect((await probeCommand({ command, cwd: tmp, env: { TASK: 'db' } }, never())).ok).toBe(false);
  });

  it('runs an argv without a shell', async () => {
    expect((await probeCommand({ command: { shell: false, value: 'sh', arguments: ['sh', '-c', 'exit 0'] } }, never())).ok).toBe(true);
    expect((await probeCommand({ command: { shell: false, value: 'sh', arguments: ['sh', '-c', 'exit 1'] } }, never())).ok).toBe(false);
  });

  it('fails when the command cannot start', async () => {
    const result = await probeCommand({ command: { shell: false, value: join(tmp, 'no-such-program') } }, never());
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/cannot run/);
    expect((await probeCommand({ command: { value: 'true' }, cwd: join(tmp, 'missing-dir') }, never())).ok).toBe(false);
  });

  it('kills the whole process group at the abort', async () => {
    const pidFile = join(tmp, 'group.pid');
    const started = Date.now();
    const result = await probeCommand({ command: { value: `sleep 30 & echo $! > ${pidFile}; wait` } }, timeoutSignal(300));
    expect(result).toEqual({ ok: false, message: 'timed out after 300 ms' });
    expect(Date.now() - started).toBeLessThan(10_000);
    await waitFor(() => existsSync(pidFile), { timeoutMs: 5_000, what: 'the pid file' });
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    await waitFor(() => !processAlive(pid), { timeoutMs: 5_000, what: `the background sleep ${pid} to be killed` });
  });

  it('does not wait for a background child holding its output', async () => {
    const pidFile = join(tmp, 'background.pid');
    const result = await probeCommand({ command: { value: `sleep 30 & echo $! > ${pidFile}; exit 0` } }, timeoutSignal(10_000));
    expect(result.ok).toBe(true);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    await waitFor(() => !processAlive(pid), { timeoutMs: 5_000, what: `the leftover sleep ${pid} to be killed` });
  });
});
