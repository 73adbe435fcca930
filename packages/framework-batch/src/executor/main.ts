/**
 * The batch executor's bin: the agent runs it (see `batchExecutorInfo`) as
 * `node --import tsx packages/framework-batch/src/executor/main.ts` from sources, or
 * `node dist/executor/main.js` once built. It logs to stderr (the executor sandbox's `stderr`).
 *
 * @module
 */

import { pino } from 'pino';
import { runBatchExecutor } from './run-executor.js';

const logger = pino({ name: 'stoa-batch-executor', level: process.env.STOA_LOG_LEVEL ?? 'info' }, pino.destination(2));

try {
  await runBatchExecutor({ logger });
  process.exit(0);
} catch (error) {
  logger.error({ err: error instanceof Error ? error.message : String(error) }, 'the batch executor failed');
  process.exit(1);
}
