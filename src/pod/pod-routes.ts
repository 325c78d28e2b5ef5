/**
 * The endpoints of the embedded pod, one handler each, with the paths, bodies and status codes of the specs
 * (LOGIN `/pubkey/authenticate`; pod `GET /v2/sessioninfo`; agent datafeed v5 and messages v4).
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { DatafeedRegistry } from './datafeed-queues.ts';
import type { FaultArea } from './faults.ts';
import { errorAnswer, failureAnswer, header, parseJsonBody, parseWith, type RouteAnswer } from './http-io.ts';
import { verifyAuthJwt } from './jwt-verify.ts';
import { toUserV2, type UserDirectory } from './pod-users.ts';
import type { Caller, SessionStore, TokenKind } from './sessions.ts';
import type { StreamMessages } from './stream-messages.ts';

/** What the handlers work with. */
export type PodServices = {
  readonly users: UserDirectory;
  readonly sessions: SessionStore;
  readonly feeds: DatafeedRegistry;
  readonly streams: StreamMessages;
  /** AgentInfo.version of `GET /agent/v1/info`. */
  readonly agentVersion: string;
  readonly now: () => number;
  readonly log: Logger;
};

/**
 * A request as a handler sees it: path parameters decoded, body read, `signal` aborted when the client leaves
 * or the pod closes (made when first read).
 */
export type RouteRequest = {
  readonly req: IncomingMessage;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: Buffer;
  /**
   * Aborted when the client leaves before the answer or the pod closes; made on first call (most requests need
   * none). A method, not a getter: V8 keeps the getter of an object literal made per request, and all its
   * closure holds (here the whole request), alive through scavenges until a full GC. Measured at 5k events/s
   * (`--trace-gc-nvp`, bench/e2e): the pod's scavenges kept 5.1 MB each with the getter, 0.3 MB with the method.
   */
  signal(): AbortSignal;
};

type RouteBase = {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path with `:name` parameters. */
  readonly path: string;
  readonly area: FaultArea;
  readonly maxBodyBytes: number;
  /** True for the datafeed read: the route a feed-expiry fault applies to (parameter `datafeedId`). */
  readonly readsFeed?: boolean;
};

/** A route: public (the authenticate endpoints) or called with tokens (`session`, or `session+km`). */
export type Route = RouteBase &
  (
    | { readonly auth: 'none'; handle(request: RouteRequest): Promise<RouteAnswer> | RouteAnswer }
    | {
        readonly auth: 'session' | 'session+km';
        handle(request: RouteRequest, caller: Caller): Promise<RouteAnswer> | RouteAnswer;
      }
  );

const JSON_LIMIT = 1024 * 1024;
const MULTIPART_LIMIT = 32 * 1024 * 1024;

const authenticateBody = z.object({ token: z.string() });
// Optional fields also accept null, as generated clients may serialize an unset field.
const createFeedBody = z.object({
  tag: z.string().min(1).max(100).nullish(),
  includeInvisible: z.boolean().nullish(),
});
const readFeedBody = z.object({ ackId: z.string().nullish(), updatePresence: z.boolean().nullish() });
const tagQuery = z.string().max(100).optional();
const int64 = z.string().regex(/^-?\d+$/, 'must be an integer').transform(Number);
const count = z.string().regex(/^\d+$/, 'must be a non-negative integer').transform(Number);
const listQuery = z.object({
  since: int64,
  until: int64.optional(),
  skip: count.optional(),
  limit: count.refine((n) => n <= 500, 'at most 500').optional(),
});

/**
 * The route table. Datafeed and message endpoints take both tokens (SPEC marks `keyManagerToken` optional; a bot
 * sends both), or the session token only when the pod offers Simplified Key Delivery (sessions.ts);
 * sessioninfo takes the session token only; the authenticate endpoints and `/agent/v1/info` take none.
 */
export function createRoutes(pod: PodServices): readonly Route[] {
  const json = { maxBodyBytes: JSON_LIMIT } as const;
  return [
    { method: 'POST', path: '/login/pubkey/authenticate', area: 'auth', auth: 'none', ...json,
      handle: (request) => authenticate(pod, request, 'sessionToken') },
    { method: 'POST', path: '/relay/pubkey/authenticate', area: 'auth', auth: 'none', ...json,
      handle: (request) => authenticate(pod, request, 'keyManagerToken') },
    { method: 'GET', path: '/pod/v2/sessioninfo', area: 'auth', auth: 'session', ...json,
      handle: (_request, caller) => sessionInfo(pod, caller) },
    // SPEC lists no token for /v1/info; BDK Java asks it before the session is complete (reference §3.4 SKD).
    { method: 'GET', path: '/agent/v1/info', area: 'auth', auth: 'none', ...json,
      handle: () => ({ status: 200, body: { version: pod.agentVersion, onPrem: false, mt: false } }) },
    { method: 'GET', path: '/agent/v5/datafeeds', area: 'datafeed', auth: 'session+km', ...json,
      handle: (request, caller) => listFeeds(pod, request, caller) },
    { method: 'POST', path: '/agent/v5/datafeeds', area: 'datafeed', auth: 'session+km', ...json,
      handle: (request, caller) => createFeed(pod, request, caller) },
    { method: 'DELETE', path: '/agent/v5/datafeeds/:datafeedId', area: 'datafeed', auth: 'session+km', ...json,
      handle: (request, caller) => deleteFeed(pod, request, caller) },
    { method: 'POST', path: '/agent/v5/datafeeds/:datafeedId/read', area: 'datafeed', auth: 'session+km', ...json,
      readsFeed: true, handle: (request, caller) => readFeed(pod, request, caller) },
    { method: 'POST', path: '/agent/v4/stream/:sid/message/create', area: 'message', auth: 'session+km',
      maxBodyBytes: MULTIPART_LIMIT, handle: (request, caller) => createMessage(pod, request, caller) },
    { method: 'GET', path: '/agent/v4/stream/:sid/message', area: 'message', auth: 'session+km', ...json,
      handle: (request, caller) => listMessages(pod, request, caller) },
  ];
}

/** LOGIN `/pubkey/authenticate` at `/login` (session token) and `/relay` (key manager token). */
function authenticate(pod: PodServices, request: RouteRequest, kind: TokenKind): RouteAnswer {
  const endpoint = kind === 'sessionToken' ? 'login' : 'relay';
  const body = parseJsonBody(request.body, authenticateBody);
  if (!body.ok) return failureAnswer(body);
  const verdict = verifyAuthJwt(body.value.token, (name) => pod.users.byUsername(name)?.publicKey, pod.now());
  const user = verdict.ok ? pod.users.byUsername(verdict.username) : undefined;
  if (user === undefined) {
    pod.log.info({ endpoint, reason: verdict.ok ? 'unknown-user' : verdict.reason }, 'pod authentication refused');
    return errorAnswer(401, 'Invalid authentication token');
  }
  pod.log.debug({ endpoint, userId: user.userId }, 'pod authentication accepted');
  return { status: 200, body: { name: kind, token: pod.sessions.issue(kind, user.userId) } };
}

function sessionInfo(pod: PodServices, caller: Caller): RouteAnswer {
  const user = pod.users.byId(caller.userId);
  return user === undefined ? errorAnswer(401, 'Invalid session') : { status: 200, body: toUserV2(user) };
}

function listFeeds(pod: PodServices, request: RouteRequest, caller: Caller): RouteAnswer {
  const tag = parseWith(tagQuery, request.query.get('tag') ?? undefined, 'tag');
  if (!tag.ok) return failureAnswer(tag);
  return { status: 200, body: pod.feeds.list(caller.userId, tag.value) };
}

function createFeed(pod: PodServices, request: RouteRequest, caller: Caller): RouteAnswer {
  const body = parseJsonBody(request.body, createFeedBody);
  if (!body.ok) return failureAnswer(body);
  const created = pod.feeds.create(caller.userId, { tag: body.value.tag ?? undefined });
  return created.ok ? { status: 201, body: created.value } : failureAnswer(created);
}

function deleteFeed(pod: PodServices, request: RouteRequest, caller: Caller): RouteAnswer {
  const removed = pod.feeds.remove(caller.userId, request.params['datafeedId'] ?? '');
  return removed.ok ? { status: 204 } : failureAnswer(removed);
}

async function readFeed(pod: PodServices, request: RouteRequest, caller: Caller): Promise<RouteAnswer> {
  const body = parseJsonBody(request.body, readFeedBody);
  if (!body.ok) return failureAnswer(body);
  const feedId = request.params['datafeedId'] ?? '';
  const batch = await pod.feeds.read(caller.userId, feedId, body.value.ackId ?? '', request.signal());
  if (!batch.ok) return failureAnswer(batch);
  const { events, ackId } = batch.value;
  return { status: 200, json: `{"events":[${events.join(',')}],"ackId":${JSON.stringify(ackId)}}` };
}

function listMessages(pod: PodServices, request: RouteRequest, caller: Caller): RouteAnswer {
  const query = parseWith(listQuery, Object.fromEntries(request.query), 'query');
  if (!query.ok) return failureAnswer(query);
  const { since, until, skip = 0, limit = 50 } = query.value;
  const listed = pod.streams.list(caller.userId, request.params['sid'] ?? '', { since, until, skip, limit });
  if (!listed.ok) return failureAnswer(listed);
  // SPEC getMessages documents 204 "No Messages" besides 200 with a V4MessageList.
  return listed.value.length === 0 ? { status: 204 } : { status: 200, body: listed.value };
}

/**
 * message/create: multipart/form-data with `message`, optional `data`, `version`, `attachment`, `preview`.
 * Parsed by undici's WHATWG `Request.formData()` (a maintained parser; a hand-written one was about 4× cheaper
 * per message, but the pod is not chorus's core, so the library wins).
 */
async function createMessage(pod: PodServices, request: RouteRequest, caller: Caller): Promise<RouteAnswer> {
  const contentType = header(request.req, 'content-type') ?? '';
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
    return errorAnswer(400, 'The body must be multipart/form-data');
  }
  let form: FormData;
  try {
    form = await new Request(FORM_URL, { method: 'POST', headers: { 'content-type': contentType }, body: request.body }).formData();
  } catch {
    return errorAnswer(400, 'The multipart/form-data body is malformed');
  }
  const message = await fieldText(form.get('message'));
  if (message === undefined) return errorAnswer(400, 'message: required');
  const data = await fieldText(form.get('data'));
  const attachments = form
    .getAll('attachment')
    .filter((part): part is File => typeof part !== 'string')
    .map((file) => ({ name: file.name, size: file.size }));
  const posted = pod.streams.post(caller.userId, request.params['sid'] ?? '', { message, data, attachments });
  if (!posted.ok) return failureAnswer(posted);
  pod.log.debug({ streamId: posted.value.stream.streamId, messageId: posted.value.messageId }, 'pod message posted');
  return { status: 200, body: posted.value };
}

/** The URL `Request` needs to parse a body; never fetched. */
const FORM_URL = 'http://pod.invalid/';

/** A form field's text: a string part as is, a file part's content as UTF-8. */
async function fieldText(part: ReturnType<FormData['get']>): Promise<string | undefined> {
  if (part === null) return undefined;
  return typeof part === 'string' ? part : part.text();
}
