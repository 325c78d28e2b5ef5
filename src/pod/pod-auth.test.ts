import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAgentHttp } from '../datafeed/agent-http.ts';
import { createSymphonySession } from '../datafeed/symphony-session.ts';
import { isChorusError } from '../errors.ts';
import { createEmbeddedPod, type EmbeddedPod } from './create-embedded-pod.ts';
import {
  ALICE,
  BOT,
  STREAMS,
  T0,
  authenticate,
  authJwt,
  call,
  privateKeyOf,
  signJwt,
  testUsers,
} from './pod-test-kit.ts';

const logLines: string[] = [];
let pod: EmbeddedPod;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  const log = pino({ level: 'trace' }, sink);
  pod = await createEmbeddedPod({ users: testUsers(), streams: STREAMS, now: () => T0, log });
});
afterAll(() => pod.close());

const login = (token: unknown, path = '/login/pubkey/authenticate') => call(pod, undefined, 'POST', path, { token });

describe('RSA authentication (reference §3.4)', () => {
  it('issues a session token and a key manager token for a valid RS512 JWT', async () => {
    const jwt = authJwt(BOT.username, T0);
    const session = await login(jwt);
    const km = await login(jwt, '/relay/pubkey/authenticate');
    expect(session.status).toBe(200);
    expect(session.body).toEqual({ name: 'sessionToken', token: expect.stringMatching(/^[0-9a-f]{96}$/) as unknown });
    expect(km.body).toEqual({ name: 'keyManagerToken', token: expect.stringMatching(/^[0-9a-f]{96}$/) as unknown });
  });

  const exp = (offsetMs: number): number => Math.floor((T0 + offsetMs) / 1000);
  const bot = (claims: Record<string, unknown>, alg?: 'RS256' | 'none') =>
    signJwt(privateKeyOf(BOT.username), claims, alg);
  const refused: [string, () => string][] = [
    ['a bad signature', () => {
      const [header, , signature] = authJwt(BOT.username, T0).split('.');
      const payload = Buffer.from(JSON.stringify({ sub: BOT.username, exp: exp(200_000) })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    }],
    ['a JWT signed with another user\'s key', () =>
      signJwt(privateKeyOf(ALICE.username), { sub: BOT.username, exp: exp(60_000) })],
    ['an unknown user', () => bot({ sub: 'nobody', exp: exp(60_000) })],
    ['an expired JWT', () => bot({ sub: BOT.username, exp: exp(-1_000) })],
    ['an exp more than 5 minutes ahead', () => bot({ sub: BOT.username, exp: exp(301_000) })],
    ['alg RS256', () => bot({ sub: BOT.username, exp: exp(60_000) }, 'RS256')],
    ['alg none', () => bot({ sub: BOT.username, exp: exp(60_000) }, 'none')],
    ['a string that is not a JWT', () => 'not-a-jwt'],
  ];
  it.each(refused)('answers 401 for %s, at login and relay', async (_case, makeToken) => {
    const token = makeToken();
    for (const path of ['/login/pubkey/authenticate', '/relay/pubkey/authenticate']) {
      const reply = await login(token, path);
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual({ code: 401, message: expect.any(String) as unknown });
    }
  });

  it('accepts an exp exactly 5 minutes ahead', async () => {
    const token = signJwt(privateKeyOf(BOT.username), { sub: BOT.username, exp: exp(300_000) });
    expect((await login(token)).status).toBe(200);
  });

  it('answers 400 naming the field when the body has no token', async () => {
    const reply = await call(pod, undefined, 'POST', '/login/pubkey/authenticate', { jwt: 'x' });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ code: 400, message: expect.stringMatching(/^token: /) as unknown });
  });
});

describe('GET /pod/v2/sessioninfo', () => {
  it('answers the session user as UserV2', async () => {
    const tokens = await authenticate(pod, ALICE.username, T0);
    const reply = await call(pod, { sessionToken: tokens.sessionToken }, 'GET', '/pod/v2/sessioninfo');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      id: 7000000000002,
      username: 'alice',
      displayName: 'Alice Ng',
      emailAddress: 'alice@example.org',
      firstName: 'Alice',
      lastName: 'Ng',
    });
  });

  it('offers Simplified Key Delivery when agent.simplifiedKeyDelivery is set: Agent calls need the session token only', async () => {
    // The real clock: chorus's session signs its JWTs with it.
    const skdPod = await createEmbeddedPod({ users: testUsers(), streams: STREAMS, agent: { simplifiedKeyDelivery: true, version: 'Agent-25.3.0' } });
    try {
      const sessionAt = async (at: EmbeddedPod, nowMs: number): Promise<string> =>
        ((await call(at, undefined, 'POST', '/login/pubkey/authenticate', { token: authJwt(BOT.username, nowMs) })).body as { token: string }).token;
      const skdSession = await sessionAt(skdPod, Date.now());
      const [, claims] = skdSession.split('.');
      expect(JSON.parse(Buffer.from(claims ?? '', 'base64url').toString())).toEqual({ sub: BOT.userId, canUseSimplifiedKeyDelivery: true });
      expect((await call(skdPod, undefined, 'GET', '/agent/v1/info')).body).toEqual({ version: 'Agent-25.3.0', onPrem: false, mt: false });
      expect((await call(skdPod, { sessionToken: skdSession }, 'GET', '/agent/v5/datafeeds')).status).toBe(200);
      // The pod without it issues opaque tokens and wants the key manager token on Agent calls.
      const session = await sessionAt(pod, T0);
      expect(session).toMatch(/^[0-9a-f]{96}$/);
      expect((await call(pod, { sessionToken: session }, 'GET', '/agent/v5/datafeeds')).status).toBe(401);

      // chorus's own session, given no key manager: it finds SKD and its Agent calls pass.
      const http = createAgentHttp();
      const client = createSymphonySession({
        podUrl: skdPod.url,
        agentUrl: skdPod.url,
        username: BOT.username,
        privateKeyPem: privateKeyOf(BOT.username),
        http,
        log: pino({ level: 'silent' }),
      });
      expect((await client.tokens()).keyManagerToken).toBeUndefined();
      const feeds = await http.request({ method: 'GET', url: `${skdPod.url}/agent/v5/datafeeds`, session: client, schema: z.array(z.unknown()) });
      expect(feeds).toEqual([]);
      await http.close();
    } finally {
      await skdPod.close();
    }
  });

  it('answers 401 without a session token, with an unknown one, or with a key manager token instead', async () => {
    const tokens = await authenticate(pod, ALICE.username, T0);
    for (const sessionToken of [undefined, 'f'.repeat(96), tokens.keyManagerToken]) {
      const reply = await call(pod, sessionToken === undefined ? {} : { sessionToken }, 'GET', '/pod/v2/sessioninfo');
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual({ code: 401, message: 'Invalid session' });
    }
  });
});

describe('routing and logs', () => {
  it('answers 404 with a V2Error for unknown routes and methods', async () => {
    for (const [method, path] of [['GET', '/agent/v9/nothing'], ['PUT', '/agent/v5/datafeeds'], ['GET', '/']]) {
      const reply = await call(pod, undefined, method as string, path as string);
      expect(reply.status).toBe(404);
      expect(reply.body).toEqual({ code: 404, message: expect.any(String) as unknown });
    }
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await fetch(`${pod.url}/login/pubkey/authenticate`, { method: 'POST', body: '{oops' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 400, message: 'The request body is not JSON' });
  });

  it('never logs a token, a JWT or a key', async () => {
    const jwt = authJwt(BOT.username, T0);
    const tokens = await authenticate(pod, BOT.username, T0);
    await call(pod, tokens, 'GET', '/pod/v2/sessioninfo');
    await login('bad.jwt.here');
    const output = logLines.join('');
    expect(output).toContain('pod authentication refused');
    for (const secret of [jwt, tokens.sessionToken, tokens.keyManagerToken, 'PRIVATE KEY', 'bad.jwt.here']) {
      expect(output).not.toContain(secret);
    }
  });
});

describe('generated keys', () => {
  it('writes generated keys to keysDir (0600), reuses them on the next start, and they authenticate', async () => {
    const keysDir = join(await mkdtemp(join(tmpdir(), 'chorus-pod-')), 'keys');
    try {
      const users = [{ ...BOT }, { ...ALICE, publicKeyPem: testUsers()[1]?.publicKeyPem ?? '' }];
      const first = await createEmbeddedPod({ users, keysDir, now: () => T0 });
      const pem = first.privateKeyPem(BOT.username);
      await first.close();
      const file = join(keysDir, `${BOT.username}.pem`);
      expect(await readFile(file, 'utf8')).toBe(pem);
      expect((await stat(file)).mode & 0o777).toBe(0o600);

      const second = await createEmbeddedPod({ users, keysDir, now: () => T0 });
      try {
        expect(second.privateKeyPem(BOT.username)).toBe(pem);
        await expect(authenticate(second, BOT.username, T0, pem)).resolves.toBeDefined();
        expect(() => second.privateKeyPem(ALICE.username)).toThrow(
          expect.objectContaining({ code: 'CHORUS_ERR_POD_REJECTED' }) as unknown,
        );
      } finally {
        await second.close();
      }
    } finally {
      await rm(join(keysDir, '..'), { recursive: true, force: true });
    }
  });

  it('keeps generated keys in memory without keysDir', async () => {
    const memoryPod = await createEmbeddedPod({ users: [{ ...BOT }], now: () => T0 });
    try {
      const pem = memoryPod.privateKeyPem(BOT.username);
      expect(pem).toContain('BEGIN PRIVATE KEY');
      await expect(authenticate(memoryPod, BOT.username, T0, pem)).resolves.toBeDefined();
    } finally {
      await memoryPod.close();
    }
  });

  it('refuses invalid options with CHORUS_ERR_CONFIG_INVALID naming the field', async () => {
    const attempts: [unknown, RegExp][] = [
      [{ users: [{ ...BOT }, { ...ALICE, userId: BOT.userId }] }, /users\.1\.userId: duplicate/],
      [{ users: [{ ...BOT, publicKeyPem: 'nope' }] }, /users\.0\.publicKeyPem/],
      [
        { users: [{ ...BOT }], streams: [{ streamId: 's', streamType: 'ROOM', members: ['1'] }] },
        /streams\.0\.members\.0/,
      ],
      [{ users: [{ ...BOT }], faults: { serverErrorRate: 0.7, tooManyRequestsRate: 0.7 } }, /faults/],
    ];
    for (const [options, message] of attempts) {
      const err: unknown = await createEmbeddedPod(options as never).catch((e: unknown) => e);
      expect(isChorusError(err, 'CHORUS_ERR_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('fails with CHORUS_ERR_POD_START when the port is taken', async () => {
    const port = Number(new URL(pod.url).port);
    const err: unknown = await createEmbeddedPod({ users: testUsers(), port }).catch((e: unknown) => e);
    expect(isChorusError(err, 'CHORUS_ERR_POD_START')).toBe(true);
  });
});
