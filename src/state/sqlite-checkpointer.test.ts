import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../../test/support/temp-dirs.ts';
import { until } from '../datafeed/loopback.test-support.ts';
import { startCheckpointer } from './sqlite-checkpointer.ts';
import { openDatabase } from './sqlite-store.ts';

const tempDir = useTempDirs('chorus-checkpointer-');

describe('startCheckpointer', () => {
  it('copies committed WAL frames into the database file from a worker, and closes its connection on stop', async () => {
    const path = join(tempDir(), 'state.db');
    const db = openDatabase(path, 1_000, 'CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);');
    db.exec('PRAGMA wal_autocheckpoint = 0'); // only the worker checkpoints
    const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
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

  it('reports a checkpoint that fails', async () => {
    const errors: string[] = [];
    const checkpointer = startCheckpointer({ path: join(tempDir(), 'no', 'such', 'dir.db'), onError: (message) => errors.push(message) });
    await until(() => errors.length > 0);
    await checkpointer.stop();
    expect(errors[0]).toMatch(/unable to open database/);
  });
});
