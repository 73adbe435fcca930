/**
 * A list kept in ascending order of `key` (ties broken by `name`) whose members know their own
 * position, so that when one member's key changes it moves to its new place in time proportional
 * to the distance moved. The allocator keeps roles and frameworks in these, lowest share first,
 * and walks them in order to find who is offered an agent next.
 *
 * @example
 * ```ts
 * const list = new RankedList<Ranked>();
 * const a = { key: 0, name: 'a', pos: -1 };
 * list.insert(a);
 * list.rekey(a, 0.5); // moves `a` past anything with a key below 0.5
 * ```
 * @module
 */

/** A member of a {@link RankedList}: the list owns `pos` (−1 while it is in none). */
export interface Ranked {
  /** The sort key: lower comes first. */
  key: number;
  /** The tie-break: lower comes first among equal keys. */
  readonly name: string;
  /** Index in the list it belongs to, or −1. */
  pos: number;
}

/** Whether `a` sorts before `b`. */
export function ranksBefore(a: Ranked, b: Ranked): boolean {
  return a.key < b.key || (a.key === b.key && a.name < b.name);
}

function compare(a: Ranked, b: Ranked): number {
  return ranksBefore(a, b) ? -1 : ranksBefore(b, a) ? 1 : 0;
}

/** An ordered list of {@link Ranked} members; each member may be in one list at a time. */
export class RankedList<T extends Ranked> {
  /** The members, lowest first. Read-only for callers: change keys through {@link rekey}. */
  readonly items: T[] = [];

  /** The number of members. */
  get size(): number {
    return this.items.length;
  }

  /** Adds `x` at its place (binary search). */
  insert(x: T): void {
    const items = this.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ranksBefore(items[mid]!, x)) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, x);
    for (let i = lo; i < items.length; i++) items[i]!.pos = i;
  }

  /** Removes `x` (no-op when it is not a member of this list). */
  remove(x: T): void {
    const items = this.items;
    const at = x.pos;
    if (at < 0 || items[at] !== x) return;
    items.splice(at, 1);
    for (let i = at; i < items.length; i++) items[i]!.pos = i;
    x.pos = -1;
  }

  /** Whether `x` is a member. */
  has(x: T): boolean {
    return x.pos >= 0 && this.items[x.pos] === x;
  }

  /** Sets `x.key` and moves `x` to its new place; for a non-member only the key is set. */
  rekey(x: T, key: number): void {
    x.key = key;
    if (!this.has(x)) return;
    const items = this.items;
    const from = x.pos;
    let to = from;
    if (from > 0 && ranksBefore(x, items[from - 1]!)) {
      // Binary search for the first member in [0, from) that x sorts before.
      let lo = 0;
      let hi = from - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ranksBefore(x, items[mid]!)) hi = mid;
        else lo = mid + 1;
      }
      to = lo;
      for (let i = from; i > to; i--) {
        const y = items[i - 1]!;
        items[i] = y;
        y.pos = i;
      }
    } else if (from < items.length - 1 && ranksBefore(items[from + 1]!, x)) {
      // Binary search for the last member in (from, n) that sorts before x.
      let lo = from + 1;
      let hi = items.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (ranksBefore(items[mid]!, x)) lo = mid;
        else hi = mid - 1;
      }
      to = lo;
      for (let i = from; i < to; i++) {
        const y = items[i + 1]!;
        items[i] = y;
        y.pos = i;
      }
    } else {
      return;
    }
    items[to] = x;
    x.pos = to;
  }

  /** Re-sorts after many keys were changed in place. */
  resort(): void {
    const items = this.items;
    items.sort(compare);
    for (let i = 0; i < items.length; i++) items[i]!.pos = i;
  }
}
