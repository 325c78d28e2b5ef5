import { describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import { createMemoryStore } from './memory-store.ts';
import { createUnitOfWork } from './unit-of-work.ts';

describe('createUnitOfWork', () => {
  it('reads through to the store, sees its own writes first, and leaves the store untouched', async () => {
    const store = createMemoryStore();
    await store.set('a', 1);
    await store.set('b', 2);
    const work = createUnitOfWork(store);
    expect(await work.get('a')).toBe(1);
    await work.set('a', 10);
    await work.delete('b');
    expect(await work.update<number>('c', (n) => (n ?? 0) + 5)).toBe(5);
    expect(await work.get('a')).toBe(10);
    expect(await work.get('b')).toBeUndefined();
    expect(await store.get('a')).toBe(1);
    expect(await store.get('b')).toBe(2);
    expect(work.changes()).toEqual([
      { key: 'a', text: '10' },
      { key: 'b', text: undefined },
      { key: 'c', text: '5' },
    ]);
  });

  it('chains concurrent updates of one key', async () => {
    const work = createUnitOfWork(createMemoryStore());
    await Promise.all(
      Array.from({ length: 20 }, () =>
        work.update<number>('n', async (n) => {
          await new Promise((resolve) => setImmediate(resolve));
          return (n ?? 0) + 1;
        }),
      ),
    );
    expect(work.changes()).toEqual([{ key: 'n', text: '20' }]);
  });

  it('rejects a value that is not JSON at set and keeps nothing of it', async () => {
    const work = createUnitOfWork(createMemoryStore());
    const err: unknown = await work.set('a', { when: new Date(0) }).catch((e: unknown) => e);
    expect(isChorusError(err, 'CHORUS_ERR_STATE_VALUE')).toBe(true);
    expect(work.changes()).toEqual([]);
  });
});
