/**
 * `stoa-agent` (and `stoa agent`): runs one agent on NATS until SIGINT or SIGTERM, configured by
 * flags, `STOA_…` environment variables or a JSON config file. Its tasks keep running when it
 * stops (they are detached); started again on the same work dir, it re-attaches to them.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { ValidationError } from '@stoa/core';
import { componentUsage, resolveComponentOptions } from '@stoa/core/internal';
import { NatsTransport } from '@stoa/core/nats';
import { pino } from 'pino';
import { startAgent } from './agent.js';

/** The agent's command-line options. */
export const AGENT_OPTIONS = {
  nats: { type: 'string', description: 'NATS server URL(s), comma-separated', default: 'nats://127.0.0.1:4222', env: 'STOA_NATS_URL' },
  'work-dir': { type: 'string', description: 'sandboxes, checkpoints and the fetcher cache (required for the process containerizer)' },
  resources: { type: 'string', description: "resources to offer, e.g. 'cpus:4;mem:4096;ports:[31000-32000];cpus(ops):1' (default: detected)" },
  attributes: { type: 'string', description: "attributes, e.g. 'rack:r1;zone:a'" },
  region: { type: 'string', description: 'fault domain: region' },
  zone: { type: 'string', description: 'fault domain: zone' },
  rack: { type: 'string', description: 'fault domain: rack' },
  hostname: { type: 'string', description: 'the hostname tasks and frameworks see (default: this host)' },
  containerizer: { type: 'string', description: 'how tasks run', default: 'process', choices: ['process', 'simulated'] },
  principal: { type: 'string', description: 'the principal agents call the master as', default: 'agents' },
  prefix: { type: 'string', description: 'subject prefix of the cluster', default: 'stoa' },
  recover: { type: 'string', description: 'on restart, re-attach to live tasks or kill them', default: 'reconnect', choices: ['reconnect', 'cleanup'] },
  'kill-grace-period-ms': { type: 'number', description: 'SIGTERM to SIGKILL grace when a task has no kill policy', default: 3000 },
  'sandbox-gc-delay-ms': { type: 'number', description: 'how long an ended sandbox is kept (shorter when the disk fills)', default: 604800000 },
  'gc-disk-headroom': { type: 'number', description: 'free disk fraction at or below which ended sandboxes go at once', default: 0.1 },
  'usage-interval-ms': { type: 'number', description: 'how often task usage is read from /proc (0: never)', default: 10000 },
  'log-level': { type: 'string', description: 'log level', default: 'info', choices: ['silent', 'error', 'warn', 'info', 'debug', 'trace'] },
} as const;

/** Runs an agent from command-line arguments until a signal; prints `--help` when asked. */
export async function runAgentCli(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const { values: o, help } = resolveComponentOptions(AGENT_OPTIONS, argv, process.env, (path) => JSON.parse(readFileSync(path, 'utf8')));
  if (help) {
    out(componentUsage('stoa agent', 'Runs one Stoa agent: it offers this machine to the master and runs the tasks frameworks launch on it.', AGENT_OPTIONS));
    return;
  }
  const containerizer = o.containerizer === 'simulated' ? 'simulated' : 'process';
  if (containerizer === 'process' && o['work-dir'] === undefined) {
    throw new ValidationError('--work-dir is required with the process containerizer', { details: { field: 'work-dir' } });
  }
  const logger = pino({ level: o['log-level'] ?? 'info', base: { component: 'stoa-agent' } }, pino.destination(2));
  const transport = await NatsTransport.connect({ servers: (o.nats ?? '').split(','), name: 'stoa-agent' });
  const domain = { ...(o.region ? { region: o.region } : {}), ...(o.zone ? { zone: o.zone } : {}), ...(o.rack ? { rack: o.rack } : {}) };
  const agent = await startAgent({
    transport,
    containerizer,
    // Executors this agent starts reach NATS at the URL the agent uses.
    executorNatsUrl: (o.nats ?? '').split(',')[0] ?? '',
    recover: o.recover === 'cleanup' ? 'cleanup' : 'reconnect',
    logger,
    ...(o['work-dir'] !== undefined ? { workDir: o['work-dir'] } : {}),
    ...(o.resources !== undefined ? { resources: o.resources } : {}),
    ...(o.attributes !== undefined ? { attributes: o.attributes } : {}),
    ...(Object.keys(domain).length > 0 ? { domain } : {}),
    ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
    ...(o.principal !== undefined ? { principal: o.principal } : {}),
    ...(o.prefix !== undefined ? { subjectPrefix: o.prefix } : {}),
    ...(o['kill-grace-period-ms'] !== undefined ? { killGracePeriodMs: o['kill-grace-period-ms'] } : {}),
    ...(o['sandbox-gc-delay-ms'] !== undefined ? { sandboxGcDelayMs: o['sandbox-gc-delay-ms'] } : {}),
    ...(o['gc-disk-headroom'] !== undefined ? { gcDiskHeadroom: o['gc-disk-headroom'] } : {}),
    ...(o['usage-interval-ms'] !== undefined ? { usageIntervalMs: o['usage-interval-ms'] } : {}),
  });
  agent.waitRegistered().then(
    () => logger.info({ agentId: agent.agentId }, 'agent registered'),
    () => {},
  );
  const signal = await new Promise<string>((resolve) => {
    const on = (s: string) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  logger.info({ signal }, 'stopping');
  await agent.stop();
  await transport.drain().catch(() => transport.close());
}
