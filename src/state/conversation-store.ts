/**
 * The ConversationStore port: JSON state by key. Adapters: memory (here); SQLite and Redis follow.
 * The core never names an adapter; it is handed one at the composition root.
 */
import type { JsonValue } from './json-value.ts';

/**
 * Keyed JSON state. Keys are opaque strings chosen by the caller (see `conversationKey`).
 * `update` is atomic per key: concurrent updates of one key run one after another, each seeing the previous
 * one's result.
 */
export type ConversationStore = {
  /** The stored value, or `undefined` when there is none. */
  get(key: string): Promise<JsonValue | undefined>;
  /** @throws ChorusError CHORUS_ERR_STATE_VALUE when `value` is not JSON-serializable. */
  set(key: string, value: unknown): Promise<void>;
  /**
   * Replaces the value with `fn(current)` atomically and returns the new value.
   * @throws ChorusError CHORUS_ERR_STATE_VALUE when the new value is not JSON-serializable (nothing is stored).
   */
  update<T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T>;
  delete(key: string): Promise<void>;
};
