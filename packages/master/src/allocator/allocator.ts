/**
 * The master's allocator: decides which framework is offered which agent's free resources, the
 * way Mesos' hierarchical allocator does, but incrementally.
 *
 * - **Order**: hierarchical weighted DRF. Roles form a tree (`eng/web` under `eng`); at each
 *   level siblings are ordered by the dominant share of their subtree divided by their weight,
 *   and within a role its frameworks by their own dominant share in that role. Shares leave out
 *   non-scalar resources and `fairnessExcludedResources` (gpus by default).
 * - **Quota**: a first stage serves roles whose guarantee is not met, only up to the guarantee;
 *   then the fair stage. While guarantees are unmet, other roles may not take the unreserved
 *   resources still needed to meet them (headroom). A role's allocation plus an offer never
 *   exceeds its limit, nor any ancestor's.
 * - **Reservations** go only to frameworks of their role or its sub-roles, and count toward the
 *   role's guarantee whether allocated or not.
 * - **Offers** are coarse-grained: in a stage, an agent's free resources allocatable to a role go
 *   to one framework, and only if they hold one of the `minAllocatable` quantity sets. Agents
 *   with gpus go only to gpu-aware frameworks. Inactive agents and frameworks, roles a framework
 *   suppressed, and `(framework, agent)` pairs under a decline filter get nothing.
 * - **Incremental**: running totals per role and framework; a cycle visits only agents whose
 *   free resources changed, whose filters lapsed, and — after a change that can make someone
 *   newly eligible (a framework added, revived, updated; quota changed; a limit freed) — agents
 *   left with free resources nobody could take. Roles and frameworks sit in lists ordered by
 *   share, re-positioned as each allocation changes a share.
 *
 * Nothing here does I/O or reads a clock: time comes in as `nowMs`.
 *
 * Decisions where Mesos leaves room, or where this one differs:
 * - A role's own frameworks compete with its sub-roles as one more child of weight 1 (Mesos'
 *   "virtual leaf"); a role's weight applies among its siblings.
 * - Shares are over the whole cluster (every agent, active or not), scalar resources only.
 * - A guarantee on `eng` is served in the quota stage to frameworks anywhere under `eng`, and
 *   met by the unreserved resources allocated under it plus every reservation for roles under it.
 *   Limits count what is allocated (offered or used) under the role, reserved or not.
 * - In the quota stage, guaranteed names are cut to what is still missing and other unreserved
 *   names to the surplus over the headroom others need; in the fair stage an offer that would dip
 *   into the headroom loses all its unreserved scalars (as in Mesos), and a limit cuts only the
 *   names it limits.
 * - Decline filters are per (framework, agent), whatever the resources; REVIVE clears all of a
 *   framework's filters, whichever roles it names.
 * - `allocate` records what is in use even beyond an agent's free resources (a re-registering
 *   agent's tasks are facts); the agent offers nothing more until enough comes back.
 * - Agents are visited in the order they became dirty (no shuffle), so cycles are deterministic.
 *
 * @example
 * ```ts
 * const allocator = new Allocator();
 * allocator.addAgent('a1', parseResources('cpus:8;mem:32768'));
 * allocator.addFramework('f1', { roles: ['web'], gpuAware: false });
 * const offers = allocator.runCycle(Date.now()); // [{ frameworkId: 'f1', agentId: 'a1', role: 'web', resources }]
 * allocator.recover('f1', 'a1', offers[0]!.resources, { refuseMs: 5000, nowMs: Date.now() }); // declined
 * ```
 * @module
 */

import {
  add,
  allocatableTo,
  isNormalized,
  normalize,
  type Quota,
  type Resource,
  subtract,
  trySubtract,
  UNRESERVED_ROLE,
  ValidationError,
} from '@stoa/core';
import { ExpiryHeap } from './expiry-heap.js';
import {
  addInto,
  addQuantities,
  anyPositive,
  dominantShare,
  fromRecord,
  ResourceNames,
  takeFrom,
  toRecord,
  trimResources,
  zero,
} from './quantities.js';
import { type Ranked, RankedList, ranksBefore } from './ranked-list.js';

/** Options of an {@link Allocator}; every field is optional. */
export interface AllocatorOptions {
  /**
   * An agent's free resources are offered only if they hold at least one of these quantity sets
   * (every name of the set at or above its amount). An empty list offers any non-empty amount.
   * @default [{ cpus: 0.01 }, { mem: 32 }]
   */
  minAllocatable?: readonly Readonly<Record<string, number>>[];
  /** Resource names left out of dominant shares (scarce resources). @default ['gpus'] */
  fairnessExcludedResources?: readonly string[];
  /** The decline filter {@link Allocator.decline} installs when given none. @default 5000 */
  defaultRefuseMs?: number;
}

/** Options with their defaults applied. */
export interface ResolvedAllocatorOptions {
  /** See {@link AllocatorOptions.minAllocatable}. */
  readonly minAllocatable: readonly Readonly<Record<string, number>>[];
  /** See {@link AllocatorOptions.fairnessExcludedResources}. */
  readonly fairnessExcludedResources: readonly string[];
  /** See {@link AllocatorOptions.defaultRefuseMs}. */
  readonly defaultRefuseMs: number;
}

/** Applies the defaults of {@link AllocatorOptions}. */
export function resolveAllocatorOptions(options: AllocatorOptions = {}): ResolvedAllocatorOptions {
  return {
    minAllocatable: options.minAllocatable ?? [{ cpus: 0.01 }, { mem: 32 }],
    fairnessExcludedResources: options.fairnessExcludedResources ?? ['gpus'],
    defaultRefuseMs: options.defaultRefuseMs ?? 5000,
  };
}

/** A new offer decided by {@link Allocator.runCycle}: one agent's resources for one framework in one role. */
export interface Allocation {
  /** The framework offered the resources. */
  frameworkId: string;
  /** The agent they are on. */
  agentId: string;
  /** The role they are offered for. */
  role: string;
  /** The resources (normalized; treat as immutable, the allocator keeps a reference). */
  resources: Resource[];
}

/** How resources come back in {@link Allocator.recover}. */
export interface RecoverOptions {
  /** The time now (ms), for the decline filter. */
  nowMs: number;
  /** Install a decline filter for this long; none when absent or not positive. */
  refuseMs?: number;
  /** The role they were offered or used in (the offer's role); found from the holdings when absent. */
  role?: string;
}

/** What the allocator needs to know of a framework. */
export interface FrameworkOptions {
  /** The roles it subscribes to. */
  roles: readonly string[];
  /** Whether it may be offered agents that have gpus (the GPU_RESOURCES capability). @default false */
  gpuAware?: boolean;
  /** Roles it wants no offers for. On update, replaces the set when given. @default [] */
  suppressedRoles?: readonly string[];
}

/** A role's quota: a guarantee and a limit, each scalar quantities by name. */
export interface QuotaSpec {
  /** Served before other roles' fair share, up to these amounts. */
  guarantee?: Readonly<Record<string, number>>;
  /** Never exceeded by the role's allocation (its sub-roles included). */
  limit?: Readonly<Record<string, number>>;
}

/** A role as the operator API shows it. */
export interface RoleView {
  /** The role's path, such as `eng/web`. */
  role: string;
  /** Its weight (1 unless set). */
  weight: number;
  /** Its quota, when it has one. */
  quota?: Quota;
  /** What is allocated (offered or used) to it and its sub-roles, by name. */
  allocated: Record<string, number>;
  /** Its dominant share of the cluster (before weighting). */
  share: number;
  /** Frameworks in the role: subscribed to it, or holding resources in it. */
  frameworkIds: string[];
}

/** Counters for metrics and tests. */
export interface AllocatorStats {
  /** Agents known. */
  agents: number;
  /** Agents that may be offered. */
  activeAgents: number;
  /** Frameworks known. */
  frameworks: number;
  /** Agents the next cycle will visit for sure. */
  dirtyAgents: number;
  /** Agents with free resources nobody could take when last visited. */
  leftoverAgents: number;
  /** Decline filters in force (some may have lapsed but not yet been collected). */
  filters: number;
}

// ------------------------------------------------------------------------------------------------
// Internal state

interface AgentState {
  readonly id: string;
  total: Resource[];
  active: boolean;
  hasGpus: boolean;
  /** total − everything held (normalized; immutable, may be shared with an allocation). */
  free: readonly Resource[];
  freeQ: number[];
  freeUnresQ: number[];
  freeHasReserved: boolean;
  /** The roles of the reservations in `free`. */
  reservedRoles: string[];
  /** Whether something held was not within the total (tasks reported beyond it). */
  overcommitted: boolean;
  readonly held: Map<FrameworkRole, Resource[]>;
  filters: Map<string, number> | undefined;
}

interface FrameworkState {
  readonly id: string;
  roles: Set<string>;
  gpuAware: boolean;
  active: boolean;
  suppressed: Set<string>;
  readonly perRole: Map<string, FrameworkRole>;
  readonly alloc: number[];
  readonly filtered: Set<AgentState>;
}

/** A framework within one role: what it holds there, its place among the role's frameworks. */
interface FrameworkRole extends Ranked {
  readonly fw: FrameworkState;
  readonly role: RoleNode;
  readonly alloc: number[];
  readonly agents: Set<AgentState>;
}

/** The allocation of a role's own frameworks, ranked among the role's sub-roles. */
interface SelfLeaf extends Ranked {
  readonly kind: 'self';
  readonly role: RoleNode;
}

interface RoleNode extends Ranked {
  readonly kind: 'role';
  readonly path: string;
  readonly parent: RoleNode | undefined;
  weight: number;
  weightSet: boolean;
  readonly children: RankedList<RoleNode | SelfLeaf>;
  readonly self: SelfLeaf;
  /** Frameworks that may be offered resources for this role (active, subscribed, not suppressed). */
  readonly offerable: RankedList<FrameworkRole>;
  /** Offerable framework-roles in this subtree. */
  offerableCount: number;
  readonly members: Map<string, FrameworkRole>;
  readonly ownAlloc: number[];
  readonly subAlloc: number[];
  readonly subAllocUnres: number[];
  readonly subReserved: number[];
  quota: Quota | undefined;
  guarantee: number[] | undefined;
  limit: number[] | undefined;
  readonly shortfall: number[];
  unmet: boolean;
  limitBlocked: boolean;
}

interface MinSet {
  readonly idx: number[];
  readonly milli: number[];
}

const EMPTY: readonly Resource[] = Object.freeze([]);

function isUnder(path: string, ancestor: string): boolean {
  return path.length > ancestor.length && path.startsWith(ancestor) && path[ancestor.length] === '/';
}

/**
 * The hierarchical weighted DRF allocator. See the module documentation for the semantics; the
 * master feeds it every change of agents, frameworks, weights, quota and allocations, and calls
 * {@link Allocator.runCycle} to learn which offers to make.
 */
export class Allocator {
  /** The options in force, defaults applied. */
  readonly options: ResolvedAllocatorOptions;

  private readonly names: ResourceNames;
  private readonly minSets: MinSet[];
  private readonly agents = new Map<string, AgentState>();
  private readonly frameworks = new Map<string, FrameworkState>();
  private readonly roles = new Map<string, RoleNode>();
  private readonly root: RoleNode;
  private readonly quotaRoles: RoleNode[] = [];
  private readonly filterHeap = new ExpiryHeap();
  private readonly dirty = new Set<AgentState>();
  private readonly leftover = new Set<AgentState>();
  private readonly visit: AgentState[] = [];
  private readonly totalQ: number[] = [];
  private readonly activeFreeUnres: number[] = [];
  private readonly required: number[] = [];
  private sharesStale = false;
  private revisitLeftover = false;
  private headroomBlocked = false;
  private headroomActive = false;
  private anyUnmet = false;
  private activeAgentCount = 0;
  private filterCount = 0;

  // The cycle's scratch: what the last successful pick found.
  private nowMs = 0;
  private pickAgent: AgentState | undefined;
  private pickQuota: RoleNode | undefined;
  private pickUnresUseful = false;
  private pickedRole: FrameworkRole | undefined;
  private pickedOffer: readonly Resource[] = EMPTY;
  private pickedQ: number[] = [];
  private pickedUQ: number[] = [];
  private readonly scratchQ: number[] = [];
  private readonly scratchUQ: number[] = [];

  /** @param options See {@link AllocatorOptions}. */
  constructor(options: AllocatorOptions = {}) {
    this.options = resolveAllocatorOptions(options);
    this.names = new ResourceNames(new Set(this.options.fairnessExcludedResources));
    this.minSets = this.options.minAllocatable.map((set) => {
      const idx: number[] = [];
      const milli: number[] = [];
      for (const [name, value] of Object.entries(set)) {
        idx.push(this.names.intern(name));
        milli.push(Math.round(value * 1000));
      }
      return { idx, milli };
    });
    this.root = this.newRole('', undefined);
  }

  // ----------------------------------------------------------------------------------------------
  // Agents

  /**
   * Adds an agent with its total resources (static reservations included). Adding a known agent
   * updates its total and active flag instead.
   */
  addAgent(id: string, total: readonly Resource[], options: { active?: boolean } = {}): void {
    const active = options.active ?? true;
    const known = this.agents.get(id);
    if (known) {
      this.updateAgentTotal(id, total);
      this.setAgentActive(id, active);
      return;
    }
    const agent: AgentState = {
      id,
      total: [],
      active: false,
      hasGpus: false,
      free: EMPTY,
      freeQ: [],
      freeUnresQ: [],
      freeHasReserved: false,
      reservedRoles: [],
      overcommitted: false,
      held: new Map(),
      filters: undefined,
    };
    this.agents.set(id, agent);
    this.setTotal(agent, total);
    this.setFree(agent, agent.total);
    this.setAgentActive(id, active);
  }

  /** Changes an agent's total (dynamic reservations and volumes change it); what is held stays held. */
  updateAgentTotal(id: string, total: readonly Resource[]): void {
    const agent = this.agents.get(id);
    if (!agent) return;
    this.addTotals(agent, -1);
    this.setTotal(agent, total);
    this.recomputeFree(agent);
    this.markDirty(agent);
  }

  /** Whether an agent may be offered (an inactive one — draining, deactivated, unreachable — is not). */
  setAgentActive(id: string, active: boolean): void {
    const agent = this.agents.get(id);
    if (!agent || agent.active === active) return;
    agent.active = active;
    if (active) {
      this.activeAgentCount++;
      addInto(this.activeFreeUnres, agent.freeUnresQ);
      this.dirty.add(agent);
    } else {
      this.activeAgentCount--;
      addInto(this.activeFreeUnres, agent.freeUnresQ, -1);
      this.dirty.delete(agent);
      this.leftover.delete(agent);
    }
  }

  /** Forgets an agent and everything held on it. */
  removeAgent(id: string): void {
    const agent = this.agents.get(id);
    if (!agent) return;
    this.setAgentActive(id, false);
    for (const [fr, held] of [...agent.held]) this.release(agent, fr, held, EMPTY);
    this.addTotals(agent, -1);
    if (agent.filters) {
      for (const fwId of agent.filters.keys()) this.frameworks.get(fwId)?.filtered.delete(agent);
      this.filterCount -= agent.filters.size;
    }
    this.agents.delete(id);
  }

  // ----------------------------------------------------------------------------------------------
  // Frameworks

  /** Adds an active framework. Adding a known one updates it and makes it active. */
  addFramework(id: string, options: FrameworkOptions): void {
    if (this.frameworks.has(id)) {
      this.updateFramework(id, options);
      this.setFrameworkActive(id, true);
      return;
    }
    const fw: FrameworkState = {
      id,
      roles: new Set(options.roles),
      gpuAware: options.gpuAware ?? false,
      active: true,
      suppressed: new Set(options.suppressedRoles ?? []),
      perRole: new Map(),
      alloc: [],
      filtered: new Set(),
    };
    this.frameworks.set(id, fw);
    for (const role of fw.roles) this.syncOfferable(this.frameworkRole(fw, role));
    this.revisitLeftover = true;
  }

  /** Changes a framework's roles, gpu awareness and (when given) suppressed roles. */
  updateFramework(id: string, options: FrameworkOptions): void {
    const fw = this.frameworks.get(id);
    if (!fw) {
      this.addFramework(id, options);
      return;
    }
    fw.roles = new Set(options.roles);
    fw.gpuAware = options.gpuAware ?? false;
    if (options.suppressedRoles !== undefined) fw.suppressed = new Set(options.suppressedRoles);
    for (const role of fw.roles) this.frameworkRole(fw, role);
    for (const fr of [...fw.perRole.values()]) this.syncOfferable(fr);
    this.revisitLeftover = true;
  }

  /** Whether a framework may be offered (a disconnected one keeps what it holds, gets nothing new). */
  setFrameworkActive(id: string, active: boolean): void {
    const fw = this.frameworks.get(id);
    if (!fw || fw.active === active) return;
    fw.active = active;
    for (const fr of [...fw.perRole.values()]) this.syncOfferable(fr);
    if (active) this.revisitLeftover = true;
  }

  /** Forgets a framework; everything it held returns to the pool. */
  removeFramework(id: string): void {
    const fw = this.frameworks.get(id);
    if (!fw) return;
    fw.active = false;
    for (const fr of [...fw.perRole.values()]) {
      for (const agent of [...fr.agents]) {
        const held = agent.held.get(fr);
        if (held) this.release(agent, fr, held, EMPTY);
        this.markDirty(agent);
      }
      fw.roles.delete(fr.role.path);
      this.syncOfferable(fr);
      fr.role.members.delete(id);
      fw.perRole.delete(fr.role.path);
    }
    this.clearFilters(fw);
    this.frameworks.delete(id);
  }

  /** SUPPRESS: no offers for these roles (all of the framework's when none are named). */
  suppress(frameworkId: string, roles?: readonly string[]): void {
    const fw = this.frameworks.get(frameworkId);
    if (!fw) return;
    for (const role of roles ?? [...fw.roles]) {
      fw.suppressed.add(role);
      const fr = fw.perRole.get(role);
      if (fr) this.syncOfferable(fr);
    }
  }

  /** REVIVE: offers again for these roles (all when none are named), and every decline filter of the framework cleared. */
  revive(frameworkId: string, roles?: readonly string[]): void {
    const fw = this.frameworks.get(frameworkId);
    if (!fw) return;
    for (const role of roles ?? [...fw.roles]) {
      fw.suppressed.delete(role);
      const fr = fw.perRole.get(role);
      if (fr) this.syncOfferable(fr);
    }
    this.clearFilters(fw);
    this.revisitLeftover = true;
  }

  // ----------------------------------------------------------------------------------------------
  // Roles

  /** Sets a role's weight in fair sharing (positive and finite). */
  setWeight(role: string, weight: number): void {
    if (!(weight > 0) || !Number.isFinite(weight)) {
      throw new ValidationError(`a role's weight must be positive and finite, not ${weight}`, { details: { field: 'weight' } });
    }
    const node = this.role(role);
    node.weight = weight;
    node.weightSet = true;
    this.sharesStale = true;
  }

  /** Sets a role's quota (guarantee and limit kept apart; either may be absent). */
  setQuota(role: string, quota: QuotaSpec): void {
    const node = this.role(role);
    node.guarantee = quota.guarantee ? fromRecord(this.names, quota.guarantee) : undefined;
    node.limit = quota.limit ? fromRecord(this.names, quota.limit) : undefined;
    node.quota = { role, ...(quota.guarantee ? { guarantee: { ...quota.guarantee } } : {}), ...(quota.limit ? { limit: { ...quota.limit } } : {}) };
    this.syncQuotaRoles(node);
    this.revisitLeftover = true;
  }

  /** Removes a role's quota. */
  removeQuota(role: string): void {
    const node = this.roles.get(role);
    if (!node?.quota) return;
    node.quota = undefined;
    node.guarantee = undefined;
    node.limit = undefined;
    this.syncQuotaRoles(node);
    this.revisitLeftover = true;
  }

  // ----------------------------------------------------------------------------------------------
  // Allocations

  /**
   * Records resources a framework holds on an agent in a role without an offer from this
   * allocator (tasks a re-registering agent reports, the result of a RESERVE). Resources beyond
   * the agent's free ones are recorded all the same (they are in use), and nothing is offered
   * from the agent until enough comes back. An unknown agent is ignored; an unknown framework is
   * tracked as inactive until added.
   */
  allocate(frameworkId: string, agentId: string, role: string, resources: readonly Resource[]): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    const rs = isNormalized(resources) ? resources : normalize(resources);
    if (rs.length === 0) return;
    let fw = this.frameworks.get(frameworkId);
    if (!fw) {
      this.addFramework(frameworkId, { roles: [] });
      this.setFrameworkActive(frameworkId, false);
      fw = this.frameworks.get(frameworkId)!;
    }
    const fr = this.frameworkRole(fw, role);
    const q = this.scratchQ;
    const uq = this.scratchUQ;
    zero(q);
    zero(uq);
    addQuantities(this.names, rs, q, uq);
    const prev = agent.held.get(fr);
    agent.held.set(fr, prev ? add(prev, rs) : (rs as Resource[]));
    fr.agents.add(agent);
    this.charge(fr, q, uq, 1);
    const free = trySubtract(agent.free, rs);
    if (free !== undefined) this.setFree(agent, free);
    else this.recomputeFree(agent);
  }

  /**
   * Resources come back from a framework: an offer declined, rescinded or partly used, or tasks
   * that ended. They come out of the framework's holding in `role` when given (the offer's role)
   * and otherwise, or for what that one lacks, out of whichever of its roles holds them on the
   * agent. With `refuseMs` > 0 the framework is not offered this agent again until
   * `nowMs + refuseMs` (a decline filter). Resources it does not hold are ignored.
   */
  recover(frameworkId: string, agentId: string, resources: readonly Resource[], options: RecoverOptions): void {
    const agent = this.agents.get(agentId);
    const fw = this.frameworks.get(frameworkId);
    if (!agent || !fw) return;
    const holders: FrameworkRole[] = [];
    const preferred = options.role === undefined ? undefined : fw.perRole.get(options.role);
    if (preferred !== undefined && agent.held.has(preferred)) holders.push(preferred);
    for (const fr of fw.perRole.values()) if (fr !== preferred && agent.held.has(fr)) holders.push(fr);
    // The common case: a whole offer comes back, the very array that is held.
    const same = holders.find((fr) => agent.held.get(fr) === resources);
    let want: readonly Resource[] = same !== undefined || isNormalized(resources) ? resources : normalize(resources);
    if (same !== undefined) {
      this.release(agent, same, want, EMPTY);
      want = EMPTY;
      this.markDirty(agent);
    }
    if (want.length > 0) {
      for (const fr of holders) {
        const rest = trySubtract(agent.held.get(fr)!, want);
        if (rest !== undefined) {
          this.release(agent, fr, want, rest);
          want = EMPTY;
          break;
        }
      }
      for (const fr of holders) {
        if (want.length === 0) break;
        const held = agent.held.get(fr);
        if (!held) continue;
        const { taken, rest } = takeFrom(held, want);
        if (taken.length === 0) continue;
        this.release(agent, fr, taken, rest);
        want = takeFrom(want, taken).rest;
      }
      this.markDirty(agent);
    }
    const refuseMs = options.refuseMs ?? 0;
    if (refuseMs > 0) this.addFilter(fw, agent, options.nowMs + refuseMs);
  }

  /** {@link recover} with a decline filter: `refuseMs` defaults to {@link AllocatorOptions.defaultRefuseMs}. */
  decline(frameworkId: string, agentId: string, resources: readonly Resource[], options: RecoverOptions): void {
    this.recover(frameworkId, agentId, resources, { ...options, refuseMs: options.refuseMs ?? this.options.defaultRefuseMs });
  }

  // ----------------------------------------------------------------------------------------------
  // The cycle

  /**
   * Runs one allocation cycle at `nowMs` and returns the new offers to make; they are recorded
   * as allocated at once (give back what is declined or rescinded with {@link recover}).
   */
  runCycle(nowMs: number): Allocation[] {
    this.nowMs = nowMs;
    this.expireFilters(nowMs);
    if (this.sharesStale) this.recomputeShares();
    if (this.headroomBlocked) {
      this.revisitLeftover = true;
      this.headroomBlocked = false;
    }
    const visit = this.visit;
    visit.length = 0;
    for (const a of this.dirty) if (a.active) visit.push(a);
    if (this.revisitLeftover) for (const a of this.leftover) if (a.active && !this.dirty.has(a)) visit.push(a);
    this.dirty.clear();
    this.revisitLeftover = false;
    const out: Allocation[] = [];
    if (visit.length === 0) return out;
    this.refreshQuota();
    if (this.anyUnmet) for (const a of visit) this.quotaStage(a, out);
    for (const a of visit) this.fairStage(a, out);
    for (const a of visit) {
      if (this.worthOffering(a)) this.leftover.add(a);
      else this.leftover.delete(a);
    }
    visit.length = 0;
    this.pickAgent = undefined;
    this.pickedRole = undefined;
    this.pickedOffer = EMPTY;
    return out;
  }

  /** When the earliest decline filter lapses (a cycle then may offer more), or `undefined`. */
  nextFilterExpiryMs(): number | undefined {
    return this.filterHeap.peekMs();
  }

  // ----------------------------------------------------------------------------------------------
  // Views

  /** Every role that has frameworks, allocations, reservations, a weight or a quota, by path. */
  roleSummaries(): RoleView[] {
    const out: RoleView[] = [];
    for (const node of this.roles.values()) {
      if (node.members.size === 0 && !node.weightSet && !node.quota && !anyPositive(node.subAlloc) && !anyPositive(node.subReserved)) continue;
      const view: RoleView = {
        role: node.path,
        weight: node.weight,
        allocated: toRecord(this.names, node.subAlloc),
        share: dominantShare(this.names, node.subAlloc, this.totalQ),
        frameworkIds: [...node.members.keys()],
      };
      if (node.quota) view.quota = node.quota;
      out.push(view);
    }
    return out.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
  }

  /** A framework's dominant share of the cluster over all its roles (0 when unknown). */
  frameworkShare(id: string): number {
    const fw = this.frameworks.get(id);
    return fw ? dominantShare(this.names, fw.alloc, this.totalQ) : 0;
  }

  /** What a framework holds (offered and used), by name, over all its roles. */
  frameworkAllocated(id: string): Record<string, number> {
    const fw = this.frameworks.get(id);
    return fw ? toRecord(this.names, fw.alloc) : {};
  }

  /** An agent's free resources: its total less everything held on it (empty when unknown). */
  agentFree(id: string): Resource[] {
    return this.agents.get(id)?.free.slice() ?? [];
  }

  /** What is held on an agent, by framework and role. */
  agentAllocations(id: string): Allocation[] {
    const agent = this.agents.get(id);
    if (!agent) return [];
    return [...agent.held].map(([fr, resources]) => ({ frameworkId: fr.fw.id, agentId: id, role: fr.role.path, resources: resources.slice() }));
  }

  /** The cluster's total resources, by name (all agents, active or not). */
  totalResources(): Record<string, number> {
    return toRecord(this.names, this.totalQ);
  }

  /** Everything allocated (offered and used), by name. */
  allocatedResources(): Record<string, number> {
    const sum: number[] = [];
    for (const child of this.root.children.items) if (child.kind === 'role') addInto(sum, child.subAlloc);
    return toRecord(this.names, sum);
  }

  /** Counters for metrics. */
  stats(): AllocatorStats {
    return {
      agents: this.agents.size,
      activeAgents: this.activeAgentCount,
      frameworks: this.frameworks.size,
      dirtyAgents: this.dirty.size,
      leftoverAgents: this.leftover.size,
      filters: this.filterCount,
    };
  }

  // ----------------------------------------------------------------------------------------------
  // Stages

  private quotaStage(agent: AgentState, out: Allocation[]): void {
    const tried = new Set<RoleNode>();
    for (let guard = 0; guard < 64 && this.anyUnmet; guard++) {
      if (!this.worthOffering(agent)) return;
      // The unmet quota role lowest in the DRF order, not yet tried on this agent.
      let best: RoleNode | undefined;
      for (const q of this.quotaRoles) {
        if (!q.unmet || q.offerableCount === 0 || tried.has(q)) continue;
        if (best === undefined || ranksBefore(q, best)) best = q;
      }
      if (best === undefined) return;
      if (this.pick(agent, best, best)) this.commit(agent, out);
      else tried.add(best);
    }
  }

  private fairStage(agent: AgentState, out: Allocation[]): void {
    for (let guard = 0; guard < 64; guard++) {
      if (!this.worthOffering(agent)) return;
      if (!this.pick(agent, this.root, undefined)) return;
      this.commit(agent, out);
    }
  }

  /** Finds the first (role, framework) in DRF order under `start` that may take part of the agent. */
  private pick(agent: AgentState, start: RoleNode, quota: RoleNode | undefined): boolean {
    this.pickAgent = agent;
    this.pickQuota = quota;
    this.pickUnresUseful = this.passesMin(agent.freeUnresQ);
    this.pickedRole = undefined;
    if (start !== this.root && !this.relevant(start)) return false;
    return this.walk(start);
  }

  private walk(node: RoleNode): boolean {
    const items = node.children.items;
    for (let k = 0; k < items.length; k++) {
      const child = items[k]!;
      if (child.kind === 'self') {
        if (this.tryRole(child.role)) return true;
      } else if (child.offerableCount > 0 && this.relevant(child) && this.walk(child)) {
        return true;
      }
    }
    return false;
  }

  /** Whether the agent's free resources may hold something for a role under `node`. */
  private relevant(node: RoleNode): boolean {
    if (this.pickUnresUseful) return true;
    const agent = this.pickAgent!;
    if (!agent.freeHasReserved) return false;
    const path = node.path;
    for (const r of agent.reservedRoles) if (r === path || isUnder(path, r) || isUnder(r, path)) return true;
    return false;
  }

  private tryRole(role: RoleNode): boolean {
    const list = role.offerable.items;
    if (list.length === 0) return false;
    const agent = this.pickAgent!;
    if (!this.pickUnresUseful && !this.relevant(role)) return false;
    let chosen: FrameworkRole | undefined;
    for (let k = 0; k < list.length; k++) {
      const fr = list[k]!;
      if (agent.hasGpus && !fr.fw.gpuAware) continue;
      if (agent.filters !== undefined) {
        const until = agent.filters.get(fr.fw.id);
        if (until !== undefined && until > this.nowMs) continue;
      }
      chosen = fr;
      break;
    }
    if (chosen === undefined || !this.shapeOffer(agent, role)) return false;
    this.pickedRole = chosen;
    return true;
  }

  /**
   * Sets `pickedOffer`, `pickedQ`, `pickedUQ` to what `role` may be offered of the agent now:
   * allocatable to it, within limits, headroom and (in the quota stage) the guarantee, and
   * holding a `minAllocatable` set. False when that is nothing worth offering.
   */
  private shapeOffer(agent: AgentState, role: RoleNode): boolean {
    let offer: readonly Resource[] = agent.freeHasReserved ? allocatableTo(agent.free, role.path) : agent.free;
    if (offer.length === 0) return false;
    let q: number[];
    let uq: number[];
    if (offer === agent.free) {
      q = agent.freeQ;
      uq = agent.freeUnresQ;
    } else {
      q = this.scratchQ;
      uq = this.scratchUQ;
      zero(q);
      zero(uq);
      addQuantities(this.names, offer, q, uq);
    }
    const quota = this.pickQuota;
    let capTotal: (number | undefined)[] | undefined;
    let capUnres: (number | undefined)[] | undefined;
    // Limits of the role and its ancestors.
    for (let n: RoleNode | undefined = role; n !== undefined && n !== this.root; n = n.parent) {
      const limit = n.limit;
      if (limit === undefined) continue;
      for (let i = 0; i < limit.length; i++) {
        const l = limit[i];
        if (l === undefined) continue;
        const allowed = Math.max(0, l - (n.subAlloc[i] ?? 0));
        if ((q[i] ?? 0) <= allowed) continue;
        capTotal ??= [];
        const c = capTotal[i];
        if (c === undefined || allowed < c) capTotal[i] = allowed;
        n.limitBlocked = true;
      }
    }
    // Headroom: leave what other roles' unmet guarantees still need. The quota stage cuts name by
    // name; the fair stage, as Mesos does, holds back every unreserved scalar when any name
    // would dip into the headroom (a cut to the rest would make lopsided offers).
    if (this.headroomActive) {
      const required = this.required;
      let short = false;
      for (let i = 0; i < required.length; i++) {
        const need = required[i] ?? 0;
        if (need <= 0 || (uq[i] ?? 0) <= 0) continue;
        let own = 0;
        for (let n: RoleNode | undefined = role; n !== undefined && n !== this.root; n = n.parent) if (n.guarantee) own += n.shortfall[i] ?? 0;
        const others = need - own;
        if (others <= 0) continue;
        const allowed = Math.max(0, (this.activeFreeUnres[i] ?? 0) - others);
        if ((uq[i] ?? 0) <= allowed) continue;
        this.headroomBlocked = true;
        if (quota === undefined) {
          short = true;
          break;
        }
        capUnres ??= [];
        capUnres[i] = allowed;
      }
      if (short) {
        capUnres ??= [];
        const scalar = this.names.scalar;
        for (let i = 0; i < uq.length; i++) if ((uq[i] ?? 0) > 0 && scalar[i]) capUnres[i] = 0;
      }
    }
    // The quota stage offers guaranteed names only up to the guarantee.
    if (quota?.guarantee !== undefined) {
      const g = quota.guarantee;
      for (let i = 0; i < g.length; i++) {
        if (g[i] === undefined) continue;
        const s = quota.shortfall[i] ?? 0;
        if ((uq[i] ?? 0) <= s) continue;
        capUnres ??= [];
        const c = capUnres[i];
        if (c === undefined || s < c) capUnres[i] = s;
      }
    }
    if (capTotal !== undefined || capUnres !== undefined) {
      offer = trimResources(this.names, offer, capTotal, capUnres);
      if (offer.length === 0) return false;
      q = this.scratchQ;
      uq = this.scratchUQ;
      zero(q);
      zero(uq);
      addQuantities(this.names, offer, q, uq);
    }
    if (!this.passesMin(q)) return false;
    if (quota?.guarantee !== undefined) {
      // A quota-stage offer must hold something the guarantee asks for.
      const g = quota.guarantee;
      let useful = false;
      for (let i = 0; i < g.length && !useful; i++) if (g[i] !== undefined && (q[i] ?? 0) > 0) useful = true;
      if (!useful) return false;
    }
    this.pickedOffer = offer;
    this.pickedQ = q;
    this.pickedUQ = uq;
    return true;
  }

  /** Records the picked offer as allocated and emits it. */
  private commit(agent: AgentState, out: Allocation[]): void {
    const fr = this.pickedRole!;
    const offer = this.pickedOffer;
    const q = this.pickedQ;
    const uq = this.pickedUQ;
    const whole = offer === agent.free;
    const rest = whole ? EMPTY : subtract(agent.free, offer);
    this.charge(fr, q, uq, 1);
    if (agent.active) addInto(this.activeFreeUnres, uq, -1);
    if (whole) {
      // q and uq are the agent's own arrays: they were read above, now they describe nothing.
      zero(agent.freeQ);
      zero(agent.freeUnresQ);
    } else {
      addInto(agent.freeQ, q, -1);
      addInto(agent.freeUnresQ, uq, -1);
    }
    agent.free = rest;
    this.noteReservations(agent);
    const resources = offer as Resource[];
    const prev = agent.held.get(fr);
    agent.held.set(fr, prev ? add(prev, resources) : resources);
    fr.agents.add(agent);
    out.push({ frameworkId: fr.fw.id, agentId: agent.id, role: fr.role.path, resources });
    if (this.quotaRoles.length > 0 && this.hasQuotaChain(fr.role)) this.refreshQuota();
  }

  // ----------------------------------------------------------------------------------------------
  // Bookkeeping

  private newRole(path: string, parent: RoleNode | undefined): RoleNode {
    const node = {
      kind: 'role',
      path,
      name: path,
      key: 0,
      pos: -1,
      parent,
      weight: 1,
      weightSet: false,
      children: new RankedList<RoleNode | SelfLeaf>(),
      offerable: new RankedList<FrameworkRole>(),
      offerableCount: 0,
      members: new Map(),
      ownAlloc: [],
      subAlloc: [],
      subAllocUnres: [],
      subReserved: [],
      quota: undefined,
      guarantee: undefined,
      limit: undefined,
      shortfall: [],
      unmet: false,
      limitBlocked: false,
    } as Omit<RoleNode, 'self'> as RoleNode;
    (node as { self: SelfLeaf }).self = { kind: 'self', role: node, key: 0, name: '', pos: -1 };
    node.children.insert(node.self);
    return node;
  }

  /** The node of a role, made (with its ancestors) when new. */
  private role(path: string): RoleNode {
    let node = this.roles.get(path);
    if (node) return node;
    const cut = path.lastIndexOf('/');
    const parent = cut > 0 ? this.role(path.slice(0, cut)) : this.root;
    node = this.newRole(path, parent);
    this.roles.set(path, node);
    parent.children.insert(node);
    return node;
  }

  private frameworkRole(fw: FrameworkState, path: string): FrameworkRole {
    let fr = fw.perRole.get(path);
    if (fr) return fr;
    const role = this.role(path);
    fr = { fw, role, key: 0, name: fw.id, pos: -1, alloc: [], agents: new Set() };
    fw.perRole.set(path, fr);
    role.members.set(fw.id, fr);
    return fr;
  }

  /** Puts a framework-role in or out of its role's offerable list, and forgets it when unused. */
  private syncOfferable(fr: FrameworkRole): void {
    const fw = fr.fw;
    const role = fr.role;
    const path = role.path;
    const want = fw.active && fw.roles.has(path) && !fw.suppressed.has(path);
    const has = role.offerable.has(fr);
    if (want && !has) {
      fr.key = dominantShare(this.names, fr.alloc, this.totalQ);
      role.offerable.insert(fr);
      for (let n: RoleNode | undefined = role; n !== undefined; n = n.parent) n.offerableCount++;
    } else if (!want && has) {
      role.offerable.remove(fr);
      for (let n: RoleNode | undefined = role; n !== undefined; n = n.parent) n.offerableCount--;
    }
    if (!fw.roles.has(path) && fr.agents.size === 0 && !anyPositive(fr.alloc)) {
      fw.perRole.delete(path);
      role.members.delete(fw.id);
    }
  }

  /** Adds (sign 1) or removes (−1) quantities held by a framework-role, up the role tree, and re-ranks. */
  private charge(fr: FrameworkRole, q: readonly number[], uq: readonly number[], sign: 1 | -1): void {
    addInto(fr.alloc, q, sign);
    addInto(fr.fw.alloc, q, sign);
    addInto(fr.role.ownAlloc, q, sign);
    // The root's totals are never read on the hot path: allocatedResources() sums its children.
    for (let n: RoleNode | undefined = fr.role; n !== undefined && n !== this.root; n = n.parent) {
      addInto(n.subAlloc, q, sign);
      addInto(n.subAllocUnres, uq, sign);
      if (sign < 0 && n.limitBlocked) {
        n.limitBlocked = false;
        this.revisitLeftover = true;
      }
    }
    if (this.sharesStale) return; // everything is re-ranked before the next cycle
    const names = this.names;
    const total = this.totalQ;
    const role = fr.role;
    role.offerable.rekey(fr, dominantShare(names, fr.alloc, total));
    role.children.rekey(role.self, dominantShare(names, role.ownAlloc, total));
    for (let n: RoleNode = role; n.parent !== undefined; n = n.parent) {
      n.parent.children.rekey(n, dominantShare(names, n.subAlloc, total) / n.weight);
    }
  }

  /** `taken` (normalized) goes back from a framework-role to the agent's free pool; `rest` stays held. */
  private release(agent: AgentState, fr: FrameworkRole, taken: readonly Resource[], rest: readonly Resource[]): void {
    if (rest.length === 0) {
      agent.held.delete(fr);
      fr.agents.delete(agent);
    } else {
      agent.held.set(fr, rest as Resource[]);
    }
    const q = this.scratchQ;
    const uq = this.scratchUQ;
    zero(q);
    zero(uq);
    addQuantities(this.names, taken, q, uq);
    this.charge(fr, q, uq, -1);
    if (agent.overcommitted) {
      this.recomputeFree(agent);
    } else {
      if (agent.active) addInto(this.activeFreeUnres, uq);
      addInto(agent.freeQ, q);
      addInto(agent.freeUnresQ, uq);
      agent.free = agent.free.length === 0 ? taken : add(agent.free, taken);
      this.noteReservations(agent);
    }
    if (!fr.fw.roles.has(fr.role.path)) this.syncOfferable(fr);
  }

  private setTotal(agent: AgentState, total: readonly Resource[]): void {
    agent.total = normalize(total);
    this.addTotals(agent, 1);
    agent.hasGpus = agent.total.some((r) => r.name === 'gpus' && (r.scalar ?? 0) > 0);
  }

  /** Adds (or removes) an agent's total to the cluster's, and its reservations to their roles. */
  private addTotals(agent: AgentState, sign: 1 | -1): void {
    addQuantities(this.names, agent.total, this.totalQ, undefined, sign);
    for (const r of agent.total) {
      const role = r.role ?? UNRESERVED_ROLE;
      if (role === UNRESERVED_ROLE) continue;
      const q: number[] = [];
      addQuantities(this.names, [r], q);
      for (let n: RoleNode | undefined = this.role(role); n !== undefined; n = n.parent) addInto(n.subReserved, q, sign);
    }
    this.sharesStale = true;
  }

  /** free = total − everything held, from scratch (after the total changed, or held exceeded it). */
  private recomputeFree(agent: AgentState): void {
    let held: Resource[] = [];
    for (const rs of agent.held.values()) held = held.length === 0 ? rs : add(held, rs);
    const free = trySubtract(agent.total, held);
    agent.overcommitted = free === undefined;
    this.setFree(agent, free ?? takeFrom(agent.total, held).rest);
  }

  private setFree(agent: AgentState, free: readonly Resource[]): void {
    if (agent.active) addInto(this.activeFreeUnres, agent.freeUnresQ, -1);
    agent.free = free;
    zero(agent.freeQ);
    zero(agent.freeUnresQ);
    addQuantities(this.names, free, agent.freeQ, agent.freeUnresQ);
    if (agent.active) addInto(this.activeFreeUnres, agent.freeUnresQ);
    this.noteReservations(agent);
  }

  private noteReservations(agent: AgentState): void {
    let has = false;
    for (const r of agent.free) if (r.role !== undefined && r.role !== UNRESERVED_ROLE) has = true;
    if (!has) {
      agent.freeHasReserved = false;
      if (agent.reservedRoles.length > 0) agent.reservedRoles = [];
      return;
    }
    agent.freeHasReserved = true;
    const roles: string[] = [];
    for (const r of agent.free) {
      const role = r.role ?? UNRESERVED_ROLE;
      if (role !== UNRESERVED_ROLE && !roles.includes(role)) roles.push(role);
    }
    agent.reservedRoles = roles;
  }

  private markDirty(agent: AgentState): void {
    if (agent.active && this.agents.get(agent.id) === agent) this.dirty.add(agent);
  }

  private passesMin(q: readonly number[]): boolean {
    const sets = this.minSets;
    if (sets.length === 0) return anyPositive(q);
    for (let s = 0; s < sets.length; s++) {
      const { idx, milli } = sets[s]!;
      let ok = true;
      for (let k = 0; k < idx.length && ok; k++) if ((q[idx[k]!] ?? 0) < milli[k]!) ok = false;
      if (ok && anyPositive(q)) return true;
    }
    return false;
  }

  /** Whether an agent has free resources that some role could be offered. */
  private worthOffering(agent: AgentState): boolean {
    return agent.active && agent.free.length > 0 && (agent.freeHasReserved || this.passesMin(agent.freeUnresQ));
  }

  private addFilter(fw: FrameworkState, agent: AgentState, untilMs: number): void {
    agent.filters ??= new Map();
    if (!agent.filters.has(fw.id)) this.filterCount++;
    agent.filters.set(fw.id, untilMs);
    fw.filtered.add(agent);
    this.filterHeap.push({ atMs: untilMs, agentId: agent.id, frameworkId: fw.id });
  }

  private clearFilters(fw: FrameworkState): void {
    for (const agent of fw.filtered) {
      if (agent.filters?.delete(fw.id)) this.filterCount--;
      this.markDirty(agent);
    }
    fw.filtered.clear();
  }

  private expireFilters(nowMs: number): void {
    this.filterHeap.popUntil(nowMs, (e) => {
      const agent = this.agents.get(e.agentId);
      const until = agent?.filters?.get(e.frameworkId);
      if (agent === undefined || until === undefined || until > nowMs) return;
      agent.filters!.delete(e.frameworkId);
      this.filterCount--;
      this.frameworks.get(e.frameworkId)?.filtered.delete(agent);
      this.markDirty(agent);
    });
  }

  /** Recomputes every share from the running totals and re-sorts (after the cluster total or a weight changed). */
  private recomputeShares(): void {
    const names = this.names;
    const total = this.totalQ;
    const nodes = [this.root, ...this.roles.values()];
    for (const node of nodes) {
      node.key = dominantShare(names, node.subAlloc, total) / node.weight;
      node.self.key = dominantShare(names, node.ownAlloc, total);
      for (const fr of node.members.values()) fr.key = dominantShare(names, fr.alloc, total);
    }
    for (const node of nodes) {
      node.children.resort();
      node.offerable.resort();
    }
    this.sharesStale = false;
  }

  private syncQuotaRoles(node: RoleNode): void {
    const at = this.quotaRoles.indexOf(node);
    if (node.guarantee !== undefined && at < 0) this.quotaRoles.push(node);
    else if (node.guarantee === undefined && at >= 0) this.quotaRoles.splice(at, 1);
    if (node.guarantee === undefined) {
      zero(node.shortfall);
      node.unmet = false;
    }
  }

  private hasQuotaChain(role: RoleNode): boolean {
    for (let n: RoleNode | undefined = role; n !== undefined; n = n.parent) if (n.guarantee !== undefined) return true;
    return false;
  }

  /** Each quota role's shortfall (guarantee − allocated unreserved − reserved) and the headroom they need. */
  private refreshQuota(): void {
    const required = this.required;
    zero(required);
    let anyUnmet = false;
    for (const node of this.quotaRoles) {
      const g = node.guarantee!;
      let unmet = false;
      zero(node.shortfall);
      for (let i = 0; i < g.length; i++) {
        const want = g[i];
        if (want === undefined) continue;
        const s = Math.max(0, want - (node.subAllocUnres[i] ?? 0) - (node.subReserved[i] ?? 0));
        node.shortfall[i] = s;
        if (s > 0) {
          unmet = true;
          required[i] = (required[i] ?? 0) + s;
        }
      }
      node.unmet = unmet;
      if (unmet) anyUnmet = true;
    }
    this.anyUnmet = anyUnmet;
    this.headroomActive = anyUnmet;
  }
}
