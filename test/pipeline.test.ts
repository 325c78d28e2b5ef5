/**
 * The event pipeline's guarantees, through the public API: routing rules, per-conversation order without
 * head-of-line blocking, listener failures, requeue, dedupe, and the stream API.
 */
import { Writable } from 'node:stream';
import { concatMap, filter, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { defineListener, ml, ofType, RequeueEvent, type ListenerModule } from '../src/index.ts';
import { createLogger } from '../src/logger.ts';
import { createEventFactory, runReplay } from '../src/testing/index.ts';
import { createMemorySource } from '../src/datafeed/memory-source.ts';
import { isChorusError } from '../src/errors.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const bob = f.user({ displayName: 'Bob Stone' });
const room = f.room({ roomName: 'Desk' });
const other = f.room({ roomName: 'Other' });
const im = f.im(alice);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function listener(name: string, setup: ListenerModule['setup']): ListenerModule {
  return defineListener({ name, setup });
}

const texts = (replies: readonly { text: string }[]) => replies.map((reply) => reply.text);

describe('routing', () => {
  const echo = listener('echo', (bot) => {
    bot.command('/say {...words}', (ctx) => ctx.reply(`said ${ctx.args.words}`));
    bot.command('/dm {word}', { requireMention: false }, (ctx) => ctx.reply(`dm ${ctx.args.word}`));
    bot.command('/strict', { requireMention: true }, (ctx) => ctx.reply('strict'));
    bot.mention(/^price of (\w+)$/i, (ctx) => ctx.reply(`price ${ctx.match?.[1] ?? ''}`));
    bot.mention((ctx) => ctx.reply(`mention: ${ctx.prompt}`));
  });

  it('needs the leading bot mention in a room, not in an IM; requireMention overrides both ways', async () => {
    const replies = await runReplay(
      [
        f.message({ stream: room, from: alice, content: '/say no mention' }),
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /say with mention'] }),
        f.message({ stream: room, from: alice, content: '/dm x' }),
        f.message({ stream: im, from: alice, content: '/say in an IM' }),
        f.message({ stream: im, from: alice, content: '/strict' }),
        f.message({ stream: im, from: alice, content: [f.mentionBot(), ' /strict'] }),
      ],
      { listeners: [echo], botUserId },
    );
    // the room and the IM are handled concurrently: compare per stream
    const byStream = (id: string) => texts(replies.replies.filter((reply) => reply.streamId === id));
    expect(byStream(room.streamId)).toEqual(['said with mention', 'dm x']);
    expect(byStream(im.streamId)).toEqual(['said in an IM', 'strict']);
    expect(replies.outcomes.every((outcome) => outcome.status === 'handled')).toBe(true);
  });

  it('gives mention handlers the messages that mention the bot and matched no command', async () => {
    const { replies } = await runReplay(
      [
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' price of AAPL'] }),
        f.message({ stream: room, from: alice, content: ['thanks ', f.mentionBot()] }),
        f.message({ stream: room, from: alice, content: '@Chorus Bot typed, not a mention entity' }),
        f.message({ stream: room, from: alice, content: [f.mention(bob), ' not the bot'] }),
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /say hi'] }),
      ],
      { listeners: [echo], botUserId },
    );
    expect(texts(replies)).toEqual(['price AAPL', 'mention: price of AAPL', 'mention: thanks', 'said hi']);
  });

  it('answers /help with every command, its description and its mention rule', async () => {
    const { replies } = await runReplay([f.message({ stream: im, from: alice, content: '/help' })], {
      listeners: [echo],
      botUserId,
    });
    expect(texts(replies)).toEqual([
      [
        'Commands:',
        '/say {...words} (mention not required)',
        '/dm {word} (mention not required)',
        '/strict (mention required)',
        '/help - List the commands (mention not required)',
      ].join('\n'),
    ]);
  });

  it('fails at start-up naming a bad pattern and its listener', async () => {
    const bad = listener('bad', (bot) => bot.command('/x {a} {a}', () => undefined));
    const err: unknown = await runReplay([], { listeners: [bad], botUserId }).catch((e: unknown) => e);
    expect(isChorusError(err, 'CHORUS_ERR_PATTERN_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/^listener bad: setup failed: .*\/x \{a\} \{a\}/);
  });

  it('refuses two listeners with one name', async () => {
    await expect(runReplay([], { listeners: [echo, echo], botUserId })).rejects.toThrow('two listeners are named echo');
  });
});

describe('ordering', () => {
  it('handles one stream in feed order while a slow stream blocks no other', async () => {
    const log: string[] = [];
    const slow = listener('slow', (bot) => {
      bot.command('/work {n}', { requireMention: false }, async (ctx) => {
        const n = Number(ctx.args.n);
        log.push(`start ${ctx.streamId === room.streamId ? 'room' : 'other'} ${n}`);
        // the room's events are slow and of decreasing length: any overlap would reorder them
        if (ctx.streamId === room.streamId) await sleep(60 - n * 10);
        log.push(`end ${ctx.streamId === room.streamId ? 'room' : 'other'} ${n}`);
      });
    });
    const feed = [1, 2, 3].flatMap((n) => [
      f.message({ stream: room, from: alice, content: `/work ${n}` }),
      f.message({ stream: other, from: bob, content: `/work ${n}` }),
    ]);
    await runReplay(feed, { listeners: [slow], botUserId });
    const roomLog = log.filter((line) => line.includes('room'));
    expect(roomLog).toEqual(['start room 1', 'end room 1', 'start room 2', 'end room 2', 'start room 3', 'end room 3']);
    // the other stream finished all three before the room's first (50 ms) event ended
    expect(log.indexOf('end other 3')).toBeLessThan(log.indexOf('end room 1'));
  });

  it('keeps state updates of one conversation in order under concurrency', async () => {
    const counter = listener('counter', (bot) => {
      bot.command('/count', { requireMention: false }, async (ctx) => {
        const n = await ctx.state.update((v: number | undefined) => (v ?? 0) + 1);
        await ctx.reply(`${n}`);
      });
    });
    const streams = [room, other, im];
    const feed = Array.from({ length: 90 }, (_, i) => f.message({ stream: streams[i % 3] ?? room, from: alice, content: '/count' }));
    const { replies } = await runReplay(feed, { listeners: [counter], botUserId });
    for (const stream of streams) {
      const values = replies.filter((reply) => reply.streamId === stream.streamId).map((reply) => Number(reply.text));
      expect(values).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    }
  });
});

describe('failures', () => {
  it('logs a throwing listener with the event context, dead-letters the event, and goes on', async () => {
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString('utf8'));
        callback();
      },
    });
    const thrower = listener('thrower', (bot) => bot.command('/boom', { requireMention: false }, () => {
      throw new Error('kaboom');
    }));
    const calm = listener('calm', (bot) => bot.on('MESSAGESENT', (ctx) => ctx.reply(`seen ${ctx.event.message.text}`)));
    const boom = f.message({ stream: room, from: alice, content: '/boom' });
    const report = await runReplay([boom, f.message({ stream: room, from: alice, content: 'after' })], {
      listeners: [thrower, calm],
      botUserId,
      log: createLogger({ destination }),
    });
    expect(texts(report.replies)).toEqual(['seen /boom', 'seen after']);
    expect(report.outcomes.map((outcome) => outcome.status)).toEqual(['failed', 'handled']);
    expect(report.deadLetters).toHaveLength(1);
    expect(report.deadLetters[0]?.wire).toBe(boom);
    expect(report.deadLetters[0]?.error.code).toBe('CHORUS_ERR_LISTENER_FAILED');
    const failure = chunks.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === 'listener failed');
    expect(failure).toMatchObject({
      level: 50,
      listener: 'thrower',
      eventId: boom.id,
      eventType: 'MESSAGESENT',
      streamId: room.streamId,
      err: { message: 'kaboom' },
    });
  });

  it('requeues an event on RequeueEvent: the batch is settled requeue and the event is not a duplicate later', async () => {
    let attempts = 0;
    const flaky = listener('flaky', (bot) => bot.command('/try', { requireMention: false }, async (ctx) => {
      attempts += 1;
      if (attempts === 1) throw new RequeueEvent('downstream not ready');
      await ctx.reply(`ok after ${attempts}`);
    }));
    const event = f.message({ stream: room, from: alice, content: '/try' });
    const source = createMemorySource([{ events: [event], ackId: 'a1' }, { events: [event], ackId: 'a2' }]);
    const report = await runReplay(source, { listeners: [flaky], botUserId });
    expect(report.outcomes.map((outcome) => outcome.status)).toEqual(['requeued', 'handled']);
    expect(source.outcomes).toEqual([
      { ackId: 'a1', outcome: 'requeue' },
      { ackId: 'a2', outcome: 'ack' },
    ]);
    expect(texts(report.replies)).toEqual(['ok after 2']);
    expect(report.deadLetters).toEqual([]);
  });

  it('drops redeliveries and the bot\'s own events; settles every batch, the empty one too', async () => {
    const all = listener('all', (bot) => bot.use(bot.events$.pipe(concatMap((ctx) => ctx.reply(ctx.type)))));
    const joined = f.userJoinedRoom({ stream: room, user: bob });
    const own = f.message({ stream: room, from: f.bot, content: 'from the bot' });
    const source = createMemorySource([{ events: [joined, own] }, { events: [] }, { events: [joined] }]);
    const report = await runReplay(source, { listeners: [all], botUserId });
    // outcomes come in completion order: the own event needs no turn of its conversation
    expect(report.outcomes.map((outcome) => outcome.status)).toEqual(['own', 'handled', 'duplicate']);
    expect(texts(report.replies)).toEqual(['USERJOINEDROOM']);
    expect(source.outcomes.map((outcome) => outcome.outcome)).toEqual(['ack', 'ack', 'ack']);
  });

  it('rejects a reply to an event without a stream with a clear error', async () => {
    const replier = listener('replier', (bot) => bot.on('CONNECTIONREQUESTED', (ctx) => ctx.reply('hello')));
    const report = await runReplay([f.connectionRequested({ from: alice })], { listeners: [replier], botUserId });
    expect(report.outcomes[0]?.status).toBe('failed');
    expect(report.outcomes[0]?.error?.cause).toMatchObject({ code: 'CHORUS_ERR_REPLY_INVALID' });
  });
});

describe('streams', () => {
  it('runs operator pipelines per event, typed by event type', async () => {
    const composed = listener('composed', (bot) => {
      bot.use(
        bot.events$.pipe(
          ofType('USERJOINEDROOM', 'USERLEFTROOM'),
          map((ctx) => `${ctx.type === 'USERJOINEDROOM' ? 'in' : 'out'}: ${ctx.event.affectedUser.displayName}`),
          concatMap((text) => ofReply(text)),
        ),
      );
      const replies: string[] = [];
      function ofReply(text: string): Promise<void> {
        replies.push(text);
        return Promise.resolve();
      }
      bot.use(
        bot.mentions$.pipe(
          filter((ctx) => ctx.command === undefined),
          concatMap((ctx) => ctx.reply(ml`<b>${replies.join(', ')}</b>`)),
        ),
      );
    });
    const { replies } = await runReplay(
      [
        f.userJoinedRoom({ stream: room, user: bob }),
        f.userLeftRoom({ stream: room, user: bob }),
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' who came and went?'] }),
      ],
      { listeners: [composed], botUserId },
    );
    expect(replies.map((reply) => reply.message)).toEqual(['<messageML><b>in: Bob Stone, out: Bob Stone</b></messageML>']);
  });

  it('errors a pipeline that subscribes the streams outside chorus', async () => {
    let seen: unknown;
    const eager = listener('eager', (bot) => {
      bot.events$.subscribe({ error: (err: unknown) => (seen = err) });
    });
    await runReplay([], { listeners: [eager], botUserId });
    expect(isChorusError(seen, 'CHORUS_ERR_LISTENER_INVALID')).toBe(true);
  });
});

describe('state', () => {
  it('gives each listener its own state of a conversation', async () => {
    const counter = (name: string) =>
      listener(name, (bot) =>
        bot.command(`/${name}`, { requireMention: false }, async (ctx) => {
          const n = await ctx.state.update((v: number | undefined) => (v ?? 0) + 1);
          await ctx.reply(`${name}=${n}`);
        }),
      );
    const { replies } = await runReplay(
      ['/a', '/b', '/a', '/a', '/b'].map((content) => f.message({ stream: im, from: alice, content })),
      { listeners: [counter('a'), counter('b')], botUserId },
    );
    expect(texts(replies)).toEqual(['a=1', 'b=1', 'a=2', 'a=3', 'b=2']);
  });

  it('treats a read response with null events as an empty batch', async () => {
    const report = await runReplay(
      [f.readResponse([f.message({ stream: im, from: alice, content: '/help' })]), { events: null, ackId: 'empty' }],
      { listeners: [], botUserId },
    );
    expect(report.outcomes.map((outcome) => outcome.status)).toEqual(['handled']);
    expect(report.replies).toHaveLength(1);
  });
});
