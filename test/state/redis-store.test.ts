/**
 * The Redis adapter against a real Redis (a testcontainers redis:7, or the local server: see redis-url.ts).
 * Every key of this run lives under a unique prefix, deleted at the end.
 */
import { describe, expect, it } from 'vitest';
import { isChorusError } from '../../src/errors.ts';
import type { ConversationStore } from '../../src/state/conversation-store.ts';
import { createRedisStore } from '../../src/state/redis-store.ts';
import { describeConversationStore } from './describe-conversation-store.ts';
import { useTestRedis } from './redis-url.ts';

const { url, rawClient, nextPrefix } = useTestRedis();
const prefixes = new WeakMap<ConversationStore, string>();

describeConversationStore(
  'redis',
  async (options) => {
    const keyPrefix = nextPrefix();
    // `options.now` is never passed (clock: 'server'): Redis expires keys on its own clock.
    const store = await createRedisStore({ url: url(), keyPrefix, ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }) });
    prefixes.set(store, keyPrefix);
    return store;
  },
  {
    clock: 'server',
    // Same Redis, same prefix, its own connection: what a second chorus instance would open.
    makeSecondInstance: (first) => {
      const keyPrefix = prefixes.get(first);
      if (keyPrefix === undefined) throw new Error('not a store of this suite');
      return createRedisStore({ url: url(), keyPrefix });
    },
  },
);

describe('createRedisStore', () => {
  it('keeps each value in a hash under the prefix, with PX set by every write (default 7 days)', async () => {
    const keyPrefix = nextPrefix();
    const store = await createRedisStore({ url: url(), keyPrefix });
    try {
      await store.set('k', { n: 1 });
      expect(await rawClient().hGet(`${keyPrefix}k`, 'value')).toBe('{"n":1}');
      const week = 604_800_000;
      const pttl = await rawClient().pTTL(`${keyPrefix}k`);
      expect(pttl).toBeGreaterThan(week - 10_000);
      expect(pttl).toBeLessThanOrEqual(week);

      await rawClient().pExpire(`${keyPrefix}k`, 60_000);
      await store.update<{ n: number }>('k', (v) => ({ n: (v?.n ?? 0) + 1 }));
      expect(await rawClient().pTTL(`${keyPrefix}k`)).toBeGreaterThan(week - 10_000); // update refreshed it
    } finally {
      await store.close();
    }
  });

  it('keeps two prefixes apart on one Redis', async () => {
    const one = await createRedisStore({ url: url(), keyPrefix: nextPrefix() });
    const two = await createRedisStore({ url: url(), keyPrefix: nextPrefix() });
    try {
      await one.set('k', 1);
      expect(await two.get('k')).toBeUndefined();
      await two.update<number>('k', (n) => (n ?? 0) + 10);
      expect(await one.get('k')).toBe(1);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('turns a Redis error into CHORUS_ERR_STATE_UNAVAILABLE with the cause', async () => {
    const keyPrefix = nextPrefix();
    const store = await createRedisStore({ url: url(), keyPrefix });
    try {
      await rawClient().set(`${keyPrefix}k`, 'a string, not a hash');
      const err: unknown = await store.get('k').then(() => undefined, (e: unknown) => e);
      expect(isChorusError(err, 'CHORUS_ERR_STATE_UNAVAILABLE')).toBe(true);
      expect(String((err as Error).cause)).toMatch(/WRONGTYPE/);
    } finally {
      await store.close();
    }
  });

  it('fails fast with CHORUS_ERR_STATE_OPEN, without the password, when Redis does not answer', async () => {
    const started = Date.now();
    const err: unknown = await createRedisStore({ url: 'redis://bot:s3cret@127.0.0.1:1' }).then(
      async (store) => store.close(),
      (e: unknown) => e,
    );
    expect(isChorusError(err, 'CHORUS_ERR_STATE_OPEN')).toBe(true);
    expect((err as Error).message).toContain('127.0.0.1:1');
    expect((err as Error).message).not.toContain('s3cret');
    expect(Date.now() - started).toBeLessThan(5_000); // no endless reconnecting at creation
  });
});
