/**
 * The word count's tasks, run in-process by the batch executor (plain ESM JavaScript, so the
 * executor imports it as it is).
 *
 * - `map` counts the words of its share of the input folder: the files (sorted by name) whose
 *   position modulo `count` is its `index`, so `count` may be the number of files (one each) or less.
 * - `reduce` merges the map tasks' counts (its `inputs`) and returns the totals and the top words.
 *
 * Results ride in status updates (64 KiB each at most): fine for this small corpus; a big one
 * would write its counts to shared storage and return their path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The input files of a folder, sorted by name. */
export function inputFiles(dir) {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.txt'))
    .sort()
    .map((name) => join(dir, name));
}

/** The words of a text, lower-cased: letters and inner apostrophes. */
export function words(text) {
  return text.toLowerCase().match(/[a-z]+(?:'[a-z]+)*/g) ?? [];
}

/** Counts the words of this task's share of the input folder (`args.input`, relative to this file). */
export function map({ index, count, args }) {
  const dir = resolve(here, args?.input ?? 'input');
  const files = inputFiles(dir).filter((_, i) => i % count === index);
  const counts = {};
  let total = 0;
  for (const file of files) {
    for (const word of words(readFileSync(file, 'utf8'))) {
      counts[word] = (counts[word] ?? 0) + 1;
      total++;
    }
  }
  return { files: files.map((f) => f.slice(dir.length + 1)), words: total, counts };
}

/** Merges the map results; returns the totals, the `args.top` most frequent words, and every count. */
export function reduce({ inputs, args }) {
  const counts = {};
  let total = 0;
  for (const { result } of inputs) {
    total += result.words;
    for (const [word, n] of Object.entries(result.counts)) counts[word] = (counts[word] ?? 0) + n;
  }
  const top = Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, args?.top ?? 10);
  return { words: total, distinct: Object.keys(counts).length, top, counts };
}
