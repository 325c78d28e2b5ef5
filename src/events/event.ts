/**
 * The normalized event model: what listeners see. Built from a validated wire event (`V4Event`) by
 * `parseWireEvent`. User ids are strings (int64 on the wire, string or number in EntityJSON); payload fields are
 * lifted to the top of the event, so a USERJOINEDROOM event has `event.affectedUser`.
 */
import type { EventType } from './wire-schema.ts';

/** A Symphony user. `displayName` falls back to the username, then to the user id. */
export type User = {
  readonly userId: string;
  readonly displayName: string;
  readonly username?: string;
  readonly email?: string;
  readonly firstName?: string;
  readonly lastName?: string;
};

/** A stream (conversation). `streamType` is IM, MIM, ROOM or POST. */
export type Stream = {
  readonly streamId: string;
  readonly streamType: string;
  readonly roomName?: string;
  readonly external?: boolean;
  readonly crossPod?: boolean;
  /** Listed on INSTANTMESSAGECREATED only. */
  readonly members?: readonly User[];
};

/** An @mention entity: `text` as rendered (`@Jane Doe`), `displayName` without the `@`. */
export type Mention = { readonly text: string; readonly userId: string; readonly displayName: string };

/** A hashtag or cashtag entity: `text` as rendered (`#bot`, `$AAPL`), `value` without `#`/`$`. */
export type Tag = { readonly text: string; readonly value: string };

/**
 * One token of a message, in reading order: a whitespace-separated word of plain text, or an entity from
 * PresentationML + EntityJSON. Typed text such as `@Chorus Bot` or `$AAPL` without an entity is words.
 */
export type Token =
  | { readonly kind: 'word'; readonly text: string }
  | ({ readonly kind: 'mention' } & Mention)
  | ({ readonly kind: 'hashtag' } & Tag)
  | ({ readonly kind: 'cashtag' } & Tag);

/** A file attached to a message (`V4AttachmentInfo`); `size` in bytes. */
export type Attachment = { readonly id: string; readonly name: string; readonly size: number };

/** A message (`V4Message`) with its PresentationML parsed into text and tokens. */
export type Message = {
  readonly messageId: string;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly stream: Stream;
  readonly user: User;
  /** The message as received, PresentationML (`<div data-format="PresentationML" ...>`). */
  readonly presentationML: string;
  /** The parsed EntityJSON (`data`), `{}` when absent. */
  readonly entityJSON: Readonly<Record<string, unknown>>;
  /** Plain text: entities as rendered, block elements and `<br/>` as line breaks, trimmed. */
  readonly text: string;
  readonly tokens: readonly Token[];
  readonly mentions: readonly Mention[];
  readonly hashtags: readonly Tag[];
  readonly cashtags: readonly Tag[];
  readonly attachments: readonly Attachment[];
  readonly parentMessageId?: string;
};

/** `V4RoomProperties`, with only the fields the wire event carried. */
export type RoomProperties = {
  readonly name?: string;
  readonly description?: string;
  readonly creatorUser?: User;
  readonly createdDate?: number;
  readonly external?: boolean;
  readonly crossPod?: boolean;
  readonly public?: boolean;
  readonly copyProtected?: boolean;
  readonly readOnly?: boolean;
  readonly discoverable?: boolean;
  readonly membersCanInvite?: boolean;
  readonly keywords?: readonly { readonly key?: string; readonly value?: string }[];
  readonly canViewHistory?: boolean;
};

/** The payload fields of each event type, lifted to the top of the event (reference §2.2). */
export type EventPayloads = {
  MESSAGESENT: { readonly stream: Stream; readonly message: Message };
  SHAREDPOST: { readonly stream: Stream; readonly message: Message; readonly sharedMessage: Message };
  INSTANTMESSAGECREATED: { readonly stream: Stream };
  ROOMCREATED: { readonly stream: Stream; readonly roomProperties?: RoomProperties };
  ROOMUPDATED: { readonly stream: Stream; readonly newRoomProperties?: RoomProperties };
  ROOMDEACTIVATED: { readonly stream: Stream };
  ROOMREACTIVATED: { readonly stream: Stream };
  USERJOINEDROOM: { readonly stream: Stream; readonly affectedUser: User };
  USERLEFTROOM: { readonly stream: Stream; readonly affectedUser: User };
  ROOMMEMBERPROMOTEDTOOWNER: { readonly stream: Stream; readonly affectedUser: User };
  ROOMMEMBERDEMOTEDFROMOWNER: { readonly stream: Stream; readonly affectedUser: User };
  CONNECTIONREQUESTED: { readonly toUser: User };
  CONNECTIONACCEPTED: { readonly fromUser: User };
  MESSAGESUPPRESSED: { readonly stream: Stream; readonly messageId: string };
  SYMPHONYELEMENTSACTION: {
    readonly stream: Stream;
    readonly formMessageId: string;
    readonly formId: string;
    /** Form values by element name; `action` is the clicked button's name. */
    readonly formValues: Readonly<Record<string, unknown>>;
  };
  USERREQUESTEDTOJOINROOM: { readonly stream: Stream; readonly affectedUsers: readonly User[] };
  GENERICSYSTEMEVENT: {
    readonly stream?: Stream;
    readonly eventTimestamp?: number;
    readonly sourceSystem: string;
    readonly eventSubtype: string;
    readonly parameters: Readonly<Record<string, unknown>>;
  };
};

/** Fields every event has. */
export type EventBase<T extends EventType> = {
  readonly type: T;
  /** The event id (`V4Event.id`); not unique for simultaneous activities, so not the dedupe key of messages. */
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** Who caused the event (`initiator.user`). */
  readonly initiator: User;
  /**
   * The key events are ordered and stored under: the streamId when the event has a stream, otherwise
   * `connection:<initiator userId>` (connection events) or `system:<sourceSystem>`.
   */
  readonly conversationId: string;
  /** The redelivery dedupe key: `message:<messageId>` for MESSAGESENT and SHAREDPOST, else `event:<id>`. */
  readonly dedupeKey: string;
};

/** A normalized event of type `T` (a union over all types by default). */
export type ChorusEvent<T extends EventType = EventType> = {
  [K in T]: EventBase<K> & EventPayloads[K];
}[T];
