/**
 * Scripted peers for the master's tests: a fake agent and a fake framework that speak the wire
 * protocol directly over a Transport, record everything they receive, and do only what the test
 * tells them — so edge cases a real agent or SDK would never produce can be driven.
 */

import {
  AgentCommandSchema,
  type AgentCommand,
  type AgentInfo,
  decode,
  encode,
  type FrameworkInfo,
  fromWire,
  type Offer,
  type Operation,
  parseResources,
  RegisterReplySchema,
  SchedulerCallReplySchema,
  type SchedulerCall,
  SchedulerCallSchema,
  type SchedulerEvent,
  SchedulerEventSchema,
  type SchedulerEventType,
  SubscribeReplySchema,
  subjects,
  type TaskStatus,
  type Transport,
  type TransportSubscription,
  AgentCallSchema,
  AgentCallReplySchema,
  type AgentCall,
  PongSchema,
} from '@stoa/core';
import { waitFor } from '@stoa/testkit';

const s = subjects();

/** A fake agent: registers, answers pings (unless told not to), records commands. */
export class FakeAgent {
  agentId = '';
  epoch = 0;
  readonly commands: AgentCommand[] = [];
  answerPings = true;
  private sub: TransportSubscription | undefined;

  constructor(
    readonly transport: Transport,
    readonly info: AgentInfo,
    readonly principal = 'agents',
  ) {}

  /** An agent with `cpus:4;mem:4096;ports:[31000-31099]` (or the given resources). */
  static make(transport: Transport, hostname: string, resources = 'cpus:4;mem:4096;ports:[31000-31099]', attributes: Record<string, string> = {}): FakeAgent {
    return new FakeAgent(transport, { hostname, resources: parseResources(resources), attributes });
  }

  async call(call: AgentCall): Promise<unknown> {
    const reply = await this.transport.request(s.agentCalls(this.principal), encode(AgentCallSchema, call), { timeoutMs: 5000 });
    const r = decode(AgentCallReplySchema, reply.data);
    if (!r.ok) throw fromWire(r.error);
    return r.result;
  }

  async register(): Promise<string> {
    const reply = await this.transport.request(s.agentCalls(this.principal), encode(AgentCallSchema, { v: 1, type: 'REGISTER', agentInfo: this.info }), { timeoutMs: 5000 });
    const r = decode(RegisterReplySchema, reply.data);
    if (!r.ok) throw fromWire(r.error);
    this.agentId = r.result.agentId;
    this.epoch = r.result.epoch;
    this.listen();
    return this.agentId;
  }

  async reregister(tasks: Extract<AgentCall, { type: 'REREGISTER' }>['tasks'], frameworks: FrameworkInfo[] = []): Promise<void> {
    const reply = await this.transport.request(
      s.agentCalls(this.principal),
      encode(AgentCallSchema, { v: 1, type: 'REREGISTER', agentId: this.agentId, agentInfo: { ...this.info, id: this.agentId }, tasks, executors: [], frameworks }),
      { timeoutMs: 5000 },
    );
    const r = decode(RegisterReplySchema, reply.data);
    if (!r.ok) throw fromWire(r.error);
    this.epoch = r.result.epoch;
    this.listen();
  }

  private listen(): void {
    if (this.sub) return;
    this.sub = this.transport.subscribe(s.agentCommands(this.agentId), {
      callback: (m) => {
        const cmd = decode(AgentCommandSchema, m.data);
        if (cmd.type === 'PING') {
          if (this.answerPings) m.respond(encode(PongSchema, { v: 1, ok: true, result: { agentId: this.agentId, seq: cmd.seq } }));
          return;
        }
        this.commands.push(cmd);
      },
    });
  }

  /** Reports statuses (with uuids) for tasks of a framework. */
  async update(frameworkId: string, statuses: Partial<TaskStatus>[]): Promise<TaskStatus[]> {
    const full = statuses.map((st, i) => ({
      source: 'SOURCE_EXECUTOR' as const,
      timestampMs: Date.now(),
      agentId: this.agentId,
      uuid: `${this.agentId}-${Date.now()}-${i}-${Math.random()}`,
      state: 'TASK_RUNNING' as const,
      taskId: '',
      ...st,
    }));
    await this.call({ v: 1, type: 'STATUS_UPDATE', agentId: this.agentId, updates: full.map((status) => ({ frameworkId, status })) });
    return full;
  }

  /** Waits for a command of a type and returns all of that type so far. */
  async waitCommand<T extends AgentCommand['type']>(type: T, count = 1, timeoutMs = 5000): Promise<Extract<AgentCommand, { type: T }>[]> {
    return waitFor(
      () => {
        const found = this.commands.filter((c): c is Extract<AgentCommand, { type: T }> => c.type === type);
        return found.length >= count ? found : undefined;
      },
      { timeoutMs, what: `${count} ${type} command(s) at agent ${this.agentId}` },
    );
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}

/** A fake framework: subscribes, records events, makes calls. */
export class FakeFramework {
  frameworkId = '';
  readonly events: SchedulerEvent[] = [];
  private sub: TransportSubscription | undefined;

  constructor(
    readonly transport: Transport,
    readonly info: FrameworkInfo,
  ) {}

  static make(transport: Transport, name: string, extra: Partial<FrameworkInfo> = {}): FakeFramework {
    return new FakeFramework(transport, { name, principal: extra.principal ?? name, ...extra });
  }

  async subscribe(id = this.info.id ?? `fw-${this.info.name}-${Math.random().toString(36).slice(2, 8)}`): Promise<string> {
    this.frameworkId = id;
    this.sub?.unsubscribe();
    this.sub = this.transport.subscribe(s.frameworkEvents(this.info.principal, id), {
      callback: (m) => this.events.push(decode(SchedulerEventSchema, m.data)),
    });
    await this.transport.flush();
    const reply = await this.transport.request(
      s.schedulerCalls(this.info.principal),
      encode(SchedulerCallSchema, { v: 1, type: 'SUBSCRIBE', frameworkInfo: { ...this.info, id } }),
      { timeoutMs: 5000 },
    );
    const r = decode(SubscribeReplySchema, reply.data);
    if (!r.ok) throw fromWire(r.error);
    return r.result.frameworkId;
  }

  /** Sends a call on this framework's principal (or another's, to test isolation). */
  async call(call: SchedulerCall, principal = this.info.principal): Promise<void> {
    const reply = await this.transport.request(s.schedulerCalls(principal), encode(SchedulerCallSchema, call), { timeoutMs: 5000 });
    const r = decode(SchedulerCallReplySchema, reply.data);
    if (!r.ok) throw fromWire(r.error);
  }

  accept(offerIds: string[], operations: Operation[], refuseMs?: number): Promise<void> {
    return this.call({ v: 1, type: 'ACCEPT', frameworkId: this.frameworkId, offerIds, operations, ...(refuseMs !== undefined ? { filters: { refuseMs } } : {}) });
  }

  decline(offerIds: string[], refuseMs?: number): Promise<void> {
    return this.call({ v: 1, type: 'DECLINE', frameworkId: this.frameworkId, offerIds, ...(refuseMs !== undefined ? { filters: { refuseMs } } : {}) });
  }

  /** Every event of a type received so far. */
  all<T extends SchedulerEventType>(type: T): Extract<SchedulerEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<SchedulerEvent, { type: T }> => e.type === type);
  }

  /** Every offer received and not rescinded. */
  offers(): Offer[] {
    const rescinded = new Set(this.all('RESCIND').flatMap((e) => e.offerIds));
    return this.all('OFFERS')
      .flatMap((e) => e.offers)
      .filter((o) => !rescinded.has(o.id));
  }

  /** Waits for offers not yet used (tracked by the caller through `taken`). */
  async waitOffers(taken: Set<string>, count = 1, timeoutMs = 5000): Promise<Offer[]> {
    return waitFor(
      () => {
        const fresh = this.offers().filter((o) => !taken.has(o.id));
        return fresh.length >= count ? fresh : undefined;
      },
      { timeoutMs, what: `${count} fresh offer(s) for ${this.info.name}` },
    );
  }

  /** Every status received for a task. */
  statuses(taskId?: string): TaskStatus[] {
    return this.all('UPDATE')
      .flatMap((e) => e.statuses)
      .filter((st) => taskId === undefined || st.taskId === taskId);
  }

  async waitStatus(taskId: string, state: TaskStatus['state'], timeoutMs = 5000): Promise<TaskStatus> {
    return waitFor(() => this.statuses(taskId).find((st) => st.state === state), { timeoutMs, what: `${state} for ${taskId} at ${this.info.name}` });
  }

  async waitEvent<T extends SchedulerEventType>(type: T, timeoutMs = 5000): Promise<Extract<SchedulerEvent, { type: T }>> {
    return waitFor(() => this.all(type)[0], { timeoutMs, what: `a ${type} event at ${this.info.name}` });
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}

/** A shell task using some of an offer. */
export function taskFor(offer: Offer, taskId: string, resources = 'cpus:1;mem:128'): Extract<Operation, { type: 'LAUNCH' }>['tasks'][number] {
  return { taskId, name: taskId, agentId: offer.agentId, resources: parseResources(resources), command: { value: 'true' } };
}
