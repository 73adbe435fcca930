/**
 * The Store conformance suite on {@link MemoryStore}, and what is particular to it.
 *
 * @module
 */
import { MemoryStore } from '@stoa/core';
import { describe, expect, it } from 'vitest';
import { describeStoreConformance, takeEntries } from './store-conformance.js';

describeStoreConformance('MemoryStore', async () => {
  const store = MemoryStore.create();
  return { store, cleanup: () => store.close() };
});

describe('MemoryStore', () => {
  it('delivers every change to a watch, overwritten ones too', async () => {
    const store = MemoryStore.create();
    const watch = await store.watch({ include: 'updates' });
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) {
      const key = `k${i % 7}`;
      if (i % 5 === 4) {
        await store.delete(key);
        expected.push(`DEL ${key}`);
      } else {
        await store.put(key, new Uint8Array([i % 256]));
        expected.push(`PUT ${key}`);
      }
    }
    const got = await takeEntries(watch[Symbol.asyncIterator](), expected.length, 'every change');
    expect(got.map((e) => `${e.operation} ${e.key}`)).toEqual(expected);
    expect(got.map((e) => e.revision)).toEqual(got.map((_, i) => i + 1));
    await store.close();
  });

  it('copies a value when it is written', async () => {
    const store = new MemoryStore();
    const value = new Uint8Array([1, 2, 3]);
    await store.put('k', value);
    value[0] = 9;
    expect([...(await store.get('k'))!.value]).toEqual([1, 2, 3]);
    await store.close();
  });

  it('reports its state and closes on dispose', async () => {
    let kept: MemoryStore | undefined;
    {
      await using store = MemoryStore.create();
      kept = store;
      expect(store.kind).toBe('memory');
      expect(store.state).toBe('open');
    }
    expect(kept.state).toBe('closed');
  });
});
