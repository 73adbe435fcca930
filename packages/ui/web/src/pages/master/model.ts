/**
 * The master's REST API as the dashboard reads it: the shapes of `/api/v1/*` (mirroring the
 * operator schemas of `@stoa/core`, only the fields the page uses) and the resource arithmetic the
 * views share.
 */

/** A closed range of integers (ports). */
export interface ValueRange {
  begin: number;
  end: number;
}

/** One resource of an agent, a task or an offer. */
export interface Resource {
  name: string;
  type: 'SCALAR' | 'RANGES' | 'SET';
  scalar?: number;
  ranges?: ValueRange[];
  set?: string[];
  role?: string;
}

/** What `GET /api/v1/master` answers: the leader's identity, or who leads when this master does not. */
export interface MasterInfo {
  masterId?: string;
  epoch?: number;
  leader: boolean;
  hostname?: string;
  httpUrl?: string;
  startedMs?: number;
  version?: string;
  /** On a standby master: the leader's id and dashboard. */
  leaderId?: string;
  leaderUrl?: string;
}

/** The states an agent goes through. */
export type AgentState = 'ACTIVE' | 'DEACTIVATED' | 'DRAINING' | 'DRAINED' | 'UNREACHABLE' | 'GONE';

/** An agent as the master sees it. */
export interface AgentSummary {
  id: string;
  hostname: string;
  state: AgentState;
  resources: Resource[];
  used: Resource[];
  offered: Resource[];
  attributes: Record<string, string>;
  domain?: { region?: string; zone?: string; rack?: string };
  info?: {
    containerizers?: string[];
    isolation?: { kind: string; memory: boolean; cpu: boolean; note?: string };
    version?: string;
  };
  registeredMs: number;
  taskCount: number;
}

/** A framework as the master sees it. */
export interface FrameworkSummary {
  id: string;
  info: { name: string; principal: string; roles?: string[]; webuiUrl?: string; hostname?: string; capabilities?: string[] };
  state: 'CONNECTED' | 'DISCONNECTED' | 'INACTIVE' | 'COMPLETED';
  registeredMs: number;
  failoverDeadlineMs?: number;
  used: Resource[];
  offered: Resource[];
  share: number;
  taskCount: number;
  suppressedRoles: string[];
}

/** A task's latest status. */
export interface TaskStatus {
  taskId: string;
  state: string;
  source: string;
  reason?: string;
  message?: string;
  timestampMs: number;
  healthy?: boolean;
  exitCode?: number;
  signal?: string;
}

/** A task as the master sees it. */
export interface TaskSummary {
  taskId: string;
  frameworkId: string;
  agentId: string;
  name: string;
  state: string;
  resources: Resource[];
  status?: TaskStatus;
  startedMs?: number;
}

/** Scalar quantities by resource name. */
export type Quantities = Record<string, number>;

/** A role with its weight, quota and what its frameworks hold. */
export interface RoleSummary {
  role: string;
  weight: number;
  quota?: { role: string; guarantee?: Quantities; limit?: Quantities };
  allocated: Quantities;
  frameworkIds: string[];
}

/** What `GET /api/v1/state` answers. */
export interface ClusterState {
  master: MasterInfo;
  agents: AgentSummary[];
  frameworks: FrameworkSummary[];
  roles: RoleSummary[];
  taskCounts: Record<string, number>;
}

/** What `GET /api/v1/tasks` answers: one page and how many match. */
export interface TaskPage {
  tasks: TaskSummary[];
  total: number;
}

/** One entry of a sandbox listing (`GET /api/v1/tasks/:id/files[/dir]`). */
export interface SandboxEntry {
  name: string;
  size: number;
  mtimeMs: number;
  dir: boolean;
}

/** A slice of a sandbox file (`GET /api/v1/tasks/:id/files/:path?offset&length`). */
export interface FileSlice {
  data: string;
  offset: number;
  /** The file's size. */
  size: number;
  /** Bytes the slice covers (absent from older masters: then the UTF-8 length of `data`). */
  length?: number;
}

/** Every task state, in lifecycle order, for the state filter (kept equal to the protocol's by packages/ui/test/wire-copies.test.ts). */
export const TASK_STATES = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_UNREACHABLE',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
] as const;

/** The resources the agents view always shows a bar for, in this order. */
export const MAIN_RESOURCES = ['cpus', 'mem', 'disk', 'gpus'] as const;

/** How many integers a set of ranges holds. */
export function rangeCount(ranges: readonly ValueRange[] | undefined): number {
  let n = 0;
  for (const r of ranges ?? []) n += r.end - r.begin + 1;
  return n;
}

/**
 * The amount of resource `name` in `resources`, over every role: the scalar sum, the number of
 * values of ranges (ports), or the size of a set.
 */
export function amount(resources: readonly Resource[], name: string): number {
  let n = 0;
  for (const r of resources) {
    if (r.name !== name) continue;
    if (r.type === 'SCALAR') n += r.scalar ?? 0;
    else if (r.type === 'RANGES') n += rangeCount(r.ranges);
    else n += r.set?.length ?? 0;
  }
  return n;
}

/** The names of resources in any of `lists`, the main ones first, then the rest sorted. */
export function resourceNames(...lists: readonly (readonly Resource[])[]): string[] {
  const names = new Set<string>();
  for (const list of lists) for (const r of list) names.add(r.name);
  const main = MAIN_RESOURCES.filter((n) => names.has(n));
  const rest = [...names].filter((n) => !(MAIN_RESOURCES as readonly string[]).includes(n)).sort();
  return [...main, ...rest];
}

/** The unit a resource's figures are shown in. */
export function unitOf(name: string): string {
  return name === 'mem' || name === 'disk' ? ' MB' : '';
}

/** Megabytes shown as MB, GB or TB. */
export function megabytes(mb: number): string {
  if (mb >= 1024 * 1024) return `${round(mb / (1024 * 1024))} TB`;
  if (mb >= 1024) return `${round(mb / 1024)} GB`;
  return `${round(mb)} MB`;
}

/** Bytes shown as B, KB, MB or GB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${round(n / 1024)} KB`;
  if (n < 1024 ** 3) return `${round(n / 1024 ** 2)} MB`;
  return `${round(n / 1024 ** 3)} GB`;
}

function round(n: number): string {
  return (n >= 100 ? Math.round(n) : Math.round(n * 10) / 10).toLocaleString('en-US');
}

/** A resource amount with its unit: `2.5` cpus, `1.5 GB` of mem, `1000` ports. */
export function showAmount(name: string, n: number): string {
  if (name === 'mem' || name === 'disk') return megabytes(n);
  return (Math.round(n * 100) / 100).toLocaleString('en-US');
}

/** Scalar quantities as `cpus 4 · mem 4 GB`. */
export function showQuantities(q: Quantities | undefined): string {
  if (!q) return '';
  return Object.entries(q)
    .map(([name, n]) => `${name} ${showAmount(name, n)}`)
    .join(' · ');
}

/** A resource list as `cpus 0.1 · mem 32 MB · ports 31000-31001`. */
export function showResources(resources: readonly Resource[]): string {
  const parts: string[] = [];
  for (const name of resourceNames(resources)) {
    const of = resources.filter((r) => r.name === name);
    if (of.every((r) => r.type === 'RANGES')) {
      parts.push(`${name} ${of.flatMap((r) => r.ranges ?? []).map((r) => (r.begin === r.end ? `${r.begin}` : `${r.begin}-${r.end}`)).join(',')}`);
    } else {
      parts.push(`${name} ${showAmount(name, amount(resources, name))}`);
    }
  }
  return parts.join(' · ');
}

/** A duration in ms as `3s`, `4m 10s`, `2h 5m`, `3d 4h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A task state without its `TASK_` prefix, for dense tables. */
export function shortState(state: string): string {
  return state.startsWith('TASK_') ? state.slice(5) : state;
}

/** The path of a task's API resource, with its id escaped. */
export function taskPath(taskId: string, rest = ''): string {
  return `/api/v1/tasks/${encodeURIComponent(taskId)}${rest}`;
}
