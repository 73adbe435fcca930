/**
 * A binary min-heap of decline-filter expiries, so a cycle finds the filters that lapsed since
 * the last one without looking at the others. Entries are never removed early: a filter that was
 * cleared or replaced leaves a stale entry that the allocator recognizes and skips when it pops.
 *
 * @example
 * ```ts
 * const heap = new ExpiryHeap();
 * heap.push({ atMs: 5000, agentId: 'a1', frameworkId: 'f1' });
 * heap.popUntil(6000, (e) => console.log(e.agentId)); // a1
 * ```
 * @module
 */

/** A filter expiry: `frameworkId` may be offered `agentId` again from `atMs` on. */
export interface Expiry {
  /** When the filter lapses (ms since the epoch, as the caller's clock gives it). */
  readonly atMs: number;
  /** The filtered agent. */
  readonly agentId: string;
  /** The framework that declined. */
  readonly frameworkId: string;
}

/** A min-heap of {@link Expiry} ordered by `atMs`. */
export class ExpiryHeap {
  private readonly heap: Expiry[] = [];

  /** The number of entries, stale ones included. */
  get size(): number {
    return this.heap.length;
  }

  /** The earliest entry's time, or `undefined` when empty. */
  peekMs(): number | undefined {
    return this.heap[0]?.atMs;
  }

  /** Adds an entry. */
  push(e: Expiry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (p.atMs <= e.atMs) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  /** Removes and returns the earliest entry. */
  pop(): Expiry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.atMs < h[l]!.atMs ? r : l;
      if (h[c]!.atMs >= last.atMs) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }

  /** Pops every entry with `atMs <= nowMs`, in order, handing each to `visit`. */
  popUntil(nowMs: number, visit: (e: Expiry) => void): void {
    while (this.heap.length > 0 && this.heap[0]!.atMs <= nowMs) visit(this.pop()!);
  }

  /** Drops every entry. */
  clear(): void {
    this.heap.length = 0;
  }
}
