/**
 * A child process of cross-process.test.ts: opens a store, prints `ready`, waits for a line on stdin, then
 * runs `count` concurrent `update(+1)` calls of key `counter` and exits 0 (non-zero with the error on stderr).
 *
 * Usage: node test/state/update-worker.ts sqlite <path> <count>
 *        node test/state/update-worker.ts redis <url> <keyPrefix> <count>
 */
import { once } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import type { ConversationStore } from '../../src/state/conversation-store.ts';
import { createRedisStore } from '../../src/state/redis-store.ts';
import { createSqliteStore } from '../../src/state/sqlite-store.ts';

const [kind, target, ...rest] = process.argv.slice(2);
const count = Number(rest.at(-1));

async function openStore(): Promise<ConversationStore> {
  if (kind === 'sqlite' && target !== undefined) return createSqliteStore({ path: target });
  if (kind === 'redis' && target !== undefined && rest.length === 2) {
    return createRedisStore({ url: target, keyPrefix: rest[0] ?? '' });
  }
  throw new Error(`usage: update-worker.ts sqlite <path> <count> | redis <url> <keyPrefix> <count>`);
}

const store = await openStore();
process.stdout.write('ready\n');
await once(process.stdin, 'data');
await Promise.all(
  Array.from({ length: count }, () =>
    store.update<number>('counter', async (n) => {
      await tick();
      return (n ?? 0) + 1;
    }),
  ),
);
await store.close();
process.stdin.destroy();
