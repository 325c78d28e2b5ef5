import { Writable } from 'node:stream';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { isChorusError, RequeueEvent } from '../errors.ts';
import type { Mention } from '../events/event.ts';
import { createLogger } from '../logger.ts';
import { ml } from '../reply/messageml.ts';
import { createMemoryStore } from '../state/memory-store.ts';
import { createEventFactory } from '../testing/factories.ts';
import { runReplay, type Reply } from '../testing/replay.ts';
import type { Dialog } from './dialog.ts';
import { dialogStateKey, userStateKey } from './event-context.ts';
import { defineListener, type Bot, type ListenerModule } from './listener.ts';

const botUserId = '7000000000001';
const f = createEventFactory({ bot: { userId: botUserId, displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });
const bob = f.user({ displayName: 'Bob Stone' });
const im = f.im(alice);
const room = f.room({ roomName: 'Ops' });

const say = (text: string, from = alice) => f.message({ stream: im, from, content: text });
const texts = (replies: readonly Reply[]) => replies.map((reply) => reply.text);
const listener = (setup: (bot: Bot) => void, name = 'test'): ListenerModule => defineListener({ name, setup });
const run = (feed: readonly unknown[], listeners: readonly ListenerModule[], store = createMemoryStore()) =>
  runReplay(feed, { listeners, botUserId, store });

/** A logger that keeps its JSON lines, and the entries logged as "dialog failed and was ended". */
function captureLog() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  const failures = () =>
    lines
      .map((line) => JSON.parse(line) as { msg?: string; err?: { code?: string; message?: string } })
      .filter((entry) => entry.msg === 'dialog failed and was ended');
  return { log: createLogger({ destination }), failures };
}

describe('replay', () => {
  it('sends each reply and question once, however often the function runs again', async () => {
    let runs = 0;
    const chat = listener((bot) =>
      bot.dialog('/chat', async (d) => {
        runs += 1;
        await d.reply('hello');
        const a = await d.ask('first?');
        await d.reply(`got ${a}`);
        const b = await d.ask('second?');
        await d.reply(`got ${a} and ${b}`);
      }),
    );
    const { replies } = await run([say('/chat'), say('one'), say('two')], [chat]);
    expect(texts(replies)).toEqual(['hello', 'first?', 'got one', 'second?', 'got one and two']);
    expect(runs).toBe(3);
  });

  it('runs d.once once and returns its recorded result on replays', async () => {
    let calls = 0;
    const once = listener((bot) =>
      bot.dialog('/once', async (d) => {
        const ticket = await d.once(() => {
          calls += 1;
          return { ticket: 100 + calls };
        });
        await d.ask('name?');
        await d.reply(`ticket ${ticket.ticket}`);
      }),
    );
    const { replies } = await run([say('/once'), say('Alice')], [once]);
    expect(texts(replies)).toEqual(['name?', 'ticket 101']);
    expect(calls).toBe(1);
  });

  it('never runs the author\'s catch or finally blocks while the dialog waits', async () => {
    const seen: string[] = [];
    const guarded = listener((bot) =>
      bot.dialog('/guarded', async (d) => {
        try {
          await d.ask('a?');
          await d.ask('b?');
        } catch (err) {
          seen.push(`catch ${String(err)}`);
        } finally {
          seen.push('finally');
        }
      }),
    );
    const { replies } = await run([say('/guarded'), say('1'), say('2')], [guarded]);
    expect(texts(replies)).toEqual(['a?', 'b?']);
    expect(seen).toEqual(['finally']);
  });

  it('re-asks an empty answer to a free-text question, and accepts MessageML questions', async () => {
    const note = listener((bot) =>
      bot.dialog('/note', async (d) => {
        const text = await d.ask(ml`<b>Your note?</b>`, { reprompt: 'Say something.' });
        await d.reply(`noted: ${text}`);
      }),
    );
    const empty = f.message({ stream: room, from: alice, content: [f.mentionBot()] });
    const { replies } = await run(
      [f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /note'] }), empty, f.message({ stream: room, from: alice, content: ' buy   milk ' })],
      [note],
    );
    expect(replies.map((reply) => reply.message)).toEqual([
      '<messageML><b>Your note?</b></messageML>',
      '<messageML>Say something.<br/><b>Your note?</b></messageML>',
      '<messageML>noted: buy milk</messageML>',
    ]);
  });

  it('keeps the start command\'s arguments for every turn, typed from the pattern', async () => {
    const pay = listener((bot) =>
      bot.dialog('/pay {amount} {@to}', async (d) => {
        expectTypeOf(d.args).toEqualTypeOf<{ amount: string; to: Mention }>();
        if (await d.confirm(`Pay ${d.args.amount} to ${d.args.to.displayName}?`)) await d.reply(`Paid ${d.args.to.userId}`);
      }),
    );
    const start = f.message({ stream: im, from: alice, content: ['/pay 20 ', f.mention(bob)] });
    const { replies } = await run([start, say('yes')], [pay]);
    expect(texts(replies)).toEqual(['Pay 20 to Bob Stone?', `Paid ${bob.userId}`]);
  });
});

describe('state', () => {
  it('keeps the dialog under the user\'s dialog key of the stream, apart from the listener\'s userState, until it ends', async () => {
    const store = createMemoryStore();
    const survey = listener((bot) => {
      bot.command('/remember', async (ctx) => ctx.userState.set('mine'));
      bot.dialog('/survey', async (d) => {
        await d.ask('q1?');
        await d.ask('q2?');
      });
    }, 'survey');
    const key = dialogStateKey(im.streamId, alice.userId);
    await run([say('/remember'), say('/survey'), say('one')], [survey], store);
    expect(await store.get(key)).toMatchObject({ listener: 'survey', pattern: '/survey', name: '/survey', answers: ['one'], sent: 2 });
    expect(await store.get(userStateKey('survey', im.streamId, alice.userId))).toBe('mine');
    await run([say('two')], [survey], store);
    expect(await store.get(key)).toBeUndefined();
  });

  it('resumes rather than restarts when the start command is delivered again after a restart', async () => {
    const store = createMemoryStore();
    const quiz = listener((bot) => bot.dialog('/quiz', async (d) => d.reply(`you said ${await d.ask('q?')}`)));
    const start = say('/quiz');
    expect(texts((await run([start], [quiz], store)).replies)).toEqual(['q?']);
    expect(texts((await run([start, say('a')], [quiz], store)).replies)).toEqual(['you said a']);
  });

  it('ignores a stored value that is not a dialog', async () => {
    const store = createMemoryStore();
    await store.set(dialogStateKey(im.streamId, alice.userId), { dialog: 'something else' });
    const echo = listener((bot) => {
      bot.dialog('/x', (d) => d.ask('x?'));
      bot.mention((ctx) => ctx.reply('mention'));
    });
    const { replies } = await run([say('hello'), say('/cancel')], [echo], store);
    expect(texts(replies)).toEqual(['You have no dialog to cancel.']);
  });
});

describe('failures', () => {
  it('ends a dialog whose questions change on replay, logging CHORUS_ERR_DIALOG_REPLAY, and tells the user', async () => {
    const store = createMemoryStore();
    const capture = captureLog();
    let clock = 0;
    const flaky = listener((bot) =>
      bot.dialog('/flaky', async (d) => {
        clock += 1;
        await d.ask(`question at ${clock}?`); // depends on something other than the answers
        await d.ask('next?');
      }),
    );
    const { replies, outcomes } = await runReplay([say('/flaky'), say('A'), say('B')], {
      listeners: [flaky],
      botUserId,
      store,
      log: capture.log,
    });
    // the answer to "question at 1?" is not taken for "question at 2?"; "B" then finds no dialog
    expect(texts(replies)).toEqual(['question at 1?', 'Sorry, your /flaky dialog failed and has ended.']);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['handled', 'handled', 'handled']);
    expect(capture.failures()).toMatchObject([{ listener: 'test', dialog: '/flaky', err: { code: 'CHORUS_ERR_DIALOG_REPLAY' } }]);
    expect(await store.get(dialogStateKey(im.streamId, alice.userId))).toBeUndefined();
  });

  it('also when the function returns before the question it was waiting on', async () => {
    const capture = captureLog();
    let skip = false;
    const branchy = listener((bot) =>
      bot.dialog('/branchy', async (d) => {
        if (skip) return;
        skip = true;
        await d.ask('a?');
      }),
    );
    const { replies } = await runReplay([say('/branchy'), say('answer')], { listeners: [branchy], botUserId, log: capture.log });
    expect(texts(replies)).toEqual(['a?', 'Sorry, your /branchy dialog failed and has ended.']);
    expect(capture.failures()).toMatchObject([{ err: { code: 'CHORUS_ERR_DIALOG_REPLAY' } }]);
  });

  it('ends a dialog whose function throws, logs the error, and frees the user', async () => {
    const capture = captureLog();
    const broken = listener((bot) =>
      bot.dialog('/broken', async (d) => {
        const a = await d.ask('a?');
        if (a === 'boom') throw new Error('boom');
        await d.reply('fine');
      }),
    );
    const { replies, outcomes } = await runReplay([say('/broken'), say('boom'), say('again'), say('/broken'), say('ok')], {
      listeners: [broken],
      botUserId,
      log: capture.log,
    });
    expect(texts(replies)).toEqual(['a?', 'Sorry, your /broken dialog failed and has ended.', 'a?', 'fine']);
    // handled: a failed event would be tried again by the durable inbox, its ending of the dialog dropped
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['handled', 'handled', 'handled', 'handled', 'handled']);
    expect(capture.failures()).toMatchObject([{ err: { message: 'boom' } }]);
  });

  it('keeps the dialog and fails the event when the function asks for it again (RequeueEvent)', async () => {
    const store = createMemoryStore();
    let down = true;
    const later = listener((bot) =>
      bot.dialog('/later', async (d) => {
        const a = await d.ask('a?');
        if (down) throw new RequeueEvent('service down');
        await d.reply(`done ${a}`);
      }),
    );
    const answer = say('x');
    const first = await run([say('/later'), answer], [later], store);
    expect(first.outcomes.map((outcome) => outcome.status)).toEqual(['handled', 'requeued']);
    expect(texts(first.replies)).toEqual(['a?']);
    down = false;
    const second = await run([answer], [later], store);
    expect(texts(second.replies)).toEqual(['done x']);
  });

  it('ends a dialog that passes unusable choices, logging CHORUS_ERR_DIALOG_INVALID', async () => {
    const capture = captureLog();
    const bad = listener((bot) => bot.dialog('/bad', (d) => d.ask('pick', { choices: ['a', 'A'] })));
    const { replies } = await runReplay([say('/bad')], { listeners: [bad], botUserId, log: capture.log });
    expect(texts(replies)).toEqual(['Sorry, your /bad dialog failed and has ended.']);
    expect(capture.failures()).toMatchObject([{ err: { code: 'CHORUS_ERR_DIALOG_INVALID' } }]);
  });
});

describe('several listeners', () => {
  const a = listener((bot) => {
    bot.dialog('/a', async (d) => d.reply(`a: ${await d.ask('a?')}`));
    bot.mention((ctx) => ctx.reply('a mention'));
  }, 'a');
  const b = listener((bot) => {
    bot.dialog('/b', { timeoutMs: 5_000 }, async (d) => d.reply(`b: ${await d.ask('b?')}`));
    bot.mention((ctx) => ctx.reply('b mention'));
  }, 'b');

  it('gives a user one dialog per stream: starting another listener\'s ends the first', async () => {
    const { replies } = await run([say('/a'), say('/b'), say('x'), say('y')], [a, b]);
    expect(texts(replies)).toEqual(['a?', 'Cancelled your /a dialog.', 'b?', 'b: x']);
  });

  it('registers /cancel once, and keeps every listener\'s mention fallback off answers', async () => {
    const { replies } = await run(
      [
        f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /b'] }),
        f.message({ stream: room, from: alice, content: ['y ', f.mentionBot()] }),
        f.message({ stream: room, from: bob, content: [f.mentionBot(), ' /help'] }),
      ],
      [a, b],
    );
    expect(texts(replies).slice(0, 2)).toEqual(['b?', 'b: y']);
    expect(texts(replies)[2]?.match(/\/cancel/g)).toHaveLength(1);
  });

  it('uses each dialog\'s own timeout', async () => {
    const start = say('/b');
    f.advance(5_000);
    const { replies } = await run([start, say('late')], [a, b]);
    expect(texts(replies)).toEqual(['b?', 'Your /b dialog timed out.']);
  });
});

describe('registration', () => {
  const setupError = async (setup: (bot: Bot) => void): Promise<unknown> => {
    try {
      await run([], [listener(setup)]);
    } catch (err) {
      return err;
    }
    throw new Error('expected the listener to be refused');
  };

  it('reserves /cancel for dialogs, in either order', async () => {
    const after = await setupError((bot) => {
      bot.dialog('/x', (d) => d.ask('x?'));
      bot.command('/cancel', () => undefined);
    });
    expect(isChorusError(after, 'CHORUS_ERR_LISTENER_INVALID')).toBe(true);
    const before = await setupError((bot) => {
      bot.command('/cancel', () => undefined);
      bot.dialog('/x', (d) => d.ask('x?'));
    });
    expect(isChorusError(before, 'CHORUS_ERR_LISTENER_INVALID')).toBe(true);
    // a /cancel that takes arguments is another command
    const { replies } = await run([say('/cancel 42')], [
      listener((bot) => {
        bot.dialog('/x', (d) => d.ask('x?'));
        bot.command('/cancel {order}', (ctx) => ctx.reply(`order ${ctx.args.order} cancelled`));
      }),
    ]);
    expect(texts(replies)).toEqual(['order 42 cancelled']);
  });

  it('refuses a bad timeout, a repeated pattern, a /cancel dialog and a missing function', async () => {
    const errors = [
      await setupError((bot) => bot.dialog('/x', { timeoutMs: 0 }, (d) => d.ask('x?'))),
      await setupError((bot) => {
        bot.dialog('/x', (d) => d.ask('x?'));
        bot.dialog('/x', (d) => d.ask('y?'));
      }),
      await setupError((bot) => bot.dialog('/cancel', (d) => d.ask('x?'))),
      await setupError((bot) => (bot.dialog as (pattern: string) => void)('/x')),
    ];
    expect(errors.every((err) => isChorusError(err, 'CHORUS_ERR_LISTENER_INVALID'))).toBe(true);
    expect(isChorusError(await setupError((bot) => bot.dialog('/x {', (d) => d.ask('x?'))), 'CHORUS_ERR_PATTERN_INVALID')).toBe(true);
  });

  it('types answers: choices as their literals, confirm as boolean, free text as string', () => {
    expectTypeOf<Dialog['ask']>().toBeFunction();
    const check = async (d: Dialog) => {
      expectTypeOf(await d.ask('size', { choices: ['S', 'M', 'L'] })).toEqualTypeOf<'S' | 'M' | 'L'>();
      expectTypeOf(await d.ask('topping')).toEqualTypeOf<string>();
      expectTypeOf(await d.confirm('sure?')).toEqualTypeOf<boolean>();
      expectTypeOf(await d.once(() => ({ ticket: 1 }))).toEqualTypeOf<{ ticket: number }>();
    };
    expect(typeof check).toBe('function');
  });
});
