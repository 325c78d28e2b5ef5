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

/** Creates an empty cache of at most `max` events. Default: {@link PARSED_EVENTS_MAX}. */
export function createParsedEventCache(max: number = PARSED_EVENTS_MAX): ParsedEventCache {
  const parsed = new Map<string, { readonly wire: string; readonly event: ChorusEvent }>();
  return {
    remember(dedupeKey, wire, event) {
      parsed.delete(dedupeKey);
      parsed.set(dedupeKey, { wire, event });
      if (parsed.size > max) parsed.delete(parsed.keys().next().value as string);
    },
    take(dedupeKey, wire) {
      const cached = parsed.get(dedupeKey);
      if (cached === undefined) return undefined;
      parsed.delete(dedupeKey);
      return cached.wire === wire ? cached.event : undefined;
    },
  };
}
