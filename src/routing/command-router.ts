/**
 * The command router: finds the command a message addresses, by an index on the command word, so a message
 * is compared only with the patterns of its own command word, never with every pattern.
 */
import type { Message, Token } from '../events/event.ts';
import type { CommandOptions, MatchedCommand } from './listener.ts';
import { matchPattern, type CompiledPattern } from './pattern.ts';

/** A registered command. `id` is its registration order, which decides between two matching patterns. */
export type CommandEntry = {
  readonly id: number;
  readonly listener: string;
  readonly pattern: CompiledPattern;
  readonly options: CommandOptions;
};

/** What routing found in a message. */
export type MessageRoute = {
  readonly command: (MatchedCommand & { readonly entryId: number }) | undefined;
  /** The message has an @mention entity of the bot, anywhere. */
  readonly mentionsBot: boolean;
  /** Tokens without the bot's mentions, texts joined by single spaces. */
  readonly prompt: string;
};

/** The command index. `add` at start-up, `route` per message. */
export type CommandRouter = {
  add(entry: CommandEntry): void;
  route(message: Message): MessageRoute;
  /** Every registered command, in registration order (for `/help`). */
  readonly entries: readonly CommandEntry[];
};

/**
 * Creates the router of one bot.
 *
 * A command is found when (BDK `SlashCommand`, reference §4.4): the first token is an @mention of the bot (by
 * userId) or, where the mention is not required, the command word itself; the command word equals a
 * pattern's; and the rest matches that pattern token for token. The mention is required by default in ROOM,
 * MIM and POST streams and optional in IM; `options.requireMention` overrides it per command.
 */
export function createCommandRouter(botUserId: string): CommandRouter {
  const byName = new Map<string, CommandEntry[]>();
  const entries: CommandEntry[] = [];
  const isBot = (token: Token | undefined): boolean => token?.kind === 'mention' && token.userId === botUserId;

  return {
    entries,
    add(entry) {
      entries.push(entry);
      const list = byName.get(entry.pattern.name);
      if (list === undefined) byName.set(entry.pattern.name, [entry]);
      else list.push(entry);
    },
    route(message) {
      const tokens = message.tokens;
      const mentionsBot = message.mentions.some((m) => m.userId === botUserId);
      const prompt = mentionsBot
        ? tokens.filter((t) => !isBot(t)).map((t) => t.text).join(' ')
        : tokens.map((t) => t.text).join(' ');
      const leadingMention = isBot(tokens[0]);
      const head = tokens[leadingMention ? 1 : 0];
      const candidates = head?.kind === 'word' ? byName.get(head.text) : undefined;
      if (candidates === undefined) return { command: undefined, mentionsBot, prompt };
      const defaultRequireMention = message.stream.streamType !== 'IM';
      const rest = tokens.slice(leadingMention ? 2 : 1);
      for (const entry of candidates) {
        if (!leadingMention && (entry.options.requireMention ?? defaultRequireMention)) continue;
        const args = matchPattern(entry.pattern, rest);
        if (args !== undefined) {
          const command = { pattern: entry.pattern.source, name: entry.pattern.name, args, entryId: entry.id };
          return { command, mentionsBot, prompt };
        }
      }
      return { command: undefined, mentionsBot, prompt };
    },
  };
}
