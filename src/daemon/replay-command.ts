/**
 * `chorus replay`: runs a recorded feed through the listeners and prints every outgoing message on stdout,
 * one JSON object a line. Logs go to stderr.
 */
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { lastValueFrom, reduce } from 'rxjs';
import { createReplaySource } from '../datafeed/replay-source.ts';
import { createMemoryDeadLetters } from '../routing/dead-letters.ts';
import { createEventPipeline, type EventStatus } from '../routing/event-pipeline.ts';
import type { BotIdentity } from '../routing/listener.ts';
import { createMemoryStore } from '../state/memory-store.ts';
import { loadListeners } from './load-listeners.ts';

/** What `replay` needs, resolved from flags and configuration. */
export type ReplayCommandOptions = {
  readonly feed: string;
  readonly listenersDir: string;
  readonly bot: BotIdentity;
  readonly log: Logger;
  readonly stdout: Writable;
};

/**
 * Replays the feed; each reply is written as `{"streamId","message","inReplyTo"}` the moment it is sent.
 * Resolves with the count of events per status once the feed was read to the end.
 *
 * @throws ChorusError CHORUS_ERR_FEED_INVALID (unreadable feed), CHORUS_ERR_LISTENER_INVALID or
 * CHORUS_ERR_PATTERN_INVALID (listeners that do not load).
 */
export async function replayCommand(options: ReplayCommandOptions): Promise<Partial<Record<EventStatus, number>>> {
  const pipeline = await createEventPipeline({
    listeners: await loadListeners(options.listenersDir),
    bot: options.bot,
    store: createMemoryStore(),
    sender: {
      send: async (message) => {
        options.stdout.write(`${JSON.stringify(message)}\n`);
      },
    },
    deadLetters: createMemoryDeadLetters(),
    log: options.log,
  });
  const counts = await lastValueFrom(
    pipeline.run(createReplaySource(options.feed)).pipe(
      reduce<{ status: EventStatus }, Partial<Record<EventStatus, number>>>(
        (acc, outcome) => ({ ...acc, [outcome.status]: (acc[outcome.status] ?? 0) + 1 }),
        {},
      ),
    ),
  );
  options.log.info({ feed: options.feed, events: counts }, 'replay finished');
  return counts;
}
