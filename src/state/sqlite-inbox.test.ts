import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeInbox } from '../../test/state/describe-inbox.ts';
import { useTempDirs } from '../../test/support/temp-dirs.ts';
import { captureLog, tick, until } from '../datafeed/loopback.test-support.ts';
import type { InboxEntry } from './inbox.ts';
import { createSqliteInbox } from './sqlite-inbox.ts';
import { createSqliteStore } from './sqlite-store.ts';
import { walRestarts } from './wal.test-support.ts';

const tempDir = useTempDirs('chorus-inbox-');

describeInbox(
  'sqlite',
  async ({ dedupeWindowMs }) => {
    let clock = 1_000_000;
    const now = () => clock;
    const path = join(tempDir(), 'state.db');
    const store = createSqliteStore({ path, now });
    return {
      inbox: createSqliteInbox({ path, dedupeWindowMs, now }),
      store,
      advance: (ms) => (clock += ms),
      secondInstance: async () => createSqliteInbox({ path, dedupeWindowMs, now }),
    };
  },
  { shared: true },
);

describe('createSqliteInbox', () => {
  it('restarts its WAL at 32 MiB under steady load, through the checkpointer and its hold of the commits', async () => {
    const path = join(tempDir(), 'state.db');
    const inbox = createSqliteInbox({ path });
    // The checkpointer starts at the 2,000th write: small ones, then time for its worker to start.
    await Promise.all(Array.from({ length: 2_000 }, (_, i) => inbox.release(`c${i}`, 'me')));
    await tick(250);
    const wire = JSON.stringify({ text: 'x'.repeat(8_000) }); // two overflow pages an event
    let restartsBefore: number | undefined;
    let seq = 0;
    // Steady load: batches of 32 appended and completed as runWithInbox does (about 0.8 MiB of WAL each), a
    // commit every turn, until the WAL restarted or reached 62 MiB. Without the hold no pass finds every frame
    // checkpointed, so the WAL restarts only at the commits' own checkpoint, at 64 MiB (checked: it fails so).
    while (restartsBefore === undefined || (walRestarts(path) === restartsBefore && statSync(`${path}-wal`).size < 62 * 2 ** 20)) {
      const items = Array.from({ length: 32 }, (_, i) => ({ conversationId: `c${i}`, dedupeKey: `message:${seq++}`, wire }));
      await inbox.append(items);
      restartsBefore ??= walRestarts(path); // read after the first append, which restarts the WAL checkpointed meanwhile
      await Promise.all(
        items.map(async ({ conversationId }) => {
          expect(await inbox.lease(conversationId, 'me', 30_000)).toBe(true);
          const entry = await inbox.next(conversationId);
          expect(await inbox.complete(entry as InboxEntry, 'me', [])).toEqual({ completed: true, next: undefined });
        }),
      );
      await tick(0); // the worker's hold and release come in between
    }
    expect(walRestarts(path)).toBeGreaterThan(restartsBefore);
    await inbox.close();
  });

  it("logs the WAL checkpointer's failures at warn", async () => {
    const dir = tempDir();
    const { log, lines } = captureLog('warn');
    const inbox = createSqliteInbox({ path: join(dir, 'state.db'), log });
    // The checkpointer starts at the 2,000th write, with a connection of its own: it cannot open a database
    // whose folder is gone (this connection's open files go on working).
    await Promise.all(Array.from({ length: 1_999 }, (_, i) => inbox.release(`c${i}`, 'me')));
    rmSync(dir, { recursive: true });
    await inbox.release('c', 'me');
    const failed = () => lines().find((entry) => entry['msg'] === 'WAL checkpointer failed');
    await until(() => failed() !== undefined);
    expect(failed()?.['level']).toBe(40);
    expect(String(failed()?.['message'])).toMatch(/unable to open database/);
    await inbox.close();
  });
});
