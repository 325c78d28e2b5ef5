/**
 * The live path under faults: the real Agent API client (session, HTTP, datafeed v2 source, reply sender),
 * composed as `chorus run` composes it (src/daemon/run-daemon.ts), against the embedded pod on loopback while
 * 10,000 messages are posted over 20 rooms and the pod injects 5% 5xx, 1% 429, session expiries and one feed
 * expiry (reference §1.2, §1.3).
 *
 * Guarantees checked: every event the pod delivered is handled, none twice by this process, per-stream order
 * kept, no event failed, and every attempted reply either arrived in the pod or was reported failed.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { tap, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentDatafeedSource, type AgentDatafeedSource } from '../src/datafeed/agent-datafeed-source.ts';
import { createAgentHttp } from '../src/datafeed/agent-http.ts';
import { createSymphonySession } from '../src/datafeed/symphony-session.ts';
import { isChorusError } from '../src/errors.ts';
import { createEmbeddedPod, type EmbeddedPod, type FaultOptions } from '../src/pod/create-embedded-pod.ts';
import { createPrng } from '../src/pod/faults.ts';
import { createAgentSender } from '../src/reply/agent-sender.ts';
import { createMemoryDeadLetters } from '../src/routing/dead-letters.ts';
import { createEventPipeline, type EventOutcome } from '../src/routing/event-pipeline.ts';
import { defineListener } from '../src/routing/listener.ts';
import { createMemoryStore } from '../src/state/memory-store.ts';

const EVENTS = 10_000;
/** Messages posted between two yields to the event loop: the bot reads while they are posted. */
const CHUNK = 25;
/** The feed-expiry fault is switched on once this many messages are posted, off at the first expiry. */
const EXPIRE_FEED_AFTER = EVENTS / 2;
/** The publisher waits while the bot's feed holds more unacknowledged copies than this. */
const MAX_BACKLOG = 200;
/** The bot replies to every message whose sequence number is a multiple of this. */
const REPLY_EVERY = 5;

const BOT = { userId: '7100000000001', username: 'fault-bot', displayName: 'Fault Bot' } as const;
const PEOPLE = ['alice', 'bob', 'carol', 'dan', 'erin'].map((name, i) => ({
  userId: String(7100000000002 + i),
  username: name,
  displayName: `${name[0]?.toUpperCase() ?? ''}${name.slice(1)} Test`,
}));
/** 20 rooms, each with the bot and three people. */
const STREAMS = Array.from({ length: 20 }, (_, i) => ({
  streamId: `room-${String(i).padStart(2, '0')}`,
  streamType: 'ROOM' as const,
  roomName: `Room ${i}`,
  people: [0, 1, 2].map((k) => PEOPLE[(i + k) % PEOPLE.length] as (typeof PEOPLE)[number]),
}));

const FAULTS: FaultOptions = {
  serverErrorRate: 0.05,
  tooManyRequestsRate: 0.01,
  retryAfterSeconds: 1, // waited as maxIntervalMs (10 ms): Retry-After is capped at the backoff maximum
  sessionExpiryRate: 0.01,
};
/** Client backoff: the same code paths as in production, in milliseconds instead of seconds. */
const FAST_RETRY = { initialIntervalMs: 1, multiplier: 2, maxIntervalMs: 10 } as const;
/**
 * A handler that outlives the pod's visibility timeout (500 ms here, 30 s on a real pod): these messages wait
 * until the pod has re-queued their batch, so the redelivery path (and the dedupe) is exercised on every run
 * whatever the speed of the machine.
 */
const STALL_AT = ['room-00/40', 'room-00/120'] as const;

type Handled = { readonly streamId: string; readonly seq: number; readonly messageId: string };
type Posted = Handled & { readonly reachedFeed: boolean };
type Received = { readonly messageId: string; readonly own: boolean };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resolves once `condition` holds, checking every 5 ms; gives up when the test is being cleaned up. */
async function until(condition: () => boolean, stopped: () => boolean): Promise<void> {
  while (!condition()) {
    if (stopped()) throw new Error('stopped while waiting');
    await delay(5);
  }
}

/** The messageId and initiator of a MESSAGESENT wire event (every event of this run is one). */
function receivedOf(wire: unknown): Received {
  const event = wire as {
    initiator?: { user?: { userId?: unknown } };
    payload?: { messageSent?: { message?: { messageId?: unknown } } };
  };
  const messageId = event.payload?.messageSent?.message?.messageId;
  if (typeof messageId !== 'string') {
    throw new Error(`not a MESSAGESENT wire event: ${JSON.stringify(wire).slice(0, 200)}`);
  }
  return { messageId, own: String(event.initiator?.user?.userId) === BOT.userId };
}

const replyText = (streamId: string, seq: number): string => `reply ${streamId} ${seq}`;

/** Counts how often each key occurs. */
function tally<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

describe('the Agent API client against the embedded pod under faults', () => {
  const title = 'handles every delivered event once, in per-stream order, through 5xx, 429, session and feed expiry';
  it(title, { timeout: 60_000 }, async () => {
    let disposed = false;
    cleanups.push(() => {
      disposed = true;
    });
    const stopped = (): boolean => disposed;
    const log = pino({ level: 'silent' });

    const pod: EmbeddedPod = await createEmbeddedPod({
      users: [BOT, ...PEOPLE],
      streams: STREAMS.map(({ people, ...stream }) => ({
        ...stream,
        members: [BOT.userId, ...people.map((p) => p.userId)],
      })),
      datafeed: { pollTimeoutMs: 200, visibilityTimeoutMs: 500, maxEventsPerRead: 100 },
      faults: FAULTS,
      seed: 20_260_101,
      messageHistory: 1_000_000, // every message: the bot's replies are all read back below
      log,
    });
    cleanups.push(() => pod.close());
    const agentUrl = pod.url;
    const http = createAgentHttp();
    cleanups.push(() => http.close());
    const session = createSymphonySession({
      podUrl: pod.url,
      keyManagerUrl: pod.url,
      username: BOT.username,
      privateKeyPem: pod.privateKeyPem(BOT.username),
      http,
      log,
    });
    const identity = await session.sessionInfo();

    // What the listener saw, in completion order, and what became of the replies it attempted.
    const handled: Handled[] = [];
    const stalls = new Set<string>(STALL_AT);
    const busyStreams = new Set<string>();
    let overlaps = 0;
    const repliesSent: string[] = [];
    const repliesFailed: string[] = [];
    const recorder = defineListener({
      name: 'recorder',
      setup(bot) {
        bot.on('MESSAGESENT', async (ctx) => {
          const { messageId, text, stream } = ctx.event.message;
          const seq = Number(/^\/seq (\d+)$/.exec(text)?.[1] ?? Number.NaN);
          if (!Number.isInteger(seq)) throw new Error(`unexpected message text ${text}`);
          // Two handlers of one stream at once would break per-stream order even if they finish in order.
          if (busyStreams.has(stream.streamId)) overlaps += 1;
          busyStreams.add(stream.streamId);
          try {
            // Once: a redelivered copy that got past the dedupe must not stall again (a livelock, not a failure).
            if (stalls.delete(`${stream.streamId}/${seq}`)) {
              const requeued = pod.stats().requeued;
              await until(() => pod.stats().requeued > requeued, stopped);
            }
            if (seq % REPLY_EVERY === 0) {
              const reply = replyText(stream.streamId, seq);
              try {
                await ctx.reply(reply);
                repliesSent.push(reply);
              } catch (err) {
                // maxAttempts 2 below: under 6% faults a few replies run out of tries; they must say so.
                if (!isChorusError(err, 'CHORUS_ERR_REPLY_FAILED')) throw err;
                repliesFailed.push(reply);
              }
            }
            handled.push({ streamId: stream.streamId, seq, messageId });
          } finally {
            busyStreams.delete(stream.streamId);
          }
        });
      },
    });

    const deadLetters = createMemoryDeadLetters();
    const pipeline = await createEventPipeline({
      listeners: [recorder],
      bot: { userId: identity.userId, displayName: identity.displayName },
      store: createMemoryStore(),
      sender: createAgentSender({ agentUrl, session, http, log, maxAttempts: 2, retry: FAST_RETRY }),
      deadLetters,
      log,
    });

    // Client-side view of recoveries; the first 400 (the feed expiry) switches the feed-expiry fault off
    // before the client recreates the feed, so exactly one feed expires.
    const clientErrors = new Map<string, number>();
    const source: AgentDatafeedSource = createAgentDatafeedSource({
      agentUrl,
      session,
      http,
      log,
      readTimeoutMs: 10_000,
      retry: FAST_RETRY,
      onError: (status) => {
        clientErrors.set(status, (clientErrors.get(status) ?? 0) + 1);
        if (status === '400') pod.setFaults(FAULTS);
      },
    });
    // Every copy of every event the client received from a read, in order (redeliveries included).
    const received: Received[] = [];
    const outcomes: EventOutcome[] = [];
    let pipelineError: unknown;
    let completed = false;
    const subscription: Subscription = pipeline
      .run({ batches$: source.batches$.pipe(tap((batch) => received.push(...batch.events.map(receivedOf)))) })
      .subscribe({
        next: (outcome) => outcomes.push(outcome),
        error: (err: unknown) => (pipelineError = err),
        complete: () => (completed = true),
      });
    cleanups.push(() => subscription.unsubscribe());
    // The source must neither fail nor end by itself (a recovery that gives up).
    const failedOrStopped = (): boolean => stopped() || pipelineError !== undefined || completed;

    // Publish only once the bot's feed exists: before that the pod has nowhere to put the events.
    await until(() => pod.stats().feeds === 1 || failedOrStopped(), stopped);

    const random = createPrng(7);
    const seqs = new Map<string, number>();
    const posted: Posted[] = [];
    for (let i = 0; i < EVENTS && !failedOrStopped(); i++) {
      if (i === EXPIRE_FEED_AFTER) pod.setFaults({ ...FAULTS, feedExpiryRate: 0.3 });
      const stream = STREAMS[Math.floor(random() * STREAMS.length)] as (typeof STREAMS)[number];
      const author = stream.people[Math.floor(random() * stream.people.length)] as (typeof PEOPLE)[number];
      const seq = (seqs.get(stream.streamId) ?? 0) + 1;
      seqs.set(stream.streamId, seq);
      const publishedBefore = pod.stats().published;
      const message = pod.postMessage(author.username, stream.streamId, `/seq ${seq}`);
      // published counts copies put into live feeds: unchanged means the bot had no feed (expired, not yet
      // recreated) and, as on a real pod, the event is lost for it (reference §1.2).
      const reachedFeed = pod.stats().published > publishedBefore;
      posted.push({ streamId: stream.streamId, seq, messageId: message.messageId, reachedFeed });
      if (i % CHUNK === CHUNK - 1) {
        // Flow control on the pod's state, not on time: post on while the bot's feed holds at most two reads'
        // worth of unacknowledged copies, so the feed expiry drops a bounded number of events.
        await delay(1);
        await until(() => {
          const { published, acked, dropped } = pod.stats();
          return published - acked - dropped <= MAX_BACKLOG || failedOrStopped();
        }, stopped);
      }
    }

    // Quiescent: the feed expired once and was recreated, and every copy the pod put into a feed has been
    // acknowledged or dropped with the expired feed (nothing pending, nothing in flight: the last batch was
    // settled, so its replies were sent and their own MESSAGESENT copies acknowledged too).
    await until(() => {
      const stats = pod.stats();
      return (
        failedOrStopped() ||
        (stats.expiredFeeds >= 1 &&
          stats.feeds === 1 &&
          stats.acked + stats.dropped === stats.published &&
          outcomes.length === received.length)
      );
    }, stopped);
    expect(pipelineError).toBeUndefined();
    expect(completed).toBe(false);
    await source.stop();
    await until(() => completed || pipelineError !== undefined, stopped);
    const stats = pod.stats();

    // --- accounting -------------------------------------------------------------------------------------
    // messages: posted in the pod (10,000 by people + the bot's replies that arrived).
    // published: copies put into the bot's live feeds (only the bot has feeds). messages − published were
    //   posted while the bot had no feed (between the feed expiry and its recreation): lost, as on a real pod.
    // delivered: copies handed out by reads, redeliveries of re-queued batches included. All of them reached
    //   the client: the faults answer before the read runs, so no read's response is ever lost.
    // dropped: copies in the expired feed, pending (never delivered: lost) or handed out and not yet
    //   acknowledged (delivered and handled before the read that hit the expiry).
    // So "every delivered event is handled" is checked on the events the client received, and the events
    // the bot never received must be explained by the gap or by the dropped copies.
    expect(completed).toBe(true);
    expect(stats.expiredFeeds).toBe(1);
    expect(stats.faults.feedExpiry).toBe(1);
    expect(clientErrors.get('400')).toBe(1);
    expect(stats.delivered).toBe(received.length);
    expect(stats.acked + stats.dropped).toBe(stats.published);
    expect(stats.messages).toBe(EVENTS + repliesSent.length);

    const userCopies = received.filter((r) => !r.own);
    const uniqueUser = new Set(userCopies.map((r) => r.messageId));
    const uniqueOwn = new Set(received.filter((r) => r.own).map((r) => r.messageId));
    const lostInGap = posted.filter((p) => !p.reachedFeed);
    const neverReceived = posted.filter((p) => !uniqueUser.has(p.messageId));

    // Every delivered event handled, none twice.
    const handledIds = tally(handled, (h) => h.messageId);
    expect([...handledIds.values()].filter((n) => n > 1)).toEqual([]);
    expect(new Set(handledIds.keys())).toEqual(uniqueUser);
    const statuses = tally(outcomes, (o) => o.status);
    expect(new Set(statuses.keys())).toEqual(new Set(['handled', 'duplicate', 'own']));
    expect(statuses.get('handled')).toBe(uniqueUser.size);
    expect(statuses.get('duplicate')).toBe(userCopies.length - uniqueUser.size);
    expect(statuses.get('own')).toBe(received.length - userCopies.length);
    expect(deadLetters.letters).toEqual([]);
    // Redeliveries happened (the stalls), came from re-queued batches, and were all dropped as duplicates.
    expect(stalls.size).toBe(0);
    expect(stats.requeued).toBeGreaterThan(0);
    expect(userCopies.length).toBeGreaterThan(uniqueUser.size);
    expect(received.length - uniqueUser.size - uniqueOwn.size).toBeLessThanOrEqual(stats.requeued);

    // What the bot never received (people's messages and its own replies' events): posted with no live
    // feed (identified at posting time), or dropped with the expired feed before a read handed them out.
    expect(lostInGap.every((p) => !uniqueUser.has(p.messageId))).toBe(true);
    // Only people's messages fall in the gap: the bot replies while handling a batch, the expiry is met by a
    // read (sent once the batch is settled) and the new feed exists before the next batch.
    expect(lostInGap.length).toBe(stats.messages - stats.published);
    const droppedUndelivered = stats.messages - uniqueUser.size - uniqueOwn.size - lostInGap.length;
    expect(droppedUndelivered).toBeGreaterThanOrEqual(0);
    expect(droppedUndelivered).toBeLessThanOrEqual(stats.dropped);
    // The run stays meaningful: the publisher's flow control keeps the feed's backlog small, so the one
    // expiry loses a few hundred messages at most.
    expect(handled.length).toBeGreaterThanOrEqual(EVENTS * 0.95);

    // Per-stream order: handled sequence numbers strictly increase, one handler per stream at a time.
    expect(overlaps).toBe(0);
    for (const stream of STREAMS) {
      const order = handled.filter((h) => h.streamId === stream.streamId).map((h) => h.seq);
      expect(order, stream.streamId).toEqual([...order].sort((a, b) => a - b));
      expect(new Set(order).size, stream.streamId).toBe(order.length);
    }

    // Replies: each attempted one arrived exactly once (in order per stream) or was reported failed.
    const attempted = handled.filter((h) => h.seq % REPLY_EVERY === 0).map((h) => replyText(h.streamId, h.seq));
    expect(repliesSent.length + repliesFailed.length).toBe(attempted.length);
    expect(new Set([...repliesSent, ...repliesFailed])).toEqual(new Set(attempted));
    const botMessages = STREAMS.flatMap((stream) =>
      pod.messages(stream.streamId).filter((m) => m.user.userId === Number(BOT.userId)),
    );
    const inPod = botMessages.map((m) => /reply \S+ \d+/.exec(m.message)?.[0] ?? m.message);
    const sentByStream = STREAMS.flatMap((s) => repliesSent.filter((r) => r.startsWith(`reply ${s.streamId} `)));
    expect(inPod).toEqual(sentByStream);
    // The replies' own MESSAGESENT events that came back (those dropped with the expired feed did not) were
    // recognized as the bot's.
    const botMessageIds = new Set(botMessages.map((m) => m.messageId));
    expect([...uniqueOwn].filter((id) => !botMessageIds.has(id))).toEqual([]);

    // Every injected fault kind happened.
    expect(stats.faults.serverError).toBeGreaterThan(0);
    expect(stats.faults.tooManyRequests).toBeGreaterThan(0);
    expect(stats.faults.sessionExpiry).toBeGreaterThan(1);

    console.info(
      'datafeed-faults run:',
      JSON.stringify({
        posted: EVENTS,
        published: stats.published,
        delivered: stats.delivered,
        receivedUnique: uniqueUser.size + uniqueOwn.size,
        handled: statuses.get('handled'),
        duplicates: statuses.get('duplicate'),
        own: statuses.get('own'),
        requeued: stats.requeued,
        acked: stats.acked,
        dropped: stats.dropped,
        lostInGap: lostInGap.length,
        neverReceived: neverReceived.length,
        repliesSent: repliesSent.length,
        repliesFailed: repliesFailed.length,
        faults: stats.faults,
        clientErrors: Object.fromEntries(clientErrors),
      }),
    );
  });
});
