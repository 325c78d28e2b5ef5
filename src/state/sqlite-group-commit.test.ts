import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { useTempDirs } from '../../test/support/temp-dirs.ts';
import { isChorusError } from '../errors.ts';
import { createGroupCommit } from './sqlite-group-commit.ts';
import { openDatabase } from './sqlite-store.ts';

const tempDir = useTempDirs('chorus-group-commit-');

const SCHEMA = 'CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);';
const opened: DatabaseSync[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) if (db.isOpen) db.close();
});

function open(path = join(tempDir(), 'state.db'), busyTimeoutMs = 1_000, minIntervalMs?: number) {
  const db = openDatabase(path, busyTimeoutMs, SCHEMA);
  opened.push(db);
  let clock = 0;
  const commits = createGroupCommit(db, { name: `sqlite ${path}`, now: () => (clock += 1), ...(minIntervalMs === undefined ? {} : { minIntervalMs }) });
  const insert = (k: string, v: number) => () => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, v);
  const rows = () => db.prepare('SELECT k, v FROM t ORDER BY k').all().map((row) => [row['k'], row['v']]);
  return { db, path, commits, insert, rows };
}

describe('createGroupCommit', () => {
  it('runs the writes called in one turn in one transaction, in call order, and the next turn in another', async () => {
    const { db, commits, insert, rows } = open();
    const seen: [string, number, boolean][] = [];
    const write = (k: string) => commits.write('insert', (at) => (seen.push([k, at, db.isTransaction]), insert(k, at)(), k));
    const first = await Promise.all([write('a'), write('b'), write('c')]);
    const second = await write('d');
    expect([first, second]).toEqual([['a', 'b', 'c'], 'd']);
    // One clock reading (one transaction) for a, b and c; another for d.
    expect(seen).toEqual([['a', 1, true], ['b', 1, true], ['c', 1, true], ['d', 2, true]]);
    expect(rows()).toEqual([['a', 1], ['b', 1], ['c', 1], ['d', 2]]);
  });

  it('after a busy commit, lets the writes of later turns share the next one; after a small one, it does not wait', async () => {
    const { db, commits, insert, rows } = open(undefined, 1_000, 200); // busy: 4 writes or more
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const write = (k: string) => commits.write('insert', (at) => (insert(k, at)(), db.isTransaction));
    await write('a'); // a commit of one write: not busy
    const b = write('b');
    await turn();
    await turn();
    const c = write('c'); // two turns later: b committed alone meanwhile, without waiting
    expect(await Promise.all([b, c])).toEqual([true, true]);
    await Promise.all(['d1', 'd2', 'd3', 'd4'].map(write)); // a busy commit
    const e = write('e');
    await turn();
    await turn();
    const f = write('f'); // two turns later, still within 200 ms of the busy commit: e and f share the next one
    await Promise.all([e, f]);
    expect(rows()).toEqual([['a', 1], ['b', 2], ['c', 3], ['d1', 4], ['d2', 4], ['d3', 4], ['d4', 4], ['e', 5], ['f', 5]]);
  });

  it('fails only the write that throws: the others of its turn commit', async () => {
    const { commits, insert, rows } = open();
    const results = await Promise.allSettled([
      commits.write('insert', insert('a', 1)),
      commits.write('insert', insert('a', 2)), // the primary key is taken: throws
      commits.write('insert', insert('b', 3)),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const failure = (results[1] as PromiseRejectedResult).reason as Error;
    expect(isChorusError(failure, 'CHORUS_ERR_STATE_UNAVAILABLE')).toBe(true);
    expect(failure.message).toMatch(/failed to insert: .*UNIQUE/);
    expect(rows()).toEqual([['a', 1], ['b', 3]]);
  });

  it('fails every write of the turn, committing none, when the transaction cannot start', async () => {
    const { path } = open();
    const { commits, insert, rows } = open(path, 20);
    const holder = openDatabase(path, 20, SCHEMA);
    opened.push(holder);
    holder.exec('BEGIN IMMEDIATE'); // another connection holds the write lock past the busy timeout
    const results = await Promise.allSettled([commits.write('insert', insert('a', 1)), commits.write('insert', insert('b', 2))]);
    holder.exec('ROLLBACK');
    expect(results.map((result) => result.status === 'rejected' && isChorusError(result.reason, 'CHORUS_ERR_STATE_UNAVAILABLE'))).toEqual([
      true,
      true,
    ]);
    expect(rows()).toEqual([]);
  });

  it('reads at once without a transaction, or behind the writes called before it', async () => {
    const { db, commits, insert, rows } = open();
    await commits.write('insert', insert('a', 1));
    const count = () => (db.prepare('SELECT count(*) AS n FROM t').get()?.['n'] as number);
    let inTransaction: boolean | undefined;
    expect(await commits.read(() => ((inTransaction = db.isTransaction), count()))).toBe(1);
    expect(inTransaction).toBe(false);
    const written = commits.write('insert', insert('b', 2));
    expect(await commits.read(count)).toBe(2); // called after the write: sees it
    await written;
    expect(rows()).toEqual([['a', 1], ['b', 2]]);
  });

  it('holds commits back until every hold is released: the writes of the meantime then commit together', async () => {
    const { commits, insert, rows } = open();
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const releaseFirst = commits.hold();
    const releaseSecond = commits.hold();
    const a = commits.write('insert', (at) => insert('a', at)());
    await turn();
    const b = commits.write('insert', (at) => insert('b', at)());
    const drained = commits.drained();
    let settled = false;
    void Promise.all([a, b, drained]).then(() => (settled = true));
    await turn();
    await turn();
    expect([settled, rows()]).toEqual([false, []]);
    releaseFirst();
    releaseFirst(); // a second call does nothing: the other hold still counts
    await turn();
    await turn();
    expect([settled, rows()]).toEqual([false, []]);
    releaseSecond();
    await Promise.all([a, b, drained]);
    expect(rows()).toEqual([['a', 1], ['b', 1]]); // one transaction (one clock reading)
  });

  it('drains: resolves once the writes called so far are settled', async () => {
    const { commits, insert, rows } = open();
    void commits.write('insert', insert('a', 1));
    await commits.drained();
    expect(rows()).toEqual([['a', 1]]);
  });
});
