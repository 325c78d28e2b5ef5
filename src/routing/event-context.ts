/**
 * Builds the context object handlers receive for one event. One object per event, shared by every listener;
 * the per-event logger is made only when a handler reads `ctx.log` (the event path is the hot path).
 */
import type { Logger } from 'pino';
import { ChorusError } from '../errors.ts';
import type { ChorusEvent, Message, User } from '../events/event.ts';
import type { EventType } from '../events/wire-schema.ts';
import { toMessageML, type MessageML } from '../reply/messageml.ts';
import type { ReplySender } from '../reply/reply-sender.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import type { JsonValue } from '../state/json-value.ts';
import type { MessageRoute } from './command-router.ts';
import type { BotIdentity, EventContext, MatchedCommand, StateHandle } from './listener.ts';

/** What every context of one runtime shares. */
export type ContextDeps = {
  readonly bot: BotIdentity;
  readonly store: ConversationStore;
  readonly sender: ReplySender;
  readonly log: Logger;
};

/** A MESSAGESENT context as built here: `command` carries the router's entry id, `args` its arguments. */
export type RoutedMessageContext = EventContext<'MESSAGESENT'> & {
  readonly message: Message;
  readonly text: string;
  readonly prompt: string;
  readonly mentionsBot: boolean;
  readonly command: (MatchedCommand & { readonly entryId: number }) | undefined;
  readonly args: MatchedCommand['args'] | undefined;
  /**
   * On listener views only (not public API): the dialog state of `user` in this conversation, shared by every
   * listener (see {@link dialogStateKey}).
   */
  readonly dialogState: StateHandle;
};

/**
 * The store key of one listener's state of one conversation: `state:<listener>:<conversationId>`.
 * Each listener has its own, so two listener modules never overwrite each other's state.
 */
export function conversationStateKey(listener: string, conversationId: string): string {
  return `state:${listener}:${conversationId}`;
}

/**
 * The store key of one listener's state of one user in one conversation:
 * `user-state:<listener>:<conversationId>:<userId>`. The same user has other state in another conversation.
 */
export function userStateKey(listener: string, conversationId: string, userId: string): string {
  return `user-state:${listener}:${conversationId}:${userId}`;
}

/**
 * The store key of the dialog of one user in one conversation: `dialog:<conversationId>:<userId>`. Not per
 * listener: a user has at most one dialog in a conversation, whichever listener runs it, so a plain message
 * answers exactly one dialog and `/cancel` knows what to end.
 */
export function dialogStateKey(conversationId: string, userId: string): string {
  return `dialog:${conversationId}:${userId}`;
}

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

class Context {
  readonly type: EventType;
  readonly event: ChorusEvent;
  readonly user: User;
  readonly bot: BotIdentity;
  readonly conversationId: string;
  readonly streamId: string | undefined;
  /** Where this event's state handles read and write (the store, or the event's unit of work). */
  readonly stateStore: ConversationStore;
  // Plain (not #private) fields: mention contexts derive from this object with Object.create, and #private
  // fields are not reachable through a prototype.
  private readonly deps: ContextDeps;
  private cachedLog: Logger | undefined;

  constructor(event: ChorusEvent, deps: ContextDeps) {
    this.type = event.type;
    this.event = event;
    this.user = event.initiator;
    this.bot = deps.bot;
    this.conversationId = event.conversationId;
    this.streamId = 'stream' in event ? event.stream?.streamId : undefined;
    this.stateStore = deps.store;
    this.deps = deps;
  }

  get log(): Logger {
    this.cachedLog ??= this.deps.log.child({ eventId: this.event.id, eventType: this.type, streamId: this.streamId });
    return this.cachedLog;
  }

  async reply(content: string | MessageML): Promise<void> {
    if (this.streamId === undefined) {
      throw new ChorusError('CHORUS_ERR_REPLY_INVALID', `a ${this.type} event has no stream to reply to`);
    }
    const message = toMessageML(content);
    await this.deps.sender.send({
      streamId: this.streamId,
      message,
      inReplyTo: { eventId: this.event.id, type: this.type },
    });
  }
}

class MessageContextImpl extends Context {
  readonly message: Message;
  readonly text: string;
  readonly prompt: string;
  readonly mentionsBot: boolean;
  readonly command: RoutedMessageContext['command'];
  readonly args: RoutedMessageContext['args'];

  constructor(event: ChorusEvent<'MESSAGESENT'>, deps: ContextDeps, route: MessageRoute) {
    super(event, deps);
    this.message = event.message;
    this.text = event.message.text;
    this.prompt = route.prompt;
    this.mentionsBot = route.mentionsBot;
    this.command = route.command;
    this.args = route.command?.args;
  }
}

/**
 * What one listener sees of an event's context: the same context, with `state` bound to that listener's
 * state of the conversation and `userState` to its state of `ctx.user` there (and, internal to dialogs,
 * `dialogState`). A view is a thin object whose prototype is the shared context.
 */
export function createListenerView<C extends EventContext>(ctx: C, listener: string): C {
  const store = (ctx as unknown as { readonly stateStore: ConversationStore }).stateStore;
  const state = new ConversationState(store, conversationStateKey(listener, ctx.conversationId));
  const userState = new ConversationState(store, userStateKey(listener, ctx.conversationId, ctx.user.userId));
  return Object.create(ctx, {
    state: { value: state, enumerable: true },
    userState: { value: userState, enumerable: true },
    // A getter: only dialogs read it, so the event path makes no handle for it otherwise.
    dialogState: { get: () => new ConversationState(store, dialogStateKey(ctx.conversationId, ctx.user.userId)) },
  }) as C;
}

/** The context of a non-message event (without `state`/`userState`: listeners get them through their view). */
export function createEventContext(event: ChorusEvent, deps: ContextDeps): EventContext {
  return new Context(event, deps) as unknown as EventContext;
}

/** The context of a MESSAGESENT event, with the router's findings. */
export function createMessageContext(
  event: ChorusEvent<'MESSAGESENT'>,
  deps: ContextDeps,
  route: MessageRoute,
): RoutedMessageContext {
  return new MessageContextImpl(event, deps, route) as unknown as RoutedMessageContext;
}
