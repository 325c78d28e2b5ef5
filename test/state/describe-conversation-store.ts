/**
 * The contract every ConversationStore adapter passes: call it from each adapter's test with a factory of
 * fresh, empty stores.
 */
import { describe, expect, it } from 'vitest';
import { isChorusError } from '../../src/errors.ts';
import type { ConversationStore } from '../../src/state/conversation-store.ts';

export function describeConversationStore(name: string, makeStore: () => Promise<ConversationStore> | ConversationStore): void {
  describe(`ConversationStore contract: ${name}`, () => {
    it('reads undefined for a key never set, and what was set otherwise', async () => {
      const store = await makeStore();
      expect(await store.get('a')).toBeUndefined();
      await store.set('a', { n: 1, tags: ['x'], nested: { ok: true, none: null } });
      expect(await store.get('a')).toEqual({ n: 1, tags: ['x'], nested: { ok: true, none: null } });
    });

    it('keeps keys apart and deletes one without touching the others', async () => {
      const store = await makeStore();
      await store.set('a', 1);
      await store.set('b', 2);
      await store.delete('a');
      expect(await store.get('a')).toBeUndefined();
      expect(await store.get('b')).toBe(2);
    });

    it('does not share mutable objects with the caller', async () => {
      const store = await makeStore();
      const value = { list: [1] };
      await store.set('a', value);
      value.list.push(2);
      const read = (await store.get('a')) as { list: number[] };
      read.list.push(3);
      expect(await store.get('a')).toEqual({ list: [1] });
    });

    it('loses no update when 200 updates of one key run concurrently', async () => {
      const store = await makeStore();
      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          store.update<number>('counter', async (n) => {
            await new Promise((resolve) => setImmediate(resolve));
            return (n ?? 0) + 1;
          }),
        ),
      );
      expect(await store.get('counter')).toBe(200);
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    });

    it('rejects a value that is not JSON at set, naming the path, and keeps the old value', async () => {
      const store = await makeStore();
      await store.set('a', { ok: 1 });
      const bad = [{ when: new Date(0) }, { f: () => 1 }, { n: Number.NaN }, { big: 1n }, [undefined]];
      for (const value of bad) {
        const err: unknown = await store.set('a', value).then(() => undefined, (e: unknown) => e);
        expect(isChorusError(err, 'CHORUS_ERR_STATE_VALUE')).toBe(true);
      }
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await expect(store.set('a', cyclic)).rejects.toThrow(/\$\.self/);
      expect(await store.get('a')).toEqual({ ok: 1 });
    });

    it('stores nothing when an update function throws or returns a non-JSON value', async () => {
      const store = await makeStore();
      await store.set('a', 5);
      await expect(store.update('a', () => { throw new Error('boom'); })).rejects.toThrow('boom');
      await expect(store.update('a', () => new Map())).rejects.toThrow(/plain objects/);
      expect(await store.update<number>('a', (n) => (n ?? 0) + 1)).toBe(6);
    });
  });
}
