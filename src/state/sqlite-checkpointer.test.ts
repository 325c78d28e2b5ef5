import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../../test/support/temp-dirs.ts';
import { tick, until } from '../datafeed/loopback.test-support.ts';
import { startCheckpointer } from './sqlite-checkpointer.ts';
import { createGroupCommit } from './sqlite-group-commit.ts';
import { openDatabase } from './sqlite-store.ts';
import { walRestarts } from './wal.test-support.ts';

const tempDir = useTempDirs('chorus-checkpointer-');

/** A new database with a table `t` whose WAL only the checkpointer under test checkpoints, and its group commit. */
function openTable() {
  const path = join(tempDir(), 'state.db');
  const db = openDatabase(path, 1_000, 'CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);');
  db.exec('PRAGMA wal_autocheckpoint = 0');
  const commits = createGroupCommit(db, { name: 'test', now: Date.now });
  const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
  return { path, db, commits, insert };
}

describe('startCheckpointer', () => {
  it('copies committed WAL frames into the database file from a worker, and closes its connection on stop', async () => {
    const { path, db, insert } = openTable();
    db.exec('BEGIN');
    for (let k = 0; k < 500; k++) insert.run(k, 'x'.repeat(1_000));
    db.exec('COMMIT');
    const before = statSync(path).size;
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(500_000); // the rows are in the WAL only

    const checkpointer = startCheckpointer({ path, intervalMs: 10 });
    await until(() => statSync(path).size > before + 500_000); // copied into the database file
    await checkpointer.stop();
    db.close(); // now the last connection: it removes the WAL, which it could not with the worker's still open
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('restarts the WAL under steady commits: holds them for its last pass once the WAL has restartAtFrames', async () => {
    const { path, db, commits, insert } = openTable();
    let holds = 0;
    const hold = () => ((holds += 1), commits.hold());
    const sizeBefore = statSync(path).size;
    const checkpointer = startCheckpointer({ path, hold, restartAtFrames: 64, intervalMs: 5 });
    await commits.write('insert', () => insert.run(0, 'first'));
    // The worker runs once a pass copied that write (the 3,000 commits below take about 50 ms, which a worker
    // still starting on a busy machine may miss altogether). That pass copied every frame, so the next commit
    // restarts the WAL without a hold: not counted.
    await until(() => statSync(path).size > sizeBefore);
    await commits.write('insert', () => insert.run(1, 'second'));
    const restartsBefore = walRestarts(path);
    // Steady commits, one a turn: a pass never finds the WAL without new frames, so it does not restart without
    // the holds (0 restarts in each of 6 runs of this loop with a `hold` that does not hold; 0 with none given,
    // the WAL growing to 25 MB), and restarts at nearly every hold with them (7 to 13 restarts in 4 runs).
    for (let k = 2; k <= 3_001; k++) await commits.write('insert', () => insert.run(k, 'x'.repeat(2_000)));
    await checkpointer.stop();
    expect(holds).toBeGreaterThan(0);
    expect(walRestarts(path) - restartsBefore).toBeGreaterThanOrEqual(2);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()?.['n']).toBe(3_002); // every held write committed
    db.close();
  });

  it('backs off its holds while a reader keeps a pass from copying every frame, and restarts the WAL once it ends', async () => {
    const { path, db, commits, insert } = openTable();
    let k = 0;
    // About one commit a millisecond (a page or two of WAL each), so the WAL grows a few MiB a second.
    const commitFor = async (ms: number): Promise<void> => {
      for (const end = Date.now() + ms; Date.now() < end; k++) {
        await commits.write('insert', () => insert.run(k, 'x'.repeat(200)));
        await tick(1);
      }
    };
    await commitFor(50);
    // Another connection's read transaction, open on the snapshot of now: no pass can copy the frames after it.
    const reader = new DatabaseSync(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) AS n FROM t').get();
    let holds = 0;
    const hold = () => ((holds += 1), commits.hold());
    const checkpointer = startCheckpointer({ path, hold, restartAtFrames: 64, intervalMs: 5, maxBackoffPasses: 40 });
    const restartsBefore = walRestarts(path);
    await commitFor(1_000); // about 200 passes: a hold at each one that found 64 frames, without the back-off
    const holdsWhileRead = holds;
    expect(walRestarts(path)).toBe(restartsBefore);
    expect(holdsWhileRead).toBeGreaterThan(0);
    expect(holdsWhileRead).toBeLessThanOrEqual(12); // waits of 1, 2, 4 … 40 passes: 8 or 9 holds in 200 passes

    reader.exec('COMMIT');
    reader.close();
    // The back-off is at most 40 passes (200 ms): the WAL restarts soon (at the next hold, or after a pass that
    // caught up in a pause of the commits; 5 s allowed for a busy machine).
    for (const end = Date.now() + 5_000; walRestarts(path) === restartsBefore && Date.now() < end; ) await commitFor(20);
    await checkpointer.stop();
    expect(walRestarts(path)).toBeGreaterThan(restartsBefore);
    db.close();
  });

  it('resumes held commits after holdTimeoutMs when the worker does not answer in time, and at stop', async () => {
    const { path, db, commits, insert } = openTable();
    const errors: string[] = [];
    // A hold timeout of 0 ms ends every hold before the worker's answer can arrive.
    const onError = (message: string) => errors.push(message);
    const checkpointer = startCheckpointer({ path, hold: commits.hold, restartAtFrames: 1, intervalMs: 5, holdTimeoutMs: 0, onError });
    for (let k = 0; errors.length === 0 && k < 5_000; k++) await commits.write('insert', () => insert.run(k, 'x'.repeat(2_000)));
    expect(errors[0]).toMatch(/took over 0 ms: commits resumed/);
    await checkpointer.stop();
    await expect(commits.write('insert', () => insert.run(-1, 'after'))).resolves.toBeDefined();
    db.close();
  });

  it('reports a checkpoint that fails', async () => {
    const errors: string[] = [];
    const checkpointer = startCheckpointer({ path: join(tempDir(), 'no', 'such', 'dir.db'), onError: (message) => errors.push(message) });
    await until(() => errors.length > 0);
    await checkpointer.stop();
    expect(errors[0]).toMatch(/unable to open database/);
  });
});
