/**
 * demo-executor: a custom executor built on `ExecutorClient`. The agent starts it (with `STOA_*`
 * in its environment) the first time a task names it; it runs each task's `data` (utf8) as a
 * shell command in a child of its own, in the executor's sandbox, and reports TASK_RUNNING, then
 * TASK_FINISHED or TASK_FAILED by the exit status. KILL ends a task's child (TASK_KILLED);
 * SHUTDOWN ends them all, then the executor. `framework.ts` launches tasks on it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { ExecutorClient, type ExecutorStatusInput, type TaskInfo } from '@stoa/sdk';

const executor = await ExecutorClient.connect();
const { STOA_SANDBOX: sandbox } = process.env; // where the agent started this executor
const children = new Map<string, ChildProcess>();
const killed = new Set<string>();
const running = new Set<Promise<unknown>>();

/** Runs one task: RUNNING once its child started, then its end. Each update waits for the one before. */
function run(task: TaskInfo): void {
  const command = task.data ? Buffer.from(task.data).toString('utf8') : 'true';
  const child = spawn('sh', ['-c', command], {
    cwd: sandbox || undefined,
    env: { ...process.env, STOA_TASK_ID: task.taskId },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true, // its own process group, so a kill reaches what the shell started
  });
  children.set(task.taskId, child);
  const started = new Promise<void>((resolve) => child.once('spawn', resolve));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  const done = started
    .then(() => executor.update({ taskId: task.taskId, state: 'TASK_RUNNING' }))
    .then(() => exited)
    .then(([code, signal]) => {
      children.delete(task.taskId);
      const end: ExecutorStatusInput = killed.has(task.taskId)
        ? { taskId: task.taskId, state: 'TASK_KILLED', message: 'killed' }
        : code === 0
          ? { taskId: task.taskId, state: 'TASK_FINISHED', exitCode: 0, message: 'Command exited with status 0' }
          : { taskId: task.taskId, state: 'TASK_FAILED', message: signal ? `Command terminated with ${signal}` : `Command exited with status ${code}`, ...(code !== null ? { exitCode: code } : { signal: signal ?? 'unknown' }) };
      return executor.update(end);
    })
    .catch((error: unknown) => console.error(`task ${task.taskId}: ${(error as Error).message}`));
  running.add(done);
  void done.finally(() => running.delete(done));
  child.once('error', (error) => {
    children.delete(task.taskId);
    void executor.update({ taskId: task.taskId, state: 'TASK_FAILED', message: `cannot start: ${error.message}` });
  });
}

function kill(taskId: string, graceMs = 3000): void {
  const child = children.get(taskId);
  if (child?.pid === undefined) return;
  killed.add(taskId);
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  setTimeout(() => signal('SIGKILL'), graceMs).unref();
}

executor.on('LAUNCH', (event) => event.tasks.forEach(run));
executor.on('LAUNCH_GROUP', (event) => event.tasks.forEach(run));
executor.on('KILL', (event) => {
  if (children.has(event.taskId)) kill(event.taskId, event.killPolicy?.gracePeriodMs);
  else void executor.update({ taskId: event.taskId, state: 'TASK_LOST', message: 'this executor does not run the task' });
});
executor.on('MESSAGE', (event) => void executor.message(event.data).catch(() => {})); // echoes it to the scheduler
executor.on('ERROR', (event) => console.error(`agent error: ${event.message}`));

// SHUTDOWN (or the agent refusing this executor) ends it: kill the tasks, report them, leave.
const shutdown = new Promise<number | undefined>((resolve) => executor.on('SHUTDOWN', (event) => resolve(event.gracePeriodMs)));
const refused = executor.closed.then((error) => {
  if (error) console.error(`the agent ended this executor: ${error.message}`);
});
const grace = await Promise.race([shutdown, refused.then(() => undefined)]);
for (const taskId of children.keys()) kill(taskId, Math.max(0, (grace ?? 3000) - 1000));
await Promise.allSettled([...running]);
await executor.close();
process.exit(0);
