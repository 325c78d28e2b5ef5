/**
 * The Redis ConversationStore adapter, through node-redis (the official client): for several chorus
 * instances sharing state. One connection per store; commands are pipelined on it.
 *
 * Layout: the value of key `k` is the hash `<keyPrefix>k` with fields `value` (JSON text) and `version`
 * (a random integer, see `newVersion`). Every write sets both and `PEXPIRE`s the hash by `ttlMs`, in one Lua
 * script, so Redis itself expires state (server clock; there is no injectable clock here).
 *
 * Why a Lua compare-and-swap and not WATCH/MULTI/EXEC: WATCH belongs to a connection, and this connection is
 * shared by every concurrent call of the store: one update's EXEC would clear another's WATCH, and the other
 * would then write unchecked. A WATCH-based update needs a connection of its own (a pool); the script needs
 * none: it compares the version and writes in one atomic step on the server, and `update` reruns `fn` when
 * the version moved (see optimistic-update.ts).
 *
 * While disconnected, commands fail at once (no offline queue: an event should fail and be retried rather
 * than wait unboundedly) and the client reconnects in the background.
 */
import type { Logger } from 'pino';
import { createClient, defineScript, type CommandParser } from 'redis';
import { ChorusError } from '../errors.ts';
import { toTtlMs, type ConversationStore, type ConversationStoreOptions } from './conversation-store.ts';
import { toJsonText, type JsonValue } from './json-value.ts';
import { createOptimisticUpdate, newVersion } from './optimistic-update.ts';
import { createStoreLifecycle, toStateError } from './store-lifecycle.ts';

/** Options of {@link createRedisStore}. */
export type RedisStoreOptions = ConversationStoreOptions & {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` for TLS. */
  readonly url: string;
  /** Prepended to every key, so several bots (or tests) share one Redis. Default: `chorus:`. */
  readonly keyPrefix?: string;
  /** How long connecting may take at creation, ms. Default: 5_000. */
  readonly connectTimeoutMs?: number;
  /** Where connection errors are logged (warn). Default: not logged (operations still fail with them). */
  readonly log?: Logger;
};

// KEYS[1] the hash; ARGV: expected version ('*' any, '' no value), value, new version, ttl ms.
// Returns 1 when written, 0 when the version moved.
const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'version') or ''
if ARGV[1] ~= '*' and current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'version', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

const writeIfVersion = defineScript({
  SCRIPT: WRITE_SCRIPT,
  NUMBER_OF_KEYS: 1,
  parseCommand(parser: CommandParser, key: string, expected: string, text: string, version: string, ttlMs: string) {
    parser.pushKey(key);
    parser.push(expected, text, version, ttlMs);
  },
  transformReply: (reply: unknown): number => Number(reply),
});

/**
 * Connects to Redis at `url` and returns a store keeping each value under `keyPrefix` + key for `ttlMs`
 * after its last write (default 7 days; Redis expires it). `update` is atomic per key across every
 * instance using the same Redis and prefix: a version compare-and-swap in a Lua script, retried (see the
 * module comment for why not WATCH). `close()` waits for pending commands, then quits the connection.
 *
 * @throws ChorusError CHORUS_ERR_STATE_OPEN when Redis does not answer within `connectTimeoutMs` (the message
 *   names host and port, never credentials).
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when `ttlMs` is not a positive integer or `url` is not a URL.
 * @example
 * const store = await createRedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'desk-bot:' });
 * await store.update<number>('k', (n) => (n ?? 0) + 1);
 * await store.close();
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<ConversationStore> {
  const ttlMs = toTtlMs(options.ttlMs);
  const ttlArg = String(ttlMs);
  const keyPrefix = options.keyPrefix ?? 'chorus:';
  const name = `redis ${toSafeAddress(options.url)}`;
  let ready = false;

  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    scripts: { writeIfVersion },
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      // At creation, give up on the first failure (the caller gets CHORUS_ERR_STATE_OPEN); once connected,
      // reconnect with exponential backoff capped at 2 s.
      reconnectStrategy: (retries, cause) => (ready ? Math.min(50 * 2 ** retries, 2_000) : cause),
    },
  });
  client.on('error', (err: unknown) => options.log?.warn({ err, store: name }, 'redis connection error'));
  try {
    await client.connect();
    ready = true;
  } catch (err) {
    client.destroy();
    throw new ChorusError('CHORUS_ERR_STATE_OPEN', `cannot connect the conversation store to ${name}`, { cause: err });
  }

  const lifecycle = createStoreLifecycle(name);
  const redisKey = (key: string): string => keyPrefix + key;
  const write = async (key: string, expected: string, text: string): Promise<boolean> =>
    (await client.writeIfVersion(redisKey(key), expected, text, String(newVersion()), ttlArg)) === 1;
  const call = async <R>(operation: string, run: () => Promise<R>): Promise<R> => {
    try {
      return await run();
    } catch (err) {
      throw toStateError(err, name, operation);
    }
  };

  const optimistic = createOptimisticUpdate<string>({
    read: (key) =>
      call('read', async () => {
        const [text, version] = await client.hmGet(redisKey(key), ['value', 'version']);
        return text == null || version == null
          ? { value: undefined, version: undefined }
          : { value: JSON.parse(text) as JsonValue, version };
      }),
    write: (key, expected, text) => call('write', () => write(key, expected ?? '', text)),
  });

  return {
    get: async (key) => {
      lifecycle.assertOpen();
      return call('read', async () => {
        const text = await client.hGet(redisKey(key), 'value');
        return text == null ? undefined : (JSON.parse(text) as JsonValue);
      });
    },
    set: async (key, value) => {
      lifecycle.assertOpen();
      const text = toJsonText(value);
      await call('write', () => write(key, '*', text));
    },
    update: async <T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> => {
      lifecycle.assertOpen();
      return optimistic.update(key, fn);
    },
    delete: async (key) => {
      lifecycle.assertOpen();
      await call('delete', () => client.del(redisKey(key)));
    },
    close: () =>
      lifecycle.close(optimistic.drained, async () => {
        ready = false;
        await client.close();
      }),
  };
}

/**
 * `redis://user:secret@host:6379/0` → `redis://host:6379`: what messages and logs may show (also used by the
 * Redis inbox).
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when `url` is not a URL.
 */
export function toSafeAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', 'the Redis url of the conversation store is not a URL', { cause: err });
  }
}
