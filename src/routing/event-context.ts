/**
 * Builds the context object of one event, shared by every listener (each sees it through its own view,
 * listener-view.ts), and names the store keys of state. The per-event logger and the message's `prompt` are
 * made only when read (the event path is the hot path).
 */
import type { Logger } from 'pino';
import { ChorusError } from '../errors.ts';
import type { ChorusEvent, Message, User } from '../events/event.ts';
import type { EventType } from '../events/wire-schema.ts';
import { toMessageML, type MessageML } from '../reply/messageml.ts';
import type { ReplySender } from '../reply/reply-sender.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import type { MessageRoute } from './command-router.ts';
import type { BotIdentity, EventContext, MatchedCommand, StateHandle } from './listener.ts';

/** What every context of one runtime shares. */
export type ContextDeps = {
  readonly bot: BotIdentity;
  readonly store: ConversationStore;
  readonly sender: ReplySender;
  readonly log: Logger;
};

/**
 * A context as built here, before any listener's view: the event's fields without state handles, and the
 * store they read and write.
 */
export type SharedContext = Omit<EventContext, 'state' | 'userState'> & {
  /** Where this event's state handles read and write (the store, or the event's unit of work). */
  readonly stateStore: ConversationStore;
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

class Context {
  readonly type: EventType;
  readonly event: ChorusEvent;
  readonly user: User;
  readonly bot: BotIdentity;
  readonly conversationId: string;
  readonly streamId: string | undefined;
  /** Where this event's state handles read and write (the store, or the event's unit of work). */
  readonly stateStore: ConversationStore;
  // Plain (not #private) fields: a listener may derive objects from a context with Object.create, and #private
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
  readonly mentionsBot: boolean;
  readonly command: RoutedMessageContext['command'];
  readonly args: RoutedMessageContext['args'];
  /** The router's findings; it joins `prompt` on first read. */
  private readonly route: MessageRoute;

  constructor(event: ChorusEvent<'MESSAGESENT'>, deps: ContextDeps, route: MessageRoute) {
    super(event, deps);
    this.message = event.message;
    this.text = event.message.text;
    this.mentionsBot = route.mentionsBot;
    this.command = route.command;
    this.args = route.command?.args;
    this.route = route;
  }

  get prompt(): string {
    return this.route.prompt;
  }
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
