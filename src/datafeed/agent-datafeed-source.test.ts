import { generateKeyPairSync } from 'node:crypto';
import type { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import { createAgentHttp } from './agent-http.ts';
import { createAgentDatafeedSource, type AgentDatafeedSourceOptions } from './agent-datafeed-source.ts';
import type { DatafeedBatch } from './datafeed-source.ts';
import { captureLog, startLoopback, tick, until, type Loopback, type Recorded, type Reply } from './loopback.test-support.ts';
import { createSymphonySession } from './symphony-session.ts';

const privateKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const http = createAgentHttp();
let server: Loopback | undefined;
let subscription: Subscription | undefined;

afterEach(async () => {
  subscription?.unsubscribe();
  subscription = undefined;
  await server?.close();
  server = undefined;
});

type Feeds = {
  /** The answer to `GET /agent/v5/datafeeds`. Default: 200 []. */
  list?: (req: Recorded) => Reply;
  /** The answer to the i-th read (from 0, over all feeds). Default: 'hold'. */
  read?: (req: Recorded, i: number) => Reply | Promise<Reply>;
  /** The answer to `POST /agent/v5/datafeeds` (the k-th, from 1). Default: 201 { id: 'new<k>_f', type: 'fanout' }. */
  create?: (req: Recorded, k: number) => Reply;
  /** The answer to `DELETE /agent/v5/datafeeds/{id}`. Default: 204. */
  remove?: (req: Recorded) => Reply;
  /** Overrides the answer to the n-th pod authentication (from 1). Default: 200 { token: 'S<n>' }. */
  login?: (n: number) => Reply | undefined;
};

/** A loopback pod + key manager + agent, a real session and the source under test, with a recording sleep. */
async function start(feeds: Feeds, options: Partial<AgentDatafeedSourceOptions> = {}) {
  let sessions = 0;
  let keyManagers = 0;
  let reads = 0;
  let creates = 0;
  server = await startLoopback((req) => {
    const path = req.path.split('?')[0] ?? '';
    if (path === '/login/pubkey/authenticate') {
      sessions += 1;
      return feeds.login?.(sessions) ?? { status: 200, json: { token: `S${sessions}` } };
    }
    if (path === '/relay/pubkey/authenticate') return { status: 200, json: { token: `K${++keyManagers}` } };
    if (path === '/agent/v5/datafeeds' && req.method === 'GET') return feeds.list?.(req) ?? { status: 200, json: [] };
    if (path === '/agent/v5/datafeeds' && req.method === 'POST') {
      creates += 1;
      return feeds.create?.(req, creates) ?? { status: 201, json: { id: `new${creates}_f`, type: 'fanout' } };
    }
    if (req.method === 'DELETE') return feeds.remove?.(req) ?? { status: 204 };
    if (path.endsWith('/read')) return feeds.read?.(req, reads++) ?? 'hold';
    return { status: 404 };
  });
  const capture = captureLog();
  const session = createSymphonySession({
    podUrl: server.url,
    keyManagerUrl: server.url,
    username: 'chorus-bot',
    privateKeyPem,
    http,
    log: capture.log,
  });
  const sleeps: number[] = [];
  const source = createAgentDatafeedSource({
    agentUrl: server.url,
    session,
    http,
    log: capture.log,
    sleep: async (ms) => void sleeps.push(ms),
    ...options,
  });
  const batches: DatafeedBatch[] = [];
  const state = { completed: false, error: undefined as unknown };
  const requests = server.requests;
  const agentCalls = (): string[] =>
    requests.filter((r) => r.path.startsWith('/agent/')).map((r) => `${r.method} ${r.path}${r.method === 'POST' && r.path.endsWith('/read') ? ` ${JSON.stringify(r.json)}` : ''}`);
  const subscribe = (): void => {
    subscription = source.batches$.subscribe({
      next: (batch) => batches.push(batch),
      error: (err: unknown) => (state.error = err),
      complete: () => (state.completed = true),
    });
  };
  return {
    source,
    sleeps,
    capture,
    batches,
    state,
    requests,
    agentCalls,
    subscribe,
    readCalls: () => requests.filter((r) => r.path.endsWith('/read')),
    auths: () => requests.filter((r) => r.path.endsWith('/pubkey/authenticate')).length,
  };
}

/** A read answer: events `[{ id: 'e<i>' }]` and ackId `a<i+1>`. */
const batch = (i: number): Reply => ({ status: 200, json: { events: [{ id: `e${i}` }], ackId: `a${i + 1}` } });

describe('createAgentDatafeedSource: opening the feed', () => {
  it('reuses the first listed fanout feed (`_f` id) and reads it with an empty ackId first', async () => {
    const t = await start({
      list: () => ({ status: 200, json: [{ id: 'abc_p_hose', type: 'datahose' }, { id: 'abc_f', type: 'fanout' }, { id: 'def_f' }] }),
    });
    t.subscribe();
    await until(() => t.readCalls().length === 1);
    expect(t.agentCalls()).toEqual(['GET /agent/v5/datafeeds', 'POST /agent/v5/datafeeds/abc_f/read {"ackId":""}']);
    expect(t.readCalls()[0]?.headers['sessiontoken']).toBe('S1');
    expect(t.readCalls()[0]?.headers['keymanagertoken']).toBe('K1');
  });

  it('creates a feed when none matches, accepting 200 as well as 201', async () => {
    const t = await start({
      list: () => ({ status: 200, json: [{ id: 'abc_p_hose', type: 'datahose' }, { id: 'a b_f' }] }),
      create: () => ({ status: 200, json: { id: 'made_f', type: 'fanout' } }),
    });
    t.subscribe();
    await until(() => t.readCalls().length === 1);
    expect(t.agentCalls()).toEqual(['GET /agent/v5/datafeeds', 'POST /agent/v5/datafeeds', 'POST /agent/v5/datafeeds/made_f/read {"ackId":""}']);
    expect(t.requests[t.requests.length - 2]?.json).toEqual({});
  });

  it('with a tag, lists by tag, reuses only id === tag of type fanout, else creates with the tag', async () => {
    const reuse = await start({ list: () => ({ status: 200, json: [{ id: 'abc_f', type: 'fanout' }, { id: 'bots', type: 'fanout' }] }) }, { tag: 'bots' });
    reuse.subscribe();
    await until(() => reuse.readCalls().length === 1);
    expect(reuse.agentCalls()).toEqual(['GET /agent/v5/datafeeds?tag=bots', 'POST /agent/v5/datafeeds/bots/read {"ackId":""}']);
    subscription?.unsubscribe();
    await server?.close();

    const create = await start({ list: () => ({ status: 200, json: [{ id: 'bots', type: 'datahose' }] }) }, { tag: 'bots' });
    create.subscribe();
    await until(() => create.readCalls().length === 1);
    const post = create.requests.find((r) => r.method === 'POST' && r.path === '/agent/v5/datafeeds');
    expect(post?.json).toEqual({ tag: 'bots' });
  });

  it('with includeInvisible, creates the feed with includeInvisible: true, with and without a tag (false leaves it out)', async () => {
    const posted = async (options: Partial<AgentDatafeedSourceOptions>): Promise<unknown> => {
      const t = await start({}, options);
      t.subscribe();
      await until(() => t.readCalls().length === 1);
      subscription?.unsubscribe();
      await server?.close();
      const creates = t.requests.filter((r) => r.method === 'POST' && r.path === '/agent/v5/datafeeds');
      expect(creates).toHaveLength(1);
      expect(creates[0]?.headers['content-type']).toBe('application/json');
      return creates[0]?.json;
    };
    expect(await posted({ includeInvisible: true })).toEqual({ includeInvisible: true });
    expect(await posted({ includeInvisible: true, tag: 'bots' })).toEqual({ tag: 'bots', includeInvisible: true });
    expect(await posted({ includeInvisible: false, tag: 'bots' })).toEqual({ tag: 'bots' });
  });

  it('recreates a feed after a 400 with includeInvisible: true too, and logs the retried call\'s X-Trace-Id', async () => {
    const replies: Reply[] = [{ status: 503 }, { status: 400 }, batch(0)];
    const t = await start({ read: (_req, i) => replies[i] ?? 'hold' }, { includeInvisible: true });
    t.subscribe();
    await until(() => t.batches.length === 1);
    const creates = t.requests.filter((r) => r.method === 'POST' && r.path === '/agent/v5/datafeeds');
    expect(creates.map((r) => r.json)).toEqual([{ includeInvisible: true }, { includeInvisible: true }]);
    const [failed503, failed400] = t.readCalls().map((r) => r.headers['x-trace-id']);
    const lines = t.capture.lines().filter((l) => l['component'] === 'datafeed' && l['level'] === 40);
    expect(lines.map((l) => [l['status'], l['traceId']])).toEqual([
      [503, failed503],
      [400, failed400],
    ]);
    expect(failed503).toMatch(/^[A-Za-z0-9]{6}$/);
  });
});

describe('createAgentDatafeedSource: reading', () => {
  it('emits each response as a batch and sends its ackId on the next read once acked', async () => {
    const t = await start({ read: (_req, i) => (i < 3 ? batch(i) : 'hold') });
    t.subscribe();
    for (let i = 0; i < 3; i += 1) {
      await until(() => t.batches.length === i + 1);
      await tick(10);
      expect(t.readCalls()).toHaveLength(i + 1); // nothing is read before the batch is settled
      t.batches[i]?.settle('ack');
    }
    await until(() => t.readCalls().length === 4);
    expect(t.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: 'a1' }, { ackId: 'a2' }, { ackId: 'a3' }]);
    expect(t.batches.map((b) => [b.ackId, b.events])).toEqual([
      ['a1', [{ id: 'e0' }]],
      ['a2', [{ id: 'e1' }]],
      ['a3', [{ id: 'e2' }]],
    ]);
  });

  it('keeps the previous ackId after a requeue so the pod redelivers the batch', async () => {
    const t = await start({ read: (_req, i) => (i < 2 ? batch(i) : 'hold') });
    t.subscribe();
    await until(() => t.batches.length === 1);
    t.batches[0]?.settle('requeue');
    t.batches[0]?.settle('ack'); // a second settle is ignored
    await until(() => t.batches.length === 2);
    t.batches[1]?.settle('ack');
    await until(() => t.readCalls().length === 3);
    expect(t.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: '' }, { ackId: 'a2' }]);
  });

  it('emits an empty batch when events is null or absent', async () => {
    const replies: Reply[] = [{ status: 200, json: { ackId: 'a1' } }, { status: 200, json: { events: null, ackId: 'a2' } }];
    const t = await start({ read: (_req, i) => replies[i] ?? 'hold' });
    t.subscribe();
    await until(() => t.batches.length === 1);
    t.batches[0]?.settle('ack');
    await until(() => t.batches.length === 2);
    expect(t.batches.map((b) => [b.ackId, b.events])).toEqual([
      ['a1', []],
      ['a2', []],
    ]);
  });
});

describe('createAgentDatafeedSource: recovery', () => {
  it('on 400 deletes the feed (a refused delete is ignored), creates a new one and resets the ackId', async () => {
    const t = await start({
      list: () => ({ status: 200, json: [{ id: 'old_f', type: 'fanout' }] }),
      read: (req, i) => (i === 0 ? batch(0) : i === 1 ? { status: 400, json: { code: 400, message: 'feed gone' } } : i === 2 ? batch(2) : 'hold'),
      remove: () => ({ status: 400 }),
    });
    t.subscribe();
    await until(() => t.batches.length === 1);
    t.batches[0]?.settle('ack');
    await until(() => t.batches.length === 2);
    expect(t.agentCalls()).toEqual([
      'GET /agent/v5/datafeeds',
      'POST /agent/v5/datafeeds/old_f/read {"ackId":""}',
      'POST /agent/v5/datafeeds/old_f/read {"ackId":"a1"}',
      'DELETE /agent/v5/datafeeds/old_f',
      'POST /agent/v5/datafeeds',
      'POST /agent/v5/datafeeds/new1_f/read {"ackId":""}',
    ]);
    const warning = t.capture.lines().find((l) => l['level'] === 40 && l['status'] === 400);
    expect(warning?.['component']).toBe('datafeed');
    expect(String(warning?.['msg'])).toContain('may be lost');
  });

  it('backs off before recreating a feed that was refused again at once', async () => {
    const t = await start({ read: (_req, i) => (i < 3 ? { status: 400 } : batch(3)) });
    t.subscribe();
    await until(() => t.batches.length === 1);
    expect(t.agentCalls().filter((c) => c === 'POST /agent/v5/datafeeds')).toHaveLength(4); // first + 3 recreations
    expect(t.sleeps).toHaveLength(2); // none before the first recreation
    expect(t.sleeps[0]).toBeLessThanOrEqual(500);
  });

  it('on 401 re-authenticates the session and retries the read with the new tokens', async () => {
    const t = await start({ read: (req) => (req.headers['sessiontoken'] === 'S1' ? { status: 401, json: { code: 401, message: 'Invalid session' } } : batch(0)) });
    t.subscribe();
    await until(() => t.batches.length === 1);
    expect(t.readCalls().map((r) => [r.headers['sessiontoken'], r.headers['keymanagertoken']])).toEqual([
      ['S1', 'K1'],
      ['S2', 'K2'],
    ]);
    expect(t.auths()).toBe(4);
    expect(t.capture.lines().some((l) => l['component'] === 'datafeed' && l['status'] === 401)).toBe(true);
    expect(t.capture.text()).not.toMatch(/"S1"|"S2"|"K1"/);
  });

  it('on 429 waits Retry-After, and falls back to backoff without it', async () => {
    const replies: Reply[] = [{ status: 429, headers: { 'retry-after': '3' } }, { status: 429 }, batch(2)];
    const t = await start({ read: (_req, i) => replies[i] ?? 'hold' });
    t.subscribe();
    await until(() => t.batches.length === 1);
    expect(t.sleeps).toHaveLength(2);
    expect(t.sleeps[0]).toBe(3000);
    expect(t.sleeps[1]).toBeLessThanOrEqual(1000); // second failure: cap 500 × 2
    expect(t.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: '' }, { ackId: '' }]);
  });

  it('on 5xx backs off with growing caps, recovers, and starts over after a success', async () => {
    const replies: Reply[] = [{ status: 503 }, { status: 502 }, batch(2), { status: 500 }, batch(4)];
    const t = await start(
      { read: (_req, i) => replies[i] ?? 'hold' },
      { retry: { initialIntervalMs: 1, multiplier: 1000, maxIntervalMs: 1e9 } },
    );
    t.subscribe();
    await until(() => t.batches.length === 1);
    t.batches[0]?.settle('ack');
    await until(() => t.batches.length === 2);
    expect(t.sleeps).toHaveLength(3);
    expect(t.sleeps[0]).toBeLessThanOrEqual(1);
    expect(t.sleeps[1]).toBeLessThanOrEqual(1000);
    expect(t.sleeps[2]).toBeLessThanOrEqual(1); // the count was reset by the success in between
    expect(t.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: '' }, { ackId: '' }, { ackId: 'a3' }, { ackId: 'a3' }]);
    const retries = t.capture.lines().filter((l) => l['msg'] === 'datafeed call failed, retrying');
    expect(retries.map((l) => l['status'])).toEqual([503, 502, 500]);
  });

  it('recovers from a dropped connection', async () => {
    const t = await start({ read: (_req, i) => (i === 0 ? 'destroy' : i === 1 ? batch(1) : 'hold') });
    t.subscribe();
    await until(() => t.batches.length === 1);
    expect(t.batches[0]?.ackId).toBe('a2');
    expect(t.sleeps).toHaveLength(1);
    const retry = t.capture.lines().find((l) => l['msg'] === 'datafeed call failed, retrying');
    expect(retry?.['code']).toBe('CHORUS_ERR_HTTP_NETWORK');
  });

  it.each([
    [403, 'too many feeds'],
    [404, 'not found'],
  ])('fails with CHORUS_ERR_DATAFEED_FAILED on a %i read, without retrying', async (status, text) => {
    const t = await start({ read: () => ({ status, json: { code: status, message: 'nope' } }) });
    t.subscribe();
    await until(() => t.state.error !== undefined);
    expect(isChorusError(t.state.error, 'CHORUS_ERR_DATAFEED_FAILED')).toBe(true);
    expect((t.state.error as Error).message).toContain(text);
    expect(t.readCalls()).toHaveLength(1);
    expect(t.sleeps).toEqual([]);
  });

  it('fails with CHORUS_ERR_DATAFEED_FAILED when a 403 refuses the creation', async () => {
    const t = await start({ create: () => ({ status: 403 }) });
    t.subscribe();
    await until(() => t.state.error !== undefined);
    expect(isChorusError(t.state.error, 'CHORUS_ERR_DATAFEED_FAILED')).toBe(true);
  });

  it('fails with CHORUS_ERR_AUTH_FAILED when re-authentication is refused', async () => {
    const t = await start({ read: () => ({ status: 401 }), login: (n) => (n > 1 ? { status: 401 } : undefined) });
    t.subscribe();
    await until(() => t.state.error !== undefined);
    expect(isChorusError(t.state.error, 'CHORUS_ERR_AUTH_FAILED')).toBe(true);
    expect((t.state.error as Error).message).toContain('chorus-bot');
    expect(t.readCalls()).toHaveLength(1);
  });

  it('gives up after retry.maxAttempts tries', async () => {
    const t = await start({ read: () => ({ status: 503 }) }, { retry: { maxAttempts: 3 } });
    t.subscribe();
    await until(() => t.state.error !== undefined);
    expect(isChorusError(t.state.error, 'CHORUS_ERR_DATAFEED_FAILED')).toBe(true);
    expect((t.state.error as Error).message).toContain('retries ran out');
    expect(t.readCalls()).toHaveLength(3);
  });
});

describe('createAgentDatafeedSource: stop and unsubscribe', () => {
  it('stop() waits for the batch in flight, acknowledges it with one last read, drops what that returns, completes', async () => {
    const t = await start({ read: (_req, i) => (i === 0 ? batch(0) : { status: 200, json: { events: [{ id: 'late' }], ackId: 'a2' } }) });
    t.subscribe();
    await until(() => t.batches.length === 1);
    let stopped = false;
    const stopping = t.source.stop().then(() => (stopped = true));
    await tick(20);
    expect(stopped).toBe(false);
    expect(t.readCalls()).toHaveLength(1);
    t.batches[0]?.settle('ack');
    await stopping;
    expect(t.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: 'a1' }]);
    expect(t.batches).toHaveLength(1);
    expect(t.state.completed).toBe(true);
  });

  it('stop() during a long poll aborts it and re-sends its ackId in a short last read', async () => {
    const t = await start({ read: (_req, i) => (i === 0 ? batch(0) : i === 1 ? 'hold' : { status: 200, json: { events: [], ackId: 'a2' } }) });
    t.subscribe();
    await until(() => t.batches.length === 1);
    t.batches[0]?.settle('ack');
    await until(() => t.readCalls().length === 2);
    await t.source.stop();
    await t.readCalls()[1]?.aborted;
    expect(t.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: 'a1' }, { ackId: 'a1' }]);
    expect(t.state.completed).toBe(true);
  });

  it('stop() after an empty batch sends no last read: its ackId acknowledges no event', async () => {
    const t = await start({ read: (_req, i) => (i === 0 ? batch(0) : i === 1 ? { status: 200, json: { events: [], ackId: 'a2' } } : 'hold') });
    t.subscribe();
    await until(() => t.batches.length === 1);
    t.batches[0]?.settle('ack');
    await until(() => t.batches.length === 2);
    t.batches[1]?.settle('ack');
    await until(() => t.readCalls().length === 3);
    await t.source.stop();
    await t.readCalls()[2]?.aborted;
    expect(t.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: 'a1' }, { ackId: 'a2' }]);
    expect(t.state.completed).toBe(true);
  });

  it('stop() after a requeue sends no last read, and a last read that hangs is cut short', async () => {
    const requeued = await start({ read: (_req, i) => (i < 2 ? batch(i) : 'hold') });
    requeued.subscribe();
    await until(() => requeued.batches.length === 1);
    requeued.batches[0]?.settle('ack');
    await until(() => requeued.batches.length === 2);
    const stopping = requeued.source.stop();
    requeued.batches[1]?.settle('requeue');
    await stopping;
    // a1 went out with the second read, which completed: nothing is left to acknowledge.
    expect(requeued.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: 'a1' }]);
    expect(requeued.state.completed).toBe(true);
    await server?.close();

    const hanging = await start({ read: (_req, i) => (i === 0 ? batch(0) : 'hold') }, { stopReadTimeoutMs: 50 });
    hanging.subscribe();
    await until(() => hanging.batches.length === 1);
    const stopped = hanging.source.stop();
    hanging.batches[0]?.settle('ack');
    await stopped;
    expect(hanging.readCalls().map((r) => r.json)).toEqual([{ ackId: '' }, { ackId: 'a1' }]);
    await hanging.readCalls()[1]?.aborted;
    expect(hanging.state.completed).toBe(true);
  });

  it('unsubscribing aborts the long poll in flight at once and reads no more', async () => {
    const t = await start({ read: () => 'hold' });
    t.subscribe();
    await until(() => t.readCalls().length === 1);
    subscription?.unsubscribe();
    await t.readCalls()[0]?.aborted;
    await tick(30);
    expect(t.readCalls()).toHaveLength(1);
    expect(t.state).toEqual({ completed: false, error: undefined });
    await expect(t.source.stop()).resolves.toBeUndefined();
  });
});
