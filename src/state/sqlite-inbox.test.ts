import { join } from 'node:path';
import { describeInbox } from '../../test/state/describe-inbox.ts';
import { useTempDirs } from '../../test/support/temp-dirs.ts';
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
