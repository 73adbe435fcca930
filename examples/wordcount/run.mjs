#!/usr/bin/env node
/**
 * Submits the word count to a running `stoa dev` and prints the top words:
 *
 *   npm run dev            # in another terminal
 *   node examples/wordcount/run.mjs
 *
 * The batch API is found from STOA_BATCH_URL, else the `batch` endpoint in `.stoa/cluster.json`
 * (STOA_DATA names another data dir), else http://127.0.0.1:4500.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function batchUrl() {
  const env = process.env;
  if (env.STOA_BATCH_URL) return env.STOA_BATCH_URL.replace(/\/$/, '');
  const file = join(resolve(env.STOA_DATA ?? '.stoa'), 'cluster.json');
  if (existsSync(file)) {
    const cluster = JSON.parse(readFileSync(file, 'utf8'));
    if (cluster.http?.batch) return cluster.http.batch.replace(/\/$/, '');
  }
  return 'http://127.0.0.1:4500';
}

async function api(method, path, body) {
  const res = await fetch(`${base}${path}`, { method, ...(body ? { body } : {}) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.error?.message ?? ''}`);
  return json;
}

const base = batchUrl();
const files = readdirSync(join(here, 'input')).filter((f) => f.endsWith('.txt'));
// One map task per input file.
const spec = readFileSync(join(here, 'job.yaml'), 'utf8').replace(/count: \d+/, `count: ${files.length}`);
let job;
try {
  job = await api('POST', `/v1/jobs?baseDir=${encodeURIComponent(here)}`, spec);
} catch (error) {
  console.error(`cannot submit to ${base}: ${error.cause?.message ?? error.message}\nIs \`npm run dev\` running?`);
  process.exit(1);
}
console.log(`submitted ${job.jobId} to ${base}`);
while (job.state === 'RUNNING') {
  await new Promise((r) => setTimeout(r, 300));
  job = await api('GET', `/v1/jobs/${job.jobId}?tasks=false`);
  process.stdout.write(`\r${job.stages.map((s) => `${s.stage} ${s.done}/${s.total}`).join('  ')}   `);
}
process.stdout.write('\n');
if (job.state !== 'SUCCEEDED') {
  console.error(`${job.jobId} ${job.state}: ${job.message}`);
  process.exit(1);
}
const reduce = await api('GET', `/v1/jobs/${job.jobId}/tasks/reduce.0`);
const { words, distinct, top } = reduce.output.result;
console.log(`${words} words, ${distinct} distinct, in ${files.length} files. Top words:`);
for (const [word, n] of top) console.log(`  ${String(n).padStart(4)}  ${word}`);
