/**
 * The SQLite ConversationStore adapter, through Node's built-in `node:sqlite` (no server, no native addon):
 * the embedded default, one file (e.g. `var/state.db`) that several processes on one host may share.
 *
 * Schema: one table `state(key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL,
 * expires_at INTEGER NOT NULL)` plus an index on `expires_at`; `value` is JSON text, `expires_at` ms since
 * the epoch. The database runs in WAL mode (readers never wait for the writer) with `synchronous=NORMAL`
 * (a power cut may lose the last writes, never corrupt the file).
 *
 * Why compare-and-swap and not a transaction around `update`: `fn` may be async, and a `BEGIN IMMEDIATE`
 * held across its await would take the database's single write lock for as long as `fn` runs (every other
 * process waits, then fails with SQLITE_BUSY after `busyTimeoutMs`), and, the connection being shared by all
 * of this instance's calls, other keys' writes would land inside that transaction. Instead each write is one
 * statement, itself atomic: `UPDATE … WHERE key = ? AND version = ?` (or an insert that only replaces an
 * expired row), and `update` reruns `fn` when it changed nothing (see optimistic-update.ts).
 *
 * `node:sqlite` prints an ExperimentalWarning on Node 24 when first loaded.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ChorusError } from '../errors.ts';
import { toTtlMs, type ConversationStore, type ConversationStoreOptions } from './conversation-store.ts';
import { toJsonText, type JsonValue } from './json-value.ts';
import { createOptimisticUpdate, newVersion } from './optimistic-update.ts';
import { createStoreLifecycle, toStateError } from './store-lifecycle.ts';

/** Where the daemon keeps the embedded store unless configured otherwise (relative to the working folder). */
export const DEFAULT_SQLITE_STATE_PATH = 'var/state.db';

/** Options of {@link createSqliteStore}. */
export type SqliteStoreOptions = ConversationStoreOptions & {
  /** The database file; its folder is created. `':memory:'` keeps the database in this process only. */
  readonly path: string;
  /** How long a statement waits for another process's write lock before failing, ms. Default: 5_000. */
  readonly busyTimeoutMs?: number;
  /** Expired rows are deleted at most this often (checked at each write), ms. Default: 60_000. */
  readonly purgeIntervalMs?: number;
  /** The clock for TTLs, ms since the epoch. Default: `Date.now`. */
  readonly now?: () => number;
};

/** The `state` table (shared with the SQLite inbox, whose `complete` writes state in its transaction). */
export const STATE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS state_expires_at ON state (expires_at);
`;

type Row = { value: string; version: number };

/**
 * Opens (creating when absent) the SQLite store at `path`; values live `ttlMs` after their last write
 * (default 7 days) and read as `undefined` once expired, even before the periodic purge deletes them.
 * `update` is atomic per key across every instance and process using the file: a version compare-and-swap,
 * retried (see the module comment for why not a transaction).
 *
 * @throws ChorusError CHORUS_ERR_STATE_OPEN naming the path when the folder or file cannot be created or opened.
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when `ttlMs` is not a positive integer.
 * @example
 * const store = createSqliteStore({ path: 'var/state.db' });
 * await store.update<number>('k', (n) => (n ?? 0) + 1);
 * await store.close();
 */
export function createSqliteStore(options: SqliteStoreOptions): ConversationStore {
  const ttlMs = toTtlMs(options.ttlMs);
  const now = options.now ?? Date.now;
  const purgeIntervalMs = options.purgeIntervalMs ?? 60_000;
  const name = `sqlite ${options.path}`;
  const db = openDatabase(options.path, options.busyTimeoutMs ?? 5_000);
  const lifecycle = createStoreLifecycle(name);

  let statements: Record<'get' | 'set' | 'replace' | 'insertOrRevive' | 'delete' | 'purge', StatementSync>;
  try {
    statements = {
      get: db.prepare('SELECT value, version FROM state WHERE key = ? AND expires_at > ?'),
      set: db.prepare(
        `INSERT INTO state (key, value, version, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at`,
      ),
      replace: db.prepare(
        'UPDATE state SET value = ?, version = ?, expires_at = ? WHERE key = ? AND version = ? AND expires_at > ?',
      ),
      // Expected "no live value": insert, or take over a row that expired but was not purged yet.
      insertOrRevive: db.prepare(
        `INSERT INTO state (key, value, version, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
         WHERE state.expires_at <= ?`,
      ),
      delete: db.prepare('DELETE FROM state WHERE key = ?'),
      purge: db.prepare('DELETE FROM state WHERE expires_at <= ?'),
    };
  } catch (err) {
    db.close();
    throw new ChorusError('CHORUS_ERR_STATE_OPEN', `cannot prepare the state table of ${options.path}`, { cause: err });
  }

  let purgedAt = Number.NEGATIVE_INFINITY;
  const purgeIfDue = (at: number): void => {
    if (at - purgedAt < purgeIntervalMs) return;
    purgedAt = at;
    statements.purge.run(at);
  };

  // Runs a synchronous database call, turning driver errors into CHORUS_ERR_STATE_UNAVAILABLE.
  const guarded = <R>(operation: string, call: () => R): R => {
    try {
      return call();
    } catch (err) {
      throw toStateError(err, name, operation);
    }
  };

  const read = (key: string): Row | undefined => statements.get.get(key, now()) as Row | undefined;
  const parse = (row: Row | undefined): JsonValue | undefined =>
    row === undefined ? undefined : (JSON.parse(row.value) as JsonValue);

  const optimistic = createOptimisticUpdate<number>({
    read: async (key) =>
      guarded('read', () => {
        const row = read(key);
        return { value: parse(row), version: row?.version };
      }),
    write: async (key, expected, text) =>
      guarded('write', () => {
        const at = now();
        purgeIfDue(at);
        const result =
          expected === undefined
            ? statements.insertOrRevive.run(key, text, newVersion(), at + ttlMs, at)
            : statements.replace.run(text, newVersion(), at + ttlMs, key, expected, at);
        return Number(result.changes) === 1;
      }),
  });

  guarded('purge', () => purgeIfDue(now()));

  return {
    get: async (key) => {
      lifecycle.assertOpen();
      return guarded('read', () => parse(read(key)));
    },
    set: async (key, value) => {
      lifecycle.assertOpen();
      const text = toJsonText(value);
      guarded('write', () => {
        const at = now();
        purgeIfDue(at);
        statements.set.run(key, text, newVersion(), at + ttlMs);
      });
    },
    update: async <T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> => {
      lifecycle.assertOpen();
      return optimistic.update(key, fn);
    },
    delete: async (key) => {
      lifecycle.assertOpen();
      guarded('delete', () => statements.delete.run(key));
    },
    close: () => lifecycle.close(optimistic.drained, () => db.close()),
  };
}

/**
 * Opens (creating its folder) a SQLite database in WAL mode with `synchronous=NORMAL` and `schema` applied.
 *
 * @throws ChorusError CHORUS_ERR_STATE_OPEN naming the path.
 */
export function openDatabase(path: string, busyTimeoutMs: number, schema = STATE_SCHEMA): DatabaseSync {
  try {
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
    try {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
      db.exec(schema);
    } catch (err) {
      db.close();
      throw err;
    }
    return db;
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_STATE_OPEN', `cannot open the SQLite state database ${path}`, { cause: err });
  }
}
