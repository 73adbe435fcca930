/**
 * hello-framework: runs N `echo` tasks on a Stoa cluster and exits when all have finished.
 *
 *   npm run example:hello -- [--tasks 5] [--nats nats://127.0.0.1:4222]
 *
 * It finds the cluster from --nats, then STOA_NATS_URL, then .stoa/cluster.json (stoa dev).
 */
import { parseArgs } from 'node:util';
import { contains, discoverCluster, isTerminalState, parseResources, SchedulerClient, subtract, type TaskInfo } from '@stoa/sdk';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '5' }, nats: { type: 'string' } } });
const total = Number(values.tasks);
const { natsUrl } = discoverCluster(values.nats ? { nats: values.nats } : {});
const perTask = parseResources('cpus:0.1;mem:32');

await using client = await SchedulerClient.connect({ servers: natsUrl, framework: { name: 'hello', principal: 'hello' } });
console.log(`subscribed as ${client.frameworkId}; launching ${total} task(s)`);

let launched = 0;
const ended = new Map<string, string>();
for await (const event of client.events()) {
  if (event.type === 'OFFERS') {
    for (const offer of event.offers) {
      const tasks: TaskInfo[] = [];
      let left = offer.resources;
      while (launched < total && contains(left, perTask)) {
        const taskId = `hello-${++launched}`;
        tasks.push({ taskId, name: 'hello', agentId: offer.agentId, resources: perTask, command: { value: `echo "hello from ${taskId} on $HOST"` } });
        left = subtract(left, perTask);
      }
      if (tasks.length > 0) await client.accept(offer.id, [{ type: 'LAUNCH', tasks }]);
      else await client.decline(offer.id, { refuseMs: 60_000 });
    }
    if (launched === total) await client.suppress();
  } else if (event.type === 'UPDATE') {
    for (const status of event.statuses) {
      console.log(`${status.taskId} ${status.state}${status.message ? ` (${status.message})` : ''}`);
      if (isTerminalState(status.state)) ended.set(status.taskId, status.state);
    }
    if (ended.size === total) break;
  }
}

const failed = [...ended.values()].filter((state) => state !== 'TASK_FINISHED').length;
console.log(`done: ${total - failed} finished, ${failed} failed`);
await client.teardown();
process.exitCode = failed === 0 ? 0 : 1;
