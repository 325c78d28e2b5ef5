/**
 * Wire event → normalized event: validates a `V4Event` (envelope, then the payload of its type) and builds the
 * {@link ChorusEvent} listeners see (src/events/event.ts).
 */
import type { z } from 'zod';
import { ChorusError, isChorusError } from '../errors.ts';
import type {
  Attachment,
  ChorusEvent,
  EventBase,
  Mention,
  Message,
  RoomProperties,
  Stream,
  Tag,
  Token,
  User,
} from './event.ts';
import { parseEntityJSON, parsePresentationML } from './presentation-ml.ts';
import { compileSchemaCheck, type SchemaCheck } from './schema-check.ts';
import type { EventType, V4Envelope, V4Message, V4RoomProperties, V4Stream, V4User } from './wire-schema.ts';
import { isEventType, PAYLOADS, v4EnvelopeSchema } from './wire-schema.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A message as the payload schemas parse it; a nested `sharedMessage` is not part of the normalized model. */
type WireMessage = Omit<V4Message, 'sharedMessage'>;

/** What error messages say about the event: `invalid V4Event <id> (<type>)`. */
type Context = { readonly label: string };

/**
 * Validates a wire event (`V4Event`, as received from the datafeed) and normalizes it: payload fields lifted to
 * the top, user ids as strings, optional fields present only when the wire carried them, messages parsed into
 * text and tokens (PresentationML + EntityJSON), `conversationId` and `dedupeKey` set as event.ts documents.
 * The envelope and the payload are each validated once; unknown fields are dropped (see `listUnknownFields`).
 *
 * Returns `null` for a valid envelope whose `type` is not one of the 17 Agent API types: the caller logs and
 * skips it, as the BDKs do ("Unsupported event received", reference §2.1).
 *
 * @throws ChorusError CHORUS_ERR_EVENT_INVALID when the envelope or the payload of its type fails validation,
 *   or a message's `data` is not a JSON object. The message names the event id and type when known and the
 *   dotted path of the first issue from the event root, e.g.
 *   `invalid V4Event ev-1 (MESSAGESENT) at payload.messageSent.message.stream.streamId: ...`; `cause` is the
 *   ZodError (or the EntityJSON error).
 * @example
 * const event = parseWireEvent(JSON.parse(line));
 * if (event?.type === 'MESSAGESENT') console.log(event.message.text, event.message.mentions);
 */
export function parseWireEvent(raw: unknown): ChorusEvent | null {
  const envelope = parseEnvelope(raw);
  const { type } = envelope;
  if (!isEventType(type)) return null;
  return normalize(type, envelope, { label: `invalid V4Event ${envelope.id} (${type})` });
}

// For speed: predicates compiled from the same schemas (schema-check.ts) pass the common valid event as it
// is, without zod building a copy of it; zod parses whatever they do not pass, and gives the data or the
// error as before. Normalizing copies every field it keeps, so the raw value serves as well as zod's copy.
// Payloads: MESSAGESENT only, nearly all traffic (two other types keep records of the payload, which must
// then be zod's copies).
const isPlainEnvelope = compileSchemaCheck(v4EnvelopeSchema);
const PAYLOAD_CHECKS: ReadonlyMap<string, SchemaCheck | undefined> = new Map([
  [PAYLOADS.MESSAGESENT.key, compileSchemaCheck(PAYLOADS.MESSAGESENT.schema)],
]);

/** Validates the envelope (its payload checked per type later). */
function parseEnvelope(raw: unknown): V4Envelope {
  if (isPlainEnvelope?.(raw) === true) return raw as V4Envelope;
  const result = v4EnvelopeSchema.safeParse(raw);
  if (!result.success) throw invalid({ label: labelOf(raw) }, [], result.error);
  return result.data;
}

function normalize(type: EventType, envelope: V4Envelope, ctx: Context): ChorusEvent {
  switch (type) {
    case 'MESSAGESENT': {
      const payload = parsePayload(PAYLOADS.MESSAGESENT, envelope, ctx);
      const message = toMessage(payload.message, 'payload.messageSent.message', ctx);
      // Nearly all traffic: built in one literal rather than by spreading `base` (one object, no copy).
      return {
        type,
        id: envelope.id,
        timestamp: envelope.timestamp,
        initiator: toUser(envelope.initiator.user),
        conversationId: message.stream.streamId,
        dedupeKey: `message:${message.messageId}`,
        stream: message.stream,
        message,
      };
    }
    case 'SHAREDPOST': {
      const payload = parsePayload(PAYLOADS.SHAREDPOST, envelope, ctx);
      const message = toMessage(payload.message, 'payload.sharedPost.message', ctx);
      const sharedMessage = toMessage(payload.sharedMessage, 'payload.sharedPost.sharedMessage', ctx);
      return {
        ...base(type, envelope, message.stream.streamId, message),
        stream: message.stream,
        message,
        sharedMessage,
      };
    }
    case 'INSTANTMESSAGECREATED':
    case 'ROOMDEACTIVATED':
    case 'ROOMREACTIVATED': {
      const stream = toStream(parsePayload(PAYLOADS[type], envelope, ctx).stream);
      return { ...base(type, envelope, stream.streamId), stream };
    }
    case 'ROOMCREATED': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      const stream = toStream(payload.stream);
      const event: Mutable<ChorusEvent<'ROOMCREATED'>> = { ...base(type, envelope, stream.streamId), stream };
      if (payload.roomProperties != null) event.roomProperties = toRoomProperties(payload.roomProperties);
      return event;
    }
    case 'ROOMUPDATED': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      const stream = toStream(payload.stream);
      const event: Mutable<ChorusEvent<'ROOMUPDATED'>> = { ...base(type, envelope, stream.streamId), stream };
      if (payload.newRoomProperties != null) event.newRoomProperties = toRoomProperties(payload.newRoomProperties);
      return event;
    }
    case 'USERJOINEDROOM':
    case 'USERLEFTROOM':
    case 'ROOMMEMBERPROMOTEDTOOWNER':
    case 'ROOMMEMBERDEMOTEDFROMOWNER': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      const stream = toStream(payload.stream);
      return { ...base(type, envelope, stream.streamId), stream, affectedUser: toUser(payload.affectedUser) };
    }
    case 'CONNECTIONREQUESTED': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      return { ...base(type, envelope, connectionId(envelope)), toUser: toUser(payload.toUser) };
    }
    case 'CONNECTIONACCEPTED': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      return { ...base(type, envelope, connectionId(envelope)), fromUser: toUser(payload.fromUser) };
    }
    case 'MESSAGESUPPRESSED': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      const stream = toStream(payload.stream);
      return { ...base(type, envelope, stream.streamId), stream, messageId: payload.messageId };
    }
    case 'SYMPHONYELEMENTSACTION': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      const stream = toStream(payload.stream);
      return {
        ...base(type, envelope, stream.streamId),
        stream,
        formMessageId: payload.formMessageId,
        formId: payload.formId,
        formValues: payload.formValues,
      };
    }
    case 'USERREQUESTEDTOJOINROOM': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      const stream = toStream(payload.stream);
      return { ...base(type, envelope, stream.streamId), stream, affectedUsers: payload.affectedUsers.map(toUser) };
    }
    case 'GENERICSYSTEMEVENT': {
      const payload = parsePayload(PAYLOADS[type], envelope, ctx);
      const stream = payload.stream == null ? undefined : toStream(payload.stream);
      const conversationId = stream === undefined ? `system:${payload.sourceSystem}` : stream.streamId;
      const event: Mutable<ChorusEvent<'GENERICSYSTEMEVENT'>> = {
        ...base(type, envelope, conversationId),
        sourceSystem: payload.sourceSystem,
        eventSubtype: payload.eventSubtype,
        parameters: payload.parameters ?? {},
      };
      if (stream !== undefined) event.stream = stream;
      if (payload.eventTimestamp != null) event.eventTimestamp = payload.eventTimestamp;
      return event;
    }
  }
}

/** Validates `payload[key]` with the type's schema (an entry of PAYLOADS). */
function parsePayload<S extends z.ZodType>(
  entry: { readonly key: string; readonly schema: S },
  envelope: V4Envelope,
  ctx: Context,
): z.output<S> {
  // Own enumerable keys only, as in zod's copy of the payload record (the envelope may be the raw value).
  const value = Object.prototype.propertyIsEnumerable.call(envelope.payload, entry.key) ? envelope.payload[entry.key] : undefined;
  if (PAYLOAD_CHECKS.get(entry.key)?.(value) === true) return value as z.output<S>;
  const result = entry.schema.safeParse(value);
  if (!result.success) throw invalid(ctx, ['payload', entry.key], result.error);
  return result.data;
}

function base<T extends EventType>(
  type: T,
  envelope: V4Envelope,
  conversationId: string,
  message?: Message,
): EventBase<T> {
  return {
    type,
    id: envelope.id,
    timestamp: envelope.timestamp,
    initiator: toUser(envelope.initiator.user),
    conversationId,
    dedupeKey: message === undefined ? `event:${envelope.id}` : `message:${message.messageId}`,
  };
}

function connectionId(envelope: V4Envelope): string {
  return `connection:${String(envelope.initiator.user.userId)}`;
}

function toUser(user: V4User): User {
  const userId = String(user.userId);
  const result: Mutable<User> = {
    userId,
    // Empty names fall back too: a blank display name is no name to show.
    displayName: user.displayName || user.username || userId,
  };
  if (user.username != null) result.username = user.username;
  if (user.email != null) result.email = user.email;
  if (user.firstName != null) result.firstName = user.firstName;
  if (user.lastName != null) result.lastName = user.lastName;
  return result;
}

function toStream(stream: V4Stream): Stream {
  // streamType is optional on the wire (SPEC V4Stream); '' when absent rather than a guess.
  const result: Mutable<Stream> = { streamId: stream.streamId, streamType: stream.streamType ?? '' };
  if (stream.roomName != null) result.roomName = stream.roomName;
  if (stream.external != null) result.external = stream.external;
  if (stream.crossPod != null) result.crossPod = stream.crossPod;
  if (stream.members != null) result.members = stream.members.map(toUser);
  return result;
}

function toMessage(message: WireMessage, path: string, ctx: Context): Message {
  let entityJSON: Record<string, unknown>;
  try {
    entityJSON = parseEntityJSON(message.data);
  } catch (err) {
    const reason = isChorusError(err) ? err.message : 'EntityJSON is not valid';
    throw new ChorusError('CHORUS_ERR_EVENT_INVALID', `${ctx.label} at ${path}.data: ${reason}`, { cause: err });
  }
  const { text, tokens } = parsePresentationML(message.message, entityJSON);
  const { mentions, hashtags, cashtags } = entitiesOf(tokens);
  const result: Mutable<Message> = {
    messageId: message.messageId,
    timestamp: message.timestamp,
    stream: toStream(message.stream),
    user: toUser(message.user),
    presentationML: message.message,
    entityJSON,
    text,
    tokens,
    mentions,
    hashtags,
    cashtags,
    attachments: message.attachments == null || message.attachments.length === 0 ? NONE : message.attachments.map(toAttachment),
  };
  if (message.parentMessageId != null) result.parentMessageId = message.parentMessageId;
  return result;
}

/**
 * The empty list every message without mentions, hashtags, cashtags or attachments shares (for speed: most
 * messages have none of some kind). Frozen, as all of the event is read-only to listeners.
 */
const NONE: readonly never[] = Object.freeze([]);

function entitiesOf(tokens: readonly Token[]): {
  mentions: readonly Mention[];
  hashtags: readonly Tag[];
  cashtags: readonly Tag[];
} {
  let mentions: Mention[] | undefined;
  let hashtags: Tag[] | undefined;
  let cashtags: Tag[] | undefined;
  for (const token of tokens) {
    switch (token.kind) {
      case 'mention':
        (mentions ??= []).push({ text: token.text, userId: token.userId, displayName: token.displayName });
        break;
      case 'hashtag':
        (hashtags ??= []).push({ text: token.text, value: token.value });
        break;
      case 'cashtag':
        (cashtags ??= []).push({ text: token.text, value: token.value });
        break;
      case 'word':
        break;
    }
  }
  return { mentions: mentions ?? NONE, hashtags: hashtags ?? NONE, cashtags: cashtags ?? NONE };
}

function toAttachment(attachment: { id: string; name: string; size: number }): Attachment {
  return { id: attachment.id, name: attachment.name, size: attachment.size };
}

function toRoomProperties(props: V4RoomProperties): RoomProperties {
  const result: Mutable<RoomProperties> = {};
  if (props.name != null) result.name = props.name;
  if (props.description != null) result.description = props.description;
  if (props.creatorUser != null) result.creatorUser = toUser(props.creatorUser);
  if (props.createdDate != null) result.createdDate = props.createdDate;
  if (props.external != null) result.external = props.external;
  if (props.crossPod != null) result.crossPod = props.crossPod;
  if (props.public != null) result.public = props.public;
  if (props.copyProtected != null) result.copyProtected = props.copyProtected;
  if (props.readOnly != null) result.readOnly = props.readOnly;
  if (props.discoverable != null) result.discoverable = props.discoverable;
  if (props.membersCanInvite != null) result.membersCanInvite = props.membersCanInvite;
  if (props.canViewHistory != null) result.canViewHistory = props.canViewHistory;
  if (props.keywords != null) {
    result.keywords = props.keywords.map((keyword) => {
      const entry: { key?: string; value?: string } = {};
      if (keyword.key != null) entry.key = keyword.key;
      if (keyword.value != null) entry.value = keyword.value;
      return entry;
    });
  }
  return result;
}

/** `invalid V4Event <id> (<type>)`, with whatever of id and type the raw value holds as strings. */
function labelOf(raw: unknown): string {
  if (typeof raw !== 'object' || raw === null) return 'invalid V4Event';
  const { id, type } = raw as { id?: unknown; type?: unknown };
  let label = 'invalid V4Event';
  if (typeof id === 'string' && id !== '') label += ` ${id}`;
  if (typeof type === 'string' && type !== '') label += ` (${type})`;
  return label;
}

/** The CHORUS_ERR_EVENT_INVALID for a failed zod parse: the first issue's full path from the event root. */
function invalid(ctx: Context, prefix: readonly string[], error: z.ZodError): ChorusError {
  const [first] = error.issues;
  const more = error.issues.length - 1;
  const path = first === undefined ? prefix : [...prefix, ...first.path.map(String)];
  const where = path.length === 0 ? '' : ` at ${path.join('.')}`;
  const reason = first === undefined ? 'invalid' : first.message;
  const tail = more > 0 ? ` (and ${more} more issue${more === 1 ? '' : 's'})` : '';
  return new ChorusError('CHORUS_ERR_EVENT_INVALID', `${ctx.label}${where}: ${reason}${tail}`, { cause: error });
}
