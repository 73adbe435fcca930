/**
 * The fixture of the SDK's tests against the real master (`*.master.test.ts`): a `nats-server`,
 * masters and simulated agents, each on a NATS connection of its own as separate processes would
 * be, and everything the test opens, stopped in reverse order by {@link TestCluster.stop}.
 */

import type { Store } from '@stoa/core';
import { MemoryStore } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import { type AgentTaskView, type SimulatedAgentsHandle, type SimulatedAgentsOptions, startSimulatedAgents } from '@stoa/agent';
import { type MasterHandle, type MasterOptions, startMaster } from '@stoa/master';
import { type NatsServerHandle, startNats } from '@stoa/testkit';

/** Options of {@link TestCluster.start}. */
export interface TestClusterOptions {
  /** JetStream on the server (for `NatsKvStore`). @default false */
  jetstream?: boolean;
}

/** A nats-server and what the test starts on it; {@link TestCluster.stop} undoes it all. */
export class TestCluster implements AsyncDisposable {
  private readonly cleanups: (() => unknown)[] = [];
  private readonly agentSets: SimulatedAgentsHandle[] = [];

  private constructor(readonly nats: NatsServerHandle) {
    this.defer(() => nats.stop());
  }

  /** Starts the server. */
  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    return new TestCluster(await startNats({ jetstream: options.jetstream ?? false }));
  }

  /** Runs `cleanup` in {@link stop}, before what was deferred earlier. */
  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  /** A new NATS connection, closed in {@link stop} (closing it earlier is fine). */
  async transport(name: string): Promise<NatsTransport> {
    const transport = await NatsTransport.connect({ servers: this.nats.servers, name });
    this.defer(() => transport.close());
    return transport;
  }

  /** A master on a connection of its own (and a `MemoryStore` unless `store` is given); stopped in {@link stop}. */
  async startMaster(options: Partial<Omit<MasterOptions, 'transport'>> & { transport?: NatsTransport } = {}): Promise<MasterHandle> {
    const transport = options.transport ?? (await this.transport('master'));
    const store: Store = options.store ?? new MemoryStore();
    const master = await startMaster({ heartbeatIntervalMs: 500, ...options, transport, store, http: false });
    this.defer(() => master.stop());
    return master;
  }

  /** Simulated agents on a connection of their own, registered; stopped in {@link stop}. */
  async startAgents(count: number, options: Partial<Omit<SimulatedAgentsOptions, 'transport' | 'count'>> = {}): Promise<SimulatedAgentsHandle> {
    const transport = await this.transport('agents');
    const agents = await startSimulatedAgents({ ...options, transport, count });
    this.defer(() => agents.stop());
    this.agentSets.push(agents);
    await agents.waitRegistered();
    return agents;
  }

  /** Every task the agents know of (live ones, and ended ones whose last update is not acknowledged). */
  agentTasks(frameworkId?: string): AgentTaskView[] {
    const all = this.agentSets.flatMap((set) => set.agents.flatMap((a) => a.tasks()));
    return frameworkId === undefined ? all : all.filter((t) => t.frameworkId === frameworkId);
  }

  /** The ids of the tasks of `frameworkId` the agents run, sorted. */
  runningOnAgents(frameworkId: string): string[] {
    return this.agentTasks(frameworkId)
      .filter((t) => t.state === 'TASK_RUNNING')
      .map((t) => t.taskId)
      .sort();
  }

  /** Status updates the agents still wait to have acknowledged. */
  unacknowledgedUpdates(): number {
    return this.agentSets.reduce((n, set) => n + set.agents.reduce((m, a) => m + a.stats().updatesPending, 0), 0);
  }

  /** Stops everything, newest first; a failing step does not keep the others from running. */
  async stop(): Promise<void> {
    const errors: unknown[] = [];
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cluster cleanup failed');
  }

  /** Same as {@link stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
