// The end-to-end listener: the five commands and the mention handler of the dispatch workload, each replying
// once. The reply names the message it answers (`re:<messageId>`), so the bench can time it at the pod.
// Imported by path, not as 'chorus': bench/ has its own package.json, so the package self-reference does not
// resolve here.
import { defineListener } from '../../../src/index.ts';

export default defineListener({
  name: 'bench',
  setup(bot) {
    bot.command('/buy {quantity} {$ticker}', (ctx) => ctx.reply(`re:${ctx.message.messageId} bought ${ctx.args.quantity} ${ctx.args.ticker.value}`));
    bot.command('/sell {quantity} {$ticker}', (ctx) => ctx.reply(`re:${ctx.message.messageId} sold ${ctx.args.quantity} ${ctx.args.ticker.value}`));
    bot.command('/quote {$ticker}', (ctx) => ctx.reply(`re:${ctx.message.messageId} quote ${ctx.args.ticker.value}`));
    bot.command('/assign {@assignee} {...task}', (ctx) => ctx.reply(`re:${ctx.message.messageId} assigned to ${ctx.args.assignee.displayName}`));
    bot.command('/remind {when} {...what}', (ctx) => ctx.reply(`re:${ctx.message.messageId} reminder in ${ctx.args.when}`));
    bot.mention((ctx) => ctx.reply(`re:${ctx.message.messageId} hi ${ctx.user.displayName}`));
  },
});
