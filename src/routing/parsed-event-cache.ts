/**
 * runWithInbox's in-process cache of the events it parsed at append, until they are handled: an event
 * appended by this instance is parsed once; one it did not append (left by a previous run, appended by
 * another instance) or pushed out of the bounded cache is parsed again from its wire text.
 */
import type { ChorusEvent } from '../events/event.ts';

/** Events parsed at append and kept for their handling, at most (the oldest go first; they are parsed again). */
export const PARSED_EVENTS_MAX = 4_096;

/** Parsed events by dedupe key, bounded (insertion order = eviction order). */
export type ParsedEventCache = {
  /** Keeps `event`, parsed from `wire`; a redelivery goes to the end; past the bound the oldest is dropped. */
  remember(dedupeKey: string, wire: string, event: ChorusEvent): void;
  /** Takes out the event kept for `dedupeKey`: undefined when none is, or it was parsed from other wire text. */
  take(dedupeKey: string, wire: string): ChorusEvent | undefined;
};

type Kept = { readonly wire: string; readonly event: ChorusEvent; readonly order: number };

/** Creates an empty cache of at most `max` events. Default: {@link PARSED_EVENTS_MAX}. */
export function createParsedEventCache(max: number = PARSED_EVENTS_MAX): ParsedEventCache {
  const parsed = new Map<string, Kept>();
  // Eviction order: each remember's key and number, oldest first from `head`; an entry whose key was taken or
  // remembered again since is stale and skipped. For speed: not `parsed.keys().next()`, which steps over every
  // entry deleted before the first live one (V8 compacts a Map only when it rehashes), about 3 µs per event
  // once a backlog outgrew the cache.
  let queue: { readonly key: string; readonly order: number }[] = [];
  let head = 0;
  let remembered = 0;
  const isLive = (entry: { readonly key: string; readonly order: number }): boolean => parsed.get(entry.key)?.order === entry.order;
  return {
    remember(dedupeKey, wire, event) {
      remembered += 1;
      parsed.set(dedupeKey, { wire, event, order: remembered });
      queue.push({ key: dedupeKey, order: remembered });
      while (parsed.size > max) {
        const oldest = queue[head] as { readonly key: string; readonly order: number };
        head += 1;
        if (isLive(oldest)) parsed.delete(oldest.key);
      }
      // At most 2 × max entries kept: past that, the stale ones go (at least max pushes apart, so O(1) each).
      if (queue.length - head > 2 * max) {
        queue = queue.slice(head).filter(isLive);
        head = 0;
      }
    },
    take(dedupeKey, wire) {
      const cached = parsed.get(dedupeKey);
      if (cached === undefined) return undefined;
      parsed.delete(dedupeKey);
      return cached.wire === wire ? cached.event : undefined;
    },
  };
}
