/**
 * Where the Redis tests find a Redis: a throwaway `redis:7` container through testcontainers when a
 * container runtime (Docker, Podman…) answers, else the local server at redis://127.0.0.1:6379. It prints
 * which one it used. With neither it fails with a message saying how to start one: a Redis test never skips.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll } from 'vitest';

/** A Redis to test against. `stop()` removes the container (nothing to do for the local server). */
export type TestRedis = {
  readonly url: string;
  readonly source: 'testcontainers' | 'local';
  stop(): Promise<void>;
};

const LOCAL_URL = 'redis://127.0.0.1:6379';
/** How long testcontainers may take to find a container runtime, ms. */
const RUNTIME_DETECTION_TIMEOUT_MS = 5_000;
/** How long starting the container may take (an image pull included), ms. */
const CONTAINER_START_TIMEOUT_MS = 120_000;

/**
 * Finds a Redis (see the module comment). Allow it `CONTAINER_START_TIMEOUT_MS` in a `beforeAll`.
 * @throws Error naming both attempts and how to start a local Redis when neither answers.
 */
export async function getRedisUrl(): Promise<TestRedis> {
  const containerFailure = await startContainer().then(
    (redis) => redis,
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
  if (typeof containerFailure !== 'string') {
    console.log(`redis tests: using a testcontainers redis:7 at ${containerFailure.url}`);
    return containerFailure;
  }
  const localFailure = await ping(LOCAL_URL);
  if (localFailure === undefined) {
    console.log(`redis tests: no container runtime (${containerFailure}); using the local Redis at ${LOCAL_URL}`);
    return { url: LOCAL_URL, source: 'local', stop: async () => undefined };
  }
  throw new Error(
    `redis tests need a Redis: no container runtime answered (${containerFailure}) and ${LOCAL_URL} did not ` +
      `(${localFailure}). Start Docker, or a local server: redis-server --daemonize yes --bind 127.0.0.1 -::1 ` +
      '--port 6379 --save "" --appendonly no',
  );
}

async function startContainer(): Promise<TestRedis> {
  // Imported here: testcontainers is large, and only this path needs it.
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  await withTimeout(getContainerRuntimeClient(), RUNTIME_DETECTION_TIMEOUT_MS, 'container runtime detection');
  const container = await withTimeout(
    new GenericContainer('redis:7')
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .start(),
    CONTAINER_START_TIMEOUT_MS,
    'starting redis:7',
  );
  return {
    url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
    source: 'testcontainers',
    stop: async () => {
      await container.stop();
    },
  };
}

/** Resolves `undefined` when `url` answers PING, else the reason it did not. */
async function ping(url: string): Promise<string | undefined> {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => undefined); // the failure is reported through connect()
  try {
    await client.connect();
    const pong = await client.ping();
    return pong === 'PONG' ? undefined : `PING answered ${pong}`;
  } catch (err) {
    return err instanceof Error ? err.message || err.name : String(err);
  } finally {
    if (client.isOpen) await client.close();
  }
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Deletes every key under `prefix` on the Redis at `url` (test clean-up), with a connection of its own. */
export async function deleteKeysUnder(url: string, prefix: string): Promise<void> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...batch);
    if (keys.length > 0) await client.del(keys);
  } finally {
    await client.close();
  }
}

/** What {@link useTestRedis} gives a test file; each accessor throws when `beforeAll` found no Redis. */
export type TestRedisFile = {
  readonly url: () => string;
  /** A connected client of the test's own, for looking at keys. */
  readonly rawClient: () => ReturnType<typeof createClient>;
  /** A key prefix under this file's run prefix, new at each call. */
  readonly nextPrefix: () => string;
};

/**
 * Registers this file's `beforeAll` (find a Redis, connect a raw client) and `afterAll` (`beforeStop`, then
 * close the client, delete every key under the run's unique prefix, stop the container).
 */
export function useTestRedis(options: { readonly beforeStop?: () => Promise<void> } = {}): TestRedisFile {
  const runPrefix = `chorus-test:${randomUUID()}:`;
  let redis: TestRedis | undefined;
  let raw: ReturnType<typeof createClient> | undefined;
  let prefixes = 0;
  beforeAll(async () => {
    redis = await getRedisUrl();
    raw = createClient({ url: redis.url });
    raw.on('error', () => undefined);
    await raw.connect();
  }, CONTAINER_START_TIMEOUT_MS + 10_000);
  afterAll(async () => {
    await options.beforeStop?.();
    await raw?.close();
    if (redis !== undefined) await deleteKeysUnder(redis.url, runPrefix);
    await redis?.stop();
  });
  return {
    url: () => {
      if (redis === undefined) throw new Error('no Redis: getRedisUrl failed in beforeAll');
      return redis.url;
    },
    rawClient: () => {
      if (raw === undefined) throw new Error('no Redis: getRedisUrl failed in beforeAll');
      return raw;
    },
    nextPrefix: () => `${runPrefix}${(prefixes += 1)}:`,
  };
}
