// An example listener: a dialog (a multi-turn conversation with one user in one stream) written as one async
// function, with typed choices, a yes/no confirmation and a side effect done once. The README's dialog.
import { defineListener } from 'chorus';

export default defineListener({
  name: 'pizza',
  setup(bot) {
    bot.dialog('/order', { description: 'Order a pizza', timeoutMs: 600_000 }, async (d) => {
      const size = await d.ask('What size? S, M or L', { choices: ['S', 'M', 'L'] }); // 'S' | 'M' | 'L'
      const topping = await d.ask('Which topping?'); // string
      if (!(await d.confirm(`A ${size} pizza with ${topping}?`))) return d.reply('Cancelled.');
      // Runs once: later replays of this dialog get the recorded number instead of counting again.
      const orderNo = await d.once(() => d.ctx.state.update((n: number | undefined) => (n ?? 0) + 1));
      await d.reply(`Ordered: ${size} ${topping} (order #${orderNo})`);
    });
  },
});
