/**
 * Lays the job dependency graph out left to right: a job's column is its depth (0 for a job
 * without parents, else one more than its deepest parent), so every edge points right. Jobs that
 * depend on each other are drawn as a group; within a group's column jobs are ordered by the mean
 * position of their neighbours (a few barycentre sweeps), which keeps most edges short and
 * uncrossed. Jobs with no dependencies at all come last, in a grid.
 */

/** A job as the layout needs it. */
export interface GraphJob {
  name: string;
  parents: readonly string[];
}

/** A placed job: its column, and its box in SVG units. */
export interface PlacedNode {
  name: string;
  layer: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A placed edge parent → child, as an SVG path from the parent's right side to the child's left. */
export interface PlacedEdge {
  from: string;
  to: string;
  path: string;
}

/** The whole drawing. */
export interface GraphPlacement {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

/** Sizes of the drawing. */
export interface GraphLayoutOptions {
  /** @default 44 */
  nodeHeight?: number;
  /** @default 16 */
  rowGap?: number;
  /** @default 80 */
  columnGap?: number;
  /** Around the drawing. @default 16 */
  margin?: number;
  /** Width of one character of a job's name. @default 7.4 */
  charWidth?: number;
  /** Wide enough for the status line under the name. @default 140 */
  minNodeWidth?: number;
  /** Longer names are cut with an ellipsis. @default 260 */
  maxNodeWidth?: number;
}

/** The width a job's box gets for its name. */
export function nodeWidthOf(name: string, options: GraphLayoutOptions = {}): number {
  const w = Math.ceil(name.length * (options.charWidth ?? 7.4)) + 28;
  return Math.min(options.maxNodeWidth ?? 260, Math.max(options.minNodeWidth ?? 140, w));
}

/** The depth of every job: 0 without (known) parents, else one more than the deepest parent. */
export function depthsOf(jobs: readonly GraphJob[]): Map<string, number> {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    // The API refuses cycles; should one arrive anyway, it is cut here rather than looping.
    if (visiting.has(name)) return 0;
    visiting.add(name);
    let d = 0;
    for (const p of byName.get(name)?.parents ?? []) if (byName.has(p)) d = Math.max(d, visit(p) + 1);
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const j of jobs) visit(j.name);
  return depth;
}

function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The weakly connected groups of jobs (a job with its ancestors and descendants, transitively). */
function componentsOf(names: readonly string[], parentsOf: ReadonlyMap<string, readonly string[]>): string[][] {
  const root = new Map(names.map((n) => [n, n]));
  const find = (n: string): string => {
    let r = n;
    while (root.get(r) !== r) r = root.get(r)!;
    root.set(n, r);
    return r;
  };
  for (const [child, parents] of parentsOf) for (const p of parents) root.set(find(child), find(p));
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const r = find(n);
    const g = groups.get(r) ?? [];
    g.push(n);
    groups.set(r, g);
  }
  return [...groups.values()];
}

/**
 * Places every job and edge. Jobs that depend on each other are drawn together, one group under
 * the other (the biggest first), in columns by depth shared by all groups; jobs with neither
 * parents nor children come last, in a grid.
 */
export function placeGraph(jobs: readonly GraphJob[], options: GraphLayoutOptions = {}): GraphPlacement {
  const nodeHeight = options.nodeHeight ?? 44;
  const rowGap = options.rowGap ?? 16;
  const columnGap = options.columnGap ?? 80;
  const groupGap = rowGap * 2;
  const margin = options.margin ?? 16;
  const names = jobs.map((j) => j.name).sort((a, b) => a.localeCompare(b));
  const known = new Set(names);
  const depth = depthsOf(jobs);
  const parentsOf = new Map(jobs.map((j) => [j.name, j.parents.filter((p) => known.has(p))]));
  const childrenOf = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const [child, parents] of parentsOf) for (const p of parents) childrenOf.get(p)?.push(child);

  const components = componentsOf(names, parentsOf);
  const groups = components.filter((c) => c.length > 1).sort((a, b) => b.length - a.length || a[0]!.localeCompare(b[0]!));
  const loners = components.filter((c) => c.length === 1).map((c) => c[0]!);

  // Columns by depth, shared by every group so they line up.
  const layerCount = groups.length === 0 ? 0 : Math.max(...groups.flat().map((n) => depth.get(n) ?? 0)) + 1;
  const columnWidth = Array.from({ length: layerCount }, () => 0);
  for (const n of groups.flat()) {
    const d = depth.get(n) ?? 0;
    columnWidth[d] = Math.max(columnWidth[d]!, nodeWidthOf(n, options));
  }
  const columnX: number[] = [];
  let x = margin;
  for (const w of columnWidth) {
    columnX.push(x);
    x += w + columnGap;
  }

  const nodes: PlacedNode[] = [];
  const placed = new Map<string, PlacedNode>();
  let top = margin;
  let right = margin;
  for (const group of groups) {
    const layers: string[][] = Array.from({ length: layerCount }, () => []);
    for (const n of group) layers[depth.get(n) ?? 0]!.push(n);
    // Position of a job within its column, as a fraction, so columns of different heights compare.
    const rank = new Map<string, number>();
    const rerank = (layer: readonly string[]) => {
      layer.forEach((n, i) => {
        rank.set(n, (i + 0.5) / layer.length);
      });
    };
    for (const layer of layers) rerank(layer);
    const sortBy = (layer: string[], neighbours: (n: string) => readonly string[]) => {
      const key = new Map(layer.map((n) => [n, mean(neighbours(n).map((m) => rank.get(m) ?? 0.5)) ?? rank.get(n) ?? 0.5]));
      layer.sort((a, b) => key.get(a)! - key.get(b)! || a.localeCompare(b));
      rerank(layer);
    };
    for (let sweep = 0; sweep < 3; sweep++) {
      for (let l = 1; l < layerCount; l++) sortBy(layers[l]!, (n) => parentsOf.get(n) ?? []);
      for (let l = layerCount - 2; l >= 0; l--) sortBy(layers[l]!, (n) => childrenOf.get(n) ?? []);
    }
    for (let l = 1; l < layerCount; l++) sortBy(layers[l]!, (n) => parentsOf.get(n) ?? []);

    const tallest = Math.max(...layers.map((layer) => layer.length));
    const height = tallest * nodeHeight + (tallest - 1) * rowGap;
    layers.forEach((layer, l) => {
      let y = top + (height - (layer.length * nodeHeight + (layer.length - 1) * rowGap)) / 2;
      for (const name of layer) {
        const node = { name, layer: l, x: columnX[l]!, y, width: columnWidth[l]!, height: nodeHeight };
        nodes.push(node);
        placed.set(name, node);
        right = Math.max(right, node.x + node.width);
        y += nodeHeight + rowGap;
      }
    });
    top += height + groupGap;
  }

  if (loners.length > 0) {
    const width = Math.max(...loners.map((n) => nodeWidthOf(n, options)));
    const perRow = Math.max(3, layerCount);
    loners.forEach((name, i) => {
      const node = {
        name,
        layer: 0,
        x: margin + (i % perRow) * (width + rowGap),
        y: top + Math.floor(i / perRow) * (nodeHeight + rowGap),
        width,
        height: nodeHeight,
      };
      nodes.push(node);
      placed.set(name, node);
      right = Math.max(right, node.x + node.width);
    });
    top += Math.ceil(loners.length / perRow) * (nodeHeight + rowGap) - rowGap + groupGap;
  }

  const edges: PlacedEdge[] = [];
  for (const [child, parents] of parentsOf) {
    const to = placed.get(child)!;
    for (const parent of parents) {
      const from = placed.get(parent)!;
      const x1 = from.x + from.width;
      const y1 = from.y + from.height / 2;
      const x2 = to.x;
      const y2 = to.y + to.height / 2;
      const bend = Math.max(30, (x2 - x1) / 2);
      edges.push({ from: parent, to: child, path: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}` });
    }
  }
  return { nodes, edges, width: jobs.length === 0 ? 0 : right + margin, height: jobs.length === 0 ? 0 : top - groupGap + margin };
}
