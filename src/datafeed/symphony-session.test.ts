import { constants, generateKeyPairSync, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isChorusError } from '../errors.ts';
import { createAgentHttp } from './agent-http.ts';
import { captureLog, startLoopback, tick, type Loopback, type Recorded, type Reply } from './loopback.test-support.ts';
import { createSymphonySession } from './symphony-session.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const http = createAgentHttp();
let server: Loopback | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * A pod + key manager + Agent on one loopback server: the n-th authentication at each yields `S<n>` (or
 * `sessionToken(n)`) / `K<n>`; the Agent answers `/agent/v1/info` with `agentVersion` (404 without) and
 * `/agent/v5/datafeeds` with []. The session is given the Agent's URL and, unless `keyManager` is false, the
 * key manager's.
 */
async function startPod(
  options: {
    authReply?: (req: Recorded) => Reply | undefined;
    authDelayMs?: number;
    sessionToken?: (n: number) => string;
    agentVersion?: string;
    keyManager?: boolean;
  } = {},
) {
  let sessions = 0;
  let keyManagers = 0;
  server = await startLoopback(async (req) => {
    const override = options.authReply?.(req);
    if (override !== undefined) return override;
    if (options.authDelayMs !== undefined) await tick(options.authDelayMs);
    if (req.path === '/login/pubkey/authenticate') {
      sessions += 1;
      return { status: 200, json: { name: 'sessionToken', token: options.sessionToken?.(sessions) ?? `S${sessions}` } };
    }
    if (req.path === '/relay/pubkey/authenticate') return { status: 200, json: { name: 'keyManagerToken', token: `K${++keyManagers}` } };
    if (req.path === '/pod/v2/sessioninfo') {
      return { status: 200, json: { id: 7696581394433, displayName: 'Chorus Bot', username: 'chorus-bot', roles: [] } };
    }
    if (req.path === '/agent/v1/info' && options.agentVersion !== undefined) return { status: 200, json: { version: options.agentVersion } };
    if (req.path === '/agent/v5/datafeeds') return { status: 200, json: [] };
    return { status: 404 };
  });
  const capture = captureLog();
  const session = createSymphonySession({
    podUrl: `${server.url}/`,
    keyManagerUrl: options.keyManager === false ? undefined : server.url,
    agentUrl: server.url,
    username: 'chorus-bot',
    privateKeyPem,
    http,
    log: capture.log,
  });
  const auths = (): Recorded[] => server?.requests.filter((r) => r.path.endsWith('/pubkey/authenticate')) ?? [];
  return { session, auths, capture, requests: server.requests };
}

describe('createSymphonySession', () => {
  it('authenticates at the pod and the key manager with a JWT signed by the key, and keeps the tokens', async () => {
    const { session, auths } = await startPod();
    await expect(session.tokens()).resolves.toEqual({ sessionToken: 'S1', keyManagerToken: 'K1' });
    await expect(session.tokens()).resolves.toEqual({ sessionToken: 'S1', keyManagerToken: 'K1' });
    expect(auths().map((r) => r.path).sort()).toEqual(['/login/pubkey/authenticate', '/relay/pubkey/authenticate']);
    for (const req of auths()) {
      const token = (req.json as { token: string }).token;
      const [header, claims, signature] = token.split('.');
      const input = Buffer.from(`${header}.${claims}`);
      const sig = Buffer.from(signature ?? '', 'base64url');
      expect(verify('sha512', input, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, sig)).toBe(true);
      expect(JSON.parse(Buffer.from(claims ?? '', 'base64url').toString())).toMatchObject({ sub: 'chorus-bot' });
    }
  });

  it('authenticates once for 10 concurrent first callers', async () => {
    const { session, auths } = await startPod({ authDelayMs: 20 });
    const all = await Promise.all(Array.from({ length: 10 }, () => session.tokens()));
    expect(all.every((t) => t.sessionToken === 'S1' && t.keyManagerToken === 'K1')).toBe(true);
    expect(auths()).toHaveLength(2);
  });

  it('re-authenticates once when 10 callers report the same stale tokens at once', async () => {
    const { session, auths } = await startPod({ authDelayMs: 20 });
    const stale = await session.tokens();
    const fresh = await Promise.all(Array.from({ length: 10 }, () => session.refresh(stale)));
    expect(new Set(fresh.map((t) => `${t.sessionToken}/${t.keyManagerToken}`))).toEqual(new Set(['S2/K2']));
    expect(auths()).toHaveLength(4); // the first authentication and one re-authentication, pod + key manager each
    // A caller still holding the old tokens gets the current ones without another authentication.
    await expect(session.refresh(stale)).resolves.toEqual({ sessionToken: 'S2', keyManagerToken: 'K2' });
    expect(auths()).toHaveLength(4);
  });

  it('fails with CHORUS_ERR_AUTH_FAILED naming the user and URL, never the key or token, on a 401', async () => {
    const { session, capture } = await startPod({
      authReply: (req) => (req.path === '/relay/pubkey/authenticate' ? { status: 401, json: { code: 401, message: 'Invalid token' } } : undefined),
    });
    const err = await session.tokens().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isChorusError(err, 'CHORUS_ERR_AUTH_FAILED')).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain('chorus-bot');
    expect(message).toContain(`${server?.url}/relay/pubkey/authenticate`);
    expect(message).not.toMatch(/PRIVATE KEY|eyJ/);
    expect(capture.text()).not.toMatch(/PRIVATE KEY|eyJ|"S1"/);
  });

  it('does not keep a failed authentication: the next call tries again', async () => {
    let fail = true;
    const { session } = await startPod({ authReply: () => (fail ? { status: 503 } : undefined) });
    const err = await session.tokens().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isChorusError(err, 'CHORUS_ERR_HTTP_SERVER')).toBe(true);
    fail = false;
    await expect(session.tokens()).resolves.toEqual({ sessionToken: 'S1', keyManagerToken: 'K1' });
  });

  it('reads sessionInfo (UserV2) with the session token only, once', async () => {
    const { session, requests } = await startPod();
    const info = await session.sessionInfo();
    expect(info).toEqual({ userId: '7696581394433', displayName: 'Chorus Bot', username: 'chorus-bot' });
    await session.sessionInfo();
    const calls = requests.filter((r) => r.path === '/pod/v2/sessioninfo');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.method).toBe('GET');
    expect(calls[0]?.headers['sessiontoken']).toBe('S1');
    expect(calls[0]?.headers['keymanagertoken']).toBeUndefined();
  });

  /** A JWT-shaped session token whose claims offer Simplified Key Delivery (or say they do not). */
  const skdToken = (n: number, offered = true): string =>
    `e30.${Buffer.from(JSON.stringify({ sub: '7696581394433', canUseSimplifiedKeyDelivery: offered, n })).toString('base64url')}.sig`;
  const listFeeds = (session: ReturnType<typeof createSymphonySession>) =>
    http.request({ method: 'GET', url: `${server?.url}/agent/v5/datafeeds`, session, schema: z.array(z.unknown()) });

  it('skips the key manager when the session token offers Simplified Key Delivery and the Agent is 24.12+', async () => {
    const { session, requests } = await startPod({ sessionToken: (n) => skdToken(n), agentVersion: 'Agent-24.12.1-815-Linux', keyManager: false });
    await expect(session.tokens()).resolves.toEqual({ sessionToken: skdToken(1), keyManagerToken: undefined });
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /login/pubkey/authenticate', 'GET /agent/v1/info']);
    expect(requests[1]?.headers['sessiontoken']).toBeUndefined(); // SPEC lists no token for /v1/info
    await listFeeds(session);
    const agentCall = requests.at(-1);
    expect([agentCall?.path, agentCall?.headers['sessiontoken'], agentCall?.headers['keymanagertoken']]).toEqual(['/agent/v5/datafeeds', skdToken(1), undefined]);
  });

  it('uses the key manager when the Agent is older than 24.12, or does not tell its version', async () => {
    for (const agentVersion of ['Agent-24.10.1-815-Linux-4.14.314-237.533.amzn2.x86_64', undefined]) {
      const { session, auths, requests } = await startPod({ sessionToken: (n) => skdToken(n), ...(agentVersion === undefined ? {} : { agentVersion }) });
      await expect(session.tokens()).resolves.toEqual({ sessionToken: skdToken(1), keyManagerToken: 'K1' });
      expect(auths().map((r) => r.path)).toEqual(['/login/pubkey/authenticate', '/relay/pubkey/authenticate']);
      expect(requests.filter((r) => r.path === '/agent/v1/info')).toHaveLength(1);
      await server?.close();
    }
  });

  it('does not ask the Agent when the session token does not offer Simplified Key Delivery', async () => {
    for (const sessionToken of [(n: number) => `S${n}`, (n: number) => skdToken(n, false)]) {
      const { session, requests } = await startPod({ sessionToken, agentVersion: 'Agent-25.1.0' });
      await expect(session.tokens()).resolves.toEqual({ sessionToken: sessionToken(1), keyManagerToken: 'K1' });
      expect(requests.map((r) => r.path)).toEqual(['/login/pubkey/authenticate', '/relay/pubkey/authenticate']);
      await server?.close();
    }
  });

  it('fails with CHORUS_ERR_CONFIG_INVALID naming keyManager.url when the key manager is needed and not configured', async () => {
    const { session } = await startPod({ keyManager: false });
    const err = await session.tokens().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isChorusError(err, 'CHORUS_ERR_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toBe('keyManager.url: required to connect to this pod: it does not offer Simplified Key Delivery (SKD)');
    await server?.close();
    // Offered by the pod, not confirmed by the Agent (it does not answer /agent/v1/info): said so.
    const offered = await startPod({ keyManager: false, sessionToken: (n) => skdToken(n) });
    await expect(offered.session.tokens()).rejects.toThrow(
      'keyManager.url: required to connect to this pod: it offers Simplified Key Delivery (SKD), but the Agent did not name version 24.12 or later',
    );
  });

  it('re-authenticates when sessionInfo is refused with a 401, and retries', async () => {
    let refusals = 1;
    const { session, auths } = await startPod({
      authReply: (req) => (req.path === '/pod/v2/sessioninfo' && refusals-- > 0 ? { status: 401 } : undefined),
    });
    await expect(session.sessionInfo()).resolves.toMatchObject({ userId: '7696581394433' });
    expect(auths()).toHaveLength(4);
  });
});
