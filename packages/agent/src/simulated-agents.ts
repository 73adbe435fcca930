/**
 * Many simulated agents in one process, for benchmarks and large tests (like Nomad's mock driver
 * or kubemark's hollow nodes): they share one transport, one `SimulatedContainerizer` (tasks run
 * for a set time without a process, and fail at a set rate) and one timer queue, keep no
 * checkpoint, and register with a bounded number of requests in flight so that thousands of them
 * do not flood the master at once.
 *
 * @example
 * ```ts
 * await using sim = await startSimulatedAgents({ transport, count: 2000, resources: 'cpus:8;mem:16384', runForMs: 1000 });
 * await sim.waitRegistered();
 * ```
 * @module
 */

import type { Attributes, FaultDomain, Resource, Transport } from '@stoa/core';
import { pino, type Logger } from 'pino';
import { type AgentHandle, launchAgent } from './agent.js';
import { SimulatedContainerizer } from './containerizer/index.js';
import { resolveResources } from './resources.js';
import { TimerQueue } from './status-updates.js';

/** The resources of each simulated agent when none are given. */
export const DEFAULT_SIMULATED_RESOURCES = 'cpus:8;mem:32768;disk:102400;ports:[31000-32000]';

/** Options of {@link startSimulatedAgents}. */
export interface SimulatedAgentsOptions {
  /** The bus they all use. Required; not closed by `stop()`. */
  transport: Transport;
  /** How many agents. Required. */
  count: number;
  /** Each agent's resources (text or list). @default {@link DEFAULT_SIMULATED_RESOURCES} */
  resources?: string | Resource[];
  /** Each agent's attributes, or a function of the agent's index. @default {} */
  attributes?: Attributes | ((index: number) => Attributes);
  /** Each agent's fault domain, or a function of its index. @default none */
  domain?: FaultDomain | ((index: number) => FaultDomain | undefined);
  /** Host names are this plus the index. @default 'sim-agent-' */
  hostnamePrefix?: string;
  /** How long a task runs unless its labels say otherwise. @default the containerizer's default */
  runForMs?: number;
  /** The share of tasks that fail (0–1). @default 0 */
  failRate?: number;
  /** Registration requests in flight at once, across all agents. @default 200 */
  concurrency?: number;
  /** @default 'agents' */
  principal?: string;
  /** @default 'stoa' */
  subjectPrefix?: string;
  /** Backoff of status-update resends. @default { initialMs: 5000, maxMs: 60000 } */
  statusRetry?: { initialMs?: number; maxMs?: number };
  /** A pino logger shared by all. @default silent */
  logger?: Logger;
}

/** The running agents. */
export interface SimulatedAgentsHandle extends AsyncDisposable {
  /** One handle per agent, in index order. */
  readonly agents: readonly AgentHandle[];
  /** The containerizer they share. */
  readonly containerizer: SimulatedContainerizer;
  /** Resolves once every agent is registered. */
  waitRegistered(): Promise<void>;
  /** Stops every agent (their simulated tasks end with them). */
  stop(): Promise<void>;
}

/** A limit on concurrent calls: a plain FIFO semaphore. */
function gate(limit: number): <T>(attempt: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(attempt: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await attempt();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** Starts `count` simulated agents in this process. */
export async function startSimulatedAgents(options: SimulatedAgentsOptions): Promise<SimulatedAgentsHandle> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const simOptions: ConstructorParameters<typeof SimulatedContainerizer>[0] = {};
  if (options.runForMs !== undefined) simOptions.defaultRunForMs = options.runForMs;
  if (options.failRate !== undefined) simOptions.failRate = options.failRate;
  const containerizer = new SimulatedContainerizer(simOptions);
  const timers = new TimerQueue((error) => logger.error({ err: error }, 'timer callback failed'));
  const registerGate = gate(Math.max(1, options.concurrency ?? 200));
  const resources = await resolveResources(options.resources ?? DEFAULT_SIMULATED_RESOURCES);
  const prefix = options.hostnamePrefix ?? 'sim-agent-';
  const agents: AgentHandle[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(agents.map((a) => a.stop()));
    await containerizer.close({ killAll: true });
    timers.close();
  };
  try {
    for (let i = 0; i < options.count; i++) {
      const attributes = typeof options.attributes === 'function' ? options.attributes(i) : options.attributes;
      const domain = typeof options.domain === 'function' ? options.domain(i) : options.domain;
      agents.push(
        await launchAgent(
          {
            transport: options.transport,
            containerizer,
            checkpoint: false,
            hostname: `${prefix}${i}`,
            resources,
            ...(attributes !== undefined ? { attributes } : {}),
            ...(domain !== undefined ? { domain } : {}),
            ...(options.principal !== undefined ? { principal: options.principal } : {}),
            ...(options.subjectPrefix !== undefined ? { subjectPrefix: options.subjectPrefix } : {}),
            ...(options.statusRetry !== undefined ? { statusRetry: options.statusRetry } : {}),
            logger,
          },
          { timers, registerGate },
        ),
      );
    }
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopAll();
    return stopping;
  };
  return {
    agents,
    containerizer,
    waitRegistered: async () => {
      await Promise.all(agents.map((a) => a.waitRegistered()));
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
