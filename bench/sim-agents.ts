/**
 * A process of simulated agents for the benchmarks: `tsx bench/sim-agents.ts --nats URL --count N
 * [--prefix sim-agent-]` (a prefix of its own for each process when there are several).
 * Prints `registered N` on stdout once every agent is registered; stops on SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startSimulatedAgents } from '@stoa/agent';
import { NatsTransport } from '@stoa/core/nats';

const { values } = parseArgs({ options: { nats: { type: 'string' }, count: { type: 'string' }, resources: { type: 'string' }, prefix: { type: 'string' } } });
const transport = await NatsTransport.connect({ servers: values.nats ?? 'nats://127.0.0.1:4222', name: 'bench-agents' });
const agents = await startSimulatedAgents({
  transport,
  count: Number(values.count ?? 1000),
  resources: values.resources ?? 'cpus:8;mem:32768;disk:100000;ports:[31000-32000]',
  attributes: (i) => ({ rack: `r${i % 40}`, zone: `z${i % 3}` }),
  concurrency: 500,
  ...(values.prefix ? { hostnamePrefix: values.prefix } : {}),
});
await agents.waitRegistered();
process.stdout.write(`registered ${agents.agents.length}\n`);
const stop = async () => {
  await agents.stop();
  await transport.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
