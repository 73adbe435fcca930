/**
 * The dependency graph of jobs: a directed acyclic graph with an edge from each parent to each
 * job that names it in `parents`. It refuses a cycle ({@link DependencyCycleError}, naming the
 * path) and an unknown parent ({@link UnknownParentError}), and decides when a dependent job is
 * ready: when every one of its parents has succeeded, or failed with `softError`, since the
 * child's last run. That per-child, per-parent "satisfied since" record is plain data
 * ({@link DependencyState}) so it can be stored and given back after a restart.
 *
 * Deleting a job that has children is refused ({@link JobHasChildrenError}, 409) unless forced.
 * A forced delete does what Chronos did: each child takes the deleted job's parents in its place;
 * a child left with no parent (its parent was a scheduled job) is reported as orphaned, for the
 * caller to give it a schedule (Chronos gave it the deleted parent's) or delete it too.
 *
 * @example
 * ```ts
 * const graph = new JobGraph();
 * graph.addJob('extract');
 * graph.addJob('load', ['extract']);
 * graph.parentFinished('extract', 'success', now); // ['load']
 * ```
 * @module
 */

import { AlreadyExistsError, NotFoundError } from '@stoa/sdk';
import { DependencyCycleError, JobHasChildrenError, UnknownParentError } from '../errors.js';
import type { RunOutcome } from '../run/run.js';

/** For each dependent job, for each of its parents, when that parent last satisfied it (ms); absent when not since the child's last run. */
export type DependencyState = Record<string, Record<string, number>>;

/** A job as the graph sees it. */
export interface GraphJob {
  name: string;
  /** Parents; empty or absent for a scheduled job. */
  parents?: readonly string[] | undefined;
}

/** What a forced delete changed. */
export interface RemovalResult {
  /** Children whose parents changed, with their new parents (the deleted job's parents in its place). */
  rewired: { job: string; parents: string[] }[];
  /** Children left with no parent at all. */
  orphaned: string[];
}

/** Options of {@link JobGraph.removeJob}. */
export interface RemoveJobOptions {
  /** Delete even when other jobs depend on it, re-parenting them as Chronos did. @default false */
  force?: boolean;
}

/** The jobs and their dependencies. See the module documentation. */
export class JobGraph {
  /** Parents of each job, in the order given; the map's order is the order jobs were added. */
  readonly #parents = new Map<string, string[]>();
  readonly #children = new Map<string, Set<string>>();
  #state: DependencyState = {};

  /**
   * A graph of `jobs` (in any order: parents need not come first) with stored readiness
   * `state`. Throws like {@link addJob} when the jobs name a missing parent or form a cycle.
   */
  constructor(jobs: readonly GraphJob[] = [], state: DependencyState = {}) {
    const pending = new Map(jobs.map((j) => [j.name, [...(j.parents ?? [])]]));
    const visiting = new Set<string>();
    const visit = (name: string, path: string[]): void => {
      if (this.#parents.has(name)) return;
      const parents = pending.get(name);
      if (parents === undefined) return; // reported by addJob below as an unknown parent
      if (visiting.has(name)) throw new DependencyCycleError([...path.slice(path.indexOf(name)), name]);
      visiting.add(name);
      for (const p of parents) visit(p, [...path, name]);
      visiting.delete(name);
      this.addJob(name, parents);
    };
    // Reverse the path so it reads parent before child, as DependencyCycleError documents.
    try {
      for (const j of jobs) visit(j.name, []);
    } catch (e) {
      if (DependencyCycleError.isInstance(e)) throw new DependencyCycleError([...e.cycle].reverse());
      throw e;
    }
    for (const [child, parents] of Object.entries(state)) {
      const own = this.#parents.get(child);
      if (own === undefined) continue;
      for (const [parent, at] of Object.entries(parents)) if (own.includes(parent)) this.#satisfy(child, parent, at);
    }
  }

  /** How many jobs the graph holds. */
  get size(): number {
    return this.#parents.size;
  }

  /** Whether the graph has this job. */
  has(name: string): boolean {
    return this.#parents.has(name);
  }

  /** Every job, in the order added. */
  names(): string[] {
    return [...this.#parents.keys()];
  }

  /** A job's parents. Throws `NotFoundError` for an unknown job. */
  parentsOf(name: string): string[] {
    return [...this.#need(name)];
  }

  /** The jobs that name this one as a parent, in the order they were added. */
  childrenOf(name: string): string[] {
    this.#need(name);
    return [...(this.#children.get(name) ?? [])];
  }

  /** Every edge, `[parent, child]`, children in the order added. */
  edges(): [string, string][] {
    const out: [string, string][] = [];
    for (const [child, parents] of this.#parents) for (const p of parents) out.push([p, child]);
    return out;
  }

  /**
   * Adds a job with its parents (none for a scheduled job). Throws `AlreadyExistsError` when the
   * name is taken, {@link UnknownParentError} for a parent that is not a job, and
   * {@link DependencyCycleError} when a job would be its own parent.
   */
  addJob(name: string, parents: readonly string[] = []): void {
    if (this.#parents.has(name)) throw new AlreadyExistsError(`job '${name}' already exists`, { details: { job: name } });
    this.#checkParents(name, parents);
    this.#parents.set(name, [...parents]);
    this.#children.set(name, new Set());
    for (const p of parents) this.#children.get(p)!.add(name);
  }

  /**
   * Changes a job's parents. Throws {@link UnknownParentError} for a parent that is not a job and
   * {@link DependencyCycleError} with the path when a new parent depends on the job already.
   * Readiness recorded for parents it keeps stays; for parents it drops it is forgotten.
   */
  setParents(name: string, parents: readonly string[]): void {
    const old = this.#need(name);
    this.#checkParents(name, parents);
    const cycle = parents.map((p) => this.#pathDown(name, p)).find((path) => path !== undefined);
    if (cycle !== undefined) throw new DependencyCycleError([...cycle, name]);
    for (const p of old) this.#children.get(p)?.delete(name);
    this.#parents.set(name, [...parents]);
    for (const p of parents) this.#children.get(p)!.add(name);
    const kept = this.#state[name];
    if (kept !== undefined) {
      for (const p of Object.keys(kept)) if (!parents.includes(p)) delete kept[p];
      if (Object.keys(kept).length === 0) delete this.#state[name];
    }
  }

  /** {@link addJob} for a new job, {@link setParents} for one the graph has. */
  upsertJob(job: GraphJob): void {
    if (this.#parents.has(job.name)) this.setParents(job.name, job.parents ?? []);
    else this.addJob(job.name, job.parents ?? []);
  }

  /**
   * Deletes a job. With children, throws {@link JobHasChildrenError} unless `force`; forced, the
   * children take its parents in its place (see {@link RemovalResult}). Throws `NotFoundError`
   * for an unknown job.
   */
  removeJob(name: string, options: RemoveJobOptions = {}): RemovalResult {
    const parents = this.#need(name);
    const children = [...(this.#children.get(name) ?? [])];
    if (children.length > 0 && options.force !== true) throw new JobHasChildrenError(name, children);
    const result: RemovalResult = { rewired: [], orphaned: [] };
    for (const child of children) {
      const next: string[] = [];
      for (const p of this.#parents.get(child)!) {
        if (p === name) {
          for (const gp of parents) if (!next.includes(gp)) next.push(gp);
        } else if (!next.includes(p)) next.push(p);
      }
      this.#parents.set(child, next);
      for (const gp of parents) this.#children.get(gp)!.add(child);
      const s = this.#state[child];
      if (s !== undefined) {
        delete s[name];
        if (Object.keys(s).length === 0) delete this.#state[child];
      }
      result.rewired.push({ job: child, parents: [...next] });
      if (next.length === 0) result.orphaned.push(child);
    }
    for (const p of parents) this.#children.get(p)?.delete(name);
    this.#parents.delete(name);
    this.#children.delete(name);
    delete this.#state[name];
    return result;
  }

  /**
   * Records that a run of `parent` ended and returns the children that are now ready, each
   * reported once: their readiness is used up (a child needs every parent again before its next
   * run). A success or a `soft-failure` satisfies the children; any other outcome changes
   * nothing (and does not undo what an earlier success satisfied).
   */
  parentFinished(parent: string, outcome: RunOutcome, at: number): string[] {
    this.#need(parent);
    if (outcome !== 'success' && outcome !== 'soft-failure') return [];
    const ready: string[] = [];
    for (const child of this.#children.get(parent) ?? []) {
      this.#satisfy(child, parent, at);
      if (this.#isReady(child)) {
        ready.push(child);
        delete this.#state[child];
      }
    }
    return ready;
  }

  /** Records that `child` ran for another reason (started by hand): its parents must all finish again before it is ready. */
  childRan(child: string): void {
    this.#need(child);
    delete this.#state[child];
  }

  /** For each parent of a job, since when it has been satisfied, or `undefined`. */
  readinessOf(child: string): Record<string, number | undefined> {
    const parents = this.#need(child);
    const s = this.#state[child] ?? {};
    return Object.fromEntries(parents.map((p) => [p, s[p]]));
  }

  /** The readiness record, to store (a copy). */
  dependencyState(): DependencyState {
    return Object.fromEntries(Object.entries(this.#state).map(([c, s]) => [c, { ...s }]));
  }

  /** Every job, each after all its parents (Kahn's algorithm; ties in the order added). */
  topologicalOrder(): string[] {
    const indegree = new Map<string, number>();
    for (const [name, parents] of this.#parents) indegree.set(name, parents.length);
    const queue = [...this.#parents.keys()].filter((n) => indegree.get(n) === 0);
    const out: string[] = [];
    for (let i = 0; i < queue.length; i++) {
      const n = queue[i]!;
      out.push(n);
      for (const c of this.#children.get(n) ?? []) {
        const d = indegree.get(c)! - 1;
        indegree.set(c, d);
        if (d === 0) queue.push(c);
      }
    }
    return out;
  }

  /** The depth of each job: 0 for a job without parents, else one more than its deepest parent. */
  depths(): Map<string, number> {
    const depth = new Map<string, number>();
    for (const n of this.topologicalOrder()) {
      const parents = this.#parents.get(n)!;
      depth.set(n, parents.length === 0 ? 0 : Math.max(...parents.map((p) => depth.get(p)!)) + 1);
    }
    return depth;
  }

  #need(name: string): string[] {
    const parents = this.#parents.get(name);
    if (parents === undefined) throw new NotFoundError(`job '${name}' not found`, { details: { job: name } });
    return parents;
  }

  #checkParents(name: string, parents: readonly string[]): void {
    parents.forEach((p, i) => {
      if (p === name) throw new DependencyCycleError([name, name]);
      if (!this.#parents.has(p)) throw new UnknownParentError(name, p, i);
    });
  }

  /** A path of parent → child edges from `from` down to `to`, or `undefined` (BFS, so the shortest). */
  #pathDown(from: string, to: string): string[] | undefined {
    const previous = new Map<string, string | null>([[from, null]]);
    const queue = [from];
    for (let i = 0; i < queue.length; i++) {
      const n = queue[i]!;
      if (n === to) {
        const path: string[] = [];
        for (let at: string | null = n; at !== null; at = previous.get(at)!) path.push(at);
        return path.reverse();
      }
      for (const c of this.#children.get(n) ?? []) {
        if (!previous.has(c)) {
          previous.set(c, n);
          queue.push(c);
        }
      }
    }
    return undefined;
  }

  #satisfy(child: string, parent: string, at: number): void {
    const s = this.#state[child] ?? {};
    s[parent] = at;
    this.#state[child] = s;
  }

  #isReady(child: string): boolean {
    const s = this.#state[child];
    if (s === undefined) return false;
    return this.#parents.get(child)!.every((p) => s[p] !== undefined);
  }
}
