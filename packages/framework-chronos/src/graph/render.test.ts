import { describe, expect, it } from 'vitest';
import { JobGraph } from './dag.js';
import { layoutGraph, type NodeStatusOf, renderCsv, renderDot, renderSvg } from './render.js';

function graph(): JobGraph {
  const g = new JobGraph();
  g.addJob('extract');
  g.addJob('clean', ['extract']);
  g.addJob('enrich', ['extract']);
  g.addJob('load <prod> & "x"', ['clean', 'enrich']);
  return g;
}

const status: NodeStatusOf = (name) =>
  name === 'extract' ? { lastStatus: 'success', state: 'idle' } : name === 'clean' ? { lastStatus: 'failure', state: 'running' } : { lastStatus: 'fresh' };

/** A small well-formedness check: every tag closes in order, attributes are quoted. */
function assertWellFormed(xmlText: string): void {
  const body = xmlText.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, close, name, , selfClose] = m;
    if (selfClose) continue;
    if (close) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
  const withoutTags = body.replace(/<[^>]*>/g, '');
  expect(withoutTags).not.toMatch(/[<>]|&(?!(amp|lt|gt|quot|apos);)/);
}

describe('graph rendering', () => {
  it("writes Chronos' CSV", () => {
    expect(renderCsv(graph(), status)).toBe(
      [
        'node,extract,success,idle',
        'node,clean,failure,running',
        'node,enrich,fresh,idle',
        'node,load <prod> & "x",fresh,idle',
        'link,extract,clean',
        'link,extract,enrich',
        'link,clean,load <prod> & "x"',
        'link,enrich,load <prod> & "x"',
        '',
      ].join('\n'),
    );
    expect(renderCsv(new JobGraph())).toBe('');
  });

  it("writes Chronos' DOT with nodes coloured by last status", () => {
    const dot = renderDot(graph(), status);
    expect(dot.startsWith('digraph G {\n')).toBe(true);
    expect(dot).toContain('  1 [ label="extract" style="filled" fillcolor="#c8e6c9"');
    expect(dot).toContain('  2 [ label="clean" style="filled,bold" fillcolor="#ffcdd2"');
    expect(dot).toContain('label="load <prod> & \\"x\\""');
    expect(dot).toContain('  1 -> 2;\n  1 -> 3;\n  2 -> 4;\n  3 -> 4;\n}\n');
  });

  it('lays out rows by depth without overlaps', () => {
    const layout = layoutGraph(graph());
    const boxes = [...layout.nodes.values()];
    expect(boxes.map((b) => b.depth)).toEqual([0, 1, 1, 2]);
    for (const a of boxes) {
      expect(a.x).toBeGreaterThanOrEqual(0);
      expect(a.x + a.width).toBeLessThanOrEqual(layout.width);
      expect(a.y + a.height).toBeLessThanOrEqual(layout.height);
      for (const b of boxes) {
        if (a === b || a.depth !== b.depth) continue;
        expect(a.x + a.width <= b.x || b.x + b.width <= a.x).toBe(true);
      }
    }
    const y = (n: string) => layout.nodes.get(n)!.y;
    expect(y('extract')).toBeLessThan(y('clean'));
    expect(y('clean')).toBeLessThan(y('load <prod> & "x"'));
  });

  it('orders a row by the position of its parents', () => {
    const g = new JobGraph();
    g.addJob('a');
    g.addJob('b');
    g.addJob('child-of-b', ['b']);
    g.addJob('child-of-a', ['a']);
    const layout = layoutGraph(g);
    expect(layout.nodes.get('child-of-a')!.x).toBeLessThan(layout.nodes.get('child-of-b')!.x);
  });

  it('draws a standalone, well-formed SVG', () => {
    const svg = renderSvg(graph(), status);
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    assertWellFormed(svg);
    expect(svg.match(/<rect /g)).toHaveLength(4);
    expect(svg.match(/class="edge"/g)).toHaveLength(4);
    expect(svg).toContain('load &lt;prod&gt; &amp; &quot;x&quot;');
    expect(svg).toContain('class="node failure running"');
    assertWellFormed(renderSvg(new JobGraph()));
  });
});
