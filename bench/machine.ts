/** What machine a figure was measured on: printed inside every benchmark's JSON line. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/** The machine's description. */
export function machine(): Record<string, unknown> {
  let nats: string | undefined;
  try {
    nats = /v?(\d+\.\d+\.\d+)/.exec(execFileSync('nats-server', ['--version'], { encoding: 'utf8' }))?.[1];
  } catch {
    nats = undefined;
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim(),
    memGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    natsServer: nats ?? null,
  };
}
