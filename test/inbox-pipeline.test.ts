/**
 * The durable mode (runWithInbox) with real backends: ack after append, exactly-once state, dedupe across
 * restarts, dead letters after maxAttempts, backlog first, no head-of-line blocking.
 */
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createMemorySource } from '../src/datafeed/memory-source.ts';
import { createLogger } from '../src/logger.ts';
import { createMemoryDeadLetters } from '../src/routing/dead-letters.ts';
import { createEventPipeline } from '../src/routing/event-pipeline.ts';
import { defineListener, type ListenerModule } from '../src/routing/listener.ts';
import { runWithInbox } from '../src/routing/run-with-inbox.ts';
import type { ConversationStore } from '../src/state/conversation-store.ts';
import type { Inbox } from '../src/state/inbox.ts';
import { createMemoryInbox } from '../src/state/memory-inbox.ts';
import { createMemoryStore } from '../src/state/memory-store.ts';
import { createSqliteInbox } from '../src/state/sqlite-inbox.ts';
import { createSqliteStore } from '../src/state/sqlite-store.ts';
import { createEventFactory } from '../src/testing/factories.ts';
import { useTempDirs } from './support/temp-dirs.ts';

const tempDir = useTempDirs('chorus-inbox-run-');

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const rooms = [f.room(), f.room(), f.room()];
const silent = createLogger({ level: 'silent' });

type Sent = { streamId: string; text: string };

async function start(
  listeners: ListenerModule[],
  backend: { inbox: Inbox; store: ConversationStore },
  batches: { events: unknown[] }[],
  lease: { owner?: string; leaseMs?: number } = {},
) {
  const sent: Sent[] = [];
  const pipeline = await createEventPipeline({
    listeners,
    bot: { userId: botUserId, displayName: 'Chorus Bot' },
    store: backend.store,
    sender: { send: async (message) => void sent.push({ streamId: message.streamId, text: message.message }) },
    deadLetters: createMemoryDeadLetters(),
    log: silent,
  });
  const source = createMemorySource(batches);
  const outcomes$ = runWithInbox({ pipeline, source, ...backend, ...lease, log: silent, retryDelayMs: 1, sweepIntervalMs: 20 });
  return { sent, source, outcomes$ };
}

const counter = defineListener({
  name: 'counter',
  setup(bot) {
    bot.command('/count', { requireMention: false }, async (ctx) => {
      const n = await ctx.state.update((v: number | undefined) => (v ?? 0) + 1);
      await ctx.reply(`count=${n}`);
    });
  },
});

const count = (stream: (typeof rooms)[number]) => f.message({ stream, from: alice, content: '/count' });

describe('runWithInbox', () => {
  it('handles every event once, in order per conversation, and drops redeliveries at append', async () => {
    const store = createMemoryStore();
    const backend = { store, inbox: createMemoryInbox({ store }) };
    const events = Array.from({ length: 30 }, (_, i) => count(rooms[i % 3] ?? rooms[0]!));
    const { sent, source, outcomes$ } = await start([counter], backend, [
      { events: events.slice(0, 20) },
      { events: [...events.slice(10, 30)] }, // 10 redelivered
    ]);
    const outcomes = await lastValueFrom(outcomes$.pipe(toArray()));
    expect(outcomes.filter((outcome) => outcome.status === 'handled')).toHaveLength(30);
    expect(source.outcomes.map((outcome) => outcome.outcome)).toEqual(['ack', 'ack']);
    for (const room of rooms) {
      const replies = sent.filter((message) => message.streamId === room.streamId).map((message) => message.text);
      expect(replies).toEqual(Array.from({ length: 10 }, (_, i) => `<messageML>count=${i + 1}</messageML>`));
    }
  });

  it('acknowledges a batch once appended, before a slow listener finishes', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = defineListener({ name: 'slow', setup: (bot) => bot.command('/slow', { requireMention: false }, () => gate) });
    const store = createMemoryStore();
    const { source, outcomes$ } = await start([slow], { store, inbox: createMemoryInbox({ store }) }, [
      { events: [f.message({ stream: rooms[0]!, from: alice, content: '/slow' })] },
    ]);
    const done = lastValueFrom(outcomes$.pipe(toArray()));
    await expect.poll(() => source.outcomes.length).toBe(1);
    release();
    expect((await done).map((outcome) => outcome.status)).toEqual(['handled']);
  });

  it('dead-letters an event after 3 failed attempts and goes on with the conversation; others never wait', async () => {
    let attempts = 0;
    const picky = defineListener({
      name: 'picky',
      setup(bot) {
        bot.command('/bad', { requireMention: false }, () => {
          attempts += 1;
          throw new Error('always fails');
        });
      },
    });
    const store = createMemoryStore();
    const inbox = createMemoryInbox({ store });
    const { sent, outcomes$ } = await start([picky, counter], { store, inbox }, [
      { events: [f.message({ stream: rooms[0]!, from: alice, content: '/bad' }), count(rooms[0]!), count(rooms[1]!)] },
    ]);
    const outcomes = await lastValueFrom(outcomes$.pipe(toArray()));
    expect(attempts).toBe(3);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['failed', 'handled', 'handled']);
    expect(sent.map((message) => message.text)).toEqual(['<messageML>count=1</messageML>', '<messageML>count=1</messageML>']);
    const [letter] = await inbox.deadLetters();
    expect(letter).toMatchObject({ attempts: 3, code: 'CHORUS_ERR_LISTENER_FAILED', conversationId: rooms[0]!.streamId });
  });

  it('commits state only with the event: a run stopped mid-event leaves it queued, and a restart finishes it once', async () => {
    const path = join(tempDir(), 'state.db');
    const open = () => {
      const store = createSqliteStore({ path });
      return { store, inbox: createSqliteInbox({ path }) };
    };
    let hang = true;
    const flaky = defineListener({
      name: 'counter',
      setup(bot) {
        bot.command('/count', { requireMention: false }, async (ctx) => {
          const n = await ctx.state.update((v: number | undefined) => (v ?? 0) + 1);
          if (hang && n === 3) await new Promise(() => undefined); // "crash" here: the update is not committed
          await ctx.reply(`count=${n}`);
        });
      },
    });
    const events = Array.from({ length: 5 }, () => count(rooms[0]!));
    const first = open();
    const run1 = await start([flaky], first, [{ events }], { owner: 'host-a' });
    const subscription = run1.outcomes$.subscribe();
    await expect.poll(() => run1.sent.length).toBe(2);
    subscription.unsubscribe(); // the process dies with event 3 in flight
    hang = false;
    const second = open(); // a new process on the same file, with an empty datafeed
    // the same instance restarts (same owner: its leases are its own again at once)
    const run2 = await start([flaky], second, [{ events: [events[0], events[3]] }], { owner: 'host-a' }); // redeliveries: dropped
    await lastValueFrom(run2.outcomes$.pipe(toArray()));
    expect([...run1.sent, ...run2.sent].map((message) => message.text)).toEqual(
      [1, 2, 3, 4, 5].map((n) => `<messageML>count=${n}</messageML>`),
    );
    expect(await second.store.get('state:counter:' + rooms[0]!.streamId)).toBe(5);
    await Promise.all([first.store.close(), first.inbox.close(), second.store.close(), second.inbox.close()]);
  });

  it('lets another instance take a dead instance\'s conversation once its lease expires', async () => {
    const store = createMemoryStore();
    const inbox = createMemoryInbox({ store });
    let hang = true;
    let started = 0;
    const stuck = defineListener({
      name: 'counter',
      setup(bot) {
        bot.command('/count', { requireMention: false }, async (ctx) => {
          const n = await ctx.state.update((v: number | undefined) => (v ?? 0) + 1);
          started += 1;
          if (hang) await new Promise(() => undefined);
          await ctx.reply(`count=${n}`);
        });
      },
    });
    const dead = await start([stuck], { store, inbox }, [{ events: [count(rooms[0]!), count(rooms[0]!)] }], { owner: 'a', leaseMs: 150 });
    const subscription = dead.outcomes$.subscribe();
    await expect.poll(() => started).toBe(1);
    expect(await inbox.lease(rooms[0]!.streamId, 'b', 150)).toBe(false);
    subscription.unsubscribe(); // instance a dies holding the lease
    hang = false;
    const other = await start([stuck], { store, inbox }, [], { owner: 'b', leaseMs: 150 });
    await lastValueFrom(other.outcomes$.pipe(toArray()));
    expect(other.sent.map((message) => message.text)).toEqual(['<messageML>count=1</messageML>', '<messageML>count=2</messageML>']);
  });

  it('lets a stuck conversation delay no other, even at the concurrency limit', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mixed = defineListener({
      name: 'mixed',
      setup(bot) {
        bot.command('/stuck', { requireMention: false }, () => gate);
        bot.command('/quick', { requireMention: false }, (ctx) => ctx.reply('quick'));
      },
    });
    const store = createMemoryStore();
    const backend = { store, inbox: createMemoryInbox({ store }) };
    const sent: Sent[] = [];
    const pipeline = await createEventPipeline({
      listeners: [mixed],
      bot: { userId: botUserId, displayName: 'Chorus Bot' },
      store,
      sender: { send: async (message) => void sent.push({ streamId: message.streamId, text: message.message }) },
      deadLetters: createMemoryDeadLetters(),
      log: silent,
    });
    const others = Array.from({ length: 12 }, () => f.room());
    const source = createMemorySource([
      {
        events: [
          f.message({ stream: rooms[0]!, from: alice, content: '/stuck' }),
          ...others.map((room) => f.message({ stream: room, from: alice, content: '/quick' })),
        ],
      },
    ]);
    const done = lastValueFrom(
      runWithInbox({ pipeline, source, ...backend, log: silent, concurrency: 2, sweepIntervalMs: 20 }).pipe(toArray()),
    );
    // With 2 slots and one held by the stuck conversation, the 12 others still all get through.
    await expect.poll(() => sent.length).toBe(12);
    release();
    expect((await done).filter((outcome) => outcome.status === 'handled')).toHaveLength(13);
  });

  it('handles what a previous run left in the inbox before reading the datafeed', async () => {
    const store = createMemoryStore();
    const inbox = createMemoryInbox({ store });
    const order: string[] = [];
    const recorder = defineListener({
      name: 'recorder',
      setup: (bot) =>
        bot.command('/say {word}', { requireMention: false }, async (ctx) => {
          // the leftover is slow: read concurrently, the fresh event would overtake it
          if (ctx.args.word === 'leftover') await new Promise((resolve) => setTimeout(resolve, 100));
          order.push(ctx.args.word);
        }),
    });
    const leftover = f.message({ stream: rooms[1]!, from: alice, content: '/say leftover' });
    await inbox.append([{ conversationId: rooms[1]!.streamId, dedupeKey: `message:${leftover.payload.messageSent.message.messageId}`, wire: JSON.stringify(leftover) }]);
    const { source, outcomes$ } = await start([recorder], { store, inbox }, [
      { events: [f.message({ stream: rooms[2]!, from: alice, content: '/say fresh' })] },
    ]);
    await lastValueFrom(outcomes$.pipe(toArray()));
    expect(order).toEqual(['leftover', 'fresh']);
    expect(source.outcomes).toHaveLength(1);
  });
});
