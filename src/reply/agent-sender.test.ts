import { FormData, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import { createEmbeddedPod } from '../pod/create-embedded-pod.ts';
import { authenticate, BOT, STREAMS, T0, testUsers } from '../pod/pod-test-kit.ts';
import { createAgentHttp, HttpError, type AuthSession, type SessionTokens } from '../datafeed/agent-http.ts';
import { captureLog, startLoopback, until, type Loopback, type Recorded, type Reply } from '../datafeed/loopback.test-support.ts';
import { createAgentSender, type AgentSenderOptions } from './agent-sender.ts';
import type { OutboundMessage } from './reply-sender.ts';

const http = createAgentHttp();
let server: Loopback | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A session fake: tokens `S<n>`/`K<n>`, n growing with each refresh. */
function fakeSession(): AuthSession {
  let n = 1;
  let current: SessionTokens = { sessionToken: 'S1', keyManagerToken: 'K1' };
  return {
    tokens: async () => current,
    refresh: async () => {
      n += 1;
      current = { sessionToken: `S${n}`, keyManagerToken: `K${n}` };
      return current;
    },
  };
}

type Arrival = { streamId: string; message: string; data: string | null; sessionToken: string | undefined };

/** Parses the multipart body as a fetch Request would (WHATWG FormData). */
async function toArrival(req: Recorded): Promise<Arrival> {
  const form = await new Request('http://agent.test/', {
    method: 'POST',
    headers: { 'content-type': String(req.headers['content-type']) },
    body: req.body,
  }).formData();
  const match = /^\/agent\/v4\/stream\/([^/]+)\/message\/create$/.exec(req.path);
  const text = (name: string): string | null => {
    const value = form.get(name);
    return typeof value === 'string' ? value : null;
  };
  return {
    streamId: decodeURIComponent(match?.[1] ?? '?'),
    message: text('message') ?? '(missing)',
    data: text('data'),
    sessionToken: req.headers['sessiontoken'] as string | undefined,
  };
}

async function start(answer: (arrival: Arrival, i: number) => Reply | Promise<Reply>, options: Partial<AgentSenderOptions> = {}) {
  const arrivals: Arrival[] = [];
  server = await startLoopback(async (req) => {
    const arrival = await toArrival(req);
    arrivals.push(arrival);
    return answer(arrival, arrivals.length - 1);
  });
  const capture = captureLog();
  const sleeps: number[] = [];
  const sender = createAgentSender({
    agentUrl: `${server.url}/`,
    session: fakeSession(),
    http,
    log: capture.log,
    sleep: async (ms) => void sleeps.push(ms),
    ...options,
  });
  return { sender, arrivals, capture, sleeps };
}

const ok: Reply = { status: 200, json: { messageId: 'm1' } };

function message(streamId: string, text: string, data?: string): OutboundMessage {
  return {
    streamId,
    message: `<messageML>${text}</messageML>`,
    ...(data === undefined ? {} : { data }),
    inReplyTo: { eventId: `ev-${text}`, type: 'MESSAGESENT' },
  };
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('createAgentSender', () => {
  it('posts message and data as multipart/form-data fields, intact, with the session headers', async () => {
    const t = await start(() => ok);
    const data = JSON.stringify({ mention1: { type: 'com.symphony.user.mention', value: 123 } });
    const text = 'héllo ✓ <b>bold</b> & "quotes" <span class="entity" data-entity-id="mention1">@x</span>';
    await t.sender.send(message('iWyZBIOdQQzQj0tKOLRivX___qu6YeyZdA', text, data));
    await t.sender.send(message('s2', 'no data'));
    expect(t.arrivals).toEqual([
      { streamId: 'iWyZBIOdQQzQj0tKOLRivX___qu6YeyZdA', message: `<messageML>${text}</messageML>`, data, sessionToken: 'S1' },
      { streamId: 's2', message: '<messageML>no data</messageML>', data: null, sessionToken: 'S1' },
    ]);
  });

  it('posts what the embedded pod stores as it stores a FormData post, non-ASCII and line breaks included', async () => {
    const pod = await createEmbeddedPod({ users: testUsers(), streams: STREAMS, now: () => T0 });
    try {
      const tokens = await authenticate(pod, BOT.username, T0);
      const session: AuthSession = { tokens: async () => tokens, refresh: async () => tokens };
      const sender = createAgentSender({ agentUrl: pod.url, session, http, log: captureLog().log });
      const text = 'héllo ✓ 日本語 🎉\r\nline two\nline three\rend "quoted" &amp; <b>bold</b> <mention uid="7000000000002"/>';
      const data = JSON.stringify({ note: 'Ωμέγα ✓\r\n', nested: { k: 'v' } }, null, '\n');
      const sent = { streamId: 'desk', message: `<messageML>${text}</messageML>`, data };
      await sender.send({ ...sent, inReplyTo: { eventId: 'e1', type: 'MESSAGESENT' } });
      // The same fields as chorus posted them before: undici's FormData.
      const form = new FormData();
      form.set('message', sent.message);
      form.set('data', sent.data);
      const response = await request(`${pod.url}/agent/v4/stream/desk/message/create`, { method: 'POST', headers: { ...tokens }, body: form });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
      const [ours, reference] = pod.messages('desk').map(({ message, data: stored }) => ({ message, data: stored }));
      expect(ours).toEqual(reference);
      expect(ours?.message).toContain('héllo ✓ 日本語 🎉');
      expect(JSON.parse(ours?.data ?? '{}')).toMatchObject({ note: 'Ωμέγα ✓\r\n' });
    } finally {
      await pod.close();
    }
  });

  it('retries a 429 after Retry-After, a 5xx and a dropped connection after backoff, a 401 after re-authenticating', async () => {
    const replies: Reply[] = [{ status: 429, headers: { 'retry-after': '2' } }, { status: 503 }, 'destroy', { status: 401 }, ok];
    const t = await start((_a, i) => replies[i] ?? ok);
    await t.sender.send(message('s1', 'hi'));
    expect(t.arrivals.map((a) => a.sessionToken)).toEqual(['S1', 'S1', 'S1', 'S1', 'S2']);
    expect(t.sleeps).toHaveLength(3); // 429, 503, network; the 401 is recovered within one try
    expect(t.sleeps[0]).toBe(2000);
    expect(t.sleeps[1]).toBeLessThanOrEqual(1000);
    expect(t.sleeps[2]).toBeLessThanOrEqual(2000);
    const retries = t.capture.lines().filter((l) => l['msg'] === 'reply failed, retrying');
    expect(retries.map((l) => [l['status'], l['streamId'], l['component']])).toEqual([
      [429, 's1', 'reply'],
      [503, 's1', 'reply'],
      [undefined, 's1', 'reply'],
    ]);
  });

  it('gives up after maxAttempts, logs the streamId and error (not the text) and rejects with CHORUS_ERR_REPLY_FAILED', async () => {
    const t = await start(() => ({ status: 500, json: { code: 500, message: 'boom' } }), { maxAttempts: 3 });
    const err = await t.sender.send(message('s1', 'secret-plans')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isChorusError(err, 'CHORUS_ERR_REPLY_FAILED')).toBe(true);
    expect((err as Error).cause).toBeInstanceOf(HttpError);
    expect(((err as Error).cause as HttpError).status).toBe(500);
    expect(t.arrivals).toHaveLength(3);
    const failure = t.capture.lines().find((l) => l['level'] === 50);
    expect(failure?.['streamId']).toBe('s1');
    expect(failure?.['eventId']).toBe('ev-secret-plans');
    expect(JSON.stringify(failure?.['err'])).toContain('HTTP 500');
    expect(t.capture.text()).not.toContain('<messageML>secret-plans');
  });

  it('does not retry a refused message (400, 451)', async () => {
    for (const status of [400, 451]) {
      const t = await start(() => ({ status, json: { code: status, message: 'invalid messageML' } }));
      const err = await t.sender.send(message('s1', 'bad')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isChorusError(err, 'CHORUS_ERR_REPLY_FAILED')).toBe(true);
      expect((err as Error).message).toContain('invalid messageML');
      expect(t.arrivals).toHaveLength(1);
      await server?.close();
    }
  });

  it('asks the send\'s fence before every try: a refusal after a retry\'s backoff, or while queued, ends it as is', async () => {
    const refusal = new Error('fenced');
    let open = true;
    const fence = (): Error | undefined => (open ? undefined : refusal);
    // Closed during the backoff of a 503: the retry is not sent.
    const t = await start(() => ({ status: 503 }), {
      sleep: async (ms) => {
        t.sleeps.push(ms);
        open = false;
      },
    });
    const err = await t.sender.send(message('s1', 'hi'), { fence }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBe(refusal);
    expect(t.arrivals).toHaveLength(1);
    expect(t.sleeps).toHaveLength(1);
    expect(t.capture.lines().filter((l) => l['level'] === 50)).toEqual([]); // a refusal is no failure of the sender
    expect(t.capture.lines().some((l) => l['msg'] === 'reply not sent: refused by its fence' && l['level'] === 40)).toBe(true);
    await server?.close();

    // Closed while queued behind another message to the stream: nothing of it is sent.
    open = true;
    const held = gate();
    const q = await start(async (arrival) => {
      if (arrival.message.includes('first')) await held.promise;
      return ok;
    });
    const first = q.sender.send(message('s1', 'first'), { fence });
    const second = q.sender.send(message('s1', 'second'), { fence });
    await until(() => q.arrivals.length === 1);
    open = false;
    held.open();
    await first;
    await expect(second).rejects.toBe(refusal);
    expect(q.arrivals.map((a) => a.message)).toEqual(['<messageML>first</messageML>']);
  });

  it('sends one stream one message at a time, in order, without delaying another stream', async () => {
    const held = gate();
    const t = await start(async (arrival) => {
      if (arrival.message.includes('A1')) await held.promise;
      return ok;
    });
    const a1 = t.sender.send(message('A', 'A1'));
    const a2 = t.sender.send(message('A', 'A2'));
    const b1 = t.sender.send(message('B', 'B1'));
    await b1; // answered while A1 is still held
    expect(t.arrivals.map((a) => a.message)).toEqual(['<messageML>A1</messageML>', '<messageML>B1</messageML>']);
    held.open();
    await Promise.all([a1, a2]);
    expect(t.arrivals.map((a) => a.message)).toEqual([
      '<messageML>A1</messageML>',
      '<messageML>B1</messageML>',
      '<messageML>A2</messageML>',
    ]);
  });

  it('keeps minIntervalMsPerStream between two messages to a stream, also after a failure, not across streams', async () => {
    const pauses: { ms: number; open: () => void }[] = [];
    const t = await start((arrival) => (arrival.message.includes('A1') ? { status: 400 } : ok), {
      minIntervalMsPerStream: 60_000,
      sleep: (ms) => {
        const g = gate();
        pauses.push({ ms, open: g.open });
        return g.promise;
      },
    });
    const a1 = t.sender.send(message('A', 'A1')).catch(() => 'failed');
    const a2 = t.sender.send(message('A', 'A2'));
    await expect(a1).resolves.toBe('failed');
    await t.sender.send(message('B', 'B1'));
    await until(() => pauses.length === 2); // A's and B's gaps
    expect(pauses.map((p) => p.ms)).toEqual([60_000, 60_000]);
    expect(t.arrivals.map((a) => a.message)).toEqual(['<messageML>A1</messageML>', '<messageML>B1</messageML>']);
    pauses[0]?.open();
    await a2;
    expect(t.arrivals.map((a) => a.message)).toEqual([
      '<messageML>A1</messageML>',
      '<messageML>B1</messageML>',
      '<messageML>A2</messageML>',
    ]);
    pauses[1]?.open();
  });

  it('refuses a maxAttempts below 1 and a negative interval', () => {
    const base = { agentUrl: 'http://127.0.0.1:1', session: fakeSession(), http, log: captureLog().log };
    expect(() => createAgentSender({ ...base, maxAttempts: 0 })).toThrow(RangeError);
    expect(() => createAgentSender({ ...base, minIntervalMsPerStream: -1 })).toThrow(RangeError);
  });
});
