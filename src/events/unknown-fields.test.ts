import { describe, expect, it } from 'vitest';
import { listUnknownFields } from './unknown-fields.ts';

const user = { userId: 1, displayName: 'A' };
const stream = { streamId: 's-1', streamType: 'ROOM' };
const message = {
  messageId: 'm-1',
  timestamp: 1,
  message: '<div data-format="PresentationML" data-version="2.0">hi</div>',
  user,
  stream,
};
const event = (type: string, payload: Record<string, unknown>) => ({
  id: 'e-1',
  timestamp: 1,
  type,
  initiator: { user },
  payload,
});

describe('listUnknownFields', () => {
  it('lists nothing for a wire event with declared fields only, nulls included', () => {
    const wire = event('MESSAGESENT', {
      messageSent: { message: { ...message, data: null, attachments: [{ id: 'a', name: 'n', size: 1, images: null }] } },
    });
    expect(listUnknownFields(wire)).toEqual([]);
  });

  it('lists undeclared fields at every depth by dotted path', () => {
    const wire = {
      ...event('MESSAGESENT', {
        messageSent: {
          message: {
            ...message,
            newThing: 1,
            user: { ...user, avatar: 'x' },
            attachments: [{ id: 'a', name: 'n', size: 1, images: [{ id: 'i', dimension: '600', alt: 'x' }] }],
            sharedMessage: { ...message, stream: { ...stream, colour: 'red' } },
          },
          extra: true,
        },
      }),
      top: 0,
    };
    expect(listUnknownFields(wire)).toEqual([
      'payload.messageSent.message.user.avatar',
      'payload.messageSent.message.newThing',
      'payload.messageSent.message.attachments.0.images.0.alt',
      'payload.messageSent.message.sharedMessage.stream.colour',
      'payload.messageSent.extra',
      'top',
    ]);
  });

  it('lists payload keys other than the one of the event type', () => {
    const wire = event('USERJOINEDROOM', { userJoinedRoom: { stream, affectedUser: user }, roomCreated: {} });
    expect(listUnknownFields(wire)).toEqual(['payload.roomCreated']);
  });

  it('walks arrays of users and the initiator', () => {
    const wire = {
      ...event('USERREQUESTEDTOJOINROOM', {
        userRequestedToJoinRoom: { stream, affectedUsers: [user, { ...user, title: 'Dr' }] },
      }),
      initiator: { user: { ...user, company: 'Acme' }, kind: 'user' },
    };
    expect(listUnknownFields(wire)).toEqual([
      'initiator.user.company',
      'initiator.kind',
      'payload.userRequestedToJoinRoom.affectedUsers.1.title',
    ]);
  });

  it('does not look into open records (formValues, parameters)', () => {
    const wire = event('SYMPHONYELEMENTSACTION', {
      symphonyElementsAction: { stream, formMessageId: 'f', formId: 'id', formValues: { anything: { at: 'all' } } },
    });
    expect(listUnknownFields(wire)).toEqual([]);
  });

  it('lists nothing for unknown event types and non-objects', () => {
    expect(listUnknownFields(event('SOMETHINGNEW', { somethingNew: { x: 1 } }))).toEqual([]);
    expect(listUnknownFields({ type: 42 })).toEqual([]);
    expect(listUnknownFields('MESSAGESENT')).toEqual([]);
    expect(listUnknownFields(null)).toEqual([]);
  });

  it('does not look into values of the wrong type', () => {
    const wire = event('ROOMDEACTIVATED', { roomDeactivated: { stream: 'not-an-object' } });
    expect(listUnknownFields(wire)).toEqual([]);
  });
});
