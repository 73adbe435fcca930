/**
 * `allocator`: the master's allocator alone, on a simulated cluster (default 10,000 agents of
 * cpus 8, mem 32 GiB, disk and ports 31000-32000; 1,000 frameworks in 100 roles). Figures:
 * `cycleMs`, the first full cycle over every agent (median of fresh runs), and
 * `incrementalCycleMs`, a cycle after about 1% of the agents' resources were recovered (median).
 *
 * Each timed cycle starts after a full garbage collection.
 *
 * Flags: `--agents N`, `--frameworks N`, `--roles N`, `--runs N` (fresh full cycles, default 5),
 * `--recover F` (fraction of agents recovered per incremental cycle, default 0.01), `--warmups N`
 * (untimed full cycles first, default 3).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseResources, type Resource } from '@stoa/core';
import { type Allocation, Allocator } from '../packages/master/src/allocator/index.js';

/**
 * A full collection before each timed cycle, so the garbage of building the cluster is not
 * charged to the cycle (`--expose-gc` set at run time; the runner's command line stays as is).
 */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (() => void) | undefined;
  gc?.();
}

function num(flag: string | boolean | undefined, fallback: number): number {
  const n = typeof flag === 'string' ? Number(flag) : Number.NaN;
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const round = (x: number) => Math.round(x * 100) / 100;

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

interface Cluster {
  allocator: Allocator;
  agentIds: string[];
  /** Rack and zone per agent: what the master puts in offers for placement; the allocator never reads them. */
  attributes: Map<string, { rack: string; zone: string }>;
}

function build(agents: number, frameworks: number, roles: number): Cluster {
  const allocator = new Allocator();
  const total: Resource[] = parseResources('cpus:8;mem:32768;disk:102400;ports:[31000-32000]');
  const agentIds: string[] = [];
  const attributes = new Map<string, { rack: string; zone: string }>();
  for (let i = 0; i < agents; i++) {
    const id = `agent-${i}`;
    agentIds.push(id);
    attributes.set(id, { rack: `r${Math.floor(i / 40)}`, zone: `z${i % 3}` });
    allocator.addAgent(id, total);
  }
  for (let i = 0; i < frameworks; i++) allocator.addFramework(`fw-${i}`, { roles: [`role-${i % roles}`], gpuAware: false });
  return { allocator, agentIds, attributes };
}

/** Runs the allocator scenario. */
export async function run(flags: Record<string, string | boolean | undefined>): Promise<Record<string, unknown>> {
  const agents = num(flags.agents, 10_000);
  const frameworks = num(flags.frameworks, 1000);
  const roles = num(flags.roles, 100);
  const runs = num(flags.runs, 5);
  const recoverFraction = num(flags.recover, 0.01);

  // Warm the JIT first (untimed runs at full size), so the timed runs measure optimized code.
  const warmups = num(flags.warmups, 3);
  for (let i = 0; i < warmups; i++) build(agents, frameworks, roles).allocator.runCycle(0);
  console.error(`allocator: ${warmups} warm-up cycles done`);

  const full: number[] = [];
  let offers = 0;
  let cluster: Cluster | undefined;
  let first: Allocation[] = [];
  for (let r = 0; r < runs; r++) {
    cluster = build(agents, frameworks, roles);
    collectGarbage();
    const start = process.hrtime.bigint();
    first = cluster.allocator.runCycle(0);
    const t = ms(start);
    full.push(t);
    offers = first.length;
    console.error(`allocator: full cycle ${r + 1}/${runs}: ${round(t)} ms, ${offers} offers`);
  }

  // Incremental: recover ~1% of the agents (offers declined without a filter, tasks ended), then a cycle.
  const { allocator, agentIds } = cluster!;
  const held = new Map<string, Allocation>();
  for (const a of first) held.set(a.agentId, a);
  const perCycle = Math.max(1, Math.round(agents * recoverFraction));
  const incremental: number[] = [];
  let reoffered = 0;
  collectGarbage();
  let cursor = 0;
  for (let r = 0; r < Math.max(runs * 4, 10); r++) {
    for (let k = 0; k < perCycle; k++) {
      const a = held.get(agentIds[(cursor++ * 7919) % agents]!);
      if (a) allocator.recover(a.frameworkId, a.agentId, a.resources, { nowMs: r + 1 });
    }
    const start = process.hrtime.bigint();
    const made = allocator.runCycle(r + 1);
    incremental.push(ms(start));
    reoffered += made.length;
    for (const a of made) held.set(a.agentId, a);
  }
  const idleStart = process.hrtime.bigint();
  allocator.runCycle(10_000);
  const idleCycleMs = ms(idleStart);
  console.error(`allocator: incremental cycles after recovering ${perCycle} agents: median ${round(median(incremental))} ms`);

  return {
    agents,
    frameworks,
    roles,
    cycleMs: round(median(full)),
    cycleMsRuns: full.map(round),
    offers,
    incrementalCycleMs: round(median(incremental)),
    recoveredAgentsPerCycle: perCycle,
    reofferedPerCycle: Math.round(reoffered / incremental.length),
    idleCycleMs: round(idleCycleMs),
  };
}
