#!/usr/bin/env node
/**
 * `stoa-agent`: runs one Stoa agent until SIGINT or SIGTERM. Its tasks keep running when it stops
 * (they are detached); started again on the same work dir, it re-attaches to them.
 *
 * ```text
 * stoa-agent --nats nats://10.0.0.1:4222 --work-dir /var/lib/stoa \
 *            --resources 'cpus:4;mem:4096' --attributes 'rack:r1' [--containerizer process|simulated]
 *            [--hostname H] [--principal agents] [--prefix stoa] [--recover reconnect|cleanup]
 * ```
 *
 * The NATS URL comes from `--nats`, else `STOA_NATS_URL`, else `nats://127.0.0.1:4222`. Logs go to
 * stderr as pino JSON lines (`--log-level`, default `info`).
 *
 * @module
 */

import { parseArgs } from 'node:util';
import { NatsTransport } from '@stoa/core/nats';
import { pino } from 'pino';
import { startAgent } from './agent.js';

const USAGE = `usage: stoa-agent [--nats URL] [--work-dir DIR] [--resources TEXT] [--attributes TEXT]
                  [--hostname NAME] [--containerizer process|simulated] [--principal NAME]
                  [--prefix PREFIX] [--recover reconnect|cleanup] [--log-level LEVEL]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nats: { type: 'string' },
      'work-dir': { type: 'string' },
      resources: { type: 'string' },
      attributes: { type: 'string' },
      hostname: { type: 'string' },
      containerizer: { type: 'string' },
      principal: { type: 'string' },
      prefix: { type: 'string' },
      recover: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const containerizer = values.containerizer ?? 'process';
  if (containerizer !== 'process' && containerizer !== 'simulated') throw new Error(`--containerizer must be process or simulated, not ${containerizer}`);
  const recover = values.recover ?? 'reconnect';
  if (recover !== 'reconnect' && recover !== 'cleanup') throw new Error(`--recover must be reconnect or cleanup, not ${recover}`);
  if (containerizer === 'process' && values['work-dir'] === undefined) throw new Error('--work-dir is required with the process containerizer');

  const logger = pino({ level: values['log-level'] ?? 'info', base: { component: 'stoa-agent' } }, pino.destination(2));
  const servers = values.nats ?? process.env.STOA_NATS_URL ?? 'nats://127.0.0.1:4222';
  const transport = await NatsTransport.connect({ servers, name: 'stoa-agent' });
  const agent = await startAgent({
    transport,
    containerizer,
    recover,
    logger,
    ...(values['work-dir'] !== undefined ? { workDir: values['work-dir'] } : {}),
    ...(values.resources !== undefined ? { resources: values.resources } : {}),
    ...(values.attributes !== undefined ? { attributes: values.attributes } : {}),
    ...(values.hostname !== undefined ? { hostname: values.hostname } : {}),
    ...(values.principal !== undefined ? { principal: values.principal } : {}),
    ...(values.prefix !== undefined ? { subjectPrefix: values.prefix } : {}),
  });
  agent.waitRegistered().then(
    () => logger.info({ agentId: agent.agentId }, 'agent registered'),
    () => {},
  );

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      process.exit(1); // a second signal: stop waiting
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    void (async () => {
      await agent.stop();
      await transport.drain().catch(() => transport.close());
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`stoa-agent: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
});
