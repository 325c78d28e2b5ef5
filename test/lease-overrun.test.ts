/**
 * Lease overruns end (runWithInbox, Inbox.lease), with real inboxes (memory; SQLite on a temp file; Redis): an
 * event whose handling never ends normally — the listener stalls the event loop past the conversation lease,
 * or the run stops (as a crash or a kill does) while handling it — is counted one attempt at each take over
 * its conversation's lease (lapsed, or still this owner's after a restart) and dead-lettered with CHORUS_ERR_LEASE_OVERRUN after `maxAttempts` of them, without its
 * listeners running again; the conversation then goes on with its next event.
 */
import { describe, expect, it } from 'vitest';
import { captureLog } from '../src/datafeed/loopback.test-support.ts';
import type { EventOutcome } from '../src/routing/event-pipeline.ts';
import { defineListener } from '../src/routing/listener.ts';
import { createEventFactory } from '../src/testing/factories.ts';
import { INSTANCE_BOT, useInboxInstances, type BackendKind, type InstanceOptions } from './support/inbox-instances.ts';

const f = createEventFactory({ bot: INSTANCE_BOT });
const alice = f.user({ displayName: 'Alice Ng' });
/** Short, so that each takeover comes quickly; the stall outlasts it by far. */
const LEASE_MS = 300;
const MAX_ATTEMPTS = 3;
/** Polls wait this long at most: the stalls, or a loaded machine, hold their timers back. */
const POLL = { timeout: 10_000 };

const instances = useInboxInstances('chorus-lease-overrun-');
const backends: readonly BackendKind[] = [instances.memory, instances.sqlite, instances.redis];
/** Its replies as [event id, text]. */
const recordingTo =
  (sent: string[][]): InstanceOptions['onSend'] =>
  (message) =>
    void sent.push([message.inReplyTo.eventId, message.message]);

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

/** `/crash` never ends (the run is stopped meanwhile, as by a crash; counted); `/ping` replies; `/work` replies after 100 ms. */
function crashingListener(crashes: { count: number }) {
  return defineListener({
    name: 'crasher',
    setup: (b) => {
      b.command('/crash', { requireMention: false }, async () => {
        crashes.count += 1;
        await new Promise(() => undefined);
      });
      b.command('/ping', { requireMention: false }, (ctx) => ctx.reply('pong'));
      b.command('/work', { requireMention: false }, async (ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 100)); // in flight when a crash comes beside it
        await ctx.reply('done');
      });
    },
  });
}

/**
 * A crash loop: MAX_ATTEMPTS runs (the first fed `events`), each stopped as by a crash once `/crash` runs in
 * it, then a last run, resolved once it completed; `ownerAt(start)` names each run's owner.
 */
async function crashLoop(options: { kind: BackendKind; ownerAt: (start: number) => string; events: unknown[]; sent: string[][] }) {
  const backend = options.kind.make();
  const { log } = captureLog('warn');
  const crashes = { count: 0 };
  const listener = crashingListener(crashes);
  const run = async (start: number, events: unknown[]) =>
    instances.start({ owner: options.ownerAt(start), listener, backend: await backend.open(), events, onSend: recordingTo(options.sent), log, leaseMs: LEASE_MS, maxAttempts: MAX_ATTEMPTS });
  for (let start = 1; start <= MAX_ATTEMPTS; start += 1) {
    const started = await run(start, start === 1 ? options.events : []);
    await expect.poll(() => crashes.count, POLL).toBe(start);
    started.crash();
  }
  const last = await run(MAX_ATTEMPTS + 1, []);
  await last.done;
  return { last, crashes: crashes.count, inbox: (await backend.open()).inbox };
}

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

    const run = await instances.start({ owner: 'a', listener, backend: await backend.open(), events: [stall, ping], onSend: recordingTo(sent), log, leaseMs: LEASE_MS, maxAttempts: MAX_ATTEMPTS });
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
    const sent: string[][] = [];
    const room = f.room();
    const crash = f.message({ stream: room, from: alice, content: '/crash' });
    const ping = f.message({ stream: room, from: alice, content: '/ping' });

    const { last, crashes, inbox } = await crashLoop({ kind, ownerAt, events: [crash, ping], sent });
    expect(crashes).toBe(MAX_ATTEMPTS);
    expect(statusOf(last.outcomes)).toEqual([
      ['failed', crash.id, 'CHORUS_ERR_LEASE_OVERRUN'],
      ['handled', ping.id, undefined],
    ]);
    expect(sent).toEqual([[ping.id, '<messageML>pong</messageML>']]);
    expect((await inbox.deadLetters()).map((letter) => [idOf(letter.wire), letter.attempts, letter.code])).toEqual([
      [crash.id, MAX_ATTEMPTS, 'CHORUS_ERR_LEASE_OVERRUN'],
    ]);
    expect(await inbox.conversations()).toEqual([]);
  });

  it('ends a crash loop without dead-lettering the events of other conversations in flight at its crashes', async () => {
    const sent: string[][] = [];
    const crash = f.message({ stream: f.room(), from: alice, content: '/crash' });
    const others = [1, 2, 3].map(() => f.message({ stream: f.room(), from: alice, content: '/work' }));

    // The same owner restarted at once, as a daemon under a process manager: every conversation it held at a
    // crash is counted at its next take; the suspects are then worked alone, so only /crash is at the next ones.
    const { crashes, inbox } = await crashLoop({ kind, ownerAt: () => 'daemon-a', events: [crash, ...others], sent });
    expect(crashes).toBe(MAX_ATTEMPTS);
    expect((await inbox.deadLetters()).map((letter) => [idOf(letter.wire), letter.code])).toEqual([[crash.id, 'CHORUS_ERR_LEASE_OVERRUN']]);
    expect(sent.map(([eventId]) => eventId).sort()).toEqual(others.map((event) => event.id).sort()); // each replied once
    expect(await inbox.conversations()).toEqual([]);
  });

  it('works the conversations in flight at one crash side by side at the next start, not one by one', async () => {
    const backend = kind.make();
    const { log } = captureLog('warn');
    const sent: string[][] = [];
    let crashed = false;
    let taken = 0;
    let inFlight = 0;
    let mostInFlight = 0;
    const listener = defineListener({
      name: 'holder',
      setup: (b) => {
        b.command('/hold', { requireMention: false }, async (ctx) => {
          taken += 1;
          if (!crashed) await new Promise(() => undefined); // the first start: in flight at its crash
          inFlight += 1;
          mostInFlight = Math.max(mostInFlight, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 200));
          inFlight -= 1;
          await ctx.reply('held');
        });
      },
    });
    const events = [1, 2, 3].map(() => f.message({ stream: f.room(), from: alice, content: '/hold' }));
    const start = async (withEvents: unknown[]) =>
      instances.start({ owner: 'daemon-a', listener, backend: await backend.open(), events: withEvents, onSend: recordingTo(sent), log, leaseMs: LEASE_MS, maxAttempts: MAX_ATTEMPTS });

    const first = await start(events);
    await expect.poll(() => taken, POLL).toBe(events.length);
    first.crash();
    crashed = true;
    const second = await start([]); // the same owner restarted at once: each take back counts one attempt
    await second.done;
    expect(mostInFlight).toBe(events.length); // one attempt counted is not the last (3): no suspect, none alone
    expect(sent.map(([eventId]) => eventId).sort()).toEqual(events.map((event) => event.id).sort());
    const { inbox } = await backend.open();
    expect(await inbox.deadLetters()).toEqual([]);
  });
});
