/**
 * Task placement for frameworks: packs many tasks into many offers in one pass, honouring
 * Marathon-style constraints, assigning ports, and saying why a task found no place.
 *
 * Offers are filled first-fit, in the order given (or round robin, with `strategy`); demands are placed in the order given, so the
 * result depends only on the input. Each offer keeps a mutable account of what is left, and
 * demands of the same shape (same resources, ports, constraints and group) resume their search
 * where the previous one stopped: an offer that could not hold a shape cannot hold it later in
 * the pass either, because resources only shrink and constraint counts only grow. `GROUP_BY`
 * is the exception and is searched value by value, least loaded first.
 *
 * The result is ready to send: one ACCEPT entry per agent that got tasks (with all of that
 * agent's offers, so what is left returns at once), and the offers of every other agent to
 * decline. Each task uses resources of one offer, as the master checks them.
 *
 * Resources match by identity, as the master's check does: a demand for `cpus:1` uses unreserved
 * cpus; to use resources reserved for a role, ask for them by role (`cpus(ops):1`).
 *
 * @example
 * ```ts
 * import { placeTasks } from '@stoa/sdk';
 * client.on('OFFERS', async ({ offers }) => {
 *   const demands = queue.map((t) => ({
 *     taskId: t.id, name: 'web', group: '/web', resources: 'cpus:0.5;mem:256', ports: 1,
 *     command: { value: 'python3 -m http.server $PORT0' }, constraints: [['hostname', 'UNIQUE']],
 *   }));
 *   const placement = placeTasks(offers, demands, { existing: running });
 *   for (const accept of placement.accepts) await client.accept(accept.offerIds, accept.operations);
 *   if (placement.declineOfferIds.length > 0) await client.decline(placement.declineOfferIds);
 *   for (const { demand, reasons } of placement.unplaced) log(demand.taskId, reasons.join('; '));
 * });
 * ```
 * @module
 */

import {
  addRanges,
  allocatePorts,
  type CommandInfo,
  type ExecutorInfo,
  type FaultDomain,
  type HealthCheck,
  type KillPolicy,
  normalize,
  type Offer,
  type Operation,
  parseResources,
  portsToRanges,
  type Resource,
  ResourcesSchema,
  rangesContain,
  rangesCount,
  rangesCover,
  StoaError,
  subtractRanges,
  type TaskInfo,
  ValidationError,
  type ValueRange,
} from '@stoa/core';
import {
  type CompiledConstraint,
  type Constraint,
  type ConstraintTarget,
  compileConstraints,
  constraintFieldValue,
  matchesStatic,
} from './constraints.js';

/** A task to place: what it needs, where it may go, and what it becomes once placed. */
export interface TaskDemand {
  /** The id of the task to launch. Unique among the demands. */
  taskId: string;
  /** The task's name. */
  name: string;
  /** What the task needs, as a list or in the text form (`'cpus:0.5;mem:256'`), ports aside. */
  resources: Resource[] | string;
  /** How many ports to assign from the offer's `ports` ranges, besides {@link requirePorts}. @default 0 */
  ports?: number;
  /** Ports the task must get exactly; they come first in its port list. @default [] */
  requirePorts?: number[];
  /** What to run. Its environment gets {@link env} and `PORT0..n`, `PORT`, `PORTS`. */
  command?: CommandInfo;
  /** A custom executor that runs the task; its resources are taken from the same offer. */
  executor?: ExecutorInfo;
  /** Copied to the task. */
  healthCheck?: HealthCheck;
  /** Copied to the task. */
  killPolicy?: KillPolicy;
  /** Copied to the task. */
  labels?: Record<string, string>;
  /** Copied to the task. */
  maxCompletionTimeMs?: number;
  /** Copied to the task: the agent starts it at this time (ms since the epoch), not before. */
  startAtMs?: number;
  /** Copied to the task. */
  data?: Uint8Array;
  /** Where the task may go; see the constraints module. @default [] */
  constraints?: readonly Constraint[];
  /**
   * The tasks that constraints count together (such as a Marathon app id): `UNIQUE`, `MAX_PER`,
   * `GROUP_BY` and `CLUSTER` see the placed and existing tasks of this group.
   * @default the demand's `name`
   */
  group?: string;
  /** Environment variables for {@link command} (ignored without one). */
  env?: Record<string, string>;
}

/** A task already running, so that constraints count it. */
export interface ExistingTask {
  /** Its group (see {@link TaskDemand.group}). */
  group: string;
  /** The hostname of its agent. */
  hostname: string;
  /** The attributes of its agent. */
  attributes: Record<string, string>;
  /** The fault domain of its agent. */
  domain?: FaultDomain;
  /** Its agent. */
  agentId: string;
}

/** Options of {@link placeTasks}. */
export interface PlaceTasksOptions {
  /** Tasks already running, counted by `UNIQUE`, `MAX_PER`, `GROUP_BY` and `CLUSTER`. @default [] */
  existing?: readonly ExistingTask[];
  /**
   * `pack` fills the first offers that fit (first fit: fewer agents busy). `roundRobin` gives each
   * task the next offer after the previous task's that fits, wrapping around: a batch spreads over
   * the offers, so each agent has few tasks to start at once (what a scheduler of jobs due at one
   * moment wants). Demands with `GROUP_BY` spread by their field either way.
   * @default 'pack'
   */
  strategy?: 'pack' | 'roundRobin';
}

/** One ACCEPT call's worth: the offers of one agent and the operations on them. */
export interface OfferAccept {
  /** Every offer of the agent. */
  offerIds: string[];
  /** One LAUNCH with the agent's tasks, in demand order. */
  operations: Operation[];
}

/** A demand that found no place, and why. */
export interface UnplacedDemand {
  /** The demand as given. */
  demand: TaskDemand;
  /**
   * Why: `insufficient cpus: need 2, offers have at most 1`, `constraint hostname:UNIQUE`,
   * `port 80 is not free in any offer`, or, when every offer fails for a different reason,
   * `no offer satisfies everything at once: …` with how many offers fail which check.
   */
  reasons: string[];
}

/** What {@link placeTasks} decided. */
export interface Placement {
  /** One entry per agent that got tasks, ready for `client.accept(offerIds, operations)`. */
  accepts: OfferAccept[];
  /** Every task placed, in demand order. */
  launched: TaskInfo[];
  /** The ports assigned to each placed task, in `PORT0..n` order (empty when it asked for none). */
  ports: Record<string, number[]>;
  /** The offer each placed task takes its resources from. */
  offerByTask: Record<string, string>;
  /** The demands that found no place, in demand order. */
  unplaced: UnplacedDemand[];
  /** The offers of agents that got no task, in offer order. */
  declineOfferIds: string[];
}

/** Scalars are exact to milli-units, as in the resource algebra. */
const MILLI = 1000;

interface ScalarPool {
  kind: 'SCALAR';
  milli: number;
}
interface RangesPool {
  kind: 'RANGES';
  ranges: ValueRange[];
  count: number;
  /** The resource without its value: what a task's ports entry is made of. */
  identity: Resource;
}
interface SetPool {
  kind: 'SET';
  items: Set<string>;
}
type Pool = ScalarPool | RangesPool | SetPool;

interface AgentSlot {
  offerIds: string[];
  tasks: TaskInfo[];
}

/** An offer being filled: what is left of each resource. */
interface Bin {
  /** Its position among the offers. */
  readonly index: number;
  readonly offer: Offer;
  readonly pools: Map<string, Pool>;
  /** The `ports` RANGES pools, in canonical order ('*' first). */
  readonly portPools: { key: string; pool: RangesPool }[];
  readonly agent: AgentSlot;
}

/** One resource a demand takes from an offer. */
interface Need {
  key: string;
  /** `cpus`, `cpus(ops)`. */
  label: string;
  kind: 'SCALAR' | 'RANGES' | 'SET';
  milli: number;
  ranges: ValueRange[];
  items: string[];
}

/** What demands with the same resources (and executor) need. */
interface Requirement {
  /** The task's own resources, normalized. */
  taskResources: Resource[];
  /** The task's and its executor's, combined. */
  needs: Need[];
  /** Explicit RANGES needs by key, so port assignment leaves them alone. */
  explicitRanges: Map<string, ValueRange[]>;
  /** Where a ports entry from a pool (by key) goes in {@link taskResources}: merged or inserted at. */
  portSlots: Map<string, { at: number; merge: boolean }>;
}

/** Where the tasks of a group are, per constraint field. */
interface FieldCounts {
  counts: Map<string, number>;
  /** How many values have each count (for the smallest count among used values). */
  hist: Map<number, number>;
  /** Values with at least one task. */
  used: number;
  /** The smallest count among used values (0 when none is used). */
  minUsed: number;
  /** The value of the group's first task that has the field (`CLUSTER` without a value). */
  anchor: string | undefined;
}

interface GroupState {
  /** Where its tasks are: existing first, then placed ones, in order. */
  targets: ConstraintTarget[];
  fields: Map<string, FieldCounts>;
}

/** The search state of a `GROUP_BY` shape: offers by value of the spread field. */
interface SpreadScan {
  values: string[];
  bins: Bin[][];
  binCursor: number[];
  dead: boolean[];
  /** The count of the values this pass looks for. */
  level: number;
  cursor: number;
}

/** Demands that are placed alike. */
interface Shape {
  req: Requirement;
  requiredPorts: number[];
  totalPorts: number;
  constraints: CompiledConstraint[];
  /** UNIQUE, MAX_PER, CLUSTER without value: they only get stricter as tasks are placed. */
  monotone: CompiledConstraint[];
  /** GROUP_BY constraints after the first: checked per offer, may pass later after failing. */
  extraSpread: CompiledConstraint[];
  spread: CompiledConstraint | undefined;
  group: GroupState;
  /** Offers that pass the static constraints. */
  candidates: Bin[];
  /** When the candidates are all offers: the scalar trees and amounts to leap with. */
  leaps: { tree: MaxTree; milli: number }[];
  cursor: number;
  spreadScan: SpreadScan | undefined;
  /** Why the last search failed, and the number of placements made by then. */
  failure: { reasons: string[]; at: number } | undefined;
}

function formatMilli(milli: number): string {
  return String(milli / MILLI);
}

function resourceLabel(r: Resource): string {
  return r.role === undefined || r.role === '*' ? r.name : `${r.name}(${r.role})`;
}

function formatRanges(ranges: readonly ValueRange[]): string {
  return `[${ranges.map((r) => (r.begin === r.end ? `${r.begin}` : `${r.begin}-${r.end}`)).join(',')}]`;
}

/** The identity of a normalized resource as a string: name, type, role, reservation, disk. */
function identityKey(r: Resource): string {
  let key = `${r.name}\u0000${r.type}\u0000${r.role ?? '*'}`;
  const res = r.reservation;
  if (res !== undefined) {
    const labels = res.labels === undefined ? null : Object.entries(res.labels).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    key += `\u0000${JSON.stringify([res.type, res.principal ?? null, labels])}`;
  }
  if (r.disk !== undefined) {
    const p = r.disk.persistence;
    const v = r.disk.volume;
    key += `\u0001${JSON.stringify([p?.id ?? null, p?.principal ?? null, v?.containerPath ?? null, v?.mode ?? null])}`;
  }
  return key;
}

function identityOf(r: Resource): Resource {
  const out: Resource = { name: r.name, type: r.type, role: r.role ?? '*' };
  if (r.reservation !== undefined) out.reservation = r.reservation;
  if (r.disk !== undefined) out.disk = r.disk;
  return out;
}

function makeBin(offer: Offer, index: number, agent: AgentSlot): Bin {
  const pools = new Map<string, Pool>();
  const portPools: Bin['portPools'] = [];
  for (const r of normalize(offer.resources)) {
    const key = identityKey(r);
    if (r.type === 'SCALAR') pools.set(key, { kind: 'SCALAR', milli: Math.round(r.scalar! * MILLI) });
    else if (r.type === 'SET') pools.set(key, { kind: 'SET', items: new Set(r.set) });
    else {
      // Own copies: port assignment shortens these ranges in place.
      const ranges = r.ranges!.map((x) => ({ begin: x.begin, end: x.end }));
      const pool: RangesPool = { kind: 'RANGES', ranges, count: rangesCount(ranges), identity: identityOf(r) };
      pools.set(key, pool);
      if (r.name === 'ports') portPools.push({ key, pool });
    }
  }
  return { index, offer, pools, portPools, agent };
}

function needsOf(resources: readonly Resource[]): Need[] {
  return resources.map((r) => ({
    key: identityKey(r),
    label: resourceLabel(r),
    kind: r.type,
    milli: r.type === 'SCALAR' ? Math.round(r.scalar! * MILLI) : 0,
    ranges: r.ranges ?? [],
    items: r.set ?? [],
  }));
}

/**
 * The largest of a list of numbers per segment, so that "the first offer from here on with at
 * least this much cpus" takes O(log n) instead of a walk over offers that are already full.
 */
class MaxTree {
  readonly #size: number;
  readonly #max: Float64Array;

  constructor(values: readonly number[]) {
    let size = 1;
    while (size < values.length) size *= 2;
    this.#size = size;
    this.#max = new Float64Array(2 * size);
    for (let i = 0; i < values.length; i++) this.#max[size + i] = values[i]!;
    for (let i = size - 1; i >= 1; i--) this.#max[i] = Math.max(this.#max[2 * i]!, this.#max[2 * i + 1]!);
  }

  set(index: number, value: number): void {
    let i = this.#size + index;
    this.#max[i] = value;
    for (i >>= 1; i >= 1; i >>= 1) this.#max[i] = Math.max(this.#max[2 * i]!, this.#max[2 * i + 1]!);
  }

  /** The largest value. */
  max(): number {
    return this.#max[1]!;
  }

  /** The first index at or after `from` whose value is at least `min`, or -1. */
  firstAtLeast(from: number, min: number): number {
    return this.#search(1, 0, this.#size - 1, from, min);
  }

  #search(node: number, lo: number, hi: number, from: number, min: number): number {
    if (hi < from || this.#max[node]! < min) return -1;
    if (lo === hi) return lo;
    const mid = (lo + hi) >> 1;
    const left = this.#search(2 * node, lo, mid, from, min);
    return left >= 0 ? left : this.#search(2 * node + 1, mid + 1, hi, from, min);
  }
}

/** Per scalar resource, a {@link MaxTree} of what is left of it in each offer (made when first needed). */
class ScalarIndex {
  readonly #bins: readonly Bin[];
  readonly #trees = new Map<string, MaxTree>();

  constructor(bins: readonly Bin[]) {
    this.#bins = bins;
  }

  tree(key: string): MaxTree {
    let tree = this.#trees.get(key);
    if (tree === undefined) {
      tree = new MaxTree(this.#bins.map((bin) => {
        const pool = bin.pools.get(key);
        return pool?.kind === 'SCALAR' ? pool.milli : 0;
      }));
      this.#trees.set(key, tree);
    }
    return tree;
  }

  /** Tells the trees of what an offer has left after a task took `needs`. */
  update(bin: Bin, needs: readonly Need[]): void {
    for (const need of needs) {
      if (need.kind !== 'SCALAR') continue;
      const pool = bin.pools.get(need.key) as ScalarPool;
      this.#trees.get(need.key)?.set(bin.index, pool.milli);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Group bookkeeping

function countOf(fc: FieldCounts, value: string): number {
  return fc.counts.get(value) ?? 0;
}

function countTask(fc: FieldCounts, value: string): void {
  const c = fc.counts.get(value) ?? 0;
  fc.counts.set(value, c + 1);
  fc.hist.set(c + 1, (fc.hist.get(c + 1) ?? 0) + 1);
  if (c === 0) {
    fc.used++;
    fc.minUsed = 1;
    fc.anchor ??= value;
    return;
  }
  const left = fc.hist.get(c)! - 1;
  fc.hist.set(c, left);
  if (c === fc.minUsed && left === 0) fc.minUsed = c + 1;
}

function fieldCounts(group: GroupState, field: string): FieldCounts {
  let fc = group.fields.get(field);
  if (fc === undefined) {
    fc = { counts: new Map(), hist: new Map(), used: 0, minUsed: 0, anchor: undefined };
    for (const target of group.targets) {
      const value = constraintFieldValue(target, field);
      if (value !== undefined) countTask(fc, value);
    }
    group.fields.set(field, fc);
  }
  return fc;
}

function recordPlacement(group: GroupState, target: ConstraintTarget): void {
  group.targets.push(target);
  for (const [field, fc] of group.fields) {
    const value = constraintFieldValue(target, field);
    if (value !== undefined) countTask(fc, value);
  }
}

/** Whether one more task on a value with `count` tasks keeps the group evenly spread. */
function spreadAccepts(fc: FieldCounts, count: number, groups: number): boolean {
  if (count === 0) return true;
  return count <= fc.minUsed && (groups === 0 || fc.used >= groups);
}

/** Whether a constraint that depends on the group holds for one more task on `bin`. */
function holdsDynamic(c: CompiledConstraint, group: GroupState, bin: Bin): boolean {
  const value = constraintFieldValue(bin.offer, c.field);
  if (value === undefined) return false;
  const fc = fieldCounts(group, c.field);
  switch (c.operator) {
    case 'UNIQUE':
      return countOf(fc, value) === 0;
    case 'MAX_PER':
      return countOf(fc, value) < c.count;
    case 'CLUSTER':
      return fc.anchor === undefined || fc.anchor === value;
    case 'GROUP_BY':
      return spreadAccepts(fc, countOf(fc, value), c.count);
    default:
      return true;
  }
}

function holds(c: CompiledConstraint, group: GroupState, bin: Bin): boolean {
  return c.isStatic ? matchesStatic(c, constraintFieldValue(bin.offer, c.field)) : holdsDynamic(c, group, bin);
}

// ---------------------------------------------------------------------------------------------
// Resources

/** The ports pool a shape's ports come from on `bin`, or undefined. */
function portPoolFor(shape: Shape, bin: Bin, needsTaken: boolean): Bin['portPools'][number] | undefined {
  for (const entry of bin.portPools) {
    const pool = entry.pool;
    const explicit = needsTaken ? undefined : shape.req.explicitRanges.get(entry.key);
    const ranges = explicit === undefined ? pool.ranges : subtractRanges(pool.ranges, explicit);
    const count = explicit === undefined ? pool.count : rangesCount(ranges);
    if (count < shape.totalPorts) continue;
    let all = true;
    for (const port of shape.requiredPorts) {
      if (!rangesContain(ranges, port)) {
        all = false;
        break;
      }
    }
    if (all) return entry;
  }
  return undefined;
}

/** Takes the `count` lowest ports of a pool, shortening its ranges in place. */
function takeLowest(pool: RangesPool, count: number): { ports: number[]; ranges: ValueRange[] } {
  const ports: number[] = [];
  const ranges: ValueRange[] = [];
  const from = pool.ranges;
  let used = 0;
  let need = count;
  while (need > 0) {
    const r = from[used]!;
    const n = Math.min(need, r.end - r.begin + 1);
    for (let k = 0; k < n; k++) ports.push(r.begin + k);
    ranges.push({ begin: r.begin, end: r.begin + n - 1 });
    need -= n;
    if (r.begin + n > r.end) used++;
    else r.begin += n;
  }
  if (used > 0) from.splice(0, used);
  pool.count -= count;
  return { ports, ranges };
}

function fitsResources(shape: Shape, bin: Bin): boolean {
  const pools = bin.pools;
  for (const need of shape.req.needs) {
    const pool = pools.get(need.key);
    if (pool === undefined) return false;
    if (pool.kind === 'SCALAR') {
      if (pool.milli < need.milli) return false;
    } else if (pool.kind === 'RANGES') {
      if (!rangesCover(pool.ranges, need.ranges)) return false;
    } else {
      for (const item of need.items) if (!pool.items.has(item)) return false;
    }
  }
  return shape.totalPorts === 0 || portPoolFor(shape, bin, false) !== undefined;
}

interface Taken {
  ports: number[];
  /** The ports as a resource, and the key of the pool they came from. */
  portsResource: Resource | undefined;
  poolKey: string;
}

/** Takes a shape's resources from `bin` (which must fit); returns the ports assigned. */
function take(shape: Shape, bin: Bin): Taken {
  for (const need of shape.req.needs) {
    const pool = bin.pools.get(need.key)!;
    if (pool.kind === 'SCALAR') pool.milli -= need.milli;
    else if (pool.kind === 'RANGES') {
      pool.ranges = subtractRanges(pool.ranges, need.ranges);
      pool.count = rangesCount(pool.ranges);
    } else for (const item of need.items) pool.items.delete(item);
  }
  if (shape.totalPorts === 0) return { ports: [], portsResource: undefined, poolKey: '' };
  const { key, pool } = portPoolFor(shape, bin, true)!;
  if (shape.requiredPorts.length === 0) {
    const got = takeLowest(pool, shape.totalPorts);
    return { ports: got.ports, portsResource: portsResource(pool.identity, got.ranges), poolKey: key };
  }
  const got = allocatePorts(pool.ranges, shape.totalPorts, shape.requiredPorts)!;
  pool.ranges = got.remaining;
  pool.count -= shape.totalPorts;
  return { ports: got.ports, portsResource: portsResource(pool.identity, portsToRanges(got.ports)), poolKey: key };
}

function portsResource(identity: Resource, ranges: ValueRange[]): Resource {
  const r: Resource = { name: identity.name, type: 'RANGES', ranges, role: identity.role! };
  if (identity.reservation !== undefined) r.reservation = identity.reservation;
  return r;
}

/**
 * The task's resources: its own plus its ports, in canonical order. Tasks of one shape share
 * the entries of their own resources, as results of the resource algebra may: treat them as
 * immutable.
 */
function taskResources(req: Requirement, taken: Taken): Resource[] {
  const base = req.taskResources;
  const ports = taken.portsResource;
  if (ports === undefined) return base.slice();
  let slot = req.portSlots.get(taken.poolKey);
  if (slot === undefined) {
    const role = ports.role ?? '*';
    const same = base.findIndex((r) => r.type === 'RANGES' && identityKey(r) === taken.poolKey);
    let at = same >= 0 ? same : base.findIndex((r) => r.name > ports.name || (r.name === ports.name && (r.role ?? '*') > role));
    if (at < 0) at = base.length;
    slot = { at, merge: same >= 0 };
    req.portSlots.set(taken.poolKey, slot);
  }
  const out = base.slice();
  if (slot.merge) out[slot.at] = { ...base[slot.at]!, ranges: addRanges(base[slot.at]!.ranges!, ports.ranges!) };
  else out.splice(slot.at, 0, ports);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Search

function fitsMonotone(shape: Shape, bin: Bin): boolean {
  for (const c of shape.monotone) if (!holdsDynamic(c, shape.group, bin)) return false;
  return fitsResources(shape, bin);
}

function fitsExtraSpread(shape: Shape, bin: Bin): boolean {
  for (const c of shape.extraSpread) if (!holdsDynamic(c, shape.group, bin)) return false;
  return true;
}

/**
 * First fit among the candidates, resuming where the shape's last search stopped. Over all
 * offers, the scalar trees leap over offers short of a scalar resource. Round robin (`rr`): the
 * search starts after the offer the last task of any shape got (of this shape, when its static
 * constraints narrow its offers) and wraps around once.
 */
function searchPlain(shape: Shape, rr: { next: number; all: readonly Bin[] } | undefined): Bin | undefined {
  const list = shape.candidates;
  if (rr === undefined) return searchFrom(shape, shape.cursor, list.length);
  if (list.length === 0) return undefined;
  const shared = list === rr.all;
  const start = (shared ? rr.next : shape.cursor) % list.length;
  const bin = searchFrom(shape, start, list.length) ?? (start > 0 ? searchFrom(shape, 0, start) : undefined);
  if (bin === undefined) {
    shape.cursor = list.length;
    return undefined;
  }
  // searchFrom left the cursor on the offer it found: the next task looks from the one after.
  if (shared) rr.next = shape.cursor + 1;
  else shape.cursor = (shape.cursor + 1) % list.length;
  return bin;
}

/** First fit among the candidates from `from` up to `to`; sets the shape's cursor where it found one. */
function searchFrom(shape: Shape, from: number, to: number): Bin | undefined {
  const list = shape.candidates;
  const leaps = shape.leaps;
  let i = from;
  while (i < to) {
    if (leaps.length > 0) {
      // Move to the first offer that has enough of every scalar: each tree in turn, until all agree.
      for (let agreed = 0, k = 0; agreed < leaps.length; k = (k + 1) % leaps.length) {
        const { tree, milli } = leaps[k]!;
        const next = tree.firstAtLeast(i, milli);
        if (next < 0 || next >= to) {
          i = to;
          break;
        }
        agreed = next === i ? agreed + 1 : 1;
        i = next;
      }
      if (i >= to) break;
    }
    if (fitsMonotone(shape, list[i]!)) {
      shape.cursor = i;
      return list[i];
    }
    i++;
  }
  shape.cursor = list.length;
  return undefined;
}

function spreadScanOf(shape: Shape, spread: CompiledConstraint): SpreadScan {
  if (shape.spreadScan !== undefined) return shape.spreadScan;
  const byValue = new Map<string, Bin[]>();
  for (const bin of shape.candidates) {
    const value = constraintFieldValue(bin.offer, spread.field);
    if (value === undefined) continue;
    const list = byValue.get(value);
    if (list === undefined) byValue.set(value, [bin]);
    else list.push(bin);
  }
  const values = [...byValue.keys()];
  shape.spreadScan = {
    values,
    bins: values.map((v) => byValue.get(v)!),
    binCursor: values.map(() => 0),
    dead: values.map(() => false),
    level: -1,
    cursor: values.length,
  };
  return shape.spreadScan;
}

/**
 * The least loaded value of the spread field that has an offer for the shape (ties: the value
 * first offered), then first fit among its offers. Counts only grow, so each pass over the values
 * looks for one count (`level`) and the next pass for a higher one.
 */
function searchSpread(shape: Shape, spread: CompiledConstraint): Bin | 'uneven' | undefined {
  const scan = spreadScanOf(shape, spread);
  const fc = fieldCounts(shape.group, spread.field);
  let fullPasses = 0;
  for (;;) {
    if (scan.cursor >= scan.values.length) {
      let level = Number.POSITIVE_INFINITY;
      for (let i = 0; i < scan.values.length; i++) if (!scan.dead[i]) level = Math.min(level, countOf(fc, scan.values[i]!));
      if (level === Number.POSITIVE_INFINITY) return undefined;
      // A whole pass at this level found nothing: what is left is more loaded, or blocked by another GROUP_BY.
      if (fullPasses > 0 && level <= scan.level) return undefined;
      scan.level = level;
      scan.cursor = 0;
      fullPasses++;
    }
    const i = scan.cursor;
    const count = countOf(fc, scan.values[i]!);
    if (scan.dead[i] || count > scan.level) {
      scan.cursor++;
      continue;
    }
    const bins = scan.bins[i]!;
    let found: Bin | undefined;
    let foundLoad: number[] = [];
    for (let j = scan.binCursor[i]!; j < bins.length; j++) {
      const bin = bins[j]!;
      if (!fitsMonotone(shape, bin)) {
        if (j === scan.binCursor[i]) scan.binCursor[i] = j + 1;
        continue;
      }
      if (!fitsExtraSpread(shape, bin)) continue;
      if (shape.extraSpread.length === 0) {
        found = bin;
        break;
      }
      // With more GROUP_BY fields, prefer the offer whose values of those are least loaded.
      const load = shape.extraSpread.map((c) => countOf(fieldCounts(shape.group, c.field), constraintFieldValue(bin.offer, c.field)!));
      if (found === undefined || isLess(load, foundLoad)) {
        found = bin;
        foundLoad = load;
      }
    }
    if (found === undefined) {
      if (scan.binCursor[i]! >= bins.length) scan.dead[i] = true;
      scan.cursor++;
      continue;
    }
    if (!spreadAccepts(fc, count, spread.count)) return 'uneven';
    scan.cursor++;
    return found;
  }
}

function isLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Reasons

function diagnose(shape: Shape, bins: readonly Bin[], scalars: ScalarIndex): string[] {
  if (bins.length === 0) return ['no offers'];
  const reasons: string[] = [];
  for (const need of shape.req.needs) {
    if (need.kind === 'SCALAR') {
      const most = scalars.tree(need.key).max();
      if (need.milli > most) {
        reasons.push(`insufficient ${need.label}: need ${formatMilli(need.milli)}, offers have at most ${formatMilli(most)}`);
      }
    } else if (!bins.some((bin) => fitsNeed(bin, need))) {
      const what = need.kind === 'RANGES' ? formatRanges(need.ranges) : `{${need.items.join(',')}}`;
      reasons.push(`insufficient ${need.label}: need ${what}, no offer has it`);
    }
  }
  if (shape.totalPorts > 0) {
    let most = 0;
    for (const bin of bins) for (const { pool } of bin.portPools) most = Math.max(most, pool.count);
    if (shape.totalPorts > most) reasons.push(`insufficient ports: need ${shape.totalPorts}, offers have at most ${most}`);
    for (const port of shape.requiredPorts) {
      if (!bins.some((bin) => bin.portPools.some(({ pool }) => rangesContain(pool.ranges, port)))) {
        reasons.push(`port ${port} is not free in any offer`);
      }
    }
  }
  for (const c of shape.constraints) {
    if (!bins.some((bin) => holds(c, shape.group, bin))) reasons.push(`constraint ${c.label}`);
  }
  if (reasons.length > 0) return reasons;

  // Every check passes on some offer, but no offer passes them all: say how many fail which.
  const tally = new Map<string, number>();
  for (const bin of bins) {
    const failing = firstFailure(shape, bin);
    if (failing !== undefined) tally.set(failing, (tally.get(failing) ?? 0) + 1);
  }
  if (tally.size === 0) return ['no offer fits'];
  const parts = [...tally].map(([what, n]) => `${what} (${n} offer${n === 1 ? '' : 's'})`);
  return [`no offer satisfies everything at once: ${parts.join(', ')}`];
}

function fitsNeed(bin: Bin, need: Need): boolean {
  const pool = bin.pools.get(need.key);
  if (pool === undefined) return false;
  if (pool.kind === 'SCALAR') return pool.milli >= need.milli;
  if (pool.kind === 'RANGES') return rangesCover(pool.ranges, need.ranges);
  return need.items.every((item) => pool.items.has(item));
}

/** The first check an offer fails for a shape: constraints first, as Marathon checks them. */
function firstFailure(shape: Shape, bin: Bin): string | undefined {
  for (const c of shape.constraints) if (!holds(c, shape.group, bin)) return `constraint ${c.label}`;
  for (const need of shape.req.needs) if (!fitsNeed(bin, need)) return `insufficient ${need.label}`;
  if (shape.totalPorts > 0 && portPoolFor(shape, bin, false) === undefined) return 'insufficient ports';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Input

function invalid(index: number, demand: TaskDemand, field: string, why: string, cause?: unknown): ValidationError {
  return new ValidationError(`demand ${index} (task ${JSON.stringify(demand.taskId)}): ${field}: ${why}`, {
    details: { field: `demands.${index}.${field}`, demand: index, taskId: demand.taskId },
    ...(cause === undefined ? {} : { cause }),
  });
}

function readResources(index: number, demand: TaskDemand, value: unknown, field: string): Resource[] {
  if (typeof value === 'string') {
    try {
      return parseResources(value);
    } catch (e) {
      throw invalid(index, demand, field, StoaError.isInstance(e) ? e.message : String(e), e);
    }
  }
  const parsed = ResourcesSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue === undefined || issue.path.length === 0 ? '' : `.${issue.path.map(String).join('.')}`;
    throw invalid(index, demand, `${field}${at}`, issue?.message ?? 'invalid resources');
  }
  return normalize(parsed.data);
}

function checkPorts(index: number, demand: TaskDemand): void {
  const count = demand.ports ?? 0;
  if (!Number.isSafeInteger(count) || count < 0) throw invalid(index, demand, 'ports', 'must be a non-negative whole number');
  const required = demand.requirePorts ?? [];
  if (!Array.isArray(required)) throw invalid(index, demand, 'requirePorts', 'must be a list of ports');
  required.forEach((p, i) => {
    if (!Number.isSafeInteger(p) || p < 0 || p > 65535) throw invalid(index, demand, `requirePorts.${i}`, 'must be a port number (0-65535)');
    if (required.indexOf(p) !== i) throw invalid(index, demand, `requirePorts.${i}`, `port ${p} is listed twice`);
  });
}

const PORT_NAMES: string[] = [];

function portName(i: number): string {
  for (let n = PORT_NAMES.length; n <= i; n++) PORT_NAMES.push(`PORT${n}`);
  return PORT_NAMES[i]!;
}

/** The command with `env` and the port variables added to its environment (the command itself when there are none). */
function withEnvironment(command: CommandInfo, env: Record<string, string> | undefined, ports: readonly number[]): CommandInfo {
  if (env === undefined && ports.length === 0) return command;
  const environment: Record<string, string> = {};
  if (command.environment !== undefined) Object.assign(environment, command.environment);
  if (env !== undefined) Object.assign(environment, env);
  if (ports.length > 0) {
    let all = '';
    for (let i = 0; i < ports.length; i++) {
      const text = String(ports[i]);
      environment[portName(i)] = text;
      all = i === 0 ? text : `${all},${text}`;
    }
    environment.PORT = environment.PORT0!;
    environment.PORTS = all;
  }
  // Object.assign, not spread: V8's object spread is several times slower here, and this runs per task.
  const out: CommandInfo = Object.assign({}, command);
  out.environment = environment;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The pass

/**
 * Places tasks on offers in one pass and says what to accept, what to decline and what could not
 * be placed.
 *
 * Demands are taken in order; each goes to the first offer (in the order given) that has room
 * for its resources, its executor's resources and its ports and that meets its constraints —
 * for `GROUP_BY`, to the first such offer of the least loaded field value. Several tasks may
 * share an offer; each task uses one offer. Assigned ports are the required ones, then the lowest
 * free ones, and with a `command` they are also set as `PORT0..n`, `PORT` (the first) and
 * `PORTS` (comma-separated) in its environment.
 *
 * Throws a {@link ValidationError} for bad input: resources that do not parse (`field`
 * `demands.<i>.resources`), bad port requests, repeated task or offer ids, and bad constraints
 * (`field` `constraints.<j>`, with `details.demand` the demand's index).
 */
export function placeTasks(offers: readonly Offer[], demands: readonly TaskDemand[], options: PlaceTasksOptions = {}): Placement {
  const agents = new Map<string, AgentSlot>();
  const bins: Bin[] = [];
  const offerIds = new Set<string>();
  offers.forEach((offer, i) => {
    if (offerIds.has(offer.id)) {
      throw new ValidationError(`offer ${offer.id} is given twice`, { details: { field: `offers.${i}.id` } });
    }
    offerIds.add(offer.id);
    let agent = agents.get(offer.agentId);
    if (agent === undefined) {
      agent = { offerIds: [], tasks: [] };
      agents.set(offer.agentId, agent);
    }
    agent.offerIds.push(offer.id);
    bins.push(makeBin(offer, i, agent));
  });

  const existingByGroup = new Map<string, ConstraintTarget[]>();
  for (const task of options.existing ?? []) {
    const list = existingByGroup.get(task.group);
    if (list === undefined) existingByGroup.set(task.group, [task]);
    else list.push(task);
  }
  const groups = new Map<string, GroupState>();
  const groupOf = (name: string): GroupState => {
    let group = groups.get(name);
    if (group === undefined) {
      group = { targets: (existingByGroup.get(name) ?? []).slice(), fields: new Map() };
      groups.set(name, group);
    }
    return group;
  };

  const scalars = new ScalarIndex(bins);
  const rr = options.strategy === 'roundRobin' ? { next: 0, all: bins } : undefined;
  const requirements = new Map<string, Requirement>();
  const compiled = new Map<string, CompiledConstraint[]>();
  const candidateLists = new Map<string, Bin[]>();
  const shapes = new Map<string, Shape>();

  let last: { demand: TaskDemand; shape: Shape } | undefined;
  /** Whether two demands are placed alike, judged by identity: demands made from one template usually share their parts. */
  const sameShape = (a: TaskDemand, b: TaskDemand): boolean =>
    a.resources === b.resources &&
    a.constraints === b.constraints &&
    a.ports === b.ports &&
    a.requirePorts === b.requirePorts &&
    (a.group ?? a.name) === (b.group ?? b.name) &&
    a.executor?.resources === b.executor?.resources;

  const shapeOf = (demand: TaskDemand, index: number): Shape => {
    if (last !== undefined && sameShape(last.demand, demand)) return last.shape;
    const shape = findShape(demand, index);
    last = { demand, shape };
    return shape;
  };

  const findShape = (demand: TaskDemand, index: number): Shape => {
    const resourcesKey = typeof demand.resources === 'string' ? `s${demand.resources}` : `j${JSON.stringify(demand.resources)}`;
    const executorKey = demand.executor === undefined ? '' : JSON.stringify(demand.executor.resources);
    const constraintsKey = demand.constraints === undefined ? '' : JSON.stringify(demand.constraints);
    const groupName = demand.group ?? demand.name;
    const portsKey = `${demand.ports ?? 0}/${String(demand.requirePorts ?? '')}`;
    const key = `${resourcesKey}\u0000${executorKey}\u0000${portsKey}\u0000${constraintsKey}\u0000${groupName}`;
    const known = shapes.get(key);
    if (known !== undefined) return known;

    checkPorts(index, demand);
    const dynamicPorts = demand.ports ?? 0;
    const requiredPorts = demand.requirePorts ?? [];

    const reqKey = `${resourcesKey}\u0000${executorKey}`;
    let req = requirements.get(reqKey);
    if (req === undefined) {
      const own = readResources(index, demand, demand.resources, 'resources');
      const executor = demand.executor === undefined ? [] : readResources(index, demand, demand.executor.resources, 'executor.resources');
      const needs = needsOf(executor.length === 0 ? own : normalize([...own, ...executor]));
      const explicitRanges = new Map<string, ValueRange[]>();
      for (const need of needs) if (need.kind === 'RANGES') explicitRanges.set(need.key, need.ranges);
      req = { taskResources: own, needs, explicitRanges, portSlots: new Map() };
      requirements.set(reqKey, req);
    }
    if (req.taskResources.length === 0 && dynamicPorts + requiredPorts.length === 0) {
      throw invalid(index, demand, 'resources', 'a task needs resources');
    }

    let constraints = compiled.get(constraintsKey);
    if (constraints === undefined) {
      constraints = compileConstraints(demand.constraints, {
        prefix: `demand ${index} (task ${JSON.stringify(demand.taskId)}): `,
        details: { demand: index, taskId: demand.taskId },
      });
      compiled.set(constraintsKey, constraints);
    }

    const statics = constraints.filter((c) => c.isStatic);
    const staticKey = JSON.stringify(statics.map((c) => [c.field, c.operator, c.value]));
    let candidates = candidateLists.get(staticKey);
    if (candidates === undefined) {
      candidates = statics.length === 0 ? bins : bins.filter((bin) => statics.every((c) => matchesStatic(c, constraintFieldValue(bin.offer, c.field))));
      candidateLists.set(staticKey, candidates);
    }
    const spreads = constraints.filter((c) => c.operator === 'GROUP_BY');
    const shape: Shape = {
      req,
      requiredPorts,
      totalPorts: dynamicPorts + requiredPorts.length,
      constraints,
      monotone: constraints.filter((c) => !c.isStatic && c.operator !== 'GROUP_BY'),
      extraSpread: spreads.slice(1),
      spread: spreads[0],
      group: groupOf(groupName),
      candidates,
      leaps: candidates === bins ? req.needs.filter((n) => n.kind === 'SCALAR').map((n) => ({ tree: scalars.tree(n.key), milli: n.milli })) : [],
      cursor: 0,
      spreadScan: undefined,
      failure: undefined,
    };
    for (const c of constraints) if (!c.isStatic) fieldCounts(shape.group, c.field);
    shapes.set(key, shape);
    return shape;
  };

  const launched: TaskInfo[] = [];
  const ports: Record<string, number[]> = {};
  const offerByTask: Record<string, string> = {};
  const unplaced: UnplacedDemand[] = [];
  const taskIds = new Set<string>();
  let placements = 0;

  demands.forEach((demand, index) => {
    if (typeof demand.taskId !== 'string' || demand.taskId === '') throw invalid(index, demand, 'taskId', 'must be a non-empty string');
    if (taskIds.has(demand.taskId)) throw invalid(index, demand, 'taskId', 'is used by an earlier demand');
    taskIds.add(demand.taskId);
    const shape = shapeOf(demand, index);

    // A failed search stays failed until something is placed (for shapes without GROUP_BY, for good).
    let bin: Bin | 'uneven' | undefined;
    if (shape.failure !== undefined && (shape.spread === undefined || shape.failure.at === placements)) bin = undefined;
    else bin = shape.spread === undefined ? searchPlain(shape, rr) : searchSpread(shape, shape.spread);

    if (bin === undefined || bin === 'uneven') {
      // Without GROUP_BY the first diagnosis stays true (offers only fill up), so it is kept.
      if (shape.failure === undefined || (shape.spread !== undefined && shape.failure.at !== placements)) {
        shape.failure = { reasons: diagnose(shape, bins, scalars), at: placements };
      }
      unplaced.push({ demand, reasons: shape.failure.reasons.slice() });
      return;
    }

    const got = take(shape, bin);
    scalars.update(bin, shape.req.needs);
    const task: TaskInfo = {
      taskId: demand.taskId,
      name: demand.name,
      agentId: bin.offer.agentId,
      resources: taskResources(shape.req, got),
    };
    if (demand.command !== undefined) task.command = withEnvironment(demand.command, demand.env, got.ports);
    if (demand.executor !== undefined) task.executor = demand.executor;
    if (demand.healthCheck !== undefined) task.healthCheck = demand.healthCheck;
    if (demand.killPolicy !== undefined) task.killPolicy = demand.killPolicy;
    if (demand.labels !== undefined) task.labels = demand.labels;
    if (demand.maxCompletionTimeMs !== undefined) task.maxCompletionTimeMs = demand.maxCompletionTimeMs;
    if (demand.startAtMs !== undefined) task.startAtMs = demand.startAtMs;
    if (demand.data !== undefined) task.data = demand.data;

    recordPlacement(shape.group, bin.offer);
    placements++;
    bin.agent.tasks.push(task);
    launched.push(task);
    ports[demand.taskId] = got.ports;
    offerByTask[demand.taskId] = bin.offer.id;
  });

  const accepts: OfferAccept[] = [];
  const declineOfferIds: string[] = [];
  for (const agent of agents.values()) {
    if (agent.tasks.length > 0) accepts.push({ offerIds: agent.offerIds, operations: [{ type: 'LAUNCH', tasks: agent.tasks }] });
    else declineOfferIds.push(...agent.offerIds);
  }
  return { accepts, launched, ports, offerByTask, unplaced, declineOfferIds };
}
