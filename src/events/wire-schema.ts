/**
 * zod schemas of the Agent API wire format: the `V4Event` envelope, its 17 payload types and a datafeed read
 * response (`V5EventList`), as in `agent-api-public.yaml` (components.schemas V4Event, V4Payload, V4Message,
 * V4User, V4Stream, V4RoomProperties, V5EventList).
 *
 * The spec marks no field required. chorus requires only what it routes on (event id, type, timestamp,
 * initiator userId; for messages messageId, message, user and stream), and accepts `null` wherever a field is
 * optional, as the BDK fixtures send it. Unknown fields are stripped from the parsed value (the raw event is
 * kept) and unknown event types parse as an envelope with an opaque payload.
 */
import { z } from 'zod';

/** A Symphony user id: int64 on the wire, sometimes a string of digits (EntityJSON mention values). */
export const userIdSchema = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]);

const optionalString = z.string().nullish();
const optionalBoolean = z.boolean().nullish();
const optionalInt = z.number().int().nullish();

/** `V4User`. */
export const v4UserSchema = z.object({
  userId: userIdSchema,
  firstName: optionalString,
  lastName: optionalString,
  displayName: optionalString,
  email: optionalString,
  username: optionalString,
});

/** `V4Stream`; `streamType` is IM, MIM, ROOM or POST (free string on the wire). */
export const v4StreamSchema = z.object({
  streamId: z.string().min(1),
  streamType: optionalString,
  roomName: optionalString,
  members: z.array(v4UserSchema).nullish(),
  external: optionalBoolean,
  crossPod: optionalBoolean,
  recipientTenantIds: z.array(z.number().int()).nullish(),
});

/** `V4AttachmentInfo`. */
export const v4AttachmentSchema = z.object({
  id: z.string(),
  name: z.string(),
  size: z.number().int(),
  images: z.array(z.object({ id: optionalString, dimension: optionalString })).nullish(),
});

const v4MessageShape = {
  messageId: z.string().min(1),
  parentMessageId: optionalString,
  timestamp: z.number().int(),
  /** PresentationML. */
  message: z.string(),
  /** EntityJSON as a JSON string (reference §2.3). */
  data: optionalString,
  attachments: z.array(v4AttachmentSchema).nullish(),
  user: v4UserSchema,
  stream: v4StreamSchema,
  externalRecipients: optionalBoolean,
  diagnostic: optionalString,
  userAgent: optionalString,
  originalFormat: optionalString,
  disclaimer: optionalString,
  sid: optionalString,
  replacing: optionalString,
  replacedBy: optionalString,
  initialTimestamp: optionalInt,
  initialMessageId: optionalString,
  silent: optionalBoolean,
};

/** `V4Message` (its `sharedMessage` is a V4Message without a further shared message). */
export const v4MessageSchema = z.object({
  ...v4MessageShape,
  sharedMessage: z.object(v4MessageShape).nullish(),
});

/** `V4RoomProperties`. */
export const v4RoomPropertiesSchema = z.object({
  name: optionalString,
  description: optionalString,
  creatorUser: v4UserSchema.nullish(),
  createdDate: optionalInt,
  external: optionalBoolean,
  crossPod: optionalBoolean,
  public: optionalBoolean,
  copyProtected: optionalBoolean,
  readOnly: optionalBoolean,
  discoverable: optionalBoolean,
  membersCanInvite: optionalBoolean,
  keywords: z.array(z.object({ key: optionalString, value: optionalString })).nullish(),
  canViewHistory: optionalBoolean,
});

const streamOnly = z.object({ stream: v4StreamSchema });
const affectedUser = z.object({ stream: v4StreamSchema, affectedUser: v4UserSchema });

/**
 * Each event type with its `payload` key and the payload's schema (SPEC V4Payload; reference §2.2).
 * The order is the spec's `V4Event.type` list.
 */
export const PAYLOADS = {
  MESSAGESENT: { key: 'messageSent', schema: z.object({ message: v4MessageSchema }) },
  SHAREDPOST: {
    key: 'sharedPost',
    schema: z.object({ message: v4MessageSchema, sharedMessage: v4MessageSchema }),
  },
  INSTANTMESSAGECREATED: { key: 'instantMessageCreated', schema: streamOnly },
  ROOMCREATED: {
    key: 'roomCreated',
    schema: z.object({ stream: v4StreamSchema, roomProperties: v4RoomPropertiesSchema.nullish() }),
  },
  ROOMUPDATED: {
    key: 'roomUpdated',
    schema: z.object({ stream: v4StreamSchema, newRoomProperties: v4RoomPropertiesSchema.nullish() }),
  },
  ROOMDEACTIVATED: { key: 'roomDeactivated', schema: streamOnly },
  ROOMREACTIVATED: { key: 'roomReactivated', schema: streamOnly },
  USERJOINEDROOM: { key: 'userJoinedRoom', schema: affectedUser },
  USERLEFTROOM: { key: 'userLeftRoom', schema: affectedUser },
  ROOMMEMBERPROMOTEDTOOWNER: { key: 'roomMemberPromotedToOwner', schema: affectedUser },
  ROOMMEMBERDEMOTEDFROMOWNER: { key: 'roomMemberDemotedFromOwner', schema: affectedUser },
  CONNECTIONREQUESTED: { key: 'connectionRequested', schema: z.object({ toUser: v4UserSchema }) },
  CONNECTIONACCEPTED: { key: 'connectionAccepted', schema: z.object({ fromUser: v4UserSchema }) },
  MESSAGESUPPRESSED: {
    key: 'messageSuppressed',
    schema: z.object({ messageId: z.string().min(1), stream: v4StreamSchema }),
  },
  SYMPHONYELEMENTSACTION: {
    key: 'symphonyElementsAction',
    schema: z.object({
      stream: v4StreamSchema,
      formMessageId: z.string(),
      formId: z.string(),
      formValues: z.record(z.string(), z.unknown()),
    }),
  },
  USERREQUESTEDTOJOINROOM: {
    key: 'userRequestedToJoinRoom',
    schema: z.object({ stream: v4StreamSchema, affectedUsers: z.array(v4UserSchema) }),
  },
  GENERICSYSTEMEVENT: {
    key: 'genericSystemEvent',
    schema: z.object({
      stream: v4StreamSchema.nullish(),
      eventTimestamp: optionalInt,
      sourceSystem: z.string(),
      eventSubtype: z.string(),
      parameters: z.record(z.string(), z.unknown()).nullish(),
    }),
  },
} as const;

/** The 17 event types of the Agent API `V4Event.type`. */
export type EventType = keyof typeof PAYLOADS;

/** The event type names, in spec order. */
export const EVENT_TYPES = Object.keys(PAYLOADS) as EventType[];

/** True when `type` is one of the 17 known event types. */
export function isEventType(type: string): type is EventType {
  // MESSAGESENT first, for speed: nearly all traffic, and a string compare needs no property lookup by name.
  return type === 'MESSAGESENT' || Object.hasOwn(PAYLOADS, type);
}

/** The `V4Event` envelope; `payload` is checked per type by {@link PAYLOADS}. */
export const v4EnvelopeSchema = z.object({
  id: z.string().min(1),
  messageId: optionalString,
  timestamp: z.number().int(),
  type: z.string().min(1),
  diagnostic: optionalString,
  initiator: z.object({ user: v4UserSchema }),
  payload: z.record(z.string(), z.unknown()),
});

/** A datafeed read response (`V5EventList`): `{ events: V4Event[] (default []), ackId }`. */
export const v5EventListSchema = z.object({
  events: z.array(z.unknown()).nullish(),
  ackId: z.string(),
});

export type V4User = z.infer<typeof v4UserSchema>;
export type V4Stream = z.infer<typeof v4StreamSchema>;
export type V4Message = z.infer<typeof v4MessageSchema>;
export type V4RoomProperties = z.infer<typeof v4RoomPropertiesSchema>;
export type V4Envelope = z.infer<typeof v4EnvelopeSchema>;
export type V5EventList = z.infer<typeof v5EventListSchema>;
/** The parsed payload of an event type. */
export type V4PayloadOf<T extends EventType> = z.infer<(typeof PAYLOADS)[T]['schema']>;
