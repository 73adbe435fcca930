/**
 * `npm run bench -- <scenario> [flags]`: runs one benchmark scenario. Progress goes to stderr; the
 * last line on stdout is one JSON object with `scenario`, `machine` and the scenario's figures.
 */
import { parseArgs } from 'node:util';
import { machine } from './machine.js';

/** A scenario: takes its flags, returns its named figures. */
export type Scenario = (flags: Record<string, string | boolean | undefined>) => Promise<Record<string, unknown>>;

const scenarios: Record<string, () => Promise<{ run: Scenario }>> = {
  codec: () => import('./codec.js'),
  allocator: () => import('./allocator.js'),
};

const [name, ...rest] = process.argv.slice(2);
if (!name || !(name in scenarios)) {
  console.error(`usage: npm run bench -- <scenario> [flags]\nscenarios: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
const { values } = parseArgs({ args: rest, strict: false });
const { run } = await scenarios[name]!();
const figures = await run(values);
console.log(JSON.stringify({ scenario: name, machine: machine(), ...figures }));
