// An example listener: slash commands with typed arguments, a mention fallback, a room event and
// conversation state. This is the listener of the README, verbatim.
import { defineListener } from 'chorus';

export default defineListener({
  name: 'trading',
  setup(bot) {
    bot.command('/buy {quantity} {$ticker}', { description: 'Buy shares' }, async (ctx) => {
      // ctx.args.quantity: string, ctx.args.ticker: { text: '$AAPL', value: 'AAPL' }
      await ctx.reply(`Buying ${ctx.args.quantity} ${ctx.args.ticker.value} for ${ctx.user.displayName}`);
    });
    bot.mention(async (ctx) => ctx.reply(`Hi ${ctx.user.displayName}, try /help`));
    bot.on('USERJOINEDROOM', async (ctx) => ctx.reply(`Welcome ${ctx.event.affectedUser.displayName}`));
    bot.command('/count', { description: 'Count in this conversation' }, async (ctx) => {
      const n = await ctx.state.update((n: number | undefined) => (n ?? 0) + 1);
      await ctx.reply(`count=${n}`);
    });
  },
});
