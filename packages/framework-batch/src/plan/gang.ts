/**
 * Gang scheduling: the tasks of a gang stage start together or not at all. {@link planGang} packs
 * every task of the gang into the offers held (first-fit decreasing, each task within one offer,
 * the batch executor's own resources counted once per agent that does not run it yet) and gives a
 * full assignment or none. A {@link GangHold} keeps offers while the gang gathers enough of them;
 * {@link decideGang} says, at `now`, whether to launch, keep waiting, or release what it holds
 * (decline) because `gangTimeoutMs` passed — so a gang that cannot fit does not sit on resources
 * others could use. Keep the timeout under the master's offer timeout (30 s by default), or the
 * master rescinds held offers first (drop them with {@link forgetOffers}).
 *
 * @example
 * ```ts
 * const hold = createGangHold('train');
 * client.on('OFFERS', (e) => {
 *   holdOffers(hold, e.offers, Date.now());
 *   const d = decideGang(hold, gangTasks, Date.now(), { timeoutMs: 20_000 });
 *   if (d.action === 'LAUNCH') launch(d.assignments, d.declineOfferIds);
 *   else if (d.action === 'RELEASE') client.decline(d.offerIds);
 * });
 * ```
 * @module
 */

import { add, contains, type Resource, scalar, subtract } from '@stoa/sdk';

/** A task of a gang: its id and what it needs. */
export interface GangTask {
  taskId: string;
  resources: readonly Resource[];
}

/** An offer as gang planning reads it (a core `Offer` fits). */
export interface GangOffer {
  id: string;
  agentId: string;
  resources: readonly Resource[];
  /** Executors of the framework already running on the agent. */
  executorIds?: readonly string[];
}

/** The executor gang tasks run in, whose resources an agent must also hold unless it runs it already. */
export interface GangExecutor {
  executorId: string;
  resources: readonly Resource[];
}

/** Options of {@link planGang}. */
export interface PlanGangOptions {
  /** The executor of the tasks. @default none (the tasks' resources alone) */
  executor?: GangExecutor;
}

/** Where one task of the gang goes. */
export interface GangAssignment {
  taskId: string;
  offerId: string;
  agentId: string;
}

/** A full plan for the gang, or none. */
export type GangPlan =
  | { ok: true; assignments: GangAssignment[]; usedOfferIds: string[]; unusedOfferIds: string[] }
  | { ok: false; reason: string; placed: number };

/** Options of {@link decideGang}. */
export interface DecideGangOptions extends PlanGangOptions {
  /** How long to hold offers before releasing them (the stage's `gangTimeoutMs`). */
  timeoutMs: number;
}

/** What to do with a gang's held offers now. */
export type GangDecision =
  /** Launch every task as assigned; decline the offers not used. The hold is emptied. */
  | { action: 'LAUNCH'; assignments: GangAssignment[]; usedOfferIds: string[]; declineOfferIds: string[] }
  /** Keep holding until `untilMs` (absent when nothing is held). */
  | { action: 'WAIT'; untilMs?: number; reason: string }
  /** Give the offers back: the timeout passed without enough. The hold is emptied. */
  | { action: 'RELEASE'; offerIds: string[]; reason: string };

/** Offers held for one gang stage: plain data. */
export interface GangHold {
  stage: string;
  /** When it started holding (the first offer after it was last emptied). */
  sinceMs?: number;
  offers: Record<string, GangOffer>;
}

/** A size to sort by: the sum of the scalars, each relative to the largest amount offered. */
function sizeOf(resources: readonly Resource[], scale: Map<string, number>): number {
  let size = 0;
  for (const [name, max] of scale) if (max > 0) size += scalar(resources, name) / max;
  return size;
}

/**
 * Assigns every task to one of `offers` so that what each offer gives covers the tasks put on it
 * (plus the executor's resources once per agent that does not run it yet), or assigns none.
 * Deterministic: first-fit decreasing, largest tasks first into the largest offers first, ties
 * broken by id.
 */
export function planGang(tasks: readonly GangTask[], offers: readonly GangOffer[], options: PlanGangOptions = {}): GangPlan {
  const scale = new Map<string, number>();
  for (const offer of offers) {
    for (const r of offer.resources) if (r.type === 'SCALAR') scale.set(r.name, Math.max(scale.get(r.name) ?? 0, r.scalar ?? 0));
  }
  const order = <T extends { resources: readonly Resource[] }>(items: readonly T[], id: (t: T) => string) =>
    items
      .map((item) => ({ item, size: sizeOf(item.resources, scale) }))
      .sort((a, b) => b.size - a.size || (id(a.item) < id(b.item) ? -1 : id(a.item) > id(b.item) ? 1 : 0))
      .map((x) => x.item);
  const sortedOffers = order(offers, (o) => o.id);
  const left = new Map(sortedOffers.map((o) => [o.id, [...o.resources]]));
  const executor = options.executor;
  const hosting = new Set<string>();
  if (executor !== undefined) for (const o of offers) if (o.executorIds?.includes(executor.executorId)) hosting.add(o.agentId);

  const assignments: GangAssignment[] = [];
  for (const task of order(tasks, (t) => t.taskId)) {
    let placed = false;
    for (const offer of sortedOffers) {
      const room = left.get(offer.id)!;
      const needsExecutor = executor !== undefined && !hosting.has(offer.agentId);
      const need = needsExecutor ? add(task.resources, executor.resources) : [...task.resources];
      if (!contains(room, need)) continue;
      left.set(offer.id, subtract(room, need));
      if (needsExecutor) hosting.add(offer.agentId);
      assignments.push({ taskId: task.taskId, offerId: offer.id, agentId: offer.agentId });
      placed = true;
      break;
    }
    if (!placed) {
      return { ok: false, reason: `task ${task.taskId} fits in none of the ${offers.length} offer(s) held after ${assignments.length} of ${tasks.length} were placed`, placed: assignments.length };
    }
  }
  const used = new Set(assignments.map((a) => a.offerId));
  return {
    ok: true,
    assignments: tasks.map((t) => assignments.find((a) => a.taskId === t.taskId)!),
    usedOfferIds: offers.filter((o) => used.has(o.id)).map((o) => o.id),
    unusedOfferIds: offers.filter((o) => !used.has(o.id)).map((o) => o.id),
  };
}

/** An empty hold for a gang stage. */
export function createGangHold(stage: string): GangHold {
  return { stage, offers: {} };
}

/** Adds offers to a hold; the hold's clock starts with the first. */
export function holdOffers(hold: GangHold, offers: readonly GangOffer[], now: number): void {
  for (const offer of offers) hold.offers[offer.id] = offer;
  if (hold.sinceMs === undefined && Object.keys(hold.offers).length > 0) hold.sinceMs = now;
}

/** Drops offers from a hold (rescinded, or used elsewhere). */
export function forgetOffers(hold: GangHold, offerIds: readonly string[]): void {
  for (const id of offerIds) delete hold.offers[id];
  if (Object.keys(hold.offers).length === 0) delete hold.sinceMs;
}

function emptyHold(hold: GangHold): string[] {
  const ids = Object.keys(hold.offers);
  hold.offers = {};
  delete hold.sinceMs;
  return ids;
}

/**
 * Decides what to do with the held offers at `now`: LAUNCH when the gang fits in them, RELEASE
 * them once `timeoutMs` has passed since the hold started, WAIT otherwise. LAUNCH and RELEASE
 * empty the hold.
 */
export function decideGang(hold: GangHold, tasks: readonly GangTask[], now: number, options: DecideGangOptions): GangDecision {
  const offers = Object.values(hold.offers);
  if (offers.length === 0 || hold.sinceMs === undefined) return { action: 'WAIT', reason: 'no offers held' };
  const plan = planGang(tasks, offers, options);
  if (plan.ok) {
    emptyHold(hold);
    return { action: 'LAUNCH', assignments: plan.assignments, usedOfferIds: plan.usedOfferIds, declineOfferIds: plan.unusedOfferIds };
  }
  const untilMs = hold.sinceMs + options.timeoutMs;
  if (now >= untilMs) {
    return { action: 'RELEASE', offerIds: emptyHold(hold), reason: `the gang of ${tasks.length} tasks did not fit within ${options.timeoutMs} ms: ${plan.reason}` };
  }
  return { action: 'WAIT', untilMs, reason: plan.reason };
}
