import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { describeConversationStore } from '../../test/state/describe-conversation-store.ts';
import { isChorusError } from '../errors.ts';
import type { ConversationStore } from './conversation-store.ts';
import { createSqliteStore } from './sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'chorus-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const nextPath = (): string => join(dir, `state-${(files += 1)}.db`);
const paths = new WeakMap<ConversationStore, string>();

describeConversationStore(
  'sqlite (temp file)',
  (options) => {
    const path = nextPath();
    const store = createSqliteStore({ path, ...options });
    paths.set(store, path);
    return store;
  },
  {
    clock: 'injected',
    // A second connection to the same file: what a second chorus process on this host would open.
    makeSecondInstance: (first) => {
      const path = paths.get(first);
      if (path === undefined) throw new Error('not a store of this suite');
      return createSqliteStore({ path });
    },
  },
);

describeConversationStore('sqlite (:memory:)', (options) => createSqliteStore({ path: ':memory:', ...options }), {
  clock: 'injected',
});

describe('createSqliteStore', () => {
  it('creates the parent folder, runs in WAL mode and keeps values across a reopen', async () => {
    const path = join(dir, 'nested', 'deeper', 'state.db');
    const store = createSqliteStore({ path });
    await store.set('k', { kept: true });
    await store.close();

    const raw = new DatabaseSync(path);
    expect(raw.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    raw.close();

    const reopened = createSqliteStore({ path });
    expect(await reopened.get('k')).toEqual({ kept: true });
    await reopened.close();
  });

  it('purges expired rows at a write once the purge interval passed, and not before', async () => {
    const path = nextPath();
    let clock = 1_000_000;
    const store = createSqliteStore({ path, ttlMs: 1_000, purgeIntervalMs: 10_000, now: () => clock });
    await store.set('old', 1);
    const raw = new DatabaseSync(path);
    const keys = (): unknown[] => raw.prepare('SELECT key FROM state ORDER BY key').all().map((row) => row.key);
    clock += 5_000; // 'old' expired; the purge at open was 5 s ago
    await store.set('new', 2);
    expect(keys()).toEqual(['new', 'old']); // expired but not yet purged ...
    expect(await store.get('old')).toBeUndefined(); // ... and already reads as nothing
    clock += 5_000;
    await store.set('new', 3);
    expect(keys()).toEqual(['new']);
    raw.close();
    await store.close();
  });

  it('fails with CHORUS_ERR_STATE_OPEN naming the path when the folder cannot be created', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const path = join(file, 'state.db');
    let err: unknown;
    try {
      createSqliteStore({ path });
    } catch (e) {
      err = e;
    }
    expect(isChorusError(err, 'CHORUS_ERR_STATE_OPEN')).toBe(true);
    expect((err as Error).message).toContain(path);
  });

  it('rejects a ttlMs that is not a positive integer', () => {
    for (const ttlMs of [0, -1, 1.5, Number.NaN]) {
      expect(() => createSqliteStore({ path: ':memory:', ttlMs })).toThrow(
        expect.objectContaining({ code: 'CHORUS_ERR_CONFIG_INVALID' }),
      );
    }
  });
});
