/**
 * The ConversationStore port: JSON state by key, with a time to live. Adapters: memory (tests, replay),
 * SQLite (`node:sqlite`, the embedded default) and Redis (shared by several instances).
 * The core never names an adapter; it is handed one at the composition root.
 */
import { ChorusError } from '../errors.ts';
import type { JsonValue } from './json-value.ts';

/** How long a value lives after its last write: 604_800_000 ms (7 days). */
export const DEFAULT_STATE_TTL_MS = 604_800_000;

/**
 * Keyed JSON state. Keys are opaque strings chosen by the caller (see `conversationStateKey`).
 *
 * Time to live: every write (`set`, `update`) stores the value for the store's `ttlMs` from that write, so a
 * write refreshes it; a value past its TTL reads as `undefined` (also to `update`), whether or not the backend
 * has purged it yet.
 *
 * Concurrency: `update` is atomic per key, also across store instances sharing one backend (two processes on
 * one SQLite file or one Redis): no update is lost, each sees the result of the write before it. Adapters get
 * this by optimistic concurrency (a version per value and a compare-and-swap write, see
 * `createOptimisticUpdate`): `fn` runs again on the new value when another write landed while it ran.
 */
export type ConversationStore = {
  /**
   * The stored value, or `undefined` when there is none or it expired.
   * @throws ChorusError CHORUS_ERR_STATE_UNAVAILABLE when the backend fails or the store is closed.
   */
  get(key: string): Promise<JsonValue | undefined>;
  /**
   * Stores `value` for `ttlMs` from now.
   * @throws ChorusError CHORUS_ERR_STATE_VALUE when `value` is not JSON-serializable (nothing is stored).
   * @throws ChorusError CHORUS_ERR_STATE_UNAVAILABLE when the backend fails or the store is closed.
   */
  set(key: string, value: unknown): Promise<void>;
  /**
   * Replaces the value with `fn(current)` atomically (for `ttlMs` from now) and returns the new value.
   * `current` is `undefined` when there is no value or it expired. `fn` may be async, and may run more than
   * once: when another write of the key landed while it ran, it runs again on that write's value, so keep it
   * free of side effects. Updates of one key through one store instance run one after another.
   * @throws ChorusError CHORUS_ERR_STATE_VALUE when the new value is not JSON-serializable (nothing is stored).
   * @throws ChorusError CHORUS_ERR_STATE_CONFLICT when other writers won the key 100 times in a row.
   * @throws ChorusError CHORUS_ERR_STATE_UNAVAILABLE when the backend fails or the store is closed.
   * Whatever `fn` throws is rethrown, and nothing is stored.
   */
  update<T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T>;
  /**
   * Removes the value; a key without one is fine.
   * @throws ChorusError CHORUS_ERR_STATE_UNAVAILABLE when the backend fails or the store is closed.
   */
  delete(key: string): Promise<void>;
  /**
   * Lets the operations already called finish (updates in flight included), then releases the backend
   * (closes the SQLite database, quits the Redis connection). Calls after it reject with
   * CHORUS_ERR_STATE_UNAVAILABLE; calling it again returns the same promise.
   */
  close(): Promise<void>;
};

/** Options every adapter takes. */
export type ConversationStoreOptions = {
  /** Time to live of a value after its last write, ms. Default: 604_800_000 (7 days). */
  readonly ttlMs?: number;
};

/**
 * Checks a `ttlMs` option and applies the default.
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when `ttlMs` is not a positive safe integer.
 */
export function toTtlMs(ttlMs: number | undefined): number {
  if (ttlMs === undefined) return DEFAULT_STATE_TTL_MS;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `state ttlMs must be a positive integer (ms), got ${ttlMs}`);
  }
  return ttlMs;
}
