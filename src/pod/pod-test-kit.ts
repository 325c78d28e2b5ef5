/**
 * Helpers for the embedded pod's own tests: users and streams, RS512 JWT signing, authentication and JSON calls
 * over real HTTP with the global `fetch`. Not part of the pod's API.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type { EmbeddedPod } from './create-embedded-pod.ts';
import type { PodStreamOptions, PodUserOptions } from './pod-config.ts';

/** A fixed clock value for pods under test, ms (2026-01-01T00:00:00Z). */
export const T0 = 1_767_225_600_000;

/** The bot user of the tests. */
export const BOT = { userId: '7000000000001', username: 'chorus-bot', displayName: 'Chorus Bot' } as const;
/** A person, with an email (mentions by email). */
export const ALICE = {
  userId: '7000000000002',
  username: 'alice',
  displayName: 'Alice Ng',
  email: 'alice@example.org',
} as const;
/** Another person. */
export const BOB = { userId: '7000000000003', username: 'bob', displayName: 'Bob Stone' } as const;

/** Test streams: `desk` (all three), `im-alice` (bot + Alice), `private` (Alice + Bob), `empty-room` (all). */
export const STREAMS: readonly PodStreamOptions[] = [
  { streamId: 'desk', streamType: 'ROOM', roomName: 'Trading desk', members: [BOT.userId, ALICE.userId, BOB.userId] },
  { streamId: 'im-alice', streamType: 'IM', members: [BOT.userId, ALICE.userId] },
  { streamId: 'private', streamType: 'ROOM', roomName: 'Private', members: [ALICE.userId, BOB.userId] },
  { streamId: 'empty-room', streamType: 'ROOM', members: [BOT.userId, ALICE.userId, BOB.userId] },
];

let keys: Map<string, string> | undefined;

/** One RSA key pair per test user, made once per test file: private keys (PKCS#8 PEM) by username. */
export function testPrivateKeys(): ReadonlyMap<string, string> {
  keys ??= new Map(
    [BOT, ALICE, BOB].map((u) => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return [u.username, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string];
    }),
  );
  return keys;
}

/** The test users with the public keys of {@link testPrivateKeys}. */
export function testUsers(): PodUserOptions[] {
  const privateKeys = testPrivateKeys();
  return [BOT, ALICE, BOB].map((u) => ({
    ...u,
    publicKeyPem: createPublicKey(createPrivateKey(privateKeys.get(u.username) ?? '')).export({
      type: 'spki',
      format: 'pem',
    }) as string,
  }));
}

/** The private key of a test user. */
export function privateKeyOf(username: string): string {
  const pem = testPrivateKeys().get(username);
  if (pem === undefined) throw new Error(`no test key for ${username}`);
  return pem;
}

/** Signs a compact JWT: header `{ alg, typ: 'JWT' }`, RSASSA-PKCS1-v1_5 with the hash of `alg`. */
export function signJwt(
  privateKeyPem: string,
  claims: Record<string, unknown>,
  alg: 'RS512' | 'RS256' | 'none' = 'RS512',
): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ alg, typ: 'JWT' })}.${encode(claims)}`;
  if (alg === 'none') return `${signingInput}.`;
  const signature = sign(alg === 'RS512' ? 'sha512' : 'sha256', Buffer.from(signingInput), privateKeyPem);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** A JWT for `username` expiring 240 s after `nowMs` (BDK Java's lifetime, reference §3.4). */
export function authJwt(username: string, nowMs: number, privateKeyPem = privateKeyOf(username)): string {
  return signJwt(privateKeyPem, { sub: username, exp: Math.floor((nowMs + 240_000) / 1000) });
}

/** The session and key manager tokens of a user. */
export type Tokens = { readonly sessionToken: string; readonly keyManagerToken: string };

/** Authenticates `username` at the login and relay endpoints; throws when either does not answer 200. */
export async function authenticate(
  pod: EmbeddedPod,
  username: string,
  nowMs: number,
  privateKeyPem?: string,
): Promise<Tokens> {
  const token = authJwt(username, nowMs, privateKeyPem);
  const tokenOf = async (path: string): Promise<string> => {
    const res = await fetch(`${pod.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    return ((await res.json()) as { token: string }).token;
  };
  return {
    sessionToken: await tokenOf('/login/pubkey/authenticate'),
    keyManagerToken: await tokenOf('/relay/pubkey/authenticate'),
  };
}

/** A response: status, headers and the parsed JSON body (undefined when empty). */
export type Reply = { readonly status: number; readonly headers: Headers; readonly body: unknown };

/** Calls the pod with the tokens as headers and an optional JSON body. */
export async function call(
  pod: EmbeddedPod,
  tokens: Partial<Tokens> | undefined,
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (tokens?.sessionToken !== undefined) headers['sessionToken'] = tokens.sessionToken;
  if (tokens?.keyManagerToken !== undefined) headers['keyManagerToken'] = tokens.keyManagerToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${pod.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal === undefined ? {} : { signal }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** A datafeed read's body. */
export type ReadBody = { events: { id: string; type: string; [key: string]: unknown }[]; ackId: string };

/** Reads a feed; throws unless the pod answers 200. */
export async function readFeed(pod: EmbeddedPod, tokens: Tokens, feedId: string, ackId = ''): Promise<ReadBody> {
  const reply = await call(pod, tokens, 'POST', `/agent/v5/datafeeds/${feedId}/read`, { ackId });
  if (reply.status !== 200) throw new Error(`read answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body as ReadBody;
}

/** Creates a feed; throws unless the pod answers 201. */
export async function createFeed(pod: EmbeddedPod, tokens: Tokens, body?: object): Promise<string> {
  const reply = await call(pod, tokens, 'POST', '/agent/v5/datafeeds', body);
  if (reply.status !== 201) throw new Error(`create answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return (reply.body as { id: string }).id;
}

/** Resolves once `condition` holds, checking after each macrotask (at most `maxTurns` turns). */
export async function until(condition: () => boolean, maxTurns = 2_000): Promise<void> {
  for (let turn = 0; turn < maxTurns; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('condition not reached');
}

/** A V4Event with an id, for publish tests. */
export function rawEvent(id: string, streamId = 'desk'): object {
  return {
    id,
    timestamp: T0,
    type: 'USERJOINEDROOM',
    initiator: { user: { userId: Number(ALICE.userId) } },
    payload: {
      userJoinedRoom: { stream: { streamId, streamType: 'ROOM' }, affectedUser: { userId: Number(ALICE.userId) } },
    },
  };
}
