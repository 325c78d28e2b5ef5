/**
 * The SQLite Inbox adapter (`node:sqlite`): the inbox, the dedupe marks, the conversation leases and the dead
 * letters live in the same database file as the SQLite ConversationStore's `state` table, so `complete`
 * commits an event's state changes and its "done" mark in one transaction.
 *
 * Each write method is one synchronous statement body, committed by the group commit (sqlite-group-commit.ts):
 * the writes called within one turn of the event loop share one `BEGIN IMMEDIATE … COMMIT` on the next turn,
 * in call order, each still atomic, so several processes may share the file. Reads (`next`, `conversations`,
 * `deadLetters`) take no write transaction; one called after writes still waiting runs behind them. WAL with
 * `synchronous=NORMAL`: a killed process loses nothing it committed; a power cut may lose the last commits
 * (set by the store's connection setup).
 *
 * A lease row stays after its expiry until taken or released: `lease` tries the normal take (no row) in one
 * statement; only when a row is there does it try the take over it (lapsed, or this owner's) and count the
 * attempt on the conversation's oldest entry, in the same write body.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Logger } from 'pino';
import { ChorusError } from '../errors.ts';
import { toTtlMs } from './conversation-store.ts';
import {
  attemptsAfterFailure,
  DEFAULT_DEDUPE_WINDOW_MS,
  NOT_COMPLETED,
  type DeadLetterRecord,
  type Inbox,
  type InboxCompletion,
  type InboxEntry,
  type InboxOptions,
} from './inbox.ts';
import { newVersion } from './optimistic-update.ts';
import { startCheckpointer, type Checkpointer } from './sqlite-checkpointer.ts';
import { createGroupCommit } from './sqlite-group-commit.ts';
import { openDatabase, STATE_SCHEMA } from './sqlite-store.ts';
import { createStoreLifecycle } from './store-lifecycle.ts';

const INBOX_SCHEMA = `${STATE_SCHEMA}
  CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    wire TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS inbox_conversation ON inbox (conversation_id, seq);
  CREATE TABLE IF NOT EXISTS done (dedupe_key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS done_expires_at ON done (expires_at);
  CREATE TABLE IF NOT EXISTS leases (conversation_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT,
    dedupe_key TEXT,
    wire TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    code TEXT NOT NULL,
    error TEXT NOT NULL,
    failed_at INTEGER NOT NULL
  );
`;

/** WAL pages (4 KiB each) at which a commit checkpoints: 32 MiB; once the checkpointer runs, the size at which
 * it restarts the WAL, the commits' own checkpoint left as a backstop at twice that. */
const WAL_CHECKPOINT_PAGES = 8_192;
/** Writes after which checkpoints move to a worker thread (see sqlite-checkpointer.ts): an inbox that writes
 * less never pays for the thread (about 15 MB of RSS). */
const CHECKPOINTER_AFTER_WRITES = 2_000;

/** An inbox row as `next` and `entry` return it: an array (`setReturnArrays`), in their column order. */
type EntryRow = [seq: number, conversationId: string, dedupeKey: string, wire: string, attempts: number];
type DeadRow = {
  id: number;
  conversation_id: string | null;
  dedupe_key: string | null;
  wire: string;
  attempts: number;
  code: string;
  error: string;
  failed_at: number;
};

const SQL = {
  // Queued unless done within the window (the `done` check) or already queued (the conflict).
  appendNew: `INSERT INTO inbox (conversation_id, dedupe_key, wire)
    SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM done WHERE dedupe_key = ?2 AND expires_at > ?4)
    ON CONFLICT (dedupe_key) DO NOTHING`,
  append: 'INSERT INTO inbox (conversation_id, dedupe_key, wire) VALUES (?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING',
  conversations: 'SELECT DISTINCT conversation_id FROM inbox',
  next: 'SELECT seq, conversation_id, dedupe_key, wire, attempts FROM inbox WHERE conversation_id = ? ORDER BY seq LIMIT 1',
  entry: 'SELECT seq, conversation_id, dedupe_key, wire, attempts FROM inbox WHERE seq = ?',
  // A take where no lease is recorded: the one statement of the normal path.
  takeLease: 'INSERT INTO leases (conversation_id, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (conversation_id) DO NOTHING',
  // Else, the take over a record that lapsed or is this owner's, followed by countOverrun.
  takeOver: 'UPDATE leases SET owner = ?2, expires_at = ?3 WHERE conversation_id = ?1 AND (owner = ?2 OR expires_at <= ?4)',
  renewLease: 'UPDATE leases SET expires_at = ? WHERE conversation_id = ? AND owner = ?',
  countOverrun: `UPDATE inbox SET attempts = attempts + 1
    WHERE seq = (SELECT seq FROM inbox WHERE conversation_id = ? ORDER BY seq LIMIT 1)`,
  // Removes an entry only while `owner` holds the lease of its conversation.
  removeLeased: `DELETE FROM inbox WHERE seq = ?
    AND EXISTS (SELECT 1 FROM leases WHERE conversation_id = ? AND owner = ? AND expires_at > ?)`,
  release: 'DELETE FROM leases WHERE conversation_id = ? AND owner = ?',
  writeState: `INSERT INTO state (key, value, version, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at`,
  deleteState: 'DELETE FROM state WHERE key = ?',
  markDone: `INSERT INTO done (dedupe_key, expires_at) VALUES (?, ?)
    ON CONFLICT (dedupe_key) DO UPDATE SET expires_at = excluded.expires_at`,
  remove: 'DELETE FROM inbox WHERE seq = ?',
  countAttempt: 'UPDATE inbox SET attempts = attempts + 1 WHERE seq = ?',
  addDead: `INSERT INTO dead_letters (conversation_id, dedupe_key, wire, attempts, code, error, failed_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)`,
  deadLetters: 'SELECT * FROM dead_letters ORDER BY id',
  deadLetter: 'SELECT * FROM dead_letters WHERE id = ?',
  dropDead: 'DELETE FROM dead_letters WHERE id = ?',
  undone: 'DELETE FROM done WHERE dedupe_key = ?',
  purgeDone: 'DELETE FROM done WHERE expires_at <= ?',
} as const;

const toEntry = ([seq, conversationId, dedupeKey, wire, attempts]: EntryRow): InboxEntry => ({ seq, conversationId, dedupeKey, wire, attempts });

const toDeadLetter = (row: DeadRow): DeadLetterRecord => ({
  id: String(row.id),
  conversationId: row.conversation_id ?? undefined,
  dedupeKey: row.dedupe_key ?? undefined,
  wire: row.wire,
  attempts: row.attempts,
  code: row.code,
  error: row.error,
  failedAt: row.failed_at,
});

/** Options of {@link createSqliteInbox}. */
export type SqliteInboxOptions = InboxOptions & {
  /** The database file, the SQLite store's. */
  readonly path: string;
  /** How long a write waits for another connection's lock, ms. Default: 5_000. */
  readonly busyTimeoutMs?: number;
  /**
   * Where the WAL checkpointer's failures are logged (warn): a checkpoint that failed, or a WAL restart that
   * held the commits past its timeout. Default: not logged (the commits' own checkpoint still bounds the WAL).
   */
  readonly log?: Logger;
};

/**
 * Opens the inbox in the SQLite database at `path` (the file of the SQLite store; tables are created when
 * absent).
 *
 * @throws ChorusError CHORUS_ERR_STATE_OPEN naming the path when it cannot be opened.
 * @example
 * const store = createSqliteStore({ path: 'var/state.db' });
 * const inbox = createSqliteInbox({ path: 'var/state.db' });
 */
export function createSqliteInbox(options: SqliteInboxOptions): Inbox {
  const now = options.now ?? Date.now;
  const windowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
  const ttlMs = toTtlMs(options.stateTtlMs);
  const name = `sqlite ${options.path}`;
  const db: DatabaseSync = openDatabase(options.path, options.busyTimeoutMs ?? 5_000, INBOX_SCHEMA);
  // Checkpoint the WAL into the database at 32 MiB rather than SQLite's 4 MiB: each event rewrites a few
  // pages that later events rewrite again (the queue's tail, the indexes), so fewer, larger checkpoints copy
  // and sync far less. Once the inbox is busy, a worker thread checkpoints every 100 ms and restarts the WAL
  // at 32 MiB, holding the commits for its last pass (sqlite-checkpointer.ts), so no commit checkpoints on the
  // event loop (the copy and fsyncs that stopped it for 3-7 ms, and in 4 of 11 traced end-to-end bench runs
  // once for 74-717 ms). The WAL file may pass 32 MiB by what the commits write until the hold (up to one
  // interval); the commits' own checkpoint, kept as a backstop at 64 MiB, bounds it otherwise.
  db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  const lifecycle = createStoreLifecycle(name);
  const statements = Object.fromEntries(Object.entries(SQL).map(([key, sql]) => [key, db.prepare(sql)])) as Record<
    keyof typeof SQL,
    StatementSync
  >;
  // For speed: entry rows come back as arrays, not as objects keyed by column name. `next` reads one twice for
  // every event (at lease and at complete): 2.4 µs less CPU per event through this inbox (24.6-25.6 against
  // 27.0-28.8 µs, 3 interleaved runs of bench/inbox/cpu.ts).
  statements.next.setReturnArrays(true);
  statements.entry.setReturnArrays(true);
  let purgedAt = 0;
  let writes = 0;
  let checkpointer: Checkpointer | undefined;
  const inFile = options.path !== ':memory:' && options.path !== '';

  const commits = createGroupCommit(db, { name, now });
  // Every call checks the inbox is open first (a rejection, the methods being async).
  const write = <R>(operation: string, body: (at: number) => R): Promise<R> => {
    lifecycle.assertOpen();
    writes += 1;
    if (writes === CHECKPOINTER_AFTER_WRITES && inFile) {
      const onError = (message: string): void => options.log?.warn({ inbox: name, message }, 'WAL checkpointer failed');
      checkpointer = startCheckpointer({ path: options.path, hold: commits.hold, restartAtFrames: WAL_CHECKPOINT_PAGES, onError });
      db.exec(`PRAGMA wal_autocheckpoint = ${2 * WAL_CHECKPOINT_PAGES}`);
    }
    return commits.write(operation, body);
  };
  const read = <R>(body: (at: number) => R): Promise<R> => {
    lifecycle.assertOpen();
    return commits.read(body);
  };

  const markDone = (dedupeKey: string, at: number): void => {
    statements.markDone.run(dedupeKey, at + windowMs);
    // Each second, the marks that expired meanwhile (found by the index, not by reading the whole window).
    if (at - purgedAt >= 1_000) {
      purgedAt = at;
      statements.purgeDone.run(at);
    }
  };
  const nextOf = (conversationId: string): InboxEntry | undefined => {
    const row = statements.next.get(conversationId) as EntryRow | undefined;
    return row === undefined ? undefined : toEntry(row);
  };

  return {
    append: async (items) =>
      write('append', (at) => {
        const conversations = new Set<string>();
        for (const item of items) {
          const result = statements.appendNew.run(item.conversationId, item.dedupeKey, item.wire, at);
          if (Number(result.changes) === 1) conversations.add(item.conversationId);
        }
        return [...conversations];
      }),
    conversations: async () =>
      read(() => (statements.conversations.all() as { conversation_id: string }[]).map((row) => row.conversation_id)),
    lease: async (conversationId, owner, leaseMs) =>
      write('lease', (at) => {
        if (Number(statements.takeLease.run(conversationId, owner, at + leaseMs).changes) === 1) return true;
        if (Number(statements.takeOver.run(conversationId, owner, at + leaseMs, at).changes) !== 1) return false;
        // Taken over: the conversation's last handling never ended (Inbox.lease), which counts an attempt.
        statements.countOverrun.run(conversationId);
        return true;
      }),
    renew: async (conversationId, owner, leaseMs) =>
      write('renew', (at) => Number(statements.renewLease.run(at + leaseMs, conversationId, owner).changes) === 1),
    release: async (conversationId, owner) => {
      await write('release', () => statements.release.run(conversationId, owner));
    },
    next: async (conversationId) => read(() => nextOf(conversationId)),
    complete: async (entry, owner, changes) =>
      write('complete', (at): InboxCompletion => {
        if (Number(statements.removeLeased.run(entry.seq, entry.conversationId, owner, at).changes) !== 1) return NOT_COMPLETED;
        for (const change of changes) {
          if (change.text === undefined) statements.deleteState.run(change.key);
          else statements.writeState.run(change.key, change.text, newVersion(), at + ttlMs);
        }
        markDone(entry.dedupeKey, at);
        const next = nextOf(entry.conversationId);
        if (next === undefined) statements.release.run(entry.conversationId, owner);
        return { completed: true, next };
      }),
    fail: async (entry, error, maxAttempts) =>
      write('fail', (at) => {
        const row = statements.entry.get(entry.seq) as EntryRow | undefined;
        if (row === undefined) return 'dead-lettered';
        const stored = toEntry(row);
        const attempts = attemptsAfterFailure(stored.attempts, maxAttempts);
        if (attempts < maxAttempts) {
          statements.countAttempt.run(entry.seq);
          return 'retry';
        }
        statements.remove.run(entry.seq);
        markDone(stored.dedupeKey, at);
        statements.addDead.run(stored.conversationId, stored.dedupeKey, stored.wire, attempts, error.code, error.message, at);
        return 'dead-lettered';
      }),
    deadLetter: async (wire, error) => {
      await write('dead-letter', (at) => statements.addDead.run(null, null, wire, 0, error.code, error.message, at));
    },
    deadLetters: async () => read(() => (statements.deadLetters.all() as DeadRow[]).map(toDeadLetter)),
    retry: async (id) =>
      write('retry', () => {
        const row = statements.deadLetter.get(Number(id)) as DeadRow | undefined;
        if (row === undefined) return false;
        if (row.conversation_id === null || row.dedupe_key === null) {
          throw new ChorusError('CHORUS_ERR_STATE_VALUE', `dead letter ${id} is a malformed event: it cannot be retried`);
        }
        statements.dropDead.run(row.id);
        statements.undone.run(row.dedupe_key);
        statements.append.run(row.conversation_id, row.dedupe_key, row.wire);
        return true;
      }),
    drop: async (id) => write('drop', () => Number(statements.dropDead.run(Number(id)).changes) === 1),
    // Calls made before close still commit: close waits for their group commit (and the checkpointer's
    // connection closes first, so closing this last one checkpoints the WAL into the file).
    close: () =>
      lifecycle.close(
        async () => {
          await commits.drained();
          await checkpointer?.stop();
        },
        () => db.close(),
      ),
  };
}
