/**
 * The in-memory ConversationStore adapter: for tests and replay. Values are kept as JSON text, so callers
 * never share mutable objects with the store.
 */
import type { ConversationStore } from './conversation-store.ts';
import { toJsonText, type JsonValue } from './json-value.ts';

/**
 * Creates an empty in-memory store. Updates of one key are serialized through a per-key promise chain.
 *
 * @example
 * const store = createMemoryStore();
 * await store.update<number>('k', (n) => (n ?? 0) + 1); // 1
 */
export function createMemoryStore(): ConversationStore {
  const values = new Map<string, string>();
  const locks = new Map<string, Promise<unknown>>();

  const read = (key: string): JsonValue | undefined => {
    const text = values.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  };

  return {
    get: (key) => Promise.resolve(read(key)),
    set: async (key, value) => {
      values.set(key, toJsonText(value));
    },
    update: <T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> => {
      const previous = locks.get(key) ?? Promise.resolve();
      const next = previous.then(async () => {
        const value = await fn(read(key) as T | undefined);
        values.set(key, toJsonText(value));
        return value;
      });
      const settled = next.catch(() => undefined);
      locks.set(key, settled);
      void settled.then(() => {
        if (locks.get(key) === settled) locks.delete(key);
      });
      return next;
    },
    delete: async (key) => {
      values.delete(key);
    },
  };
}
