/**
 * Running one command task of the batch executor: `sh -c <command> sh <args…>` in a directory of
 * its own, in its own process group (so a kill reaches whatever the shell started), with stdout
 * and stderr written to files there and their tails kept. An abort of `signal` ends it: SIGTERM
 * to the group, SIGKILL after the grace period.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { TailBuffer } from './tail-buffer.js';

/** Why a task's run was aborted, as the executor passes it to `AbortController.abort()`. */
export interface AbortReason {
  kind: 'timeout' | 'kill' | 'shutdown';
  /** SIGTERM → SIGKILL grace for a command. */
  graceMs: number;
}

/** What {@link runCommandTask} runs. */
export interface CommandTaskOptions {
  command: string;
  /** The shell's positional parameters `$1`, `$2`, …. */
  args: readonly string[];
  /** Where it runs; its `stdout` and `stderr` files go here too. */
  cwd: string;
  env: Record<string, string>;
  /** How much of stdout and stderr to keep. */
  tailBytes: number;
  /** Aborting it ends the command; the reason is an {@link AbortReason}. */
  signal: AbortSignal;
}

/** How a command ended. */
export interface CommandTaskResult {
  /** Its exit code, when it exited. */
  exitCode?: number;
  /** The signal that ended it, when one did. */
  signal?: string;
  /** Set when it could not be started at all. */
  spawnError?: string;
  stdoutTail: string;
  stderrTail: string;
  durationMs: number;
}

/** Runs a command to its end (or its abort's). Never rejects. */
export function runCommandTask(options: CommandTaskOptions): Promise<CommandTaskResult> {
  const started = Date.now();
  const stdout = new TailBuffer(options.tailBytes);
  const stderr = new TailBuffer(options.tailBytes);
  return new Promise<CommandTaskResult>((resolve) => {
    const outFile = createWriteStream(join(options.cwd, 'stdout'));
    const errFile = createWriteStream(join(options.cwd, 'stderr'));
    // Ignore write errors of the log files: the tails still hold the output.
    outFile.on('error', () => {});
    errFile.on('error', () => {});
    let settled = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const finish = (result: Omit<CommandTaskResult, 'stdoutTail' | 'stderrTail' | 'durationMs'>) => {
      if (settled) return;
      settled = true;
      if (killTimer !== undefined) clearTimeout(killTimer);
      options.signal.removeEventListener('abort', onAbort);
      outFile.end();
      errFile.end();
      resolve({ ...result, stdoutTail: stdout.text(), stderrTail: stderr.text(), durationMs: Date.now() - started });
    };
    const child = spawn('sh', ['-c', options.command, 'sh', ...options.args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const signalGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const onAbort = () => {
      const reason = options.signal.reason as Partial<AbortReason> | undefined;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), Math.max(0, reason?.graceMs ?? 3000));
      killTimer.unref();
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      outFile.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      errFile.write(chunk);
    });
    child.once('error', (error) => finish({ spawnError: error.message }));
    // 'close' waits for the pipes too, so the tails are complete.
    child.once('close', (code, sig) => {
      // The shell is gone; make sure nothing it started lingers in its group.
      signalGroup('SIGKILL');
      finish(code !== null ? { exitCode: code } : { signal: sig ?? 'unknown' });
    });
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
  });
}
