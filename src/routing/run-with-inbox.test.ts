/**
 * runWithInbox's in-process cache of parsed events: an event appended by this instance is parsed once; one
 * it did not append (left by a previous run, or pushed out of the bounded cache) is parsed from its wire.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createMemorySource } from '../datafeed/memory-source.ts';
import { createLogger } from '../logger.ts';
import type { Inbox } from '../state/inbox.ts';
import { createMemoryInbox } from '../state/memory-inbox.ts';
import { createMemoryStore } from '../state/memory-store.ts';
import { createEventFactory } from '../testing/factories.ts';
import { createMemoryDeadLetters } from './dead-letters.ts';
import { createEventPipeline, type EventPipeline } from './event-pipeline.ts';
import { defineListener } from './listener.ts';
import { PARSED_EVENTS_MAX } from './parsed-event-cache.ts';
import { runWithInbox } from './run-with-inbox.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const rooms = Array.from({ length: 5 }, () => f.room());
const log = createLogger({ level: 'silent' });
const say = (i: number) => f.message({ stream: rooms[i % rooms.length]!, from: alice, content: `/say ${i}` });

/** Runs `batches` through the inbox; counts the wire events the pipeline parsed (classify calls). */
async function run(batches: { events: unknown[] }[], inbox?: Inbox) {
  const store = createMemoryStore();
  const said: string[] = [];
  const listener = defineListener({
    name: 'echo',
    setup: (bot) => bot.command('/say {word}', { requireMention: false }, (ctx) => void said.push(ctx.args.word)),
  });
  const pipeline = await createEventPipeline({
    listeners: [listener],
    bot: { userId: botUserId, displayName: 'Chorus Bot' },
    store,
    sender: { send: async () => undefined },
    deadLetters: createMemoryDeadLetters(),
    log,
  });
  let parsed = 0;
  const counting: EventPipeline = { ...pipeline, classify: (wire) => ((parsed += 1), pipeline.classify(wire)) };
  const outcomes$ = runWithInbox({
    pipeline: counting,
    source: createMemorySource(batches),
    inbox: inbox ?? createMemoryInbox({ store }),
    store,
    log,
    sweepIntervalMs: 20,
  });
  const outcomes = await lastValueFrom(outcomes$.pipe(toArray()));
  return { parsed, said, handled: outcomes.filter((outcome) => outcome.status === 'handled').length };
}

describe('runWithInbox: parsed events', () => {
  it('parses an event it appends once, at append, and handles it from there', async () => {
    const events = Array.from({ length: 30 }, (_, i) => say(i));
    const result = await run([{ events: events.slice(0, 20) }, { events: events.slice(20) }]);
    expect(result.handled).toBe(30);
    expect(result.parsed).toBe(30);
    expect([...result.said].sort()).toEqual(events.map((_, i) => String(i)).sort());
  });

  it('parses from the stored wire an event it did not append (left by a previous run)', async () => {
    const store = createMemoryStore();
    const inbox = createMemoryInbox({ store });
    const leftover = say(100);
    await inbox.append([{ conversationId: rooms[0]!.streamId, dedupeKey: `message:${leftover.payload.messageSent.message.messageId}`, wire: JSON.stringify(leftover) }]);
    const result = await run([{ events: [say(1)] }], inbox);
    expect(result.said).toEqual(['100', '1']);
    expect(result.parsed).toBe(2); // the leftover from its wire, the new one at append
  });

  it(`keeps at most ${PARSED_EVENTS_MAX} parsed events: the oldest are parsed again from their wire`, async () => {
    const extra = 25;
    const events = Array.from({ length: PARSED_EVENTS_MAX + extra }, (_, i) => say(i));
    const result = await run([{ events }]); // one batch: all appended (and parsed) before the first is handled
    expect(result.handled).toBe(events.length);
    expect(result.parsed).toBe(events.length + extra);
  });
});
