/**
 * The public API of chorus: the one module listener modules and applications import (`import … from 'chorus'`).
 */
export { ChorusError, ERROR_CODES, isChorusError, RequeueEvent, type ErrorCode } from './errors.ts';
export type {
  Attachment,
  ChorusEvent,
  EventPayloads,
  Mention,
  Message,
  RoomProperties,
  Stream,
  Tag,
  Token,
  User,
} from './events/event.ts';
export { EVENT_TYPES, type EventType } from './events/wire-schema.ts';
export { cashtag, hashtag, mention, ml, MessageML } from './reply/messageml.ts';
export {
  defineListener,
  type BaseContext,
  type Bot,
  type BotIdentity,
  type CommandContext,
  type CommandOptions,
  type EventContext,
  type Handler,
  type ListenerModule,
  type MatchedCommand,
  type MentionContext,
  type MessageContext,
  type StateHandle,
} from './routing/listener.ts';
export {
  DEFAULT_DIALOG_TIMEOUT_MS,
  type AskOptions,
  type ChoiceOptions,
  type Dialog,
  type DialogContent,
  type DialogFunction,
  type DialogOptions,
} from './routing/dialog.ts';
export { ofType } from './routing/of-type.ts';
export type { PatternArgs } from './routing/pattern.ts';
export type { JsonValue } from './state/json-value.ts';
