import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, PAYLOADS, v4EnvelopeSchema, v5EventListSchema } from '../events/wire-schema.ts';
import type { EventType } from '../events/wire-schema.ts';
import { createEventFactory } from './factories.ts';
import type { EventFactory, WireEvent } from './factories.ts';

const OPEN = '<div data-format="PresentationML" data-version="2.0">';
const BOT = { userId: '7000000000001', displayName: 'Chorus Bot' };

/** One event of each of the 17 types, built by a fresh factory (so the table is the same every call). */
function oneOfEach(f: EventFactory): Record<EventType, WireEvent> {
  const alice = f.user({ displayName: 'Alice Ng' });
  const bob = f.user({ displayName: 'Bob Li' });
  const room = f.room({ roomName: 'Trading desk' });
  const im = f.im(alice);
  const sent = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /buy 100 ', f.cashtag('AAPL')] });
  return {
    MESSAGESENT: sent,
    SHAREDPOST: f.sharedPost({ from: alice, content: 'look', shared: { from: bob, content: [f.hashtag('news')] } }),
    INSTANTMESSAGECREATED: f.instantMessageCreated({ stream: im }),
    ROOMCREATED: f.roomCreated({ stream: room, by: alice, properties: { description: 'desk chat' } }),
    ROOMUPDATED: f.roomUpdated({ stream: room, by: alice, properties: { description: 'new', readOnly: true } }),
    ROOMDEACTIVATED: f.roomDeactivated({ stream: room, by: alice }),
    ROOMREACTIVATED: f.roomReactivated({ stream: room, by: alice }),
    USERJOINEDROOM: f.userJoinedRoom({ stream: room, user: bob }),
    USERLEFTROOM: f.userLeftRoom({ stream: room, user: bob, by: alice }),
    ROOMMEMBERPROMOTEDTOOWNER: f.roomMemberPromotedToOwner({ stream: room, user: bob, by: alice }),
    ROOMMEMBERDEMOTEDFROMOWNER: f.roomMemberDemotedFromOwner({ stream: room, user: bob, by: alice }),
    CONNECTIONREQUESTED: f.connectionRequested({ from: alice }),
    CONNECTIONACCEPTED: f.connectionAccepted({ by: alice }),
    MESSAGESUPPRESSED: f.messageSuppressed({ message: sent, by: alice }),
    SYMPHONYELEMENTSACTION: f.elementsAction({ stream: im, from: alice, formId: 'order', values: { qty: '100' } }),
    USERREQUESTEDTOJOINROOM: f.userRequestedToJoinRoom({ stream: room, user: bob, owners: [alice, f.bot] }),
    GENERICSYSTEMEVENT: f.genericSystemEvent({ by: alice, sourceSystem: 'federation', eventSubtype: 'test.event' }),
  };
}

/** The payload under the event type's key (and checks it is the only key). */
function payloadOf(event: WireEvent): unknown {
  const key = PAYLOADS[event.type].key;
  expect(Object.keys(event.payload)).toEqual([key]);
  return (event.payload as Record<string, unknown>)[key];
}

/** The entity spans of a PresentationML string, in order. */
function spansOf(presentationML: string): { id: string; text: string }[] {
  return [...presentationML.matchAll(/<span class="entity" data-entity-id="([^"]+)">([^<]*)<\/span>/g)].map(
    ([, id = '', text = '']) => ({ id, text }),
  );
}

describe('createEventFactory', () => {
  it('has one builder per event type, each returning that type', () => {
    const events = oneOfEach(createEventFactory({ bot: BOT }));
    expect(Object.keys(events).sort()).toEqual([...EVENT_TYPES].sort());
    for (const [type, event] of Object.entries(events)) expect(event.type).toBe(type);
  });

  it('builds events valid against the wire schemas, with no field the schemas do not know', () => {
    for (const event of Object.values(oneOfEach(createEventFactory({ bot: BOT })))) {
      // zod strips unknown keys: equality after parsing means every field is a known one.
      expect(v4EnvelopeSchema.parse(event)).toStrictEqual(event);
      const payload = payloadOf(event);
      expect(PAYLOADS[event.type].schema.parse(payload)).toStrictEqual(payload);
    }
  });

  it('writes user ids as numbers and the rest of the user as derived from the display name', () => {
    const f = createEventFactory({ bot: BOT });
    const alice = f.user({ displayName: 'Alice Ng' });
    const twin = f.user({ displayName: 'Alice Ng' });
    const anon = f.user();
    expect(alice).toEqual({
      userId: expect.stringMatching(/^\d{13,}$/) as unknown,
      displayName: 'Alice Ng',
      username: 'alice.ng',
      email: 'alice.ng@example.com',
      firstName: 'Alice',
      lastName: 'Ng',
    });
    expect(twin.username).toBe('alice.ng.2');
    expect(anon.displayName).toBe('User 1');
    expect(new Set([BOT.userId, alice.userId, twin.userId, anon.userId]).size).toBe(4);

    const event = f.userJoinedRoom({ stream: f.room(), user: alice });
    expect(event.initiator.user).toEqual({
      userId: Number(alice.userId),
      firstName: 'Alice',
      lastName: 'Ng',
      displayName: 'Alice Ng',
      email: 'alice.ng@example.com',
      username: 'alice.ng',
    });
    expect(f.bot).toMatchObject({ userId: BOT.userId, displayName: 'Chorus Bot', username: 'chorus.bot' });
  });

  it('rejects user ids that are not digits within a safe integer', () => {
    const f = createEventFactory();
    for (const userId of ['', 'abc', '12a', '99999999999999999999']) {
      expect(() => f.user({ userId })).toThrow(RangeError);
    }
    expect(() => createEventFactory({ bot: { userId: '-1' } })).toThrow(RangeError);
  });

  describe('messages', () => {
    it('renders entities as spans numbered in reading order, with matching EntityJSON', () => {
      const f = createEventFactory({ bot: BOT });
      const alice = f.user({ displayName: 'Alice Ng' });
      const event = f.message({
        stream: f.room(),
        from: alice,
        content: [f.mentionBot(), ' /buy 100 ', f.cashtag('$AAPL'), ' ', f.hashtag('#bot'), ' cc ', f.mention(alice)],
      });
      const { message, data } = event.payload.messageSent.message;
      expect(message).toBe(
        `${OPEN}<span class="entity" data-entity-id="mention1">@Chorus Bot</span> /buy 100 ` +
          '<span class="entity" data-entity-id="keyword2">$AAPL</span> ' +
          '<span class="entity" data-entity-id="keyword3">#bot</span> cc ' +
          '<span class="entity" data-entity-id="mention4">@Alice Ng</span></div>',
      );
      expect(typeof data).toBe('string');
      const entities = JSON.parse(data ?? '') as Record<string, unknown>;
      expect(Object.keys(entities)).toEqual(spansOf(message).map((span) => span.id));
      expect(entities).toStrictEqual({
        mention1: {
          type: 'com.symphony.user.mention',
          version: '1.0',
          id: [{ type: 'com.symphony.user.userId', value: BOT.userId }],
        },
        keyword2: {
          type: 'org.symphonyoss.fin.security',
          version: '1.0',
          id: [{ type: 'org.symphonyoss.fin.security.id.ticker', value: 'AAPL' }],
        },
        keyword3: {
          type: 'org.symphonyoss.taxonomy',
          version: '1.0',
          id: [{ type: 'org.symphonyoss.taxonomy.hashtag', value: 'bot' }],
        },
        mention4: {
          type: 'com.symphony.user.mention',
          version: '1.0',
          id: [{ type: 'com.symphony.user.userId', value: alice.userId }],
        },
      });
    });

    it('escapes plain strings and entity text, and omits data without entities', () => {
      const f = createEventFactory();
      const odd = f.user({ displayName: 'Tom & "Jerry" <TJ>' });
      const plain = f.message({ stream: f.im(odd), from: odd, content: 'hello <world> & "you"' });
      expect(plain.payload.messageSent.message.message).toBe(`${OPEN}hello &lt;world&gt; &amp; &quot;you&quot;</div>`);
      expect('data' in plain.payload.messageSent.message).toBe(false);

      const mention = f.message({ stream: f.room(), from: odd, content: [f.mention(odd)] });
      expect(spansOf(mention.payload.messageSent.message.message)).toEqual([
        { id: 'mention1', text: '@Tom &amp; &quot;Jerry&quot; &lt;TJ&gt;' },
      ]);
    });

    it('property: escaped text round-trips and leaves no markup characters', () => {
      const f = createEventFactory();
      const alice = f.user();
      const room = f.room();
      const named: Record<string, string> = { lt: '<', gt: '>', quot: '"', amp: '&' };
      const unescape = (text: string): string =>
        text.replace(/&(lt|gt|quot|amp);/g, (_, name: string) => named[name] ?? '');
      fc.assert(
        fc.property(fc.string({ unit: 'binary' }), (text) => {
          const { message } = f.message({ stream: room, from: alice, content: text }).payload.messageSent.message;
          expect(message.startsWith(OPEN) && message.endsWith('</div>')).toBe(true);
          const body = message.slice(OPEN.length, -'</div>'.length);
          expect(body).not.toMatch(/[<>"]|&(?!(lt|gt|quot|amp);)/);
          expect(unescape(body)).toBe(text);
        }),
      );
    });

    it('inserts markup as is, and carries attachments and the parent message id', () => {
      const f = createEventFactory();
      const alice = f.user();
      const event = f.message({
        stream: f.room(),
        from: alice,
        content: ['a', f.markup('<br/>'), 'b'],
        attachments: [{ name: 'report.pdf', size: 2048 }],
        parentMessageId: 'parent-1',
      });
      const message = event.payload.messageSent.message;
      expect(message.message).toBe(`${OPEN}a<br/>b</div>`);
      expect(message.attachments).toEqual([{ id: expect.any(String) as unknown, name: 'report.pdf', size: 2048 }]);
      expect(message.parentMessageId).toBe('parent-1');
      expect(message.user).toEqual(event.initiator.user);
      expect(message.timestamp).toBe(event.timestamp);
    });
  });

  describe('streams and event semantics', () => {
    it('makes URL-safe base64 stream and message ids, and carries only streamId and streamType on messages', () => {
      const f = createEventFactory();
      const room = f.room({ roomName: 'Desk' });
      const event = f.message({ stream: room, from: f.user(), content: 'hi' });
      expect(room).toEqual({
        streamId: room.streamId,
        streamType: 'ROOM',
        roomName: 'Desk',
        external: false,
        crossPod: false,
      });
      for (const id of [room.streamId, event.payload.messageSent.message.messageId]) {
        expect(id).toMatch(/^[A-Za-z0-9_-]{34}$/);
      }
      expect(event.payload.messageSent.message.stream).toEqual({ streamId: room.streamId, streamType: 'ROOM' });
    });

    it('lists IM members (the bot and the user) on INSTANTMESSAGECREATED, initiated by the user', () => {
      const f = createEventFactory({ bot: BOT });
      const alice = f.user();
      const im = f.im(alice);
      const event = f.instantMessageCreated({ stream: im });
      expect(event.initiator.user.userId).toBe(Number(alice.userId));
      expect(event.payload.instantMessageCreated.stream).toEqual({
        streamId: im.streamId,
        streamType: 'IM',
        members: [{ userId: Number(BOT.userId) }, { userId: Number(alice.userId) }],
        external: false,
      });
      expect(f.mim([alice, f.user()]).streamType).toBe('MIM');
    });

    it('follows the wire for initiators and affected users', () => {
      const f = createEventFactory({ bot: BOT });
      const alice = f.user();
      const bob = f.user();
      const room = f.room();
      const joined = f.userJoinedRoom({ stream: room, user: bob });
      expect(joined.initiator.user.userId).toBe(Number(bob.userId));
      const removed = f.userLeftRoom({ stream: room, user: bob, by: alice });
      expect(removed.initiator.user.userId).toBe(Number(alice.userId));
      expect(removed.payload.userLeftRoom.affectedUser.userId).toBe(Number(bob.userId));
      const requested = f.connectionRequested({ from: alice });
      expect(requested.payload.connectionRequested.toUser.userId).toBe(Number(BOT.userId));
      // CONNECTIONACCEPTED: the initiator accepted; fromUser sent the request.
      const accepted = f.connectionAccepted({ by: alice });
      expect(accepted.initiator.user.userId).toBe(Number(alice.userId));
      expect(accepted.payload.connectionAccepted.fromUser.userId).toBe(Number(BOT.userId));
      const deactivated = f.roomDeactivated({ stream: room, by: alice });
      expect(deactivated.payload.roomDeactivated.stream).toEqual({ streamId: room.streamId, streamType: 'ROOM' });
    });

    it('suppresses a message event by its id and stream, and submits forms with the action', () => {
      const f = createEventFactory();
      const alice = f.user();
      const room = f.room();
      const sent = f.message({ stream: room, from: alice, content: 'oops' });
      const suppressed = f.messageSuppressed({ message: sent, by: alice });
      expect(suppressed.payload.messageSuppressed).toEqual({
        messageId: sent.payload.messageSent.message.messageId,
        stream: { streamId: room.streamId, streamType: 'ROOM' },
      });
      const byId = f.messageSuppressed({ stream: room, messageId: 'm-1', by: alice });
      expect(byId.payload.messageSuppressed.messageId).toBe('m-1');
      const action = f.elementsAction({ stream: room, from: alice, formId: 'f', action: 'buy', values: { qty: 1 } });
      expect(action.payload.symphonyElementsAction.formValues).toEqual({ action: 'buy', qty: 1 });
    });

    it('shares posts between walls (POST streams), one wall per user', () => {
      const f = createEventFactory();
      const alice = f.user();
      const bob = f.user();
      const event = f.sharedPost({ from: alice, shared: { from: bob, content: 'original' } });
      expect(event.payload.sharedPost.message.stream).toEqual({ ...f.wall(alice) });
      expect(event.payload.sharedPost.sharedMessage.stream).toEqual({ ...f.wall(bob) });
      expect(f.wall(alice).streamType).toBe('POST');
      expect(event.payload.sharedPost.sharedMessage.timestamp).toBeLessThan(event.timestamp);
    });

    it('builds read responses valid against V5EventList', () => {
      const f = createEventFactory();
      const events = Object.values(oneOfEach(f));
      const response = f.readResponse(events);
      expect(v5EventListSchema.parse(response)).toStrictEqual(response);
      expect(response.events).toEqual(events);
      expect(f.readResponse([]).ackId).not.toBe(response.ackId);
      expect(f.readResponse([], 'ack-7').ackId).toBe('ack-7');
    });
  });

  describe('determinism', () => {
    it('produces identical output for two factories with the same options', () => {
      const options = { bot: BOT, startTimestamp: 1_700_000_000_000 };
      expect(oneOfEach(createEventFactory(options))).toStrictEqual(oneOfEach(createEventFactory(options)));
    });

    it('stamps events 1000 ms apart from startTimestamp, and advance moves the clock', () => {
      const f = createEventFactory({ startTimestamp: 5_000 });
      const alice = f.user();
      const room = f.room();
      const stamps = [0, 1, 2].map(() => f.userJoinedRoom({ stream: room, user: alice }).timestamp);
      expect(stamps).toEqual([5_000, 6_000, 7_000]);
      f.advance(60_000);
      expect(f.userLeftRoom({ stream: room, user: alice }).timestamp).toBe(68_000);
      expect(() => f.advance(-1)).toThrow(RangeError);
      expect(() => createEventFactory({ startTimestamp: 1.5 })).toThrow(RangeError);
    });

    it('keeps every id unique within a factory', () => {
      const f = createEventFactory();
      const users = Array.from({ length: 200 }, () => f.user({ displayName: 'Same Name' }));
      const rooms = Array.from({ length: 200 }, () => f.room());
      const events = Array.from({ length: 3_000 }, (_, i) => {
        const [stream, from] = [rooms[i % rooms.length] ?? f.room(), users[i % users.length] ?? f.bot];
        return f.message({ stream, from, content: 'x' });
      });
      const unique = (values: readonly string[]): number => new Set(values).size;
      expect(unique(users.map((user) => user.userId))).toBe(200);
      expect(unique(users.map((user) => user.username ?? ''))).toBe(200);
      expect(unique(rooms.map((room) => room.streamId))).toBe(200);
      expect(unique(events.map((event) => event.id))).toBe(3_000);
      expect(unique(events.map((event) => event.payload.messageSent.message.messageId))).toBe(3_000);
    });
  });
});
