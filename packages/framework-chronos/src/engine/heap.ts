/**
 * An indexed binary min-heap: entries keyed by a string id, ordered by a numeric time (ties in
 * insertion order), with O(log n) insert, update and removal by id and O(1) access to the
 * earliest. The schedule engine keeps one entry per scheduled job, keyed by its next fire time.
 *
 * @example
 * ```ts
 * const heap = new TimerHeap();
 * heap.set('backup', Date.parse('2025-01-01T02:00:00Z'));
 * heap.set('report', Date.parse('2025-01-01T01:00:00Z'));
 * heap.peek(); // { id: 'report', time: … }
 * ```
 * @module
 */

/** An entry of a {@link TimerHeap}. */
export interface HeapEntry {
  /** The id the entry is kept under. */
  readonly id: string;
  /** Its key: the time it is due (ms). */
  time: number;
  /** Insertion order, breaking ties between equal times. */
  seq: number;
}

/** An indexed binary min-heap of ids by time. */
export class TimerHeap {
  readonly #items: HeapEntry[] = [];
  readonly #index = new Map<string, number>();
  #seq = 0;

  /** How many entries it holds. */
  get size(): number {
    return this.#items.length;
  }

  /** The earliest entry, or `undefined` when empty. */
  peek(): HeapEntry | undefined {
    return this.#items[0];
  }

  /** Whether an entry with this id is in the heap. */
  has(id: string): boolean {
    return this.#index.has(id);
  }

  /** The time of the entry with this id, or `undefined`. */
  timeOf(id: string): number | undefined {
    const i = this.#index.get(id);
    return i === undefined ? undefined : this.#items[i]!.time;
  }

  /** Inserts an entry, or moves the one with this id to a new time. */
  set(id: string, time: number): void {
    const i = this.#index.get(id);
    if (i === undefined) {
      const entry: HeapEntry = { id, time, seq: this.#seq++ };
      this.#items.push(entry);
      this.#index.set(id, this.#items.length - 1);
      this.#up(this.#items.length - 1);
      return;
    }
    const entry = this.#items[i]!;
    const old = entry.time;
    entry.time = time;
    entry.seq = this.#seq++;
    if (time < old) this.#up(i);
    else this.#down(i);
  }

  /** Removes the entry with this id; whether there was one. */
  delete(id: string): boolean {
    const i = this.#index.get(id);
    if (i === undefined) return false;
    this.#removeAt(i);
    return true;
  }

  /** Removes and returns the earliest entry. */
  pop(): HeapEntry | undefined {
    if (this.#items.length === 0) return undefined;
    const top = this.#items[0]!;
    this.#removeAt(0);
    return top;
  }

  /** Removes everything. */
  clear(): void {
    this.#items.length = 0;
    this.#index.clear();
  }

  /** The entries in heap order (not sorted); for tests and snapshots. */
  entries(): readonly HeapEntry[] {
    return this.#items;
  }

  /** Checks the heap property and the index; throws on a violation. For tests. */
  assertValid(): void {
    const items = this.#items;
    if (this.#index.size !== items.length) throw new Error(`index has ${this.#index.size} ids for ${items.length} entries`);
    items.forEach((entry, i) => {
      if (this.#index.get(entry.id) !== i) throw new Error(`index of '${entry.id}' is ${this.#index.get(entry.id)}, not ${i}`);
      if (i > 0 && this.#less(i, (i - 1) >> 1)) throw new Error(`entry ${i} is earlier than its parent`);
    });
  }

  #removeAt(i: number): void {
    const items = this.#items;
    this.#index.delete(items[i]!.id);
    const last = items.pop()!;
    if (i === items.length) return; // the removed entry was the last one
    items[i] = last;
    this.#index.set(last.id, i);
    this.#down(i);
    this.#up(i);
  }

  #less(a: number, b: number): boolean {
    const x = this.#items[a]!;
    const y = this.#items[b]!;
    return x.time < y.time || (x.time === y.time && x.seq < y.seq);
  }

  #swap(a: number, b: number): void {
    const items = this.#items;
    const x = items[a]!;
    const y = items[b]!;
    items[a] = y;
    items[b] = x;
    this.#index.set(y.id, a);
    this.#index.set(x.id, b);
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.#less(right, left) ? right : left;
      if (!this.#less(child, i)) return;
      this.#swap(i, child);
      i = child;
    }
  }
}
