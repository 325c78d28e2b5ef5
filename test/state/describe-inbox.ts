/**
 * The contract every Inbox adapter passes: call it from each adapter's test with a factory of fresh, empty
 * backends (an inbox and the store its `complete` writes to).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { isChorusError } from '../../src/errors.ts';
import type { ConversationStore } from '../../src/state/conversation-store.ts';
import type { Inbox, InboxItem } from '../../src/state/inbox.ts';

/** A fresh backend; `advance` moves an injected clock (absent: the adapter uses real time). */
export type InboxBackend = {
  readonly inbox: Inbox;
  readonly store: ConversationStore;
  readonly advance?: (ms: number) => void;
  /** Another instance on the same storage, when the adapter is shared (SQLite file, Redis). */
  readonly secondInstance?: () => Promise<Inbox>;
};

const item = (conversationId: string, n: number): InboxItem => ({
  conversationId,
  dedupeKey: `message:${conversationId}-${n}`,
  wire: JSON.stringify({ id: `${conversationId}-${n}` }),
});

export function describeInbox(
  name: string,
  make: (options: { dedupeWindowMs: number }) => Promise<InboxBackend>,
  adapter: { readonly shared: boolean },
): void {
  describe(`Inbox contract: ${name}`, () => {
    const fresh = () => make({ dedupeWindowMs: 60_000 });

    it('appends in order, drops duplicates in a call and across calls, and lists the conversations', async () => {
      const { inbox } = await fresh();
      expect([...(await inbox.append([item('a', 1), item('b', 1), item('a', 1), item('a', 2)]))].sort()).toEqual(['a', 'b']);
      expect(await inbox.append([item('a', 2), item('b', 1)])).toEqual([]);
      expect([...(await inbox.conversations())].sort()).toEqual(['a', 'b']);
      const first = await inbox.next('a');
      expect(first).toMatchObject({ ...item('a', 1), attempts: 0 });
      expect(await inbox.next('c')).toBeUndefined();
      await inbox.close();
    });

    it('lets one owner hold a conversation lease at a time, until released or expired', async () => {
      const backend = await fresh();
      const { inbox } = backend;
      expect(await inbox.lease('a', 'one', 300)).toBe(true);
      expect(await inbox.lease('a', 'two', 300)).toBe(false);
      expect(await inbox.lease('a', 'one', 300)).toBe(true); // renewal
      await inbox.release('a', 'two'); // not the holder: no effect
      expect(await inbox.lease('a', 'two', 300)).toBe(false);
      await inbox.release('a', 'one');
      expect(await inbox.lease('a', 'two', 300)).toBe(true);
      if (backend.advance) backend.advance(301);
      else await sleep(450);
      expect(await inbox.lease('a', 'one', 300)).toBe(true);
      await inbox.close();
    });

    it('counts an attempt on the oldest entry when a lease is taken over, none for a fresh take or a renewal', async () => {
      const backend = await fresh();
      const { inbox } = backend;
      const expire = async () => (backend.advance ? backend.advance(301) : sleep(450));
      const attempts = async () => (await inbox.next('a'))?.attempts;
      await inbox.append([item('a', 1), item('a', 2)]);
      expect(await inbox.renew('a', 'one', 300)).toBe(false); // nothing to renew
      expect(await inbox.lease('a', 'one', 300)).toBe(true); // no record: a fresh take
      expect(await inbox.renew('a', 'one', 300)).toBe(true);
      expect(await inbox.renew('a', 'two', 300)).toBe(false); // not two's
      expect(await attempts()).toBe(0);
      await expire();
      expect(await inbox.lease('a', 'two', 300)).toBe(true); // one's lease lapsed: one attempt
      expect(await inbox.lease('a', 'one', 300)).toBe(false); // two holds it: nothing counted
      expect(await inbox.renew('a', 'one', 300)).toBe(false);
      expect(await attempts()).toBe(1);
      expect(await inbox.lease('a', 'two', 300)).toBe(true); // its own lease, taken again (a restart under its name)
      expect(await attempts()).toBe(2);
      await expire();
      expect(await inbox.renew('a', 'two', 300)).toBe(true); // its own lapsed lease, not taken since: renewed
      expect(await attempts()).toBe(2);
      await inbox.release('a', 'two');
      expect(await inbox.lease('a', 'one', 300)).toBe(true); // released: no record, nothing counted
      expect(await attempts()).toBe(2);
      expect(await inbox.lease('b', 'one', 300)).toBe(true);
      await expire();
      expect(await inbox.lease('b', 'two', 300)).toBe(true); // lapsed, but no entry to count on
      expect(await inbox.conversations()).toEqual(['a']);

      // Attempts used up by overruns: `fail` dead-letters the entry with that count, adding none.
      const entry = await inbox.next('a');
      if (entry === undefined) throw new Error('no entry');
      expect(await inbox.fail(entry, { code: 'CHORUS_ERR_LEASE_OVERRUN', message: 'overran' }, 2)).toBe('dead-lettered');
      expect((await inbox.deadLetters()).map((letter) => [letter.dedupeKey, letter.attempts, letter.code])).toEqual([
        [item('a', 1).dedupeKey, 2, 'CHORUS_ERR_LEASE_OVERRUN'],
      ]);
      expect(await inbox.next('a')).toMatchObject({ ...item('a', 2), attempts: 0 }); // only the oldest was counted
      await inbox.close();
    });

    it('completes an entry atomically with its state changes, once, and only under the lease', async () => {
      const { inbox, store } = await fresh();
      await store.set('state:x:a', { stale: true });
      await inbox.append([item('a', 1), item('a', 2)]);
      const entry = await inbox.next('a');
      if (entry === undefined) throw new Error('no entry');
      const changes = [
        { key: 'state:x:a', text: undefined },
        { key: 'user-state:x:a:1', text: JSON.stringify({ n: 1 }) },
      ];
      expect(await inbox.complete(entry, 'one', changes)).toEqual({ completed: false }); // no lease
      expect(await store.get('user-state:x:a:1')).toBeUndefined();
      await inbox.lease('a', 'one', 10_000);
      // Completed, with the conversation's next entry read in the same step.
      const completion = await inbox.complete(entry, 'one', changes);
      expect(completion).toEqual({ completed: true, next: await inbox.next('a') });
      expect(completion.completed && completion.next).toMatchObject({ ...item('a', 2), attempts: 0 });
      expect(await store.get('user-state:x:a:1')).toEqual({ n: 1 });
      expect(await store.get('state:x:a')).toBeUndefined();
      expect(await inbox.complete(entry, 'one', [{ key: 'k', text: '1' }])).toEqual({ completed: false }); // already done
      expect(await store.get('k')).toBeUndefined();
      expect((await inbox.next('a'))?.dedupeKey).toBe(item('a', 2).dedupeKey);
      expect(await inbox.lease('a', 'two', 10_000)).toBe(false); // still held: an entry is left
      const second = await inbox.next('a');
      if (second === undefined) throw new Error('no second entry');
      // The last one: the lease is given up with it.
      expect(await inbox.complete(second, 'one', [])).toEqual({ completed: true, next: undefined });
      expect(await inbox.lease('a', 'two', 10_000)).toBe(true);
      expect(await inbox.append([item('a', 1)])).toEqual([]); // done: a redelivery is dropped
      await inbox.close();
    });

    it('forgets a done dedupe key after the window', async () => {
      const backend = await make({ dedupeWindowMs: 200 });
      const { inbox } = backend;
      await inbox.append([item('a', 1)]);
      const entry = await inbox.next('a');
      await inbox.lease('a', 'one', 10_000);
      if (entry === undefined || !(await inbox.complete(entry, 'one', [])).completed) throw new Error('not completed');
      expect(await inbox.append([item('a', 1)])).toEqual([]);
      if (backend.advance) backend.advance(201);
      else await sleep(350);
      expect(await inbox.append([item('a', 1)])).toEqual(['a']);
      await inbox.close();
    });

    it('counts failed attempts, dead-letters at the limit, and retries or drops dead letters', async () => {
      const { inbox } = await fresh();
      await inbox.append([item('a', 1), item('a', 2)]);
      const entry = await inbox.next('a');
      if (entry === undefined) throw new Error('no entry');
      const error = { code: 'CHORUS_ERR_LISTENER_FAILED', message: 'listener x failed' } as const;
      expect(await inbox.fail(entry, error, 3)).toBe('retry');
      expect((await inbox.next('a'))?.attempts).toBe(1);
      expect(await inbox.fail(entry, error, 3)).toBe('retry');
      expect(await inbox.fail(entry, error, 3)).toBe('dead-lettered');
      expect((await inbox.next('a'))?.dedupeKey).toBe(item('a', 2).dedupeKey);
      await inbox.deadLetter('{"broken":', { code: 'CHORUS_ERR_EVENT_INVALID', message: 'not JSON' });
      const letters = await inbox.deadLetters();
      expect(letters.map((letter) => [letter.conversationId, letter.attempts, letter.code])).toEqual([
        ['a', 3, 'CHORUS_ERR_LISTENER_FAILED'],
        [undefined, 0, 'CHORUS_ERR_EVENT_INVALID'],
      ]);
      expect(letters[0]?.wire).toBe(item('a', 1).wire);
      expect(await inbox.append([item('a', 1)])).toEqual([]); // dead-lettered counts as done

      const [failed, malformed] = letters;
      const err: unknown = await inbox.retry(malformed?.id ?? '').catch((e: unknown) => e);
      expect(isChorusError(err, 'CHORUS_ERR_STATE_VALUE')).toBe(true);
      expect(await inbox.retry(failed?.id ?? '')).toBe(true);
      expect(await inbox.retry(failed?.id ?? '')).toBe(false);
      await inbox.lease('a', 'one', 10_000);
      const second = await inbox.next('a');
      if (second === undefined || !(await inbox.complete(second, 'one', [])).completed) throw new Error('not completed');
      expect(await inbox.next('a')).toMatchObject({ ...item('a', 1), attempts: 0 }); // back, at the end
      expect(await inbox.drop(malformed?.id ?? '')).toBe(true);
      expect(await inbox.drop(malformed?.id ?? '')).toBe(false);
      expect(await inbox.deadLetters()).toEqual([]);
      await inbox.close();
    });

    it('keeps each call atomic and in call order when many are made at once, one of them failing', async () => {
      const { inbox, store } = await fresh();
      await inbox.deadLetter('{"broken":', { code: 'CHORUS_ERR_EVENT_INVALID', message: 'not JSON' });
      const [malformed] = await inbox.deadLetters();
      await inbox.append([item('a', 1)]);
      const entry = await inbox.next('a');
      if (entry === undefined) throw new Error('no entry');
      // All called in one turn, none awaited before the next: a read sees the writes called before it.
      const calls = [
        inbox.lease('a', 'one', 10_000),
        inbox.append([item('a', 2), item('b', 1)]),
        inbox.retry(malformed?.id ?? ''),
        inbox.complete(entry, 'one', [{ key: 'user-state:x:a:1', text: '7' }]),
        inbox.next('a'),
        inbox.conversations(),
      ] as const;
      const [leased, appended, retried, completion, next, conversations] = await Promise.allSettled(calls);
      expect(leased).toEqual({ status: 'fulfilled', value: true });
      expect(appended.status === 'fulfilled' && [...appended.value].sort()).toEqual(['a', 'b']);
      expect(retried.status === 'rejected' && isChorusError(retried.reason, 'CHORUS_ERR_STATE_VALUE')).toBe(true);
      expect(completion.status === 'fulfilled' && completion.value).toMatchObject({ completed: true, next: { ...item('a', 2) } });
      expect(next.status === 'fulfilled' && next.value?.dedupeKey).toBe(item('a', 2).dedupeKey);
      expect(conversations.status === 'fulfilled' && [...conversations.value].sort()).toEqual(['a', 'b']);
      expect(await store.get('user-state:x:a:1')).toBe(7);
      expect((await inbox.deadLetters()).map((letter) => letter.id)).toEqual([malformed?.id]);
      await inbox.close();
    });

    it('commits the calls made before close', async () => {
      const backend = await fresh();
      const appended = backend.inbox.append([item('a', 1)]);
      const closed = backend.inbox.close();
      expect(await appended).toEqual(['a']);
      await closed;
      if (backend.secondInstance === undefined) return; // a memory inbox keeps nothing to look at after close
      const other = await backend.secondInstance();
      expect((await other.next('a'))?.dedupeKey).toBe(item('a', 1).dedupeKey);
      await other.close();
    });

    // Registered only for adapters whose instances share storage (a memory inbox shares nothing).
    if (adapter.shared) it('shares entries and leases with a second instance on the same storage', async () => {
      const backend = await fresh();
      if (backend.secondInstance === undefined) throw new Error(`${name}: a shared adapter needs secondInstance`);
      const other = await backend.secondInstance();
      await backend.inbox.append([item('a', 1)]);
      expect(await other.append([item('a', 1)])).toEqual([]);
      expect((await other.next('a'))?.dedupeKey).toBe(item('a', 1).dedupeKey);
      expect(await backend.inbox.lease('a', 'one', 10_000)).toBe(true);
      expect(await other.lease('a', 'two', 10_000)).toBe(false);
      await other.close();
      await backend.inbox.close();
    });
  });
}
