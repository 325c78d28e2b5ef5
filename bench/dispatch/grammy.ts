/**
 * grammY: `bot.handleUpdate(update)` for each Telegram Update, awaited one after another as grammY's own
 * long polling does (`handleUpdates`: "handle updates sequentially"). Five `bot.command` handlers and a mention
 * handler (a `mention` entity naming the bot, the grammY filter-query way). `botInfo` is given, so nothing
 * goes to the network.
 */
import { Bot } from 'grammy';
import { createHandlerWork, runDispatch, splitFirst } from '../lib/child.ts';
import { TELEGRAM_BOT } from '../lib/workload.ts';

const work = createHandlerWork();
const botMention = `@${TELEGRAM_BOT.username}`;

await runDispatch({
  name: 'grammY',
  platform: 'telegram',
  work,
  async setup() {
    const bot = new Bot('7000000001:AAbenchbenchbenchbenchbenchbenchbench', {
      botInfo: {
        id: TELEGRAM_BOT.id,
        is_bot: true,
        first_name: TELEGRAM_BOT.firstName,
        username: TELEGRAM_BOT.username,
        can_join_groups: true,
        can_read_all_group_messages: true,
        supports_inline_queries: false,
        can_connect_to_business: false,
        has_main_web_app: false,
      } as ConstructorParameters<typeof Bot>[1] extends infer O ? O extends { botInfo?: infer B } ? B : never : never,
    });
    bot.command('buy', (ctx) => work.command('/buy', ...splitFirst(ctx.match)));
    bot.command('sell', (ctx) => work.command('/sell', ...splitFirst(ctx.match)));
    bot.command('quote', (ctx) => work.command('/quote', ctx.match, ''));
    bot.command('assign', (ctx) => work.command('/assign', ...splitFirst(ctx.match)));
    bot.command('remind', (ctx) => work.command('/remind', ...splitFirst(ctx.match)));
    bot
      .on('message:entities:mention')
      .filter((ctx) => ctx.entities('mention').some((entity) => entity.text === botMention), (ctx) => work.mention(ctx.msg.text));
    return async (lines) => {
      for (const line of lines) await bot.handleUpdate(JSON.parse(line));
    };
  },
});
