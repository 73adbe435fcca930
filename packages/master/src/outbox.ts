/**
 * Batching of everything the master sends: status updates and offers to frameworks, launches,
 * kills and acknowledgements to agents. Work done within one turn of the event loop is gathered
 * per destination and sent as one message at the end of the turn, so a burst of 10,000 status
 * updates becomes one UPDATE per framework, and 100,000 launches one RUN_TASKS per agent.
 *
 * @module
 */

import type { AgentCommand, Launch, Offer, Resource, SchedulerEvent, TaskStatus } from '@stoa/core';

type AgentAck = { frameworkId: string; taskId: string; uuid: string };
type AgentKill = Extract<AgentCommand, { type: 'KILL_TASKS' }>['kills'][number];

interface FrameworkBatch {
  statuses: TaskStatus[];
  offers: Offer[];
  rescinds: string[];
}

interface AgentBatch {
  launches: Map<string, Launch>;
  kills: AgentKill[];
  acks: AgentAck[];
  total?: Resource[];
}

/** Where flushed batches go. */
export interface OutboxSink {
  /** Sends events to a framework (the sink assigns `seq`). */
  frameworkEvents(frameworkId: string, events: DistributiveOmit<SchedulerEvent, 'v' | 'seq'>[]): void;
  /** Sends commands to an agent (the sink adds `v` and `epoch`). */
  agentCommands(agentId: string, commands: DistributiveOmit<AgentCommand, 'v' | 'epoch'>[]): void;
}

/** `Omit` over each member of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The largest batch of statuses or offers in one event (keeps messages well under NATS' payload limit). */
const MAX_PER_EVENT = 1000;

/** Gathers messages per destination and sends them at the end of the turn. */
export class Outbox {
  private readonly frameworks = new Map<string, FrameworkBatch>();
  private readonly agents = new Map<string, AgentBatch>();
  private scheduled = false;

  constructor(private readonly sink: OutboxSink) {}

  /** A status for a framework. */
  status(frameworkId: string, status: TaskStatus): void {
    this.framework(frameworkId).statuses.push(status);
  }

  /** An offer for a framework. */
  offer(offer: Offer): void {
    this.framework(offer.frameworkId).offers.push(offer);
  }

  /** A rescinded offer. */
  rescind(frameworkId: string, offerId: string): void {
    this.framework(frameworkId).rescinds.push(offerId);
  }

  /** A task to launch on an agent, grouped by framework. */
  launch(agentId: string, framework: Launch['framework'], task: Launch['tasks'][number]): void {
    const batch = this.agent(agentId);
    const existing = batch.launches.get(framework.id);
    if (existing) existing.tasks.push(task);
    else batch.launches.set(framework.id, { framework, tasks: [task] });
  }

  /** A task group to launch on an agent (its own launch entry). */
  launchGroup(agentId: string, launch: Launch): void {
    this.agent(agentId).launches.set(`${launch.framework.id}\u0000group\u0000${launch.groupExecutor?.executorId}\u0000${launch.tasks[0]?.taskId}`, launch);
  }

  /** A kill for an agent. */
  kill(agentId: string, kill: AgentKill): void {
    this.agent(agentId).kills.push(kill);
  }

  /** An acknowledgement for an agent. */
  ack(agentId: string, ack: AgentAck): void {
    this.agent(agentId).acks.push(ack);
  }

  /** The agent's new total (dynamic reservations, volumes) for it to checkpoint; the latest wins. */
  updateResources(agentId: string, total: Resource[]): void {
    this.agent(agentId).total = total;
  }

  /** Drops everything gathered (a deposed leader must send nothing more). */
  clear(): void {
    this.frameworks.clear();
    this.agents.clear();
  }

  /** Sends everything gathered now. */
  flush(): void {
    this.scheduled = false;
    const frameworks = [...this.frameworks];
    const agents = [...this.agents];
    this.frameworks.clear();
    this.agents.clear();
    for (const [id, b] of frameworks) {
      const events: DistributiveOmit<SchedulerEvent, 'v' | 'seq'>[] = [];
      // Rescinds first: a framework must never act on an offer it was told is gone.
      if (b.rescinds.length > 0) events.push({ type: 'RESCIND', offerIds: b.rescinds });
      for (let i = 0; i < b.statuses.length; i += MAX_PER_EVENT) events.push({ type: 'UPDATE', statuses: b.statuses.slice(i, i + MAX_PER_EVENT) });
      for (let i = 0; i < b.offers.length; i += MAX_PER_EVENT) events.push({ type: 'OFFERS', offers: b.offers.slice(i, i + MAX_PER_EVENT) });
      this.sink.frameworkEvents(id, events);
    }
    for (const [id, b] of agents) {
      const commands: DistributiveOmit<AgentCommand, 'v' | 'epoch'>[] = [];
      if (b.launches.size > 0) commands.push({ type: 'RUN_TASKS', launches: [...b.launches.values()] });
      if (b.kills.length > 0) commands.push({ type: 'KILL_TASKS', kills: b.kills });
      if (b.acks.length > 0) commands.push({ type: 'ACKNOWLEDGE', acks: b.acks });
      if (b.total) commands.push({ type: 'UPDATE_RESOURCES', resources: b.total });
      this.sink.agentCommands(id, commands);
    }
  }

  private framework(id: string): FrameworkBatch {
    let b = this.frameworks.get(id);
    if (!b) {
      b = { statuses: [], offers: [], rescinds: [] };
      this.frameworks.set(id, b);
      this.schedule();
    }
    return b;
  }

  private agent(id: string): AgentBatch {
    let b = this.agents.get(id);
    if (!b) {
      b = { launches: new Map(), kills: [], acks: [] };
      this.agents.set(id, b);
      this.schedule();
    }
    return b;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }
}
