/**
 * `ctx.userState`: one state per user per conversation (per listener), beside the conversation's `ctx.state`.
 */
import { describe, expect, it } from 'vitest';
import { conversationStateKey, userStateKey } from '../../src/routing/event-context.ts';
import { defineListener } from '../../src/routing/listener.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import { createEventFactory } from '../../src/testing/factories.ts';
import { runReplay } from '../../src/testing/replay.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const bob = f.user({ displayName: 'Bob Stone' });
const desk = f.room({ roomName: 'Trading desk' });
const rates = f.room({ roomName: 'Rates desk' });

// Counts, per mention, the author's mentions in this stream (userState) and all mentions in it (state).
const counter = defineListener({
  name: 'counter',
  setup(bot) {
    bot.mention(async (ctx) => {
      const mine = await ctx.userState.update<number>((n) => (n ?? 0) + 1);
      const all = await ctx.state.update<number>((n) => (n ?? 0) + 1);
      await ctx.reply(`${ctx.user.displayName}: ${mine} of ${all}`);
    });
  },
});

const mention = (stream: typeof desk, from: typeof alice) => f.message({ stream, from, content: [f.mentionBot(), ' hi'] });

describe('ctx.userState', () => {
  it('is separate for two users in one stream, and for one user in two streams', async () => {
    const store = createMemoryStore();
    const { replies, outcomes } = await runReplay(
      [mention(desk, alice), mention(desk, alice), mention(desk, bob), mention(rates, alice), mention(desk, bob)],
      { listeners: [counter], botUserId, store },
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(5).fill('handled'));
    const byStream = (stream: typeof desk) =>
      replies.filter((reply) => reply.streamId === stream.streamId).map((reply) => reply.text);
    expect(byStream(desk)).toEqual(['Alice Ng: 1 of 1', 'Alice Ng: 2 of 2', 'Bob Stone: 1 of 3', 'Bob Stone: 2 of 4']);
    expect(byStream(rates)).toEqual(['Alice Ng: 1 of 1']);

    expect(await store.get(userStateKey('counter', desk.streamId, alice.userId))).toBe(2);
    expect(await store.get(userStateKey('counter', desk.streamId, bob.userId))).toBe(2);
    expect(await store.get(userStateKey('counter', rates.streamId, alice.userId))).toBe(1);
    expect(await store.get(userStateKey('counter', rates.streamId, bob.userId))).toBeUndefined();
    expect(await store.get(conversationStateKey('counter', desk.streamId))).toBe(4);
  });

  it('keys user state by listener too, apart from conversation state', () => {
    expect(userStateKey('counter', 'wTmSDJSNPXgB', '7000000000002')).toBe('user-state:counter:wTmSDJSNPXgB:7000000000002');
    expect(userStateKey('counter', 'c', 'u')).not.toBe(userStateKey('other', 'c', 'u'));
    expect(userStateKey('counter', 'c', 'u')).not.toBe(conversationStateKey('counter', 'c'));
  });
});
