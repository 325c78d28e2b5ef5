/**
 * The replay harness for listener authors: runs events through the same pipeline as the daemon and returns
 * what the listeners sent.
 */
import { lastValueFrom, toArray } from 'rxjs';
import type { Logger } from 'pino';
import type { DatafeedSource } from '../datafeed/datafeed-source.ts';
import { createMemorySource } from '../datafeed/memory-source.ts';
import { createReplaySource } from '../datafeed/replay-source.ts';
import { v5EventListSchema } from '../events/wire-schema.ts';
import { createLogger } from '../logger.ts';
import type { OutboundMessage } from '../reply/reply-sender.ts';
import { createMemoryDeadLetters, type DeadLetter } from '../routing/dead-letters.ts';
import { createEventPipeline, type EventOutcome } from '../routing/event-pipeline.ts';
import type { ListenerModule } from '../routing/listener.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import { createMemoryStore } from '../state/memory-store.ts';
import { messageMLToText } from './messageml-to-text.ts';

/** A message a listener sent: the outbound message plus its plain text, for easy assertions. */
export type Reply = OutboundMessage & { readonly text: string };

/** Options of {@link replay}. */
export type ReplayOptions = {
  readonly listeners: readonly ListenerModule[];
  /** The bot's user id (as a string; the wire's int64). */
  readonly botUserId: string;
  /** Default: `Chorus Bot`. */
  readonly botName?: string;
  /** Default: a fresh memory store (pass one to keep state across replays). */
  readonly store?: ConversationStore;
  /** Default: a silent logger. */
  readonly log?: Logger;
};

/** Everything a replay produced. */
export type ReplayReport = {
  readonly replies: readonly Reply[];
  readonly outcomes: readonly EventOutcome[];
  readonly deadLetters: readonly DeadLetter[];
};

/**
 * A feed: a path to a feed file (any format `chorus replay` reads), wire events (V4Event objects, e.g. from
 * `createEventFactory`), datafeed read responses (`{ events, ackId }`), or a DatafeedSource.
 */
export type ReplayFeed = string | readonly unknown[] | DatafeedSource;

function toSource(feed: ReplayFeed): DatafeedSource {
  if (typeof feed === 'string') return createReplaySource(feed);
  if (!Array.isArray(feed)) return feed as DatafeedSource;
  const responses = feed.map((item) => v5EventListSchema.safeParse(item));
  if (feed.length === 0 || !responses.every((response) => response.success)) return createMemorySource([{ events: feed }]);
  return createMemorySource(responses.map(({ data }) => ({ events: data?.events ?? [], ackId: data?.ackId ?? '' })));
}

/**
 * Replays `feed` through `listeners` and reports replies, per-event outcomes and dead letters, in order.
 *
 * @throws ChorusError CHORUS_ERR_FEED_INVALID for an unreadable feed file; CHORUS_ERR_LISTENER_INVALID /
 * CHORUS_ERR_PATTERN_INVALID when a listener does not load.
 * @example
 * const { replies, outcomes } = await runReplay(feed, { listeners: [trading], botUserId: '7000000000001' });
 */
export async function runReplay(feed: ReplayFeed, options: ReplayOptions): Promise<ReplayReport> {
  const replies: Reply[] = [];
  const deadLetters = createMemoryDeadLetters();
  const pipeline = await createEventPipeline({
    listeners: options.listeners,
    bot: { userId: options.botUserId, displayName: options.botName ?? 'Chorus Bot' },
    store: options.store ?? createMemoryStore(),
    sender: {
      send: async (message) => {
        replies.push({ ...message, text: messageMLToText(message.message) });
      },
    },
    deadLetters,
    log: options.log ?? createLogger({ level: 'silent' }),
  });
  const outcomes = await lastValueFrom(pipeline.run(toSource(feed)).pipe(toArray()));
  return { replies, outcomes, deadLetters: deadLetters.letters };
}

/**
 * Replays `feed` through `listeners` and returns the replies they sent, in order.
 *
 * @throws as {@link runReplay}.
 * @example
 * const replies = await replay(feed, { listeners: [trading], botUserId });
 * expect(replies.map((r) => r.text)).toEqual(['Buying 100 AAPL for Alice Ng']);
 */
export async function replay(feed: ReplayFeed, options: ReplayOptions): Promise<readonly Reply[]> {
  return (await runReplay(feed, options)).replies;
}
