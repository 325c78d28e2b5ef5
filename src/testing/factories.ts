/**
 * Event factories for listener tests: realistic Agent API wire events (`V4Event` JSON objects as the datafeed
 * returns them, reference §2; field order, stream shapes and initiators per DOCS
 * `bots/datafeed/real-time-events.md`), valid against src/events/wire-schema.ts, and deterministic: ids come
 * from counters and timestamps from a clock that advances 1000 ms an event, so a generated feed is
 * reproducible.
 *
 * One file over the 300-line soft cap: the 17 event builders share the id, clock and user bookkeeping, and
 * each is a few lines; splitting them would scatter one small API.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Stream, User } from '../events/event.ts';
import type {
  EventType,
  PAYLOADS,
  v4EnvelopeSchema,
  v4MessageSchema,
  v4RoomPropertiesSchema,
  v4StreamSchema,
  v4UserSchema,
} from '../events/wire-schema.ts';

/** A `V4User` as on the wire (the factories write `userId` as a number, the wire's int64). */
export type WireUser = z.input<typeof v4UserSchema>;
/** A `V4Stream` as on the wire. */
export type WireStream = z.input<typeof v4StreamSchema>;
/** A `V4Message` as on the wire: `message` is PresentationML, `data` the EntityJSON string. */
export type WireMessage = z.input<typeof v4MessageSchema>;
/** `V4RoomProperties` as on the wire. */
export type WireRoomProperties = z.input<typeof v4RoomPropertiesSchema>;
/** The payload of an event type, under its key (`payload.messageSent` for MESSAGESENT). */
export type WirePayload<T extends EventType> = z.input<(typeof PAYLOADS)[T]['schema']>;
/** A `V4Event` of type `T` (a union over all types by default). The objects are fresh and may be edited. */
export type WireEvent<T extends EventType = EventType> = {
  [K in T]: Omit<z.input<typeof v4EnvelopeSchema>, 'type' | 'payload'> & {
    type: K;
    payload: { [P in (typeof PAYLOADS)[K]['key']]: WirePayload<K> };
  };
}[T];
/** A datafeed read response (`V5EventList`). */
export type WireReadResponse = { events: WireEvent[]; ackId: string };

/** A user to create; every field is derived when absent (see {@link EventFactory.user}). */
export type UserSpec = {
  readonly userId?: string;
  readonly displayName?: string;
  readonly username?: string;
  readonly email?: string;
  readonly firstName?: string;
  readonly lastName?: string;
};

/** One part of a message's content: plain text (escaped) or an entity / markup made by the factory. */
export type ContentPart =
  | string
  | { readonly kind: 'mention'; readonly user: User }
  | { readonly kind: 'hashtag' | 'cashtag'; readonly value: string }
  | { readonly kind: 'markup'; readonly presentationML: string };

/** A message's content: one part or parts in reading order. */
export type Content = ContentPart | readonly ContentPart[];

/** Options of {@link createEventFactory}. */
export type EventFactoryOptions = {
  /** The bot (the datafeed's owner). Default: `{ userId: '7000000000001', displayName: 'Chorus Bot' }`. */
  readonly bot?: UserSpec & { readonly userId: string };
  /** Timestamp of the first event, ms since the epoch. Default: 1_767_225_600_000 (2026-01-01T00:00:00Z). */
  readonly startTimestamp?: number;
};

/** Room properties to set on ROOMCREATED / ROOMUPDATED (`creatorUser` and `createdDate` are filled in). */
export type RoomPropertiesSpec = Omit<WireRoomProperties, 'creatorUser' | 'createdDate'>;

/** A message to post: `from` writes `content` in `stream`. */
export type MessageSpec = {
  readonly stream: Stream;
  readonly from: User;
  readonly content: Content;
  /** Sizes in bytes; ids are generated. */
  readonly attachments?: readonly { readonly name: string; readonly size: number }[];
  readonly parentMessageId?: string;
};
/** A room lifecycle event: `by` is the initiator. */
export type RoomEventSpec = { readonly stream: Stream; readonly by: User };
/** A membership event: `user` is the affected user, `by` the initiator (default: `user`). */
export type MemberEventSpec = { readonly stream: Stream; readonly user: User; readonly by?: User };
/** An ownership event: `by` promoted or demoted `user`. */
export type OwnerEventSpec = { readonly stream: Stream; readonly user: User; readonly by: User };

/** What {@link createEventFactory} returns. Users and streams are handles in the normalized model's shape. */
export type EventFactory = {
  /** The bot, as a user. */
  readonly bot: User;
  /** A user; absent fields are derived: `userId` from a counter, `displayName` `User <n>`, `username`
   * `alice.ng` from `Alice Ng` (made unique), `email` `<username>@example.com`, first/last name split. */
  user(spec?: UserSpec): User;
  /** A ROOM stream (`external`/`crossPod` false unless given); `roomName` defaults to `Room <n>`. */
  room(spec?: { readonly roomName?: string; readonly external?: boolean; readonly crossPod?: boolean }): Stream;
  /** An IM (1-1 chat) of `user` with the bot. */
  im(user: User): Stream;
  /** A MIM (multi-party chat, deprecated by Symphony) of `users` with the bot. */
  mim(users: readonly User[]): Stream;
  /** The wall (POST stream) of `user`, the same stream for every call. */
  wall(user: User): Stream;
  /** An @mention entity of `user` (`@<displayName>`). */
  mention(user: User): ContentPart;
  /** An @mention entity of the bot. */
  mentionBot(): ContentPart;
  /** A hashtag entity (`#bot`); a leading `#` in `value` is dropped. */
  hashtag(value: string): ContentPart;
  /** A cashtag entity (`$AAPL`); a leading `$` in `value` is dropped. */
  cashtag(value: string): ContentPart;
  /** PresentationML inserted as is (not escaped), e.g. `<b>bold</b>` or `<br/>`. */
  markup(presentationML: string): ContentPart;
  /** Moves the clock forward by `ms` milliseconds (the next event is `ms` + 1000 ms after the last). */
  advance(ms: number): void;
  /** MESSAGESENT: `from` posts `content` in `stream` (the initiator is the author, as on the wire). */
  message(spec: MessageSpec): WireEvent<'MESSAGESENT'>;
  /** Same as {@link EventFactory.message}, named after the payload key. */
  messageSent(spec: MessageSpec): WireEvent<'MESSAGESENT'>;
  /** SHAREDPOST: `from` shares, on their wall, a post `shared.from` wrote on theirs. */
  sharedPost(spec: {
    readonly from: User;
    readonly content?: Content;
    readonly shared: { readonly from: User; readonly content: Content };
  }): WireEvent<'SHAREDPOST'>;
  /** INSTANTMESSAGECREATED for an IM/MIM of this factory (members listed); `by` defaults to its first non-bot
   * member. */
  instantMessageCreated(spec: { readonly stream: Stream; readonly by?: User }): WireEvent<'INSTANTMESSAGECREATED'>;
  /** ROOMCREATED by `by`, with full room properties (`properties` override the defaults). */
  roomCreated(spec: RoomEventSpec & { readonly properties?: RoomPropertiesSpec }): WireEvent<'ROOMCREATED'>;
  /** ROOMUPDATED by `by`; `newRoomProperties` is `{ name, ...properties }`. */
  roomUpdated(spec: RoomEventSpec & { readonly properties: RoomPropertiesSpec }): WireEvent<'ROOMUPDATED'>;
  /** ROOMDEACTIVATED (its stream carries no roomName, as on the wire). */
  roomDeactivated(spec: RoomEventSpec): WireEvent<'ROOMDEACTIVATED'>;
  /** ROOMREACTIVATED. */
  roomReactivated(spec: RoomEventSpec): WireEvent<'ROOMREACTIVATED'>;
  /** USERJOINEDROOM: `user` joined, or was added by `by` (default: `user`). */
  userJoinedRoom(spec: MemberEventSpec): WireEvent<'USERJOINEDROOM'>;
  /** USERLEFTROOM: `user` left, or was removed by `by` (default: `user`). */
  userLeftRoom(spec: MemberEventSpec): WireEvent<'USERLEFTROOM'>;
  /** ROOMMEMBERPROMOTEDTOOWNER: `by` made `user` an owner. */
  roomMemberPromotedToOwner(spec: OwnerEventSpec): WireEvent<'ROOMMEMBERPROMOTEDTOOWNER'>;
  /** ROOMMEMBERDEMOTEDFROMOWNER: `by` demoted `user`. */
  roomMemberDemotedFromOwner(spec: OwnerEventSpec): WireEvent<'ROOMMEMBERDEMOTEDFROMOWNER'>;
  /** CONNECTIONREQUESTED: `from` asked `to` (default: the bot) to connect. */
  connectionRequested(spec: { readonly from: User; readonly to?: User }): WireEvent<'CONNECTIONREQUESTED'>;
  /** CONNECTIONACCEPTED: `by` accepted the request `from` (default: the bot) sent. */
  connectionAccepted(spec: { readonly by: User; readonly from?: User }): WireEvent<'CONNECTIONACCEPTED'>;
  /** MESSAGESUPPRESSED by `by`, of a message event of this factory or of `messageId` in `stream`. */
  messageSuppressed(
    spec:
      | { readonly message: WireEvent<'MESSAGESENT'>; readonly by: User }
      | { readonly stream: Stream; readonly messageId: string; readonly by: User },
  ): WireEvent<'MESSAGESUPPRESSED'>;
  /** SYMPHONYELEMENTSACTION: `from` submitted form `formId` with the button `action` (default `submit`);
   * `formValues` is `{ action, ...values }`; `formMessageId` defaults to a fresh message id. */
  elementsAction(spec: {
    readonly stream: Stream;
    readonly from: User;
    readonly formId: string;
    readonly action?: string;
    readonly values?: Readonly<Record<string, unknown>>;
    readonly formMessageId?: string;
  }): WireEvent<'SYMPHONYELEMENTSACTION'>;
  /** USERREQUESTEDTOJOINROOM: `user` asks to join; `owners` are the room owners (`affectedUsers`). */
  userRequestedToJoinRoom(spec: {
    readonly stream: Stream;
    readonly user: User;
    readonly owners: readonly User[];
  }): WireEvent<'USERREQUESTEDTOJOINROOM'>;
  /** GENERICSYSTEMEVENT; `eventTimestamp` is the event's timestamp, `parameters` default `{}`. */
  genericSystemEvent(spec: {
    readonly by: User;
    readonly sourceSystem: string;
    readonly eventSubtype: string;
    readonly parameters?: Readonly<Record<string, unknown>>;
    readonly stream?: Stream;
  }): WireEvent<'GENERICSYSTEMEVENT'>;
  /** A datafeed read response holding `events`; `ackId` defaults to a fresh opaque id. */
  readResponse(events: readonly WireEvent[], ackId?: string): WireReadResponse;
};

const DEFAULT_BOT = { userId: '7000000000001', displayName: 'Chorus Bot' } as const;
const PRESENTATION_ML_OPEN = '<div data-format="PresentationML" data-version="2.0">';
const SIGILS = { hashtag: '#', cashtag: '$' } as const;

/**
 * Creates an event factory. Everything it makes is deterministic: two factories created with the same options
 * and called in the same order return identical objects. Ids are unique within a factory: stream and message
 * ids are URL-safe base64 of 25 bytes (34 characters, as the Agent API returns them), event ids 6 characters,
 * user ids numeric strings near the bot's. Each event takes the next timestamp (+1000 ms).
 *
 * Messages render as the agent renders API-sent MessageML (finos/messageml-utils): plain strings escaped
 * (`& < > "`), each entity a `<span class="entity" data-entity-id="mention1">@Alice Ng</span>` numbered in
 * reading order (`mention<n>` for mentions, `keyword<n>` for hashtags and cashtags), and `data` the EntityJSON
 * string (absent without entities; reference §2.4).
 *
 * @throws RangeError when a user id is not a string of digits that fits a safe integer (the wire's int64 is
 *   written as a JSON number), or `startTimestamp` (here) or `advance`'s `ms` is not an integer (`ms` >= 0).
 * @example
 * const f = createEventFactory({ bot: { userId: '7000000000001', displayName: 'Chorus Bot' } });
 * const alice = f.user({ displayName: 'Alice Ng' });
 * const room = f.room({ roomName: 'Trading desk' });
 * const feed = [
 *   f.userJoinedRoom({ stream: room, user: alice }),
 *   f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /buy 100 ', f.cashtag('AAPL')] }),
 * ];
 */
export function createEventFactory(options: EventFactoryOptions = {}): EventFactory {
  const usedIds = new Set<string>();
  const usedUserIds = new Set<string>();
  const usedUsernames = new Set<string>();
  const members = new Map<string, readonly User[]>();
  const walls = new Map<string, Stream>();
  // user: user ids handed out; named: default display names; room: default room names; id: opaque ids.
  const counters = { user: 0, named: 0, room: 0, id: 0 };
  let clock = options.startTimestamp ?? 1_767_225_600_000;
  if (!Number.isSafeInteger(clock)) {
    throw new RangeError(`createEventFactory: startTimestamp must be an integer (ms), got ${clock}`);
  }

  const tick = (): number => {
    const now = clock;
    clock += 1000;
    return now;
  };

  // An opaque id: URL-safe base64 of `bytes` bytes of a counter-seeded hash, unique within the factory.
  const opaqueId = (bytes: number): string => {
    for (;;) {
      counters.id += 1;
      const id = createHash('sha256').update(`chorus:${counters.id}`).digest().subarray(0, bytes).toString('base64url');
      if (!usedIds.has(id)) {
        usedIds.add(id);
        return id;
      }
    }
  };

  const makeUser = (spec: UserSpec, fallbackName: () => string): User => {
    const displayName = spec.displayName ?? fallbackName();
    const userId = spec.userId ?? nextUserId();
    if (!/^\d+$/.test(userId) || !Number.isSafeInteger(Number(userId))) {
      throw new RangeError(`createEventFactory: userId must be digits within a safe integer, got "${userId}"`);
    }
    usedUserIds.add(userId);
    const username = spec.username ?? uniqueUsername(displayName);
    usedUsernames.add(username);
    const [first, ...rest] = displayName.trim().split(/\s+/);
    const firstName = spec.firstName ?? (first === '' ? undefined : first);
    const lastName = spec.lastName ?? (rest.length > 0 ? rest.join(' ') : undefined);
    return {
      userId,
      displayName,
      username,
      email: spec.email ?? `${username}@example.com`,
      ...(firstName === undefined ? {} : { firstName }),
      ...(lastName === undefined ? {} : { lastName }),
    };
  };

  const botSpec = options.bot ?? DEFAULT_BOT;
  const bot = makeUser(botSpec, () => DEFAULT_BOT.displayName);
  // New users get ids after the bot's, in its 2^36 block (the shape of Symphony ids, which share a pod prefix).
  const userIdBase = Math.floor(Number(bot.userId) / 2 ** 36) * 2 ** 36 + 1_000_000;

  function nextUserId(): string {
    for (;;) {
      counters.user += 1;
      const id = String(userIdBase + counters.user);
      if (!usedUserIds.has(id)) return id;
    }
  }

  function uniqueUsername(displayName: string): string {
    const base = displayName.toLowerCase().replace(/[^a-z0-9]+/g, '.').replace(/^\.+|\.+$/g, '') || 'user';
    let candidate = base;
    for (let n = 2; usedUsernames.has(candidate); n += 1) candidate = `${base}.${n}`;
    return candidate;
  }

  const chat = (streamType: 'IM' | 'MIM', users: readonly User[]): Stream => {
    const stream = { streamId: opaqueId(25), streamType };
    members.set(stream.streamId, [bot, ...users]);
    return stream;
  };

  // The envelope fields in the wire's order: id, timestamp, type, initiator (payload follows).
  const envelope = <T extends EventType>(type: T, initiator: User) => ({
    id: opaqueId(4),
    timestamp: tick(),
    type,
    initiator: { user: toWireUser(initiator) },
  });

  const buildMessage = (spec: MessageSpec, stream: WireStream, timestamp: number) => {
    const { presentationML, data } = renderContent(spec.content);
    return {
      messageId: opaqueId(25),
      ...(spec.parentMessageId === undefined ? {} : { parentMessageId: spec.parentMessageId }),
      timestamp,
      message: presentationML,
      ...(data === undefined ? {} : { data }),
      ...(spec.attachments === undefined
        ? {}
        : { attachments: spec.attachments.map(({ name, size }) => ({ id: opaqueId(25), name, size })) }),
      user: toWireUser(spec.from),
      externalRecipients: false,
      stream,
      originalFormat: 'com.symphony.messageml.v2',
    } satisfies WireMessage;
  };

  const message = (spec: MessageSpec): WireEvent<'MESSAGESENT'> => {
    const head = envelope('MESSAGESENT', spec.from);
    const msg = buildMessage(spec, messageStream(spec.stream), head.timestamp);
    return { ...head, payload: { messageSent: { message: msg } } };
  };

  const wall = (user: User): Stream => {
    const known = walls.get(user.userId);
    if (known !== undefined) return known;
    const stream = { streamId: opaqueId(25), streamType: 'POST' };
    walls.set(user.userId, stream);
    return stream;
  };

  return {
    bot,
    user: (spec = {}) =>
      makeUser(spec, () => {
        counters.named += 1;
        return `User ${counters.named}`;
      }),
    room: (spec = {}) => {
      counters.room += 1;
      return {
        streamId: opaqueId(25),
        streamType: 'ROOM',
        roomName: spec.roomName ?? `Room ${counters.room}`,
        external: spec.external ?? false,
        crossPod: spec.crossPod ?? false,
      };
    },
    im: (user) => chat('IM', [user]),
    mim: (users) => chat('MIM', users),
    wall,
    mention: (user) => ({ kind: 'mention', user }),
    mentionBot: () => ({ kind: 'mention', user: bot }),
    hashtag: (value) => ({ kind: 'hashtag', value: value.replace(/^#/, '') }),
    cashtag: (value) => ({ kind: 'cashtag', value: value.replace(/^\$/, '') }),
    markup: (presentationML) => ({ kind: 'markup', presentationML }),
    advance: (ms) => {
      if (!Number.isSafeInteger(ms) || ms < 0) {
        throw new RangeError(`createEventFactory: advance takes a non-negative integer (ms), got ${ms}`);
      }
      clock += ms;
    },
    message,
    messageSent: message,
    sharedPost: ({ from, content = '', shared }) => {
      const original = { from: shared.from, content: shared.content, stream: wall(shared.from) };
      const sharedMessage = buildMessage(original, messageStream(original.stream), tick());
      const head = envelope('SHAREDPOST', from);
      const msg = buildMessage({ from, content, stream: wall(from) }, messageStream(wall(from)), head.timestamp);
      return { ...head, payload: { sharedPost: { message: msg, sharedMessage } } };
    },
    instantMessageCreated: ({ stream, by }) => {
      const listed = members.get(stream.streamId) ?? [];
      const other = listed.find((member) => member.userId !== bot.userId);
      const head = envelope('INSTANTMESSAGECREATED', by ?? other ?? bot);
      const wire = {
        ...messageStream(stream),
        members: listed.map((member) => ({ userId: Number(member.userId) })),
        external: stream.external ?? false,
      };
      return { ...head, payload: { instantMessageCreated: { stream: wire } } };
    },
    roomCreated: ({ stream, by, properties = {} }) => {
      const head = envelope('ROOMCREATED', by);
      const roomProperties = {
        ...(stream.roomName === undefined ? {} : { name: stream.roomName }),
        description: '',
        creatorUser: toWireUser(by),
        createdDate: head.timestamp,
        external: stream.external ?? false,
        crossPod: stream.crossPod ?? false,
        public: false,
        copyProtected: false,
        readOnly: false,
        discoverable: false,
        membersCanInvite: true,
        canViewHistory: false,
        ...properties,
      };
      return { ...head, payload: { roomCreated: { stream: roomStream(stream), roomProperties } } };
    },
    roomUpdated: ({ stream, by, properties }) => {
      const head = envelope('ROOMUPDATED', by);
      const newRoomProperties = { ...(stream.roomName === undefined ? {} : { name: stream.roomName }), ...properties };
      const payload = { stream: roomStream(stream), newRoomProperties };
      return { ...head, payload: { roomUpdated: payload } };
    },
    roomDeactivated: ({ stream, by }) => ({
      ...envelope('ROOMDEACTIVATED', by),
      payload: { roomDeactivated: { stream: messageStream(stream) } },
    }),
    roomReactivated: ({ stream, by }) => ({
      ...envelope('ROOMREACTIVATED', by),
      payload: { roomReactivated: { stream: roomStream(stream) } },
    }),
    userJoinedRoom: ({ stream, user, by = user }) => ({
      ...envelope('USERJOINEDROOM', by),
      payload: { userJoinedRoom: { stream: roomStream(stream), affectedUser: toWireUser(user) } },
    }),
    userLeftRoom: ({ stream, user, by = user }) => ({
      ...envelope('USERLEFTROOM', by),
      payload: { userLeftRoom: { stream: roomStream(stream), affectedUser: toWireUser(user) } },
    }),
    roomMemberPromotedToOwner: ({ stream, user, by }) => ({
      ...envelope('ROOMMEMBERPROMOTEDTOOWNER', by),
      payload: { roomMemberPromotedToOwner: { stream: roomStream(stream), affectedUser: toWireUser(user) } },
    }),
    roomMemberDemotedFromOwner: ({ stream, user, by }) => ({
      ...envelope('ROOMMEMBERDEMOTEDFROMOWNER', by),
      payload: { roomMemberDemotedFromOwner: { stream: roomStream(stream), affectedUser: toWireUser(user) } },
    }),
    connectionRequested: ({ from, to = bot }) => ({
      ...envelope('CONNECTIONREQUESTED', from),
      payload: { connectionRequested: { toUser: toWireUser(to) } },
    }),
    connectionAccepted: ({ by, from = bot }) => ({
      ...envelope('CONNECTIONACCEPTED', by),
      payload: { connectionAccepted: { fromUser: toWireUser(from) } },
    }),
    messageSuppressed: (spec) => {
      let target: { messageId: string; stream: WireStream };
      if ('message' in spec) {
        const { messageId, stream } = spec.message.payload.messageSent.message;
        target = { messageId, stream: { ...stream } };
      } else {
        target = { messageId: spec.messageId, stream: messageStream(spec.stream) };
      }
      return { ...envelope('MESSAGESUPPRESSED', spec.by), payload: { messageSuppressed: target } };
    },
    elementsAction: ({ stream, from, formId, action = 'submit', values = {}, formMessageId }) => {
      const head = envelope('SYMPHONYELEMENTSACTION', from);
      const payload = {
        stream: messageStream(stream),
        formMessageId: formMessageId ?? opaqueId(25),
        formId,
        formValues: { action, ...values },
      };
      return { ...head, payload: { symphonyElementsAction: payload } };
    },
    userRequestedToJoinRoom: ({ stream, user, owners }) => ({
      ...envelope('USERREQUESTEDTOJOINROOM', user),
      payload: { userRequestedToJoinRoom: { stream: messageStream(stream), affectedUsers: owners.map(toWireUser) } },
    }),
    genericSystemEvent: ({ by, sourceSystem, eventSubtype, parameters = {}, stream }) => {
      const head = envelope('GENERICSYSTEMEVENT', by);
      const payload = {
        ...(stream === undefined ? {} : { stream: roomStream(stream) }),
        eventTimestamp: head.timestamp,
        sourceSystem,
        eventSubtype,
        parameters: { ...parameters },
      };
      return { ...head, payload: { genericSystemEvent: payload } };
    },
    readResponse: (events, ackId) => ({ events: [...events], ackId: ackId ?? opaqueId(24) }),
  };
}

/** The wire form of a user handle: `userId` as a number, then the fields the handle has. */
function toWireUser(user: User): { userId: number } & Omit<WireUser, 'userId'> {
  return {
    userId: Number(user.userId),
    ...(user.firstName === undefined ? {} : { firstName: user.firstName }),
    ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
    displayName: user.displayName,
    ...(user.email === undefined ? {} : { email: user.email }),
    ...(user.username === undefined ? {} : { username: user.username }),
  };
}

/** A stream as messages carry it: `streamId` and `streamType` only. */
function messageStream(stream: Stream): { streamId: string; streamType: string } {
  return { streamId: stream.streamId, streamType: stream.streamType };
}

/** A stream as room events carry it: with `roomName`, `external` and `crossPod`. */
function roomStream(stream: Stream): WireStream {
  return {
    ...messageStream(stream),
    ...(stream.roomName === undefined ? {} : { roomName: stream.roomName }),
    external: stream.external ?? false,
    crossPod: stream.crossPod ?? false,
  };
}

/** Escapes text for PresentationML: `&`, `<`, `>` and `"`. */
function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Content → PresentationML and the EntityJSON string (undefined without entities). */
function renderContent(content: Content): { presentationML: string; data: string | undefined } {
  const parts = (Array.isArray(content) ? content : [content]) as readonly ContentPart[];
  const entities: Record<string, unknown> = {};
  let count = 0;
  let body = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      body += escapeText(part);
    } else if (part.kind === 'markup') {
      body += part.presentationML;
    } else {
      count += 1;
      const id = `${part.kind === 'mention' ? 'mention' : 'keyword'}${count}`;
      const text = part.kind === 'mention' ? `@${part.user.displayName}` : `${SIGILS[part.kind]}${part.value}`;
      body += `<span class="entity" data-entity-id="${id}">${escapeText(text)}</span>`;
      entities[id] = entityOf(part);
    }
  }
  const presentationML = `${PRESENTATION_ML_OPEN}${body}</div>`;
  return { presentationML, data: count === 0 ? undefined : JSON.stringify(entities) };
}

/** The EntityJSON object of an entity (reference §2.4; MMLU MentionTest, HashtagTest, CashtagTest). */
function entityOf(part: Exclude<ContentPart, string | { kind: 'markup' }>): unknown {
  const [type, idType, value] =
    part.kind === 'mention'
      ? ['com.symphony.user.mention', 'com.symphony.user.userId', part.user.userId]
      : part.kind === 'hashtag'
        ? ['org.symphonyoss.taxonomy', 'org.symphonyoss.taxonomy.hashtag', part.value]
        : ['org.symphonyoss.fin.security', 'org.symphonyoss.fin.security.id.ticker', part.value];
  return { type, version: '1.0', id: [{ type: idType, value }] };
}
