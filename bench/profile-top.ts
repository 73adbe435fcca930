/**
 * `tsx bench/profile-top.ts FILE.cpuprofile [N]`: the N (default 25) functions with the most self
 * time in a V8 CPU profile (as written by `node --cpu-prof`, e.g. `npm run bench -- launch
 * --profile DIR`), and the same summed by file — the quick look before opening it in DevTools.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, n = '25'] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/profile-top.ts FILE.cpuprofile [N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
const where = (id: number) => byId.get(id)!.callFrame.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '~/');
const keyOf = (id: number) => {
  const { functionName, lineNumber } = byId.get(id)!.callFrame;
  return `${functionName || '(anonymous)'} ${where(id) ? `${where(id)}:${lineNumber + 1}` : ''}`;
};
for (const [id, us] of selfUs) {
  byFunction.set(keyOf(id), (byFunction.get(keyOf(id)) ?? 0) + us);
  const fileKey = where(id) || byId.get(id)!.callFrame.functionName;
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
}
// Inclusive time of Stoa's own functions (packages/, bench/): each sample counted once per function on its stack.
const inclusive = new Map<string, number>();
const walk = (id: number, onStack: Set<string>) => {
  const node = byId.get(id)!;
  const key = keyOf(id);
  const ours = /\/(packages|bench)\//.test(where(id)) && !onStack.has(key);
  if (ours) onStack.add(key);
  const self = selfUs.get(id) ?? 0;
  if (self > 0) for (const k of onStack) inclusive.set(k, (inclusive.get(k) ?? 0) + self);
  for (const child of node.children ?? []) walk(child, onStack);
  if (ours) onStack.delete(key);
};
walk(profile.nodes[0]!.id, new Set());
const top = (m: Map<string, number>, count: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([k, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`)
    .join('\n');
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled\n\nby function (self):\n${top(byFunction, Number(n))}\n\nby file (self):\n${top(byFile, 15)}\n\nStoa functions (inclusive):\n${top(inclusive, Number(n))}`);
