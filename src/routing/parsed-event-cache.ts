/**
 * runWithInbox's in-process cache of the events it parsed at append, until they are handled: an event
 * appended by this instance is parsed once; one it did not append (left by a previous run, appended by
 * another instance) or pushed out of the bounded cache is parsed again from its wire text.
 */
import type { ChorusEvent } from '../events/event.ts';

/** Events parsed at append and kept for their handling: the last this many remembered (older ones are parsed again). */
export const PARSED_EVENTS_MAX = 4_096;

/** Parsed events by dedupe key, bounded: the last `max` remembered, whether taken since or not. */
export type ParsedEventCache = {
  /** Keeps `event`, parsed from `wire`, in place of the oldest remembered; a redelivery replaces its older copy. */
  remember(dedupeKey: string, wire: string, event: ChorusEvent): void;
  /** Takes out the event kept for `dedupeKey`: undefined when none is, or it was parsed from other wire text. */
  take(dedupeKey: string, wire: string): ChorusEvent | undefined;
};

type Kept = { readonly dedupeKey: string; readonly wire: string; readonly event: ChorusEvent };

/**
 * Creates an empty cache of at most `max` events. Default: {@link PARSED_EVENTS_MAX}.
 *
 * The events sit in a ring of `max` slots, taken in turn; the Map holds each key's slot number, never the event.
 * For speed: a long-lived Map whose entries come and go with young objects as values (a set and a delete per
 * event) made V8's scavenges keep those objects, and all they reference, alive until the next full GC. Measured
 * in the end-to-end bench at 5k events/s (`--trace-gc-nvp`): the daemon's scavenges kept 3.4 MB and promoted
 * 3.0 MB each, 0.7 and 0.4 MB with no event in the Map. A plain array slot cleared when the event is taken
 * keeps nothing.
 */
export function createParsedEventCache(max: number = PARSED_EVENTS_MAX): ParsedEventCache {
  const slots: (Kept | undefined)[] = new Array<Kept | undefined>(max).fill(undefined);
  // Each key kept and its slot: slots[slotOf.get(k)].dedupeKey === k (a slot is cleared when its event is
  // taken or remembered again elsewhere, so a slot still filled holds its key's current copy).
  const slotOf = new Map<string, number>();
  let next = 0;
  return {
    remember(dedupeKey, wire, event) {
      const slot = next;
      next = (next + 1) % max;
      const oldest = slots[slot];
      if (oldest !== undefined) slotOf.delete(oldest.dedupeKey);
      const previous = slotOf.get(dedupeKey);
      if (previous !== undefined) slots[previous] = undefined;
      slots[slot] = { dedupeKey, wire, event };
      slotOf.set(dedupeKey, slot);
    },
    take(dedupeKey, wire) {
      const slot = slotOf.get(dedupeKey);
      if (slot === undefined) return undefined;
      slotOf.delete(dedupeKey);
      const kept = slots[slot] as Kept;
      slots[slot] = undefined;
      return kept.wire === wire ? kept.event : undefined;
    },
  };
}
