import { describe, expect, it } from 'vitest';
import { ChorusError } from '../errors.ts';
import type { ChorusEvent, Message } from './event.ts';
import type { EventType } from './wire-schema.ts';
import { parseWireEvent } from './parse-wire-event.ts';
import { EVENT_TYPES } from './wire-schema.ts';

// Wire pieces shared by the events below, as the Agent API sends them (SPEC V4User, V4Stream).
const initiatorUser = { userId: 1456852, displayName: 'Jane Doe', email: 'jane@test.com', username: 'jane' };
const initiator = { userId: '1456852', displayName: 'Jane Doe', email: 'jane@test.com', username: 'jane' };
const roomStream = { streamId: 'wTmSDJSNPXgB', streamType: 'ROOM' };
const bob = { userId: 7078106482890, firstName: 'Bob', lastName: 'Lee', displayName: 'Bob Lee', username: 'bob' };
const bobUser = { userId: '7078106482890', firstName: 'Bob', lastName: 'Lee', displayName: 'Bob Lee', username: 'bob' };

const envelope = (id: string, type: string, payload: Record<string, unknown>) => ({
  id,
  timestamp: 1536346282592,
  type,
  initiator: { user: initiatorUser },
  payload,
});

const base = <T extends EventType>(type: T, id: string, conversationId: string, dedupeKey = `event:${id}`) => ({
  type,
  id,
  timestamp: 1536346282592,
  initiator,
  conversationId,
  dedupeKey,
});

const message = {
  messageId: 'CszQa6uPAA9',
  timestamp: 1536346282592,
  message:
    '<div data-format="PresentationML" data-version="2.0"><span class="entity" data-entity-id="0">@Bob Lee</span> /price <span class="entity" data-entity-id="1">$AAPL</span> <span class="entity" data-entity-id="2">#q3</span></div>',
  data: JSON.stringify({
    '0': { type: 'com.symphony.user.mention', id: [{ type: 'com.symphony.user.userId', value: 7078106482890 }] },
    '1': { type: 'org.symphonyoss.fin.security', id: [{ type: 'org.symphonyoss.fin.security.id.ticker', value: 'AAPL' }] },
    '2': { type: 'org.symphonyoss.taxonomy', id: [{ type: 'org.symphonyoss.taxonomy.hashtag', value: 'q3' }] },
  }),
  attachments: [{ id: 'att-1', name: 'a.png', size: 66, images: [] }],
  user: initiatorUser,
  stream: roomStream,
  parentMessageId: 'parent-1',
};

const parsedMessage: Message = {
  messageId: 'CszQa6uPAA9',
  timestamp: 1536346282592,
  stream: roomStream,
  user: initiator,
  presentationML: message.message,
  entityJSON: JSON.parse(message.data) as Record<string, unknown>,
  text: '@Bob Lee /price $AAPL #q3',
  tokens: [
    { kind: 'mention', text: '@Bob Lee', userId: '7078106482890', displayName: 'Bob Lee' },
    { kind: 'word', text: '/price' },
    { kind: 'cashtag', text: '$AAPL', value: 'AAPL' },
    { kind: 'hashtag', text: '#q3', value: 'q3' },
  ],
  mentions: [{ text: '@Bob Lee', userId: '7078106482890', displayName: 'Bob Lee' }],
  hashtags: [{ text: '#q3', value: 'q3' }],
  cashtags: [{ text: '$AAPL', value: 'AAPL' }],
  attachments: [{ id: 'att-1', name: 'a.png', size: 66 }],
  parentMessageId: 'parent-1',
};

const sharedWire = {
  messageId: 'shared-1',
  timestamp: 1536346200000,
  message: '<div data-format="PresentationML" data-version="2.0">Read <a href="https://x.test">this</a></div>',
  user: bob,
  stream: { streamId: 'origin', streamType: 'ROOM' },
};
const sharedParsed: Message = {
  messageId: 'shared-1',
  timestamp: 1536346200000,
  stream: { streamId: 'origin', streamType: 'ROOM' },
  user: bobUser,
  presentationML: sharedWire.message,
  entityJSON: {},
  text: 'Read this',
  tokens: [
    { kind: 'word', text: 'Read' },
    { kind: 'word', text: 'this' },
  ],
  mentions: [],
  hashtags: [],
  cashtags: [],
  attachments: [],
};

/** One minimal valid wire event per type, with the normalized event it must give. */
const CASES: { [T in EventType]: { wire: unknown; expected: ChorusEvent<T> } } = {
  MESSAGESENT: {
    wire: envelope('e-1', 'MESSAGESENT', { messageSent: { message } }),
    expected: { ...base('MESSAGESENT', 'e-1', 'wTmSDJSNPXgB', 'message:CszQa6uPAA9'), stream: roomStream, message: parsedMessage },
  },
  SHAREDPOST: {
    wire: envelope('e-2', 'SHAREDPOST', {
      sharedPost: {
        message: { ...message, messageId: 'post-1', stream: { streamId: 'wall', streamType: 'POST' } },
        sharedMessage: sharedWire,
      },
    }),
    expected: {
      ...base('SHAREDPOST', 'e-2', 'wall', 'message:post-1'),
      stream: { streamId: 'wall', streamType: 'POST' },
      message: { ...parsedMessage, messageId: 'post-1', stream: { streamId: 'wall', streamType: 'POST' } },
      sharedMessage: sharedParsed,
    },
  },
  INSTANTMESSAGECREATED: {
    wire: envelope('e-3', 'INSTANTMESSAGECREATED', {
      instantMessageCreated: {
        stream: { streamId: 'im-1', streamType: 'IM', external: false, members: [initiatorUser, bob] },
      },
    }),
    expected: {
      ...base('INSTANTMESSAGECREATED', 'e-3', 'im-1'),
      stream: { streamId: 'im-1', streamType: 'IM', external: false, members: [initiator, bobUser] },
    },
  },
  ROOMCREATED: {
    wire: envelope('e-4', 'ROOMCREATED', {
      roomCreated: {
        stream: { streamId: 'r-1', streamType: 'ROOM', roomName: 'Desk' },
        roomProperties: { name: 'Desk', creatorUser: bob, public: false, keywords: [{ key: 'k', value: null }] },
      },
    }),
    expected: {
      ...base('ROOMCREATED', 'e-4', 'r-1'),
      stream: { streamId: 'r-1', streamType: 'ROOM', roomName: 'Desk' },
      roomProperties: { name: 'Desk', creatorUser: bobUser, public: false, keywords: [{ key: 'k' }] },
    },
  },
  ROOMUPDATED: {
    wire: envelope('e-5', 'ROOMUPDATED', {
      roomUpdated: { stream: roomStream, newRoomProperties: { description: 'new', readOnly: true } },
    }),
    expected: {
      ...base('ROOMUPDATED', 'e-5', 'wTmSDJSNPXgB'),
      stream: roomStream,
      newRoomProperties: { description: 'new', readOnly: true },
    },
  },
  ROOMDEACTIVATED: {
    wire: envelope('e-6', 'ROOMDEACTIVATED', { roomDeactivated: { stream: { streamId: 'r-2' } } }),
    expected: { ...base('ROOMDEACTIVATED', 'e-6', 'r-2'), stream: { streamId: 'r-2', streamType: '' } },
  },
  ROOMREACTIVATED: {
    wire: envelope('e-7', 'ROOMREACTIVATED', { roomReactivated: { stream: roomStream } }),
    expected: { ...base('ROOMREACTIVATED', 'e-7', 'wTmSDJSNPXgB'), stream: roomStream },
  },
  USERJOINEDROOM: {
    wire: envelope('e-8', 'USERJOINEDROOM', { userJoinedRoom: { stream: roomStream, affectedUser: bob } }),
    expected: { ...base('USERJOINEDROOM', 'e-8', 'wTmSDJSNPXgB'), stream: roomStream, affectedUser: bobUser },
  },
  USERLEFTROOM: {
    wire: envelope('e-9', 'USERLEFTROOM', { userLeftRoom: { stream: roomStream, affectedUser: bob } }),
    expected: { ...base('USERLEFTROOM', 'e-9', 'wTmSDJSNPXgB'), stream: roomStream, affectedUser: bobUser },
  },
  ROOMMEMBERPROMOTEDTOOWNER: {
    wire: envelope('e-10', 'ROOMMEMBERPROMOTEDTOOWNER', {
      roomMemberPromotedToOwner: { stream: roomStream, affectedUser: bob },
    }),
    expected: { ...base('ROOMMEMBERPROMOTEDTOOWNER', 'e-10', 'wTmSDJSNPXgB'), stream: roomStream, affectedUser: bobUser },
  },
  ROOMMEMBERDEMOTEDFROMOWNER: {
    wire: envelope('e-11', 'ROOMMEMBERDEMOTEDFROMOWNER', {
      roomMemberDemotedFromOwner: { stream: roomStream, affectedUser: bob },
    }),
    expected: { ...base('ROOMMEMBERDEMOTEDFROMOWNER', 'e-11', 'wTmSDJSNPXgB'), stream: roomStream, affectedUser: bobUser },
  },
  CONNECTIONREQUESTED: {
    wire: envelope('e-12', 'CONNECTIONREQUESTED', { connectionRequested: { toUser: bob } }),
    expected: { ...base('CONNECTIONREQUESTED', 'e-12', 'connection:1456852'), toUser: bobUser },
  },
  CONNECTIONACCEPTED: {
    wire: envelope('e-13', 'CONNECTIONACCEPTED', { connectionAccepted: { fromUser: bob } }),
    expected: { ...base('CONNECTIONACCEPTED', 'e-13', 'connection:1456852'), fromUser: bobUser },
  },
  MESSAGESUPPRESSED: {
    wire: envelope('e-14', 'MESSAGESUPPRESSED', { messageSuppressed: { messageId: 'gone-1', stream: roomStream } }),
    expected: { ...base('MESSAGESUPPRESSED', 'e-14', 'wTmSDJSNPXgB'), stream: roomStream, messageId: 'gone-1' },
  },
  SYMPHONYELEMENTSACTION: {
    wire: envelope('e-15', 'SYMPHONYELEMENTSACTION', {
      symphonyElementsAction: {
        stream: { streamId: 'im-1', streamType: 'IM' },
        formMessageId: 'form-msg-1',
        formId: 'order',
        formValues: { action: 'submit', qty: '5', people: [1, 2] },
      },
    }),
    expected: {
      ...base('SYMPHONYELEMENTSACTION', 'e-15', 'im-1'),
      stream: { streamId: 'im-1', streamType: 'IM' },
      formMessageId: 'form-msg-1',
      formId: 'order',
      formValues: { action: 'submit', qty: '5', people: [1, 2] },
    },
  },
  USERREQUESTEDTOJOINROOM: {
    wire: envelope('e-16', 'USERREQUESTEDTOJOINROOM', {
      userRequestedToJoinRoom: { stream: roomStream, affectedUsers: [bob, { userId: 42 }] },
    }),
    expected: {
      ...base('USERREQUESTEDTOJOINROOM', 'e-16', 'wTmSDJSNPXgB'),
      stream: roomStream,
      affectedUsers: [bobUser, { userId: '42', displayName: '42' }],
    },
  },
  GENERICSYSTEMEVENT: {
    wire: envelope('e-17', 'GENERICSYSTEMEVENT', {
      genericSystemEvent: { sourceSystem: 'compliance', eventSubtype: 'alert', eventTimestamp: 1536346282000 },
    }),
    expected: {
      ...base('GENERICSYSTEMEVENT', 'e-17', 'system:compliance'),
      sourceSystem: 'compliance',
      eventSubtype: 'alert',
      eventTimestamp: 1536346282000,
      parameters: {},
    },
  },
};

/** The error parseWireEvent throws for `raw`. */
function errorOf(raw: unknown): ChorusError {
  try {
    parseWireEvent(raw);
  } catch (err) {
    if (err instanceof ChorusError) return err;
    throw err;
  }
  throw new Error('parseWireEvent did not throw');
}

describe('parseWireEvent', () => {
  it('has a case for each of the 17 types', () => {
    expect(Object.keys(CASES).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(EVENT_TYPES)('normalizes a %s wire event', (type) => {
    const { wire, expected } = CASES[type];
    expect(parseWireEvent(wire)).toStrictEqual(expected);
  });

  it('uses the stream of a GENERICSYSTEMEVENT as conversation when it has one', () => {
    const event = parseWireEvent(
      envelope('e-18', 'GENERICSYSTEMEVENT', {
        genericSystemEvent: { stream: roomStream, sourceSystem: 's', eventSubtype: 'x', parameters: { a: 1 } },
      }),
    );
    expect(event).toMatchObject({ conversationId: 'wTmSDJSNPXgB', stream: roomStream, parameters: { a: 1 } });
  });

  it('returns null for an unknown event type with a valid envelope', () => {
    expect(parseWireEvent(envelope('e-19', 'SOMETHINGNEW', { somethingNew: { x: 1 } }))).toBeNull();
  });

  it('still rejects an unknown event type whose envelope is invalid', () => {
    expect(errorOf({ ...envelope('e-20', 'SOMETHINGNEW', {}), timestamp: 'now' }).message).toMatch(
      /^invalid V4Event e-20 \(SOMETHINGNEW\) at timestamp: /,
    );
  });

  it('names the full path of a missing required field, with id, type and zod cause', () => {
    const { stream: _stream, ...noStream } = message;
    const err = errorOf(envelope('ev-1', 'MESSAGESENT', { messageSent: { message: { ...noStream, stream: {} } } }));
    expect(err.code).toBe('CHORUS_ERR_EVENT_INVALID');
    expect(err.message).toMatch(/^invalid V4Event ev-1 \(MESSAGESENT\) at payload\.messageSent\.message\.stream\.streamId: \S/);
    expect(err.message).not.toMatch(/more issue/);
    expect(err.cause).toHaveProperty('issues');
  });

  it('names a missing payload key and counts further issues', () => {
    expect(errorOf(envelope('ev-2', 'USERJOINEDROOM', {})).message).toMatch(
      /^invalid V4Event ev-2 \(USERJOINEDROOM\) at payload\.userJoinedRoom: /,
    );
    const err = errorOf(envelope('ev-3', 'USERJOINEDROOM', { userJoinedRoom: { stream: {}, affectedUser: {} } }));
    expect(err.message).toMatch(/at payload\.userJoinedRoom\.stream\.streamId: .* \(and 1 more issue\)$/);
  });

  it('names array indices in the path', () => {
    const err = errorOf(
      envelope('ev-4', 'USERREQUESTEDTOJOINROOM', { userRequestedToJoinRoom: { stream: roomStream, affectedUsers: [bob, {}] } }),
    );
    expect(err.message).toMatch(/at payload\.userRequestedToJoinRoom\.affectedUsers\.1\.userId: /);
  });

  it('names envelope fields, and says what it can when id and type are missing', () => {
    const { initiator: _initiator, ...noInitiator } = envelope('ev-5', 'MESSAGESENT', {});
    expect(errorOf(noInitiator).message).toMatch(/^invalid V4Event ev-5 \(MESSAGESENT\) at initiator: /);
    expect(errorOf({ timestamp: 1, initiator: { user: { userId: 1 } }, payload: {} }).message).toMatch(
      /^invalid V4Event at id: .* \(and 1 more issue\)$/,
    );
    expect(errorOf('not an event').message).toMatch(/^invalid V4Event: /);
    expect(errorOf(null).code).toBe('CHORUS_ERR_EVENT_INVALID');
  });

  it('rejects EntityJSON that is not JSON, naming the data field', () => {
    const err = errorOf(envelope('ev-6', 'MESSAGESENT', { messageSent: { message: { ...message, data: '{oops' } } }));
    expect(err.code).toBe('CHORUS_ERR_EVENT_INVALID');
    expect(err.message).toMatch(/^invalid V4Event ev-6 \(MESSAGESENT\) at payload\.messageSent\.message\.data: /);
    expect(err.cause).toBeInstanceOf(ChorusError);
    const shared = errorOf(
      envelope('ev-7', 'SHAREDPOST', { sharedPost: { message, sharedMessage: { ...sharedWire, data: '[1]' } } }),
    );
    expect(shared.message).toMatch(/at payload\.sharedPost\.sharedMessage\.data: /);
  });

  it('tolerates unknown extra fields and leaves them out', () => {
    const wire = envelope('e-21', 'USERLEFTROOM', {
      userLeftRoom: { stream: { ...roomStream, shiny: 1 }, affectedUser: { ...bob, avatar: 'x' }, extra: true },
      roomCreated: { unrelated: true },
    });
    const event = parseWireEvent({ ...wire, newTopLevel: { a: 1 } });
    expect(event).toStrictEqual({
      ...base('USERLEFTROOM', 'e-21', 'wTmSDJSNPXgB'),
      stream: roomStream,
      affectedUser: bobUser,
    });
  });

  it('accepts null optional fields as the BDK fixtures send them, and omits them', () => {
    const wire = envelope('e-22', 'MESSAGESENT', {
      messageSent: {
        message: {
          messageId: 'm-22',
          timestamp: 1599659432866,
          message: '<div data-format="PresentationML" data-version="2.0">Hello, World!</div>',
          sharedMessage: null,
          data: null,
          attachments: null,
          parentMessageId: null,
          user: { userId: 12987981103694, firstName: null, lastName: null, displayName: null, email: null, username: 'bot-name' },
          stream: { streamId: 'gXFV8vN37dNq', streamType: 'IM', roomName: null, members: null, external: null, crossPod: null },
          externalRecipients: null,
          diagnostic: null,
          disclaimer: null,
        },
      },
    });
    const event = parseWireEvent(wire);
    expect(event?.type).toBe('MESSAGESENT');
    if (event?.type !== 'MESSAGESENT') return;
    expect(event.message.user).toStrictEqual({ userId: '12987981103694', displayName: 'bot-name', username: 'bot-name' });
    expect(event.stream).toStrictEqual({ streamId: 'gXFV8vN37dNq', streamType: 'IM' });
    expect(event.message).not.toHaveProperty('parentMessageId');
    expect(event.message.entityJSON).toStrictEqual({});
    expect(event.message.attachments).toStrictEqual([]);
    expect(event.message.text).toBe('Hello, World!');
  });

  it('accepts user ids sent as strings of digits and keeps them as strings', () => {
    const wire = {
      ...envelope('e-23', 'CONNECTIONACCEPTED', { connectionAccepted: { fromUser: { userId: '13056700580915' } } }),
      initiator: { user: { userId: '9007199254740993', username: 'big' } },
    };
    expect(parseWireEvent(wire)).toStrictEqual({
      type: 'CONNECTIONACCEPTED',
      id: 'e-23',
      timestamp: 1536346282592,
      initiator: { userId: '9007199254740993', displayName: 'big', username: 'big' },
      conversationId: 'connection:9007199254740993',
      dedupeKey: 'event:e-23',
      fromUser: { userId: '13056700580915', displayName: '13056700580915' },
    });
  });

  it('rejects user ids that are not digits', () => {
    expect(errorOf(envelope('ev-8', 'CONNECTIONACCEPTED', { connectionAccepted: { fromUser: { userId: 'abc' } } })).message).toMatch(
      /at payload\.connectionAccepted\.fromUser\.userId: /,
    );
  });
});
