import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isChorusError } from '../errors.ts';
import { createAgentHttp, HttpError, type AuthSession, type ReauthenticationOutcome, type SessionTokens } from './agent-http.ts';
import { captureLog, startLoopback, until, type Loopback, type Recorded, type Reply } from './loopback.test-support.ts';

const okSchema = z.object({ ok: z.boolean() });
let server: Loopback | undefined;
const http = createAgentHttp();

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(handle: (n: number) => Reply | Promise<Reply>): Promise<Loopback> {
  let n = 0;
  server = await startLoopback(() => handle(n++));
  return server;
}

async function failure(promise: Promise<unknown>): Promise<HttpError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

/** The `X-Trace-Id` header a request arrived with. */
function traceIdOf(req: Recorded | undefined): unknown {
  return req?.headers['x-trace-id'];
}

/** A session whose n-th authentication yields tokens `S<n>`/`K<n>`. */
function countingSession(): AuthSession & { refreshes: SessionTokens[] } {
  let n = 1;
  let current: SessionTokens = { sessionToken: 'S1', keyManagerToken: 'K1' };
  const refreshes: SessionTokens[] = [];
  return {
    refreshes,
    tokens: async () => current,
    refresh: async (stale) => {
      refreshes.push(stale);
      n += 1;
      current = { sessionToken: `S${n}`, keyManagerToken: `K${n}` };
      return current;
    },
  };
}

describe('createAgentHttp', () => {
  it('sends JSON with the session headers and returns the validated response', async () => {
    const { url, requests } = await serve(() => ({ status: 200, json: { ok: true, extra: 1 } }));
    const body = await http.request({ method: 'POST', url: `${url}/x`, json: { ackId: '' }, session: countingSession(), schema: okSchema });
    expect(body).toEqual({ ok: true });
    const [req] = requests;
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['sessiontoken']).toBe('S1');
    expect(req?.headers['keymanagertoken']).toBe('K1');
    expect(req?.json).toEqual({ ackId: '' });
  });

  it('leaves out the key-manager token when asked to (pod calls)', async () => {
    const { url, requests } = await serve(() => ({ status: 204 }));
    await http.request({ method: 'DELETE', url: `${url}/x`, session: countingSession(), withKeyManagerToken: false });
    expect(requests[0]?.headers['sessiontoken']).toBe('S1');
    expect(requests[0]?.headers['keymanagertoken']).toBeUndefined();
  });

  it('on a 401 refreshes the session with the refused tokens and retries once with the new ones', async () => {
    const { url, requests } = await serve((n) => (n === 0 ? { status: 401, json: { code: 401, message: 'Invalid session' } } : { status: 200, json: { ok: true } }));
    const session = countingSession();
    await expect(http.request({ method: 'GET', url: `${url}/x`, session, schema: okSchema })).resolves.toEqual({ ok: true });
    expect(session.refreshes).toEqual([{ sessionToken: 'S1', keyManagerToken: 'K1' }]);
    expect(requests.map((r) => r.headers['sessiontoken'])).toEqual(['S1', 'S2']);
  });

  it('gives up with CHORUS_ERR_HTTP_UNAUTHORIZED when the retry is refused too', async () => {
    const { url, requests } = await serve(() => ({ status: 401 }));
    const err = await failure(http.request({ method: 'GET', url: `${url}/x`, session: countingSession() }));
    expect(err.code).toBe('CHORUS_ERR_HTTP_UNAUTHORIZED');
    expect(err.status).toBe(401);
    expect(requests).toHaveLength(2);
  });

  it('maps 429 with Retry-After in seconds or as an HTTP date', async () => {
    const date = new Date(Date.now() + 60_000).toUTCString();
    const { url } = await serve((n) => ({ status: 429, headers: { 'retry-after': n === 0 ? '3' : date } }));
    const seconds = await failure(http.request({ method: 'GET', url }));
    expect([seconds.code, seconds.status, seconds.retryAfterMs]).toEqual(['CHORUS_ERR_HTTP_THROTTLED', 429, 3000]);
    const dated = await failure(http.request({ method: 'GET', url }));
    expect(dated.retryAfterMs).toBeGreaterThan(55_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('maps 5xx, other 4xx (with the V2Error message) and invalid bodies', async () => {
    const replies: Reply[] = [
      { status: 503 },
      { status: 403, json: { code: 403, message: 'The user lacks the required entitlement to perform this operation' } },
      { status: 200, text: '<html>proxy</html>' },
      { status: 200, json: { ok: 'yes' } },
    ];
    const { url } = await serve((n) => replies[n] ?? { status: 500 });
    const server5xx = await failure(http.request({ method: 'GET', url: `${url}/agent/v5/datafeeds` }));
    expect([server5xx.code, server5xx.status]).toEqual(['CHORUS_ERR_HTTP_SERVER', 503]);
    expect(server5xx.message).toBe(`GET /agent/v5/datafeeds (X-Trace-Id ${String(server5xx.traceId)}): HTTP 503`);
    const rejected = await failure(http.request({ method: 'GET', url }));
    expect([rejected.code, rejected.status]).toEqual(['CHORUS_ERR_HTTP_REJECTED', 403]);
    expect(rejected.message).toContain('lacks the required entitlement');
    const notJson = await failure(http.request({ method: 'GET', url, schema: okSchema }));
    expect(notJson.code).toBe('CHORUS_ERR_HTTP_RESPONSE_INVALID');
    const wrongShape = await failure(http.request({ method: 'GET', url, schema: okSchema }));
    expect(wrongShape.code).toBe('CHORUS_ERR_HTTP_RESPONSE_INVALID');
    expect(wrongShape.message).toContain('ok');
  });

  it('maps a dropped connection, a refused connection and a timeout to CHORUS_ERR_HTTP_NETWORK', async () => {
    const { url } = await serve((n) => (n === 0 ? 'destroy' : 'hold'));
    const dropped = await failure(http.request({ method: 'GET', url }));
    expect(dropped.code).toBe('CHORUS_ERR_HTTP_NETWORK');
    expect(dropped.status).toBeUndefined();
    const timedOut = await failure(http.request({ method: 'GET', url, timeoutMs: 100 }));
    expect(timedOut.code).toBe('CHORUS_ERR_HTTP_NETWORK');
    expect(timedOut.message).toContain('UND_ERR_HEADERS_TIMEOUT');

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await failure(http.request({ method: 'GET', url: `http://127.0.0.1:${port}/` }));
    expect(refused.code).toBe('CHORUS_ERR_HTTP_NETWORK');
    expect(refused.message).toContain('ECONNREFUSED');
  });

  it('sends a fresh X-Trace-Id of 6 alphanumerics with every request, the resend after a 401 included', async () => {
    const { url, requests } = await serve((n) => (n === 0 ? { status: 401 } : { status: 200, json: { ok: true } }));
    await http.request({ method: 'GET', url, session: countingSession(), schema: okSchema });
    for (let i = 0; i < 48; i += 1) await http.request({ method: 'POST', url, json: {} });
    const ids = requests.map(traceIdOf);
    expect(ids).toHaveLength(50);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{6}$/);
    expect(new Set(ids).size).toBe(50); // 62^6 values: a repeat among 50 has a chance of ~2e-8
  });

  it('names the X-Trace-Id of a failed call in its HttpError (field and message) for every kind of failure', async () => {
    const replies: Reply[] = [
      { status: 503 },
      { status: 429, headers: { 'retry-after': '1' } },
      { status: 404, json: { code: 404, message: 'Not found' } },
      { status: 200, text: 'not json' },
      'destroy',
    ];
    const { url, requests } = await serve((n) => replies[n] ?? { status: 500 });
    const errors: HttpError[] = [];
    for (const schema of [undefined, undefined, undefined, okSchema, undefined]) {
      errors.push(await failure(http.request({ method: 'GET', url: `${url}/pod/v1/x?tag=t`, ...(schema === undefined ? {} : { schema }) })));
    }
    expect(errors.map((err) => err.code)).toEqual([
      'CHORUS_ERR_HTTP_SERVER',
      'CHORUS_ERR_HTTP_THROTTLED',
      'CHORUS_ERR_HTTP_REJECTED',
      'CHORUS_ERR_HTTP_RESPONSE_INVALID',
      'CHORUS_ERR_HTTP_NETWORK',
    ]);
    errors.forEach((err, i) => {
      const sent = traceIdOf(requests[i]);
      expect(sent).toMatch(/^[A-Za-z0-9]{6}$/);
      expect(err.traceId).toBe(sent);
      expect(err.message).toContain(`GET /pod/v1/x (X-Trace-Id ${String(sent)}): `);
    });
  });

  it('logs the refused call\'s X-Trace-Id when a 401 makes it re-authenticate, and throws with the resend\'s', async () => {
    const { url, requests } = await serve(() => ({ status: 401, json: { code: 401, message: 'Invalid session' } }));
    const capture = captureLog();
    const err = await failure(http.request({ method: 'GET', url: `${url}/agent/v5/datafeeds`, session: countingSession(), log: capture.log }));
    const [refused, resent] = requests.map(traceIdOf);
    expect(refused).not.toBe(resent);
    const line = capture.lines().find((l) => l['msg'] === 'session refused, re-authenticating');
    expect(line).toMatchObject({ status: 401, method: 'GET', path: '/agent/v5/datafeeds', traceId: refused });
    expect(err.traceId).toBe(resent);
    expect(err.message).toBe(`GET /agent/v5/datafeeds (X-Trace-Id ${String(resent)}): HTTP 401 (Invalid session)`);
  });

  it('reports each re-authentication after a 401 to onReauthentication: ok when it gave tokens, failed when it threw', async () => {
    const outcomes: ReauthenticationOutcome[] = [];
    const counted = createAgentHttp({ onReauthentication: (outcome) => outcomes.push(outcome) });
    const replies: Reply[] = [{ status: 401 }, { status: 200, json: { ok: true } }, { status: 401 }, { status: 401 }, { status: 503 }, { status: 401 }];
    const { url } = await serve((n) => replies[n] ?? { status: 500 });
    const refused = new Error('authentication refused');
    const broken: AuthSession = { tokens: async () => ({ sessionToken: 'S', keyManagerToken: 'K' }), refresh: () => Promise.reject(refused) };
    try {
      await expect(counted.request({ method: 'GET', url, session: countingSession(), schema: okSchema })).resolves.toEqual({ ok: true });
      expect(outcomes).toEqual(['ok']);
      // Refused again after re-authenticating: counted once (the session did re-authenticate), not retried further.
      expect((await failure(counted.request({ method: 'GET', url, session: countingSession() }))).status).toBe(401);
      expect(outcomes).toEqual(['ok', 'ok']);
      // A failure other than 401 re-authenticates nothing.
      expect((await failure(counted.request({ method: 'GET', url, session: broken }))).status).toBe(503);
      expect(outcomes).toEqual(['ok', 'ok']);
      await expect(counted.request({ method: 'GET', url, session: broken })).rejects.toBe(refused);
      expect(outcomes).toEqual(['ok', 'ok', 'failed']);
    } finally {
      await counted.close();
    }
  });

  it('rejects with the abort reason, not a ChorusError, when the caller aborts', async () => {
    const { url, requests } = await serve(() => 'hold');
    const controller = new AbortController();
    const call = http.request({ method: 'GET', url, signal: controller.signal });
    await until(() => requests.length === 1);
    controller.abort(new Error('gone'));
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isChorusError(err)).toBe(false);
    expect((err as Error).message).toBe('gone');
    await requests[0]?.aborted;
  });
});
