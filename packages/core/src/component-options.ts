/**
 * Options of a runnable component (`stoa-master`, `stoa-agent`, `stoa master`…) from three
 * places, first found wins: the command line (`--work-dir X`), the environment (`STOA_WORK_DIR`),
 * then a JSON config file (`--config file.json`, keys as the flags: `{ "work-dir": "X" }`).
 * One spec drives parsing, validation (a typed error naming the flag) and `--help`.
 * Exported from `@stoa/core/internal`.
 *
 * @example
 * ```ts
 * const spec = { nats: { type: 'string', description: 'NATS URL', default: 'nats://127.0.0.1:4222' } } as const;
 * const opts = resolveComponentOptions(spec, argv, process.env, readConfig);
 * ```
 * @module
 */

import { parseArgs } from 'node:util';
import { ValidationError } from './errors.js';

/** One option of a component. */
export interface ComponentOption {
  type: 'string' | 'number' | 'boolean';
  description: string;
  /** The value when none is given. */
  default?: string | number | boolean;
  /** Allowed values of a string option. */
  choices?: readonly string[];
  /** The environment variable, when not `STOA_<FLAG>`. */
  env?: string;
}

/** A component's options by flag name (kebab-case, without `--`). */
export type ComponentSpec = Record<string, ComponentOption>;

/** The resolved values: numbers as numbers, booleans as booleans; absent when not given and no default. */
export type ComponentValues<S extends ComponentSpec> = {
  [K in keyof S]?: S[K]['type'] extends 'number' ? number : S[K]['type'] extends 'boolean' ? boolean : string;
};

/** The environment variable of a flag: `work-dir` → `STOA_WORK_DIR`. */
export function envName(flag: string): string {
  return `STOA_${flag.replace(/-/g, '_').toUpperCase()}`;
}

function convert(flag: string, option: ComponentOption, raw: unknown, from: string): string | number | boolean {
  if (option.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new ValidationError(`--${flag} (from ${from}) must be true or false, not ${JSON.stringify(raw)}`, { details: { field: flag } });
  }
  if (option.type === 'number') {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (typeof raw === 'boolean' || raw === '' || !Number.isFinite(n)) {
      throw new ValidationError(`--${flag} (from ${from}) must be a number, not ${JSON.stringify(raw)}`, { details: { field: flag } });
    }
    return n;
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    throw new ValidationError(`--${flag} (from ${from}) must be text, not ${JSON.stringify(raw)}`, { details: { field: flag } });
  }
  const text = String(raw);
  if (option.choices && !option.choices.includes(text)) {
    throw new ValidationError(`--${flag} (from ${from}) must be one of ${option.choices.join(', ')}, not ${JSON.stringify(text)}`, { details: { field: flag } });
  }
  return text;
}

/**
 * Resolves a component's options. `argv` may hold `--config FILE`; `readConfig` turns that path
 * into an object (the caller does the I/O). Unknown flags and unknown config keys are errors that
 * name them. Returns `help: true` when `--help` was given.
 */
export function resolveComponentOptions<S extends ComponentSpec>(
  spec: S,
  argv: string[],
  env: Record<string, string | undefined>,
  readConfig: (path: string) => unknown,
): { values: ComponentValues<S>; help: boolean } {
  const parseOptions: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' }, config: { type: 'string' } };
  for (const [flag, option] of Object.entries(spec)) parseOptions[flag] = { type: option.type === 'boolean' ? 'boolean' : 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: parseOptions, strict: true, allowPositionals: false });
  } catch (error) {
    const message = (error as Error).message;
    const flag = /'(--?[\w-]+)/.exec(message)?.[1];
    throw new ValidationError(message, { details: { field: flag?.replace(/^-+/, '') ?? 'argv' } });
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags.help) return { values: {}, help: true };
  const configPath = (flags.config as string | undefined) ?? env.STOA_CONFIG;
  let config: Record<string, unknown> = {};
  if (configPath) {
    const read = readConfig(configPath);
    if (typeof read !== 'object' || read === null || Array.isArray(read)) {
      throw new ValidationError(`${configPath} must hold a JSON object of options`, { details: { field: 'config' } });
    }
    config = read as Record<string, unknown>;
    for (const key of Object.keys(config)) {
      if (!(key in spec)) throw new ValidationError(`${configPath}: unknown option "${key}"`, { details: { field: key } });
    }
  }
  const values: Record<string, string | number | boolean> = {};
  for (const [flag, option] of Object.entries(spec)) {
    const fromFlag = flags[flag];
    const variable = option.env ?? envName(flag);
    const fromEnv = env[variable];
    if (fromFlag !== undefined) values[flag] = convert(flag, option, fromFlag, 'the command line');
    else if (fromEnv !== undefined && fromEnv !== '') values[flag] = convert(flag, option, fromEnv, variable);
    else if (config[flag] !== undefined) values[flag] = convert(flag, option, config[flag], configPath ?? 'config');
    else if (option.default !== undefined) values[flag] = option.default;
  }
  return { values: values as ComponentValues<S>, help: false };
}

/** The `--help` text: every option with its environment variable and default. */
export function componentUsage(command: string, summary: string, spec: ComponentSpec): string {
  const rows = Object.entries(spec).map(([flag, o]) => {
    const arg = o.type === 'boolean' ? '' : o.choices ? ` <${o.choices.join('|')}>` : ` <${o.type === 'number' ? 'n' : 'value'}>`;
    const left = `  --${flag}${arg}`;
    const extra = [`env ${o.env ?? envName(flag)}`, ...(o.default !== undefined ? [`default ${String(o.default)}`] : [])].join(', ');
    return `${left.padEnd(34)} ${o.description} (${extra})`;
  });
  return [
    `usage: ${command} [options]`,
    '',
    summary,
    '',
    'Options (from the command line, else the environment, else --config FILE, a JSON object keyed by option):',
    ...rows,
    `  --config <file>${' '.repeat(18)} a JSON file of options (env STOA_CONFIG)`,
    `  --help${' '.repeat(27)} this text`,
    '',
  ].join('\n');
}

/** Resolves with the first SIGINT or SIGTERM: how a component run from the command line waits to stop. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
