/**
 * The Redis inbox against a real Redis (a testcontainers redis:7, or the local server: see redis-url.ts),
 * in real time. Every key of this run lives under a unique prefix, deleted at the end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { describeInbox } from '../../test/state/describe-inbox.ts';
import { useTestRedis } from '../../test/state/redis-url.ts';
import { isChorusError } from '../errors.ts';
import type { Inbox, InboxItem } from './inbox.ts';
import { createRedisInbox, type RedisInboxOptions } from './redis-inbox.ts';
import { createRedisStore } from './redis-store.ts';

const opened: { close(): Promise<void> }[] = [];
const { url, rawClient, nextPrefix } = useTestRedis({
  beforeStop: async () => void (await Promise.all(opened.map((closable) => closable.close()))),
});
/** Opens an inbox or store, closed in afterAll should its test fail before closing it. */
const track = async <T extends { close(): Promise<void> }>(opening: Promise<T>): Promise<T> => {
  const closable = await opening;
  opened.push(closable);
  return closable;
};
const openInbox = (keyPrefix: string, options: Partial<RedisInboxOptions> = {}): Promise<Inbox> =>
  track(createRedisInbox({ url: url(), keyPrefix, ...options }));
const keysUnder = async (keyPrefix: string): Promise<string[]> => {
  const keys: string[] = [];
  for await (const batch of rawClient().scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) keys.push(...batch);
  return keys.map((key) => key.slice(keyPrefix.length)).sort();
};
const item = (conversationId: string, n: number): InboxItem => ({
  conversationId,
  dedupeKey: `message:${conversationId}-${n}`,
  wire: JSON.stringify({ id: `${conversationId}-${n}` }),
});

describeInbox(
  'redis',
  async ({ dedupeWindowMs }) => {
    const keyPrefix = nextPrefix();
    return {
      inbox: await openInbox(keyPrefix, { dedupeWindowMs }),
      store: await track(createRedisStore({ url: url(), keyPrefix })),
      // No `advance`: leases and the dedupe window expire on the Redis clock, so the suite waits.
      secondInstance: () => openInbox(keyPrefix, { dedupeWindowMs }),
    };
  },
  { shared: true },
);

describe('createRedisInbox', () => {
  it('appends each dedupe key exactly once under 50 concurrent appends of overlapping items from two instances', async () => {
    const keyPrefix = nextPrefix();
    const [one, two] = await Promise.all([openInbox(keyPrefix), openInbox(keyPrefix)]);
    const all = ['a', 'b', 'c'].flatMap((conversation) => Array.from({ length: 10 }, (_, n) => item(conversation, n)));
    // Call i appends a window of 12 items starting at i: each item is in several calls of both instances.
    const calls = Array.from({ length: 50 }, (_, i) => {
      const items = [...all, ...all].slice(i % all.length, (i % all.length) + 12);
      return (i % 2 === 0 ? one : two).append(items);
    });
    const appended = await Promise.all(calls);
    expect(new Set(appended.flat())).toEqual(new Set(['a', 'b', 'c']));

    const taken: string[] = [];
    for (const conversation of await one.conversations()) {
      expect(await one.lease(conversation, 'one', 10_000)).toBe(true);
      for (let entry = await one.next(conversation); entry !== undefined; ) {
        taken.push(entry.dedupeKey);
        const completion = await one.complete(entry, 'one', []);
        if (!completion.completed) throw new Error(`${entry.dedupeKey} not completed`);
        entry = completion.next;
      }
    }
    expect(taken.sort()).toEqual(all.map((i) => i.dedupeKey).sort());
    expect(await two.conversations()).toEqual([]);
  });

  it('lets exactly one of two instances racing for a lease win it', async () => {
    const keyPrefix = nextPrefix();
    const [one, two] = await Promise.all([openInbox(keyPrefix), openInbox(keyPrefix)]);
    for (let round = 0; round < 20; round += 1) {
      const conversation = `c${round}`;
      const [wonOne, wonTwo] = await Promise.all([one.lease(conversation, 'one', 10_000), two.lease(conversation, 'two', 10_000)]);
      expect([wonOne, wonTwo].filter(Boolean)).toHaveLength(1);
      expect(await rawClient().get(`${keyPrefix}inbox:lease:${conversation}`)).toMatch(wonOne ? /^\d+:one$/ : /^\d+:two$/);
    }
  });

  it('keeps a lease key a day past its expiry, so its next taker counts the overrun; a key without a time is held until it expires', async () => {
    const keyPrefix = nextPrefix();
    const inbox = await openInbox(keyPrefix);
    await inbox.append([item('a', 1)]);
    const before = Date.now();
    expect(await inbox.lease('a', 'one', 100)).toBe(true);
    const [expiresAt, owner] = (await rawClient().get(`${keyPrefix}inbox:lease:a`))?.split(':') ?? [];
    expect(owner).toBe('one');
    expect(Math.abs(Number(expiresAt) - (before + 100))).toBeLessThan(5_000); // server time: same host
    expect(await rawClient().pTTL(`${keyPrefix}inbox:lease:a`)).toBeGreaterThan(86_000_000); // leaseMs + a day
    await sleep(200);
    expect(await keysUnder(keyPrefix)).toContain('inbox:lease:a'); // lapsed, still recorded
    expect(await inbox.lease('a', 'two', 10_000)).toBe(true);
    expect((await inbox.next('a'))?.attempts).toBe(1);

    // A lease written as the bare owner (the layout before expiry times): held while its key lives.
    await rawClient().set(`${keyPrefix}inbox:lease:b`, 'old', { PX: 500 });
    expect(await inbox.lease('b', 'two', 10_000)).toBe(false);
    await sleep(650);
    expect(await inbox.lease('b', 'two', 10_000)).toBe(true);
  });

  it('refuses, changing nothing, a complete under a lease that expired and was taken by another owner', async () => {
    const keyPrefix = nextPrefix();
    const [one, two] = await Promise.all([openInbox(keyPrefix), openInbox(keyPrefix)]);
    const store = await track(createRedisStore({ url: url(), keyPrefix }));
    await store.set('state:x:a', { n: 0 });
    await one.append([item('a', 1)]);
    const entry = await one.next('a');
    if (entry === undefined) throw new Error('no entry');
    expect(await one.lease('a', 'one', 100)).toBe(true);
    await sleep(200);
    expect(await two.lease('a', 'two', 10_000)).toBe(true);

    const changes = [
      { key: 'state:x:a', text: JSON.stringify({ n: 1 }) },
      { key: 'user-state:x:a:1', text: '1' },
    ];
    expect(await one.complete(entry, 'one', changes)).toEqual({ completed: false });
    expect(await store.get('state:x:a')).toEqual({ n: 0 });
    expect(await keysUnder(keyPrefix)).not.toContain('user-state:x:a:1');
    expect(await keysUnder(keyPrefix)).not.toContain(`inbox:done:${entry.dedupeKey}`);
    expect(await two.next('a')).toEqual({ ...entry, attempts: 1 }); // two's take of one's lapsed lease counted it
    expect(await two.complete(entry, 'two', changes)).toEqual({ completed: true, next: undefined });
    expect(await store.get('state:x:a')).toEqual({ n: 1 });
  });

  it('writes state as the Redis store does (hash, fresh version, PX stateTtlMs), and leaves only its marks', async () => {
    const keyPrefix = nextPrefix();
    const inbox = await openInbox(keyPrefix, { stateTtlMs: 60_000, dedupeWindowMs: 30_000 });
    const store = await track(createRedisStore({ url: url(), keyPrefix }));
    await store.set('gone', 1);
    await inbox.append([item('a', 1)]);
    await inbox.lease('a', 'one', 10_000);
    const entry = await inbox.next('a');
    if (entry === undefined) throw new Error('no entry');
    const changes = [
      { key: 'k', text: '{"n":1}' },
      { key: 'gone', text: undefined },
    ];
    expect(await inbox.complete(entry, 'one', changes)).toEqual({ completed: true, next: undefined });

    const hash = await rawClient().hGetAll(`${keyPrefix}k`);
    expect(hash.value).toBe('{"n":1}');
    expect(Number(hash.version)).toBeGreaterThan(0);
    const pttl = await rawClient().pTTL(`${keyPrefix}k`);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    const donePttl = await rawClient().pTTL(`${keyPrefix}inbox:done:${entry.dedupeKey}`);
    expect(donePttl).toBeGreaterThan(20_000);
    expect(donePttl).toBeLessThanOrEqual(30_000);
    expect(await store.update<{ n: number }>('k', (v) => ({ n: (v?.n ?? 0) + 1 }))).toEqual({ n: 2 });
    expect(await store.get('gone')).toBeUndefined();
    // The entry, its conversation index, queued marker, the conversation set and (the last entry done) the
    // lease are gone.
    expect(await keysUnder(keyPrefix)).toEqual(['inbox:done:message:a-1', 'inbox:seq', 'k']);
  });

  it('fails a complete whose state key holds no hash with CHORUS_ERR_STATE_UNAVAILABLE, writing nothing', async () => {
    const keyPrefix = nextPrefix();
    const inbox = await openInbox(keyPrefix);
    await rawClient().set(`${keyPrefix}bad`, 'a string, not a hash');
    await inbox.append([item('a', 1)]);
    await inbox.lease('a', 'one', 10_000);
    const entry = await inbox.next('a');
    if (entry === undefined) throw new Error('no entry');
    const changes = [
      { key: 'good', text: '1' },
      { key: 'bad', text: '2' },
    ];
    const err: unknown = await inbox.complete(entry, 'one', changes).catch((e: unknown) => e);
    expect(isChorusError(err, 'CHORUS_ERR_STATE_UNAVAILABLE')).toBe(true);
    expect(String((err as Error).cause)).toMatch(/WRONGTYPE/);
    expect(await keysUnder(keyPrefix)).not.toContain('good');
    expect(await inbox.next('a')).toEqual(entry);
  });

  it('lists dead letters oldest first past nine of them, with the server time', async () => {
    const inbox = await openInbox(nextPrefix());
    const before = Date.now();
    for (let n = 1; n <= 11; n += 1) await inbox.deadLetter(`wire ${n}`, { code: 'CHORUS_ERR_EVENT_INVALID', message: 'not JSON' });
    const letters = await inbox.deadLetters();
    expect(letters.map((letter) => letter.wire)).toEqual(Array.from({ length: 11 }, (_, i) => `wire ${i + 1}`));
    expect(letters[0]).toMatchObject({ conversationId: undefined, dedupeKey: undefined, attempts: 0, error: 'not JSON' });
    expect(Math.abs((letters[0]?.failedAt ?? 0) - before)).toBeLessThan(5_000); // same host: clocks agree
  });

  it('retries a dead letter whose dedupe key was queued again after its window by dropping the letter only', async () => {
    const inbox = await openInbox(nextPrefix(), { dedupeWindowMs: 150 });
    await inbox.append([item('a', 1)]);
    const entry = await inbox.next('a');
    if (entry === undefined) throw new Error('no entry');
    expect(await inbox.fail(entry, { code: 'CHORUS_ERR_LISTENER_FAILED', message: 'x failed' }, 1)).toBe('dead-lettered');
    await sleep(250);
    expect(await inbox.append([item('a', 1)])).toEqual(['a']); // a redelivery after the window
    const [letter] = await inbox.deadLetters();
    expect(await inbox.retry(letter?.id ?? '')).toBe(true);
    expect(await inbox.deadLetters()).toEqual([]);
    await inbox.lease('a', 'one', 10_000);
    const again = await inbox.next('a');
    if (again === undefined) throw new Error('no entry');
    expect(await inbox.complete(again, 'one', [])).toEqual({ completed: true, next: undefined });
    expect(await inbox.next('a')).toBeUndefined(); // queued once, not twice
  });

  it('turns a Redis error into CHORUS_ERR_STATE_UNAVAILABLE, and rejects calls after close', async () => {
    const keyPrefix = nextPrefix();
    const inbox = await openInbox(keyPrefix);
    await rawClient().set(`${keyPrefix}inbox:convs`, 'a string, not a set');
    const err: unknown = await inbox.conversations().catch((e: unknown) => e);
    expect(isChorusError(err, 'CHORUS_ERR_STATE_UNAVAILABLE')).toBe(true);
    expect(String((err as Error).cause)).toMatch(/WRONGTYPE/);
    await inbox.close();
    const closed: unknown = await inbox.next('a').catch((e: unknown) => e);
    expect(isChorusError(closed, 'CHORUS_ERR_STATE_UNAVAILABLE')).toBe(true);
  });

  it('fails fast with CHORUS_ERR_STATE_OPEN, without the password, when Redis does not answer', async () => {
    const started = Date.now();
    const err: unknown = await createRedisInbox({ url: 'redis://bot:s3cret@127.0.0.1:1' }).then(
      async (inbox) => inbox.close(),
      (e: unknown) => e,
    );
    expect(isChorusError(err, 'CHORUS_ERR_STATE_OPEN')).toBe(true);
    expect((err as Error).message).toContain('127.0.0.1:1');
    expect((err as Error).message).not.toContain('s3cret');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
