/**
 * Crash tests of the durable mode (src/routing/run-with-inbox.ts): `chorus run` as a child process against an
 * embedded pod in this process (the pod outlives every daemon and keeps the bot's datafeed), while this test
 * posts 5,000 `/count` messages over 20 rooms and kills daemons with SIGKILL at random (seeded) points.
 *
 * - SQLite: one daemon, killed at least 5 times and restarted each time with the same config (same instance
 *   name: it takes its own leases back at once); messages keep coming while it is down.
 * - Redis: two daemons (daemon-a, daemon-b) sharing one Redis and reading the same datafeed (the pod hands each
 *   batch to one reader); one of them is killed mid-run and NOT restarted: the other must take over its
 *   conversations (when their 1 s leases expire) and its un-acknowledged batch (when the pod re-queues it).
 *
 * Then each stream's counter, as the replies show it and as the store holds it, equals the number of
 * `/count` messages sent to it; the replies carry every value 1..N (no event lost) and never go backwards.
 * Replies are at-least-once: an event in flight at a kill is handled again and may reply the same value
 * twice; those duplicates are allowed, counted and printed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPrng } from '../src/pod/faults.ts';
import { conversationStateKey } from '../src/routing/event-context.ts';
import type { ConversationStore } from '../src/state/conversation-store.ts';
import type { Inbox } from '../src/state/inbox.ts';
import { createRedisInbox } from '../src/state/redis-inbox.ts';
import { createRedisStore } from '../src/state/redis-store.ts';
import { createSqliteInbox } from '../src/state/sqlite-inbox.ts';
import { createSqliteStore } from '../src/state/sqlite-store.ts';
import { eventually, killStarted, waitForLine, type ChorusChild } from './support/chorus-child.ts';
import {
  allReplied,
  findings,
  killHard,
  LISTENER_NAME,
  running,
  startCountPod,
  startDaemon,
  STREAM_IDS,
  writeCountListener,
  type CountPod,
} from './support/count-crash-kit.ts';
import { deleteKeysUnder, getRedisUrl, type TestRedis } from './state/redis-url.ts';

const MESSAGES = 5_000;
/** Messages posted per chunk; the test pauses between chunks (see `postAll`). */
const CHUNK = 50;
const CHUNKS = MESSAGES / CHUNK;
/**
 * About 250 messages/s: the daemon keeps up between kills (a restart takes ~1 s of Node start-up), so each run
 * works a steady load when it is killed rather than a backlog it never reached.
 */
const PAUSE_MS = 200;
const SQLITE_KILLS = 6;
/** How long the daemons may take to answer every message once all are posted. */
const DRAIN_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 150_000;

let tmp: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'chorus-crash-test-'));
});

afterEach(async () => {
  await killStarted();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function writeConfig(document: object, name: string): string {
  const path = join(tmp, name);
  writeFileSync(path, stringify(document));
  return path;
}

/** The pod and the listener folder of one scenario, both removed after the test. */
async function setUp(): Promise<{ countPod: CountPod; listeners: string }> {
  const countPod = await startCountPod(join(tmp, 'keys'));
  cleanups.push(() => countPod.pod.close());
  const listeners = writeCountListener();
  cleanups.push(() => rmSync(listeners, { recursive: true, force: true }));
  return { countPod, listeners };
}

/**
 * Posts the 5,000 `/count` messages in chunks, calling `midChunk` (kills, restarts) when half of a chunk is
 * posted: a kill lands while the daemon works on that half, and the other half is posted after it.
 */
async function postAll(countPod: CountPod, random: () => number, midChunk: (chunk: number) => Promise<void>): Promise<void> {
  for (let chunk = 0; chunk < CHUNKS; chunk += 1) {
    for (let i = 0; i < CHUNK / 2; i += 1) countPod.post(random);
    await midChunk(chunk);
    for (let i = 0; i < CHUNK / 2; i += 1) countPod.post(random);
    await sleep(PAUSE_MS);
  }
}

/**
 * `count` chunk numbers in [first, last), one at a random place in each of `count` equal slices, at least 4
 * chunks before the end of its slice (a daemon killed there is restarted 1 to 3 chunks later).
 */
function killPoints(random: () => number, count: number, first: number, last: number): Set<number> {
  const slice = Math.floor((last - first) / count);
  return new Set(Array.from({ length: count }, (_, i) => first + i * slice + Math.floor(random() * (slice - 4))));
}

/** The number of events a daemon counted as handled, from its /metrics. */
async function handledBy(daemon: ChorusChild): Promise<number> {
  const started = daemon.stdoutLines().find((line) => line.json?.['msg'] === 'bot running')?.json;
  const metrics = await (await fetch(`${String(started?.['http'])}/metrics`)).text();
  const sample = metrics.split('\n').find((line) => line.startsWith('chorus_events_total{status="handled"} '));
  return Number(sample?.split(' ')[1] ?? 0);
}

/** Everything the daemons wrote, for failure messages. */
function outputOf(daemons: readonly ChorusChild[]): string {
  return daemons.map((daemon, i) => `--- run ${i + 1} ---\n${daemon.stdout()}${daemon.stderr()}`).join('\n');
}

/** Asserts the replies and the stored state against what was sent; returns the number of duplicate replies. */
async function checkOutcome(countPod: CountPod, store: ConversationStore, inbox: Inbox): Promise<number> {
  expect([...countPod.sent.values()].reduce((sum, n) => sum + n, 0)).toBe(MESSAGES);
  const results = findings(countPod);
  // Per stream: the last value is what was sent, every value 1..N was replied (no event lost), no reply is lower
  // than the one before it. Repeats of a value are allowed (at-least-once replies) and counted.
  expect(results.filter((r) => r.max !== r.sent || r.missing.length > 0 || r.backwards > 0)).toEqual([]);
  const stored = await Promise.all(STREAM_IDS.map((id) => store.get(conversationStateKey(LISTENER_NAME, id))));
  expect(stored).toEqual(STREAM_IDS.map((id) => countPod.sent.get(id)));
  expect(await inbox.conversations()).toEqual([]); // nothing left queued
  expect(await inbox.deadLetters()).toEqual([]); // and nothing failed
  return results.reduce((sum, r) => sum + r.duplicates, 0);
}

const seconds = (sinceMs: number): string => `${((Date.now() - sinceMs) / 1000).toFixed(1)} s`;

describe('crashes with the SQLite store', () => {
  it(
    'keeps every counter exact through repeated SIGKILLs and restarts of the daemon',
    async () => {
      const startedAt = Date.now();
      const random = createPrng(20_260_301);
      const { countPod, listeners } = await setUp();
      const path = join(tmp, 'state.db');
      const config = writeConfig(
        countPod.daemonConfig(listeners, { backend: 'sqlite', path, instanceName: 'daemon-a', leaseMs: 1_000 }),
        'daemon-a.yaml',
      );
      let daemon = startDaemon(config);
      const runs = [daemon];
      await running(daemon);
      // The feed is created at the first read and kept by the pod across kills: post only once it exists.
      await eventually("the bot's datafeed", () => (countPod.pod.stats().feeds > 0 ? true : undefined));

      const kills = killPoints(random, SQLITE_KILLS, 3, CHUNKS - 6);
      let restartAt: number | undefined;
      let killed = 0;
      const restart = (): void => {
        daemon = startDaemon(config);
        runs.push(daemon);
        restartAt = undefined;
      };
      await postAll(countPod, random, async (chunk) => {
        if (chunk === restartAt) restart();
        if (!kills.has(chunk)) return;
        await running(daemon); // the previous restart is up
        await sleep(random() * 30); // while it works on the half chunk just posted
        expect(await killHard(daemon)).toBe('SIGKILL');
        killed += 1;
        restartAt = chunk + 1 + Math.floor(random() * 3); // 1 to 3 chunks posted while it is down
      });
      if (restartAt !== undefined) restart();

      await allReplied(countPod, DRAIN_TIMEOUT_MS, () => outputOf(runs));
      daemon.signal('SIGTERM');
      expect(await daemon.exited).toEqual({ code: 0, signal: null });

      const store = createSqliteStore({ path });
      const inbox = createSqliteInbox({ path });
      cleanups.push(async () => {
        await inbox.close();
        await store.close();
      });
      const duplicates = await checkOutcome(countPod, store, inbox);
      expect(killed).toBeGreaterThanOrEqual(5);
      console.log(
        `crash sqlite: ${MESSAGES} /count over ${STREAM_IDS.length} streams, ${killed} SIGKILLs (${runs.length} runs), ` +
          `${countPod.pod.stats().requeued} events re-queued by the pod, ${duplicates} duplicate replies, 0 lost, ` +
          seconds(startedAt),
      );
    },
    TEST_TIMEOUT_MS,
  );
});

describe('crashes with two daemons sharing Redis', () => {
  const runPrefix = `chorus-crash-test:${randomUUID()}:`;
  let redis: TestRedis | undefined;

  beforeAll(async () => {
    redis = await getRedisUrl();
  }, 130_000);

  afterAll(async () => {
    if (redis !== undefined) await deleteKeysUnder(redis.url, runPrefix);
    await redis?.stop();
  });

  it(
    'keeps every counter exact when one of the two daemons is killed mid-run (not restarted)',
    async () => {
      const startedAt = Date.now();
      const random = createPrng(20_260_302);
      const url = redis?.url ?? '';
      const keyPrefix = `${runPrefix}shared:`;
      const { countPod, listeners } = await setUp();
      const state = (instanceName: string): object => ({ backend: 'redis', url, keyPrefix, instanceName, leaseMs: 1_000 });
      const a = startDaemon(writeConfig(countPod.daemonConfig(listeners, state('daemon-a')), 'daemon-a.yaml'));
      await running(a);
      await eventually("the bot's datafeed", () => (countPod.pod.stats().feeds > 0 ? true : undefined));
      const b = startDaemon(writeConfig(countPod.daemonConfig(listeners, state('daemon-b')), 'daemon-b.yaml'));
      await running(b);
      await waitForLine(b, 'daemon-b reading', (json) => json['msg'] === 'inbox backlog done, reading the datafeed');
      // Both reuse the one feed and poll it.
      await eventually('two readers of one feed', () => {
        const stats = countPod.pod.stats();
        return stats.feeds === 1 && stats.waitingReads === 2 ? true : undefined;
      });

      const [victim, survivor] = random() < 0.5 ? [a, b] : [b, a];
      const victimName = victim === a ? 'daemon-a' : 'daemon-b';
      const killAt = Math.floor(CHUNKS * (0.3 + random() * 0.4));
      let victimHandled = 0;
      await postAll(countPod, random, async (chunk) => {
        if (chunk !== killAt) return;
        victimHandled = await handledBy(victim);
        await sleep(random() * 30); // while it works on the half chunk just posted
        expect(await killHard(victim)).toBe('SIGKILL');
      });
      expect(victimHandled).toBeGreaterThan(0); // it was doing its share when killed

      await allReplied(countPod, DRAIN_TIMEOUT_MS, () => outputOf([a, b]));
      const survivorHandled = await handledBy(survivor);
      survivor.signal('SIGTERM');
      expect(await survivor.exited).toEqual({ code: 0, signal: null });

      const store = await createRedisStore({ url, keyPrefix });
      const inbox = await createRedisInbox({ url, keyPrefix });
      cleanups.push(async () => {
        await inbox.close();
        await store.close();
      });
      const duplicates = await checkOutcome(countPod, store, inbox);
      console.log(
        `crash redis (${redis?.source ?? ''} ${url}): ${MESSAGES} /count over ${STREAM_IDS.length} streams, 2 daemons, ` +
          `${victimName} SIGKILLed at message ${killAt * CHUNK + CHUNK / 2} having handled ${victimHandled} events (not restarted), ` +
          `survivor handled ${survivorHandled}; ${countPod.pod.stats().requeued} events re-queued by the pod, ` +
          `${duplicates} duplicate replies, 0 lost, ${seconds(startedAt)}`,
      );
    },
    TEST_TIMEOUT_MS,
  );
});
