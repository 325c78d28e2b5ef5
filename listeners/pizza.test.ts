import { describe, expect, it } from 'vitest';
import type { Stream, User } from 'chorus';
import { createEventFactory, createMemoryStore, dialogStateKey, replay, runReplay, type Reply } from 'chorus/testing';
import pizza from './pizza.ts';
import trading from './trading.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const bob = f.user({ displayName: 'Bob Stone' });
const room = f.room({ roomName: 'Lunch' });
const im = f.im(alice);
const options = { listeners: [pizza], botUserId };
// with the trading listener: its commands, and its mention fallback ("Hi <name>, try /help")
const withTrading = { listeners: [pizza, trading], botUserId };

const texts = (replies: readonly Reply[]) => replies.map((reply) => reply.text);
const textsIn = (replies: readonly Reply[], streamId: string) =>
  texts(replies.filter((reply) => reply.streamId === streamId));

/** A message of `from` in `stream`; a command in a room gets the leading @mention it needs there. */
const say = (stream: Stream, from: User, text: string) =>
  f.message({ stream, from, content: stream.streamType === 'IM' || !text.startsWith('/') ? text : [f.mentionBot(), ` ${text}`] });

const SIZE = 'What size? S, M or L';
const TOPPING = 'Which topping?';

describe('/order', () => {
  it('asks size, topping and confirmation in turn, then orders', async () => {
    const replies = await replay(
      [say(im, alice, '/order'), say(im, alice, 'm'), say(im, alice, 'Mushrooms'), say(im, alice, 'YES')],
      options,
    );
    expect(texts(replies)).toEqual([SIZE, TOPPING, 'A M pizza with Mushrooms?', 'Ordered: M Mushrooms (order #1)']);
    expect(replies.every((reply) => reply.streamId === im.streamId)).toBe(true);
  });

  it('re-asks an answer that is not a choice, and a confirmation that is not yes or no', async () => {
    const replies = await replay(
      [
        say(im, alice, '/order'),
        say(im, alice, 'XL'),
        say(im, alice, ' l '),
        say(im, alice, 'ham'),
        say(im, alice, 'maybe'),
        say(im, alice, 'y'),
      ],
      options,
    );
    expect(texts(replies)).toEqual([
      SIZE,
      `Please answer S, M or L.\n${SIZE}`,
      TOPPING,
      'A L pizza with ham?',
      'Please answer yes or no.\nA L pizza with ham?',
      'Ordered: L ham (order #1)',
    ]);
  });

  it('ends on a "no" without ordering, and later messages are no answers', async () => {
    const replies = await replay(
      [
        say(im, alice, '/order'),
        say(im, alice, 'S'),
        say(im, alice, 'olives'),
        say(im, alice, 'n'),
        say(im, alice, 'M'),
        say(im, alice, '/order'),
        say(im, alice, 'S'),
        say(im, alice, 'olives'),
        say(im, alice, 'yes'),
      ],
      options,
    );
    expect(texts(replies)).toEqual([
      SIZE,
      TOPPING,
      'A S pizza with olives?',
      'Cancelled.',
      SIZE,
      TOPPING,
      'A S pizza with olives?',
      'Ordered: S olives (order #1)', // the cancelled order took no number
    ]);
  });

  it('ends with /cancel, after which nothing is an answer and /cancel has nothing to end', async () => {
    const replies = await replay(
      [say(im, alice, '/order'), say(im, alice, 'M'), say(im, alice, '/cancel'), say(im, alice, 'ham'), say(im, alice, '/cancel')],
      options,
    );
    expect(texts(replies)).toEqual([SIZE, TOPPING, 'Cancelled your /order dialog.', 'You have no dialog to cancel.']);
  });

  it('takes "/cancel" without the @mention in a room during a dialog, and ignores it from someone without one', async () => {
    const replies = await replay(
      [say(room, alice, '/order'), f.message({ stream: room, from: bob, content: '/cancel' }), f.message({ stream: room, from: alice, content: '/cancel' })],
      options,
    );
    expect(texts(replies)).toEqual([SIZE, 'Cancelled your /order dialog.']);
  });

  it('restarts when /order is sent again mid-dialog, and says so', async () => {
    const replies = await replay(
      [say(im, alice, '/order'), say(im, alice, 'L'), say(im, alice, '/order'), say(im, alice, 'S'), say(im, alice, 'ham'), say(im, alice, 'yes')],
      options,
    );
    expect(texts(replies)).toEqual([
      SIZE,
      TOPPING,
      'Restarting your /order dialog.',
      SIZE,
      TOPPING,
      'A S pizza with ham?',
      'Ordered: S ham (order #1)',
    ]);
  });
});

describe('timeout', () => {
  it('times out 10 minutes (event time) after the last answer: the next message is told and routed normally', async () => {
    const start = say(im, alice, '/order');
    f.advance(599_000); // the next event is 600_000 ms later: not yet past the timeout
    const inTime = say(im, alice, 'M');
    f.advance(599_001); // 600_001 ms later: past it
    const late = say(im, alice, 'ham');
    const after = say(im, alice, 'ham');
    const replies = await replay([start, inTime, late, after], options);
    expect(texts(replies)).toEqual([SIZE, TOPPING, 'Your /order dialog timed out.']);
  });

  it('lets a late command run as a command, beside the timeout notice', async () => {
    const start = say(room, alice, '/order');
    f.advance(3_600_000);
    const buy = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /buy 5 ', f.cashtag('AAPL')] });
    const replies = await replay([start, buy, say(room, alice, 'M')], withTrading);
    expect(texts(replies)[0]).toBe(SIZE);
    // two listeners' pipelines answer the late /buy concurrently: their order is not fixed
    expect(texts(replies).slice(1).sort()).toEqual(['Buying 5 AAPL for Alice Ng', 'Your /order dialog timed out.']);
  });

  it('says a late /order found the old dialog timed out, then starts afresh', async () => {
    const start = say(room, alice, '/order');
    f.advance(3_600_000);
    const replies = await replay([start, say(room, alice, '/order'), say(room, alice, 'M')], options);
    expect(texts(replies)).toEqual([SIZE, 'Your /order dialog timed out.', SIZE, TOPPING]);
  });

  it('takes a late answer that @mentions the bot for a mention, after the timeout notice', async () => {
    const start = say(room, alice, '/order');
    f.advance(3_600_000);
    const late = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' M'] });
    const replies = await replay([start, late], withTrading);
    expect(texts(replies)[0]).toBe(SIZE);
    expect(texts(replies).slice(1).sort()).toEqual(['Hi Alice Ng, try /help', 'Your /order dialog timed out.']);
  });
});

describe('several users and streams', () => {
  it('keeps two users of one room apart, their answers interleaved and without @mention', async () => {
    const replies = await replay(
      [
        say(room, alice, '/order'),
        say(room, bob, '/order'),
        say(room, alice, 'S'),
        say(room, bob, 'L'),
        say(room, bob, 'anchovies'),
        say(room, alice, 'ham'),
        say(room, alice, 'yes'),
        say(room, bob, 'no'),
      ],
      options,
    );
    expect(texts(replies)).toEqual([
      SIZE,
      SIZE,
      TOPPING,
      TOPPING,
      'A L pizza with anchovies?',
      'A S pizza with ham?',
      'Ordered: S ham (order #1)',
      'Cancelled.',
    ]);
  });

  it('does not take another user\'s message for an answer', async () => {
    const replies = await replay([say(room, alice, '/order'), say(room, bob, 'M'), say(room, bob, '/cancel')], options);
    expect(texts(replies)).toEqual([SIZE, 'You have no dialog to cancel.']);
  });

  it('runs one dialog per stream for the same user', async () => {
    const replies = await replay(
      [
        say(room, alice, '/order'),
        say(im, alice, '/order'),
        say(im, alice, 'S'),
        say(room, alice, 'L'),
        say(room, alice, 'ham'),
        say(im, alice, 'olives'),
        say(im, alice, '/cancel'),
        say(room, alice, 'yes'),
      ],
      options,
    );
    expect(textsIn(replies, room.streamId)).toEqual([SIZE, TOPPING, 'A L pizza with ham?', 'Ordered: L ham (order #1)']);
    expect(textsIn(replies, im.streamId)).toEqual([SIZE, TOPPING, 'A S pizza with olives?', 'Cancelled your /order dialog.']);
  });
});

describe('durable state', () => {
  it('continues after a restart: a new replay sharing only the store picks up where the last one stopped', async () => {
    const store = createMemoryStore();
    const first = await replay([say(room, alice, '/order'), say(room, alice, 'M'), say(room, bob, '/order')], { ...options, store });
    expect(texts(first)).toEqual([SIZE, TOPPING, SIZE]);

    const second = await replay(
      [say(room, alice, 'pepperoni'), say(room, bob, 'S'), say(room, alice, 'yes')],
      { ...options, store },
    );
    expect(texts(second)).toEqual([
      'A M pizza with pepperoni?',
      TOPPING,
      'Ordered: M pepperoni (order #1)',
    ]);

    const third = await replay([say(room, bob, 'ham'), say(room, bob, 'yes')], { ...options, store });
    expect(texts(third)).toEqual(['A S pizza with ham?', 'Ordered: S ham (order #2)']);
  });

  it('keeps the dialog under dialogStateKey while it waits, and removes it when it ends', async () => {
    const store = createMemoryStore();
    const key = dialogStateKey(im.streamId, alice.userId);
    await replay([say(im, alice, '/order'), say(im, alice, 'M')], { ...options, store });
    expect(await store.get(key)).toMatchObject({ pattern: '/order', answers: ['M'] });
    expect(await store.get(dialogStateKey(im.streamId, bob.userId))).toBeUndefined();
    await replay([say(im, alice, 'ham'), say(im, alice, 'yes')], { ...options, store });
    expect(await store.get(key)).toBeUndefined();
  });

  it('does not answer twice when the answer is delivered again after a restart', async () => {
    const store = createMemoryStore();
    const answer = say(im, alice, 'M');
    await replay([say(im, alice, '/order'), answer], { ...options, store });
    const again = await replay([answer, say(im, alice, 'ham')], { ...options, store });
    expect(texts(again)).toEqual(['A M pizza with ham?']);
  });
});

describe('alongside the rest of the listener', () => {
  it('still runs commands mid-dialog, which does not disturb it', async () => {
    const buy = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /buy 5 ', f.cashtag('AAPL')] });
    const replies = await replay(
      [say(room, alice, '/order'), buy, say(room, alice, 'S'), say(room, alice, '/help'), say(room, alice, 'ham')],
      withTrading,
    );
    const list = texts(replies);
    expect(list[0]).toBe(SIZE);
    expect(list[1]).toBe('Buying 5 AAPL for Alice Ng');
    expect(list[2]).toBe(TOPPING);
    expect(list[3]).toContain('/order - Order a pizza (mention required)');
    expect(list[4]).toBe('A S pizza with ham?');
  });

  it('lists /order and /cancel in /help', async () => {
    const replies = await replay([say(im, alice, '/help')], options);
    expect(texts(replies)).toEqual([
      [
        'Commands:',
        '/order - Order a pizza (mention not required)',
        '/cancel - Cancel your dialog in this conversation (mention not required)',
        '/help - List the commands (mention not required)',
      ].join('\n'),
    ]);
  });

  it('takes an answer that @mentions the bot as the answer only, not also as a mention', async () => {
    const replies = await replay(
      [
        say(room, alice, '/order'),
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' M'] }),
        f.message({ stream: room, from: bob, content: [f.mentionBot(), ' hello'] }),
        f.message({ stream: room, from: alice, content: ['ham ', f.mentionBot()] }),
      ],
      withTrading,
    );
    expect(texts(replies)).toEqual([SIZE, TOPPING, 'Hi Bob Stone, try /help', 'A M pizza with ham?']);
  });

  it('needs the @mention to start in a room, like any command there', async () => {
    const { replies, outcomes } = await runReplay([f.message({ stream: room, from: alice, content: '/order' })], options);
    expect(replies).toEqual([]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['handled']);
  });
});
