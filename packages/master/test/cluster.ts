/**
 * Fixtures of the master's integration tests: a master on either transport with its HTTP API on a
 * free port, a JSON-over-HTTP helper, and a greedy scheduler that accepts every offer with small
 * tasks (the load the allocation tests need).
 */

import { MemoryBus, MemoryStore, MemoryTransport, type Offer, parseResources, scalar, type Transport } from '@stoa/core';
import { NatsTransport } from '@stoa/core/nats';
import type { NatsServerHandle } from '@stoa/testkit';
import { type MasterHandle, type MasterOptions, startMaster } from '../src/index.js';
import { FakeAgent, type FakeFramework } from './peers.js';

/** The transports the suites run over. */
export type TransportKind = 'memory' | 'nats';

/** Opens a transport of a kind: one bus per master for memory, a fresh connection for NATS. */
export interface TransportFactory {
  readonly kind: TransportKind;
  open(): Promise<Transport>;
  close(): Promise<void>;
}

/** A factory of transports that hear each other. `nats()` is read when the first one is opened. */
export function transportFactory(kind: TransportKind, nats: () => NatsServerHandle): TransportFactory {
  const bus = new MemoryBus();
  const opened: Transport[] = [];
  return {
    kind,
    async open() {
      const t = kind === 'memory' ? MemoryTransport.create({ bus }) : await NatsTransport.connect({ servers: nats().url, maxReconnectAttempts: 0 });
      opened.push(t);
      return t;
    },
    async close() {
      for (const t of opened.splice(0).reverse()) await t.close();
    },
  };
}

/** A master under test and what it runs on. */
export interface TestMaster {
  master: MasterHandle;
  transport: Transport;
  /** The HTTP API's base URL. */
  url: string;
}

/** Starts a master with its HTTP API on a free port (and every other option the test gives). */
export async function startTestMaster(transport: Transport, options: Partial<MasterOptions> = {}): Promise<TestMaster> {
  const master = await startMaster({ transport, store: new MemoryStore(), http: { port: 0 }, ...options });
  if (master.httpUrl === undefined) throw new Error('the master serves no HTTP');
  return { master, transport, url: master.httpUrl };
}

/** A JSON answer of the HTTP API. */
export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
}

/** An HTTP error body. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** Calls the HTTP API; a string body is sent as it is (to send bad JSON), anything else as JSON. */
export async function http<T = unknown>(base: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<JsonResponse<T>> {
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/**
 * Registers a fake agent and waits until the server has its command subscription: the fake
 * subscribes only once REGISTER is answered, and a command sent before the server knows of the
 * subscription would be lost.
 */
export async function register(agent: FakeAgent): Promise<FakeAgent> {
  await agent.register();
  await agent.transport.flush();
  return agent;
}

/** Registers `count` fake agents named `h0…` with the given resources. */
export async function registerAgents(transport: Transport, count: number, resources = 'cpus:4;mem:4096'): Promise<FakeAgent[]> {
  const agents: FakeAgent[] = [];
  for (let i = 0; i < count; i++) {
    agents.push(await register(FakeAgent.make(transport, `h${i}`, resources)));
  }
  return agents;
}

/** A live task as the greedy scheduler knows it. */
export interface GreedyTask {
  taskId: string;
  agentId: string;
  cpus: number;
}

/**
 * A scheduler that takes every offer: as many tasks of `taskResources` as fit, up to `capCpus`
 * of live tasks, declining the rest. It reads the fake framework's events on a short timer (the
 * fake records events; it has no callback), and keeps its own books of live tasks, which the test
 * finishes through the fake agents with {@link GreedyScheduler.finish}.
 */
export class GreedyScheduler {
  /** Live tasks in launch order. */
  readonly live = new Map<string, GreedyTask>();
  /** Calls that failed (an ACCEPT of an offer rescinded meanwhile, say). */
  readonly failures: unknown[] = [];
  private readonly seen = new Set<string>();
  private readonly taskCpus: number;
  private timer: NodeJS.Timeout | undefined;
  private pending = 0;
  private next = 0;

  constructor(
    readonly fw: FakeFramework,
    /** `capCpus`: most cpus of live tasks; `taskResources` @default 'cpus:1;mem:1024'; `refuseMs` of declines and leftovers @default 100 */
    private readonly options: { capCpus: number; taskResources?: string; refuseMs?: number },
  ) {
    this.taskCpus = scalar(parseResources(this.taskResources), 'cpus');
  }

  private get taskResources(): string {
    return this.options.taskResources ?? 'cpus:1;mem:1024';
  }

  /** Starts taking offers. */
  start(): this {
    this.timer ??= setInterval(() => this.takeOffers(), 2);
    return this;
  }

  /** Stops taking offers. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Cpus of live tasks. */
  get usedCpus(): number {
    let n = 0;
    for (const t of this.live.values()) n += t.cpus;
    return n;
  }

  /** Whether every offer seen has been answered. */
  get idle(): boolean {
    return this.pending === 0 && this.fw.offers().every((o) => this.seen.has(o.id));
  }

  private takeOffers(): void {
    for (const offer of this.fw.offers()) {
      if (this.seen.has(offer.id)) continue;
      this.seen.add(offer.id);
      this.answer(offer);
    }
  }

  private answer(offer: Offer): void {
    const need = parseResources(this.taskResources);
    const fit = Math.min(...need.filter((r) => r.type === 'SCALAR').map((r) => Math.floor(scalar(offer.resources, r.name) / (r.scalar ?? 1))));
    const room = Math.floor((this.options.capCpus - this.usedCpus) / this.taskCpus);
    const n = Math.max(0, Math.min(fit, room));
    const refuseMs = this.options.refuseMs ?? 100;
    this.pending++;
    const done = () => {
      this.pending--;
    };
    const fail = (error: unknown) => {
      this.failures.push(error);
      done();
    };
    if (n === 0) {
      this.fw.decline([offer.id], refuseMs).then(done, fail);
      return;
    }
    const tasks = Array.from({ length: n }, () => {
      const taskId = `${this.fw.info.name}-${this.next++}`;
      this.live.set(taskId, { taskId, agentId: offer.agentId, cpus: this.taskCpus });
      return { taskId, name: taskId, agentId: offer.agentId, resources: need, command: { value: 'sleep 1000' } };
    });
    this.fw.accept([offer.id], [{ type: 'LAUNCH', tasks }], refuseMs).then(done, fail);
  }

  /** Finishes the `count` oldest live tasks through their agents (TASK_FINISHED), and forgets them. */
  async finish(count: number, agents: ReadonlyMap<string, FakeAgent>): Promise<void> {
    const byAgent = new Map<string, string[]>();
    for (const t of [...this.live.values()].slice(0, count)) {
      this.live.delete(t.taskId);
      const list = byAgent.get(t.agentId);
      if (list) list.push(t.taskId);
      else byAgent.set(t.agentId, [t.taskId]);
    }
    await Promise.all(
      [...byAgent].map(([agentId, ids]) => {
        const agent = agents.get(agentId);
        if (!agent) throw new Error(`no fake agent ${agentId}`);
        return agent.update(
          this.fw.frameworkId,
          ids.map((taskId) => ({ taskId, state: 'TASK_FINISHED' as const })),
        );
      }),
    );
  }
}
