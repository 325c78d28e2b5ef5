import { describe, expect, it } from 'vitest';
import { defineListener } from 'chorus';
import { conversationStateKey, createEventFactory, createMemoryStore, replay, type Reply } from 'chorus/testing';
import desk from './desk.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const bob = f.user({ displayName: 'Bob Stone' });
const room = f.room({ roomName: 'Trading desk' });
const otherRoom = f.room({ roomName: 'Rates desk' });
const im = f.im(alice);
const options = { listeners: [desk], botUserId };

const texts = (replies: readonly Reply[]) => replies.map((reply) => reply.text);
const messages = (replies: readonly Reply[]) => replies.map((reply) => reply.message);

describe('/echo {...text}', () => {
  it('repeats the rest of the message, runs of spaces collapsed to one, markup as text', async () => {
    const echo = f.message({ stream: im, from: alice, content: '/echo hello   <world> &  co' });
    const replies = await replay([echo], options);
    expect(texts(replies)).toEqual(['hello <world> & co']);
    expect(messages(replies)).toEqual(['<messageML>hello &lt;world&gt; &amp; co</messageML>']);
  });

  it('keeps entities of the rest as their text', async () => {
    const replies = await replay(
      [
        f.message({
          stream: room,
          from: alice,
          content: [f.mentionBot(), ' /echo buy ', f.cashtag('AAPL'), ' ', f.hashtag('rates')],
        }),
      ],
      options,
    );
    expect(texts(replies)).toEqual(['buy $AAPL #rates']);
  });

  it('needs at least one word, and the leading mention in a room', async () => {
    const replies = await replay(
      [
        f.message({ stream: im, from: alice, content: '/echo   ' }),
        f.message({ stream: room, from: alice, content: '/echo not addressed' }),
        f.message({ stream: room, from: alice, content: ['/echo mention not leading ', f.mentionBot()] }),
      ],
      options,
    );
    expect(replies).toEqual([]);
  });
});

describe('/whois {@person}', () => {
  it('renders the mentioned user as <mention uid="…"/> and the display name in bold, escaped', async () => {
    const eve = f.user({ displayName: 'Eve <i>' });
    const replies = await replay(
      [
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /whois ', f.mention(bob)] }),
        f.message({ stream: im, from: alice, content: ['/whois ', f.mention(eve)] }),
      ],
      options,
    );
    expect(replies.map(({ streamId, message, text }) => ({ streamId, message, text }))).toEqual([
      {
        streamId: room.streamId,
        message: `<messageML><mention uid="${bob.userId}"/> is <b>Bob Stone</b></messageML>`,
        text: `@${bob.userId} is Bob Stone`,
      },
      {
        streamId: im.streamId,
        message: `<messageML><mention uid="${eve.userId}"/> is <b>Eve &lt;i&gt;</b></messageML>`,
        text: `@${eve.userId} is Eve <i>`,
      },
    ]);
  });

  it('does not take a typed "@Bob Stone" for a mention', async () => {
    const replies = await replay([f.message({ stream: im, from: alice, content: '/whois @Bob Stone' })], options);
    expect(replies).toEqual([]);
  });
});

describe('/topic {#tag}', () => {
  const topic = (stream: typeof room, tag: string) =>
    f.message({ stream, from: alice, content: [f.mentionBot(), ' /topic ', f.hashtag(tag)] });

  it('stores the topic in the conversation state and confirms it in italics', async () => {
    const store = createMemoryStore();
    const replies = await replay([topic(room, 'rates')], { ...options, store });
    expect(texts(replies)).toEqual(['Topic set to #rates']);
    expect(messages(replies)).toEqual(['<messageML>Topic set to <i>&#35;rates</i></messageML>']);
    expect(await store.get(conversationStateKey('desk', room.streamId))).toEqual({ topic: 'rates' });
    expect(await store.get(conversationStateKey('desk', otherRoom.streamId))).toBeUndefined();
  });

  it('keeps the topic for a later replay that shares the store, out of other listeners\' sight', async () => {
    const store = createMemoryStore();
    await replay([topic(room, 'rates'), topic(otherRoom, 'fx')], { ...options, store });
    const probe = defineListener({
      name: 'probe',
      setup(bot) {
        bot.command('/state', async (ctx) => ctx.reply(JSON.stringify((await ctx.state.get()) ?? null)));
      },
    });
    const ask = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /state'] });
    // another listener has its own state of the same conversation
    expect(texts(await replay([ask], { listeners: [desk, probe], botUserId, store }))).toEqual(['null']);

    await replay([topic(room, 'credit')], { ...options, store });
    expect(await store.get(conversationStateKey('desk', room.streamId))).toEqual({ topic: 'credit' });
    expect(await store.get(conversationStateKey('desk', otherRoom.streamId))).toEqual({ topic: 'fx' });
  });
});

describe('SYMPHONYELEMENTSACTION', () => {
  it('answers a form submission with the form id, the user and the values as JSON', async () => {
    const replies = await replay(
      [
        f.elementsAction({
          stream: room,
          from: alice,
          formId: 'order-form',
          action: 'submit',
          values: { quantity: '10' },
        }),
      ],
      options,
    );
    expect(texts(replies)).toEqual(['Form order-form sent by Alice Ng: {"action":"submit","quantity":"10"}']);
    expect(messages(replies)).toEqual([
      '<messageML>Form order-form sent by Alice Ng: ' +
        '&#123;&quot;action&quot;:&quot;submit&quot;,&quot;quantity&quot;:&quot;10&quot;}</messageML>',
    ]);
    expect(replies[0]?.streamId).toBe(room.streamId);
  });
});

describe('room life cycle pipeline', () => {
  it('answers ROOMCREATED, ROOMDEACTIVATED and ROOMREACTIVATED in feed order, with who did it', async () => {
    const replies = await replay(
      [
        f.roomCreated({ stream: room, by: alice }),
        f.roomUpdated({ stream: room, by: alice, properties: { description: 'Orders' } }),
        f.roomDeactivated({ stream: room, by: alice }),
        f.userJoinedRoom({ stream: room, user: bob }),
        f.roomReactivated({ stream: room, by: bob }),
      ],
      options,
    );
    expect(texts(replies)).toEqual([
      'Room event roomcreated by Alice Ng',
      'Room event roomdeactivated by Alice Ng',
      'Room event roomreactivated by Bob Stone',
    ]);
    expect(replies.every((reply) => reply.streamId === room.streamId)).toBe(true);
  });
});

describe('#urgent pipeline', () => {
  it('pages the desk for a message with an #urgent hashtag entity, mention or not', async () => {
    const replies = await replay(
      [
        f.message({ stream: room, from: bob, content: ['need a hand ', f.hashtag('urgent')] }),
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' ', f.hashtag('urgent'), ' now'] }),
      ],
      options,
    );
    expect(texts(replies)).toEqual(['Paging the desk for Bob Stone', 'Paging the desk for Alice Ng']);
  });

  it('does not page for a typed "#urgent", another hashtag or an $urgent cashtag', async () => {
    const replies = await replay(
      [
        f.message({ stream: room, from: bob, content: 'need a hand #urgent' }),
        f.message({ stream: room, from: bob, content: ['need a hand ', f.hashtag('rates')] }),
        f.message({ stream: room, from: bob, content: ['need a hand ', f.cashtag('urgent')] }),
      ],
      options,
    );
    expect(replies).toEqual([]);
  });

  it('pages alongside a command that takes the #urgent hashtag', async () => {
    const topic = f.message({ stream: room, from: bob, content: [f.mentionBot(), ' /topic ', f.hashtag('urgent')] });
    const replies = await replay([topic], options);
    expect(texts(replies).sort()).toEqual(['Paging the desk for Bob Stone', 'Topic set to #urgent']);
  });
});
