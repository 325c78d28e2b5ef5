// An example listener: the rest-argument, mention and hashtag arguments, MessageML markup through `ml`,
// Symphony Elements form replies, and a pipeline composed with RxJS operators through `bot.use`.
import { concatMap, filter } from 'rxjs';
import { defineListener, mention, ml, ofType } from 'chorus';

export default defineListener({
  name: 'desk',
  setup(bot) {
    bot.command('/echo {...text}', { description: 'Repeat the text' }, (ctx) => ctx.reply(ctx.args.text));

    bot.command('/whois {@person}', { description: 'Say who someone is' }, (ctx) =>
      ctx.reply(ml`${mention(ctx.args.person.userId)} is <b>${ctx.args.person.displayName}</b>`),
    );

    bot.command('/topic {#tag}', { description: 'Set the topic of this conversation' }, async (ctx) => {
      await ctx.state.set({ topic: ctx.args.tag.value });
      await ctx.reply(ml`Topic set to <i>${ctx.args.tag.text}</i>`);
    });

    bot.on('SYMPHONYELEMENTSACTION', (ctx) =>
      ctx.reply(`Form ${ctx.event.formId} sent by ${ctx.user.displayName}: ${JSON.stringify(ctx.event.formValues)}`),
    );

    // Room life cycle through the stream API: one pipeline for several event types.
    bot.use(
      bot.events$.pipe(
        ofType('ROOMCREATED', 'ROOMDEACTIVATED', 'ROOMREACTIVATED'),
        concatMap((ctx) => ctx.reply(`Room event ${ctx.type.toLowerCase()} by ${ctx.user.displayName}`)),
      ),
    );

    // Any message tagged #urgent, with or without a mention of the bot.
    bot.use(
      bot.messages$.pipe(
        filter((ctx) => ctx.message.hashtags.some((tag) => tag.value === 'urgent')),
        concatMap((ctx) => ctx.reply(`Paging the desk for ${ctx.user.displayName}`)),
      ),
    );
  },
});
