/**
 * A scripted fake master for the agent's protocol tests: it answers REGISTER and REREGISTER,
 * records every STATUS_UPDATE (duplicates included), and does exactly what a test tells it —
 * acknowledge or not, answer or stay silent, leave the bus, send commands of any epoch, announce a
 * new leader. A real master cannot be made to misbehave on cue; this one can.
 *
 * @example
 * ```ts
 * const master = FakeMaster.start({ transport });
 * const agent = await startAgent({ transport, workDir, resources: 'cpus:2;mem:1024' });
 * const agentId = await master.waitRegistered();
 * master.send(agentId, { type: 'RUN_TASKS', launches: [...] });
 * await master.waitUpdate((u) => u.status.state === 'TASK_FINISHED');
 * ```
 * @module
 */

import {
  type AgentCall,
  AgentCallReplySchema,
  AgentCallSchema,
  type AgentCommand,
  AgentCommandSchema,
  decode,
  encode,
  type FrameworkInfo,
  LeaderElectedSchema,
  PongSchema,
  ReadFileReplySchema,
  RegisterReplySchema,
  type StatusUpdate,
  safeDecode,
  subjects,
  type Subjects,
  type TaskInfo,
  type TaskState,
  type Transport,
  type TransportSubscription,
  type WireErrorData,
} from '@stoa/core';
import { waitFor } from '@stoa/testkit';

/** Options of {@link FakeMaster.start}. */
export interface FakeMasterOptions {
  transport: Transport;
  /** @default 'stoa' */
  subjectPrefix?: string;
  /** @default 'agents' */
  principal?: string;
  /** @default 1 */
  epoch?: number;
  /** @default 'fake-master' */
  masterId?: string;
  /** What REGISTER replies tell agents. @default 60000 (no pings expected in tests) */
  pingIntervalMs?: number;
  /** Acknowledge each update as soon as it arrives. @default false */
  autoAck?: boolean;
}

/** A command as a test writes it: `v` and `epoch` are filled in. */
export type CommandInput = AgentCommand extends infer C ? (C extends AgentCommand ? Omit<C, 'v' | 'epoch'> : never) : never;

/** The scripted master. */
export class FakeMaster {
  /** Every REGISTER and REREGISTER received, in order. */
  readonly registrations: AgentCall[] = [];
  /** Every status update received, duplicates included, in order of arrival. */
  readonly updates: StatusUpdate[] = [];
  /** How many STATUS_UPDATE requests arrived. */
  statusCalls = 0;
  /** Updates that arrived again after this master had acknowledged them. */
  duplicatesAfterAck = 0;
  /** Other agent calls (UNREGISTER…). */
  readonly otherCalls: AgentCall[] = [];
  /** Answer nothing (requests time out) while true. */
  silent = false;
  /** Acknowledge each update on arrival. */
  autoAck: boolean;
  /** The epoch put on commands. */
  epoch: number;
  /** Reply to registrations with this error instead, while set. */
  refuseRegistration: WireErrorData | undefined;

  private readonly s: Subjects;
  private readonly principal: string;
  private readonly masterId: string;
  private readonly pingIntervalMs: number;
  private sub: TransportSubscription | undefined;
  private nextId = 1;
  private readonly acked = new Set<string>();

  private constructor(
    private readonly transport: Transport,
    options: FakeMasterOptions,
  ) {
    this.s = subjects(options.subjectPrefix ?? 'stoa');
    this.principal = options.principal ?? 'agents';
    this.epoch = options.epoch ?? 1;
    this.masterId = options.masterId ?? 'fake-master';
    this.pingIntervalMs = options.pingIntervalMs ?? 60_000;
    this.autoAck = options.autoAck ?? false;
  }

  /** Starts listening on the agent-call subject. */
  static start(options: FakeMasterOptions): FakeMaster {
    const m = new FakeMaster(options.transport, options);
    m.attach();
    return m;
  }

  /** Listens on the agent-call subject (again). */
  attach(): void {
    if (this.sub && !this.sub.isClosed) return;
    this.sub = this.transport.subscribe(this.s.agentCalls(this.principal), { callback: (msg) => this.onCall(msg.data, (d) => msg.respond(d)) });
  }

  /** Leaves the bus: agents' requests fail with no responders. */
  detach(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  /** The agent ids registered so far. */
  get agentIds(): string[] {
    const ids = new Set<string>();
    for (const r of this.registrations) if (r.type === 'REREGISTER') ids.add(r.agentId);
    for (let i = 1; i < this.nextId; i++) ids.add(`agent-${i}`);
    return [...ids];
  }

  private onCall(data: Uint8Array, respond: (d: Uint8Array) => void): void {
    if (this.silent) return;
    const r = safeDecode(AgentCallSchema, data);
    if (!r.ok) return;
    const call = r.value;
    switch (call.type) {
      case 'REGISTER':
      case 'REREGISTER': {
        this.registrations.push(call);
        if (this.refuseRegistration) {
          respond(encode(RegisterReplySchema, { v: 1, ok: false, error: this.refuseRegistration }));
          return;
        }
        const agentId = call.type === 'REREGISTER' ? call.agentId : `agent-${this.nextId++}`;
        respond(encode(RegisterReplySchema, { v: 1, ok: true, result: { agentId, masterId: this.masterId, epoch: this.epoch, pingIntervalMs: this.pingIntervalMs } }));
        return;
      }
      case 'STATUS_UPDATE': {
        this.statusCalls++;
        for (const u of call.updates) if (u.status.uuid !== undefined && this.acked.has(u.status.uuid)) this.duplicatesAfterAck++;
        this.updates.push(...call.updates);
        respond(okReply());
        if (this.autoAck) for (const u of call.updates) this.ack(call.agentId, u);
        return;
      }
      default:
        this.otherCalls.push(call);
        respond(okReply());
    }
  }

  /** Publishes a command to an agent, with this master's epoch unless `epoch` is given. */
  send(agentId: string, command: CommandInput, epoch: number = this.epoch): void {
    this.transport.publish(this.s.agentCommands(agentId), encode(AgentCommandSchema, { v: 1, epoch, ...command } as AgentCommand));
  }

  /** Sends a command as a request and returns the raw reply bytes. */
  async request(agentId: string, command: CommandInput, options: { epoch?: number; timeoutMs?: number } = {}): Promise<Uint8Array> {
    const bytes = encode(AgentCommandSchema, { v: 1, epoch: options.epoch ?? this.epoch, ...command } as AgentCommand);
    const reply = await this.transport.request(this.s.agentCommands(agentId), bytes, { timeoutMs: options.timeoutMs ?? 2000 });
    return reply.data;
  }

  /** PINGs an agent and returns its PONG. */
  async ping(agentId: string, seq: number, options: { epoch?: number; timeoutMs?: number } = {}) {
    return decode(PongSchema, await this.request(agentId, { type: 'PING', seq }, options));
  }

  /** READ_FILE on an agent. */
  async readFile(agentId: string, taskId: string, path: string, extra: { frameworkId?: string; offset?: number; length?: number } = {}) {
    return decode(ReadFileReplySchema, await this.request(agentId, { type: 'READ_FILE', taskId, path, ...extra }));
  }

  /** Acknowledges one update. */
  ack(agentId: string, update: StatusUpdate): void {
    if (update.status.uuid === undefined) return;
    this.acked.add(update.status.uuid);
    this.send(agentId, { type: 'ACKNOWLEDGE', acks: [{ frameworkId: update.frameworkId, taskId: update.status.taskId, uuid: update.status.uuid }] });
  }

  /** Announces a new leader with this epoch. */
  announceLeader(epoch: number, masterId = `fake-master-${epoch}`): void {
    this.epoch = epoch;
    this.transport.publish(this.s.leader, encode(LeaderElectedSchema, { v: 1, type: 'LEADER_ELECTED', epoch, masterId }));
  }

  /** Waits for the n-th registration (1-based) and returns the agent id it got. */
  async waitRegistered(n = 1, timeoutMs = 10_000): Promise<string> {
    await waitFor(() => this.registrations.length >= n, { timeoutMs, what: `registration #${n}` });
    const ids = this.agentIds;
    const call = this.registrations[n - 1]!;
    return call.type === 'REREGISTER' ? call.agentId : ids[ids.length - 1]!;
  }

  /** Waits for an update matching `pred` and returns it (the first match). */
  async waitUpdate(pred: (u: StatusUpdate) => boolean, what = 'a status update', timeoutMs = 10_000): Promise<StatusUpdate> {
    return waitFor(() => this.updates.find(pred), { timeoutMs, what });
  }

  /** Updates of one task, duplicates included, in order of arrival. */
  updatesOf(taskId: string): StatusUpdate[] {
    return this.updates.filter((u) => u.status.taskId === taskId);
  }

  /** States of one task's distinct updates (by uuid), in order of first arrival. */
  statesOf(taskId: string): TaskState[] {
    const seen = new Set<string>();
    const out: TaskState[] = [];
    for (const u of this.updatesOf(taskId)) {
      const id = u.status.uuid ?? `${u.status.timestampMs}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(u.status.state);
    }
    return out;
  }

  /** Stops listening. */
  stop(): void {
    this.detach();
  }
}

function okReply(): Uint8Array {
  return encode(AgentCallReplySchema, { v: 1, ok: true, result: {} });
}

/** A framework for tests. */
export function testFramework(id = 'fw-1', capabilities: FrameworkInfo['capabilities'] = []): FrameworkInfo & { id: string } {
  return { id, name: 'test-framework', principal: 'tests', capabilities };
}

/** A command task for tests. */
export function commandTask(taskId: string, command: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return {
    taskId,
    name: taskId,
    agentId: 'unknown',
    resources: [
      { name: 'cpus', type: 'SCALAR', scalar: 0.1 },
      { name: 'mem', type: 'SCALAR', scalar: 32 },
    ],
    command: { value: command },
    ...extra,
  };
}
