/**
 * The pod's datafeeds v2: per-user feeds with list / create / delete / read (SPEC listDatafeed, createDatafeed,
 * deleteDatafeed, readDatafeed; reference §1.1-§1.4), fan-out of published events to every live feed of the
 * recipients, TTL expiry and the delivery counters.
 */
import { randomBytes } from 'node:crypto';
import { ACK_ID_PATTERN, createFeedQueue, type FeedCounters, type FeedQueue, type ReadBatch } from './datafeed-feed.ts';
import type { PodConfig } from './pod-config.ts';
import { fail, succeed, type PodResult } from './pod-result.ts';

/** The wire `V5Datafeed`: `type` is `fanout` as BDK Java expects (reference §1.1). `createdAt` ms (deprecated). */
export type V5Datafeed = { readonly id: string; readonly createdAt: number; readonly type: 'fanout' };

/** Delivery counters of all feeds. */
export type DatafeedStats = FeedCounters & {
  /** Event copies put into feeds (one per receiving feed). */
  published: number;
  /** Feeds that expired (TTL or fault); deleted feeds are not counted. */
  expiredFeeds: number;
  /** Live feeds now. */
  feeds: number;
  /** Reads waiting for events now. */
  waitingReads: number;
};

/** The pod's feeds; see {@link createDatafeedRegistry}. */
export type DatafeedRegistry = {
  /** The live feeds of `userId`, oldest first, only those tagged `tag` when given. */
  list(userId: string, tag: string | undefined): V5Datafeed[];
  /**
   * Creates a feed. With a `tag` its id is the tag and an existing live feed with that id is returned instead
   * (BDK Java reuses a feed whose `id == tag`, reference §1.4). 403 when the user has `maxFeedsPerUser` live feeds
   * (reference §1.4: the 21st create is refused). `includeInvisible` is accepted and has no effect.
   */
  create(userId: string, options: { readonly tag?: string | undefined }): PodResult<V5Datafeed>;
  /** Deletes a feed; its pending events are lost. 400 when `feedId` is not a live feed of `userId`. */
  remove(userId: string, feedId: string): PodResult<undefined>;
  /**
   * Reads a feed (see `FeedQueue.read`). 400 when the feed is unknown, deleted or expired, also when it goes
   * away while the read waits, and when `ackId` is neither empty nor of the pod's ackId shape.
   */
  read(userId: string, feedId: string, ackId: string, signal: AbortSignal): Promise<PodResult<ReadBatch>>;
  /** Expires a feed now (fault injection): it is gone with its un-acked events. */
  expire(userId: string, feedId: string): void;
  /** Puts a serialized V4Event into every live feed of each of `userIds`; returns the number of feeds. */
  publish(json: string, userIds: readonly string[]): number;
  stats(): DatafeedStats;
  /** Closes every feed (waiting reads answer 400) and stops all timers. */
  close(): void;
};

type Feed = {
  readonly view: V5Datafeed;
  readonly tag: string | undefined;
  readonly queue: FeedQueue;
  lastReadAt: number;
};

const GONE = 'The datafeed does not exist: it was deleted or has expired; create a new one';

/**
 * Creates the feed registry. Expiry is checked lazily against `now`: a feed whose last read started or ended
 * more than `ttlMs` ago, and that no reader is waiting on, expires the next time it or its user's feeds are
 * looked at (reference §1.2: "The datafeed has a 30 minutes ttl").
 */
export function createDatafeedRegistry(limits: PodConfig['datafeed'], now: () => number): DatafeedRegistry {
  const feedsByUser = new Map<string, Map<string, Feed>>();
  const counters: FeedCounters = { delivered: 0, acked: 0, requeued: 0, dropped: 0 };
  const extra = { published: 0, expiredFeeds: 0 };
  let seq = 0;

  const feedsOf = (userId: string): Map<string, Feed> => {
    let feeds = feedsByUser.get(userId);
    if (feeds === undefined) {
      feeds = new Map();
      feedsByUser.set(userId, feeds);
    }
    return feeds;
  };

  const isStale = (feed: Feed): boolean => feed.queue.waiting() === 0 && now() - feed.lastReadAt > limits.ttlMs;

  const expireFeed = (feeds: Map<string, Feed>, feed: Feed): void => {
    feeds.delete(feed.view.id);
    feed.queue.close();
    extra.expiredFeeds += 1;
  };

  /** The live feeds of a user, stale ones expired on the way. */
  const liveFeeds = (userId: string): Map<string, Feed> => {
    const feeds = feedsOf(userId);
    // Copied only when a feed must go (it is deleted from the map being iterated): publish calls this per member.
    for (const feed of feeds.values()) {
      if (!isStale(feed)) continue;
      for (const stale of [...feeds.values()].filter(isStale)) expireFeed(feeds, stale);
      break;
    }
    return feeds;
  };

  return {
    list(userId, tag) {
      return [...liveFeeds(userId).values()].filter((f) => tag === undefined || f.tag === tag).map((f) => f.view);
    },
    create(userId, { tag }) {
      const feeds = liveFeeds(userId);
      if (tag !== undefined) {
        const existing = feeds.get(tag);
        if (existing !== undefined) return succeed(existing.view);
      }
      if (feeds.size >= limits.maxFeedsPerUser) {
        return fail(403, `Too many feeds created: a user can have ${limits.maxFeedsPerUser} active feeds`);
      }
      const id = tag ?? `${randomBytes(16).toString('hex')}_f`;
      const createdAt = now();
      const feed: Feed = {
        view: { id, createdAt, type: 'fanout' },
        tag,
        queue: createFeedQueue(limits, counters),
        lastReadAt: createdAt,
      };
      feeds.set(id, feed);
      return succeed(feed.view);
    },
    remove(userId, feedId) {
      const feeds = liveFeeds(userId);
      const feed = feeds.get(feedId);
      if (feed === undefined) return fail(400, GONE);
      feeds.delete(feedId);
      feed.queue.close();
      return succeed(undefined);
    },
    async read(userId, feedId, ackId, signal) {
      const feed = liveFeeds(userId).get(feedId);
      if (feed === undefined) return fail(400, GONE);
      if (ackId !== '' && !ACK_ID_PATTERN.test(ackId)) return fail(400, 'Malformed ackId');
      feed.lastReadAt = now();
      const batch = await feed.queue.read(ackId, signal);
      if (batch === 'closed') return fail(400, GONE);
      feed.lastReadAt = now();
      return succeed(batch);
    },
    expire(userId, feedId) {
      const feeds = feedsOf(userId);
      const feed = feeds.get(feedId);
      if (feed !== undefined) expireFeed(feeds, feed);
    },
    publish(json, userIds) {
      seq += 1;
      let receivers = 0;
      for (const userId of userIds.length === 1 ? userIds : new Set(userIds)) {
        for (const feed of liveFeeds(userId).values()) {
          feed.queue.enqueue({ seq, json });
          receivers += 1;
        }
      }
      extra.published += receivers;
      return receivers;
    },
    stats() {
      let feeds = 0;
      let waitingReads = 0;
      for (const userFeeds of feedsByUser.values()) {
        for (const feed of userFeeds.values()) {
          feeds += 1;
          waitingReads += feed.queue.waiting();
        }
      }
      return { ...counters, ...extra, feeds, waitingReads };
    },
    close() {
      for (const feeds of feedsByUser.values()) {
        for (const feed of feeds.values()) feed.queue.close();
        feeds.clear();
      }
    },
  };
}
