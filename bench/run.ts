/**
 * `npm run bench -- <scenario> [flags]`: runs one benchmark scenario. Progress goes to stderr; the
 * last line on stdout is one JSON object with `scenario`, `machine` and the scenario's figures, and
 * the process exits once it is printed.
 */
import { machine } from './machine.js';

/** A scenario: takes its flags, returns its named figures. */
export type Scenario = (flags: Record<string, string | boolean | undefined>) => Promise<Record<string, unknown>>;

const scenarios: Record<string, () => Promise<{ run: Scenario }>> = {
  codec: () => import('./codec.js'),
  allocator: () => import('./allocator.js'),
  launch: () => import('./launch.js'),
  failover: () => import('./failover.js'),
  batch: () => import('./batch.js'),
  marathon: () => import('./marathon.js'),
  chronos: () => import('../packages/framework-chronos/bench/chronos-bench.js'),
};

const [name, ...rest] = process.argv.slice(2);
if (!name || !(name in scenarios)) {
  console.error(`usage: npm run bench -- <scenario> [flags]\nscenarios: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
// `--name value` pairs, `--name=value`, and bare `--name` (true).
const values: Record<string, string | boolean> = {};
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i]!;
  if (!arg.startsWith('--')) {
    console.error(`unexpected argument ${arg}`);
    process.exit(2);
  }
  const [key, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
  const next = rest[i + 1];
  if (inline !== undefined) values[key] = inline;
  else if (next !== undefined && !next.startsWith('--')) values[key] = rest[++i]!;
  else values[key] = true;
}
const { run } = await scenarios[name]!();
const figures = await run(values);
console.log(JSON.stringify({ scenario: name, machine: machine(), ...figures }));
// A scenario has stopped what it started; a client library's idle handle must not keep the run open.
process.exit(0);
