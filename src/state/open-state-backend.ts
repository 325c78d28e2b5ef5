/**
 * Opens the configured state backend: the ConversationStore and the Inbox on one storage.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.ts';
import type { ConversationStore } from './conversation-store.ts';
import type { Inbox } from './inbox.ts';

/** A store and an inbox on the same storage. */
export type StateBackend = {
  readonly store: ConversationStore;
  readonly inbox: Inbox;
  /** Closes both. */
  close(): Promise<void>;
};

/**
 * Opens `config.state`: SQLite (`path`, created with its folder), Redis (`url`, `keyPrefix`) or memory. Only
 * the configured backend's modules are imported (the Redis client is 5 to 11 MB of a daemon's idle RSS).
 *
 * @throws ChorusError CHORUS_ERR_STATE_OPEN naming the file or the Redis host when it cannot be opened.
 */
export async function openStateBackend(config: Config['state'], log: Logger): Promise<StateBackend> {
  const ttl = { ttlMs: config.ttlMs };
  const inboxOptions = { dedupeWindowMs: config.dedupeWindowMs, stateTtlMs: config.ttlMs };
  let store: ConversationStore;
  let inbox: Inbox;
  if (config.backend === 'sqlite') {
    const [{ createSqliteStore }, { createSqliteInbox }] = await Promise.all([import('./sqlite-store.ts'), import('./sqlite-inbox.ts')]);
    store = createSqliteStore({ path: config.path, ...ttl });
    inbox = createSqliteInbox({ path: config.path, ...inboxOptions, log });
  } else if (config.backend === 'redis') {
    const [{ createRedisStore }, { createRedisInbox }] = await Promise.all([import('./redis-store.ts'), import('./redis-inbox.ts')]);
    const redis = { url: config.url, keyPrefix: config.keyPrefix, log };
    store = await createRedisStore({ ...redis, ...ttl });
    inbox = await createRedisInbox({ ...redis, ...inboxOptions }).catch(async (err: unknown) => {
      await store.close();
      throw err;
    });
  } else {
    const [{ createMemoryStore }, { createMemoryInbox }] = await Promise.all([import('./memory-store.ts'), import('./memory-inbox.ts')]);
    store = createMemoryStore(ttl);
    inbox = createMemoryInbox({ store, ...inboxOptions });
  }
  log.info({ backend: config.backend }, 'state backend open');
  return {
    store,
    inbox,
    close: async () => {
      await inbox.close();
      await store.close();
    },
  };
}
