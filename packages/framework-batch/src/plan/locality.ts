/**
 * Delay scheduling, as Hadoop's fair scheduler and Spark do it: a task that prefers some hosts,
 * racks or zones takes an offer that matches at once, and relaxes one level each time it has
 * waited `localityWaitMs` more without one — host, then rack, then zone, then any place. A level
 * the task states no preference for is skipped (a task that names only zones goes zone → any).
 * A task without preferences takes any offer at once.
 *
 * An offer's rack and zone come from its fault domain (`domain.rack`, `domain.zone`), else from
 * its `rack` and `zone` attributes.
 *
 * @example
 * ```ts
 * const pending = launchableTasks(job).map((id) => ({ ...plan.get(id)!, pendingSinceMs: job.tasks[id]!.pendingSinceMs ?? now }));
 * const { chosen, nextRelaxAtMs } = chooseTasksForOffer(pending, offer, now);
 * ```
 * @module
 */

import { contains, type FaultDomain, type Resource, subtract } from '@stoa/sdk';
import type { PreferSpec } from '../spec/schema.js';

/** A locality level, best first. */
export type LocalityLevel = 'HOST' | 'RACK' | 'ZONE' | 'ANY';

/** A task waiting for a place: what {@link chooseTasksForOffer} reads of it (a `PlannedTask` plus its pending time fits). */
export interface LocalityCandidate {
  taskId: string;
  /** What it needs; when the offer's resources are given, chosen tasks must fit in them together. */
  resources: readonly Resource[];
  /** Where it would rather run. @default no preference */
  prefer?: Partial<PreferSpec>;
  /** How long it waits per level before relaxing. */
  localityWaitMs: number;
  /** Since when it has waited (its `pendingSinceMs` in the job state). */
  pendingSinceMs: number;
}

/** The part of an offer locality looks at (a core `Offer` fits). */
export interface LocalityOffer {
  hostname: string;
  attributes?: Record<string, string>;
  domain?: FaultDomain;
  /** What the offer holds; when absent, resources are not checked. */
  resources?: readonly Resource[];
}

/** Options of {@link chooseTasksForOffer}. */
export interface ChooseTasksOptions {
  /** Take at most this many tasks (what `parallelism` leaves). @default no limit */
  limit?: number;
  /** Resources to set aside first (the batch executor's, when it does not run on the agent yet). @default none */
  reserve?: readonly Resource[];
}

/** What {@link chooseTasksForOffer} decided. */
export interface OfferChoice {
  /** Tasks to launch on the offer, in the order given, each with the level it matched at. */
  chosen: { taskId: string; level: LocalityLevel }[];
  /** What is left of the offer's resources (when they were given). */
  remaining?: Resource[];
  /**
   * The earliest time a task that waits for a better place would accept this offer (for a
   * decline's `refuseMs`); undefined when no task waits for one.
   */
  nextRelaxAtMs?: number;
}

/** The rack and zone of an offer: fault domain first, then attributes. */
export function offerPlace(offer: LocalityOffer): { host: string; rack?: string; zone?: string } {
  const rack = offer.domain?.rack ?? offer.attributes?.rack;
  const zone = offer.domain?.zone ?? offer.attributes?.zone;
  return { host: offer.hostname, ...(rack !== undefined ? { rack } : {}), ...(zone !== undefined ? { zone } : {}) };
}

/** The levels a task relaxes through, best first, ending with ANY. */
export function localityLevels(prefer: Partial<PreferSpec> | undefined): LocalityLevel[] {
  const levels: LocalityLevel[] = [];
  if ((prefer?.hosts?.length ?? 0) > 0) levels.push('HOST');
  if ((prefer?.racks?.length ?? 0) > 0) levels.push('RACK');
  if ((prefer?.zones?.length ?? 0) > 0) levels.push('ZONE');
  levels.push('ANY');
  return levels;
}

/** The best level at which an offer matches a task's preferences (ANY when it matches none). */
export function matchLevel(prefer: Partial<PreferSpec> | undefined, offer: LocalityOffer): LocalityLevel {
  const place = offerPlace(offer);
  if (prefer?.hosts?.includes(place.host)) return 'HOST';
  if (place.rack !== undefined && prefer?.racks?.includes(place.rack)) return 'RACK';
  if (place.zone !== undefined && prefer?.zones?.includes(place.zone)) return 'ZONE';
  return 'ANY';
}

/**
 * The level a task accepts at `now`: its best level until it has waited `localityWaitMs`, the
 * next one until it has waited twice that, and so on.
 */
export function allowedLevel(task: Pick<LocalityCandidate, 'prefer' | 'localityWaitMs' | 'pendingSinceMs'>, now: number): LocalityLevel {
  const levels = localityLevels(task.prefer);
  const waited = Math.max(0, now - task.pendingSinceMs);
  const steps = task.localityWaitMs <= 0 ? levels.length : Math.floor(waited / task.localityWaitMs);
  return levels[Math.min(steps, levels.length - 1)]!;
}

/**
 * Picks, among `pending` (in priority order), the tasks to launch on `offer` at `now`: each task
 * whose preferences the offer matches at a level it accepts by now, as many as fit in the offer's
 * resources (when given) and `limit`.
 */
export function chooseTasksForOffer(pending: readonly LocalityCandidate[], offer: LocalityOffer, now: number, options: ChooseTasksOptions = {}): OfferChoice {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  let left: Resource[] | undefined = offer.resources === undefined ? undefined : [...offer.resources];
  if (left !== undefined && options.reserve !== undefined && options.reserve.length > 0) {
    if (!contains(left, options.reserve)) return { chosen: [], remaining: left };
    left = subtract(left, options.reserve);
  }
  const chosen: OfferChoice['chosen'] = [];
  let nextRelaxAtMs: number | undefined;
  for (const task of pending) {
    if (chosen.length >= limit) break;
    const levels = localityLevels(task.prefer);
    const level = matchLevel(task.prefer, offer);
    const need = levels.indexOf(level);
    const allowed = levels.indexOf(allowedLevel(task, now));
    if (need > allowed) {
      const at = task.pendingSinceMs + need * task.localityWaitMs;
      if (nextRelaxAtMs === undefined || at < nextRelaxAtMs) nextRelaxAtMs = at;
      continue;
    }
    if (left !== undefined) {
      if (!contains(left, task.resources)) continue;
      left = subtract(left, task.resources);
    }
    chosen.push({ taskId: task.taskId, level });
  }
  return { chosen, ...(left !== undefined ? { remaining: left } : {}), ...(nextRelaxAtMs !== undefined ? { nextRelaxAtMs } : {}) };
}
