/**
 * `stoa dev`: a whole cluster in one process — a private `nats-server` (JetStream, data kept in
 * the data dir), the master with its HTTP API, process agents (each with its own work dir,
 * loopback address as hostname, and port range, so they never collide), simulated agents, and the
 * frameworks (marathon on 8080, chronos on 4400, batch on 4500; batch runs its tasks in an
 * executor process, so it needs NATS).
 * Without `nats-server` on PATH it says so and runs on the in-process bus and store, which only its
 * own components and HTTP clients can reach. It writes `<data>/cluster.json` for clients.
 *
 * @example
 * ```ts
 * const cluster = await startDevCluster({ dataDir: '.stoa', agents: 3 });
 * console.log(cluster.urls);
 * await cluster.stop();
 * ```
 * @module
 */

import { mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { type AgentHandle, type SimulatedAgentsHandle, startAgent, startSimulatedAgents } from '@stoa/agent';
import { MemoryBus, MemoryStore, MemoryTransport, type Store, type Transport } from '@stoa/core';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { startBatch } from '@stoa/framework-batch';
import { startChronos } from '@stoa/framework-chronos';
import { startMarathon } from '@stoa/framework-marathon';
import { type MasterHandle, startMaster } from '@stoa/master';
import { findNatsServer, type NatsServerHandle, startNats } from '@stoa/testkit';
import type { Logger } from 'pino';
import { clusterFilePath, writeClusterFile } from '@stoa/sdk';

/** Options of {@link startDevCluster}. */
export interface DevClusterOptions {
  /** Where state lives (NATS data, agents' work dirs, cluster.json). @default '.stoa' */
  dataDir?: string;
  /** Process agents. @default 3 */
  agents?: number;
  /** Simulated agents added to them. @default 0 */
  simulatedAgents?: number;
  /** Join this NATS instead of starting one. */
  nats?: string;
  /** Force the in-process bus even when nats-server is installed. @default false */
  memory?: boolean;
  /** The master's HTTP port (0 picks a free one). @default 5050 */
  masterPort?: number;
  /** The subject prefix. @default 'stoa' */
  subjectPrefix?: string;
  /** The frameworks' HTTP ports (0 picks a free one; false leaves the framework out). @default marathon 8080, chronos 4400, batch 4500 */
  frameworks?: { marathon?: number | false; chronos?: number | false; batch?: number | false };
  /** A logger. */
  logger?: Logger;
}

/** A running dev cluster. */
export interface DevCluster extends AsyncDisposable {
  /** `nats` or `memory`. */
  readonly transportKind: 'nats' | 'memory';
  /** The NATS URL, when on NATS. */
  readonly natsUrl: string | undefined;
  /** HTTP endpoints by component. */
  readonly urls: Record<string, string>;
  /** Where the cluster file was written. */
  readonly clusterFile: string;
  readonly master: MasterHandle;
  readonly agents: readonly AgentHandle[];
  /** Stops everything: agents (killing their tasks), master, NATS. Leaves no process behind. */
  stop(): Promise<void>;
}

/** Why the cluster runs on the in-process bus, for the banner. */
export const MEMORY_NOTICE =
  'nats-server was not found on PATH: the cluster runs on the in-process bus and store. Its own components and HTTP ' +
  'clients (the stoa commands, browsers) reach it; an SDK client in another process needs NATS — install it with ' +
  '`apt-get install -y nats-server` (or pass --nats URL) and start stoa dev again.';

/** Starts the dev cluster. */
export async function startDevCluster(options: DevClusterOptions = {}): Promise<DevCluster> {
  const dataDir = resolve(options.dataDir ?? '.stoa');
  mkdirSync(dataDir, { recursive: true });
  const prefix = options.subjectPrefix ?? 'stoa';
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        options.logger?.error({ err: error }, 'stopping a part of the dev cluster failed');
      }
    }
    stops.length = 0;
  };

  try {
    let transport: Transport;
    let store: Store;
    /** A store of its own for each framework (on NATS, a bucket of its own). */
    let frameworkStore: (name: string) => Promise<Store>;
    let natsUrl: string | undefined;
    let kind: 'nats' | 'memory';
    if (!options.memory && (options.nats || findNatsServer())) {
      if (options.nats) {
        natsUrl = options.nats;
      } else {
        const server: NatsServerHandle = await startNats({ dir: join(dataDir, 'nats'), jetstream: true });
        stops.push(() => server.stop());
        natsUrl = server.url;
      }
      const nats = await NatsTransport.connect({ servers: natsUrl, name: 'stoa-dev' });
      stops.push(() => nats.close());
      transport = nats;
      store = await NatsKvStore.open(nats.connection, { bucket: `${prefix}-master` });
      frameworkStore = (name) => NatsKvStore.open(nats.connection, { bucket: `${prefix}-${name}` });
      kind = 'nats';
    } else {
      const bus = new MemoryBus();
      transport = MemoryTransport.create({ bus });
      stops.push(() => transport.close());
      store = new MemoryStore();
      frameworkStore = async () => new MemoryStore();
      kind = 'memory';
    }

    const master = await startMaster({
      transport,
      store,
      subjectPrefix: prefix,
      http: { port: options.masterPort ?? 5050, host: '127.0.0.1' },
      ...(options.logger ? { logger: options.logger.child({ component: 'master' }) } : {}),
    });
    stops.push(() => master.stop());

    const count = options.agents ?? 3;
    const agents: AgentHandle[] = [];
    const cpuCount = cpus().length;
    const memMb = Math.max(512, Math.floor((totalmem() / 2 ** 20 - 1024) / Math.max(1, count)));
    for (let i = 0; i < count; i++) {
      const base = 31000 + i * 1000;
      const agent = await startAgent({
        transport,
        subjectPrefix: prefix,
        workDir: join(dataDir, 'agents', `agent-${i + 1}`),
        // Each agent is its own loopback address: distinct hostnames that resolve, so UNIQUE
        // hostname constraints and health checks work on one machine.
        hostname: `127.0.0.${i + 1}`,
        resources: `cpus:${cpuCount};mem:${memMb};disk:10240;ports:[${base}-${base + 999}]`,
        attributes: `agent:agent-${i + 1};rack:r${(i % 3) + 1};zone:z${(i % 2) + 1}`,
        ...(natsUrl ? { executorNatsUrl: natsUrl } : {}),
        ...(options.logger ? { logger: options.logger.child({ component: `agent-${i + 1}` }) } : {}),
      });
      stops.push(() => agent.stop({ killTasks: true }));
      agents.push(agent);
    }
    let simulated: SimulatedAgentsHandle | undefined;
    if (options.simulatedAgents) {
      simulated = await startSimulatedAgents({ transport, subjectPrefix: prefix, count: options.simulatedAgents, hostnamePrefix: 'sim-' });
      stops.push(() => simulated!.stop());
    }
    await Promise.all(agents.map((a) => a.waitRegistered()));
    await simulated?.waitRegistered();

    const urls: Record<string, string> = {};
    if (master.httpUrl) urls.master = master.httpUrl;
    const ports = { marathon: 8080, chronos: 4400, batch: 4500, ...options.frameworks };
    const child = (name: string) => (options.logger ? { logger: options.logger.child({ component: name }) } : {});
    if (ports.marathon !== false) {
      const marathon = await startMarathon({ transport, store: await frameworkStore('marathon'), subjectPrefix: prefix, httpPort: ports.marathon, host: '127.0.0.1', ...child('marathon') });
      stops.push(() => marathon.stop());
      urls.marathon = marathon.httpUrl;
    }
    if (ports.chronos !== false) {
      const chronos = await startChronos({ transport, store: await frameworkStore('chronos'), subjectPrefix: prefix, httpPort: ports.chronos, host: '127.0.0.1', ...child('chronos') });
      stops.push(() => chronos.stop());
      urls.chronos = chronos.httpUrl;
    }
    if (ports.batch !== false && kind === 'nats') {
      const batch = await startBatch({ transport, store: await frameworkStore('batch'), subjectPrefix: prefix, httpPort: ports.batch, host: '127.0.0.1', ...child('batch') });
      stops.push(() => batch.stop());
      if (batch.httpUrl) urls.batch = batch.httpUrl;
    }
    const clusterFile = writeClusterFile(dataDir, {
      v: 1,
      transport: kind,
      ...(natsUrl ? { natsUrl } : {}),
      subjectPrefix: prefix,
      http: urls,
      pid: process.pid,
      startedMs: Date.now(),
    });
    const cluster: DevCluster = {
      transportKind: kind,
      natsUrl,
      urls,
      clusterFile,
      master,
      agents,
      stop: stopAll,
      [Symbol.asyncDispose]: stopAll,
    };
    return cluster;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The lines `stoa dev` prints once the cluster is up. */
export function banner(cluster: DevCluster, dataDir: string): string {
  const lines = ['', 'Stoa dev cluster is up.', ''];
  if (cluster.transportKind === 'memory') lines.push(MEMORY_NOTICE, 'Batch runs its tasks in an executor process that needs NATS: it is left out.', '');
  if (cluster.natsUrl) lines.push(`  NATS     ${cluster.natsUrl}`);
  for (const [name, url] of Object.entries(cluster.urls)) lines.push(`  ${name.padEnd(8)} ${url}`);
  lines.push(`  agents   ${cluster.agents.length} process agent(s)`);
  lines.push('', `Clients find it through ${clusterFilePath(dataDir)} (or STOA_NATS_URL / --nats).`, 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}
