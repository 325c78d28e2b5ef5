/**
 * The entry of the embedded Symphony-compatible pod: a loopback HTTP server speaking the login, sessioninfo,
 * datafeed v2 and message endpoints of the Agent API, for local runs (`npm start`) and integration tests of
 * the real Agent API client.
 */
import { pino } from 'pino';
import { ChorusError } from '../errors.ts';
import { createDatafeedRegistry, type DatafeedStats } from './datafeed-queues.ts';
import { createFaultInjector, type FaultKind, type FaultOptions } from './faults.ts';
import { parsePodConfig, type EmbeddedPodOptions } from './pod-config.ts';
import { createRoutes } from './pod-routes.ts';
import { startPodServer } from './pod-server.ts';
import { createUserDirectory } from './pod-users.ts';
import { createSessionStore } from './sessions.ts';
import { createStreamMessages, type WireV4Message } from './stream-messages.ts';

export type { EmbeddedPodOptions } from './pod-config.ts';
export type { FaultOptions } from './faults.ts';
export type { WireV4Message } from './stream-messages.ts';

/** Counters of a running pod. */
export type EmbeddedPodStats = DatafeedStats & {
  /** Messages posted (HTTP and {@link EmbeddedPod.postMessage}). */
  messages: number;
  /** Live session and key manager tokens. */
  tokens: number;
  /** Injected faults by kind. */
  faults: Record<FaultKind, number>;
};

/** A running embedded pod. */
export type EmbeddedPod = {
  /** Base URL, `http://127.0.0.1:<port>`: login at `<url>/login`, key manager at `<url>/relay`, agent at
   * `<url>/agent`, pod at `<url>/pod`. */
  readonly url: string;
  /** Stops the server: long polls end, connections close, timers stop. */
  close(): Promise<void>;
  /**
   * The PKCS#8 PEM private key the pod generated (or read from `keysDir`) for `username`.
   *
   * @throws ChorusError CHORUS_ERR_POD_REJECTED when the user is unknown or was configured with its own key.
   */
  privateKeyPem(username: string): string;
  /**
   * Posts a message as `username`, as `POST /agent/v4/stream/{sid}/message/create` would: same rendering,
   * membership check and MESSAGESENT events.
   *
   * @throws ChorusError CHORUS_ERR_POD_REJECTED with the endpoint's status and message (unknown user or stream,
   *   not a member, malformed MessageML).
   */
  postMessage(username: string, streamId: string, messageMLOrText: string): WireV4Message;
  /**
   * Puts a raw V4Event wire object into feeds: those of `toUserIds`, else of the members of the stream the
   * payload names (`payload.<key>.stream` or `payload.<key>.message.stream`), else of every user. The event is
   * serialized now (later changes to the object do not reach readers) and not validated.
   *
   * @throws ChorusError CHORUS_ERR_POD_REJECTED when the event cannot be serialized as JSON.
   */
  publish(event: object, toUserIds?: readonly string[]): void;
  /** The messages of a stream, oldest first. */
  messages(streamId: string): WireV4Message[];
  /**
   * Replaces the fault options (the PRNG sequence goes on).
   *
   * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when they are invalid.
   */
  setFaults(faults: FaultOptions): void;
  stats(): EmbeddedPodStats;
};

/**
 * Starts an embedded pod. Users without `publicKeyPem` get generated RSA keys (see `keysDir`); the pod then
 * serves:
 * - `POST /login/pubkey/authenticate`, `POST /relay/pubkey/authenticate` (RS512 JWT, reference §3.4);
 * - `GET /pod/v2/sessioninfo`;
 * - `GET /agent/v1/info` (AgentInfo: the version of `agent.version`; with `agent.simplifiedKeyDelivery`, Agent
 *   calls need the session token only, reference §3.4);
 * - `GET|POST /agent/v5/datafeeds`, `DELETE /agent/v5/datafeeds/{id}`, `POST /agent/v5/datafeeds/{id}/read`
 *   (reference §1);
 * - `POST /agent/v4/stream/{sid}/message/create`, `GET /agent/v4/stream/{sid}/message` (reference §3.1).
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when the options are invalid (the message names the field).
 * @throws ChorusError CHORUS_ERR_POD_START when the port cannot be bound or a key file cannot be read or written.
 * @example
 * const pod = await createEmbeddedPod({
 *   users: [
 *     { userId: '7000000000001', username: 'chorus-bot', displayName: 'Chorus Bot' },
 *     { userId: '7000000000002', username: 'alice', displayName: 'Alice Ng' },
 *   ],
 *   streams: [{ streamId: 'desk', streamType: 'ROOM', roomName: 'Desk', members: ['7000000000001', '7000000000002'] }],
 * });
 * pod.postMessage('alice', 'desk', '<messageML><mention uid="7000000000001"/> /help</messageML>');
 * await pod.close();
 */
export async function createEmbeddedPod(options: EmbeddedPodOptions): Promise<EmbeddedPod> {
  const { log: rootLog, now = Date.now, onMessage, ...data } = options;
  const config = parsePodConfig(data);
  const log = (rootLog ?? pino({ level: 'silent' })).child({ component: 'pod' });
  const users = await createUserDirectory(config.users, config.keysDir);
  const sessions = createSessionStore({ simplifiedKeyDelivery: config.agent.simplifiedKeyDelivery });
  const feeds = createDatafeedRegistry(config.datafeed, now);
  const faults = createFaultInjector(config.seed, config.faults);
  const allUserIds = users.all().map((u) => u.userId);

  const streams = createStreamMessages(
    config.streams,
    users,
    now,
    (event, userIds, message) => {
      feeds.publish(JSON.stringify(event), userIds);
      onMessage?.(message);
    },
    config.messageHistory,
  );
  const services = { users, sessions, feeds, streams, agentVersion: config.agent.version, now, log };
  const server = await startPodServer(config.host, config.port, createRoutes(services), services, faults);
  const reject = (status: number, message: string): ChorusError =>
    new ChorusError('CHORUS_ERR_POD_REJECTED', `embedded pod: ${status} ${message}`);

  log.info({ url: server.url, users: allUserIds.length, streams: config.streams.length }, 'pod listening');

  return {
    url: server.url,
    async close() {
      feeds.close();
      await server.close();
      log.info('pod closed');
    },
    privateKeyPem(username) {
      const user = users.byUsername(username);
      if (user === undefined) throw reject(404, `Unknown user ${username}`);
      if (user.privateKeyPem === undefined) throw reject(404, `No private key is known for ${username}`);
      return user.privateKeyPem;
    },
    postMessage(username, streamId, messageMLOrText) {
      const user = users.byUsername(username);
      if (user === undefined) throw reject(400, `Unknown user ${username}`);
      const posted = streams.post(user.userId, streamId, { message: messageMLOrText });
      if (!posted.ok) throw reject(posted.status, posted.message);
      return posted.value;
    },
    publish(event, toUserIds) {
      let json: string;
      try {
        json = JSON.stringify(event);
      } catch (err) {
        throw new ChorusError('CHORUS_ERR_POD_REJECTED', 'embedded pod: the event is not serializable as JSON', {
          cause: err,
        });
      }
      const members = toUserIds ?? membersOfEventStream(event, (id) => streams.stream(id)?.members) ?? allUserIds;
      feeds.publish(json, members);
    },
    messages: (streamId) => streams.messages(streamId),
    setFaults: (next) => faults.set(next),
    stats: () => ({
      ...feeds.stats(),
      messages: streams.count(),
      tokens: sessions.size(),
      faults: faults.counts(),
    }),
  };
}

/** The members of the stream a V4Event's payload names, when the pod knows that stream. */
function membersOfEventStream(
  event: object,
  membersOf: (streamId: string) => readonly string[] | undefined,
): readonly string[] | undefined {
  const payload = (event as { payload?: unknown }).payload;
  if (typeof payload !== 'object' || payload === null) return undefined;
  for (const value of Object.values(payload)) {
    if (typeof value !== 'object' || value === null) continue;
    const holder = value as { stream?: { streamId?: unknown }; message?: { stream?: { streamId?: unknown } } };
    const streamId = holder.stream?.streamId ?? holder.message?.stream?.streamId;
    if (typeof streamId === 'string') return membersOf(streamId);
  }
  return undefined;
}
