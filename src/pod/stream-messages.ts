/**
 * The pod's streams and their messages: posting (MessageML rendered, membership checked, a MESSAGESENT event
 * for every member) and listing (SPEC `POST /v4/stream/{sid}/message/create`, `GET /v4/stream/{sid}/message`).
 */
import { toMessageMLDocument, toPresentationML } from './messageml-to-presentation.ts';
import type { PodConfig } from './pod-config.ts';
import { fail, succeed, type PodResult } from './pod-result.ts';
import { toV4User, type UserDirectory, type WireV4User } from './pod-users.ts';
import { randomBase64url } from './random-id.ts';

/** A stream of the pod. */
export type PodStream = PodConfig['streams'][number];

/** A posted message as the Agent API returns it (SPEC `V4Message`; field order of BDK fixtures). */
export type WireV4Message = {
  readonly messageId: string;
  readonly timestamp: number;
  /** PresentationML. */
  readonly message: string;
  /** EntityJSON as a JSON string; `"{}"` without entities. */
  readonly data: string;
  readonly attachments?: readonly { id: string; name: string; size: number; images: [] }[];
  readonly user: WireV4User;
  readonly stream: { readonly streamId: string; readonly streamType: string };
  readonly userAgent: string;
  readonly originalFormat: 'com.symphony.messageml.v2';
};

/** What a client posts: the multipart fields of message/create. */
export type MessageInput = {
  /** MessageML, PresentationML or plain text (wrapped as BDK Java does). */
  readonly message: string;
  /** EntityJSON string. */
  readonly data?: string | undefined;
  /** Attached files: name and size in bytes (the content is not kept). */
  readonly attachments?: readonly { readonly name: string; readonly size: number }[];
};

/** Query of a message list (SPEC getMessages: `since` required, `limit` default 50, at most 500). */
export type MessageQuery = { since: number; until?: number | undefined; skip: number; limit: number };

/** The pod's streams and messages; see {@link createStreamMessages}. */
export type StreamMessages = {
  stream(streamId: string): PodStream | undefined;
  /**
   * Posts a message as `senderId`. 400 when the stream is unknown or the content is malformed, 403 when the
   * sender is not a member. On success every member (the sender too, as on a real pod) gets a MESSAGESENT
   * event through `publish`.
   */
  post(senderId: string, streamId: string, input: MessageInput): PodResult<WireV4Message>;
  /** Messages of a stream for a member, oldest first (of those kept). 400 unknown stream, 403 not a member. */
  list(userId: string, streamId: string, query: MessageQuery): PodResult<WireV4Message[]>;
  /** The kept messages of a stream, oldest first (empty for an unknown stream). */
  messages(streamId: string): WireV4Message[];
  /** The number of messages posted in all streams (kept or not). */
  count(): number;
};

/** The `userAgent` of messages posted to the embedded pod. */
export const POD_USER_AGENT = 'chorus-embedded-pod';

/**
 * Creates the stream and message store. `publish` receives each MESSAGESENT V4Event (initiator = sender,
 * random event id, `payload.messageSent.message` the V4Message with `externalRecipients: false`, shape of BDK
 * fixture `read_datafeedv5.json`) with the member user ids. At most `history` messages are kept for listing,
 * pod-wide (the oldest posted goes first; default: all).
 */
export function createStreamMessages(
  streams: readonly PodStream[],
  users: UserDirectory,
  now: () => number,
  publish: (event: object, userIds: readonly string[], message: WireV4Message) => void,
  history = Number.POSITIVE_INFINITY,
): StreamMessages {
  const byId = new Map(streams.map((s) => [s.streamId, s]));
  const log = new Map<string, WireV4Message[]>(streams.map((s) => [s.streamId, []]));
  let count = 0;
  // The streams of the kept messages, oldest first from `head`: past `history`, the oldest one is dropped.
  let keptIn: string[] = [];
  let head = 0;

  const keep = (streamId: string, message: WireV4Message): void => {
    if (history === 0) return;
    log.get(streamId)?.push(message);
    keptIn.push(streamId);
    if (keptIn.length - head <= history) return;
    log.get(keptIn[head] as string)?.shift();
    head += 1;
    if (head > 1024 && head * 2 > keptIn.length) {
      keptIn = keptIn.slice(head);
      head = 0;
    }
  };

  const access = (userId: string, streamId: string): PodResult<PodStream> => {
    const stream = byId.get(streamId);
    if (stream === undefined) return fail(400, `Stream ${streamId} does not exist`);
    if (!stream.members.includes(userId)) {
      // The body of a real 403 (BDK Java fixture `forbidden_error.json`).
      return fail(403, 'The user lacks the required entitlement to perform this operation');
    }
    return succeed(stream);
  };

  return {
    stream: (streamId) => byId.get(streamId),
    post(senderId, streamId, input) {
      const stream = access(senderId, streamId);
      if (!stream.ok) return stream;
      const sender = users.byId(senderId);
      if (sender === undefined) return fail(403, 'Unknown user');
      const document = toMessageMLDocument(input.message);
      if (!document.ok) return document;
      const rendered = toPresentationML(document.value, input.data, users);
      if (!rendered.ok) return rendered;
      const timestamp = now();
      const attachments = (input.attachments ?? []).map(({ name, size }) => ({
        id: `internal_${randomBase64url(12)}`,
        name,
        size,
        images: [] as [],
      }));
      const message: WireV4Message = {
        messageId: randomBase64url(25),
        timestamp,
        message: rendered.value.presentationML,
        data: rendered.value.data ?? '{}',
        ...(attachments.length === 0 ? {} : { attachments }),
        user: toV4User(sender),
        stream: { streamId, streamType: stream.value.streamType },
        userAgent: POD_USER_AGENT,
        originalFormat: 'com.symphony.messageml.v2',
      };
      keep(streamId, message);
      count += 1;
      publish(
        {
          id: randomBase64url(9),
          timestamp,
          type: 'MESSAGESENT',
          initiator: { user: message.user },
          payload: { messageSent: { message: { ...message, externalRecipients: false } } },
        },
        stream.value.members,
        message,
      );
      return succeed(message);
    },
    list(userId, streamId, query) {
      const stream = access(userId, streamId);
      if (!stream.ok) return stream;
      const matching = (log.get(streamId) ?? []).filter(
        (m) => m.timestamp >= query.since && (query.until === undefined || m.timestamp <= query.until),
      );
      return succeed(matching.slice(query.skip, query.skip + query.limit));
    },
    messages: (streamId) => [...(log.get(streamId) ?? [])],
    count: () => count,
  };
}
