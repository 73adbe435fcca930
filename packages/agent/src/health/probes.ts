/**
 * One health probe each for HTTP(S), TCP and a command: run once, bounded by an `AbortSignal`
 * (the check's timeout or the checker's `stop()`), and answer `{ ok, message }`. Probes never
 * reject; every failure, an abort included, is an answer with `ok: false`.
 *
 * @example
 * ```ts
 * const result = await probeHttp({ scheme: 'http', host: '127.0.0.1', port: 8080, path: '/health' }, AbortSignal.timeout(2000));
 * if (!result.ok) console.log(result.message);
 * ```
 * @module
 */

import { spawn } from 'node:child_process';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { CommandInfo } from '@stoa/core';

/** The answer of one probe. */
export interface ProbeResult {
  /** Whether the target is healthy. */
  ok: boolean;
  /** Why it is not (or a short note on success). */
  message?: string;
}

/** Where an HTTP(S) probe goes and what it accepts. */
export interface HttpProbeTarget {
  /** `https` accepts self-signed certificates: the agent checks liveness, not identity. */
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** @default '/' */
  path?: string;
  /** Status codes that count as healthy. @default 200–399 */
  statuses?: readonly number[];
}

/** Where a TCP probe connects. */
export interface TcpProbeTarget {
  host: string;
  port: number;
}

/** What a command probe runs, and where. */
export interface CommandProbeTarget {
  /** The command: `sh -c value` unless `shell` is false (then `value` is the program, `arguments` its argv). */
  command: CommandInfo;
  /** The working directory (the task's sandbox). @default the agent's working directory */
  cwd?: string;
  /** Added to a minimal base of the agent's PATH, HOME and LANG; `command.environment` goes on top. */
  env?: Record<string, string>;
}

/** Why a signal was aborted, for messages: a `TimeoutError` reason reads as a timeout. */
function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.message) return reason.message;
  return typeof reason === 'string' ? reason : 'aborted';
}

/** Runs `body` with a settle-once callback that also fires, with a failure, when `signal` aborts. */
function settleOnce(signal: AbortSignal, body: (settle: (result: ProbeResult) => void, onAbort: (fn: () => void) => void) => void): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    let done = false;
    const cleanups: (() => void)[] = [];
    const settle = (result: ProbeResult): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', abort);
      for (const fn of cleanups) fn();
      resolve(result);
    };
    const abort = (): void => settle({ ok: false, message: abortMessage(signal) });
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener('abort', abort, { once: true });
    try {
      body(settle, (fn) => cleanups.push(fn));
    } catch (error) {
      settle({ ok: false, message: error instanceof Error ? error.message : String(error) });
    }
  });
}

/** GETs `scheme://host:port/path`; healthy when the status is in `statuses` (200–399 by default). */
export function probeHttp(target: HttpProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
  const path = target.path === undefined || target.path === '' ? '/' : target.path.startsWith('/') ? target.path : `/${target.path}`;
  const url = `${target.scheme}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${path}`;
  return settleOnce(signal, (settle, onCleanup) => {
    const options = { hostname: target.host, port: target.port, path, method: 'GET', agent: false as const, headers: { 'user-agent': 'stoa-agent-health' } };
    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      res.resume();
      const ok = target.statuses ? target.statuses.includes(status) : status >= 200 && status <= 399;
      settle({ ok, message: `GET ${url} returned ${status}` });
    };
    const req =
      target.scheme === 'https' ? httpsRequest({ ...options, rejectUnauthorized: false }, onResponse) : httpRequest(options, onResponse);
    onCleanup(() => req.destroy());
    req.on('error', (error) => settle({ ok: false, message: `GET ${url} failed: ${error.message}` }));
    req.end();
  });
}

/** Healthy when a TCP connection to `host:port` opens. */
export function probeTcp(target: TcpProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
  return settleOnce(signal, (settle, onCleanup) => {
    const socket = connect({ host: target.host, port: target.port });
    onCleanup(() => socket.destroy());
    socket.once('connect', () => settle({ ok: true, message: `connected to ${target.host}:${target.port}` }));
    socket.once('error', (error) => settle({ ok: false, message: `TCP connect to ${target.host}:${target.port} failed: ${error.message}` }));
  });
}

/** How much of the command's output a failure message keeps. */
const OUTPUT_TAIL_BYTES = 512;

/**
 * Runs the command in its own process group; healthy on exit code 0. The result does not wait for
 * background children holding its output open. When it settles (exit or abort) the whole group is
 * killed with SIGKILL, so nothing the check started outlives it.
 */
export function probeCommand(target: CommandProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
  const { command } = target;
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'LANG'] as const) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  Object.assign(env, target.env, command.environment);
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';

  const shell = command.shell !== false;
  const program = shell ? 'sh' : command.value;
  if (!program) return Promise.resolve({ ok: false, message: 'the health check command has no value' });
  const args = shell ? ['-c', command.value ?? ''] : (command.arguments ?? []).slice(1);
  const argv0 = shell ? undefined : command.arguments?.[0];

  return settleOnce(signal, (settle, onCleanup) => {
    const child = spawn(program, args, {
      cwd: target.cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(argv0 !== undefined ? { argv0 } : {}),
    });
    let tail = Buffer.alloc(0);
    const keep = (chunk: Buffer): void => {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > OUTPUT_TAIL_BYTES) tail = tail.subarray(tail.length - OUTPUT_TAIL_BYTES);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    onCleanup(() => {
      // Also after a normal exit: whatever the command left running in its group goes with it.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is already gone.
        }
      }
      child.stdout.destroy();
      child.stderr.destroy();
    });
    child.once('error', (error) => settle({ ok: false, message: `cannot run the health check command: ${error.message}` }));
    child.once('exit', (code, sig) => {
      const output = tail.toString('utf8').trim();
      const suffix = output ? `: ${output}` : '';
      if (code === 0) settle({ ok: true, message: 'command exited with 0' });
      else if (sig) settle({ ok: false, message: `command killed by ${sig}${suffix}` });
      else settle({ ok: false, message: `command exited with ${code}${suffix}` });
    });
  });
}
