/**
 * The wrapper that each process container runs under, and how its records are written and read.
 *
 * The wrapper is a few lines of POSIX `sh`, started detached (its own session and process group,
 * which is the container) with stdout and stderr on the sandbox's files and stdin on a pipe from
 * the agent. It:
 *
 * 1. traps TERM, INT, HUP, QUIT and PIPE with a no-op handler, so a SIGTERM sent to the whole
 *    group does not end the wrapper before it has recorded the task's status. (A handler, not
 *    `trap ''`: ignored signals would be inherited by the task, handled ones are reset for it.)
 * 2. reads one line from stdin: the **go handshake**. The agent writes `go` only after it has put
 *    the wrapper's pid into the container's cgroups and recorded the pid, so everything the task
 *    forks is inside its limits from the first instruction. End of file instead (the agent died
 *    mid-launch) makes the wrapper leave without starting anything.
 * 3. starts the task in the background with stdin from /dev/null, through a one-line `sh` that
 *    writes its own pid to fd 3 and closes it before it `exec`s the task: that is the **started**
 *    acknowledgement `launch` resolves on. It comes from a fresh process, after the fork, so the
 *    wrapper's no-op trap no longer applies and a SIGTERM sent right after `launch` reaches the
 *    task. The wrapper then closes stdin and fd 3: from then on no pipe ties the container to
 *    the agent.
 * 4. `wait`s for the task in a loop: a trapped signal interrupts `wait`, so it waits again while
 *    `kill -0` still finds the task (a zombie counts, so its status is not lost).
 * 5. writes the task's shell status (`$?`: the code, or 128 + the signal number) to
 *    `.stoa/exit.tmp` and renames it to `.stoa/exit`, so a reader never sees half a record.
 *
 * The task is a background job of a non-interactive shell, so POSIX has it start with SIGINT and
 * SIGQUIT ignored; Stoa only ever sends SIGTERM and SIGKILL, which it receives normally.
 *
 * @module
 */

import { constants } from 'node:os';
import type { CommandInfo } from '@stoa/core';
import type { ContainerExit } from '../containerizer.js';
import type { ContainerCgroups } from './cgroups.js';

/** The wrapper script, run as `sh -c WRAPPER_SCRIPT stoa-wrapper <.stoa dir> <task argv…>`. */
export const WRAPPER_SCRIPT = [
  '__stoa_dir=$1; shift',
  "trap ':' TERM INT HUP QUIT PIPE",
  'IFS= read -r __stoa_go || exit 0',
  '[ "$__stoa_go" = go ] || exit 0',
  `/bin/sh -c 'echo $$ >&3; exec 3>&-; exec "$@"' stoa-task "$@" </dev/null &`,
  '__stoa_child=$!',
  'exec </dev/null 3>&-',
  'while :; do',
  '  wait "$__stoa_child"; __stoa_status=$?',
  '  kill -0 "$__stoa_child" 2>/dev/null || break',
  'done',
  'printf \'%s\\n\' "$__stoa_status" > "$__stoa_dir/exit.tmp" && command -p mv -f "$__stoa_dir/exit.tmp" "$__stoa_dir/exit"',
].join('\n');

/** `$0` of the wrapper, which is what `ps` shows for it. */
export const WRAPPER_NAME = 'stoa-wrapper';

/** Programs the wrapper may need to build a task's argv, found when the containerizer starts. */
export interface WrapperTools {
  /** A bash, to give a program an `argv[0]` of its own (`exec -a`); without it argv[0] is the program. */
  bash?: string;
  /** util-linux `setpriv`, to run a task as another user. */
  setpriv?: string;
}

/** The user a task runs as. */
export interface TaskUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * The task's argv: `sh -c value` for a shell command; otherwise `value` with `arguments`, where
 * `arguments[0]` is the name the program sees (Mesos' convention), and `[value]` when there are
 * none. Prefixed with `setpriv` when the task runs as another user. Throws a plain `Error` when
 * the command has no value (the caller turns it into `InvalidOperationError`).
 */
export function taskArgv(command: CommandInfo, tools: WrapperTools, user?: TaskUser): string[] {
  const value = command.value;
  if (value === undefined || value.length === 0) throw new Error('the command has no value');
  let argv: string[];
  if (command.shell ?? true) {
    argv = ['/bin/sh', '-c', value];
  } else {
    const args = command.arguments ?? [];
    const argv0 = args[0];
    if (argv0 === undefined || argv0 === value || tools.bash === undefined) argv = [value, ...args.slice(1)];
    else argv = [tools.bash, '-c', 'exec -a "$0" "$@"', argv0, value, ...args.slice(1)];
  }
  if (user === undefined) return argv;
  if (tools.setpriv === undefined) throw new Error('cannot switch users: setpriv (util-linux) is not installed');
  return [tools.setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', ...argv];
}

const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** The name of a signal number (`9` → `SIGKILL`), or undefined. */
export function signalName(signal: number): string | undefined {
  return signalNames.get(signal);
}

/**
 * Turns a recorded shell status into an exit: above 128 with a known signal number it is that
 * signal (`143` → SIGTERM), otherwise the exit code. A task that itself calls `exit 143` cannot be
 * told apart; that is the shell's convention.
 */
export function decodeExitStatus(status: number): ContainerExit {
  if (status > 128) {
    const signal = signalName(status - 128);
    if (signal !== undefined) return { signal, message: `killed by ${signal}` };
  }
  return { exitCode: status, message: `exited with code ${status}` };
}

/** Parses the text of `.stoa/exit`; undefined when it is not a complete record. */
export function parseExitRecord(text: string): ContainerExit | undefined {
  if (!text.endsWith('\n')) return undefined;
  const status = Number(text.trim());
  if (!Number.isInteger(status) || status < 0 || status > 255) return undefined;
  return decodeExitStatus(status);
}

/** What `.stoa/pid` records: who the wrapper is and where its cgroups are. */
export interface PidRecord {
  /** The wrapper's pid, which is also its process group and session id. */
  pid: number;
  /** Its start time in clock ticks since boot (`/proc/<pid>/stat` field 22), against pid reuse. */
  startTime: number;
  /** The container's cgroups, when it has any. */
  cgroups?: ContainerCgroups;
}

/** Parses the text of `.stoa/pid`; undefined when it is not a valid record. */
export function parsePidRecord(text: string): PidRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<PidRecord>;
    if (!Number.isInteger(value.pid) || !Number.isInteger(value.startTime)) return undefined;
    return value as PidRecord;
  } catch {
    return undefined;
  }
}
