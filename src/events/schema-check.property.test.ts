import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventFactory } from '../testing/factories.ts';
import { compileSchemaCheck, type SchemaCheck } from './schema-check.ts';
import { PAYLOADS, userIdSchema, v4EnvelopeSchema } from './wire-schema.ts';

const f = createEventFactory({ bot: { userId: '7000000000001', displayName: 'Chorus Bot' } });
const alice = f.user({ displayName: 'Alice Ng' });

const compiled = (schema: z.core.$ZodType): SchemaCheck => {
  const check = compileSchemaCheck(schema);
  if (check === undefined) throw new Error('schema not compiled');
  return check;
};

const user = (userId: number | string) => ({
  userId,
  firstName: 'Alice',
  lastName: 'Ng',
  displayName: 'Alice Ng',
  email: 'alice@example.com',
  username: 'alice',
});
const wireMessage = () => ({
  messageId: 'm-1',
  parentMessageId: 'p-1',
  timestamp: 1_767_225_600_000,
  message: '<div data-format="PresentationML" data-version="2.0">hi</div>',
  data: '{}',
  attachments: [{ id: 'a', name: 'a.txt', size: 3, images: [{ id: 'i', dimension: '600' }] }],
  user: user(7),
  stream: {
    streamId: 's-1',
    streamType: 'ROOM',
    roomName: 'Desk',
    members: [user('8')],
    external: false,
    crossPod: false,
    recipientTenantIds: [1, 2],
  },
  externalRecipients: false,
  diagnostic: 'd',
  userAgent: 'u',
  originalFormat: 'com.symphony.messageml.v2',
  disclaimer: 'x',
  sid: 'sid',
  replacing: 'r',
  replacedBy: 'rb',
  initialTimestamp: 1,
  initialMessageId: 'im',
  silent: false,
});
/** A MESSAGESENT with every field of the wire schema present, so that every path can be mutated. */
const fullEvent = () => ({
  id: 'ev-1',
  messageId: 'm-1',
  timestamp: 1_767_225_600_000,
  type: 'MESSAGESENT',
  diagnostic: 'd',
  initiator: { user: user(7) },
  payload: { messageSent: { message: { ...wireMessage(), sharedMessage: wireMessage() } } },
  extra: { unknown: true },
});

type Path = readonly (string | number)[];

function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((key) => pathsOf((value as Record<string | number, unknown>)[key], [...prefix, key]))];
}

const DELETE = Symbol('delete');
const replacementArb = fc.oneof(
  fc.constantFrom<unknown>(DELETE, undefined, null, '', 'x', '0', '12', '-1', '1.5', 0, -0, -1, 1.5, 2 ** 53, NaN, Infinity, true, [], {}, [{}]),
  fc.string({ maxLength: 3 }),
  fc.double(),
  fc.anything({ maxDepth: 1 }),
);

function mutate(root: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement === DELETE ? undefined : replacement;
  let parent = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (replacement === DELETE) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    parent[last] = replacement;
  }
  return root;
}

const mutatedArb = fc
  .array(fc.tuple(fc.nat(), replacementArb), { minLength: 1, maxLength: 3 })
  .map((mutations) => {
    let event: unknown = fullEvent();
    for (const [pick, replacement] of mutations) {
      const paths = pathsOf(event);
      event = mutate(event, paths[pick % paths.length] as Path, replacement);
    }
    return event;
  });

describe('compileSchemaCheck', () => {
  const isEnvelope = compiled(v4EnvelopeSchema);
  const isMessageSent = compiled(PAYLOADS.MESSAGESENT.schema);
  const payloadOf = (event: unknown): unknown =>
    (event as { payload?: { messageSent?: unknown } } | null | undefined)?.payload?.messageSent;

  it('passes valid events, so that parseWireEvent takes its fast path', () => {
    const events = [
      fullEvent(),
      f.message({ stream: f.room(), from: alice, content: [f.mentionBot(), ' /buy 100 ', f.cashtag('AAPL'), ' ', f.hashtag('x')] }),
      f.message({ stream: f.im(alice), from: alice, content: 'hello' }),
    ];
    for (const event of events) {
      expect(isEnvelope(event)).toBe(true);
      expect(isMessageSent(payloadOf(event))).toBe(true);
    }
  });

  it('property: never passes an event zod rejects (every path mutated: removed, retyped, out of range)', () => {
    fc.assert(
      fc.property(mutatedArb, (event) => {
        if (isEnvelope(event)) expect(v4EnvelopeSchema.safeParse(event).success).toBe(true);
        if (isMessageSent(payloadOf(event))) expect(PAYLOADS.MESSAGESENT.schema.safeParse(payloadOf(event)).success).toBe(true);
      }),
      { numRuns: 3_000 },
    );
  });

  it('property: never passes any other value zod rejects', () => {
    const schemas = [v4EnvelopeSchema, PAYLOADS.MESSAGESENT.schema, userIdSchema, z.string().min(3), z.number().gt(2)];
    for (const schema of schemas) {
      const check = compiled(schema);
      fc.assert(
        fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), (value) => {
          if (check(value)) expect(schema.safeParse(value).success).toBe(true);
        }),
        { numRuns: 500 },
      );
    }
  });

  it('leaves to zod the strings whose length it cannot tell without counting code points', () => {
    const check = compiled(z.string().min(2));
    expect(check('ab')).toBe(false); // zod: 2 code points, valid, but in the range where zod counts
    expect(check('\u{1F600}\u{1F600}')).toBe(true); // 4 units: at least 2 code points
    expect(check('\u{1F600}')).toBe(false);
    expect(z.string().min(2).safeParse('\u{1F600}').success).toBe(false);
  });

  it('gives up on what it does not know, so that zod alone decides', () => {
    const unknown: readonly z.core.$ZodType[] = [
      z.email(),
      z.string().trim(),
      z.string().max(3),
      z.coerce.number(),
      z.number().multipleOf(2),
      z.int(),
      z.string().exactOptional(),
      z.xor([z.string(), z.number()]),
      z.strictObject({ a: z.string() }),
      z.looseObject({ a: z.string() }),
      z.object({ a: z.string() }).refine(() => true),
      z.string().transform((s) => s.length),
      z.string().default('x'),
      z.record(z.string().min(1), z.unknown()),
      z.array(z.string()).min(1),
      z.literal('x'),
    ];
    for (const schema of unknown) expect(compileSchemaCheck(schema)).toBeUndefined();
  });
});
