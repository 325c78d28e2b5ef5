/**
 * Opens the configured state backend: the ConversationStore and the Inbox on one storage.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.ts';
import type { ConversationStore } from './conversation-store.ts';
import type { Inbox } from './inbox.ts';
import { createMemoryInbox } from './memory-inbox.ts';
import { createMemoryStore } from './memory-store.ts';
import { createRedisInbox } from './redis-inbox.ts';
import { createRedisStore } from './redis-store.ts';
import { createSqliteInbox } from './sqlite-inbox.ts';
import { createSqliteStore } from './sqlite-store.ts';

/** A store and an inbox on the same storage. */
export type StateBackend = {
  readonly store: ConversationStore;
  readonly inbox: Inbox;
  /** Closes both. */
  close(): Promise<void>;
};

/**
 * Opens `config.state`: SQLite (`path`, created with its folder), Redis (`url`, `keyPrefix`) or memory.
 *
 * @throws ChorusError CHORUS_ERR_STATE_OPEN naming the file or the Redis host when it cannot be opened.
 */
export async function openStateBackend(config: Config['state'], log: Logger): Promise<StateBackend> {
  const ttl = { ttlMs: config.ttlMs };
  const inboxOptions = { dedupeWindowMs: config.dedupeWindowMs, stateTtlMs: config.ttlMs };
  let store: ConversationStore;
  let inbox: Inbox;
  if (config.backend === 'sqlite') {
    store = createSqliteStore({ path: config.path, ...ttl });
    inbox = createSqliteInbox({ path: config.path, ...inboxOptions });
  } else if (config.backend === 'redis') {
    const redis = { url: config.url, keyPrefix: config.keyPrefix, log };
    store = await createRedisStore({ ...redis, ...ttl });
    inbox = await createRedisInbox({ ...redis, ...inboxOptions }).catch(async (err: unknown) => {
      await store.close();
      throw err;
    });
  } else {
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
