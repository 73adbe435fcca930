/**
 * The process containerizer: each task is a real process tree, started detached under a small
 * `sh` wrapper (see `wrapper.ts`) that records its exit status in the sandbox, inside a cgroup
 * with the task's memory and CPU limits where the machine allows (see `cgroups.ts`). Because the
 * wrapper is neither tied to the agent by a pipe nor in its process group, tasks outlive the
 * agent; an agent restarted on the same work dir re-attaches with {@link ProcessContainerizer.recover}.
 *
 * Sandbox layout: `stdout` and `stderr` (appended), and `.stoa/` with `pid` (JSON: the wrapper's
 * pid, its start time and its cgroups) and `exit` (the task's shell status, written atomically).
 *
 * @example
 * ```ts
 * await using c = await ProcessContainerizer.create({ workDir: '/var/lib/stoa' });
 * await c.launch({ containerId: 'web-1.0', command: { value: 'exec node server.js' }, sandboxDir, env: { PORT: '8080' }, resources });
 * const exit = await c.wait('web-1.0');
 * ```
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chown, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { Readable } from 'node:stream';
import { join, resolve } from 'node:path';
import { CancelledError, InternalError, InvalidOperationError, type Isolation, NotFoundError, scalar, type TaskUsage, UnavailableError } from '@stoa/core';
import type { ContainerExit, ContainerLaunch, Containerizer, KnownContainer, RecoveredContainer } from '../containerizer.js';
import { agentKeyOf, CgroupHierarchy, type CgroupMode, type ContainerCgroups, cgroupPids, joinCgroups, killCgroup, removeCgroups, wasOomKilled } from './cgroups.js';
import { isProcessAlive, processGroupMembers, readProcStat, usageOf } from './proc-usage.js';
import { parseExitRecord, parsePidRecord, type TaskUser, taskArgv, WRAPPER_NAME, WRAPPER_SCRIPT, type WrapperTools } from './wrapper.js';

/** Options of {@link ProcessContainerizer.create}. */
export interface ProcessContainerizerOptions {
  /** The agent's work dir; it names the agent's group of cgroups, so it must stay the same across restarts. */
  workDir: string;
  /** Which cgroups to use: `auto` picks v2, then v1, then none; an explicit version the machine lacks is an error. @default 'auto' */
  cgroups?: CgroupMode;
  /** Where the cgroup filesystems are mounted. @default '/sys/fs/cgroup' */
  cgroupRoot?: string;
  /** How often a recovered container (not a child of this process) is checked for its end. @default 200 */
  pollIntervalMs?: number;
}

/** The lifecycle of a {@link ProcessContainerizer}. */
export type ProcessContainerizerState = 'open' | 'closed';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** One container this containerizer knows. */
interface Entry {
  containerId: string;
  sandboxDir: string;
  stoaDir: string;
  /** The wrapper: pid = process group = session. Absent for a recovered container with no record. */
  pid?: number;
  startTime?: number;
  cgroups?: ContainerCgroups;
  /** The wrapper as our child; absent for a recovered one (watched by polling). */
  child?: ChildProcess;
  /** The wrapper's own end, as Node saw it (children only). */
  wrapperSignal?: NodeJS.Signals | null;
  /** Set once the container has ended. */
  exit?: ContainerExit;
  done: Promise<ContainerExit>;
  resolveDone: (exit: ContainerExit) => void;
  rejectDone: (error: Error) => void;
  finishing: boolean;
  termSent: boolean;
  sigkillSent: boolean;
  hardKillAt?: number;
  hardKillTimer?: NodeJS.Timeout;
}

function newEntry(containerId: string, sandboxDir: string): Entry {
  let resolveDone!: (exit: ContainerExit) => void;
  let rejectDone!: (error: Error) => void;
  const done = new Promise<ContainerExit>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  // A close() with nobody waiting must not become an unhandled rejection.
  done.catch(() => undefined);
  return {
    containerId,
    sandboxDir,
    stoaDir: join(sandboxDir, '.stoa'),
    done,
    resolveDone,
    rejectDone,
    finishing: false,
    termSent: false,
    sigkillSent: false,
  };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

async function findExecutable(candidates: readonly string[]): Promise<string | undefined> {
  for (const path of candidates) {
    try {
      await access(path, fsConstants.X_OK);
      return path;
    } catch {
      // Try the next one.
    }
  }
  return undefined;
}

/** How long a wrapper may take from `go` to its started acknowledgement. */
const START_TIMEOUT_MS = 10_000;

/** Resolves with the task's pid once the wrapper acknowledges it started the task on fd 3. */
function startedAck(ack: Readable): Promise<number> {
  return new Promise((res, rej) => {
    let text = '';
    const done = (error?: Error): void => {
      clearTimeout(timer);
      ack.removeAllListeners('data');
      ack.removeAllListeners('end');
      ack.destroy();
      const pid = Number.parseInt(text, 10);
      if (error) rej(error);
      else if (Number.isInteger(pid) && pid > 0) res(pid);
      else rej(new Error('the wrapper ended before it started the task'));
    };
    const timer = setTimeout(() => done(new Error(`the wrapper did not start the task within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    ack.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) done();
    });
    ack.on('end', () => done());
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already empty.
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs tasks as real processes, detached under a recording wrapper, in cgroups where possible. */
export class ProcessContainerizer implements Containerizer {
  /** Always `process`. */
  readonly kind = 'process';
  readonly #cgroups: CgroupHierarchy;
  readonly #tools: WrapperTools;
  readonly #pollIntervalMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #launching = new Set<string>();
  /** Recovered containers, checked by one shared timer. */
  readonly #watched = new Set<Entry>();
  #poller: NodeJS.Timeout | undefined;
  #polling = false;
  #state: ProcessContainerizerState = 'open';

  private constructor(cgroups: CgroupHierarchy, tools: WrapperTools, pollIntervalMs: number) {
    this.#cgroups = cgroups;
    this.#tools = tools;
    this.#pollIntervalMs = pollIntervalMs;
  }

  /** Detects the cgroups this machine allows and the helper programs, and returns a ready containerizer. */
  static async create(options: ProcessContainerizerOptions): Promise<ProcessContainerizer> {
    const workDir = resolve(options.workDir);
    await mkdir(workDir, { recursive: true });
    const cgroups = await CgroupHierarchy.detect({ mode: options.cgroups ?? 'auto', root: options.cgroupRoot ?? '/sys/fs/cgroup', agentKey: agentKeyOf(workDir) });
    const tools: WrapperTools = {};
    const bash = await findExecutable(['/bin/bash', '/usr/bin/bash']);
    if (bash) tools.bash = bash;
    const setpriv = await findExecutable(['/usr/bin/setpriv', '/bin/setpriv']);
    if (setpriv) tools.setpriv = setpriv;
    return new ProcessContainerizer(cgroups, tools, options.pollIntervalMs ?? 200);
  }

  /** `open` until {@link close}. */
  get state(): ProcessContainerizerState {
    return this.#state;
  }

  /** The isolation in force: which cgroup version, and whether memory and CPU limits are enforced. */
  isolation(): Isolation {
    return { ...this.#cgroups.isolation };
  }

  /**
   * Starts the wrapper detached, puts it in the container's cgroups, records its pid, then lets it
   * start the task (the go handshake). Resolves with the wrapper's pid, which is the container's
   * process group. A command without a value, a bad user, or a reused container id rejects with
   * `InvalidOperationError`; anything else with `InternalError`, with nothing left running.
   */
  async launch(launch: ContainerLaunch): Promise<{ pid?: number }> {
    this.#assertOpen();
    const { containerId, command } = launch;
    if (containerId.length === 0) throw new InvalidOperationError('a container needs an id');
    if (this.#entries.has(containerId) || this.#launching.has(containerId)) {
      throw new InvalidOperationError(`container ${containerId} already exists`, { details: { containerId } });
    }
    const user = await this.#resolveUser(launch.user ?? command.user, containerId);
    let argv: string[];
    try {
      argv = taskArgv(command, this.#tools, user);
    } catch (error) {
      throw new InvalidOperationError(`cannot launch container ${containerId}: ${errorText(error)}`, { details: { containerId }, cause: error });
    }
    this.#launching.add(containerId);
    try {
      return await this.#start(launch, argv, user);
    } finally {
      this.#launching.delete(containerId);
    }
  }

  async #start(launch: ContainerLaunch, argv: string[], user: TaskUser | undefined): Promise<{ pid?: number }> {
    const { containerId } = launch;
    const sandboxDir = resolve(launch.sandboxDir);
    const entry = newEntry(containerId, sandboxDir);
    const fail = (what: string, error: unknown): InternalError =>
      new InternalError(`cannot launch container ${containerId}: ${what}: ${errorText(error)}`, { details: { containerId, sandboxDir }, cause: error });

    try {
      await mkdir(entry.stoaDir, { recursive: true });
      await Promise.all(['exit', 'exit.tmp', 'pid', 'pid.tmp'].map((f) => rm(join(entry.stoaDir, f), { force: true })));
    } catch (error) {
      throw fail('cannot prepare the sandbox', error);
    }
    const memoryMb = scalar(launch.resources, 'mem');
    let cgroups: ContainerCgroups | undefined;
    try {
      cgroups = await this.#cgroups.create(containerId, { memoryBytes: memoryMb * 1024 * 1024, cpus: scalar(launch.resources, 'cpus') });
    } catch (error) {
      await rm(entry.stoaDir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
    if (cgroups) entry.cgroups = cgroups;

    let child: ChildProcess;
    try {
      const stdout = await open(join(sandboxDir, 'stdout'), 'a');
      const stderr = await open(join(sandboxDir, 'stderr'), 'a').catch(async (error: unknown) => {
        await stdout.close();
        throw error;
      });
      try {
        if (user) {
          await chown(sandboxDir, user.uid, user.gid);
          await stdout.chown(user.uid, user.gid);
          await stderr.chown(user.uid, user.gid);
        }
        const env: Record<string, string> = { PATH: process.env.PATH ?? DEFAULT_PATH, HOME: sandboxDir };
        if (process.env.LANG !== undefined) env.LANG = process.env.LANG;
        Object.assign(env, launch.command.environment, launch.env);
        child = spawn('/bin/sh', ['-c', WRAPPER_SCRIPT, WRAPPER_NAME, entry.stoaDir, ...argv], {
          cwd: sandboxDir,
          env,
          detached: true,
          stdio: ['pipe', stdout.fd, stderr.fd, 'pipe'],
        });
      } finally {
        await stdout.close();
        await stderr.close();
      }
    } catch (error) {
      if (cgroups) await removeCgroups(cgroups).catch(() => undefined);
      await rm(entry.stoaDir, { recursive: true, force: true }).catch(() => undefined);
      throw fail('cannot start the wrapper', error);
    }

    let wrapperExited!: () => void;
    const exited = new Promise<void>((res) => {
      wrapperExited = res;
    });
    let registered = false;
    child.once('exit', (_code, signal) => {
      entry.wrapperSignal = signal;
      wrapperExited();
      if (registered) void this.#finish(entry, true);
    });
    child.stdin?.on('error', () => undefined);
    const ack = child.stdio[3] as Readable | null | undefined;
    ack?.on('error', () => undefined);

    try {
      if (child.pid === undefined) {
        throw await new Promise<Error>((res) => child.once('error', res));
      }
      const pid = child.pid;
      const stat = await readProcStat(pid);
      if (stat === undefined) throw new Error('the wrapper ended at once');
      entry.pid = pid;
      entry.startTime = stat.startTime;
      if (cgroups) await joinCgroups(cgroups, pid);
      await writeAtomic(join(entry.stoaDir, 'pid'), `${JSON.stringify({ pid, startTime: stat.startTime, ...(cgroups && { cgroups }) })}\n`);
      const stdin = child.stdin;
      if (!stdin) throw new Error('the wrapper has no stdin');
      const started = ack ? startedAck(ack) : Promise.reject(new Error('the wrapper has no fd 3'));
      started.catch(() => undefined);
      await new Promise<void>((res, rej) => stdin.write('go\n', (error) => (error ? rej(error) : res())));
      stdin.end();
      await started;
    } catch (error) {
      if (child.pid !== undefined) {
        signalGroup(child.pid, 'SIGKILL');
        await exited;
      }
      if (cgroups) await removeCgroups(cgroups).catch(() => undefined);
      await rm(entry.stoaDir, { recursive: true, force: true }).catch(() => undefined);
      throw fail('the wrapper did not start', error);
    }

    child.unref();
    entry.child = child;
    this.#entries.set(containerId, entry);
    registered = true;
    if (entry.wrapperSignal !== undefined) void this.#finish(entry, true);
    return { pid: child.pid };
  }

  /** Resolves when the container has ended; at once when it already has. */
  async wait(containerId: string): Promise<ContainerExit> {
    return this.#get(containerId).done;
  }

  /**
   * SIGTERM to the container's process group, then SIGKILL to the group (and to anything left in
   * its cgroup) once `gracePeriodMs` has passed. A second call with a shorter grace brings the
   * SIGKILL forward. Resolves when the container has ended; a no-op for an ended one.
   */
  async kill(containerId: string, gracePeriodMs: number): Promise<void> {
    const entry = this.#get(containerId);
    await this.#kill(entry, gracePeriodMs);
  }

  async #kill(entry: Entry, gracePeriodMs: number): Promise<void> {
    if (entry.exit) return;
    if (!entry.termSent) {
      entry.termSent = true;
      if (await this.#isRunning(entry)) signalGroup(entry.pid!, 'SIGTERM');
    }
    const grace = Math.max(0, gracePeriodMs);
    const at = Date.now() + grace;
    if (!entry.exit && (entry.hardKillAt === undefined || at < entry.hardKillAt)) {
      clearTimeout(entry.hardKillTimer);
      entry.hardKillAt = at;
      entry.hardKillTimer = setTimeout(() => void this.#hardKill(entry), grace);
    }
    await entry.done;
  }

  async #hardKill(entry: Entry): Promise<void> {
    if (entry.exit) return;
    if (await this.#isRunning(entry)) {
      entry.sigkillSent = true;
      signalGroup(entry.pid!, 'SIGKILL');
    }
    if (entry.cgroups) await killCgroup(entry.cgroups);
    // A recovered container's end is seen by the poller; look sooner than its next round.
    if (!entry.child) setTimeout(() => void this.#pollOne(entry), 20);
  }

  /** Summed CPU time and RSS of the container's processes (its cgroup, else its process group); undefined once ended. */
  async usage(containerId: string): Promise<TaskUsage | undefined> {
    const entry = this.#get(containerId);
    if (entry.exit || !(await this.#isRunning(entry))) return undefined;
    const pids = entry.cgroups ? await cgroupPids(entry.cgroups) : await processGroupMembers(entry.pid!);
    if (pids.length === 0) pids.push(entry.pid!);
    const used = await usageOf(pids);
    return { cpuUserSeconds: used.cpuUserSeconds, cpuSystemSeconds: used.cpuSystemSeconds, rssBytes: used.rssBytes, timestampMs: Date.now() };
  }

  /**
   * Re-attaches to the containers of an earlier agent from their sandbox records: a live wrapper
   * (same pid and start time) is `running` and watched by polling; a recorded exit is `exited`
   * with it; a dead wrapper without a record, or no record at all, is `exited` with `unknown`.
   * Every container reported becomes known, so `wait` and `cleanup` work on it.
   */
  async recover(known: KnownContainer[]): Promise<RecoveredContainer[]> {
    this.#assertOpen();
    return Promise.all(known.map((k) => this.#recoverOne(k)));
  }

  async #recoverOne(known: KnownContainer): Promise<RecoveredContainer> {
    const { containerId } = known;
    const existing = this.#entries.get(containerId);
    if (existing) {
      if (existing.exit) return { containerId, state: 'exited', exit: existing.exit };
      return existing.pid === undefined ? { containerId, state: 'running' } : { containerId, state: 'running', pid: existing.pid };
    }
    const entry = newEntry(containerId, resolve(known.sandboxDir));
    const record = parsePidRecord((await readOptional(join(entry.stoaDir, 'pid'))) ?? '');
    if (record) {
      entry.pid = record.pid;
      entry.startTime = record.startTime;
      if (record.cgroups) entry.cgroups = record.cgroups;
    }
    this.#entries.set(containerId, entry);
    const recorded = parseExitRecord((await readOptional(join(entry.stoaDir, 'exit'))) ?? '');
    if (!recorded && record && (await isProcessAlive(record.pid, record.startTime))) {
      this.#watch(entry);
      return { containerId, state: 'running', pid: record.pid };
    }
    const exit = await this.#finish(entry, false);
    return { containerId, state: 'exited', exit };
  }

  /** Forgets an ended container: kills any process left in its cgroup and removes the cgroup. The sandbox stays. */
  async cleanup(containerId: string): Promise<void> {
    const entry = this.#get(containerId);
    if (!entry.exit) throw new InvalidOperationError(`container ${containerId} is still running; kill it first`, { details: { containerId } });
    if (entry.cgroups) {
      await killCgroup(entry.cgroups);
      await removeCgroups(entry.cgroups);
    }
    this.#entries.delete(containerId);
  }

  /**
   * Stops watching. Containers keep running (they are detached) and keep their cgroups, for the
   * next agent to recover. With `killAll` each is killed at once (SIGTERM then SIGKILL) and waited
   * for, and every container's cgroup is removed, as by `cleanup`. Pending `wait`s of containers
   * left running reject with `CancelledError`. Later calls reject with `UnavailableError`.
   */
  async close(options: { killAll?: boolean } = {}): Promise<void> {
    if (this.#state === 'closed') return;
    if (options.killAll) {
      const entries = [...this.#entries.values()];
      await Promise.all(entries.map((e) => this.#kill(e, 0).catch(() => undefined)));
      await Promise.all(
        entries.map(async (e) => {
          if (!e.cgroups) return;
          await killCgroup(e.cgroups).catch(() => undefined);
          await removeCgroups(e.cgroups).catch(() => undefined);
        }),
      );
    }
    this.#state = 'closed';
    clearInterval(this.#poller);
    this.#poller = undefined;
    this.#watched.clear();
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.hardKillTimer);
      if (!entry.exit) {
        entry.child?.removeAllListeners('exit');
        entry.rejectDone(new CancelledError(`the containerizer was closed while container ${entry.containerId} ran`, { details: { containerId: entry.containerId } }));
      }
    }
    this.#entries.clear();
    await this.#cgroups.release();
  }

  /** `await using` support: {@link close} without killing. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#state === 'closed') throw new UnavailableError('the containerizer is closed');
  }

  #get(containerId: string): Entry {
    this.#assertOpen();
    const entry = this.#entries.get(containerId);
    if (!entry) throw new NotFoundError(`unknown container ${containerId}`, { details: { containerId } });
    return entry;
  }

  async #isRunning(entry: Entry): Promise<boolean> {
    if (entry.exit || entry.pid === undefined) return false;
    if (entry.child) return entry.child.exitCode === null && entry.child.signalCode === null;
    return isProcessAlive(entry.pid, entry.startTime);
  }

  async #resolveUser(name: string | undefined, containerId: string): Promise<TaskUser | undefined> {
    if (name === undefined || name === userInfo().username) return undefined;
    const invalid = (why: string): InvalidOperationError => new InvalidOperationError(`cannot run container ${containerId} as ${name}: ${why}`, { details: { containerId, user: name } });
    if (process.getuid?.() !== 0) throw invalid('the agent does not run as root');
    const passwd = (await readOptional('/etc/passwd')) ?? '';
    for (const line of passwd.split('\n')) {
      const [user, , uid, gid] = line.split(':');
      if (user === name || (uid === name && /^\d+$/.test(name))) {
        return { name: user ?? name, uid: Number(uid), gid: Number(gid) };
      }
    }
    throw invalid('no such user');
  }

  #watch(entry: Entry): void {
    this.#watched.add(entry);
    if (this.#poller === undefined) this.#poller = setInterval(() => void this.#pollAll(), this.#pollIntervalMs);
  }

  async #pollAll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      await Promise.all([...this.#watched].map((e) => this.#pollOne(e)));
    } finally {
      this.#polling = false;
    }
  }

  async #pollOne(entry: Entry): Promise<void> {
    if (entry.exit || entry.finishing || entry.pid === undefined) return;
    if (await isProcessAlive(entry.pid, entry.startTime)) return;
    await this.#finish(entry, true);
  }

  /**
   * Works out how a container ended, once. `sawEnd` says the wrapper was seen to end just now (so
   * its process group may still be signalled safely to take stragglers with it).
   */
  async #finish(entry: Entry, sawEnd: boolean): Promise<ContainerExit> {
    if (entry.exit) return entry.exit;
    if (entry.finishing) return entry.done;
    entry.finishing = true;
    this.#watched.delete(entry);
    if (this.#watched.size === 0) {
      clearInterval(this.#poller);
      this.#poller = undefined;
    }
    clearTimeout(entry.hardKillTimer);
    let exit = parseExitRecord((await readOptional(join(entry.stoaDir, 'exit'))) ?? '');
    if (!exit) {
      if (entry.sigkillSent) exit = { signal: 'SIGKILL', message: 'killed by SIGKILL after its grace period' };
      else if (entry.wrapperSignal) exit = { signal: entry.wrapperSignal, message: `its wrapper was killed by ${entry.wrapperSignal}` };
      else if (entry.pid === undefined) exit = { unknown: true, message: 'no record of the container in its sandbox' };
      else exit = { unknown: true, message: 'the container ended without recording an exit status' };
    }
    if (exit.signal === 'SIGKILL' || exit.unknown) {
      if (await wasOomKilled(entry.cgroups)) {
        exit.oomKilled = true;
        exit.message = 'killed by the OOM killer at its memory limit';
      }
    }
    // The container ends with its main process, as in Mesos: nothing it left behind keeps running.
    if (sawEnd && entry.pid !== undefined) signalGroup(entry.pid, 'SIGKILL');
    if (entry.cgroups) await killCgroup(entry.cgroups).catch(() => undefined);
    entry.exit = exit;
    entry.resolveDone(exit);
    return exit;
  }
}
