#!/usr/bin/env node
/**
 * The `stoa-master` executable (`stoa-master --help` lists every option).
 *
 * @module
 */
import { StoaError } from '@stoa/core';
import { runMasterCli } from './cli.js';

try {
  await runMasterCli(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`stoa-master: ${(error as Error).message}\n`);
  process.exitCode = StoaError.isInstance(error) && error.code === 'VALIDATION_ERROR' ? 2 : 1;
}
