/**
 * Dialogs in the durable mode (runWithInbox): each event's state changes commit with it through a unit of
 * work, so a dialog must work through one, continue on another instance, and end for good when it fails.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createMemorySource } from '../datafeed/memory-source.ts';
import { createLogger } from '../logger.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import { createMemoryInbox } from '../state/memory-inbox.ts';
import { createMemoryStore } from '../state/memory-store.ts';
import { createEventFactory } from '../testing/factories.ts';
import { messageMLToText } from '../testing/messageml-to-text.ts';
import { createMemoryDeadLetters } from './dead-letters.ts';
import { createEventPipeline } from './event-pipeline.ts';
import { defineListener, type ListenerModule } from './listener.ts';
import { runWithInbox } from './run-with-inbox.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const im = f.im(alice);
const say = (text: string) => f.message({ stream: im, from: alice, content: text });

/** One instance of the bot: runs `events` through the inbox over `store` and returns the texts it sent. */
async function instance(listeners: ListenerModule[], store: ConversationStore, events: unknown[], owner: string) {
  const sent: string[] = [];
  const log = createLogger({ level: 'silent' });
  const pipeline = await createEventPipeline({
    listeners,
    bot: { userId: botUserId, displayName: 'Chorus Bot' },
    store,
    sender: { send: async (message) => void sent.push(messageMLToText(message.message)) },
    deadLetters: createMemoryDeadLetters(),
    log,
  });
  const source = createMemorySource([{ events }]);
  const outcomes$ = runWithInbox({ pipeline, source, store, inbox: createMemoryInbox({ store }), owner, log, retryDelayMs: 1, sweepIntervalMs: 20 });
  const outcomes = await lastValueFrom(outcomes$.pipe(toArray()));
  return { sent, statuses: outcomes.map((outcome) => outcome.status) };
}

describe('dialogs through the durable inbox', () => {
  it('continue on another instance sharing the store', async () => {
    const order = defineListener({
      name: 'order',
      setup(bot) {
        bot.dialog('/order', async (d) => {
          const size = await d.ask('Size?', { choices: ['S', 'L'] });
          const topping = await d.ask('Topping?');
          await d.reply(`${size} ${topping}`);
        });
      },
    });
    const store = createMemoryStore();
    const a = await instance([order], store, [say('/order'), say('s')], 'a');
    expect(a.sent).toEqual(['Size?', 'Topping?']);
    const b = await instance([order], store, [say('ham')], 'b');
    expect(b.sent).toEqual(['S ham']);
  });

  it('end for good when the function throws, rather than being tried again', async () => {
    let runs = 0;
    const broken = defineListener({
      name: 'broken',
      setup(bot) {
        bot.dialog('/broken', async (d) => {
          runs += 1;
          if ((await d.ask('a?')) === 'boom') throw new Error('boom');
        });
      },
    });
    const store = createMemoryStore();
    const { sent, statuses } = await instance([broken], store, [say('/broken'), say('boom'), say('more')], 'a');
    expect(sent).toEqual(['a?', 'Sorry, your /broken dialog failed and has ended.']);
    expect(statuses).toEqual(['handled', 'handled', 'handled']);
    expect(runs).toBe(2);
  });
});
