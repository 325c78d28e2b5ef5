import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedPod, type EmbeddedPod, type FaultOptions } from './create-embedded-pod.ts';
import {
  BOT,
  STREAMS,
  T0,
  authenticate,
  authJwt,
  call,
  createFeed,
  rawEvent,
  readFeed,
  testUsers,
} from './pod-test-kit.ts';

const pods: EmbeddedPod[] = [];
afterEach(async () => {
  await Promise.all(pods.splice(0).map((p) => p.close()));
});

/** A pod with the bot authenticated and one feed; faults are switched on afterwards. */
async function start(faults: FaultOptions) {
  const pod = await createEmbeddedPod({
    users: testUsers(),
    streams: STREAMS,
    now: () => T0,
    seed: 42,
    datafeed: { pollTimeoutMs: 50 },
  });
  pods.push(pod);
  const tokens = await authenticate(pod, BOT.username, T0);
  const feed = await createFeed(pod, tokens);
  pod.setFaults(faults);
  return { pod, tokens, feed };
}

const read = (pod: EmbeddedPod, tokens: Awaited<ReturnType<typeof authenticate>>, feed: string, signal?: AbortSignal) =>
  call(pod, tokens, 'POST', `/agent/v5/datafeeds/${feed}/read`, { ackId: '' }, signal);

describe('fault injection', () => {
  it('answers 500 with a V2Error', async () => {
    const { pod, tokens, feed } = await start({ serverErrorRate: 1 });
    const serverError = { code: 500, message: expect.any(String) as unknown };
    expect(await read(pod, tokens, feed)).toMatchObject({ status: 500, body: serverError });
    expect(pod.stats().faults.serverError).toBe(1);
  });

  it('answers 429 with Retry-After', async () => {
    const { pod, tokens, feed } = await start({ tooManyRequestsRate: 1, retryAfterSeconds: 7 });
    const reply = await read(pod, tokens, feed);
    expect(reply).toMatchObject({ status: 429, body: { code: 429 } });
    expect(reply.headers.get('retry-after')).toBe('7');
    expect(pod.stats().faults.tooManyRequests).toBe(1);
  });

  it('expires the session: 401 until the caller authenticates again', async () => {
    const { pod, tokens, feed } = await start({ sessionExpiryRate: 1 });
    const invalid = { code: 401, message: 'Invalid session' };
    expect(await read(pod, tokens, feed)).toMatchObject({ status: 401, body: invalid });
    pod.setFaults({});
    expect((await read(pod, tokens, feed)).status).toBe(401);
    const fresh = await authenticate(pod, BOT.username, T0);
    expect((await read(pod, fresh, feed)).status).toBe(200); // the feed survived the session (reference §1.2)
    expect(pod.stats().faults.sessionExpiry).toBe(1);
  });

  it('expires the feed being read: its events are lost, a new feed gets later events', async () => {
    const { pod, tokens, feed } = await start({ feedExpiryRate: 1 });
    pod.publish(rawEvent('lost'), [BOT.userId]);
    expect(await read(pod, tokens, feed)).toMatchObject({ status: 400, body: { code: 400 } });
    pod.setFaults({});
    expect((await read(pod, tokens, feed)).status).toBe(400);
    expect((await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).body).toEqual([]);
    const next = await createFeed(pod, tokens);
    pod.publish(rawEvent('kept'), [BOT.userId]);
    expect((await readFeed(pod, tokens, next)).events.map((e) => e.id)).toEqual(['kept']);
    expect(pod.stats()).toMatchObject({ dropped: 1, expiredFeeds: 1, faults: { feedExpiry: 1 } });
  });

  it('applies a feed expiry only to reads', async () => {
    const { pod, tokens } = await start({ feedExpiryRate: 1 });
    expect((await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).status).toBe(200);
    expect(pod.stats().faults.feedExpiry).toBe(0);
  });

  it('drops the connection without a response', async () => {
    const { pod, tokens, feed } = await start({ dropConnectionRate: 1 });
    await expect(read(pod, tokens, feed)).rejects.toThrow(TypeError);
    expect(pod.stats().faults.dropConnection).toBe(1);
  });

  it('delays a slow response, then serves it', async () => {
    const { pod, tokens, feed } = await start({ slowResponseRate: 1, slowResponseMs: 400 });
    // The pod runs in this process: a 20 ms client timer always fires before its 400 ms delay ends.
    await expect(read(pod, tokens, feed, AbortSignal.timeout(20))).rejects.toThrow();
    pod.setFaults({ slowResponseRate: 1, slowResponseMs: 10 });
    expect((await read(pod, tokens, feed)).status).toBe(200);
    expect(pod.stats().faults.slowResponse).toBe(2);
  });

  it('applies to message endpoints, and to authentication only when `only` names auth', async () => {
    const { pod, tokens } = await start({ serverErrorRate: 1 });
    expect((await call(pod, tokens, 'GET', '/agent/v4/stream/desk/message?since=0')).status).toBe(500);
    const jwt = authJwt(BOT.username, T0);
    const login = () => call(pod, undefined, 'POST', '/login/pubkey/authenticate', { token: jwt });
    expect((await login()).status).toBe(200);
    pod.setFaults({ serverErrorRate: 1, only: ['auth'] });
    expect((await login()).status).toBe(500);
    expect((await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).status).toBe(200);
  });

  it('injects the same faults for the same seed and request order', async () => {
    const outcomes = async (): Promise<number[]> => {
      const { pod, tokens } = await start({ serverErrorRate: 0.3, tooManyRequestsRate: 0.3 });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await call(pod, tokens, 'GET', '/agent/v5/datafeeds')).status);
      return statuses;
    };
    const first = await outcomes();
    expect(await outcomes()).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 429, 500]));
  });
});
