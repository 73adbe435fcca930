/**
 * custom-executor framework: launches N tasks on `demo-executor` (executor.ts), which the agent
 * starts once and reuses; each task's `data` is the shell command the executor runs. Waits for
 * every task to end, shuts the executor down, then tears the framework down.
 *
 *   npx tsx examples/custom-executor/framework.ts [--tasks 3] [--command 'echo hi'] [--nats URL]
 *
 * It finds the cluster from --nats, then STOA_NATS_URL, then .stoa/cluster.json (stoa dev).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { add, contains, discoverCluster, type ExecutorInfo, isTerminalState, parseResources, SchedulerClient, subtract, type TaskInfo } from '@stoa/sdk';

const { values } = parseArgs({
  options: { tasks: { type: 'string', default: '3' }, command: { type: 'string', default: 'echo "$STOA_TASK_ID ran on $HOST"' }, nats: { type: 'string' } },
});
const total = Number(values.tasks);
const { natsUrl } = discoverCluster(values.nats ? { nats: values.nats } : {});

// The agent runs the executor in its sandbox, so tsx and the tsconfig (for `@stoa/sdk`) are given by absolute path.
const executorPath = fileURLToPath(new URL('./executor.ts', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');
const { TSX_TSCONFIG_PATH } = process.env;
const tsconfig = TSX_TSCONFIG_PATH ?? fileURLToPath(new URL('../../tsconfig.json', import.meta.url));
const executor: ExecutorInfo = {
  executorId: 'demo-executor',
  name: 'demo executor',
  // Its container is limited by these alone, and its tasks run inside it.
  resources: parseResources('cpus:1;mem:512'),
  command: { value: `exec node --import ${tsx} ${executorPath}`, environment: { TSX_TSCONFIG_PATH: tsconfig } },
};
const perTask = parseResources('cpus:0.1;mem:32');

await using client = await SchedulerClient.connect({ servers: natsUrl, framework: { name: 'custom-executor', principal: 'demo' } });
console.log(`subscribed as ${client.frameworkId}; launching ${total} task(s) on ${executor.executorId}`);

let launched = 0;
const agents = new Set<string>();
const ended = new Map<string, string>();
for await (const event of client.events()) {
  if (event.type === 'OFFERS') {
    for (const offer of event.offers) {
      const tasks: TaskInfo[] = [];
      // The first launch on an agent also needs room for the executor.
      let left = contains(offer.resources, add(perTask, executor.resources)) ? subtract(offer.resources, executor.resources) : [];
      while (launched < total && contains(left, perTask)) {
        const taskId = `demo-${++launched}`;
        tasks.push({ taskId, name: 'demo', agentId: offer.agentId, resources: perTask, executor, data: new TextEncoder().encode(values.command) });
        left = subtract(left, perTask);
      }
      if (tasks.length > 0) {
        agents.add(offer.agentId);
        await client.accept(offer.id, [{ type: 'LAUNCH', tasks }]);
      }
      else await client.decline(offer.id, { refuseMs: 60_000 });
    }
    if (launched === total) await client.suppress();
  } else if (event.type === 'UPDATE') {
    for (const status of event.statuses) {
      console.log(`${status.taskId} ${status.state}${status.message ? ` (${status.message})` : ''}`);
      if (isTerminalState(status.state)) ended.set(status.taskId, status.state);
    }
    if (ended.size === total) break;
  } else if (event.type === 'FAILURE') {
    console.log(`executor ${event.executorId} on ${event.agentId} exited${event.status !== undefined ? ` with status ${event.status}` : ''}`);
  }
}

const failed = [...ended.values()].filter((state) => state !== 'TASK_FINISHED').length;
console.log(`done: ${total - failed} finished, ${failed} failed`);
// Executors outlive their tasks until shut down: say goodbye to each one, then leave.
for (const agentId of agents) await client.shutdown(agentId, executor.executorId);
await client.teardown();
process.exitCode = failed === 0 ? 0 : 1;
