/**
 * The containerizer contract: how the agent starts, watches, kills and recovers the processes of
 * its tasks. Two implementations share one conformance suite: `process` (real processes, each
 * detached under a small wrapper that records its exit status in the sandbox, with cgroup limits
 * where the machine allows) and `simulated` (no process: for benchmarks with thousands of agents).
 *
 * @example
 * ```ts
 * const c = await ProcessContainerizer.create({ workDir });
 * await c.launch({ containerId: 't-1', command: { value: 'echo hi' }, sandboxDir, env: {}, resources });
 * const exit = await c.wait('t-1');   // { exitCode: 0 }
 * ```
 * @module
 */

import type { CommandInfo, Isolation, Resource, TaskUsage } from '@stoa/core';

/** What to start. */
export interface ContainerLaunch {
  /** Unique on this agent; the agent uses the task id (or executor id) plus a run counter. */
  containerId: string;
  /** What to run. `shell` (default true) runs `value` with `sh -c`; otherwise `value` is the program and `arguments` its argv. */
  command: CommandInfo;
  /** The task's sandbox: the working directory; stdout and stderr go to `stdout` and `stderr` in it. */
  sandboxDir: string;
  /** The full environment to add to a minimal base (PATH, HOME, LANG from the agent). */
  env: Record<string, string>;
  /** The task's resources: cpus and mem become cgroup limits where the machine allows. */
  resources: Resource[];
  /** The user to run as, when the agent runs as root. @default the agent's user */
  user?: string;
  /**
   * For the simulated containerizer: how the task behaves. Ignored by `process`.
   * Read from the task's labels by the agent (`stoa.sim.runForMs`, `stoa.sim.exitCode`).
   */
  simulation?: { runForMs?: number; exitCode?: number };
}

/** How a container ended. */
export interface ContainerExit {
  /** The exit code, when the process exited. */
  exitCode?: number;
  /** The signal that ended it (`SIGKILL`…), when one did. */
  signal?: string;
  /** True when the kernel's OOM killer ended it at its memory limit. */
  oomKilled?: boolean;
  /** True when the exit status could not be known (the wrapper itself was killed while the agent was away). */
  unknown?: boolean;
  /** A few words for the status message. */
  message?: string;
}

/** A container the agent knew of before it restarted, to re-attach to. */
export interface KnownContainer {
  containerId: string;
  sandboxDir: string;
}

/** What recovery found for one known container. */
export type RecoveredContainer =
  | { containerId: string; state: 'running'; pid?: number }
  | { containerId: string; state: 'exited'; exit: ContainerExit };

/** A containerizer. Every method is safe to call for an unknown id (it throws `NotFoundError` from `@stoa/core`). */
export interface Containerizer {
  /** `process` or `simulated`. */
  readonly kind: string;
  /** The isolation in force, reported in AgentInfo. */
  isolation(): Isolation;
  /**
   * Starts a container. Resolves once the process runs (TASK_STARTING → TASK_RUNNING for the agent);
   * rejects with a `StoaError` (`INVALID_OPERATION` for a bad command, `INTERNAL` otherwise) when it
   * cannot start, leaving nothing behind.
   */
  launch(launch: ContainerLaunch): Promise<{ pid?: number }>;
  /** Resolves when the container has ended, with how. Callable many times; after exit it resolves at once. */
  wait(containerId: string): Promise<ContainerExit>;
  /**
   * SIGTERM to the container's process group, SIGKILL after `gracePeriodMs` if it still runs.
   * Resolves when it has ended. Killing an ended container is a no-op.
   */
  kill(containerId: string, gracePeriodMs: number): Promise<void>;
  /** Current usage, or undefined when the container is not running. */
  usage(containerId: string): Promise<TaskUsage | undefined>;
  /**
   * After an agent restart: re-attaches to the containers still running (their `wait` works again)
   * and reports those that ended meanwhile with their recorded exit status.
   */
  recover(known: KnownContainer[]): Promise<RecoveredContainer[]>;
  /** Forgets an ended container (its cgroup is removed; its sandbox stays for the sandbox GC). */
  cleanup(containerId: string): Promise<void>;
  /** Stops watching everything. Running containers keep running (they are detached) unless `killAll`. */
  close(options?: { killAll?: boolean }): Promise<void>;
}
