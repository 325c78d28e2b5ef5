/**
 * Fencing of replies by the conversation lease (runWithInbox, lease-fence.ts), with real inboxes (memory;
 * SQLite on a temp file, a connection per instance; Redis, clients of their own per instance): an instance
 * that lost a conversation's lease sends nothing more for it, neither fails nor completes the event, and
 * leaves it to the lease's holder, which replies once; while the lease is held, replies go out as before.
 * (What the takeover of a lapsed lease counts, and where overruns end, is test/lease-overrun.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { captureLog } from '../src/datafeed/loopback.test-support.ts';
import { isChorusError } from '../src/errors.ts';
import { defineListener } from '../src/routing/listener.ts';
import { createEventFactory } from '../src/testing/factories.ts';
import { INSTANCE_BOT, useInboxInstances, type BackendKind, type InstanceOptions, type SkewableKind } from './support/inbox-instances.ts';

const f = createEventFactory({ bot: INSTANCE_BOT });
const alice = f.user({ displayName: 'Alice Ng' });
// Long enough that a loaded machine's late timers do not let a renewal miss (sends stop 0.9 × this after one).
const LEASE_MS = 600;
/** Polls wait this long at most: the stall, or a loaded machine, holds their timers back. */
const POLL = { timeout: 5_000 };

const instances = useInboxInstances('chorus-lease-fencing-');
const backends: readonly BackendKind[] = [instances.memory, instances.sqlite, instances.redis];
// Another owner can take a lease that has not expired for its holder only through a clock that runs ahead:
// the memory and SQLite inboxes take the time from their caller; Redis keeps it.
const skewableBackends: readonly SkewableKind[] = [instances.memory, instances.sqlite];

type Sent = { readonly owner: string; readonly eventId: string; readonly text: string };

/** One instance named `owner`; its replies are recorded in `sent` under its name. */
function startInstance(options: Omit<InstanceOptions, 'onSend' | 'leaseMs'> & { readonly sent: Sent[] }) {
  const { sent, ...rest } = options;
  const onSend: InstanceOptions['onSend'] = (message) => void sent.push({ owner: options.owner, eventId: message.inReplyTo.eventId, text: message.message });
  return instances.start({ ...rest, onSend, leaseMs: LEASE_MS });
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
