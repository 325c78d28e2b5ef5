/**
 * Bytes per conversation of state: 100,000 conversations, each with the small state a listener keeps
 * (`{ count, lastCommand, updatedAt }` written through `store.update` under the key chorus uses,
 * `state:<listener>:<conversationId>`), in the memory store (heap bytes retained, after a full GC) and the
 * SQLite store (bytes of the database file after a checkpoint, and the heap/RSS the process gained). Also what
 * the pipeline keeps per event for its dedupe window: the in-memory window's heap, and the inbox's "done"
 * marks (what `chorus run` keeps, for `state.dedupeWindowMs`, of every handled event) on SQLite's disk and in
 * Redis's memory (when a Redis answers at CHORUS_BENCH_REDIS_URL, default redis://127.0.0.1:6379).
 *
 * Run with --expose-gc; prints `BENCH_RESULT {...}`. Argument: a scratch folder for the SQLite file.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createClient } from 'redis';
import type { Inbox } from '../../src/state/inbox.ts';
import { conversationStateKey } from '../../src/testing/index.ts';
import { handleReads } from '../lib/inbox-load.ts';

const CONVERSATIONS = Number(process.env['CHORUS_BENCH_CONVERSATIONS'] ?? 100_000);
/** Events through the Redis inbox (a round trip or more each, so fewer than through SQLite). */
const REDIS_EVENTS = 20_000;

/** One store's figures. */
export type StoreFigures = {
  readonly store: string;
  /** undefined when the store could not be measured; `reason` says why. */
  readonly bytesPerConversation?: number;
  readonly heapBytesPerConversation?: number;
  readonly rssBytesPerConversation?: number;
  readonly how: string;
  readonly reason?: string;
};

export type StateResult = { readonly conversations: number; readonly valueBytes: number; readonly stores: readonly StoreFigures[] };

type Store = {
  update<T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T>;
  close?: () => Promise<void>;
};
type State = { count: number; lastCommand: string; updatedAt: number };

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

/** A stream id as the Agent API returns them: 34 characters of URL-safe base64, made fresh (not retained elsewhere). */
function conversationId(i: number): string {
  return Buffer.from(`conversation-${i}-chorus-bench`.padEnd(25, '.').slice(0, 25)).toString('base64url');
}

async function fill(store: Store): Promise<void> {
  for (let i = 0; i < CONVERSATIONS; i++) {
    await store.update<State>(conversationStateKey('bench', conversationId(i)), (state) => ({
      count: (state?.count ?? 0) + 1,
      lastCommand: '/buy',
      updatedAt: 1_767_225_600_000 + i,
    }));
  }
  await settle();
}

async function heapDelta(run: () => Promise<unknown>): Promise<{ heap: number; rss: number; kept: unknown }> {
  gc();
  await settle();
  gc();
  const before = process.memoryUsage();
  const kept = await run();
  gc();
  await settle();
  gc();
  const after = process.memoryUsage();
  return { heap: after.heapUsed + after.external - before.heapUsed - before.external, rss: after.rss - before.rss, kept };
}

const stores: StoreFigures[] = [];
const sample: State = { count: 1, lastCommand: '/buy', updatedAt: 1_767_225_600_000 };

{
  const { createMemoryStore } = await import('../../src/state/memory-store.ts');
  const { heap, rss, kept } = await heapDelta(async () => {
    const store = createMemoryStore();
    await fill(store);
    return store;
  });
  void kept;
  stores.push({
    store: 'memory',
    bytesPerConversation: heap / CONVERSATIONS,
    heapBytesPerConversation: heap / CONVERSATIONS,
    rssBytesPerConversation: rss / CONVERSATIONS,
    how: 'heap retained after a full GC',
  });
}

{
  const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'chorus-bench-sqlite-'));
  try {
    let createSqliteStore: ((options: { path: string }) => Store) | undefined;
    let reason: string | undefined;
    try {
      ({ createSqliteStore } = (await import('../../src/state/sqlite-store.ts')) as { createSqliteStore?: (options: { path: string }) => Store });
      if (typeof createSqliteStore !== 'function') reason = 'src/state/sqlite-store.ts has no createSqliteStore';
    } catch (err) {
      reason = `store not built yet (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
    }
    if (createSqliteStore === undefined || reason !== undefined) {
      stores.push({ store: 'sqlite', how: 'database file bytes', reason: reason ?? 'store not built yet' });
    } else {
      const path = join(dir, 'state.db');
      const open = createSqliteStore;
      const { heap, rss, kept } = await heapDelta(async () => {
        const store = open({ path });
        await fill(store);
        return store;
      });
      await (kept as Store).close?.(); // closing checkpoints the WAL into the database file
      const fileBytes = statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
      stores.push({
        store: 'sqlite',
        bytesPerConversation: fileBytes / CONVERSATIONS,
        heapBytesPerConversation: heap / CONVERSATIONS,
        rssBytesPerConversation: rss / CONVERSATIONS,
        how: 'database file bytes (WAL checkpointed on close)',
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

{
  const { createDedupeWindow } = await import('../../src/state/dedupe-window.ts');
  const { heap, rss } = await heapDelta(async () => {
    const window = createDedupeWindow();
    for (let i = 0; i < CONVERSATIONS; i++) window.claim(`message:${conversationId(i)}`);
    return window;
  });
  stores.push({
    store: 'dedupe window (memory, per event)',
    bytesPerConversation: heap / CONVERSATIONS,
    heapBytesPerConversation: heap / CONVERSATIONS,
    rssBytesPerConversation: rss / CONVERSATIONS,
    how: 'heap retained per remembered message id (default window: 24 h, at most 1,000,000 ids)',
  });
}

/**
 * `events` events through `inbox` as `chorus run` handles them (bench/lib/inbox-load.ts), in reads of 100, each
 * event in a conversation of its own; the wire text is tiny, as only the done marks are measured.
 */
async function handleThrough(inbox: Inbox, events: number): Promise<void> {
  const reads = Array.from({ length: events / 100 }, (_, read) =>
    Array.from({ length: 100 }, (_, i) => {
      const id = conversationId(read * 100 + i);
      return { conversationId: id, dedupeKey: `message:${id}`, wire: '{}' };
    }),
  );
  await handleReads(inbox, reads);
}

{
  // Bytes of the database pages in use, so the pages the handled entries freed (on SQLite's free list) do not count.
  const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'chorus-bench-inbox-'));
  try {
    const { createSqliteInbox } = await import('../../src/state/sqlite-inbox.ts');
    const path = join(dir, 'state.db');
    const inbox = createSqliteInbox({ path });
    await handleThrough(inbox, CONVERSATIONS);
    await inbox.close();
    const db = new DatabaseSync(path, { readOnly: true });
    const first = (sql: string): number => Number(Object.values(db.prepare(sql).get() ?? {})[0]);
    const usedBytes = (first('PRAGMA page_count') - first('PRAGMA freelist_count')) * first('PRAGMA page_size');
    const marks = first('SELECT count(*) FROM done');
    db.close();
    stores.push({
      store: 'dedupe marks (SQLite inbox, per event)',
      bytesPerConversation: usedBytes / marks,
      how: `database pages in use per handled event's done mark (${marks.toLocaleString('en-US')} events; kept for state.dedupeWindowMs, default 24 h)`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

{
  // The Redis inbox's marks are keys with a TTL: Redis's used_memory grown, per mark, so nothing else should
  // write to that Redis meanwhile (CHORUS_BENCH_REDIS_URL, default the local one). The bench's keys go after.
  const store = 'dedupe marks (Redis inbox, per event)';
  const url = process.env['CHORUS_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const keyPrefix = `chorus-bench-${process.pid}:`;
  const client = createClient({ url, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on('error', () => undefined); // a refused connection is reported by connect()
  const connected = await client.connect().then(
    () => true,
    () => false,
  );
  if (!connected) stores.push({ store, how: 'Redis used_memory grown per done mark', reason: `no Redis at ${url}` });
  else {
    const keys = async (pattern: string): Promise<string[]> => {
      const found: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${keyPrefix}${pattern}`, COUNT: 1_000 })) found.push(...batch);
      return found;
    };
    const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
    try {
      const before = await usedMemory();
      const { createRedisInbox } = await import('../../src/state/redis-inbox.ts');
      const inbox = await createRedisInbox({ url, keyPrefix });
      await handleThrough(inbox, REDIS_EVENTS);
      await inbox.close();
      const grown = (await usedMemory()) - before;
      const marks = (await keys('inbox:done:*')).length;
      stores.push({
        store,
        bytesPerConversation: grown / marks,
        how: `Redis used_memory grown per handled event's done mark (${marks.toLocaleString('en-US')} events, ${url}; a key each, with a TTL of state.dedupeWindowMs)`,
      });
    } finally {
      const left = await keys('*');
      for (let i = 0; i < left.length; i += 1_000) await client.unlink(left.slice(i, i + 1_000));
      client.destroy();
    }
  }
}

const result: StateResult = { conversations: CONVERSATIONS, valueBytes: JSON.stringify(sample).length, stores };
process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
