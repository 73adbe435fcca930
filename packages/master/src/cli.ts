/**
 * `stoa-master` (and `stoa master`): runs one master on NATS until SIGINT or SIGTERM, configured
 * by flags, `STOA_…` environment variables or a JSON config file. Its registry lives in a
 * JetStream KV bucket, so a master restarted (or another one) carries on from it.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { componentUsage, resolveComponentOptions, untilSignal } from '@stoa/core/internal';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { pino } from 'pino';
import { startMaster } from './master.js';

/** The master's command-line options. */
export const MASTER_OPTIONS = {
  nats: { type: 'string', description: 'NATS server URL(s), comma-separated', default: 'nats://127.0.0.1:4222', env: 'STOA_NATS_URL' },
  prefix: { type: 'string', description: 'subject prefix of the cluster', default: 'stoa' },
  bucket: { type: 'string', description: 'JetStream KV bucket of the registry', default: 'stoa-master' },
  replicas: { type: 'number', description: 'replicas of the registry bucket (3 on a 3-node NATS cluster)', default: 1 },
  'http-port': { type: 'number', description: 'port of the HTTP operator API', default: 5050 },
  'http-host': { type: 'string', description: 'address the HTTP operator API listens on', default: '127.0.0.1' },
  'master-id': { type: 'string', description: "this master's id (default: a random one)" },
  'ping-interval-ms': { type: 'number', description: 'how often each agent is pinged', default: 5000 },
  'max-missed-pings': { type: 'number', description: 'missed pings before an agent is unreachable', default: 3 },
  'agent-reregister-timeout-ms': { type: 'number', description: 'how long an unreachable agent may take to come back', default: 600000 },
  'heartbeat-interval-ms': { type: 'number', description: 'heartbeat interval to and from frameworks', default: 5000 },
  'max-missed-heartbeats': { type: 'number', description: 'silent intervals before a framework is disconnected', default: 3 },
  'offer-timeout-ms': { type: 'number', description: 'offers not answered in this time are rescinded (0: never)', default: 30000 },
  'allocation-interval-ms': { type: 'number', description: 'an allocation cycle runs at least this often', default: 1000 },
  'default-refuse-ms': { type: 'number', description: 'decline filter when a framework gives none', default: 5000 },
  'lease-ms': { type: 'number', description: 'leader lease length (renewed every quarter of it)', default: 5000 },
  'agent-recovery-timeout-ms': { type: 'number', description: 'after a change of leader, agents not back by then are unreachable', default: 30000 },
  'log-level': { type: 'string', description: 'log level', default: 'info', choices: ['silent', 'error', 'warn', 'info', 'debug', 'trace'] },
} as const;


/** Runs a master from command-line arguments until a signal; prints `--help` when asked. */
export async function runMasterCli(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const { values: o, help } = resolveComponentOptions(MASTER_OPTIONS, argv, process.env, (path) => JSON.parse(readFileSync(path, 'utf8')));
  if (help) {
    out(componentUsage('stoa master', 'Runs one Stoa master: it pools agents, offers them to frameworks, and serves the operator API.', MASTER_OPTIONS));
    return;
  }
  const logger = pino({ level: o['log-level'] ?? 'info', base: { component: 'stoa-master' } }, pino.destination(2));
  const servers = (o.nats ?? '').split(',');
  const transport = await NatsTransport.connect({ servers, name: 'stoa-master' });
  // The store on a connection of its own: a lease renewal's reply must not queue behind megabytes
  // of calls on the busy one, or the leader stops acting while it waits.
  const store = await NatsKvStore.connect({ servers, name: 'stoa-master-store', bucket: o.bucket ?? 'stoa-master', replicas: o.replicas ?? 1 });
  const master = await startMaster({
    transport,
    store,
    logger,
    subjectPrefix: o.prefix ?? 'stoa',
    http: { port: o['http-port'] ?? 5050, host: o['http-host'] ?? '127.0.0.1' },
    ...(o['master-id'] ? { masterId: o['master-id'] } : {}),
    ...(o['ping-interval-ms'] !== undefined ? { pingIntervalMs: o['ping-interval-ms'] } : {}),
    ...(o['max-missed-pings'] !== undefined ? { maxMissedPings: o['max-missed-pings'] } : {}),
    ...(o['agent-reregister-timeout-ms'] !== undefined ? { agentReregisterTimeoutMs: o['agent-reregister-timeout-ms'] } : {}),
    ...(o['heartbeat-interval-ms'] !== undefined ? { heartbeatIntervalMs: o['heartbeat-interval-ms'] } : {}),
    ...(o['max-missed-heartbeats'] !== undefined ? { maxMissedHeartbeats: o['max-missed-heartbeats'] } : {}),
    ...(o['offer-timeout-ms'] !== undefined ? { offerTimeoutMs: o['offer-timeout-ms'] } : {}),
    ...(o['allocation-interval-ms'] !== undefined ? { allocationIntervalMs: o['allocation-interval-ms'] } : {}),
    ...(o['default-refuse-ms'] !== undefined ? { defaultRefuseMs: o['default-refuse-ms'] } : {}),
    ...(o['lease-ms'] !== undefined ? { leaseMs: o['lease-ms'] } : {}),
    ...(o['agent-recovery-timeout-ms'] !== undefined ? { agentRecoveryTimeoutMs: o['agent-recovery-timeout-ms'] } : {}),
  });
  if (!master.isLeader) logger.info({ masterId: master.masterId }, 'following: another master leads');
  master.waitLeading().then(
    () => logger.info({ masterId: master.masterId, epoch: master.epoch }, 'leading'),
    () => {},
  );
  logger.info({ masterId: master.masterId, epoch: master.epoch, http: master.httpUrl }, 'master running');
  const signal = await untilSignal();
  logger.info({ signal }, 'stopping');
  await master.stop();
  await store.close();
  await transport.drain();
}
