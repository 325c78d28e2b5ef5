/**
 * No lost update across processes: two child processes (update-worker.ts) share one SQLite file, or one
 * Redis and key prefix, and run 100 concurrent `update(+1)` each, started together; the result must be 200.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationStore } from '../../src/state/conversation-store.ts';
import { createRedisStore } from '../../src/state/redis-store.ts';
import { createSqliteStore } from '../../src/state/sqlite-store.ts';
import { getRedisUrl, type TestRedis } from './redis-url.ts';

const WORKER = fileURLToPath(new URL('./update-worker.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'chorus-cross-process-'));
let redis: TestRedis | undefined;

beforeAll(async () => {
  redis = await getRedisUrl();
}, 130_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await redis?.stop();
});

type Worker = { ready: Promise<void>; exited: Promise<void>; go(): void };

/** Starts a worker; `ready` resolves once its store is open, `exited` once it exits 0. */
function startWorker(args: readonly string[]): Worker {
  const child = spawn(process.execPath, [WORKER, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.on('exit', () => reject(new Error(`worker exited before ready: ${stderr}`)));
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}: ${stderr}`))));
  });
  return { ready, exited, go: () => child.stdin.write('go\n') };
}

async function runTwoWorkers(args: readonly string[]): Promise<void> {
  const workers = [startWorker(args), startWorker(args)];
  await Promise.all(workers.map((worker) => worker.ready));
  for (const worker of workers) worker.go();
  await Promise.all(workers.map((worker) => worker.exited));
}

async function readCounter(store: ConversationStore): Promise<unknown> {
  try {
    return await store.get('counter');
  } finally {
    await store.close();
  }
}

describe('update across two processes', () => {
  it('loses none on one SQLite file', async () => {
    const path = join(dir, 'state.db');
    await runTwoWorkers(['sqlite', path, '100']);
    expect(await readCounter(createSqliteStore({ path }))).toBe(200);
  }, 30_000);

  it('loses none on one Redis', async () => {
    if (redis === undefined) throw new Error('no Redis: getRedisUrl failed in beforeAll');
    const keyPrefix = `chorus-test:${randomUUID()}:`;
    await runTwoWorkers(['redis', redis.url, keyPrefix, '100']);
    const store = await createRedisStore({ url: redis.url, keyPrefix });
    const counter = await store.get('counter');
    await store.delete('counter');
    await store.close();
    expect(counter).toBe(200);
  }, 30_000);
});
