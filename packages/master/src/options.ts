/**
 * The master's options: a documented interface with every tuning field optional, and the resolved
 * form with defaults applied.
 *
 * @module
 */

import { hostname } from 'node:os';
import type { Store, Transport } from '@stoa/core';
import type { Logger } from 'pino';

/** Options of {@link startMaster}. */
export interface MasterOptions {
  /** The bus. Required. */
  transport: Transport;
  /** Durable state (the registry). Required. */
  store: Store;
  /** The subject prefix, so several clusters can share one NATS. @default 'stoa' */
  subjectPrefix?: string;
  /** This master's id. @default a random one */
  masterId?: string;
  /** The hostname it reports. @default os.hostname() */
  hostname?: string;
  /** The HTTP operator API, or `false` for none. @default { port: 5050, host: '127.0.0.1' } */
  http?: { port?: number; host?: string } | false;
  /** How often each agent is pinged. @default 5000 */
  pingIntervalMs?: number;
  /** Pings missed in a row before an agent is UNREACHABLE. @default 3 */
  maxMissedPings?: number;
  /** How long an unreachable agent may take to come back before it is GONE. @default 600000 (10 min) */
  agentReregisterTimeoutMs?: number;
  /** How often the master sends HEARTBEAT events (and expects frameworks' heartbeats). @default 5000 */
  heartbeatIntervalMs?: number;
  /** Heartbeat intervals without a call before a framework is disconnected. @default 3 */
  maxMissedHeartbeats?: number;
  /** Offers not answered in this time are rescinded; 0 turns the timeout off. @default 30000 */
  offerTimeoutMs?: number;
  /** An allocation cycle runs at least this often (filters expire, offers return). @default 1000 */
  allocationIntervalMs?: number;
  /** Changes are gathered this long before an allocation cycle runs. @default 5 */
  allocationBatchMs?: number;
  /** The decline filter when a framework gives none. @default 5000 */
  defaultRefuseMs?: number;
  /** An agent's free resources are offered only if they hold one of these. @default [{cpus: 0.01}, {mem: 32}] */
  minAllocatable?: Record<string, number>[];
  /** Terminal tasks kept for the operator API and reconciliation. @default 100000 */
  maxCompletedTasks?: number;
  /** How long the leader lease lasts without renewal (renewed every quarter of it). @default 5000 */
  leaseMs?: number;
  /**
   * After a change of leader, agents of the registry that have not re-registered within this time
   * are unreachable (until then reconciliation does not answer for their tasks). @default 30000
   */
  agentRecoveryTimeoutMs?: number;
  /** Initial role weights (weights set through the operator API are durable and win). */
  weights?: Record<string, number>;
  /** A pino logger. @default silent */
  logger?: Logger;
}

/** {@link MasterOptions} with every default applied. */
export type ResolvedMasterOptions = Required<Omit<MasterOptions, 'logger' | 'http' | 'masterId' | 'hostname' | 'weights'>> & {
  http: { port: number; host: string } | false;
  masterId?: string;
  hostname?: string;
  weights: Record<string, number>;
};

/** Applies the defaults. */
export function resolveMasterOptions(options: MasterOptions): ResolvedMasterOptions {
  return {
    transport: options.transport,
    store: options.store,
    subjectPrefix: options.subjectPrefix ?? 'stoa',
    ...(options.masterId ? { masterId: options.masterId } : {}),
    hostname: options.hostname ?? hostname(),
    http: options.http === false ? false : { port: options.http?.port ?? 5050, host: options.http?.host ?? '127.0.0.1' },
    pingIntervalMs: options.pingIntervalMs ?? 5000,
    maxMissedPings: options.maxMissedPings ?? 3,
    agentReregisterTimeoutMs: options.agentReregisterTimeoutMs ?? 600_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 5000,
    maxMissedHeartbeats: options.maxMissedHeartbeats ?? 3,
    offerTimeoutMs: options.offerTimeoutMs ?? 30_000,
    allocationIntervalMs: options.allocationIntervalMs ?? 1000,
    allocationBatchMs: options.allocationBatchMs ?? 5,
    defaultRefuseMs: options.defaultRefuseMs ?? 5000,
    minAllocatable: options.minAllocatable ?? [{ cpus: 0.01 }, { mem: 32 }],
    maxCompletedTasks: options.maxCompletedTasks ?? 100_000,
    weights: options.weights ?? {},
    leaseMs: options.leaseMs ?? 5000,
    agentRecoveryTimeoutMs: options.agentRecoveryTimeoutMs ?? 30_000,
  };
}
