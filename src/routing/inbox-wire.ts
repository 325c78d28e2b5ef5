/**
 * runWithInbox's events to and from the inbox's wire text: a datafeed batch is sorted into the items to
 * append (each valid event as its JSON text, its parsed form kept in a bounded cache) and the outcomes
 * decided without the inbox (own, unsupported and invalid events, the invalid ones dead-lettered); an inbox
 * entry becomes an event again, from the cache when this instance appended it, else parsed from its text.
 */
import type { Inbox, InboxEntry, InboxItem } from '../state/inbox.ts';
import type { Classified, EventOutcome, EventPipeline } from './event-pipeline.ts';
import { createParsedEventCache } from './parsed-event-cache.ts';

/** A datafeed batch sorted for the inbox. */
export type SortedBatch = {
  /** The valid events, in feed order, to append. */
  readonly items: readonly InboxItem[];
  /** The outcomes of the other events, in feed order: own, unsupported, invalid. */
  readonly decided: readonly EventOutcome[];
  /** The dead-lettering of the invalid events (their wire text, with the validation error), under way. */
  readonly deadLettered: readonly Promise<void>[];
};

/** See the module comment. */
export type InboxWire = {
  /** Sorts a batch's wire events; starts dead-lettering the invalid ones (`Inbox.deadLetter`). */
  sort(events: readonly unknown[]): SortedBatch;
  /** The event of an entry: the one parsed at append when cached (same wire text), else parsed from the wire. */
  classify(entry: InboxEntry): Classified;
};

/** Creates the wire of one run: `pipeline` classifies events, `inbox` takes the dead letters. */
export function createInboxWire(pipeline: Pick<EventPipeline, 'classify'>, inbox: Pick<Inbox, 'deadLetter'>): InboxWire {
  const parsed = createParsedEventCache();
  return {
    sort(events) {
      const items: InboxItem[] = [];
      const decided: EventOutcome[] = [];
      const deadLettered: Promise<void>[] = [];
      for (const wire of events) {
        const classified = pipeline.classify(wire);
        if (classified.kind === 'event') {
          const { conversationId, dedupeKey } = classified.event;
          const text = JSON.stringify(wire);
          items.push({ conversationId, dedupeKey, wire: text });
          parsed.remember(dedupeKey, text, classified.event);
          continue;
        }
        const { error } = classified.outcome;
        if (error !== undefined) deadLettered.push(inbox.deadLetter(JSON.stringify(wire) ?? String(wire), error));
        decided.push(classified.outcome);
      }
      return { items, decided, deadLettered };
    },
    classify(entry) {
      const event = parsed.take(entry.dedupeKey, entry.wire);
      return event !== undefined ? { kind: 'event', event } : pipeline.classify(JSON.parse(entry.wire) as unknown);
    },
  };
}
