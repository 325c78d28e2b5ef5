import { describe, expect, it } from 'vitest';
import { createEventFactory, replay, type Reply } from 'chorus/testing';
import trading from './trading.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const bob = f.user({ displayName: 'Bob Stone' });
const room = f.room({ roomName: 'Trading desk' });
const otherRoom = f.room({ roomName: 'Rates desk' });
const im = f.im(alice);
const options = { listeners: [trading], botUserId };

const texts = (replies: readonly Reply[]) => replies.map((reply) => reply.text);
const textsIn = (replies: readonly Reply[], streamId: string) =>
  texts(replies.filter((reply) => reply.streamId === streamId));

describe('/buy {quantity} {$ticker}', () => {
  it('buys with a cashtag entity when the bot is mentioned first in a room', async () => {
    const replies = await replay(
      [f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /buy 100 ', f.cashtag('AAPL')] })],
      options,
    );
    expect(replies).toEqual([
      {
        streamId: room.streamId,
        message: '<messageML>Buying 100 AAPL for Alice Ng</messageML>',
        inReplyTo: { eventId: expect.any(String) as unknown, type: 'MESSAGESENT' },
        text: 'Buying 100 AAPL for Alice Ng',
      },
    ]);
  });

  it('does not take a typed "$AAPL" for a cashtag: the mention fallback answers instead', async () => {
    const replies = await replay(
      [
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /buy 100 $AAPL'] }),
        f.message({ stream: im, from: alice, content: '/buy 100 $AAPL' }),
      ],
      options,
    );
    expect(textsIn(replies, room.streamId)).toEqual(['Hi Alice Ng, try /help']);
    expect(textsIn(replies, im.streamId)).toEqual([]);
  });

  it('needs the leading @mention of the bot in a room but not in an IM', async () => {
    const replies = await replay(
      [
        f.message({ stream: room, from: alice, content: ['/buy 5 ', f.cashtag('MSFT')] }),
        f.message({ stream: room, from: alice, content: ['/buy 6 ', f.cashtag('MSFT'), ' ', f.mentionBot()] }),
        f.message({ stream: im, from: alice, content: ['/buy 7 ', f.cashtag('MSFT')] }),
        f.message({ stream: im, from: alice, content: [f.mentionBot(), ' /buy 8 ', f.cashtag('MSFT')] }),
      ],
      options,
    );
    // Not leading, the mention makes the message a mention, not a command.
    expect(textsIn(replies, room.streamId)).toEqual(['Hi Alice Ng, try /help']);
    expect(textsIn(replies, im.streamId)).toEqual(['Buying 7 MSFT for Alice Ng', 'Buying 8 MSFT for Alice Ng']);
  });

  it('ignores a /buy with a missing or an extra token', async () => {
    const replies = await replay(
      [
        f.message({ stream: im, from: alice, content: ['/buy ', f.cashtag('AAPL')] }),
        f.message({ stream: im, from: alice, content: ['/buy 1 ', f.cashtag('AAPL'), ' now'] }),
      ],
      options,
    );
    expect(replies).toEqual([]);
  });
});

describe('mention fallback', () => {
  it('answers a mention of the bot that is no command', async () => {
    const replies = await replay(
      [f.message({ stream: room, from: bob, content: ['thanks ', f.mentionBot(), ' for the fill'] })],
      options,
    );
    expect(texts(replies)).toEqual(['Hi Bob Stone, try /help']);
  });

  it('does not answer typed "@Chorus Bot" without a mention entity, nor a mention of someone else', async () => {
    const replies = await replay(
      [
        f.message({ stream: room, from: bob, content: '@Chorus Bot hello' }),
        f.message({ stream: im, from: alice, content: '@Chorus Bot hello' }),
        f.message({ stream: room, from: bob, content: [f.mention(alice), ' hello'] }),
      ],
      options,
    );
    expect(replies).toEqual([]);
  });
});

describe('USERJOINEDROOM', () => {
  it('welcomes the user who joined, a display name with markup arriving escaped', async () => {
    const eve = f.user({ displayName: 'Eve <script>alert(1)</script>' });
    const replies = await replay([f.userJoinedRoom({ stream: room, user: eve, by: alice })], options);
    expect(replies.map(({ streamId, message, text }) => ({ streamId, message, text }))).toEqual([
      {
        streamId: room.streamId,
        message: '<messageML>Welcome Eve &lt;script&gt;alert(1)&lt;/script&gt;</messageML>',
        text: 'Welcome Eve <script>alert(1)</script>',
      },
    ]);
  });

  it('does not answer other membership events', async () => {
    const replies = await replay(
      [
        f.userLeftRoom({ stream: room, user: bob }),
        f.roomMemberPromotedToOwner({ stream: room, user: bob, by: alice }),
      ],
      options,
    );
    expect(replies).toEqual([]);
  });
});

describe('/count', () => {
  it('counts per conversation: two streams count independently', async () => {
    const count = (stream: typeof room) => f.message({ stream, from: alice, content: [f.mentionBot(), ' /count'] });
    const feed = [count(room), count(otherRoom), count(room), count(im), count(room), count(otherRoom)];
    const replies = await replay(feed, options);
    expect(textsIn(replies, room.streamId)).toEqual(['count=1', 'count=2', 'count=3']);
    expect(textsIn(replies, otherRoom.streamId)).toEqual(['count=1', 'count=2']);
    expect(textsIn(replies, im.streamId)).toEqual(['count=1']);
  });

  it('keeps feed order within a conversation', async () => {
    const replies = await replay(
      [
        f.message({ stream: im, from: alice, content: '/count' }),
        f.message({ stream: im, from: alice, content: ['/buy 1 ', f.cashtag('AAPL')] }),
        f.message({ stream: im, from: alice, content: '/count' }),
        f.message({ stream: im, from: alice, content: [f.mentionBot(), ' ping'] }),
        f.message({ stream: im, from: alice, content: '/count' }),
      ],
      options,
    );
    expect(texts(replies)).toEqual([
      'count=1',
      'Buying 1 AAPL for Alice Ng',
      'count=2',
      'Hi Alice Ng, try /help',
      'count=3',
    ]);
  });

  it('does not count a /count in a room without the leading mention', async () => {
    const replies = await replay(
      [
        f.message({ stream: room, from: alice, content: '/count' }),
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /count'] }),
      ],
      options,
    );
    expect(texts(replies)).toEqual(['count=1']);
  });
});

describe('/help', () => {
  it('lists every command with its description and mention rule for the stream', async () => {
    const replies = await replay(
      [
        f.message({ stream: im, from: alice, content: '/help' }),
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /help'] }),
      ],
      options,
    );
    const listing = (rule: string) => [
      'Commands:',
      `/buy {quantity} {$ticker} - Buy shares (${rule})`,
      `/count - Count in this conversation (${rule})`,
      `/help - List the commands (${rule})`,
    ];
    expect(textsIn(replies, im.streamId)).toEqual([listing('mention not required').join('\n')]);
    expect(textsIn(replies, room.streamId)).toEqual([listing('mention required').join('\n')]);
  });
});
