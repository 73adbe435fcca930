#!/usr/bin/env node
/**
 * The `stoa-agent` executable (`stoa-agent --help` lists every option).
 *
 * @module
 */
import { StoaError } from '@stoa/core';
import { runAgentCli } from './cli.js';

try {
  await runAgentCli(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`stoa-agent: ${(error as Error).message}\n`);
  process.exitCode = StoaError.isInstance(error) && error.code === 'VALIDATION_ERROR' ? 2 : 1;
}
