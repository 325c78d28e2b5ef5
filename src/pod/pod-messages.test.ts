import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWireEvent } from '../events/parse-wire-event.ts';
import { createEmbeddedPod, type EmbeddedPod, type WireV4Message } from './create-embedded-pod.ts';
import {
  ALICE,
  BOB,
  BOT,
  STREAMS,
  T0,
  authenticate,
  call,
  createFeed,
  readFeed,
  testUsers,
  type Tokens,
} from './pod-test-kit.ts';

let pod: EmbeddedPod;
let clock = T0;
const tokens: Record<string, Tokens> = {};
const feeds: Record<string, string> = {};

beforeAll(async () => {
  const now = () => clock;
  pod = await createEmbeddedPod({ users: testUsers(), streams: STREAMS, now, datafeed: { pollTimeoutMs: 50 } });
  for (const user of [BOT, ALICE, BOB]) {
    tokens[user.username] = await authenticate(pod, user.username, T0);
    feeds[user.username] = await createFeed(pod, tokens[user.username] as Tokens);
  }
});
afterAll(() => pod.close());

const as = (username: string): Tokens => tokens[username] as Tokens;
const entity = (type: string, idType: string, value: string) => ({
  type,
  version: '1.0',
  id: [{ type: idType, value }],
});

/** POSTs message/create as multipart/form-data. */
async function send(
  username: string,
  streamId: string,
  fields: Record<string, string>,
): Promise<{ status: number; body: WireV4Message }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const res = await fetch(`${pod.url}/agent/v4/stream/${streamId}/message/create`, {
    method: 'POST',
    headers: { sessionToken: as(username).sessionToken, keyManagerToken: as(username).keyManagerToken },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as WireV4Message };
}

const drain = async (username: string) => (await readFeed(pod, as(username), feeds[username] as string)).events;
const ack = async (username: string) => {
  const first = await readFeed(pod, as(username), feeds[username] as string);
  await readFeed(pod, as(username), feeds[username] as string, first.ackId);
  return first.events;
};

describe('POST /agent/v4/stream/{sid}/message/create', () => {
  it('renders mentions, hashtags and cashtags as the agent does, and returns the V4Message', async () => {
    clock += 1_000;
    const reply = await send('alice', 'desk', {
      message:
        `<messageML>Hi <mention uid="${BOT.userId}"/> <hash tag="rates"/> <cash tag="AAPL"/> &amp; <b>bold</b> ` +
        '<mention email="alice@example.org"/></messageML>',
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      messageId: expect.stringMatching(/^[A-Za-z0-9_-]{34}$/) as unknown,
      timestamp: clock,
      message:
        '<div data-format="PresentationML" data-version="2.0">Hi ' +
        '<span class="entity" data-entity-id="mention1">@Chorus Bot</span> ' +
        '<span class="entity" data-entity-id="keyword2">#rates</span> ' +
        '<span class="entity" data-entity-id="keyword3">$AAPL</span> &amp; <b>bold</b> ' +
        '<span class="entity" data-entity-id="mention4">@Alice Ng</span></div>',
      user: { userId: 7000000000002, displayName: 'Alice Ng', username: 'alice', email: 'alice@example.org' },
      stream: { streamId: 'desk', streamType: 'ROOM' },
      originalFormat: 'com.symphony.messageml.v2',
    });
    expect(JSON.parse(reply.body.data)).toEqual({
      mention1: entity('com.symphony.user.mention', 'com.symphony.user.userId', BOT.userId),
      keyword2: entity('org.symphonyoss.taxonomy', 'org.symphonyoss.taxonomy.hashtag', 'rates'),
      keyword3: entity('org.symphonyoss.fin.security', 'org.symphonyoss.fin.security.id.ticker', 'AAPL'),
      mention4: entity('com.symphony.user.mention', 'com.symphony.user.userId', ALICE.userId),
    });
  });

  it('sends MESSAGESENT to every member, the sender included, parseable by chorus', async () => {
    await Promise.all([ack('chorus-bot'), ack('alice'), ack('bob')]);
    const message = `<messageML><mention uid="${BOT.userId}"/> /buy 100 <cash tag="AAPL"/></messageML>`;
    const reply = await send('alice', 'desk', { message });
    for (const username of ['chorus-bot', 'alice', 'bob']) {
      const events = await drain(username);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'MESSAGESENT',
        timestamp: reply.body.timestamp,
        initiator: { user: { userId: 7000000000002 } },
        payload: { messageSent: { message: { ...reply.body, externalRecipients: false } } },
      });
      const event = parseWireEvent(events[0]);
      expect(event?.type === 'MESSAGESENT' && event.message.tokens).toEqual([
        { kind: 'mention', text: '@Chorus Bot', userId: BOT.userId, displayName: 'Chorus Bot' },
        { kind: 'word', text: '/buy' },
        { kind: 'word', text: '100' },
        { kind: 'cashtag', text: '$AAPL', value: 'AAPL' },
      ]);
    }
  });

  it('wraps plain text in <messageML> as BDK Java does and keeps given EntityJSON', async () => {
    const reply = await send('chorus-bot', 'im-alice', { message: 'hello there', data: '{"x":{"type":"custom"}}' });
    expect(reply.status).toBe(200);
    expect(reply.body.message).toBe('<div data-format="PresentationML" data-version="2.0">hello there</div>');
    expect(JSON.parse(reply.body.data)).toEqual({ x: { type: 'custom' } });
  });

  it('answers 403 when the sender is not a member and 400 for an unknown stream', async () => {
    expect(await send('chorus-bot', 'private', { message: 'hi' })).toMatchObject({ status: 403, body: { code: 403 } });
    expect(await send('chorus-bot', 'nowhere', { message: 'hi' })).toMatchObject({ status: 400, body: { code: 400 } });
  });

  it('answers 400 with a message for malformed MessageML, unknown mentions, bad data and missing fields', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ message: '<messageML><b>bold</messageML>' }, /Malformed MessageML: <\/messageML> does not close <b>/],
      [{ message: '<messageML>a < b</messageML>' }, /Malformed MessageML/],
      [{ message: '<messageML>hi' }, /missing closing tag/],
      [{ message: '<messageML><mention uid="42"/></messageML>' }, /Failed to lookup user "42"/],
      [{ message: '<messageML><hash tag="two words"/></messageML>' }, /<hash> needs a tag/],
      [{ message: 'hi', data: '[1]' }, /^data: /],
      [{ data: '{}' }, /^message: required/],
    ];
    for (const [fields, message] of cases) {
      const refusal = { code: 400, message: expect.stringMatching(message) as unknown };
      expect(await send('alice', 'desk', fields)).toEqual({ status: 400, body: refusal });
    }
  });

  it('answers 400 for a body that is not multipart/form-data', async () => {
    const reply = await call(pod, as('alice'), 'POST', '/agent/v4/stream/desk/message/create', { message: 'hi' });
    const refusal = { message: expect.stringContaining('multipart/form-data') as unknown };
    expect(reply).toMatchObject({ status: 400, body: refusal });
  });

  it('posts through postMessage the same way, and refuses with CHORUS_ERR_POD_REJECTED', async () => {
    await Promise.all([ack('chorus-bot')]);
    const posted = pod.postMessage('bob', 'desk', `<messageML>ping <mention uid="${BOT.userId}"/></messageML>`);
    expect(posted.message).toContain('data-entity-id="mention1">@Chorus Bot</span>');
    const events = await drain('chorus-bot');
    const messageIds = events.map(
      (e) => (e.payload as { messageSent: { message: WireV4Message } }).messageSent.message.messageId,
    );
    expect(messageIds).toEqual([posted.messageId]);
    expect(() => pod.postMessage('chorus-bot', 'private', 'hi')).toThrow(
      expect.objectContaining({
        code: 'CHORUS_ERR_POD_REJECTED',
        message: expect.stringContaining('403') as unknown,
      }) as unknown,
    );
    expect(() => pod.postMessage('nobody', 'desk', 'hi')).toThrow(
      expect.objectContaining({ code: 'CHORUS_ERR_POD_REJECTED' }) as unknown,
    );
  });
});

describe('GET /agent/v4/stream/{sid}/message', () => {
  it('lists the stream messages oldest first, with since, until, skip and limit', async () => {
    for (const text of ['one', 'two', 'three']) {
      clock += 10_000;
      pod.postMessage('alice', 'desk', text);
    }
    const all = pod.messages('desk');
    const listed = await call(pod, as('bob'), 'GET', '/agent/v4/stream/desk/message?since=0');
    expect(listed).toEqual({ status: 200, headers: expect.anything() as unknown, body: all });
    const page = await call(pod, as('bob'), 'GET', '/agent/v4/stream/desk/message?since=0&skip=1&limit=1');
    expect(page.body).toEqual([all[1]]);
    const since = await call(pod, as('bob'), 'GET', `/agent/v4/stream/desk/message?since=${clock - 10_000}`);
    expect((since.body as { message: string }[]).map((m) => m.message)).toEqual([
      '<div data-format="PresentationML" data-version="2.0">two</div>',
      '<div data-format="PresentationML" data-version="2.0">three</div>',
    ]);
    const until = await call(pod, as('bob'), 'GET', `/agent/v4/stream/desk/message?since=0&until=${clock - 20_000}`);
    expect(until.body).toEqual(all.filter((m) => m.timestamp <= clock - 20_000));
    expect((until.body as unknown[]).length).toBe(all.length - 2);
  });

  it('keeps the newest messageHistory messages pod-wide for listing, dropping the oldest posted first', async () => {
    const small = await createEmbeddedPod({ users: testUsers(), streams: STREAMS, messageHistory: 3 });
    const none = await createEmbeddedPod({ users: testUsers(), streams: STREAMS, messageHistory: 0 });
    try {
      const texts = (messages: readonly WireV4Message[]) => messages.map((m) => /<div[^>]*>(.*)<\/div>/.exec(m.message)?.[1]);
      for (const [stream, text] of [['desk', 'd1'], ['im-alice', 'i1'], ['desk', 'd2'], ['desk', 'd3'], ['im-alice', 'i2']] as const) {
        small.postMessage('alice', stream, text);
        none.postMessage('alice', stream, text);
      }
      expect(texts(small.messages('desk'))).toEqual(['d2', 'd3']); // d1 and i1 went, the two oldest
      expect(texts(small.messages('im-alice'))).toEqual(['i2']);
      const listed = await call(small, await authenticate(small, 'bob', Date.now()), 'GET', '/agent/v4/stream/desk/message?since=0');
      expect(texts(listed.body as WireV4Message[])).toEqual(['d2', 'd3']);
      expect(small.stats().messages).toBe(5); // posted, kept or not
      expect([none.messages('desk'), none.messages('im-alice')]).toEqual([[], []]);
      await expect(createEmbeddedPod({ users: testUsers(), messageHistory: -1 })).rejects.toThrow(/messageHistory/);
    } finally {
      await Promise.all([small.close(), none.close()]);
    }
  });

  it('answers 204 without messages, 400 for bad parameters, 403 for a non-member', async () => {
    expect((await call(pod, as('alice'), 'GET', '/agent/v4/stream/empty-room/message?since=0')).status).toBe(204);
    for (const query of ['', '?since=yesterday', '?since=0&limit=501', '?since=0&skip=-1']) {
      const reply = await call(pod, as('alice'), 'GET', `/agent/v4/stream/desk/message${query}`);
      expect(reply).toMatchObject({ status: 400, body: { code: 400 } });
    }
    expect((await call(pod, as('chorus-bot'), 'GET', '/agent/v4/stream/private/message?since=0')).status).toBe(403);
  });
});
