/**
 * Running one module task of the batch executor: the module is imported (once per process; Node
 * caches it) and its named export is called in-process with a {@link BatchTaskContext}. Its return
 * value (awaited) is the task's result. An abort (timeout, kill) settles the run at once; the
 * function cannot be stopped from outside, so it gets the abort as `context.signal` and should
 * stop by itself — what it returns after that is ignored.
 *
 * @example
 * ```js
 * // wordcount.js, named in a job spec as { module: ./wordcount.js, export: map }
 * export async function map({ index, count, args, signal }) {
 *   return { words: await countWords(args.corpus, index, count, signal) };
 * }
 * export function reduce({ inputs }) {
 *   return inputs.reduce((n, i) => n + i.result.words, 0);
 * }
 * ```
 * @module
 */

import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskInput } from '../plan/outputs.js';
import type { JsonValue } from '../spec/schema.js';

/** What a module task's function is called with. */
export interface BatchTaskContext {
  /** The launch id of this attempt. */
  taskId: string;
  jobId: string;
  stage: string;
  /** Its index in its stage, 0…count-1. */
  index: number;
  /** How many tasks its stage has. */
  count: number;
  /** The spec's `args`. */
  args: JsonValue | undefined;
  /** The task's environment (the spec's env and `STOA_*`; not set on `process.env`, which tasks share). */
  env: Record<string, string>;
  /** The results of its parents (the stages its stage depends on). */
  inputs: TaskInput[];
  /** Aborted when the task times out or is killed: stop then. */
  signal: AbortSignal;
}

/** A module task's function: it may return a JSON value (or a promise of one), its result. */
export type BatchTaskFunction = (context: BatchTaskContext) => unknown;

/** How a module task ended. */
export type ModuleTaskResult = { ok: true; value: unknown; durationMs: number } | { ok: false; error: string; stack?: string; aborted: boolean; durationMs: number };

function specifierOf(module: string): string {
  return isAbsolute(module) ? pathToFileURL(module).href : module;
}

function describe(error: unknown): { error: string; stack?: string } {
  if (error instanceof Error) return { error: `${error.name}: ${error.message}`, ...(error.stack !== undefined ? { stack: error.stack } : {}) };
  return { error: `threw a non-error: ${String(error)}` };
}

/**
 * Modules imported so far, by the name tasks give them. Node caches modules too, but each
 * `import()` still goes through the loader (and its hooks, when some are registered), which costs
 * more than a short task itself.
 */
const imported = new Map<string, Promise<Record<string, unknown>>>();

function importOnce(module: string): Promise<Record<string, unknown>> {
  let ns = imported.get(module);
  if (ns === undefined) {
    ns = import(specifierOf(module)) as Promise<Record<string, unknown>>;
    imported.set(module, ns);
    // A module that failed to load is tried again by the next task (it may have been fixed).
    ns.catch(() => imported.delete(module));
  }
  return ns;
}

/** Imports `module` (once per process) and calls its `exportName` with `context`. Never rejects. */
export async function runModuleTask(module: string, exportName: string, context: BatchTaskContext): Promise<ModuleTaskResult> {
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const { signal } = context;
  let fn: unknown;
  try {
    const ns = await importOnce(module);
    fn = ns[exportName];
  } catch (error) {
    return { ok: false, aborted: false, error: `cannot import ${module}: ${describe(error).error}`, durationMs: elapsed() };
  }
  if (typeof fn !== 'function') {
    return { ok: false, aborted: false, error: `${module} has no function export "${exportName}"`, durationMs: elapsed() };
  }
  if (signal.aborted) return { ok: false, aborted: true, error: 'aborted before it started', durationMs: elapsed() };
  let returned: unknown;
  try {
    returned = (fn as BatchTaskFunction)(context);
  } catch (error) {
    return { ok: false, aborted: false, ...describe(error), durationMs: elapsed() };
  }
  // A function that returned a value (not a promise) is done: no race with the abort to set up.
  if (!isThenable(returned)) return { ok: true, value: returned, durationMs: elapsed() };
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<ModuleTaskResult>((resolve) => {
    onAbort = () => resolve({ ok: false, aborted: true, error: 'aborted', durationMs: elapsed() });
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const ran = Promise.resolve(returned).then(
    (value): ModuleTaskResult => ({ ok: true, value, durationMs: elapsed() }),
    (error: unknown): ModuleTaskResult => ({ ok: false, aborted: false, ...describe(error), durationMs: elapsed() }),
  );
  try {
    return await Promise.race([ran, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** A value as a task result: JSON-normalised and within `limitBytes`, or why not. Undefined stays no result. */
export function toResult(value: unknown, limitBytes: number): { ok: true; result?: JsonValue } | { ok: false; error: string } {
  if (value === undefined) return { ok: true };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return { ok: false, error: `the result is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (text === undefined) return { ok: true };
  const bytes = Buffer.byteLength(text);
  if (bytes > limitBytes) return { ok: false, error: `the result is ${bytes} bytes of JSON, over the limit of ${limitBytes}` };
  return { ok: true, result: JSON.parse(text) as JsonValue };
}
