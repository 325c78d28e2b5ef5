/**
 * The listener API: what a listener module receives in `setup(bot)` and what its handlers receive.
 * This is the contract users write against (README "Writing a listener").
 */
import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import { ChorusError } from '../errors.ts';
import type { ChorusEvent, Mention, Message, Tag, User } from '../events/event.ts';
import type { EventType } from '../events/wire-schema.ts';
import type { MessageML } from '../reply/messageml.ts';
import type { JsonValue } from '../state/json-value.ts';
import type { DialogFunction, DialogOptions } from './dialog.ts';
import type { PatternArgs } from './pattern.ts';

/** Who the bot is: messages from this user id are never handled, and commands address it by @mention. */
export type BotIdentity = { readonly userId: string; readonly displayName: string };

/**
 * State kept in the ConversationStore: of one conversation (`ctx.state`) or of one user in it
 * (`ctx.userState`), per listener. Values are JSON and expire after the store's TTL from their last write
 * (default 7 days): expired state reads as `undefined`. `update` is atomic: concurrent updates, also from
 * other chorus instances sharing the store, never lose one; `fn` may run again on a newer value.
 */
export type StateHandle = {
  /** The current value (`undefined` when never set, or expired). The type parameter is the caller's claim, not checked. */
  get<T extends JsonValue = JsonValue>(): Promise<T | undefined>;
  /** @throws ChorusError CHORUS_ERR_STATE_VALUE when `value` is not JSON-serializable. */
  set(value: unknown): Promise<void>;
  /**
   * Stores `fn(current)` and returns it. `fn` runs again on the newer value when another write landed while
   * it ran, so keep it free of side effects.
   * @throws ChorusError CHORUS_ERR_STATE_VALUE when the new value is not JSON-serializable (nothing stored).
   * @throws ChorusError CHORUS_ERR_STATE_CONFLICT when other writers kept winning (see docs/errors.md).
   */
  update<T>(fn: (current: T | undefined) => T | Promise<T>): Promise<T>;
  delete(): Promise<void>;
};

/** What every handler receives, for an event of type `T`. */
export type BaseContext<T extends EventType> = {
  /** The event type, for narrowing a union of contexts (`if (ctx.type === 'USERJOINEDROOM')`). */
  readonly type: T;
  readonly event: ChorusEvent<T>;
  /** Who caused the event (`initiator.user`); for messages, the author. */
  readonly user: User;
  readonly bot: BotIdentity;
  /** The key of this conversation's state and ordering (see `ChorusEvent.conversationId`). */
  readonly conversationId: string;
  /** The stream the event happened in, `undefined` for connection events. */
  readonly streamId: string | undefined;
  /** State of this conversation, this listener's own. */
  readonly state: StateHandle;
  /** State of `user` in this conversation, this listener's own: each user, in each conversation, has theirs. */
  readonly userState: StateHandle;
  /** A logger bound to this event (eventId, eventType, streamId) and listener. */
  readonly log: Logger;
  /**
   * Sends a message to this event's stream. A string is plain text: escaped into MessageML, so
   * `Eve <script>` arrives as text; markup goes through the `ml` tagged template. Resolves once sent.
   * @throws ChorusError CHORUS_ERR_REPLY_INVALID when the event has no stream or `content` is neither.
   */
  reply(content: string | MessageML): Promise<void>;
};

/** The context of any event: a union over event types, narrowed by `ctx.type`. */
export type EventContext<T extends EventType = EventType> = { [K in T]: BaseContext<K> }[T];

/** A command matched by a message: its pattern and the values of its arguments. */
export type MatchedCommand = {
  /** The pattern as registered, e.g. `/buy {quantity} {$ticker}`. */
  readonly pattern: string;
  /** The command word, e.g. `/buy`. */
  readonly name: string;
  readonly args: Readonly<Record<string, string | Mention | Tag>>;
};

/** The context of a MESSAGESENT event (from anyone but the bot). */
export type MessageContext = BaseContext<'MESSAGESENT'> & {
  readonly message: Message;
  /** The message's plain text (see `Message.text`). */
  readonly text: string;
  /** The message's tokens without the bot's @mentions, their texts joined by single spaces. */
  readonly prompt: string;
  /** True when the message has an @mention entity of the bot (by userId, anywhere in the message). */
  readonly mentionsBot: boolean;
  /** The command this message matched, if any (at most one: the first registered that matches). */
  readonly command: MatchedCommand | undefined;
};

/** The context of a command handler: `args` is typed from the pattern string. */
export type CommandContext<A = Record<string, string | Mention | Tag>> = MessageContext & {
  readonly args: A;
  readonly command: MatchedCommand;
};

/** The context of a mention handler: `match` is the RegExp result when registered with a pattern. */
export type MentionContext = MessageContext & { readonly match: RegExpExecArray | undefined };

/** Options of `bot.command`. */
export type CommandOptions = {
  /** Shown by `/help`. */
  readonly description?: string;
  /**
   * Whether the message must start with an @mention of the bot. Default: true in ROOM, MIM and POST streams,
   * false in IM (BDK `SlashCommand` requires the mention everywhere; chorus relaxes it in one-to-one chats).
   */
  readonly requireMention?: boolean;
};

/** A handler: its return value is awaited when it is a promise. Throwing marks the event failed. */
export type Handler<C> = (ctx: C) => unknown;

/** What `setup` receives: register handlers, or compose the event streams with RxJS operators. */
export type Bot = {
  readonly identity: BotIdentity;
  /**
   * Every event except the bot's own, as contexts. Like the other streams here it is a template: chorus
   * subscribes what you pass to `bot.use` once per event, so each subscription sees one event and completes.
   * Cross-event state belongs in `ctx.state`, not in operators such as `scan`.
   */
  readonly events$: Observable<EventContext>;
  /** MESSAGESENT events from others. */
  readonly messages$: Observable<MessageContext>;
  /** Messages that @mention the bot (commands included; `ctx.command` tells). */
  readonly mentions$: Observable<MessageContext>;
  /**
   * Registers a slash command (BDK pattern grammar plus `{...rest}`; see README). The pattern is compiled now.
   * @throws ChorusError CHORUS_ERR_PATTERN_INVALID naming the pattern when it breaks the grammar.
   */
  command<P extends string>(pattern: P, handler: Handler<CommandContext<PatternArgs<P>>>): void;
  command<P extends string>(pattern: P, options: CommandOptions, handler: Handler<CommandContext<PatternArgs<P>>>): void;
  /**
   * Handles messages that @mention the bot, matched no command and answer no dialog; with `pattern`, only those
   * whose `prompt` matches.
   */
  mention(handler: Handler<MentionContext>): void;
  mention(pattern: RegExp, handler: Handler<MentionContext>): void;
  /**
   * Registers a dialog: a multi-turn conversation with one user in one stream, started by the command
   * `pattern` (same grammar and options as `bot.command`; `d.args` typed from it) and written as one async
   * function (see the `Dialog` type and README "Dialogs"). While it runs, its user's other messages in that
   * stream are its answers (no @mention needed; commands stay commands), `/cancel` (built in) ends it, and it
   * times out after `timeoutMs` without an answer. Its state is in the store: it survives restarts and
   * continues on another instance. Other users and streams are unaffected.
   * @throws ChorusError CHORUS_ERR_PATTERN_INVALID for a bad pattern; CHORUS_ERR_LISTENER_INVALID for a
   * `/cancel` pattern, a second dialog of this listener with the same pattern, or a bad `timeoutMs`.
   * @example
   * bot.dialog('/order', { description: 'Order a pizza' }, async (d) => {
   *   const size = await d.ask('What size? S, M or L', { choices: ['S', 'M', 'L'] });
   *   if (await d.confirm(`A ${size} pizza?`)) await d.reply(`Ordered: ${size}`);
   * });
   */
  dialog<P extends string>(pattern: P, run: DialogFunction<PatternArgs<P>>): void;
  dialog<P extends string>(pattern: P, options: DialogOptions, run: DialogFunction<PatternArgs<P>>): void;
  /** Handles every event of one type, by its Symphony name. */
  on<T extends EventType>(type: T, handler: Handler<EventContext<T>>): void;
  /**
   * Runs an Observable built from `events$`, `messages$` or `mentions$` for every event. The event counts as
   * handled when it completes; an error marks the event failed.
   */
  use(pipeline$: Observable<unknown>): void;
};

/** A listener module: the default export of a file in `listeners/`. */
export type ListenerModule = {
  /** Unique among the loaded listeners; used in logs. */
  readonly name: string;
  /** Registers handlers; may be async. Called once at start-up. */
  setup(bot: Bot): void | Promise<void>;
};

/**
 * Declares a listener module. Checks its shape so a broken module fails at start-up, not at the first event.
 *
 * @throws ChorusError CHORUS_ERR_LISTENER_INVALID when `name` is empty or `setup` is not a function.
 * @example
 * export default defineListener({
 *   name: 'greeter',
 *   setup(bot) {
 *     bot.mention((ctx) => ctx.reply(`Hi ${ctx.user.displayName}`));
 *   },
 * });
 */
export function defineListener(listener: ListenerModule): ListenerModule {
  if (typeof listener !== 'object' || listener === null) {
    throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', 'defineListener needs an object { name, setup }');
  }
  if (typeof listener.name !== 'string' || listener.name.trim() === '') {
    throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', 'a listener needs a non-empty name');
  }
  if (typeof listener.setup !== 'function') {
    throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', `listener ${listener.name}: setup must be a function`);
  }
  return listener;
}
