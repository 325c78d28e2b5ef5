/**
 * Fencing of replies by the conversation lease (runWithInbox, lease-fence.ts), with real inboxes (memory;
 * SQLite on a temp file, a connection per instance; Redis, clients of their own per instance): an instance
 * that lost a conversation's lease sends nothing more for it, neither fails nor completes the event, and
 * leaves it to the lease's holder, which replies once; while the lease is held, replies go out as before.
 * (What the takeover of a lapsed lease counts, and where overruns end, is test/lease-overrun.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { captureLog } from '../src/datafeed/loopback.test-support.ts';
import { createMemorySource } from '../src/datafeed/memory-source.ts';
import { isChorusError } from '../src/errors.ts';
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

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
// Long enough that a loaded machine's late timers do not let a renewal miss (sends stop 0.9 × this after one).
const LEASE_MS = 600;
/** Polls wait this long at most: the stall, or a loaded machine, holds their timers back. */
const POLL = { timeout: 5_000 };
const dir = mkdtempSync(join(tmpdir(), 'chorus-lease-fencing-'));

// What a test started, let go after it even when it failed halfway (so it cannot disturb the next tests).
const running: Subscription[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const subscription of running.splice(0)) subscription.unsubscribe();
  for (const close of closers.splice(0)) await close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Backend = { readonly inbox: Inbox; readonly store: ConversationStore };

/**
 * A backend: `open()` gives an instance its view of one shared inbox and store (the memory adapter: the same
 * objects; SQLite: a connection of its own on one file; Redis: clients of its own under one key prefix).
 * `skewed(clockSkewMs, take)` runs `take` with a view whose inbox clock runs `clockSkewMs` ahead (the memory
 * adapter: the skew applied while `take` runs; SQLite: a connection with that clock); Redis keeps the time
 * itself, so it has none.
 */
type BackendKind = { readonly name: string; make(): { open(): Promise<Backend> } };
/** A backend whose inbox takes the time from its caller, so a test can skew it. */
type SkewableKind = {
  readonly name: string;
  make(): { open(): Promise<Backend>; skewed<T>(clockSkewMs: number, take: (backend: Backend) => T): T };
};

const redis = useTestRedis();

const memoryKind: SkewableKind = {
  name: 'memory inbox',
  make() {
    let skewMs = 0;
    const store = createMemoryStore();
    const backend = { store, inbox: createMemoryInbox({ store, now: () => Date.now() + skewMs }) };
    return {
      open: async () => backend,
      skewed(clockSkewMs, take) {
        skewMs = clockSkewMs;
        try {
          return take(backend); // the memory inbox reads its clock synchronously, within the call
        } finally {
          skewMs = 0;
        }
      },
    };
  },
};

const sqliteKind: SkewableKind = {
  name: 'SQLite inbox',
  make() {
    const path = join(mkdtempSync(join(dir, 'db-')), 'state.db');
    const open = (now?: () => number): Backend => {
      const backend = { store: createSqliteStore({ path }), inbox: createSqliteInbox(now === undefined ? { path } : { path, now }) };
      closers.push(async () => void (await Promise.all([backend.inbox.close(), backend.store.close()])));
      return backend;
    };
    return { open: async () => open(), skewed: (clockSkewMs, take) => take(open(() => Date.now() + clockSkewMs)) };
  },
};

const redisKind: BackendKind = {
  name: 'Redis inbox',
  make() {
    const keyPrefix = redis.nextPrefix();
    return {
      async open() {
        const backend = {
          store: await createRedisStore({ url: redis.url(), keyPrefix }),
          inbox: await createRedisInbox({ url: redis.url(), keyPrefix }),
        };
        closers.push(async () => void (await Promise.all([backend.inbox.close(), backend.store.close()])));
        return backend;
      },
    };
  },
};

const backends: readonly BackendKind[] = [memoryKind, sqliteKind, redisKind];
// Another owner can take a lease that has not expired for its holder only through a clock that runs ahead:
// the memory and SQLite inboxes take the time from their caller; Redis keeps it.
const skewableBackends: readonly SkewableKind[] = [memoryKind, sqliteKind];

type Sent = { readonly owner: string; readonly eventId: string; readonly text: string };

/** One runWithInbox instance named `owner`; its replies are recorded in `sent` under its name. */
async function startInstance(options: {
  owner: string;
  listener: ListenerModule;
  backend: Backend;
  sent: Sent[];
  events: unknown[];
  log: Logger;
}) {
  const pipeline = await createEventPipeline({
    listeners: [options.listener],
    bot: { userId: botUserId, displayName: 'Chorus Bot' },
    store: options.backend.store,
    sender: {
      send: async (message) => void options.sent.push({ owner: options.owner, eventId: message.inReplyTo.eventId, text: message.message }),
    },
    deadLetters: createMemoryDeadLetters(),
    log: options.log,
  });
  const stop = new AbortController();
  const outcomes: EventOutcome[] = [];
  const outcomes$ = runWithInbox({
    pipeline,
    source: createMemorySource(options.events.length === 0 ? [] : [{ events: options.events }]),
    ...options.backend,
    log: options.log,
    owner: options.owner,
    leaseMs: LEASE_MS,
    sweepIntervalMs: 20,
    retryDelayMs: 1,
    stopSignal: stop.signal,
  });
  const done = new Promise<void>((resolve, reject) => {
    running.push(outcomes$.subscribe({ next: (outcome) => void outcomes.push(outcome), error: reject, complete: resolve }));
  });
  return { outcomes, done, stop: () => stop.abort() };
}

/** Replies `text`; a refusal is kept in `refused` and thrown on (the listener fails with it). */
async function replyRecordingRefusal(ctx: { reply(text: string): Promise<unknown> }, text: string, refused: unknown[]): Promise<void> {
  try {
    await ctx.reply(text);
  } catch (err) {
    refused.push(err);
    throw err;
  }
}

/** A promise and the function that resolves it. */
function createGate(): { readonly promise: Promise<void>; open(): void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Blocks the event loop for `ms`: nothing else of this process runs meanwhile (timers, I/O callbacks). */
function stallEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: a stall such as a long synchronous computation or a GC pause
  }
}

describe.each(backends)('lease fencing ($name)', (kind) => {
  it('lets an instance whose lease lapsed during a stall send nothing more: the instance that took over replies once', async () => {
    const backend = kind.make();
    const { log } = captureLog('warn');
    const sent: Sent[] = [];
    const refusedA: unknown[] = [];
    const gateA = createGate();
    const gateB = createGate();
    let startedA = false;
    // A stalls its event loop past the lease (so its renewer cannot run: awaiting alone would not do, its
    // renewals would keep the lease), then waits for the test before replying.
    const listenerA = defineListener({
      name: 'pinger',
      setup: (bot) =>
        bot.command('/ping', { requireMention: false }, async (ctx) => {
          startedA = true;
          stallEventLoop(LEASE_MS + 150);
          await gateA.promise;
          await replyRecordingRefusal(ctx, 'pong from a', refusedA);
        }),
    });
    // B replies at once, then holds the event (still queued, under B's lease) until the test lets it go.
    const listenerB = defineListener({
      name: 'pinger',
      setup: (bot) =>
        bot.command('/ping', { requireMention: false }, async (ctx) => {
          await ctx.reply('pong from b');
          await gateB.promise;
        }),
    });
    const room = f.room();
    const ping = f.message({ stream: room, from: alice, content: '/ping' });
    const eventId = ping.id;

    const a = await startInstance({ owner: 'a', listener: listenerA, backend: await backend.open(), sent, events: [ping], log });
    await expect.poll(() => startedA, POLL).toBe(true); // A has taken the lease, stalled past it, and waits on its gate
    const b = await startInstance({ owner: 'b', listener: listenerB, backend: await backend.open(), sent, events: [], log });
    await expect.poll(() => sent.length, POLL).toBe(1); // B took the conversation over (its sweep) and replied
    expect(sent[0]).toMatchObject({ owner: 'b', eventId });

    gateA.open(); // A resumes and replies
    await expect.poll(() => refusedA.length, POLL).toBe(1);
    a.stop();
    await a.done;
    expect(isChorusError(refusedA[0], 'CHORUS_ERR_LEASE_LOST')).toBe(true);
    expect(a.outcomes).toEqual([]); // A neither failed nor completed the event
    const { inbox } = await backend.open();
    // Still queued under B; A neither failed it nor completed it: the one attempt is B's take of A's lapsed lease.
    expect(await inbox.next(room.streamId)).toMatchObject({ attempts: 1 });

    gateB.open();
    b.stop();
    await b.done;
    expect(b.outcomes.map((outcome) => [outcome.status, outcome.eventId])).toEqual([['handled', eventId]]);
    expect(sent).toEqual([{ owner: 'b', eventId, text: '<messageML>pong from b</messageML>' }]);
    expect(await inbox.conversations()).toEqual([]);
    expect(await inbox.deadLetters()).toEqual([]);
  });

  it('keeps replying while renewals hold the lease, for a listener slower than the lease', async () => {
    const backend = kind.make();
    const { log, lines } = captureLog('warn');
    const sent: Sent[] = [];
    const slow = defineListener({
      name: 'slow',
      setup: (bot) =>
        bot.command('/ping', { requireMention: false }, async (ctx) => {
          await ctx.reply('before');
          await new Promise((resolve) => setTimeout(resolve, 1.5 * LEASE_MS)); // renewed meanwhile
          await ctx.reply('after');
        }),
    });
    const room = f.room();
    const pings = [f.message({ stream: room, from: alice, content: '/ping' }), f.message({ stream: room, from: alice, content: '/ping' })];
    const a = await startInstance({ owner: 'a', listener: slow, backend: await backend.open(), sent, events: pings, log });
    // Bounded: an event given up (its reply refused) would be handled again and again.
    await expect.poll(() => a.outcomes.length, POLL).toBe(2);
    await a.done;
    expect(a.outcomes.map((outcome) => outcome.status)).toEqual(['handled', 'handled']);
    expect(sent.map((message) => [message.eventId, message.text])).toEqual(
      pings.flatMap((ping) => [
        [ping.id, '<messageML>before</messageML>'],
        [ping.id, '<messageML>after</messageML>'],
      ]),
    );
    expect(lines()).toEqual([]); // no lease warning
  });

  it("lets a reply made after the event was completed go out, once the lease is given up (a listener's timer)", async () => {
    const backend = kind.make();
    const { log, lines } = captureLog('warn');
    const sent: Sent[] = [];
    const late: Promise<void>[] = [];
    const listener = defineListener({
      name: 'reminder',
      setup: (bot) =>
        bot.command('/ping', { requireMention: false }, (ctx) => {
          // The handler returns at once; the reply comes later, after the event was completed and the
          // conversation's lease given up (nobody handles a completed event again: no duplicate to fence).
          late.push(new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS)).then(() => ctx.reply('later')));
        }),
    });
    const room = f.room();
    const ping = f.message({ stream: room, from: alice, content: '/ping' });
    const a = await startInstance({ owner: 'a', listener, backend: await backend.open(), sent, events: [ping], log });
    await a.done;
    expect(a.outcomes.map((outcome) => outcome.status)).toEqual(['handled']);
    expect(await (await backend.open()).inbox.conversations()).toEqual([]); // completed, lease given up
    await Promise.all(late);
    expect(sent).toEqual([{ owner: 'a', eventId: ping.id, text: '<messageML>later</messageML>' }]);
    expect(lines()).toEqual([]);
  });
});

describe.each(skewableBackends)('lease fencing at renewal ($name)', (kind) => {
  it('fences the next send once a renewal finds the lease taken by another owner', async () => {
    const backend = kind.make();
    const { log, lines } = captureLog('warn');
    const sent: Sent[] = [];
    const refused: unknown[] = [];
    const gate = createGate();
    let started = false;
    const listener = defineListener({
      name: 'pinger',
      setup: (bot) =>
        bot.command('/ping', { requireMention: false }, async (ctx) => {
          started = true;
          await gate.promise;
          await replyRecordingRefusal(ctx, 'pong', refused);
        }),
    });
    const room = f.room();
    const ping = f.message({ stream: room, from: alice, content: '/ping' });
    const a = await startInstance({ owner: 'a', listener, backend: await backend.open(), sent, events: [ping], log });
    await expect.poll(() => started, POLL).toBe(true);

    // Owner b, whose clock sees A's lease expired, takes it (A's local deadline has not passed).
    const taken = await backend.skewed(10 * LEASE_MS, ({ inbox }) => inbox.lease(room.streamId, 'b', 60_000));
    expect(taken).toBe(true);
    const lostAtRenewal = (line: Record<string, unknown>) => line['msg'] === 'conversation lease lost at renewal: another instance has it';
    await expect.poll(() => lines().filter(lostAtRenewal), POLL).toEqual([
      expect.objectContaining({ level: 40, owner: 'a', conversationId: room.streamId }),
    ]);

    gate.open();
    await expect.poll(() => refused.length, POLL).toBe(1);
    a.stop();
    await a.done;
    expect(isChorusError(refused[0], 'CHORUS_ERR_LEASE_LOST')).toBe(true);
    expect(sent).toEqual([]);
    expect(a.outcomes).toEqual([]);
    const { inbox } = await backend.open();
    expect(await inbox.next(room.streamId)).toMatchObject({ attempts: 1 }); // b's take, A's lease lapsed on b's clock
    expect(await inbox.deadLetters()).toEqual([]);

    // b, the lease's holder, handles the event: one reply in all.
    const b = await startInstance({ owner: 'b', listener, backend: await backend.open(), sent, events: [], log });
    await b.done;
    expect(sent).toEqual([{ owner: 'b', eventId: ping.id, text: '<messageML>pong</messageML>' }]);
    expect(await inbox.conversations()).toEqual([]);
  });
});
