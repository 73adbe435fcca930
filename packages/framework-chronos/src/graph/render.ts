/**
 * The dependency graph as text for the REST API, in Chronos' formats, and as a picture:
 *
 * - {@link renderDot} — `GET /v1/scheduler/graph/dot`: Graphviz DOT as Chronos wrote it with
 *   jgrapht's `DOTExporter` (`digraph G {`, nodes numbered from 1 with a `label`, `1 -> 2;`
 *   edges), each node also filled with the colour of its last status.
 * - {@link renderCsv} — `GET /v1/scheduler/graph/csv`: Chronos' `Exporter` lines,
 *   `node,<name>,<lastStatus>,<state>` for each job and `link,<parent>,<child>` for each edge.
 * - {@link renderSvg} — a standalone SVG drawn by a small layered layout (no Graphviz binary):
 *   one row per depth, rows ordered by the barycentre of their parents to reduce crossings, a box
 *   per job coloured by last status, a curved arrow per edge.
 *
 * @example
 * ```ts
 * const status = (name: string) => ({ lastStatus: lastStatusOf(stats.get(name)!), state: 'idle' as const });
 * c.text(renderDot(graph, status));
 * ```
 * @module
 */

import type { LastStatus } from '../run/run.js';
import type { JobGraph } from './dag.js';

/** What a job is doing now, as Chronos reports it in the CSV. */
export type JobActivity = 'idle' | 'queued' | 'running';

/** How a job is shown. */
export interface NodeStatus {
  /** `success`, `failure` or `fresh` (never ran). */
  lastStatus: LastStatus;
  /** @default 'idle' */
  state?: JobActivity;
}

/** Looks up how each job is shown. */
export type NodeStatusOf = (name: string) => NodeStatus;

const FILL: Readonly<Record<LastStatus, string>> = { success: '#c8e6c9', failure: '#ffcdd2', fresh: '#eceff1' };
const STROKE: Readonly<Record<LastStatus, string>> = { success: '#2e7d32', failure: '#c62828', fresh: '#607d8b' };

const defaultStatus: NodeStatusOf = () => ({ lastStatus: 'fresh', state: 'idle' });

function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** The graph in Graphviz DOT, Chronos' `graph/dot` format with nodes filled by last status. */
export function renderDot(graph: JobGraph, statusOf: NodeStatusOf = defaultStatus): string {
  const ids = new Map<string, number>();
  const lines = ['digraph G {'];
  for (const name of graph.names()) {
    ids.set(name, ids.size + 1);
    const s = statusOf(name);
    const active = s.state !== undefined && s.state !== 'idle';
    lines.push(
      `  ${ids.get(name)} [ label=${dotString(name)} style="filled${active ? ',bold' : ''}" fillcolor="${FILL[s.lastStatus]}" color="${STROKE[s.lastStatus]}" ];`,
    );
  }
  for (const [parent, child] of graph.edges()) lines.push(`  ${ids.get(parent)} -> ${ids.get(child)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** The graph in Chronos' `graph/csv` format: `node,<name>,<lastStatus>,<state>` lines, then `link,<parent>,<child>` lines. */
export function renderCsv(graph: JobGraph, statusOf: NodeStatusOf = defaultStatus): string {
  const lines: string[] = [];
  for (const name of graph.names()) {
    const s = statusOf(name);
    lines.push(`node,${name},${s.lastStatus},${s.state ?? 'idle'}`);
  }
  for (const [parent, child] of graph.edges()) lines.push(`link,${parent},${child}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Sizes of the SVG drawing, in px. Every field is optional. */
export interface SvgLayoutOptions {
  /** Height of a box. @default 32 */
  boxHeight?: number;
  /** Gap between boxes in a row. @default 24 */
  columnGap?: number;
  /** Gap between rows. @default 64 */
  rowGap?: number;
  /** Margin around the drawing. @default 16 */
  margin?: number;
  /** Font size of the labels. @default 13 */
  fontSize?: number;
}

/** Where the layout put a job: the top-left corner and size of its box. */
export interface NodeBox {
  name: string;
  depth: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The result of {@link layoutGraph}. */
export interface GraphLayout {
  nodes: Map<string, NodeBox>;
  width: number;
  height: number;
}

/**
 * Lays the graph out in rows by depth (a job one row below its deepest parent), ordering each
 * row by the mean position of the job's parents (two sweeps), each row centred.
 */
export function layoutGraph(graph: JobGraph, options: SvgLayoutOptions = {}): GraphLayout {
  const boxHeight = options.boxHeight ?? 32;
  const columnGap = options.columnGap ?? 24;
  const rowGap = options.rowGap ?? 64;
  const margin = options.margin ?? 16;
  const fontSize = options.fontSize ?? 13;
  const depths = graph.depths();
  const rows: string[][] = [];
  for (const name of graph.names()) {
    const d = depths.get(name) ?? 0;
    const row = rows[d] ?? [];
    row.push(name);
    rows[d] = row;
  }
  const widthOf = (name: string): number => Math.max(64, Math.ceil(name.length * fontSize * 0.62) + 24);

  // Order rows by the barycentre of parents' positions in the rows above.
  const position = new Map<string, number>();
  const place = (row: string[]): void => {
    row.forEach((name, i) => {
      position.set(name, i);
    });
  };
  rows.forEach(place);
  for (let sweep = 0; sweep < 2; sweep++) {
    for (let r = 1; r < rows.length; r++) {
      const row = rows[r] ?? [];
      const key = new Map(
        row.map((n, i) => {
          const parents = graph.parentsOf(n);
          return [n, parents.length === 0 ? i : parents.reduce((sum, p) => sum + (position.get(p) ?? 0), 0) / parents.length];
        }),
      );
      row.sort((a, b) => key.get(a)! - key.get(b)! || (position.get(a) ?? 0) - (position.get(b) ?? 0));
      place(row);
    }
  }

  const rowWidths = rows.map((row) => (row ?? []).reduce((w, n) => w + widthOf(n), 0) + Math.max(0, (row ?? []).length - 1) * columnGap);
  const inner = Math.max(0, ...rowWidths);
  const nodes = new Map<string, NodeBox>();
  rows.forEach((row, r) => {
    let x = margin + (inner - rowWidths[r]!) / 2;
    const y = margin + r * (boxHeight + rowGap);
    for (const name of row ?? []) {
      const width = widthOf(name);
      nodes.set(name, { name, depth: r, x, y, width, height: boxHeight });
      x += width + columnGap;
    }
  });
  const height = rows.length === 0 ? 2 * margin : 2 * margin + rows.length * boxHeight + (rows.length - 1) * rowGap;
  return { nodes, width: Math.max(2 * margin, inner + 2 * margin), height };
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function n(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** The graph as a standalone SVG document, boxes coloured by last status (bold border while queued or running). */
export function renderSvg(graph: JobGraph, statusOf: NodeStatusOf = defaultStatus, options: SvgLayoutOptions = {}): string {
  const layout = layoutGraph(graph, options);
  const fontSize = options.fontSize ?? 13;
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(layout.width)}" height="${n(layout.height)}" viewBox="0 0 ${n(layout.width)} ${n(layout.height)}" font-family="sans-serif" font-size="${fontSize}">`,
    '<title>Chronos job dependencies</title>',
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#455a64"/></marker></defs>',
    '<g class="edges" fill="none" stroke="#455a64" stroke-width="1.4">',
  ];
  for (const [parent, child] of graph.edges()) {
    const a = layout.nodes.get(parent)!;
    const b = layout.nodes.get(child)!;
    const x1 = a.x + a.width / 2;
    const y1 = a.y + a.height;
    const x2 = b.x + b.width / 2;
    const y2 = b.y;
    const bend = (y2 - y1) / 2;
    out.push(
      `<path class="edge" data-parent="${xml(parent)}" data-child="${xml(child)}" d="M${n(x1)},${n(y1)} C${n(x1)},${n(y1 + bend)} ${n(x2)},${n(y2 - bend)} ${n(x2)},${n(y2)}" marker-end="url(#arrow)"/>`,
    );
  }
  out.push('</g>', '<g class="nodes">');
  for (const name of graph.names()) {
    const box = layout.nodes.get(name)!;
    const s = statusOf(name);
    const state = s.state ?? 'idle';
    out.push(
      `<g class="node ${s.lastStatus} ${state}" data-job="${xml(name)}">`,
      `<title>${xml(`${name}: ${s.lastStatus}, ${state}`)}</title>`,
      `<rect x="${n(box.x)}" y="${n(box.y)}" width="${n(box.width)}" height="${n(box.height)}" rx="6" fill="${FILL[s.lastStatus]}" stroke="${STROKE[s.lastStatus]}" stroke-width="${state === 'idle' ? 1.2 : 3}"/>`,
      `<text x="${n(box.x + box.width / 2)}" y="${n(box.y + box.height / 2)}" text-anchor="middle" dominant-baseline="central" fill="#212121">${xml(name)}</text>`,
      '</g>',
    );
  }
  out.push('</g>', '</svg>');
  return `${out.join('\n')}\n`;
}
