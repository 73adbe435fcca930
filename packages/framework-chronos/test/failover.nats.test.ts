/**
 * A Chronos leader that dies without a word (SIGKILL of its process, its lease left to expire)
 * over real NATS with a real master and agent: a follower in another process takes the lease and
 * carries on, and every fire time of a job due every two seconds runs exactly once — the run that
 * was running, the runs prepared and sent ahead by the dead leader, and the ones after.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatsKvStore, NatsTransport } from '@stoa/core/nats';
import { waitFor } from '@stoa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChronosCluster, SMALL, startChronosCluster, startIn } from './chronos-cluster.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let cluster: ChronosCluster;
let leader: ChildProcess | undefined;

beforeAll(async () => {
  cluster = await startChronosCluster();
});
afterAll(async () => {
  if (leader !== undefined && leader.exitCode === null && leader.signalCode === null) leader.kill('SIGKILL');
  await cluster?.cleanup();
  await cluster?.stop();
});

/** `stoa chronos` as a process of its own; resolves with its API's URL once it serves. */
async function startChronosProcess(bucket: string): Promise<{ proc: ChildProcess; url: string }> {
  const args = ['--import', 'tsx', 'packages/cli/src/bin.ts', 'chronos', '--nats', cluster.nats.url, '--bucket', bucket, '--http-port', '0', '--lease-ms', '1000', '--framework-name', 'chronos-test'];
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  leader = proc;
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"http":"(http:\/\/[^"]+)"[^\n]*chronos running/.exec(out);
      if (m) resolve(m[1]!);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`stoa chronos exited with ${code}: ${out.slice(-2000)}`)));
  });
  return { proc, url };
}

describe('chronos leader failover over NATS', () => {
  it('a follower takes over from a killed leader: every fire time runs once', async () => {
    const bucket = `chronos-failover-${process.pid}`;
    const { proc, url } = await startChronosProcess(bucket);
    await waitFor(async () => ((await (await fetch(`${url}/v1/leader`)).json()) as { leader: string | null }).leader === 'self', { timeoutMs: 10_000, what: 'the process leads' });
    const t = await NatsTransport.connect({ servers: cluster.nats.url, name: 'chronos-follower-store' });
    const store = await NatsKvStore.open(t.connection, { bucket });
    const follower = await cluster.chronos(store);
    expect(follower.isLeader).toBe(false);

    const out = join(cluster.dir, 'failover.txt');
    const job = { name: 'steady', command: `sleep 1; echo "$CHRONOS_JOB_RUN_TIME" >> ${out}`, schedule: `R6/${startIn(2000)}/PT2S`, concurrencyPolicy: 'ALLOW', ...SMALL };
    // Through the follower, which forwards it to the leader.
    expect((await cluster.api(follower, 'POST', '/iso8601', job)).status).toBe(204);
    await waitFor(() => existsSync(out), { timeoutMs: 15_000, what: 'a first run ended' });
    await waitFor(async () => (await cluster.runsOf(follower, 'steady')).some((r) => r.status === 'RUNNING'), { timeoutMs: 10_000, what: 'a run running' });

    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));
    await follower.waitLeading();

    await waitFor(async () => (await cluster.runsOf(follower, 'steady')).filter((r) => r.status === 'SUCCEEDED').length === 6, {
      timeoutMs: 30_000,
      what: 'six runs succeeded',
    }).catch(async (error: unknown) => {
      throw new Error(`runs: ${JSON.stringify(await cluster.runsOf(follower, 'steady'))}`, { cause: error });
    });
    const runs = await cluster.runsOf(follower, 'steady');
    expect(runs).toHaveLength(6);
    const due = runs.map((r) => r.scheduledAt!);
    for (let i = 1; i < due.length; i++) expect(due[i]! - due[i - 1]!).toBe(2000);
    for (const run of runs) expect(run.taskIds).toHaveLength(1);
    // Each fire time ran exactly once on the agent.
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines.sort()).toEqual(due.map((d) => new Date(d).toISOString()).sort());
    await store.close();
    await t.close();
  });
});
