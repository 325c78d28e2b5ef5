import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedPod, type EmbeddedPod, type EmbeddedPodOptions } from './create-embedded-pod.ts';
import type { PodDatafeedOptions } from './pod-config.ts';
import {
  BOT,
  STREAMS,
  T0,
  authenticate,
  call,
  createFeed,
  rawEvent,
  readFeed,
  testUsers,
  until,
  type Tokens,
} from './pod-test-kit.ts';

const pods: EmbeddedPod[] = [];
afterEach(async () => {
  await Promise.all(pods.splice(0).map((p) => p.close()));
});

/** A pod with the bot authenticated; `clock.now` drives the pod's clock. */
async function start(datafeed: PodDatafeedOptions = {}, extra: Partial<EmbeddedPodOptions> = {}) {
  const clock = { now: T0 };
  const now = () => clock.now;
  const pod = await createEmbeddedPod({ users: testUsers(), streams: STREAMS, datafeed, now, ...extra });
  pods.push(pod);
  const tokens = await authenticate(pod, BOT.username, T0);
  return { pod, tokens, clock };
}

const ids = (body: { events: { id: string }[] }): string[] => body.events.map((e) => e.id);
const toBot = [BOT.userId];

describe('datafeed list / create / delete (reference §1.1)', () => {
  it('creates fanout feeds with <32 hex>_f ids, lists and deletes them', async () => {
    const { pod, tokens } = await start();
    expect(await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).toMatchObject({ status: 200, body: [] });
    const created = await call(pod, tokens, 'POST', '/agent/v5/datafeeds', { includeInvisible: true });
    expect(created.status).toBe(201);
    const feedId = expect.stringMatching(/^[0-9a-f]{32}_f$/) as unknown;
    expect(created.body).toEqual({ id: feedId, type: 'fanout', createdAt: T0 });
    const id = (created.body as { id: string }).id;
    expect((await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).body).toEqual([created.body]);

    expect((await call(pod, tokens, 'DELETE', `/agent/v5/datafeeds/${id}`)).status).toBe(204);
    expect((await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).body).toEqual([]);
    const again = await call(pod, tokens, 'DELETE', `/agent/v5/datafeeds/${id}`);
    expect(again).toMatchObject({ status: 400, body: { code: 400 } });
    expect((await call(pod, tokens, 'POST', `/agent/v5/datafeeds/${id}/read`, { ackId: '' })).status).toBe(400);
  });

  it('uses the tag as the id, returns the existing feed for a known tag, and filters the list by tag', async () => {
    const { pod, tokens } = await start();
    await createFeed(pod, tokens);
    expect(await createFeed(pod, tokens, { tag: 'chorus-bot-feed' })).toBe('chorus-bot-feed');
    expect(await createFeed(pod, tokens, { tag: 'chorus-bot-feed' })).toBe('chorus-bot-feed');
    expect((await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).body).toHaveLength(2);
    const tagged = await call(pod, tokens, 'GET', '/agent/v5/datafeeds?tag=chorus-bot-feed');
    expect(tagged.body).toEqual([{ id: 'chorus-bot-feed', type: 'fanout', createdAt: T0 }]);
  });

  it('answers 403 to the 21st create, and 400 naming the field for a bad body', async () => {
    const { pod, tokens } = await start();
    for (let i = 0; i < 20; i++) await createFeed(pod, tokens);
    const refused = await call(pod, tokens, 'POST', '/agent/v5/datafeeds', {});
    const tooMany = { code: 403, message: expect.stringContaining('20') as unknown };
    expect(refused).toMatchObject({ status: 403, body: tooMany });
    const bad = await call(pod, tokens, 'POST', '/agent/v5/datafeeds', { tag: 'x'.repeat(101) });
    expect(bad).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^tag: /) as unknown } });
  });

  it('answers 400 to a body over the 1 MiB limit of a JSON endpoint, and keeps serving the connection', async () => {
    const { pod, tokens } = await start();
    const big = await call(pod, tokens, 'POST', '/agent/v5/datafeeds', { tag: 'x'.repeat(2 * 1024 * 1024) });
    expect(big).toMatchObject({ status: 400, body: { code: 400, message: expect.stringContaining('larger than') as unknown } });
    expect(await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).toMatchObject({ status: 200, body: [] });
  });

  it('answers 401 without the key manager token or with unknown tokens', async () => {
    const { pod, tokens } = await start();
    const attempts: Partial<Tokens>[] = [
      { sessionToken: tokens.sessionToken },
      { keyManagerToken: tokens.keyManagerToken },
      { sessionToken: tokens.keyManagerToken, keyManagerToken: tokens.sessionToken },
      { sessionToken: 'a'.repeat(96), keyManagerToken: tokens.keyManagerToken },
    ];
    for (const attempt of attempts) {
      expect(await call(pod, attempt, 'GET', '/agent/v5/datafeeds')).toMatchObject({
        status: 401,
        body: { code: 401, message: 'Invalid session' },
      });
    }
  });

  it('does not accept a token pair of two different users', async () => {
    const { pod, tokens } = await start();
    const alice = await authenticate(pod, 'alice', T0);
    const mixed = { sessionToken: tokens.sessionToken, keyManagerToken: alice.keyManagerToken };
    expect((await call(pod, mixed, 'GET', '/agent/v5/datafeeds')).status).toBe(401);
  });
});

describe('datafeed read (reference §1.2)', () => {
  it('acknowledges a batch with its ackId: it is not delivered again', async () => {
    const { pod, tokens } = await start({ visibilityTimeoutMs: 300, pollTimeoutMs: 500 });
    const feed = await createFeed(pod, tokens);
    pod.publish(rawEvent('e1'), toBot);
    const first = await readFeed(pod, tokens, feed);
    expect(ids(first)).toEqual(['e1']);
    expect(first.ackId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const second = await readFeed(pod, tokens, feed, first.ackId);
    expect(second.events).toEqual([]);
    expect(pod.stats()).toMatchObject({ delivered: 1, acked: 1, requeued: 0 });
  });

  it('re-queues events not acknowledged within the visibility timeout', async () => {
    const { pod, tokens } = await start({ visibilityTimeoutMs: 100, pollTimeoutMs: 5_000 });
    const feed = await createFeed(pod, tokens);
    pod.publish(rawEvent('e1'), toBot);
    pod.publish(rawEvent('e2'), toBot);
    const first = await readFeed(pod, tokens, feed);
    expect(ids(first)).toEqual(['e1', 'e2']);
    const again = await readFeed(pod, tokens, feed, ''); // no ack: waits until the batch is re-queued
    expect(ids(again)).toEqual(['e1', 'e2']);
    expect(again.ackId).not.toBe(first.ackId);
    expect(pod.stats()).toMatchObject({ delivered: 4, acked: 0, requeued: 2 });
  });

  it('answers an empty batch with an ackId when nothing comes within the poll timeout', async () => {
    const { pod, tokens } = await start({ pollTimeoutMs: 50 });
    const feed = await createFeed(pod, tokens);
    const empty = await readFeed(pod, tokens, feed);
    expect(empty).toEqual({ events: [], ackId: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) as unknown });
    // A null ackId (an unset field serialized by a generated client) counts as a first read, as does no body.
    expect((await call(pod, tokens, 'POST', `/agent/v5/datafeeds/${feed}/read`, { ackId: null })).status).toBe(200);
    expect((await call(pod, tokens, 'POST', `/agent/v5/datafeeds/${feed}/read`)).status).toBe(200);
  });

  it('wakes a waiting read when an event is published', async () => {
    const { pod, tokens } = await start({ pollTimeoutMs: 15_000 });
    const feed = await createFeed(pod, tokens);
    const pending = readFeed(pod, tokens, feed);
    await until(() => pod.stats().waitingReads === 1);
    pod.publish(rawEvent('late'), toBot);
    expect(ids(await pending)).toEqual(['late']);
  });

  it('ends a waiting read whose client left: a later event goes to the next read, not the abandoned one', async () => {
    const { pod, tokens } = await start({ pollTimeoutMs: 15_000 });
    const feed = await createFeed(pod, tokens);
    const left = new AbortController();
    const abandoned = call(pod, tokens, 'POST', `/agent/v5/datafeeds/${feed}/read`, { ackId: '' }, left.signal);
    await until(() => pod.stats().waitingReads === 1);
    left.abort();
    await expect(abandoned).rejects.toThrow();
    await until(() => pod.stats().waitingReads === 0);
    pod.publish(rawEvent('after'), toBot);
    expect(ids(await readFeed(pod, tokens, feed))).toEqual(['after']);
    expect(pod.stats()).toMatchObject({ delivered: 1 });
  });

  it('spreads events over concurrent readers of one feed', async () => {
    const { pod, tokens } = await start({ pollTimeoutMs: 15_000, maxEventsPerRead: 1 });
    const feed = await createFeed(pod, tokens);
    const readers = [readFeed(pod, tokens, feed), readFeed(pod, tokens, feed)];
    await until(() => pod.stats().waitingReads === 2);
    pod.publish(rawEvent('e1'), toBot);
    pod.publish(rawEvent('e2'), toBot);
    const [a, b] = await Promise.all(readers);
    expect(a?.events).toHaveLength(1);
    expect(b?.events).toHaveLength(1);
    expect([...ids(a as never), ...ids(b as never)].sort()).toEqual(['e1', 'e2']);
  });

  it('hands out at most maxEventsPerRead events per read, in publication order', async () => {
    const { pod, tokens } = await start({ maxEventsPerRead: 2, pollTimeoutMs: 50 });
    const feed = await createFeed(pod, tokens);
    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5']) pod.publish(rawEvent(id), toBot);
    const r1 = await readFeed(pod, tokens, feed);
    const r2 = await readFeed(pod, tokens, feed, r1.ackId);
    const r3 = await readFeed(pod, tokens, feed, r2.ackId);
    expect([ids(r1), ids(r2), ids(r3)]).toEqual([['e1', 'e2'], ['e3', 'e4'], ['e5']]);
  });

  it('delivers to every feed of a user only the events published while the feed exists', async () => {
    const { pod, tokens } = await start({ pollTimeoutMs: 50 });
    pod.publish(rawEvent('before'), toBot);
    const feedA = await createFeed(pod, tokens);
    const feedB = await createFeed(pod, tokens);
    pod.publish(rawEvent('after'), toBot);
    expect(ids(await readFeed(pod, tokens, feedA))).toEqual(['after']);
    expect(ids(await readFeed(pod, tokens, feedB))).toEqual(['after']);
  });

  it('expires a feed not read for ttlMs: reads answer 400 and it leaves the list', async () => {
    const { pod, tokens, clock } = await start({ ttlMs: 1_000, pollTimeoutMs: 50 });
    const feed = await createFeed(pod, tokens);
    clock.now += 1_000;
    await readFeed(pod, tokens, feed); // read exactly at the TTL: still alive, and the TTL restarts
    clock.now += 1_001;
    const expired = await call(pod, tokens, 'POST', `/agent/v5/datafeeds/${feed}/read`, { ackId: '' });
    expect(expired).toMatchObject({ status: 400, body: { code: 400 } });
    expect((await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).body).toEqual([]);
    expect(pod.stats().expiredFeeds).toBe(1);
  });

  it('answers 400 for a malformed ackId, an unknown feed and a bad body', async () => {
    const { pod, tokens } = await start();
    const feed = await createFeed(pod, tokens);
    const attempts: [string, unknown, RegExp][] = [
      [feed, { ackId: 'not an ack id' }, /ackId/],
      [feed, { ackId: 42 }, /^ackId: /],
      ['0123456789abcdef0123456789abcdef_f', { ackId: '' }, /does not exist/],
    ];
    for (const [id, body, message] of attempts) {
      const reply = await call(pod, tokens, 'POST', `/agent/v5/datafeeds/${id}/read`, body);
      const refusal = { code: 400, message: expect.stringMatching(message) as unknown };
      expect(reply).toMatchObject({ status: 400, body: refusal });
    }
  });

  it('ends a waiting read with 400 when its feed is deleted', async () => {
    const { pod, tokens } = await start({ pollTimeoutMs: 15_000 });
    const feed = await createFeed(pod, tokens);
    const pending = call(pod, tokens, 'POST', `/agent/v5/datafeeds/${feed}/read`, {});
    await until(() => pod.stats().waitingReads === 1);
    expect((await call(pod, tokens, 'DELETE', `/agent/v5/datafeeds/${feed}`)).status).toBe(204);
    expect((await pending).status).toBe(400);
  });

  it('sends raw events to the members of the stream they name, or to all users', async () => {
    const { pod, tokens } = await start({ pollTimeoutMs: 50 });
    const alice = await authenticate(pod, 'alice', T0);
    const [botFeed, aliceFeed] = [await createFeed(pod, tokens), await createFeed(pod, alice)];
    pod.publish(rawEvent('in-private', 'private')); // Alice and Bob only
    pod.publish(rawEvent('unknown-stream', 'nowhere')); // everyone
    expect(ids(await readFeed(pod, tokens, botFeed))).toEqual(['unknown-stream']);
    expect(ids(await readFeed(pod, alice, aliceFeed))).toEqual(['in-private', 'unknown-stream']);
  });
});
