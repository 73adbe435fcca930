/**
 * The Stoa master: it pools what agents report, offers it to frameworks by weighted DRF, relays
 * launches, kills, status updates and acknowledgements, and serves the operator API over NATS and
 * HTTP. This file wires the parts; the state machines live in `agents.ts`, `frameworks.ts`,
 * `offers.ts` and `tasks.ts`, the allocator in `allocator/`.
 *
 * @example
 * ```ts
 * const master = await startMaster({ transport, store, http: { port: 5050 } });
 * // … agents register, frameworks subscribe …
 * await master.stop();
 * ```
 * @module
 */

import { randomBytes } from 'node:crypto';
import {
  AgentCallSchema,
  type AgentCommand,
  type ClusterEvent,
  type ClusterEventBatch,
  clusterEventKind,
  encodeTrusted,
  fromUnknown,
  InvalidOperationError,
  NotFoundError,
  OperatorCallSchema,
  ReadFileReplySchema,
  type Resource,
  safeDecode,
  SchedulerCallSchema,
  type SchedulerEvent,
  subjects,
  type Subjects,
  type TransportMsg,
  type TransportSubscription,
  UnauthorizedError,
  contains,
  decode,
  add,
  subtract,
  ValidationError,
  type StoaError,
} from '@stoa/core';
import pino from 'pino';
import {
  agentSummary,
  expireUnreachable,
  markGone,
  markUnreachable,
  pingAnswered,
  pingMissed,
  registerAgent,
  reregisterAgent,
} from './agents.js';
import { Allocator } from './allocator/index.js';
import type { DistributiveClusterEvent, MasterContext } from './context.js';
import { adoptFramework, checkFrameworks, disconnect, revive, subscribe, suppress, teardown, updateFramework } from './frameworks.js';
import { MasterMetrics } from './metrics.js';
import { accept, decline, expireOffers, makeOffers, rescindAll, resourceOperationForms } from './offers.js';
import { handleOperatorCall } from './operator/operator.js';
import { type MasterOptions, type ResolvedMasterOptions, resolveMasterOptions } from './options.js';
import { Outbox, type DistributiveOmit } from './outbox.js';
import type { AgentRecord, FrameworkRecord, OfferRecord, TaskRecord } from './records.js';
import { LeaderElector } from '@stoa/core';
import { Registry } from './registry/registry.js';
import { applyStatusUpdate, killTasks, reconcile } from './tasks.js';
import { startHttpServer, type HttpServerHandle } from './operator/http.js';

/** A running master. */
export interface MasterHandle extends AsyncDisposable {
  /** This master's id. */
  readonly masterId: string;
  /** Its epoch. */
  readonly epoch: number;
  /** The HTTP operator API's URL, when it serves one. */
  readonly httpUrl: string | undefined;
  /** `running` until `stop()`. */
  readonly state: 'running' | 'stopped';
  /** Read access to the master's context, for tests and the dev cluster. */
  readonly context: MasterContext;
  /** Listens to the cluster event stream (what `/api/v1/events` serves); returns a function that stops listening. */
  onClusterEvent(listener: (event: ClusterEvent) => void): () => void;
  /** Whether this master leads now. */
  readonly isLeader: boolean;
  /** Resolves once this master leads. */
  waitLeading(): Promise<void>;
  /** Stops serving (giving up the lease); agents and frameworks re-register with the next leader. */
  stop(): Promise<void>;
}

type Reply = { v: 1; ok: true; result: unknown } | { v: 1; ok: false; error: ReturnType<StoaError['toWire']> };

function okReply(result: unknown): Reply {
  return { v: 1, ok: true, result };
}

function errorReply(error: unknown): Reply {
  return { v: 1, ok: false, error: fromUnknown(error).toWire() };
}

/**
 * Starts a master. It serves HTTP at once and contends for the leader lease: if it wins (as a
 * single master on a fresh store does at once) it loads the registry, takes the next epoch,
 * announces itself and serves before this resolves; otherwise it follows until the lease lapses.
 */
export async function startMaster(options: MasterOptions): Promise<MasterHandle> {
  const resolved = resolveMasterOptions(options);
  const master = new Master(resolved, options.logger ?? pino({ level: 'silent' }));
  await master.start();
  return master;
}

class Master implements MasterHandle {
  readonly masterId: string;
  state: 'running' | 'stopped' = 'running';
  readonly context: MasterContext;
  private readonly s: Subjects;
  private readonly subs: TransportSubscription[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly startedMs = Date.now();
  private readonly listeners = new Set<(event: ClusterEvent) => void>();
  private pendingEvents: ClusterEvent[] = [];
  private allocationTimer: NodeJS.Timeout | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private elector!: LeaderElector;
  private role: 'leader' | 'follower' = 'follower';
  private readonly leadingWaiters: (() => void)[] = [];
  private filterTimer: NodeJS.Timeout | undefined;
  private filterTimerAt = 0;
  private http: HttpServerHandle | undefined;
  private idCounter = 0;
  private pingSeq = 0;
  private readonly idPrefix = randomBytes(4).toString('hex');

  constructor(
    private readonly options: ResolvedMasterOptions,
    private readonly log: pino.Logger,
  ) {
    this.masterId = options.masterId ?? `m-${randomBytes(6).toString('hex')}`;
    this.s = subjects(options.subjectPrefix);
    const metrics = new MasterMetrics();
    const outbox = new Outbox({
      frameworkEvents: (id, events) => {
        const fw = this.context.frameworks.get(id);
        if (fw) for (const e of events) this.sendEvent(fw, e);
      },
      agentCommands: (id, commands) => {
        for (const c of commands) this.sendCommand(id, c);
      },
    });
    this.context = {
      options,
      masterId: this.masterId,
      epoch: 0,
      now: () => Date.now(),
      log,
      outbox,
      allocator: new Allocator({ minAllocatable: options.minAllocatable, defaultRefuseMs: options.defaultRefuseMs }),
      registry: new Registry(options.store),
      metrics,
      agents: new Map<string, AgentRecord>(),
      frameworks: new Map<string, FrameworkRecord>(),
      offers: new Map<string, OfferRecord>(),
      completedTasks: new Map<string, TaskRecord>(),
      completedFrameworks: new Set<string>(),
      requestAllocation: () => this.requestAllocation(),
      publishEvent: (event) => this.publishEvent(event),
      newId: (prefix) => `${prefix}-${this.idPrefix}-${(++this.idCounter).toString(36)}`,
      sendAgentCommand: (agentId, command) => this.sendCommand(agentId, command),
      sendFrameworkEvent: (fw, event) => this.sendEvent(fw, event),
      operatorReservation: (kind, agentId, resources) => this.operatorReservation(kind, agentId, resources),
      readTaskFile: (taskId, path, offset, length) => this.readTaskFile(taskId, path, offset, length),
    };
    this.registerGauges();
  }

  get epoch(): number {
    return this.context.epoch;
  }

  get httpUrl(): string | undefined {
    return this.http?.url;
  }

  /** Starts serving HTTP and contending for the lease; resolves after the first contention. */
  async start(): Promise<void> {
    if (this.options.http) {
      this.http = await startHttpServer({
        ...this.options.http,
        context: this.context,
        metrics: this.context.metrics,
        onEvent: (listener) => this.onClusterEvent(listener),
        operator: (call) => handleOperatorCall(this.context, call, { startedMs: this.startedMs, ...(this.http ? { httpUrl: this.http.url } : {}) }),
        leadership: () => ({ leading: this.leading(), leader: this.elector.leader }),
      });
    }
    this.elector = new LeaderElector(this.options.store, {
      masterId: this.masterId,
      info: { ...(this.http ? { httpUrl: this.http.url } : {}), ...(this.options.hostname ? { hostname: this.options.hostname } : {}) },
      leaseMs: this.options.leaseMs,
      onElected: () => this.becomeLeader(),
      onDeposed: (why) => this.becomeFollower(why),
      onError: (error) => this.log.warn({ err: error }, 'leader election: store error, riding it out'),
    });
    await this.elector.start();
    if (!this.leading()) this.log.info({ masterId: this.masterId, leader: this.elector.leader?.masterId }, 'master started as a follower');
  }

  get isLeader(): boolean {
    return this.leading();
  }

  /** Whether this master may act now (it holds a fresh lease). */
  private leading(): boolean {
    return this.role === 'leader' && this.elector.isLeading();
  }

  /** Resolves once this master leads (at once if it does). */
  async waitLeading(): Promise<void> {
    if (this.leading()) return;
    await new Promise<void>((resolve) => this.leadingWaiters.push(resolve));
  }

  /** Elected: load the registry, take the next epoch, serve, announce. */
  private async becomeLeader(): Promise<void> {
    const ctx = this.context;
    await this.loadRegistry();
    ctx.epoch = await ctx.registry.nextEpoch();
    for (const [role, weight] of Object.entries(this.options.weights)) ctx.allocator.setWeight(role, weight);

    const t = this.options.transport;
    const onError = (error: unknown) => this.log.error({ err: error }, 'handler failed');
    this.subs.push(t.subscribe(this.s.allSchedulerCalls, { callback: (m) => this.onSchedulerCall(m), onError }));
    this.subs.push(t.subscribe(this.s.allAgentCalls, { callback: (m) => this.onAgentCall(m), onError }));
    this.subs.push(t.subscribe(this.s.operator, { callback: (m) => this.onOperatorCall(m), onError }));
    await t.flush().catch(() => {});

    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(() => {
        if (!this.leading()) return;
        try {
          fn();
        } catch (error) {
          this.log.error({ err: error }, 'periodic task failed');
        }
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.pingIntervalMs, () => this.pingAgents());
    every(this.options.heartbeatIntervalMs, () => this.heartbeat());
    every(this.options.allocationIntervalMs, () => {
      expireOffers(ctx);
      expireUnreachable(ctx);
      this.allocate();
    });
    this.recoveryTimer = setTimeout(() => this.endRecovery(), this.options.agentRecoveryTimeoutMs);
    this.recoveryTimer.unref();

    this.role = 'leader';
    const announcement = { v: 1 as const, type: 'LEADER_ELECTED' as const, epoch: ctx.epoch, masterId: this.masterId, ...(this.http ? { httpUrl: this.http.url } : {}) };
    t.publish(this.s.leader, encodeTrusted(announcement));
    this.log.info({ masterId: this.masterId, epoch: ctx.epoch, http: this.http?.url }, 'master started');
    for (const resolve of this.leadingWaiters.splice(0)) resolve();
    this.requestAllocation();
  }

  /**
   * Deposed (or stopping): stop acting at once — no subscriptions, no timers, nothing queued goes
   * out — and forget the in-memory state; the next leader rebuilds it from the registry and the
   * agents' re-registrations.
   */
  private becomeFollower(why: string): void {
    const wasLeader = this.role === 'leader';
    this.role = 'follower';
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const sub of this.subs.splice(0)) sub.unsubscribe();
    if (this.allocationTimer) clearTimeout(this.allocationTimer);
    if (this.filterTimer) clearTimeout(this.filterTimer);
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.allocationTimer = undefined;
    this.filterTimer = undefined;
    this.recoveryTimer = undefined;
    const ctx = this.context;
    ctx.outbox.clear();
    this.pendingEvents = [];
    ctx.agents.clear();
    ctx.frameworks.clear();
    ctx.offers.clear();
    ctx.completedTasks.clear();
    ctx.completedFrameworks.clear();
    ctx.metrics.resetTaskCounts();
    ctx.allocator = new Allocator({ minAllocatable: this.options.minAllocatable, defaultRefuseMs: this.options.defaultRefuseMs });
    if (wasLeader) this.log.warn({ masterId: this.masterId, why }, 'no longer leading: now a follower');
  }

  /** Agents from the registry that have not re-registered by now are unreachable. */
  private endRecovery(): void {
    this.recoveryTimer = undefined;
    if (!this.leading()) return;
    for (const agent of this.context.agents.values()) {
      if (agent.recovering) {
        delete agent.recovering;
        markUnreachable(this.context, agent, 'did not re-register after a change of leader');
      }
    }
  }

  /** Agents and frameworks of earlier masters: agents wait to re-register, frameworks to re-subscribe. */
  private async loadRegistry(): Promise<void> {
    const ctx = this.context;
    const snapshot = await ctx.registry.load((key, message) => this.log.error({ key, message }, 'registry entry skipped'));
    for (const f of snapshot.frameworks) {
      if (f.completed) ctx.completedFrameworks.add(f.id);
      else adoptFramework(ctx, { ...f.info, id: f.id });
    }
    for (const a of snapshot.agents) {
      if (a.gone) continue;
      // Recovering: known, offered to nobody, until it re-registers (or the recovery time ends).
      const record: AgentRecord = {
        id: a.id,
        principal: a.principal,
        info: a.info,
        total: a.total,
        state: 'ACTIVE',
        recovering: true,
        registeredMs: a.registeredMs,
        missedPings: 0,
        tasks: new Map(),
        executors: new Map(),
        offers: new Set(),
      };
      ctx.agents.set(a.id, record);
      ctx.allocator.addAgent(a.id, a.total, { active: false });
    }
    for (const w of snapshot.weights) ctx.allocator.setWeight(w.role, w.weight);
    for (const q of snapshot.quotas) ctx.allocator.setQuota(q.role, { ...(q.guarantee ? { guarantee: q.guarantee } : {}), ...(q.limit ? { limit: q.limit } : {}) });
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  private sendEvent(fw: FrameworkRecord, event: DistributiveOmit<SchedulerEvent, 'v' | 'seq'>): void {
    if (this.options.transport.isClosed || !this.leading()) return;
    const message = { v: 1, seq: fw.seq++, ...event };
    this.options.transport.publish(this.s.frameworkEvents(fw.principal, fw.id), encodeTrusted(message));
    this.context.metrics.messagesOut.inc({ channel: 'framework' });
  }

  private sendCommand(agentId: string, command: DistributiveOmit<AgentCommand, 'v' | 'epoch'>): void {
    const agent = this.context.agents.get(agentId);
    if (!agent || agent.state === 'GONE' || this.options.transport.isClosed || !this.leading()) return;
    this.options.transport.publish(this.s.agentCommands(agentId), encodeTrusted({ v: 1, epoch: this.context.epoch, ...command }));
    this.context.metrics.messagesOut.inc({ channel: 'agent' });
  }

  private publishEvent(event: DistributiveClusterEvent): void {
    const full = { v: 1, timestampMs: Date.now(), ...event } as ClusterEvent;
    if (this.pendingEvents.length === 0) setImmediate(() => this.flushEvents());
    this.pendingEvents.push(full);
  }

  /** Cluster events go out once per turn, one message per event kind. */
  private flushEvents(): void {
    const events = this.pendingEvents;
    this.pendingEvents = [];
    if (this.options.transport.isClosed || !this.leading()) return;
    const byKind = new Map<string, ClusterEvent[]>();
    for (const e of events) {
      for (const l of this.listeners) l(e);
      const kind = clusterEventKind(e.type);
      const list = byKind.get(kind);
      if (list) list.push(e);
      else byKind.set(kind, [e]);
    }
    for (const [kind, list] of byKind) {
      const batch: ClusterEventBatch = { v: 1, events: list };
      this.options.transport.publish(this.s.clusterEvents(kind), encodeTrusted(batch));
    }
  }

  onClusterEvent(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---------------------------------------------------------------------------------------------
  // Allocation

  private requestAllocation(): void {
    if (this.allocationTimer || this.state !== 'running' || this.role !== 'leader') return;
    this.allocationTimer = setTimeout(() => {
      this.allocationTimer = undefined;
      this.allocate();
    }, this.options.allocationBatchMs);
  }

  private allocate(): void {
    if (this.state !== 'running' || !this.leading()) return;
    const ctx = this.context;
    const end = ctx.metrics.allocationCycle.startTimer();
    const allocations = ctx.allocator.runCycle(ctx.now());
    end();
    if (allocations.length > 0) makeOffers(ctx, allocations);
    this.scheduleFilterExpiry();
  }

  /** Runs a cycle when the next decline filter lapses, so refused resources return on time. */
  private scheduleFilterExpiry(): void {
    const next = this.context.allocator.nextFilterExpiryMs();
    if (next === undefined || (this.filterTimer && this.filterTimerAt <= next)) return;
    if (this.filterTimer) clearTimeout(this.filterTimer);
    this.filterTimerAt = next;
    this.filterTimer = setTimeout(() => {
      this.filterTimer = undefined;
      this.allocate();
    }, Math.max(0, next - this.context.now()) + 1);
    this.filterTimer.unref();
  }

  // ---------------------------------------------------------------------------------------------
  // Periodic work

  private pingAgents(): void {
    const ctx = this.context;
    const seq = ++this.pingSeq;
    const bytes = encodeTrusted({ v: 1, epoch: ctx.epoch, type: 'PING', seq });
    for (const agent of ctx.agents.values()) {
      if (agent.state === 'UNREACHABLE' || agent.state === 'GONE' || agent.recovering) continue;
      this.options.transport.request(this.s.agentCommands(agent.id), bytes, { timeoutMs: this.options.pingIntervalMs }).then(
        () => pingAnswered(agent),
        () => {
          if (this.state === 'running') pingMissed(ctx, agent);
        },
      );
    }
  }

  private heartbeat(): void {
    const ctx = this.context;
    for (const fw of ctx.frameworks.values()) if (fw.state === 'CONNECTED') this.sendEvent(fw, { type: 'HEARTBEAT' });
    checkFrameworks(ctx);
  }

  // ---------------------------------------------------------------------------------------------
  // Calls

  private respond(msg: TransportMsg, reply: Reply): void {
    if (msg.reply) msg.respond(encodeTrusted(reply));
  }

  private answer(msg: TransportMsg, work: () => unknown): void {
    let result: unknown;
    try {
      result = work();
    } catch (error) {
      this.respond(msg, errorReply(error));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value) => this.respond(msg, okReply(value ?? {})),
        (error) => this.respond(msg, errorReply(error)),
      );
    } else {
      this.respond(msg, okReply(result ?? {}));
    }
  }

  private onSchedulerCall(msg: TransportMsg): void {
    if (!this.leading()) {
      this.context.metrics.messagesDropped.inc({ reason: 'not_leading' });
      return;
    }
    const ctx = this.context;
    ctx.metrics.messagesIn.inc({ channel: 'scheduler' });
    const parsed = this.s.parse(msg.subject);
    if (parsed?.kind !== 'schedulerCalls') return;
    const decoded = safeDecode(SchedulerCallSchema, msg.data);
    if (!decoded.ok) {
      ctx.metrics.messagesInvalid.inc({ channel: 'scheduler' });
      this.log.warn({ subject: msg.subject, err: decoded.error.message }, 'invalid scheduler call dropped');
      this.respond(msg, errorReply(decoded.error));
      return;
    }
    const call = decoded.value;
    const principal = parsed.principal;
    if (call.type === 'SUBSCRIBE') {
      this.answer(msg, async () => {
        const subscribed = await subscribe(ctx, principal, call.frameworkInfo, call.suppressedRoles);
        const fw = ctx.frameworks.get(subscribed.frameworkId);
        if (fw) {
          // The reply goes first, then SUBSCRIBED (seq 0) opens the event stream.
          setImmediate(() => this.sendEvent(fw, { type: 'SUBSCRIBED', ...subscribed }));
        }
        return subscribed;
      });
      return;
    }
    this.answer(msg, () => {
      const fw = ctx.frameworks.get(call.frameworkId);
      if (!fw) {
        throw new NotFoundError(`framework ${call.frameworkId} is not subscribed`, { details: { kind: 'framework', id: call.frameworkId } });
      }
      if (fw.principal !== principal) {
        ctx.metrics.messagesDropped.inc({ reason: 'unauthorized' });
        throw new UnauthorizedError(`framework ${call.frameworkId} belongs to another principal`, { details: { frameworkId: call.frameworkId, principal } });
      }
      if (call.type === 'DISCONNECT') {
        // An older subscription's goodbye, or one said twice, changes nothing.
        if (fw.state === 'CONNECTED' && call.streamId === fw.streamId) disconnect(ctx, fw, 'the scheduler left');
        return {};
      }
      fw.lastSeenMs = ctx.now();
      if (fw.state !== 'CONNECTED' && call.type !== 'TEARDOWN') {
        throw new InvalidOperationError(`framework ${fw.id} is disconnected; subscribe again`, { details: { frameworkId: fw.id } });
      }
      switch (call.type) {
        case 'TEARDOWN':
          teardown(ctx, fw, 'the framework asked');
          return {};
        case 'ACCEPT':
          accept(ctx, fw, call.offerIds, call.operations, call.filters);
          return {};
        case 'DECLINE':
          decline(ctx, fw, call.offerIds, call.filters);
          return {};
        case 'REVIVE':
          revive(ctx, fw, call.roles);
          return {};
        case 'SUPPRESS':
          suppress(ctx, fw, call.roles);
          return {};
        case 'KILL':
          killTasks(ctx, fw, call.kills);
          return {};
        case 'SHUTDOWN':
          this.sendCommand(call.agentId, { type: 'SHUTDOWN_EXECUTOR', frameworkId: fw.id, executorId: call.executorId });
          return {};
        case 'ACKNOWLEDGE':
          for (const a of call.acks) ctx.outbox.ack(a.agentId, { frameworkId: fw.id, taskId: a.taskId, uuid: a.uuid });
          return {};
        case 'RECONCILE':
          reconcile(ctx, fw, call.tasks);
          return {};
        case 'MESSAGE':
          this.sendCommand(call.agentId, { type: 'FRAMEWORK_MESSAGE', frameworkId: fw.id, executorId: call.executorId, data: call.data });
          return {};
        case 'UPDATE_FRAMEWORK':
          return updateFramework(ctx, fw, call.frameworkInfo, call.suppressedRoles).then(() => ({}));
        case 'HEARTBEAT':
          return {};
      }
    });
  }

  private onAgentCall(msg: TransportMsg): void {
    if (!this.leading()) {
      this.context.metrics.messagesDropped.inc({ reason: 'not_leading' });
      return;
    }
    const ctx = this.context;
    ctx.metrics.messagesIn.inc({ channel: 'agent' });
    const parsed = this.s.parse(msg.subject);
    if (parsed?.kind !== 'agentCalls') return;
    const decoded = safeDecode(AgentCallSchema, msg.data);
    if (!decoded.ok) {
      ctx.metrics.messagesInvalid.inc({ channel: 'agent' });
      this.log.warn({ subject: msg.subject, err: decoded.error.message }, 'invalid agent call dropped');
      this.respond(msg, errorReply(decoded.error));
      return;
    }
    const call = decoded.value;
    const principal = parsed.principal;
    this.answer(msg, () => {
      switch (call.type) {
        case 'REGISTER':
          return registerAgent(ctx, principal, call.agentInfo);
        case 'REREGISTER':
          return reregisterAgent(ctx, principal, call.agentId, call.agentInfo, call.tasks, call.executors, call.frameworks ?? []);
        default: {
          const agent = ctx.agents.get(call.agentId);
          if (!agent || agent.state === 'GONE') throw new NotFoundError(`agent ${call.agentId} is not registered`, { details: { kind: 'agent', id: call.agentId } });
          if (agent.principal !== principal) throw new UnauthorizedError(`agent ${call.agentId} belongs to another principal`, { details: { principal } });
          if (agent.state === 'UNREACHABLE') throw new InvalidOperationError(`agent ${call.agentId} must re-register`, { details: { agentId: call.agentId } });
          agent.missedPings = 0;
          switch (call.type) {
            case 'STATUS_UPDATE':
              for (const u of call.updates) applyStatusUpdate(ctx, agent, u.frameworkId, u.status);
              return {};
            case 'EXECUTOR_MESSAGE': {
              const fw = ctx.frameworks.get(call.frameworkId);
              if (fw?.state === 'CONNECTED') this.sendEvent(fw, { type: 'MESSAGE', agentId: agent.id, executorId: call.executorId, data: call.data });
              return {};
            }
            case 'EXECUTOR_EXITED': {
              const key = `${call.frameworkId}\u0000${call.executorId}`;
              const executor = agent.executors.get(key);
              agent.executors.delete(key);
              // Its resources were held while it ran (see offers.ts); they return now.
              if (executor) ctx.allocator.recover(call.frameworkId, agent.id, executor.resources, { nowMs: ctx.now() });
              const fw = ctx.frameworks.get(call.frameworkId);
              if (fw?.state === 'CONNECTED') {
                this.sendEvent(fw, { type: 'FAILURE', agentId: agent.id, executorId: call.executorId, ...(call.status !== undefined ? { status: call.status } : {}) });
              }
              return {};
            }
            case 'UNREGISTER':
              markUnreachable(ctx, agent, 'the agent unregistered');
              markGone(ctx, agent, false);
              return {};
          }
        }
      }
    });
  }

  private onOperatorCall(msg: TransportMsg): void {
    if (!this.leading()) return;
    const ctx = this.context;
    ctx.metrics.messagesIn.inc({ channel: 'operator' });
    const decoded = safeDecode(OperatorCallSchema, msg.data);
    if (!decoded.ok) {
      ctx.metrics.messagesInvalid.inc({ channel: 'operator' });
      this.respond(msg, errorReply(new ValidationError(decoded.error.message, { details: { issues: decoded.error.details.issues } })));
      return;
    }
    this.answer(msg, () => handleOperatorCall(ctx, decoded.value, { startedMs: this.startedMs, ...(this.http ? { httpUrl: this.http.url } : {}) }));
  }

  // ---------------------------------------------------------------------------------------------
  // Operator helpers that need the transport

  private async operatorReservation(kind: 'RESERVE' | 'UNRESERVE', agentId: string, resources: Resource[]): Promise<Record<string, never>> {
    const ctx = this.context;
    const agent = ctx.agents.get(agentId);
    if (!agent || agent.state === 'GONE') throw new NotFoundError(`no agent ${agentId}`, { details: { kind: 'agent', id: agentId } });
    const { from, to } = resourceOperationForms(kind === 'RESERVE' ? { type: 'RESERVE', agentId, resources } : { type: 'UNRESERVE', agentId, resources });
    rescindAll(ctx, agent.offers);
    if (!contains(ctx.allocator.agentFree(agentId), from)) {
      throw new InvalidOperationError(`agent ${agentId} has not got those resources free to ${kind.toLowerCase()}`, { details: { agentId } });
    }
    agent.total = add(subtract(agent.total, from), to);
    await ctx.registry.saveAgent(agent);
    ctx.allocator.updateAgentTotal(agentId, agent.total);
    ctx.outbox.updateResources(agentId, agent.total);
    ctx.publishEvent({ type: 'AGENT_UPDATED', agent: agentSummary(ctx, agent) });
    this.requestAllocation();
    return {};
  }

  private async readTaskFile(taskId: string, path: string, offset?: number, length?: number): Promise<unknown> {
    const ctx = this.context;
    let task: TaskRecord | undefined;
    for (const fw of ctx.frameworks.values()) task ??= fw.tasks.get(taskId);
    if (!task) for (const t of ctx.completedTasks.values()) if (t.taskId === taskId) task = t;
    if (!task) throw new NotFoundError(`no task ${taskId}`, { details: { kind: 'task', id: taskId } });
    const command = { v: 1, epoch: ctx.epoch, type: 'READ_FILE', frameworkId: task.frameworkId, taskId, path, ...(offset !== undefined ? { offset } : {}), ...(length !== undefined ? { length } : {}) };
    const reply = await this.options.transport.request(this.s.agentCommands(task.agentId), encodeTrusted(command), { timeoutMs: 5000 });
    const r = decode(ReadFileReplySchema, reply.data);
    if (!r.ok) throw fromUnknown(Object.assign(new Error(r.error.message), { code: r.error.code }));
    return r.result;
  }

  // ---------------------------------------------------------------------------------------------

  private registerGauges(): void {
    const ctx = this.context;
    const m = ctx.metrics;
    m.addCollectedGauge('stoa_master_agents', 'Agents by state', ['state'], (set) => {
      const counts = new Map<string, number>();
      for (const a of ctx.agents.values()) counts.set(a.state, (counts.get(a.state) ?? 0) + 1);
      for (const [state, n] of counts) set({ state }, n);
    });
    m.addCollectedGauge('stoa_master_frameworks', 'Frameworks by state', ['state'], (set) => {
      const counts = new Map<string, number>();
      for (const f of ctx.frameworks.values()) counts.set(f.state, (counts.get(f.state) ?? 0) + 1);
      for (const [state, n] of counts) set({ state }, n);
    });
    m.addCollectedGauge('stoa_master_tasks', 'Tasks by state (terminal states count every task that reached them)', ['state'], (set) => {
      for (const [state, n] of Object.entries(m.taskCounts())) set({ state }, n);
    });
    m.addCollectedGauge('stoa_master_offers_outstanding', 'Offers not yet answered', [], (set) => set({}, ctx.offers.size));
    m.addCollectedGauge('stoa_master_resources', 'Resources by role and kind (total, offered, used)', ['resource', 'role', 'kind'], (set) => {
      const totals: Record<string, number> = {};
      for (const a of ctx.agents.values()) {
        if (a.state === 'GONE') continue;
        for (const r of a.total) if (r.type === 'SCALAR') totals[r.name] = (totals[r.name] ?? 0) + (r.scalar ?? 0);
      }
      for (const [resource, n] of Object.entries(totals)) set({ resource, role: '*', kind: 'total' }, n);
      const sum = (kind: string, entries: Iterable<{ role: string; resources: Resource[] }>) => {
        const byRole = new Map<string, Record<string, number>>();
        for (const e of entries) {
          const acc = byRole.get(e.role) ?? {};
          for (const r of e.resources) if (r.type === 'SCALAR') acc[r.name] = (acc[r.name] ?? 0) + (r.scalar ?? 0);
          byRole.set(e.role, acc);
        }
        for (const [role, acc] of byRole) for (const [resource, n] of Object.entries(acc)) set({ resource, role, kind }, n);
      };
      sum('offered', ctx.offers.values());
      const used: { role: string; resources: Resource[] }[] = [];
      for (const f of ctx.frameworks.values()) for (const t of f.tasks.values()) used.push({ role: t.role, resources: t.info.resources });
      sum('used', used);
    });
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    // Send what is gathered, unless the transport went first (then there is nobody to tell).
    if (!this.options.transport.isClosed && this.leading()) {
      this.context.outbox.flush();
      this.flushEvents();
    }
    this.state = 'stopped';
    // Giving the lease up (deleting it) lets a follower take over at once.
    await this.elector?.stop();
    this.becomeFollower('stopped');
    await this.http?.close();
    this.log.info({ masterId: this.masterId }, 'master stopped');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
