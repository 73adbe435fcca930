/**
 * The Stoa agent: resources, containerizers (process, simulated), sandboxes, the fetcher, health
 * checks, reliable status updates and recovery. `startAgent` runs one agent; `startSimulatedAgents`
 * runs thousands of simulated ones in one process for benchmarks.
 *
 * @example
 * ```ts
 * import { NatsTransport } from '@stoa/core/nats';
 * import { startAgent } from '@stoa/agent';
 *
 * const transport = await NatsTransport.connect({ servers: 'nats://127.0.0.1:4222' });
 * const agent = await startAgent({ transport, workDir: '/var/lib/stoa', resources: 'cpus:4;mem:4096' });
 * await agent.waitRegistered();
 * ```
 * @module
 */
export { type AgentHandle, type AgentOptions, type AgentStats, type AgentTaskView, startAgent, VERSION } from './agent.js';
export * from './containerizer/index.js';
export { FetchError, type FetchOptions, type FetchedFile, fetchUris } from './fetcher.js';
export { HealthChecker, type HealthCheckerOptions, type TaskHealth } from './health/index.js';
export { detectResources, resolveAttributes, resolveResources } from './resources.js';
export {
  DEFAULT_SIMULATED_RESOURCES,
  type SimulatedAgentsHandle,
  type SimulatedAgentsOptions,
  startSimulatedAgents,
} from './simulated-agents.js';
export type { StatusRetryOptions } from './status-updates.js';
export { AGENT_OPTIONS, runAgentCli } from './cli.js';
