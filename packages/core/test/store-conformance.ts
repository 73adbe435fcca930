/**
 * The conformance suite of the `Store` interface, run against every implementation so that
 * `MemoryStore` and `NatsKvStore` keep the same semantics (those of JetStream KV).
 *
 * @example
 * ```ts
 * describeStoreConformance('MemoryStore', async () => {
 *   const store = MemoryStore.create();
 *   return { store, cleanup: () => store.close() };
 * });
 * ```
 * @module
 */

import { AlreadyExistsError, ConflictError, type Store, type StoreEntry, type StoreWatch, UnavailableError, ValidationError } from '@stoa/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** What a conformance run needs: a fresh, empty store and how to dispose of it. */
export interface StoreFixture {
  /** An empty store. */
  store: Store;
  /** Releases it; must tolerate a store the test already closed. */
  cleanup(): Promise<void>;
}

const text = new TextEncoder();
const bytes = (s: string): Uint8Array => text.encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Reads the next entry of a watch iterator, failing if none comes within `timeoutMs`. */
export async function nextEntry(iterator: AsyncIterator<StoreEntry>, what: string, timeoutMs = 10_000): Promise<IteratorResult<StoreEntry>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no watch entry within ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([iterator.next(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads exactly `n` entries, failing if the watch ends or stalls first. */
export async function takeEntries(iterator: AsyncIterator<StoreEntry>, n: number, what: string, timeoutMs = 10_000): Promise<StoreEntry[]> {
  const out: StoreEntry[] = [];
  while (out.length < n) {
    const r = await nextEntry(iterator, `${what} (${out.length} of ${n})`, timeoutMs);
    if (r.done) throw new Error(`the watch ended after ${out.length} of ${n} entries: ${what}`);
    out.push(r.value);
  }
  return out;
}

/** The promise's rejection, failing if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** `op key=value` for PUTs and `DEL key` for deletes, to compare sequences. */
const show = (e: StoreEntry): string => (e.operation === 'PUT' ? `PUT ${e.key}=${str(e.value)}` : `DEL ${e.key}`);

function expectIncreasing(entries: StoreEntry[]): void {
  for (let i = 1; i < entries.length; i++) {
    expect(entries[i]!.revision, `revision ${i} after ${i - 1}`).toBeGreaterThan(entries[i - 1]!.revision);
  }
}

/**
 * Describes the conformance suite for one implementation. `setup` gives each test a fresh empty
 * store; `cleanup` runs after each test, also a failed one.
 */
export function describeStoreConformance(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`Store conformance: ${name}`, () => {
    let fixture: StoreFixture | undefined;
    let store: Store;
    const watches: StoreWatch[] = [];

    beforeEach(async () => {
      fixture = await setup();
      store = fixture.store;
    });

    afterEach(async () => {
      for (const w of watches.splice(0)) w.stop();
      await fixture?.cleanup();
      fixture = undefined;
    });

    /** A watch that is stopped after the test, with its one iterator. */
    async function watch(options?: Parameters<Store['watch']>[0]) {
      const w = await store.watch(options);
      watches.push(w);
      return { watch: w, iterator: w[Symbol.asyncIterator]() };
    }

    it('puts and gets a value with its revision, operation and time', async () => {
      const before = Date.now();
      const rev = await store.put('agents.a-1', bytes('one'));
      expect(rev).toBeGreaterThan(0);
      const e = await store.get('agents.a-1');
      expect(e).not.toBeNull();
      expect(e?.key).toBe('agents.a-1');
      expect(str(e!.value)).toBe('one');
      expect(e?.revision).toBe(rev);
      expect(e?.operation).toBe('PUT');
      // The server's clock stamps NATS entries; on one machine it is close to ours.
      expect(e!.createdMs).toBeGreaterThan(before - 60_000);
      expect(e!.createdMs).toBeLessThan(Date.now() + 60_000);
      expect(await store.get('agents.nobody')).toBeNull();
    });

    it('overwrites with put and keeps one revision counter across keys', async () => {
      const r1 = await store.put('k.a', bytes('1'));
      const r2 = await store.put('k.b', bytes('2'));
      const r3 = await store.put('k.a', bytes('3'));
      expect(r2).toBeGreaterThan(r1);
      expect(r3).toBeGreaterThan(r2);
      expect(str((await store.get('k.a'))!.value)).toBe('3');
      expect((await store.get('k.a'))?.revision).toBe(r3);
      expect(str((await store.get('k.b'))!.value)).toBe('2');
    });

    it('keeps an empty value apart from a missing key', async () => {
      await store.put('empty', new Uint8Array(0));
      const e = await store.get('empty');
      expect(e?.operation).toBe('PUT');
      expect(e?.value.length).toBe(0);
    });

    it('creates only if absent: a second create is AlreadyExistsError and changes nothing', async () => {
      const rev = await store.create('leader', bytes('m1'));
      const error = await rejection(store.create('leader', bytes('m2')));
      expect(AlreadyExistsError.isInstance(error)).toBe(true);
      const e = await store.get('leader');
      expect(str(e!.value)).toBe('m1');
      expect(e?.revision).toBe(rev);
    });

    it('creates over a deleted key', async () => {
      const r1 = await store.put('leader', bytes('m1'));
      await store.delete('leader');
      expect(await store.get('leader')).toBeNull();
      const r2 = await store.create('leader', bytes('m2'));
      expect(r2).toBeGreaterThan(r1);
      const e = await store.get('leader');
      expect(str(e!.value)).toBe('m2');
      expect(e?.revision).toBe(r2);
      expect(AlreadyExistsError.isInstance(await rejection(store.create('leader', bytes('m3'))))).toBe(true);
    });

    it('updates on the current revision and refuses a stale one with ConflictError', async () => {
      const r1 = await store.create('lease', bytes('a'));
      const r2 = await store.update('lease', bytes('b'), r1);
      expect(r2).toBeGreaterThan(r1);
      const error = await rejection(store.update('lease', bytes('c'), r1));
      expect(ConflictError.isInstance(error)).toBe(true);
      expect((error as ConflictError).details).toMatchObject({ key: 'lease', expectedRevision: r1 });
      expect(str((await store.get('lease'))!.value)).toBe('b');
      // A revision of another key is stale too.
      const other = await store.put('other', bytes('x'));
      expect(ConflictError.isInstance(await rejection(store.update('lease', bytes('d'), other)))).toBe(true);
      const r3 = await store.update('lease', bytes('e'), r2);
      expect(str((await store.get('lease'))!.value)).toBe('e');
      expect((await store.get('lease'))?.revision).toBe(r3);
    });

    it('refuses an update of a missing key with ConflictError', async () => {
      const rev = await store.put('somewhere', bytes('x'));
      expect(ConflictError.isInstance(await rejection(store.update('missing', bytes('y'), rev)))).toBe(true);
      expect(await store.get('missing')).toBeNull();
    });

    it('deletes with a revision only if it is still the latest', async () => {
      const r1 = await store.put('lease', bytes('a'));
      const r2 = await store.put('lease', bytes('b'));
      const error = await rejection(store.delete('lease', { revision: r1 }));
      expect(ConflictError.isInstance(error)).toBe(true);
      expect((error as ConflictError).details).toMatchObject({ key: 'lease', expectedRevision: r1 });
      expect(str((await store.get('lease'))!.value)).toBe('b');
      await store.delete('lease', { revision: r2 });
      expect(await store.get('lease')).toBeNull();
    });

    it('deletes unconditionally, and a delete leaves the key out of keys()', async () => {
      await store.put('agents.a-1', bytes('1'));
      await store.put('agents.a-2', bytes('2'));
      await store.delete('agents.a-1');
      expect(await store.get('agents.a-1')).toBeNull();
      expect(await store.keys()).toEqual(['agents.a-2']);
      // Deleting again (or a key that never was) is not an error.
      await store.delete('agents.a-1');
      await store.delete('agents.never');
      expect(await store.keys()).toEqual(['agents.a-2']);
    });

    it('lists keys, with and without a filter', async () => {
      expect(await store.keys()).toEqual([]);
      const all = ['agents.a-1', 'agents.a-2', 'agents.x.y', 'frameworks.f-1', 'a.b.c', 'a.x.c', 'a.b.d', 'a.b.c.d', 'top'];
      for (const k of all) await store.put(k, bytes(k));
      await store.put('agents.gone', bytes('x'));
      await store.delete('agents.gone');
      const sorted = (xs: string[]) => [...xs].sort();
      expect(sorted(await store.keys())).toEqual(sorted(all));
      expect(sorted(await store.keys('>'))).toEqual(sorted(all));
      expect(sorted(await store.keys('agents.>'))).toEqual(['agents.a-1', 'agents.a-2', 'agents.x.y']);
      expect(sorted(await store.keys('agents.*'))).toEqual(['agents.a-1', 'agents.a-2']);
      expect(sorted(await store.keys('a.*.c'))).toEqual(['a.b.c', 'a.x.c']);
      expect(sorted(await store.keys('a.b.c'))).toEqual(['a.b.c']);
      expect(sorted(await store.keys('*'))).toEqual(['top']);
      expect(await store.keys('nothing.>')).toEqual([]);
    });

    it('refuses invalid keys and filters with ValidationError naming the key', async () => {
      const bad = ['', 'a..b', '.a', 'a.', 'a b', 'a.*', 'a.>', '>', 'ä', 'a\tb'];
      for (const key of bad) {
        for (const call of [
          () => store.get(key),
          () => store.put(key, bytes('x')),
          () => store.create(key, bytes('x')),
          () => store.update(key, bytes('x'), 1),
          () => store.delete(key),
        ]) {
          const error = await rejection(call());
          expect(ValidationError.isInstance(error), `${JSON.stringify(key)}: ${String(error)}`).toBe(true);
          expect((error as ValidationError).field).toBe('key');
        }
      }
      for (const filter of ['', 'a..b', 'a.>.b', '>.a', 'a.b*', 'a b']) {
        expect(ValidationError.isInstance(await rejection(store.keys(filter))), filter).toBe(true);
        const error = await rejection(store.watch({ key: filter }));
        expect(ValidationError.isInstance(error), filter).toBe(true);
        expect((error as ValidationError).field).toBe('key');
      }
    });

    it('watches with include last: the current values (no deletes), then every change', async () => {
      await store.put('x.1', bytes('1'));
      await store.put('x.2', bytes('2'));
      await store.put('x.3', bytes('3'));
      await store.delete('x.3');
      await store.put('x.2', bytes('2b'));
      await store.put('y.1', bytes('outside'));
      const { iterator } = await watch({ key: 'x.>', include: 'last' });
      const initial = await takeEntries(iterator, 2, 'current values');
      expect(initial.map(show).sort()).toEqual(['PUT x.1=1', 'PUT x.2=2b']);
      await store.put('x.4', bytes('4'));
      await store.delete('x.1');
      await store.put('y.2', bytes('outside'));
      await store.put('x.end', bytes('end'));
      const changes = await takeEntries(iterator, 3, 'changes');
      expect(changes.map(show)).toEqual(['PUT x.4=4', 'DEL x.1', 'PUT x.end=end']);
      expect(changes.every((e) => e.revision > Math.max(...initial.map((i) => i.revision)))).toBe(true);
      expectIncreasing(changes);
      expect(changes[1]?.value.length).toBe(0);
    });

    it('watches with include last by default, and an empty store gives only changes', async () => {
      const { iterator } = await watch();
      await store.put('first', bytes('1'));
      const [e] = await takeEntries(iterator, 1, 'the first put');
      expect(show(e!)).toBe('PUT first=1');
      const second = await watch();
      const [again] = await takeEntries(second.iterator, 1, 'the current value');
      expect(show(again!)).toBe('PUT first=1');
    });

    it('watches with include updates: only changes made after the watch started', async () => {
      await store.put('x.1', bytes('old'));
      await store.put('x.2', bytes('old'));
      const { iterator } = await watch({ key: 'x.>', include: 'updates' });
      await store.put('x.1', bytes('new'));
      await store.delete('x.2');
      const entries = await takeEntries(iterator, 2, 'updates');
      expect(entries.map(show)).toEqual(['PUT x.1=new', 'DEL x.2']);
    });

    it('watches a filter with * and a single key', async () => {
      const star = await watch({ key: 'a.*.c', include: 'updates' });
      const single = await watch({ key: 'a.b.c', include: 'updates' });
      // No key is written twice before it is read: an overwritten value may be skipped.
      for (const k of ['a.b.c', 'a.b.d', 'a.x.c', 'a.b.c.d', 'b.b.c', 'a.end.c']) await store.put(k, bytes(k));
      expect((await takeEntries(star.iterator, 3, 'a.*.c')).map((e) => e.key)).toEqual(['a.b.c', 'a.x.c', 'a.end.c']);
      expect((await takeEntries(single.iterator, 1, 'a.b.c')).map(show)).toEqual(['PUT a.b.c=a.b.c']);
      await store.delete('a.b.c');
      // The next entry of each is this delete: nothing outside the filters came in between.
      expect((await takeEntries(single.iterator, 1, 'a.b.c deleted')).map(show)).toEqual(['DEL a.b.c']);
      expect((await takeEntries(star.iterator, 1, 'a.b.c deleted')).map(show)).toEqual(['DEL a.b.c']);
    });

    it('delivers every write that is not overwritten, in order, to several watchers', async () => {
      const watchers = [await watch({ include: 'updates' }), await watch({ include: 'updates' }), await watch({ key: 'w.>' })];
      const expected: string[] = [];
      const revisions: number[] = [];
      for (let i = 0; i < 200; i++) {
        // Every key is written once, so no write can be skipped as overwritten. Deletes write a
        // marker even for a key that was never there.
        const key = `w.k${i}`;
        if (i % 5 === 4) {
          await store.delete(key);
          expected.push(`DEL ${key}`);
          revisions.push(0);
        } else {
          revisions.push(await store.put(key, bytes(`v${i}`)));
          expected.push(`PUT ${key}=v${i}`);
        }
      }
      for (const [n, { iterator }] of watchers.entries()) {
        const got = await takeEntries(iterator, expected.length, `watcher ${n}`, 20_000);
        expect(got.map(show)).toEqual(expected);
        expectIncreasing(got);
        for (const [i, rev] of revisions.entries()) if (rev > 0) expect(got[i]?.revision).toBe(rev);
      }
    });

    it('converges on the latest value of every key while keys are overwritten and deleted', async () => {
      const watchers = [await watch({ include: 'updates' }), await watch({ key: 'w.>' })];
      const log: Array<{ shown: string; revision: number }> = [];
      const keys = Array.from({ length: 17 }, (_, i) => `w.k${i}`);
      for (let i = 0; i < 300; i++) {
        const key = keys[(i * 7) % keys.length]!;
        if (i % 5 === 4) {
          await store.delete(key);
          log.push({ shown: `DEL ${key}`, revision: 0 });
        } else {
          log.push({ shown: `PUT ${key}=v${i}`, revision: await store.put(key, bytes(`v${i}`)) });
        }
      }
      log.push({ shown: 'PUT w.zz-end=end', revision: await store.put('w.zz-end', bytes('end')) });
      const latest = new Map<string, string>();
      for (const { shown } of log) latest.set(shown.split(/[ =]/)[1]!, shown);

      for (const [n, { iterator }] of watchers.entries()) {
        const got: StoreEntry[] = [];
        while (got.at(-1)?.key !== 'w.zz-end') {
          const r = await nextEntry(iterator, `watcher ${n} after ${got.length} entries`, 20_000);
          if (r.done) throw new Error(`watcher ${n} ended after ${got.length} entries`);
          got.push(r.value);
        }
        expectIncreasing(got);
        // What came is the log in its order, some overwritten writes perhaps left out.
        let at = 0;
        for (const e of got) {
          while (at < log.length && (log[at]!.shown !== show(e) || (log[at]!.revision > 0 && log[at]!.revision !== e.revision))) at++;
          expect(at, `watcher ${n}: ${show(e)} at revision ${e.revision} is not next in the log`).toBeLessThan(log.length);
          at++;
        }
        const last = new Map<string, string>();
        for (const e of got) last.set(e.key, show(e));
        expect(last).toEqual(latest);
      }
    });

    it('delivers to a watcher that is slow to read, in order', async () => {
      const { iterator } = await watch({ key: 'slow.>', include: 'updates' });
      const revs: number[] = [];
      for (let i = 0; i < 50; i++) revs.push(await store.put(`slow.${i}`, bytes(`${i}`)));
      const got = await takeEntries(iterator, 50, 'slow reader');
      expect(got.map((e) => e.revision)).toEqual(revs);
    });

    it('ends the iterator on stop(), and on break', async () => {
      const { watch: w, iterator } = await watch({ include: 'updates' });
      const pending = nextEntry(iterator, 'the end of a stopped watch');
      w.stop();
      expect((await pending).done).toBe(true);
      await store.put('after', bytes('x'));
      expect((await nextEntry(iterator, 'a stopped watch')).done).toBe(true);

      const other = await store.watch({ include: 'updates' });
      watches.push(other);
      await store.put('one', bytes('1'));
      const seen: string[] = [];
      for await (const e of other) {
        seen.push(e.key);
        break;
      }
      expect(seen).toEqual(['one']);
      // Breaking stopped it: iterating again ends at once.
      await store.put('two', bytes('2'));
      expect((await nextEntry(other[Symbol.asyncIterator](), 'a watch left by break')).done).toBe(true);
    });

    it('throws UnavailableError once closed, and close() ends the watches', async () => {
      await store.put('k', bytes('v'));
      const { iterator } = await watch({ include: 'updates' });
      const pending = nextEntry(iterator, 'the end of a watch at close');
      await store.close();
      expect((await pending).done).toBe(true);
      const calls: Array<() => Promise<unknown>> = [
        () => store.get('k'),
        () => store.put('k', bytes('x')),
        () => store.create('n', bytes('x')),
        () => store.update('k', bytes('x'), 1),
        () => store.delete('k'),
        () => store.keys(),
        () => store.watch(),
      ];
      for (const call of calls) {
        const error = await rejection(call());
        expect(UnavailableError.isInstance(error), String(error)).toBe(true);
      }
      await store.close();
    });
  });
}
