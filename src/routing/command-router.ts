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
  /** Tokens without the bot's mentions, texts joined by single spaces (computed on first read). */
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
      let mentionsBot = false;
      for (const mention of message.mentions) {
        if (mention.userId === botUserId) {
          mentionsBot = true;
          break;
        }
      }
      const leadingMention = isBot(tokens[0]);
      const head = tokens[leadingMention ? 1 : 0];
      const candidates = head?.kind === 'word' ? byName.get(head.text) : undefined;
      if (candidates === undefined) return new Route(undefined, mentionsBot, tokens, botUserId);
      const defaultRequireMention = message.stream.streamType !== 'IM';
      const rest = tokens.slice(leadingMention ? 2 : 1);
      for (const entry of candidates) {
        if (!leadingMention && (entry.options.requireMention ?? defaultRequireMention)) continue;
        const args = matchPattern(entry.pattern, rest);
        if (args !== undefined) {
          const command = { pattern: entry.pattern.source, name: entry.pattern.name, args, entryId: entry.id };
          return new Route(command, mentionsBot, tokens, botUserId);
        }
      }
      return new Route(undefined, mentionsBot, tokens, botUserId);
    },
  };
}

/**
 * A {@link MessageRoute} whose `prompt` is joined on first read: most messages are commands or chatter, and
 * only mention handlers and dialogs read it (for speed: no string building per message).
 */
class Route implements MessageRoute {
  readonly command: MessageRoute['command'];
  readonly mentionsBot: boolean;
  private readonly tokens: readonly Token[];
  private readonly botUserId: string;
  private cachedPrompt: string | undefined;

  constructor(command: MessageRoute['command'], mentionsBot: boolean, tokens: readonly Token[], botUserId: string) {
    this.command = command;
    this.mentionsBot = mentionsBot;
    this.tokens = tokens;
    this.botUserId = botUserId;
  }

  get prompt(): string {
    this.cachedPrompt ??= toPrompt(this.tokens, this.mentionsBot ? this.botUserId : undefined);
    return this.cachedPrompt;
  }
}

/** The texts of `tokens` joined by single spaces, leaving out @mentions of `botUserId` when given. */
function toPrompt(tokens: readonly Token[], botUserId: string | undefined): string {
  let prompt = '';
  let first = true;
  for (const token of tokens) {
    if (botUserId !== undefined && token.kind === 'mention' && token.userId === botUserId) continue;
    prompt = first ? token.text : `${prompt} ${token.text}`;
    first = false;
  }
  return prompt;
}
