import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeInbox } from '../../test/state/describe-inbox.ts';
import { useTempDirs } from '../../test/support/temp-dirs.ts';
import { captureLog, until } from '../datafeed/loopback.test-support.ts';
import { createSqliteInbox } from './sqlite-inbox.ts';
import { createSqliteStore } from './sqlite-store.ts';

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
