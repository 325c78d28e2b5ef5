/**
 * The unit of work of one event: a ConversationStore view that reads through to the store and keeps every
 * write in memory, so the event's state changes can be committed together with its "done" mark
 * (`Inbox.complete`) — or dropped when the event fails.
 */
import type { ConversationStore } from './conversation-store.ts';
import type { StateChange } from './inbox.ts';
import { toJsonText, type JsonValue } from './json-value.ts';

/** A store view whose writes are buffered; `changes()` lists them, last write per key. */
export type UnitOfWork = ConversationStore & { changes(): readonly StateChange[] };

/**
 * Creates the unit of work of one event over `store`. Reads see the event's own writes first. `update` of
 * one key waits for the previous `update` of that key in this unit of work (two handlers of one event may
 * update the same key). `close` does nothing: the store belongs to the caller.
 */
export function createUnitOfWork(store: ConversationStore): UnitOfWork {
  const written = new Map<string, string | undefined>();
  const tails = new Map<string, Promise<unknown>>();

  const read = async (key: string): Promise<JsonValue | undefined> => {
    if (!written.has(key)) return store.get(key);
    const text = written.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  };

  return {
    get: read,
    set: async (key, value) => {
      written.set(key, toJsonText(value));
    },
    update: <T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> => {
      const run = (tails.get(key) ?? Promise.resolve()).then(async () => {
        const next = await fn((await read(key)) as T | undefined);
        written.set(key, toJsonText(next));
        return next;
      });
      tails.set(key, run.catch(() => undefined));
      return run;
    },
    delete: async (key) => {
      written.set(key, undefined);
    },
    close: async () => undefined,
    changes: () => [...written].map(([key, text]) => ({ key, text })),
  };
}
