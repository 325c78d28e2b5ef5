/**
 * The in-memory ConversationStore adapter: for tests and replay. Values are kept as JSON text, so callers
 * never share mutable objects with the store. Nothing outlives the process, and instances share nothing.
 */
import { toTtlMs, type ConversationStore, type ConversationStoreOptions } from './conversation-store.ts';
import { toJsonText, type JsonValue } from './json-value.ts';
import { createOptimisticUpdate } from './optimistic-update.ts';
import { createStoreLifecycle } from './store-lifecycle.ts';

/** Options of {@link createMemoryStore}. */
export type MemoryStoreOptions = ConversationStoreOptions & {
  /** The clock for TTLs, ms since the epoch. Default: `Date.now`. */
  readonly now?: () => number;
};

type Entry = { readonly text: string; readonly version: number; readonly expiresAt: number };

/** Expired entries are swept at most this often (on a write); a read of an expired key drops it at once. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Creates an empty in-memory store whose values live `ttlMs` after their last write (default 7 days).
 * `update` is atomic per key: updates of one key wait for each other through a per-key promise chain, and a
 * version compare makes a `set` or `delete` that lands while `fn` runs make `fn` run again (the same
 * optimistic scheme as the other adapters, so tests see the same behaviour).
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when `ttlMs` is not a positive integer.
 * @example
 * const store = createMemoryStore();
 * await store.update<number>('k', (n) => (n ?? 0) + 1); // 1
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): ConversationStore {
  const ttlMs = toTtlMs(options.ttlMs);
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const lifecycle = createStoreLifecycle('memory');
  let versions = 0; // one process, one map: a counter never repeats, so it is ABA-free here
  let sweptAt = now();

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined || entry.expiresAt > now()) return entry;
    entries.delete(key);
    return undefined;
  };

  const write = (key: string, text: string): void => {
    const at = now();
    if (at - sweptAt >= SWEEP_INTERVAL_MS) {
      sweptAt = at;
      for (const [k, entry] of entries) if (entry.expiresAt <= at) entries.delete(k);
    }
    versions += 1;
    entries.set(key, { text, version: versions, expiresAt: at + ttlMs });
  };

  const parse = (entry: Entry | undefined): JsonValue | undefined =>
    entry === undefined ? undefined : (JSON.parse(entry.text) as JsonValue);

  const optimistic = createOptimisticUpdate<number>({
    read: async (key) => {
      const entry = live(key);
      return { value: parse(entry), version: entry?.version };
    },
    write: async (key, expected, text) => {
      if (live(key)?.version !== expected) return false;
      write(key, text);
      return true;
    },
  });

  return {
    get: async (key) => {
      lifecycle.assertOpen();
      return parse(live(key));
    },
    set: async (key, value) => {
      lifecycle.assertOpen();
      write(key, toJsonText(value));
    },
    update: async <T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> => {
      lifecycle.assertOpen();
      return optimistic.update(key, fn);
    },
    delete: async (key) => {
      lifecycle.assertOpen();
      entries.delete(key);
    },
    close: () => lifecycle.close(optimistic.drained, () => entries.clear()),
  };
}
