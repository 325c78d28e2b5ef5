/**
 * What one listener sees of an event: the shared context (event-context.ts) with that listener's state
 * handles. For speed a view is a small object of its own that reads the shared context through getters,
 * rather than an `Object.create(ctx)`: making every context a prototype slows every later read of it. Its
 * state handles are made on first read, as most handlers never touch them.
 */
import type { Logger } from 'pino';
import type { ChorusEvent, Message, User } from '../events/event.ts';
import type { EventType } from '../events/wire-schema.ts';
import type { MessageML } from '../reply/messageml.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import type { JsonValue } from '../state/json-value.ts';
import {
  conversationStateKey,
  dialogStateKey,
  userStateKey,
  type RoutedMessageContext,
  type SharedContext,
} from './event-context.ts';
import type { BotIdentity, EventContext, MentionContext, StateHandle } from './listener.ts';

/** The shared context of a MESSAGESENT event. */
type SharedMessageContext = SharedContext & Omit<RoutedMessageContext, 'state' | 'userState' | 'dialogState'>;

class ConversationState implements StateHandle {
  readonly #store: ConversationStore;
  readonly #key: string;

  constructor(store: ConversationStore, key: string) {
    this.#store = store;
    this.#key = key;
  }

  get<T extends JsonValue = JsonValue>(): Promise<T | undefined> {
    return this.#store.get(this.#key) as Promise<T | undefined>;
  }

  set(value: unknown): Promise<void> {
    return this.#store.set(this.#key, value);
  }

  update<T>(fn: (current: T | undefined) => T | Promise<T>): Promise<T> {
    return this.#store.update(this.#key, fn);
  }

  delete(): Promise<void> {
    return this.#store.delete(this.#key);
  }
}

class ListenerView {
  // Plain (not #private) fields: a listener may derive objects from its context with Object.create, and
  // #private fields are not reachable through a prototype.
  /** The context of the event, shared by every listener (see {@link sharedContextOf}). */
  readonly shared: SharedContext;
  readonly listener: string;
  private cachedState: StateHandle | undefined;
  private cachedUserState: StateHandle | undefined;

  constructor(shared: SharedContext, listener: string) {
    this.shared = shared;
    this.listener = listener;
  }

  get type(): EventType {
    return this.shared.type;
  }

  get event(): ChorusEvent {
    return this.shared.event;
  }

  get user(): User {
    return this.shared.user;
  }

  get bot(): BotIdentity {
    return this.shared.bot;
  }

  get conversationId(): string {
    return this.shared.conversationId;
  }

  get streamId(): string | undefined {
    return this.shared.streamId;
  }

  get log(): Logger {
    return this.shared.log;
  }

  get state(): StateHandle {
    this.cachedState ??= new ConversationState(this.shared.stateStore, conversationStateKey(this.listener, this.shared.conversationId));
    return this.cachedState;
  }

  get userState(): StateHandle {
    this.cachedUserState ??= new ConversationState(
      this.shared.stateStore,
      userStateKey(this.listener, this.shared.conversationId, this.shared.user.userId),
    );
    return this.cachedUserState;
  }

  /** Internal to dialogs (see `RoutedMessageContext.dialogState`); not kept, as only dialogs read it. */
  get dialogState(): StateHandle {
    return new ConversationState(this.shared.stateStore, dialogStateKey(this.shared.conversationId, this.shared.user.userId));
  }

  reply(content: string | MessageML): Promise<void> {
    return this.shared.reply(content);
  }
}

/** A listener's view of a MESSAGESENT context: the message fields too. */
class MessageView extends ListenerView {
  declare readonly shared: SharedMessageContext;

  get message(): Message {
    return this.shared.message;
  }

  get text(): string {
    return this.shared.text;
  }

  get prompt(): string {
    return this.shared.prompt;
  }

  get mentionsBot(): boolean {
    return this.shared.mentionsBot;
  }

  get command(): RoutedMessageContext['command'] {
    return this.shared.command;
  }

  get args(): RoutedMessageContext['args'] {
    return this.shared.args;
  }
}

/** A listener's view of a message for its `bot.mention` handler: the `match` of its pattern too. */
class MentionView extends MessageView {
  readonly match: RegExpExecArray | undefined;

  constructor(view: MessageView, match: RegExpExecArray | undefined) {
    super(view.shared, view.listener);
    this.match = match;
  }
}

/**
 * What the listener named `listener` sees of `ctx`, a context made by event-context.ts: the same fields, with
 * `state` bound to that listener's state of the conversation and `userState` to its state of `ctx.user` there
 * (and, internal to dialogs, `dialogState`). Each call makes a new view; its handles are kept once made.
 */
export function createListenerView<C extends EventContext>(ctx: C, listener: string): C {
  const shared = ctx as unknown as SharedContext;
  const view = shared.type === 'MESSAGESENT' ? new MessageView(shared, listener) : new ListenerView(shared, listener);
  return view as unknown as C;
}

/** `view` with `match` (a `bot.mention` pattern's result) added; its state handles are the listener's. */
export function createMentionView(view: RoutedMessageContext, match: RegExpExecArray | undefined): MentionContext {
  if (view instanceof MessageView) return new MentionView(view, match) as unknown as MentionContext;
  return Object.create(view, { match: { value: match, enumerable: true } }) as MentionContext; // not a chorus view
}

/**
 * The context shared by every listener view of one dispatch of an event (made anew for each dispatch): what
 * caches of one event's dispatch are keyed by. A value that is not a view is its own.
 */
export function sharedContextOf(view: object): object {
  return view instanceof ListenerView ? view.shared : view;
}
