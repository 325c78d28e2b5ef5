/**
 * What a handler's result means for its event, whichever way the dispatcher runs the handler (a handler
 * method's direct call, or a `bot.use` pipeline), and what a listener's view of the context holds.
 */
import { concatMap, defer, Observable, of, throwError, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { defineListener, type ListenerModule } from '../index.ts';
import { createEventFactory, runReplay } from '../testing/index.ts';
import { createMemoryStore } from '../state/memory-store.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const room = f.room({ roomName: 'Desk' });

/** A handler result of each kind, and the status it must give its event. */
const RESULTS: readonly { readonly name: string; readonly make: () => unknown; readonly status: string }[] = [
  { name: 'nothing', make: () => undefined, status: 'handled' },
  { name: 'a value', make: () => 42, status: 'handled' },
  { name: 'a resolved promise', make: () => Promise.resolve(1), status: 'handled' },
  { name: 'a rejected promise', make: () => Promise.reject(new Error('no')), status: 'failed' },
  { name: 'a thenable', make: () => ({ then: (resolve: (value: unknown) => void) => resolve(1) }), status: 'handled' },
  { name: 'an Observable that completes', make: () => of(1, 2), status: 'handled' },
  { name: 'an Observable that completes later', make: () => timer(1), status: 'handled' },
  { name: 'an Observable that errors', make: () => throwError(() => new Error('no')), status: 'failed' },
  {
    name: 'a throw',
    make: () => {
      throw new Error('no');
    },
    status: 'failed',
  },
];

/** One event of each handler method's kind: a command, a mention, any message (`on`). */
const KINDS: readonly { readonly name: string; readonly register: ListenerModule['setup']; readonly content: () => unknown }[] = [
  {
    name: 'command',
    register: (bot) => bot.command('/go', { requireMention: false }, () => current()),
    content: () => '/go',
  },
  { name: 'mention', register: (bot) => bot.mention(() => current()), content: () => [f.mentionBot(), ' hello'] },
  { name: 'mention with a pattern', register: (bot) => bot.mention(/^hel+o$/, () => current()), content: () => [f.mentionBot(), ' hello'] },
  { name: 'on', register: (bot) => bot.on('MESSAGESENT', () => current()), content: () => 'anything' },
  {
    name: 'use',
    register: (bot) => bot.use(bot.messages$.pipe(concatMap(() => defer(() => toObservable(current()))))),
    content: () => 'anything',
  },
];

let current: () => unknown = () => undefined;

/** What `runHandler` makes of a result, for the `use` row. */
function toObservable(result: unknown): Observable<unknown> {
  if (result instanceof Observable) return result;
  if (typeof result === 'object' && result !== null && 'then' in result) return defer(() => result as PromiseLike<unknown>);
  return of(result);
}

describe('dispatching an event to a handler', () => {
  for (const kind of KINDS) {
    for (const result of RESULTS) {
      it(`${kind.name}: a handler that returns ${result.name} leaves the event ${result.status}`, async () => {
        current = result.make;
        const listener = defineListener({ name: 'one', setup: kind.register });
        const content = kind.content() as Parameters<typeof f.message>[0]['content'];
        const report = await runReplay([f.message({ stream: room, from: alice, content })], { listeners: [listener], botUserId });
        expect(report.outcomes.map((outcome) => outcome.status)).toEqual([result.status]);
      });
    }
  }

  it('finishes an event only when its slowest handler is done, and keeps the conversation in order', async () => {
    const seen: string[] = [];
    const listener = defineListener({
      name: 'mixed',
      setup(bot) {
        bot.command('/slow', { requireMention: false }, async (ctx) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          seen.push(`slow ${ctx.message.messageId}`);
        });
        bot.on('MESSAGESENT', (ctx) => void seen.push(`on ${ctx.event.message.text}`));
      },
    });
    const report = await runReplay(
      [
        f.message({ stream: room, from: alice, content: '/slow' }),
        f.message({ stream: room, from: alice, content: 'after' }),
      ],
      { listeners: [listener], botUserId },
    );
    expect(seen.map((entry) => entry.split(' ')[0])).toEqual(['on', 'slow', 'on']);
    expect(seen[2]).toBe('on after');
    expect(report.outcomes.map((outcome) => outcome.status)).toEqual(['handled', 'handled']);
  });
});

describe("a listener's view of the context", () => {
  it('has the event fields, the match of a mention pattern, and state handles that stay the same object', async () => {
    const views: Record<string, unknown>[] = [];
    const listener = defineListener({
      name: 'viewer',
      setup(bot) {
        bot.mention(/^price of (\w+)$/, (ctx) => {
          views.push({
            type: ctx.type,
            text: ctx.text,
            prompt: ctx.prompt,
            mentionsBot: ctx.mentionsBot,
            command: ctx.command,
            match: ctx.match?.[1],
            user: ctx.user.userId,
            conversationId: ctx.conversationId,
            streamId: ctx.streamId,
            eventId: ctx.event.id,
            sameState: ctx.state === ctx.state && ctx.userState === ctx.userState,
            distinctStates: ctx.state !== ctx.userState,
            log: typeof ctx.log.info,
          });
        });
      },
    });
    const message = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' price of AAPL'] });
    await runReplay([message], { listeners: [listener], botUserId });
    expect(views).toEqual([
      {
        type: 'MESSAGESENT',
        text: '@Chorus Bot price of AAPL',
        prompt: 'price of AAPL',
        mentionsBot: true,
        command: undefined,
        match: 'AAPL',
        user: alice.userId,
        conversationId: room.streamId,
        streamId: room.streamId,
        eventId: message.id,
        sameState: true,
        distinctStates: true,
        log: 'function',
      },
    ]);
  });

  it("gives each listener its own conversation and user state, also from a mention's view", async () => {
    const store = createMemoryStore();
    const writer = (name: string): ListenerModule =>
      defineListener({
        name,
        setup(bot) {
          bot.mention(/./, async (ctx) => {
            await ctx.state.update<number>((count) => (count ?? 0) + 1);
            await ctx.userState.set(name);
          });
        },
      });
    const mention = () => f.message({ stream: room, from: alice, content: [f.mentionBot(), ' hi'] });
    await runReplay([mention(), mention()], { listeners: [writer('a'), writer('b')], botUserId, store });
    const read = defineListener({
      name: 'a',
      setup(bot) {
        bot.on('MESSAGESENT', async (ctx) => {
          expect(await ctx.state.get()).toBe(2);
          expect(await ctx.userState.get()).toBe('a');
        });
      },
    });
    const report = await runReplay([f.message({ stream: room, from: alice, content: 'check' })], { listeners: [read], botUserId, store });
    expect(report.outcomes.map((outcome) => outcome.status)).toEqual(['handled']);
  });
});
