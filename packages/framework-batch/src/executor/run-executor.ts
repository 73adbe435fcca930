/**
 * The batch executor as a process: connect to the agent that started it (everything it needs is in
 * its environment), run tasks until the agent sends SHUTDOWN (or refuses it), kill what still runs,
 * report it, and leave. `main.ts` is the bin that calls {@link runBatchExecutor}.
 *
 * Environment, besides the `STOA_*` the agent sets: `STOA_BATCH_MAX_CONCURRENCY`,
 * `STOA_BATCH_STDOUT_TAIL_BYTES`, `STOA_BATCH_RESULT_LIMIT_BYTES`, `STOA_BATCH_KILL_GRACE_MS`,
 * `STOA_BATCH_RUNNING_DELAY_MS`
 * (see {@link batchExecutorInfo}).
 *
 * @module
 */

import { ExecutorClient, type ExecutorClientLogger, type ExecutorClientOptions } from '@stoa/sdk';
import { BatchExecutor, type BatchExecutorOptions } from './batch-executor.js';

/** Options of {@link runBatchExecutor}. */
export interface RunBatchExecutorOptions extends BatchExecutorOptions {
  /** How to reach the agent. @default from the environment */
  client?: ExecutorClientOptions;
  /** Where the settings are read. @default process.env */
  env?: Record<string, string | undefined>;
  logger?: ExecutorClientLogger;
}

/** How long a call to the agent may take, unless `client.requestTimeoutMs` says otherwise. */
const REQUEST_TIMEOUT_MS = 30_000;

function numberFrom(env: Record<string, string | undefined>, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Runs the batch executor until SHUTDOWN; resolves once it has reported its tasks and closed. */
export async function runBatchExecutor(options: RunBatchExecutorOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  // An agent launching thousands of tasks can take seconds to come to an UPDATE: a call timing
  // out re-subscribes with every unacknowledged update, which only adds to its work, so calls get
  // longer than the client's 5 s default (an agent that went away answers NO_RESPONDERS at once).
  const client = await ExecutorClient.connect({
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...options.client,
  });
  const maxConcurrency = options.maxConcurrency ?? numberFrom(env, 'STOA_BATCH_MAX_CONCURRENCY');
  const stdoutTailBytes = options.stdoutTailBytes ?? numberFrom(env, 'STOA_BATCH_STDOUT_TAIL_BYTES');
  const resultLimitBytes = options.resultLimitBytes ?? numberFrom(env, 'STOA_BATCH_RESULT_LIMIT_BYTES');
  const killGracePeriodMs = options.killGracePeriodMs ?? numberFrom(env, 'STOA_BATCH_KILL_GRACE_MS');
  const runningDelayMs = options.runningDelayMs ?? numberFrom(env, 'STOA_BATCH_RUNNING_DELAY_MS');
  const capacity = options.capacity ?? client.subscription?.executorInfo.resources;
  const sandboxDir = options.sandboxDir ?? env.STOA_SANDBOX;
  const executor = BatchExecutor.attach(client, {
    ...options,
    env,
    ...(capacity !== undefined ? { capacity } : {}),
    ...(sandboxDir !== undefined ? { sandboxDir } : {}),
    ...(maxConcurrency !== undefined && maxConcurrency > 0 ? { maxConcurrency } : {}),
    ...(stdoutTailBytes !== undefined ? { stdoutTailBytes } : {}),
    ...(resultLimitBytes !== undefined ? { resultLimitBytes } : {}),
    ...(killGracePeriodMs !== undefined ? { killGracePeriodMs } : {}),
    ...(runningDelayMs !== undefined ? { runningDelayMs } : {}),
  });
  const shutdown = new Promise<number | undefined>((resolve) => client.on('SHUTDOWN', (event) => resolve(event.gracePeriodMs)));
  const refused = client.closed.then((error) => {
    if (error !== undefined) options.logger?.error({ err: error.message }, 'the agent ended this executor');
    return undefined;
  });
  const graceMs = await Promise.race([shutdown, refused]);
  // Leave a second of the agent's grace for the reports to reach it.
  await executor.shutdown(graceMs === undefined ? undefined : Math.max(0, graceMs - 1000));
  await client.close();
}
