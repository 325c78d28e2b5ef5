/**
 * The built-in `/help` command (BDK `HelpCommand`, reference §4.4): lists every command's pattern and
 * description, with whether it needs an @mention of the bot.
 */
import { ml, type MessageML } from '../reply/messageml.ts';
import type { CommandEntry } from './command-router.ts';
import type { Bot } from './listener.ts';

/**
 * The help text: one list item per command, `pattern - description (mention required|not required)`, the
 * mention requirement as it applies in a stream of `streamType`.
 */
export function renderHelp(entries: readonly CommandEntry[], streamType: string): MessageML {
  const items = entries.map((entry) => {
    const needsMention = entry.options.requireMention ?? streamType !== 'IM';
    const needs = needsMention ? ' (mention required)' : ' (mention not required)';
    const description = entry.options.description === undefined ? '' : ` - ${entry.options.description}`;
    return ml`<li>${entry.pattern.source}${description}${needs}</li>`;
  });
  return ml`<p>Commands:</p><ul>${items}</ul>`;
}

/**
 * Registers `/help` on `bot` unless a listener registered a `/help` command of its own. The listing is
 * computed when `/help` is asked, so it shows every listener's commands.
 */
export function registerHelp(bot: Bot, entries: readonly CommandEntry[]): void {
  if (entries.some((entry) => entry.pattern.name === '/help')) return;
  bot.command('/help', { description: 'List the commands' }, (ctx) =>
    ctx.reply(renderHelp(entries, ctx.message.stream.streamType)),
  );
}
