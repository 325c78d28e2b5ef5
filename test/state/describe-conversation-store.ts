/**
 * The contract every ConversationStore adapter passes: call it from each adapter's test with a factory of
 * fresh, empty stores. Every store the suite opens is closed after its test.
 */
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isChorusError } from '../../src/errors.ts';
import type { ConversationStore } from '../../src/state/conversation-store.ts';

/** What the suite asks of a factory: `now` is passed only to adapters with an injected clock. */
export type StoreFactoryOptions = { readonly ttlMs?: number; readonly now?: () => number };

/** How an adapter runs the contract. */
export type ContractOptions = {
  /**
   * `injected`: the adapter takes `now`, and TTL cases move a fake clock (exact to the millisecond).
   * `server`: the backend expires values on its own clock (Redis), so TTL cases use a short `ttlMs`, real
   * time and polling; they check expiry and refresh with margins of hundreds of ms, not exact instants.
   */
  readonly clock: 'injected' | 'server';
  /**
   * Opens a second store instance on the backing storage of `first` (same SQLite file; same Redis and key
   * prefix, over its own connection). Given, the suite adds the cases of two instances sharing one key;
   * the memory adapter shares nothing between instances and leaves it out.
   */
  readonly makeSecondInstance?: (first: ConversationStore) => Promise<ConversationStore> | ConversationStore;
};

const DAY_MS = 86_400_000;

export function describeConversationStore(
  name: string,
  makeStore: (options: StoreFactoryOptions) => Promise<ConversationStore> | ConversationStore,
  contract: ContractOptions,
): void {
  describe(`ConversationStore contract: ${name}`, () => {
    const opened: ConversationStore[] = [];
    const open = async (options: StoreFactoryOptions = {}): Promise<ConversationStore> => {
      const store = await makeStore(options);
      opened.push(store);
      return store;
    };
    const openSecond = async (first: ConversationStore): Promise<ConversationStore> => {
      if (contract.makeSecondInstance === undefined) throw new Error(`${name}: no makeSecondInstance`);
      const store = await contract.makeSecondInstance(first);
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    it('reads undefined for a key never set, and what was set otherwise', async () => {
      const store = await open();
      expect(await store.get('a')).toBeUndefined();
      await store.set('a', { n: 1, tags: ['x'], nested: { ok: true, none: null } });
      expect(await store.get('a')).toEqual({ n: 1, tags: ['x'], nested: { ok: true, none: null } });
    });

    it('keeps keys apart and deletes one without touching the others', async () => {
      const store = await open();
      await store.set('a', 1);
      await store.set('b', 2);
      await store.delete('a');
      await store.delete('never-set');
      expect(await store.get('a')).toBeUndefined();
      expect(await store.get('b')).toBe(2);
    });

    it('does not share mutable objects with the caller', async () => {
      const store = await open();
      const value = { list: [1] };
      await store.set('a', value);
      value.list.push(2);
      const read = (await store.get('a')) as { list: number[] };
      read.list.push(3);
      expect(await store.get('a')).toEqual({ list: [1] });
    });

    it('loses no update when 200 updates of one key run concurrently', async () => {
      const store = await open();
      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          store.update<number>('counter', async (n) => {
            await tick();
            return (n ?? 0) + 1;
          }),
        ),
      );
      expect(await store.get('counter')).toBe(200);
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    });

    it('reruns an update on the new value when a set or delete lands while its function runs', async () => {
      const store = await open();
      await store.set('a', 1);
      await store.set('b', 1);
      const seen: Record<'a' | 'b', (number | undefined)[]> = { a: [], b: [] };
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const increment = (key: 'a' | 'b') => async (n: number | undefined) => {
        seen[key].push(n);
        if (seen[key].length === 1) await gate;
        return (n ?? 0) + 1;
      };
      const updates = [store.update('a', increment('a')), store.update('b', increment('b'))];
      await waitFor(() => seen.a.length === 1 && seen.b.length === 1);
      await store.set('a', 10);
      await store.delete('b');
      release();
      expect(await Promise.all(updates)).toEqual([11, 1]);
      expect(seen).toEqual({ a: [1, 10], b: [1, undefined] });
      expect(await store.get('a')).toBe(11);
      expect(await store.get('b')).toBe(1);
    });

    it('rejects a value that is not JSON at set, naming the path, and keeps the old value', async () => {
      const store = await open();
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
      const store = await open();
      await store.set('a', 5);
      await expect(store.update('a', () => { throw new Error('boom'); })).rejects.toThrow('boom');
      await expect(store.update('a', () => new Map())).rejects.toThrow(/plain objects/);
      expect(await store.update<number>('a', (n) => (n ?? 0) + 1)).toBe(6);
    });

    it('finishes an update in flight at close, then refuses every call; close again is fine', async () => {
      const store = await open();
      let started = false;
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const updating = store.update('a', async () => {
        started = true;
        await gate;
        return 'done';
      });
      await waitFor(() => started);
      const closing = store.close();
      await expectUnavailable(store.set('b', 1));
      release();
      expect(await updating).toBe('done');
      await closing;
      await expectUnavailable(store.get('a'));
      await expectUnavailable(store.set('a', 1));
      await expectUnavailable(store.update('a', () => 1));
      await expectUnavailable(store.delete('a'));
      await expect(store.close()).resolves.toBeUndefined();
      if (contract.makeSecondInstance !== undefined) {
        expect(await (await openSecond(store)).get('a')).toBe('done'); // written before the backend was released
      }
    });

    if (contract.clock === 'injected') {
      it('expires a value ttlMs after its write: reads and updates then see undefined', async () => {
        let clock = 1_000_000;
        const store = await open({ ttlMs: 1000, now: () => clock });
        await store.set('a', 1);
        await store.set('b', 5);
        clock += 999;
        expect(await store.get('a')).toBe(1);
        clock += 1;
        expect(await store.get('a')).toBeUndefined();
        expect(await store.update<number | string>('b', (n) => (typeof n === 'number' ? n + 1 : 'fresh'))).toBe('fresh');
        expect(await store.get('b')).toBe('fresh');
      });

      it('refreshes the TTL at every write, set or update', async () => {
        let clock = 1_000_000;
        const store = await open({ ttlMs: 1000, now: () => clock });
        await store.set('a', 1);
        clock += 600;
        await store.set('a', 2);
        clock += 600; // 1200 ms after the first write
        expect(await store.get('a')).toBe(2);
        await store.update<number>('a', (n) => (n ?? 0) + 1);
        clock += 999;
        expect(await store.get('a')).toBe(3);
        clock += 1;
        expect(await store.get('a')).toBeUndefined();
      });

      it('keeps a value 7 days by default', async () => {
        let clock = 1_000_000;
        const store = await open({ now: () => clock });
        await store.set('a', 1);
        clock += 7 * DAY_MS - 1;
        expect(await store.get('a')).toBe(1);
        clock += 1;
        expect(await store.get('a')).toBeUndefined();
      });
    } else {
      it('expires a value ttlMs after its write on the server clock: reads and updates then see undefined', async () => {
        const store = await open({ ttlMs: 300 });
        const writtenAt = Date.now();
        await store.set('a', 1);
        expect(await store.get('a')).toBe(1);
        await waitFor(async () => (await store.get('a')) === undefined, 5_000);
        expect(Date.now() - writtenAt).toBeGreaterThanOrEqual(250); // gone, and not at once
        expect(await store.update<number | string>('a', (n) => (typeof n === 'number' ? n + 1 : 'fresh'))).toBe('fresh');
      });

      it('refreshes the TTL at every write, set or update (server clock, 400 ms margins)', async () => {
        const store = await open({ ttlMs: 1000 });
        await store.set('a', 1);
        await sleep(600);
        await store.set('a', 2);
        await sleep(600); // 1200 ms after the first write: alive only if the second write refreshed the TTL
        expect(await store.get('a')).toBe(2);
        await store.update<number>('a', (n) => (n ?? 0) + 1);
        await sleep(600); // 1800 ms after the first write, 600 ms after the update
        expect(await store.get('a')).toBe(3);
        await waitFor(async () => (await store.get('a')) === undefined, 5_000);
      });
    }

    if (contract.makeSecondInstance !== undefined) {
      it('shares values between two instances on one backend, deletes included', async () => {
        const first = await open();
        const second = await openSecond(first);
        await first.set('a', { from: 'first' });
        expect(await second.get('a')).toEqual({ from: 'first' });
        await second.delete('a');
        expect(await first.get('a')).toBeUndefined();
      });

      it('loses no update when two instances run 200 concurrent updates of one key', async () => {
        const first = await open();
        const second = await openSecond(first);
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            (i % 2 === 0 ? first : second).update<number>('counter', async (n) => {
              await tick();
              return (n ?? 0) + 1;
            }),
          ),
        );
        expect(await first.get('counter')).toBe(200);
        expect(await second.get('counter')).toBe(200);
        expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      });
    }
  });
}

/** Resolves once `condition` holds, checking every 10 ms; rejects after `timeoutMs`. */
async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function expectUnavailable(call: Promise<unknown>): Promise<void> {
  const err: unknown = await call.then(() => undefined, (e: unknown) => e);
  expect(isChorusError(err, 'CHORUS_ERR_STATE_UNAVAILABLE')).toBe(true);
}
