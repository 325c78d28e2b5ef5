/**
 * The Redis Inbox adapter, through node-redis: for several chorus instances sharing one Redis. Its keys live
 * beside the Redis ConversationStore's under the same `keyPrefix`, so `complete` commits an event's state
 * changes and its "done" mark in one atomic step.
 *
 * Layout, under `keyPrefix` (store keys beginning with `inbox:` are therefore reserved):
 * - `inbox:seq` the last entry seq (INCR); `inbox:e:<seq>` an entry, hash {conversation, dedupe, wire, attempts};
 * - `inbox:c:<conversationId>` a conversation's queued seqs, sorted set (score = seq);
 * - `inbox:convs` the set of conversations with queued entries; `inbox:q:<dedupeKey>` → seq while queued;
 * - `inbox:done:<dedupeKey>` a done mark, PX = dedupeWindowMs;
 * - `inbox:lease:<conversationId>` → `<expiresAt ms>:<owner>` (server time), PX = leaseMs + a day: the record
 *   outlives its expiry, so a take over it sees the conversation's last handling never ended (Inbox.lease);
 *   one without a time (written before this layout) is a lease held until its key expires;
 * - `inbox:dead:seq` the last dead letter id (INCR); `inbox:dead` hash id → JSON record (failedAt from TIME).
 * State written by `complete` is what the store writes: hash `<keyPrefix><key>` {value, version}, PEXPIREd.
 *
 * Every method is one Lua script (one EVALSHA), or one command when one suffices, so instances never
 * interleave inside a method, and all time is the server's (PX expiry, TIME): no client clock. Calls run
 * in call order (one connection); a `next` called after an `append` reads what it appended (the scripts
 * are loaded at connection: only after a Redis restart may a first EVAL be sent again behind later calls). A script
 * checks everything before its first write, as Redis does not roll a failed script back.
 *
 * Not Redis Cluster safe: scripts build key names from the prefix at run time instead of declaring them in
 * KEYS, so they touch keys of any slot. chorus targets a single Redis (or a primary with replicas).
 * Durability is the server's: `append` survives a Redis restart only with AOF (`appendonly yes`), and
 * `maxmemory-policy` must be `noeviction` (an evicted entry or lease breaks the inbox).
 */
import type { Logger } from 'pino';
import { createClient, defineScript, type CommandParser } from 'redis';
import { ChorusError } from '../errors.ts';
import { toTtlMs } from './conversation-store.ts';
import {
  DEFAULT_DEDUPE_WINDOW_MS,
  NOT_COMPLETED,
  type DeadLetterRecord,
  type Inbox,
  type InboxCompletion,
  type InboxEntry,
  type InboxOptions,
} from './inbox.ts';
import { newVersion } from './optimistic-update.ts';
import { toSafeAddress } from './redis-store.ts';
import { createStoreLifecycle, toStateError } from './store-lifecycle.ts';

/** Options of {@link createRedisInbox}; `now` is not one: Redis keeps time. */
export type RedisInboxOptions = Omit<InboxOptions, 'now'> & {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` for TLS. */
  readonly url: string;
  /** Prepended to every key; the same as the store's. Default: `chorus:`. */
  readonly keyPrefix?: string;
  /** How long connecting may take at creation, ms. Default: 5_000. */
  readonly connectTimeoutMs?: number;
  /** Where connection errors are logged (warn). Default: not logged (operations still fail with them). */
  readonly log?: Logger;
};

/** How long a lease key outlives the lease's expiry, ms: a take up to a day after it lapsed counts the overrun. */
const LEASE_RECORD_KEPT_MS = 86_400_000;

// Every script gets ARGV[1] = the key prefix, and these helpers.
const PRELUDE = `
local p = ARGV[1]
local function enqueue(conv, dedupe, wire)
  local seq = redis.call('INCR', p .. 'inbox:seq')
  redis.call('HSET', p .. 'inbox:e:' .. seq, 'conversation', conv, 'dedupe', dedupe, 'wire', wire, 'attempts', 0)
  redis.call('ZADD', p .. 'inbox:c:' .. conv, seq, seq)
  redis.call('SADD', p .. 'inbox:convs', conv)
  redis.call('SET', p .. 'inbox:q:' .. dedupe, seq)
end
local function finish(seq, conv, dedupe, windowMs)
  redis.call('DEL', p .. 'inbox:e:' .. seq, p .. 'inbox:q:' .. dedupe)
  local c = p .. 'inbox:c:' .. conv
  redis.call('ZREM', c, seq)
  if redis.call('ZCARD', c) == 0 then redis.call('SREM', p .. 'inbox:convs', conv) end
  redis.call('SET', p .. 'inbox:done:' .. dedupe, '1', 'PX', windowMs)
end
local function peek(conv)
  local seq = redis.call('ZRANGE', p .. 'inbox:c:' .. conv, 0, 0)[1]
  if not seq then return nil end
  local f = redis.call('HMGET', p .. 'inbox:e:' .. seq, 'conversation', 'dedupe', 'wire', 'attempts')
  if not f[1] then return nil end
  return {seq, f[1], f[2], f[3], f[4]}
end
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The holder of a conversation's lease record and its expiry (ms), or nil.
local function leaseOf(conv)
  local v = redis.call('GET', p .. 'inbox:lease:' .. conv)
  if not v then return nil end
  local at, owner = string.match(v, '^(%d+):(.*)$')
  if not at then return v, math.huge end
  return owner, tonumber(at)
end
local function addDead(record)
  record.failedAt = nowMs()
  local id = redis.call('INCR', p .. 'inbox:dead:seq')
  redis.call('HSET', p .. 'inbox:dead', id, cjson.encode(record))
end
`;

// ARGV[2..]: conversation, dedupe key, wire of each item. Returns the conversations that received entries.
const APPEND = `
local added, seen = {}, {}
for i = 2, #ARGV, 3 do
  local conv, dedupe = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', p .. 'inbox:done:' .. dedupe, p .. 'inbox:q:' .. dedupe) == 0 then
    enqueue(conv, dedupe, ARGV[i + 2])
    if not seen[conv] then seen[conv] = true; added[#added + 1] = conv end
  end
end
return added
`;

// Records the lease of ARGV[2] held by ARGV[3] for ARGV[4] ms from now (the record lives a day longer).
const SET_LEASE = `
local function setLease(now)
  local ms = tonumber(ARGV[4])
  redis.call('SET', p .. 'inbox:lease:' .. ARGV[2], string.format('%.0f', now + ms) .. ':' .. ARGV[3], 'PX', ms + ${LEASE_RECORD_KEPT_MS})
end
`;

// ARGV: conversation, owner, lease ms. Returns 1 when taken. A take over a record still there (lapsed, or
// this owner's) counts an attempt on the conversation's oldest entry (Inbox.lease).
const LEASE = `${SET_LEASE}
local now = nowMs()
local holder, expiresAt = leaseOf(ARGV[2])
if holder and holder ~= ARGV[3] and expiresAt > now then return 0 end
if holder then
  local seq = redis.call('ZRANGE', p .. 'inbox:c:' .. ARGV[2], 0, 0)[1]
  if seq and redis.call('EXISTS', p .. 'inbox:e:' .. seq) == 1 then
    redis.call('HINCRBY', p .. 'inbox:e:' .. seq, 'attempts', 1)
  end
end
setLease(now)
return 1
`;

// ARGV: conversation, owner, lease ms. Returns 1 when renewed (the owner's record, valid or lapsed).
const RENEW = `${SET_LEASE}
if leaseOf(ARGV[2]) ~= ARGV[3] then return 0 end
setLease(nowMs())
return 1
`;

// ARGV: conversation, owner.
const RELEASE = `
if leaseOf(ARGV[2]) == ARGV[3] then redis.call('DEL', p .. 'inbox:lease:' .. ARGV[2]) end
return 0
`;

// ARGV: conversation. Returns {seq, conversation, dedupe, wire, attempts} or nil.
const NEXT = `
return peek(ARGV[2])
`;

// ARGV: seq, dedupe key, owner, window ms, state ttl ms, then key, version ('' = delete), text of each change.
// Returns 0 (nothing written) without the lease or the entry; else {1, seq, conversation, dedupe, wire,
// attempts} of the conversation's next entry, or {1} having given the lease up when none is left.
const COMPLETE = `
local f = redis.call('HMGET', p .. 'inbox:e:' .. ARGV[2], 'conversation', 'dedupe')
if not f[1] or f[2] ~= ARGV[3] then return 0 end
local holder, expiresAt = leaseOf(f[1])
if holder ~= ARGV[4] or expiresAt <= nowMs() then return 0 end
for i = 7, #ARGV, 3 do
  local t = redis.call('TYPE', p .. ARGV[i]).ok
  if t ~= 'hash' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE state key ' .. ARGV[i] .. ' holds a ' .. t .. ', not a hash')
  end
end
for i = 7, #ARGV, 3 do
  local k = p .. ARGV[i]
  if ARGV[i + 1] == '' then
    redis.call('DEL', k)
  else
    redis.call('HSET', k, 'value', ARGV[i + 2], 'version', ARGV[i + 1])
    redis.call('PEXPIRE', k, ARGV[6])
  end
end
finish(ARGV[2], f[1], f[2], ARGV[5])
local e = peek(f[1])
if not e then
  redis.call('DEL', p .. 'inbox:lease:' .. f[1])
  return {1}
end
return {1, e[1], e[2], e[3], e[4], e[5]}
`;

// ARGV: seq, max attempts, code, message, window ms. Returns 'retry' or 'dead-lettered'.
const FAIL = `
local e = p .. 'inbox:e:' .. ARGV[2]
local f = redis.call('HMGET', e, 'conversation', 'dedupe', 'wire', 'attempts')
if not f[1] then return 'dead-lettered' end
local attempts = tonumber(f[4])
-- As attemptsAfterFailure (inbox.ts): not past maxAttempts, which lease overruns may have reached.
if attempts < tonumber(ARGV[3]) then attempts = attempts + 1 end
if attempts < tonumber(ARGV[3]) then
  redis.call('HSET', e, 'attempts', attempts)
  return 'retry'
end
finish(ARGV[2], f[1], f[2], ARGV[6])
addDead({ conversationId = f[1], dedupeKey = f[2], wire = f[3], attempts = attempts, code = ARGV[4], error = ARGV[5] })
return 'dead-lettered'
`;

// ARGV: wire, code, message.
const DEAD_LETTER = `
addDead({ wire = ARGV[2], attempts = 0, code = ARGV[3], error = ARGV[4] })
return 0
`;

// ARGV: dead letter id. Returns 1 when queued again, 0 when there is no such letter, -1 for a malformed event.
// A dedupe key queued again meanwhile (appended after its window) keeps that entry: the letter just goes.
const RETRY = `
local rec = redis.call('HGET', p .. 'inbox:dead', ARGV[2])
if not rec then return 0 end
local r = cjson.decode(rec)
if type(r.conversationId) ~= 'string' or type(r.dedupeKey) ~= 'string' then return -1 end
redis.call('HDEL', p .. 'inbox:dead', ARGV[2])
redis.call('DEL', p .. 'inbox:done:' .. r.dedupeKey)
if redis.call('EXISTS', p .. 'inbox:q:' .. r.dedupeKey) == 0 then enqueue(r.conversationId, r.dedupeKey, r.wire) end
return 1
`;

const toScript = <R>(lua: string, transformReply: (reply: unknown) => R) =>
  defineScript({
    SCRIPT: PRELUDE + lua,
    NUMBER_OF_KEYS: 0, // keys are built inside the scripts: see the module comment
    parseCommand(parser: CommandParser, args: readonly string[]) {
      parser.push(...args);
    },
    transformReply,
  });

const toNumber = (reply: unknown): number => Number(reply);
/** A lease's length as a Redis PX argument: whole ms, at least 1. */
const toPx = (leaseMs: number): string => String(Math.max(1, Math.ceil(leaseMs)));
const toEntry = (fields: readonly unknown[]): InboxEntry => {
  const [seq, conversationId, dedupeKey, wire, attempts] = fields.map(String) as [string, string, string, string, string];
  return { seq: Number(seq), conversationId, dedupeKey, wire, attempts: Number(attempts) };
};
const scripts = {
  inboxAppend: toScript(APPEND, (reply) => (reply as string[]).map(String)),
  inboxLease: toScript(LEASE, toNumber),
  inboxRenew: toScript(RENEW, toNumber),
  inboxRelease: toScript(RELEASE, toNumber),
  inboxNext: toScript(NEXT, (reply): InboxEntry | undefined => (reply === null ? undefined : toEntry(reply as unknown[]))),
  inboxComplete: toScript(COMPLETE, (reply): InboxCompletion => {
    if (!Array.isArray(reply)) return NOT_COMPLETED;
    return { completed: true, next: reply.length > 1 ? toEntry(reply.slice(1)) : undefined };
  }),
  inboxFail: toScript(FAIL, (reply) => String(reply) as 'retry' | 'dead-lettered'),
  inboxDeadLetter: toScript(DEAD_LETTER, toNumber),
  inboxRetry: toScript(RETRY, toNumber),
};

/** A dead letter as stored in `inbox:dead` (JSON from cjson: absent fields for a malformed event). */
type StoredDeadLetter = Omit<DeadLetterRecord, 'id'>;

/**
 * Connects to Redis at `url` and returns the inbox kept under `keyPrefix` (see the module comment for the
 * layout). Every method is atomic across all instances using the same Redis and prefix; `complete` writes
 * state exactly as `createRedisStore` with that prefix stores it, each value living `stateTtlMs` (default
 * 7 days), and remembers the dedupe key for `dedupeWindowMs` (default 86_400_000 ms). Leases and the dedupe
 * window expire on the server's clock (`leaseMs` is rounded up to a whole millisecond). `close()` waits for
 * pending commands, then quits the connection.
 *
 * @throws ChorusError CHORUS_ERR_STATE_OPEN when Redis does not answer within `connectTimeoutMs` (the message
 *   names host and port, never credentials).
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when `stateTtlMs` or `dedupeWindowMs` is not a positive
 *   integer, or `url` is not a URL.
 * Methods reject with CHORUS_ERR_STATE_UNAVAILABLE when a command fails or the inbox is closed.
 * @example
 * const store = await createRedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'desk-bot:' });
 * const inbox = await createRedisInbox({ url: 'redis://127.0.0.1:6379', keyPrefix: 'desk-bot:' });
 */
export async function createRedisInbox(options: RedisInboxOptions): Promise<Inbox> {
  const ttlArg = String(toTtlMs(options.stateTtlMs));
  const windowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `inbox dedupeWindowMs must be a positive integer (ms), got ${windowMs}`);
  }
  const windowArg = String(windowMs);
  const prefix = options.keyPrefix ?? 'chorus:';
  const name = `redis ${toSafeAddress(options.url)}`;
  let ready = false;

  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    scripts,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      // As the store: give up on the first failure at creation, then reconnect with backoff capped at 2 s.
      reconnectStrategy: (retries, cause) => (ready ? Math.min(50 * 2 ** retries, 2_000) : cause),
    },
  });
  client.on('error', (err: unknown) => options.log?.warn({ err, inbox: name }, 'redis connection error'));
  try {
    await client.connect();
    // Loaded now, so calls run as EVALSHA from the first one: a script the server lacks (NOSCRIPT) is sent
    // again as EVAL, after the commands sent meanwhile, which would break the order of calls made together.
    await Promise.all(Object.values(scripts).map((script) => client.scriptLoad(script.SCRIPT)));
    ready = true;
  } catch (err) {
    client.destroy();
    throw new ChorusError('CHORUS_ERR_STATE_OPEN', `cannot connect the inbox to ${name}`, { cause: err });
  }

  const lifecycle = createStoreLifecycle(name);
  const call = async <R>(operation: string, run: () => Promise<R>): Promise<R> => {
    lifecycle.assertOpen();
    try {
      return await run();
    } catch (err) {
      throw toStateError(err, name, operation);
    }
  };

  return {
    append: (items) =>
      call('append', () =>
        client.inboxAppend([prefix, ...items.flatMap((item) => [item.conversationId, item.dedupeKey, item.wire])]),
      ),
    conversations: () => call('read', () => client.sMembers(`${prefix}inbox:convs`)),
    lease: (conversationId, owner, leaseMs) =>
      call('lease', async () => (await client.inboxLease([prefix, conversationId, owner, toPx(leaseMs)])) === 1),
    renew: (conversationId, owner, leaseMs) =>
      call('renew', async () => (await client.inboxRenew([prefix, conversationId, owner, toPx(leaseMs)])) === 1),
    release: (conversationId, owner) =>
      call('release', async () => {
        await client.inboxRelease([prefix, conversationId, owner]);
      }),
    next: (conversationId) =>
      call('read', () => client.inboxNext([prefix, conversationId])),
    complete: (entry, owner, changes) =>
      call('complete', async () => {
        const args = changes.flatMap((change) =>
          change.text === undefined ? [change.key, '', ''] : [change.key, String(newVersion()), change.text],
        );
        const head = [prefix, String(entry.seq), entry.dedupeKey, owner, windowArg, ttlArg];
        return client.inboxComplete([...head, ...args]);
      }),
    fail: (entry, error, maxAttempts) =>
      call('fail', () =>
        client.inboxFail([prefix, String(entry.seq), String(maxAttempts), error.code, error.message, windowArg]),
      ),
    deadLetter: (wire, error) =>
      call('dead-letter', async () => {
        await client.inboxDeadLetter([prefix, wire, error.code, error.message]);
      }),
    deadLetters: () =>
      call('read', async () => {
        const records = await client.hGetAll(`${prefix}inbox:dead`);
        return Object.entries(records)
          .map(([id, json]): DeadLetterRecord => {
            const r = JSON.parse(json) as StoredDeadLetter;
            const { conversationId, dedupeKey, wire, attempts, code, error, failedAt } = r;
            return { id, conversationId, dedupeKey, wire, attempts, code, error, failedAt };
          })
          .sort((a, b) => Number(a.id) - Number(b.id));
      }),
    retry: (id) =>
      call('retry', async () => {
        const result = await client.inboxRetry([prefix, id]);
        if (result === -1) {
          throw new ChorusError('CHORUS_ERR_STATE_VALUE', `dead letter ${id} is a malformed event: it cannot be retried`);
        }
        return result === 1;
      }),
    drop: (id) => call('drop', async () => (await client.hDel(`${prefix}inbox:dead`, id)) === 1),
    close: () =>
      lifecycle.close(
        async () => undefined,
        async () => {
          ready = false;
          await client.close();
        },
      ),
  };
}
