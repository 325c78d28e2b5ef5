/**
 * Redelivery dedupe in memory: remembers the keys of events already taken for a time window.
 * The datafeed is at-least-once (reference §1.2: unacked events come back after ~30 s, possibly to another
 * instance); Symphony advises keeping message ids for 15 minutes. Durable, shared dedupe comes with the
 * stores of a later issue.
 */

/** Remembers which events were taken. */
export type DedupeWindow = {
  /** Takes `key`: true the first time within the window, false for a duplicate. */
  claim(key: string): boolean;
  /** Forgets `key`, so a redelivery is taken again (used when a listener asks for the event again). */
  release(key: string): void;
};

/**
 * Creates a window keeping each key for `ttlMs` (default 86_400_000 ms = 24 h) and at most `maxEntries`
 * keys (default 1_000_000; the oldest go first). `now` returns milliseconds (default `Date.now`).
 */
export function createDedupeWindow(options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}): DedupeWindow {
  const ttlMs = options.ttlMs ?? 86_400_000;
  const maxEntries = options.maxEntries ?? 1_000_000;
  const now = options.now ?? Date.now;
  const expiries = new Map<string, number>(); // insertion order = expiry order, since ttl is fixed
  // For speed: the expiry of the first (oldest) key (Infinity when empty; -Infinity after a release, to rescan),
  // so `claim` scans only when that key has expired or the window is full: most claims open no Map iterator.
  let oldestExpiresAt = Infinity;

  const evict = (at: number): void => {
    for (const [key, expiresAt] of expiries) {
      if (expiresAt > at && expiries.size < maxEntries) {
        oldestExpiresAt = expiresAt;
        return;
      }
      expiries.delete(key);
    }
    oldestExpiresAt = Infinity;
  };

  return {
    claim(key) {
      const at = now();
      if (oldestExpiresAt <= at || expiries.size >= maxEntries) evict(at);
      if (expiries.has(key)) return false;
      const expiresAt = at + ttlMs;
      if (expiries.size === 0) oldestExpiresAt = expiresAt;
      expiries.set(key, expiresAt);
      return true;
    },
    release(key) {
      if (expiries.delete(key)) oldestExpiresAt = -Infinity; // the first key may have gone: the next claim rescans
    },
  };
}
