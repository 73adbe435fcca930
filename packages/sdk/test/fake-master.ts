/**
 * A scripted fake master for the scheduler client's protocol tests. It answers SUBSCRIBE (reply,
 * then SUBSCRIBED with seq 0), records every call, keeps the "true" state of each framework's
 * tasks and answers RECONCILE with it, and otherwise does exactly what a test tells it: publish
 * events with the next seq or any seq, skip seqs, send garbage, refuse a call with a chosen error,
 * stay silent, or announce a new leader. A real master cannot be made to misbehave on cue.
 *
 * @example
 * ```ts
 * const master = FakeMaster.start({ transport, heartbeatIntervalMs: 50 });
 * const client = await SchedulerClient.connect({ transport, framework: { name: 'f', principal: 'alice' } });
 * master.send(client.frameworkId, { type: 'OFFERS', offers: [master.offer(client.frameworkId)] });
 * const accept = await master.waitCall('ACCEPT');
 * master.setTaskState(client.frameworkId, 't-1', 'TASK_RUNNING');
 * master.stop();
 * ```
 * @module
 */

import {
  encode,
  encodeTrusted,
  type FrameworkInfo,
  LeaderElectedSchema,
  type Offer,
  parseResources,
  type SchedulerCall,
  SchedulerCallSchema,
  type SchedulerCallType,
  type SchedulerEvent,
  SchedulerEventSchema,
  safeDecode,
  subjects,
  type Subjects,
  type TaskState,
  type TaskStatus,
  type Transport,
  type TransportMsg,
  type TransportSubscription,
  type WireErrorData,
} from '@stoa/core';
import { waitFor } from '@stoa/testkit';

/** An event as a test writes it: `v` and `seq` are filled in. */
export type EventBody = SchedulerEvent extends infer E ? (E extends unknown ? Omit<E, 'v' | 'seq'> : never) : never;

/** Options of {@link FakeMaster.start}. */
export interface FakeMasterOptions {
  /** The transport it listens on. */
  transport: Transport;
  /** @default 'stoa' */
  subjectPrefix?: string;
  /** What SUBSCRIBE replies tell frameworks; the fake sends HEARTBEAT events this often. @default 60000 */
  heartbeatIntervalMs?: number;
  /** @default 'fake-master' */
  masterId?: string;
  /** @default 1 */
  epoch?: number;
  /** Answer RECONCILE with the true task states. @default true */
  answerReconcile?: boolean;
  /** After an ACCEPT, report every launched task in this state (with a uuid). @default no report */
  launchState?: TaskState;
}

/** A call as the fake received it. */
export interface RecordedCall {
  /** The principal of the subject it came on. */
  principal: string;
  /** The call. */
  call: SchedulerCall;
}

/** What the fake knows of one framework. */
export interface FakeFramework {
  principal: string;
  info: FrameworkInfo;
  /** The seq of the next event. */
  seq: number;
  /** How many times it subscribed. */
  subscriptions: number;
  /** The true state of its tasks. */
  tasks: Map<string, TaskStatus>;
}

/** The fake master. */
export class FakeMaster {
  /** Every call received, in order (also while silent). */
  readonly calls: RecordedCall[] = [];
  /** Known frameworks by id. */
  readonly frameworks = new Map<string, FakeFramework>();
  /** Neither answer calls nor send heartbeats. */
  silent = false;
  /** Answer RECONCILE with the true task states. */
  answerReconcile: boolean;
  /** The epoch SUBSCRIBE replies carry. */
  epoch: number;
  /** The master id SUBSCRIBE replies carry. */
  masterId: string;
  /** What SUBSCRIBE replies carry. */
  heartbeatIntervalMs: number;
  private readonly s: Subjects;
  private readonly sub: TransportSubscription;
  private readonly heartbeatTimer: ReturnType<typeof setInterval>;
  private readonly failures = new Map<SchedulerCallType, WireErrorData[]>();
  private readonly launchState: TaskState | undefined;
  private uuidSeq = 0;

  private constructor(
    readonly transport: Transport,
    options: FakeMasterOptions,
  ) {
    this.s = subjects(options.subjectPrefix);
    this.epoch = options.epoch ?? 1;
    this.masterId = options.masterId ?? 'fake-master';
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 60_000;
    this.answerReconcile = options.answerReconcile ?? true;
    this.launchState = options.launchState;
    this.sub = transport.subscribe(this.s.allSchedulerCalls, { callback: (msg) => this.onCall(msg) });
    this.heartbeatTimer = setInterval(() => {
      if (this.silent) return;
      for (const id of this.frameworks.keys()) this.send(id, { type: 'HEARTBEAT' });
    }, this.heartbeatIntervalMs);
  }

  /** Starts listening for scheduler calls. */
  static start(options: FakeMasterOptions): FakeMaster {
    return new FakeMaster(options.transport, options);
  }

  /** Stops listening and stops its timer (requests then find no responders). */
  stop(): void {
    clearInterval(this.heartbeatTimer);
    this.sub.unsubscribe();
  }

  /** The calls of one type. */
  callsOf<T extends SchedulerCallType>(type: T): Extract<SchedulerCall, { type: T }>[] {
    return this.calls.filter((c) => c.call.type === type).map((c) => c.call as Extract<SchedulerCall, { type: T }>);
  }

  /** Waits for a call of `type` (the `nth`, counting from 1, when given) matching `predicate`. */
  waitCall<T extends SchedulerCallType>(
    type: T,
    predicate: (call: Extract<SchedulerCall, { type: T }>) => boolean = () => true,
    options: { nth?: number; timeoutMs?: number } = {},
  ): Promise<Extract<SchedulerCall, { type: T }>> {
    const nth = options.nth ?? 1;
    return waitFor(() => this.callsOf(type).filter(predicate)[nth - 1], {
      what: `${nth === 1 ? 'a' : `call #${nth} of`} ${type} call`,
      timeoutMs: options.timeoutMs ?? 5000,
    });
  }

  /** Refuses the next call of `type` with `error`. */
  failNext(type: SchedulerCallType, error: WireErrorData): void {
    const list = this.failures.get(type) ?? [];
    list.push(error);
    this.failures.set(type, list);
  }

  /** Publishes an event to a framework with its next seq; returns that seq. */
  send(frameworkId: string, event: EventBody): number {
    const fw = this.framework(frameworkId);
    const seq = fw.seq++;
    this.sendWithSeq(frameworkId, event, seq);
    return seq;
  }

  /** Publishes an event with a chosen seq (the next one continues from it). */
  sendWithSeq(frameworkId: string, event: EventBody, seq: number): void {
    const fw = this.framework(frameworkId);
    fw.seq = Math.max(fw.seq, seq + 1);
    const bytes = encode(SchedulerEventSchema, { v: 1, seq, ...event } as SchedulerEvent);
    this.transport.publish(this.s.frameworkEvents(fw.principal, frameworkId), bytes);
  }

  /** Publishes raw bytes on a framework's event subject (garbage, events of another version…). */
  sendRaw(frameworkId: string, data: Uint8Array): void {
    const fw = this.framework(frameworkId);
    this.transport.publish(this.s.frameworkEvents(fw.principal, frameworkId), data);
  }

  /** Skips `count` seqs: the next event shows a gap. */
  skipSeq(frameworkId: string, count = 1): void {
    this.framework(frameworkId).seq += count;
  }

  /**
   * Sets a task's true state and, unless `publish` is false, sends it in an UPDATE with a fresh
   * uuid (or none with `uuid: false`). Returns the status.
   */
  setTaskState(
    frameworkId: string,
    taskId: string,
    state: TaskState,
    options: { publish?: boolean; uuid?: string | false; agentId?: string } = {},
  ): TaskStatus {
    const fw = this.framework(frameworkId);
    const agentId = options.agentId ?? fw.tasks.get(taskId)?.agentId ?? 'agent-1';
    const status: TaskStatus = { taskId, state, source: 'SOURCE_AGENT', agentId, timestampMs: Date.now() };
    fw.tasks.set(taskId, status);
    if (options.publish !== false) {
      const uuid = options.uuid === undefined ? this.uuid() : options.uuid;
      this.send(frameworkId, { type: 'UPDATE', statuses: [uuid === false ? status : { ...status, uuid }] });
    }
    return status;
  }

  /** Makes an offer of `agentId` to a framework (not sent). */
  offer(frameworkId: string, agentId = 'agent-1', id = `offer-${++this.uuidSeq}`): Offer {
    return {
      id,
      frameworkId,
      agentId,
      hostname: `${agentId}.local`,
      role: '*',
      resources: parseResources('cpus:4;mem:4096'),
      attributes: {},
    };
  }

  /** Announces a new leader with `epoch` (and answers SUBSCRIBE with it from now on). */
  announceLeader(epoch = this.epoch + 1, masterId = this.masterId): void {
    this.epoch = epoch;
    this.masterId = masterId;
    this.transport.publish(this.s.leader, encode(LeaderElectedSchema, { v: 1, type: 'LEADER_ELECTED', epoch, masterId }));
  }

  /** A fresh status uuid. */
  uuid(): string {
    return `uuid-${++this.uuidSeq}`;
  }

  private framework(frameworkId: string): FakeFramework {
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined) throw new Error(`fake master: framework ${frameworkId} never subscribed`);
    return fw;
  }

  private onCall(msg: TransportMsg): void {
    const parsed = this.s.parse(msg.subject);
    if (parsed?.kind !== 'schedulerCalls') return;
    const decoded = safeDecode(SchedulerCallSchema, msg.data);
    if (!decoded.ok) throw decoded.error;
    const call = decoded.value;
    this.calls.push({ principal: parsed.principal, call });
    if (this.silent) return;
    const failure = this.failures.get(call.type)?.shift();
    if (failure !== undefined) {
      msg.respond(encodeTrusted({ v: 1, ok: false, error: failure }));
      return;
    }
    if (call.type === 'SUBSCRIBE') {
      const id = call.frameworkInfo.id ?? `fw-${++this.uuidSeq}`;
      const known = this.frameworks.get(id);
      const fw: FakeFramework = known ?? { principal: parsed.principal, info: call.frameworkInfo, seq: 0, subscriptions: 0, tasks: new Map() };
      fw.info = { ...call.frameworkInfo, id };
      fw.seq = 0;
      fw.subscriptions++;
      this.frameworks.set(id, fw);
      const subscribed = { frameworkId: id, heartbeatIntervalMs: this.heartbeatIntervalMs, masterId: this.masterId, epoch: this.epoch };
      msg.respond(encodeTrusted({ v: 1, ok: true, result: subscribed }));
      this.send(id, { type: 'SUBSCRIBED', ...subscribed });
      return;
    }
    msg.respond(encodeTrusted({ v: 1, ok: true, result: {} }));
    const fw = this.frameworks.get(call.frameworkId);
    if (fw === undefined) return;
    if (call.type === 'ACCEPT') {
      for (const op of call.operations) {
        if (op.type !== 'LAUNCH' && op.type !== 'LAUNCH_GROUP') continue;
        for (const task of op.tasks) {
          const staging = { taskId: task.taskId, state: 'TASK_STAGING', source: 'SOURCE_MASTER', agentId: task.agentId, timestampMs: Date.now() } as const;
          fw.tasks.set(task.taskId, staging);
          if (this.launchState !== undefined) this.setTaskState(call.frameworkId, task.taskId, this.launchState);
        }
      }
    } else if (call.type === 'RECONCILE' && this.answerReconcile) {
      const statuses: TaskStatus[] = [];
      const asked = call.tasks.length === 0 ? [...fw.tasks.keys()] : call.tasks.map((t) => t.taskId);
      for (const taskId of asked) {
        const truth = fw.tasks.get(taskId) ?? { taskId, state: 'TASK_GONE', source: 'SOURCE_MASTER', timestampMs: Date.now() };
        statuses.push({ ...truth, reason: 'REASON_RECONCILIATION', timestampMs: Date.now() });
      }
      if (statuses.length > 0) this.send(call.frameworkId, { type: 'UPDATE', statuses });
    }
  }
}
