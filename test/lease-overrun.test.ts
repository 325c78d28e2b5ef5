/**
 * Lease overruns end (runWithInbox, Inbox.lease), with real inboxes (memory; SQLite on a temp file; Redis): an
 * event whose handling never ends normally — the listener stalls the event loop past the conversation lease,
 * or the run stops (as a crash or a kill does) while handling it — is counted one attempt at each take over
 * its conversation's lease (lapsed, or still this owner's after a restart) and dead-lettered with CHORUS_ERR_LEASE_OVERRUN after `maxAttempts` of them, without its
 * listeners running again; the conversation then goes on with its next event.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLog } from '../src/datafeed/loopback.test-support.ts';
import { createMemorySource } from '../src/datafeed/memory-source.ts';
import { createMemoryDeadLetters } from '../src/routing/dead-letters.ts';
import { createEventPipeline, type EventOutcome } from '../src/routing/event-pipeline.ts';
import { defineListener, type ListenerModule } from '../src/routing/listener.ts';
import { runWithInbox } from '../src/routing/run-with-inbox.ts';
import type { ConversationStore } from '../src/state/conversation-store.ts';
import type { Inbox } from '../src/state/inbox.ts';
import { createMemoryInbox } from '../src/state/memory-inbox.ts';
import { createMemoryStore } from '../src/state/memory-store.ts';
import { createRedisInbox } from '../src/state/redis-inbox.ts';
import { createRedisStore } from '../src/state/redis-store.ts';
import { createSqliteInbox } from '../src/state/sqlite-inbox.ts';
import { createSqliteStore } from '../src/state/sqlite-store.ts';
import { createEventFactory } from '../src/testing/factories.ts';
import { useTestRedis } from './state/redis-url.ts';
import { useTempDirs } from './support/temp-dirs.ts';

const bot = { userId: '7000000000001', displayName: 'Chorus Bot' };
const f = createEventFactory({ bot });
const alice = f.user({ displayName: 'Alice Ng' });
/** Short, so that each takeover comes quickly; the stall outlasts it by far. */
const LEASE_MS = 300;
const MAX_ATTEMPTS = 3;
/** Polls wait this long at most: the stalls, or a loaded machine, hold their timers back. */
const POLL = { timeout: 10_000 };

const running: Subscription[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const subscription of running.splice(0)) subscription.unsubscribe();
  for (const close of closers.splice(0)) await close();
});

type Backend = { readonly inbox: Inbox; readonly store: ConversationStore };
/** `make()` gives a fresh shared storage; `open()` an instance's view of it (as in lease-fencing.test.ts). */
type BackendKind = { readonly name: string; make(): { open(): Promise<Backend> } };

const tempDir = useTempDirs('chorus-lease-overrun-');
const redis = useTestRedis();
const track = (backend: Backend): Backend => {
  closers.push(async () => void (await Promise.all([backend.inbox.close(), backend.store.close()])));
  return backend;
};
const backends: readonly BackendKind[] = [
  {
    name: 'memory inbox',
    make() {
      const store = createMemoryStore();
      const backend = { store, inbox: createMemoryInbox({ store }) };
      return { open: async () => backend };
    },
  },
  {
    name: 'SQLite inbox',
    make() {
      const path = join(tempDir(), 'state.db');
      return { open: async () => track({ store: createSqliteStore({ path }), inbox: createSqliteInbox({ path }) }) };
    },
  },
  {
    name: 'Redis inbox',
    make() {
      const keyPrefix = redis.nextPrefix();
      return {
        open: async () =>
          track({
            store: await createRedisStore({ url: redis.url(), keyPrefix }),
            inbox: await createRedisInbox({ url: redis.url(), keyPrefix }),
          }),
      };
    },
  },
];

/** One runWithInbox run named `owner`, fed `events`; its replies go to `sent` (event id, text). */
async function startRun(options: { owner: string; listener: ListenerModule; backend: Backend; events: unknown[]; sent: string[][]; log: Logger }) {
  const pipeline = await createEventPipeline({
    listeners: [options.listener],
    bot,
    store: options.backend.store,
    sender: { send: async (message) => void options.sent.push([message.inReplyTo.eventId, message.message]) },
    deadLetters: createMemoryDeadLetters(),
    log: options.log,
  });
  const outcomes: EventOutcome[] = [];
  const outcomes$ = runWithInbox({
    pipeline,
    source: createMemorySource(options.events.length === 0 ? [] : [{ events: options.events }]),
    ...options.backend,
    log: options.log,
    owner: options.owner,
    maxAttempts: MAX_ATTEMPTS,
    leaseMs: LEASE_MS,
    sweepIntervalMs: 20,
    retryDelayMs: 1,
  });
  let subscription: Subscription | undefined;
  const done = new Promise<void>((resolve, reject) => {
    subscription = outcomes$.subscribe({ next: (outcome) => void outcomes.push(outcome), error: reject, complete: resolve });
    running.push(subscription);
  });
  // Unsubscribing stops at once, as a crash does for the inbox: the event in flight stays queued, its lease held.
  return { outcomes, done, crash: () => subscription?.unsubscribe() };
}

/** Blocks the event loop for `ms`: no timer of this process runs meanwhile (the lease renewer's included). */
function stallEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: a long synchronous computation
  }
}

/** The id of a dead letter's wire event. */
const idOf = (wire: string): unknown => (JSON.parse(wire) as { id?: unknown }).id;
const statusOf = (outcomes: readonly EventOutcome[]) => outcomes.map((outcome) => [outcome.status, outcome.eventId, outcome.error?.code]);
const isOverrunLine = (line: Record<string, unknown>) =>
  line['msg'] === 'event dead-lettered' && (line['err'] as { code?: unknown } | undefined)?.code === 'CHORUS_ERR_LEASE_OVERRUN';

describe.each(backends)('lease overruns ($name)', (kind) => {
  it('dead-letters an event whose listener stalls past the lease on every attempt, then handles the next one', async () => {
    const backend = kind.make();
    const { log, lines } = captureLog('warn');
    const sent: string[][] = [];
    let stalls = 0;
    const listener = defineListener({
      name: 'staller',
      setup: (b) => {
        b.command('/stall', { requireMention: false }, () => {
          stalls += 1;
          stallEventLoop(LEASE_MS + 150); // the lease lapses; its next take (this instance's sweep) counts it
        });
        b.command('/ping', { requireMention: false }, (ctx) => ctx.reply('pong'));
      },
    });
    const room = f.room();
    const stall = f.message({ stream: room, from: alice, content: '/stall' });
    const ping = f.message({ stream: room, from: alice, content: '/ping' });

    const run = await startRun({ owner: 'a', listener, backend: await backend.open(), events: [stall, ping], sent, log });
    await run.done; // the source ended and the inbox is empty: bounded, the stall is not retried for ever
    expect(stalls).toBe(MAX_ATTEMPTS);
    expect(statusOf(run.outcomes)).toEqual([
      ['failed', stall.id, 'CHORUS_ERR_LEASE_OVERRUN'],
      ['handled', ping.id, undefined],
    ]);
    expect(sent).toEqual([[ping.id, '<messageML>pong</messageML>']]);
    const { inbox } = await backend.open();
    const letters = await inbox.deadLetters();
    expect(letters.map((letter) => [idOf(letter.wire), letter.conversationId, letter.attempts, letter.code])).toEqual([
      [stall.id, room.streamId, MAX_ATTEMPTS, 'CHORUS_ERR_LEASE_OVERRUN'],
    ]);
    expect(letters[0]?.error).toContain(`event ${stall.id} dead-lettered after ${MAX_ATTEMPTS} attempts`);
    expect(lines().filter(isOverrunLine)).toEqual([
      expect.objectContaining({ level: 50, eventId: stall.id, conversationId: room.streamId, attempts: MAX_ATTEMPTS }),
    ]);
    expect(await inbox.conversations()).toEqual([]);
  });

  it.each([
    // A new owner each start (runWithInbox's default, a random one) takes the conversation over once the
    // lease of the run before has lapsed; the same owner (an instance name) restarted at once takes its own
    // lease, still valid, back. Either take counts the attempt.
    { starts: 'a new owner at each start', ownerAt: (start: number) => `start-${start}` },
    { starts: 'the same owner restarted at once', ownerAt: () => 'daemon-a' },
  ])('ends a crash loop ($starts): a run stopped while handling an event, again and again, until it is dead-lettered', async ({ ownerAt }) => {
    const backend = kind.make();
    const { log } = captureLog('warn');
    const sent: string[][] = [];
    let crashes = 0;
    const listener = defineListener({
      name: 'crasher',
      setup: (b) => {
        b.command('/crash', { requireMention: false }, async () => {
          crashes += 1;
          await new Promise(() => undefined); // never ends: the run is stopped meanwhile, as by a crash
        });
        b.command('/ping', { requireMention: false }, (ctx) => ctx.reply('pong'));
      },
    });
    const room = f.room();
    const crash = f.message({ stream: room, from: alice, content: '/crash' });
    const ping = f.message({ stream: room, from: alice, content: '/ping' });

    for (let start = 1; start <= MAX_ATTEMPTS; start += 1) {
      const events = start === 1 ? [crash, ping] : [];
      const run = await startRun({ owner: ownerAt(start), listener, backend: await backend.open(), events, sent, log });
      await expect.poll(() => crashes, POLL).toBe(start);
      run.crash();
    }
    const last = await startRun({ owner: ownerAt(MAX_ATTEMPTS + 1), listener, backend: await backend.open(), events: [], sent, log });
    await last.done;
    expect(crashes).toBe(MAX_ATTEMPTS);
    expect(statusOf(last.outcomes)).toEqual([
      ['failed', crash.id, 'CHORUS_ERR_LEASE_OVERRUN'],
      ['handled', ping.id, undefined],
    ]);
    expect(sent).toEqual([[ping.id, '<messageML>pong</messageML>']]);
    const { inbox } = await backend.open();
    expect((await inbox.deadLetters()).map((letter) => [idOf(letter.wire), letter.attempts, letter.code])).toEqual([
      [crash.id, MAX_ATTEMPTS, 'CHORUS_ERR_LEASE_OVERRUN'],
    ]);
    expect(await inbox.conversations()).toEqual([]);
  });
});
