/**
 * Fuzz test of the whole pipeline: random values and mutated factory events, mixed with valid events over a
 * few streams and datafeed batches, replayed through both example listeners (listeners/trading.ts and
 * listeners/desk.ts) with `runReplay`.
 *
 * Every input knows by construction what should become of it. A random value is never a V4Event (it has no
 * `initiator`). A mutation of a factory event is known to break it, and where (a required field deleted, a
 * field given a value of another type, a blank id, `data` that is not a JSON object, the type swapped to
 * another known type), or known to keep it valid (an optional field deleted or nulled, a form value replaced,
 * PresentationML truncated, the type swapped to an unknown name). The statuses of valid events follow the
 * README ("Delivery"): the bot's own events are `own`, a dedupe key seen before is `duplicate`, an unknown
 * type is `unsupported`, anything else is `handled`.
 *
 * One file over the 300-line soft cap: the generators, the mutations and the model of what each input should
 * produce only make sense together.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import desk from '../listeners/desk.ts';
import trading from '../listeners/trading.ts';
import { createMemorySource } from '../src/datafeed/memory-source.ts';
import type { Stream, User } from '../src/events/event.ts';
import { EVENT_TYPES, PAYLOADS, isEventType } from '../src/events/wire-schema.ts';
import type { EventStatus } from '../src/routing/event-pipeline.ts';
import { createEventFactory, type ContentPart, type EventFactory, type WireEvent } from '../src/testing/factories.ts';
import { runReplay, type ReplayReport } from '../src/testing/replay.ts';

const BOT_USER_ID = '7000000000001';
const USER_NAMES = ['Alice Ng', 'Eve <script>alert(1)</script>', 'Bob & "Co" ${x} #1'] as const;
const COMMANDS = [
  ['/buy {quantity} {$ticker}', 'Buy shares'],
  ['/count', 'Count in this conversation'],
  ['/echo {...text}', 'Repeat the text'],
  ['/whois {@person}', 'Say who someone is'],
  ['/topic {#tag}', 'Set the topic of this conversation'],
  ['/help', 'List the commands'],
] as const;
/** How a `count=<n>` reply is expected; the numbers are checked per stream. */
const COUNT = 'count=?';

// ---- What a run is made of ---------------------------------------------------------------------------------

type Tag = { readonly kind: 'hashtag' | 'cashtag'; readonly value: string };
type Body = { readonly mention: boolean } & (
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'count' }
  | { readonly kind: 'buy'; readonly quantity: number; readonly ticker: string; readonly typed: boolean }
  | { readonly kind: 'echo'; readonly words: readonly string[]; readonly gap: string }
  | { readonly kind: 'tags'; readonly text: string; readonly tags: readonly Tag[] }
  | { readonly kind: 'help' }
  | { readonly kind: 'whois'; readonly who: number }
  | { readonly kind: 'topic'; readonly tag: string }
);

type Mutation =
  | { readonly kind: 'delete'; readonly pick: number }
  | { readonly kind: 'retype'; readonly pick: number; readonly value: unknown; readonly fallback: number }
  | { readonly kind: 'blank'; readonly pick: number }
  | { readonly kind: 'truncate'; readonly pick: number; readonly at: number }
  | { readonly kind: 'badData'; readonly pick: number; readonly data: string }
  | { readonly kind: 'swapType'; readonly type: string };

type OtherType = Exclude<(typeof EVENT_TYPES)[number], 'MESSAGESENT'>;
/** `from`, `by` and `user` index USER_NAMES; -1 is the bot. */
type Step =
  | {
      readonly kind: 'message';
      readonly stream: 'roomA' | 'roomB' | 'im';
      readonly from: number;
      readonly body: Body;
      readonly mutation: Mutation | undefined;
    }
  | {
      readonly kind: 'event';
      readonly type: OtherType;
      readonly roomB: boolean;
      readonly by: number;
      readonly user: number;
      readonly mutation: Mutation | undefined;
    }
  | { readonly kind: 'redelivery'; readonly of: number; readonly pristine: boolean }
  | { readonly kind: 'noise'; readonly value: unknown };

/** One wire event of the feed and what should become of it. */
type Input = {
  readonly wire: unknown;
  /** undefined: a valid V4Event; a string: invalid at that path; null: invalid with no path to name. */
  readonly invalidAt: string | null | undefined;
  /** The replies when handled: texts in the event's stream (COUNT for a count); undefined when not known. */
  readonly replies: readonly string[] | undefined;
  readonly streamId: string | undefined;
};

// ---- Generators --------------------------------------------------------------------------------------------

const user = fc.integer({ min: 0, max: USER_NAMES.length - 1 });
const someoneOrBot = fc.oneof({ weight: 1, arbitrary: fc.constant(-1) }, { weight: 6, arbitrary: user });
// No `/` (no command word) and no `=` (nothing that reads as a count).
const word = fc.string({ unit: fc.constantFrom(...'ab<>&"\'$#{}@é'), minLength: 1, maxLength: 6 });
const text = fc.string({ unit: fc.constantFrom(...'ab <>&"\'$#{}@é\n\t'), maxLength: 16 });
const tag = fc.record({
  kind: fc.constantFrom('hashtag' as const, 'cashtag' as const),
  value: fc.constantFrom('urgent', 'rates', 'AAPL'),
});
const mention = fc.boolean();

const bodies = [
  fc.record({ kind: fc.constant('text' as const), mention, text }),
  fc.record({
    kind: fc.constant('buy' as const),
    mention,
    quantity: fc.nat({ max: 1000 }),
    ticker: fc.constantFrom('AAPL', 'MSFT', 'X'),
    typed: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('echo' as const),
    mention,
    words: fc.array(word, { maxLength: 3 }),
    gap: fc.constantFrom(' ', '   '),
  }),
  fc.record({ kind: fc.constant('tags' as const), mention, text, tags: fc.array(tag, { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('help' as const), mention }),
  fc.record({ kind: fc.constant('whois' as const), mention, who: someoneOrBot }),
];
const count: fc.Arbitrary<Body> = fc.record({ kind: fc.constant('count' as const), mention });
const topic: fc.Arbitrary<Body> = fc.record({
  kind: fc.constant('topic' as const),
  mention,
  tag: fc.constantFrom('rates', 'urgent'),
});

const mutation: fc.Arbitrary<Mutation | undefined> = fc.oneof(
  { weight: 10, arbitrary: fc.constant(undefined) },
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('retype' as const),
    pick: fc.nat(),
    value: fc.anything({ maxDepth: 2 }),
    fallback: fc.nat(),
  }),
  fc.record({ kind: fc.constant('blank' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('truncate' as const),
    pick: fc.nat(),
    at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('badData' as const),
    pick: fc.nat(),
    data: fc.constantFrom('{', 'not json', '[1,2]', '42', 'null', '"text"', 'true'),
  }),
  fc.record({
    kind: fc.constant('swapType' as const),
    type: fc.constantFrom(...EVENT_TYPES, 'TYPINGSTARTED', 'MESSAGEEDITED'),
  }),
);

// Each listener has its own state of a conversation, so /count and /topic mix freely in every stream.
const message: fc.Arbitrary<Step> = fc
  .tuple(
    fc.record({
      stream: fc.constantFrom('roomA' as const, 'roomB' as const, 'im' as const),
      body: fc.oneof(...bodies, count, count, count, topic),
    }),
    someoneOrBot,
    mutation,
  )
  .map(([{ stream, body }, from, change]) => ({ kind: 'message', stream, from, body, mutation: change }));
const event: fc.Arbitrary<Step> = fc.record({
  kind: fc.constant('event' as const),
  type: fc.constantFrom(...EVENT_TYPES.filter((type): type is OtherType => type !== 'MESSAGESENT')),
  roomB: fc.boolean(),
  by: someoneOrBot,
  user,
  mutation,
});
const redelivery: fc.Arbitrary<Step> = fc.record({
  kind: fc.constant('redelivery' as const),
  of: fc.nat(),
  pristine: fc.boolean(),
});
/** Any value but one with an `initiator`: never a V4Event. */
const noiseValue = fc
  .oneof(
    fc.jsonValue(),
    fc.anything({ withNullPrototype: true, withBigInt: true, withSparseArray: true, withBoxedValues: true }),
  )
  .filter((value) => typeof value !== 'object' || value === null || !('initiator' in value));
const noise: fc.Arbitrary<Step> = fc.record({ kind: fc.constant('noise' as const), value: noiseValue });

const anyStep = fc.oneof({ weight: 6, arbitrary: message }, { weight: 3, arbitrary: event }, redelivery, noise);
const steps = fc.array(anyStep, { minLength: 4, maxLength: 40, size: 'medium' });
/** Where the feed is cut into datafeed batches. */
const cuts = fc.array(fc.nat(), { maxLength: 2 });

// ---- Paths and mutations -----------------------------------------------------------------------------------

type Path = readonly (string | number)[];
type Rule = 'required' | 'optional' | 'element' | 'free';

const PAYLOAD_REQUIRED = new Set([
  'message',
  'sharedMessage',
  'stream',
  'affectedUser',
  'affectedUsers',
  'toUser',
  'fromUser',
  'messageId',
  'formMessageId',
  'formId',
  'formValues',
  'sourceSystem',
  'eventSubtype',
]);
const ENVELOPE_REQUIRED = new Set(['id', 'timestamp', 'type', 'initiator', 'payload']);
const MESSAGE_REQUIRED = new Set(['messageId', 'timestamp', 'message', 'user', 'stream']);
const FALLBACKS: readonly unknown[] = ['x', 7, true, null, [], {}];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function allPaths(value: unknown, prefix: Path = []): Path[] {
  let entries: [string | number, unknown][] = [];
  if (Array.isArray(value)) entries = value.map((item, index): [number, unknown] => [index, item]);
  else if (isRecord(value)) entries = Object.entries(value);
  return entries.flatMap(([key, item]) => [[...prefix, key], ...allPaths(item, [...prefix, key])]);
}

function getAt(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], root);
}

function setAt(root: unknown, path: Path, value: unknown): void {
  (getAt(root, path.slice(0, -1)) as Record<string | number, unknown>)[path.at(-1) as string | number] = value;
}

function deleteAt(root: unknown, path: Path): void {
  const parent = getAt(root, path.slice(0, -1));
  const key = path.at(-1) as string | number;
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete (parent as Record<string, unknown>)[key];
}

/**
 * Whether the wire schema needs the field at `path` of a factory event (src/events/wire-schema.ts: "chorus
 * requires only what it routes on"): optional fields are all nullish; array elements can go but not change
 * type; form values and system-event parameters are free.
 */
function ruleOf(path: Path): Rule {
  const last = String(path.at(-1));
  const parent = path.at(-2);
  if (parent === 'formValues' || parent === 'parameters') return 'free';
  if (typeof path.at(-1) === 'number') return 'element';
  if (last === 'userId' || last === 'streamId') return 'required';
  if (path.length === 1) return ENVELOPE_REQUIRED.has(last) ? 'required' : 'optional';
  if (path[0] === 'initiator') return last === 'user' ? 'required' : 'optional';
  if (path.length === 2) return 'required'; // payload.<key of the type>
  if (path.length === 3) {
    if (path[1] === 'genericSystemEvent' && last === 'stream') return 'optional';
    return PAYLOAD_REQUIRED.has(last) ? 'required' : 'optional';
  }
  if (path.length === 4 && (parent === 'message' || parent === 'sharedMessage')) {
    return MESSAGE_REQUIRED.has(last) ? 'required' : 'optional';
  }
  return 'optional';
}

/** Applies `mutation` to a copy of `event`; `invalidAt` as in Input. Undefined when nothing fits the mutation. */
function mutate(event: WireEvent, mutation: Mutation): { wire: unknown; invalidAt: string | undefined } | undefined {
  const wire = structuredClone(event) as unknown;
  const paths = allPaths(wire);
  const pick = (candidates: Path[], index: number): Path | undefined =>
    candidates[index % Math.max(candidates.length, 1)];
  const last = (path: Path): string | number | undefined => path.at(-1);
  switch (mutation.kind) {
    case 'delete': {
      const path = pick(paths, mutation.pick) as Path;
      deleteAt(wire, path);
      return { wire, invalidAt: ruleOf(path) === 'required' ? path.join('.') : undefined };
    }
    case 'retype': {
      const path = pick(paths, mutation.pick) as Path;
      const original = getAt(wire, path);
      let value = mutation.value;
      for (let i = 0; kindOf(value) === kindOf(original); i += 1) {
        value = FALLBACKS[(mutation.fallback + i) % FALLBACKS.length];
      }
      setAt(wire, path, value);
      const rule = ruleOf(path);
      const valid =
        rule === 'free' ||
        (rule === 'optional' && value == null) ||
        (last(path) === 'userId' && typeof value === 'string' && /^\d+$/.test(value));
      return { wire, invalidAt: valid ? undefined : path.join('.') };
    }
    case 'blank': {
      const isId = (p: Path): boolean =>
        (p.length === 1 && (p[0] === 'id' || p[0] === 'type')) || last(p) === 'streamId' || last(p) === 'messageId';
      const path = pick(paths.filter(isId), mutation.pick);
      if (path === undefined) return undefined;
      setAt(wire, path, '');
      return { wire, invalidAt: path.join('.') };
    }
    case 'truncate': {
      const isPresentationML = (p: Path): boolean => last(p) === 'message' && typeof getAt(wire, p) === 'string';
      const path = pick(paths.filter(isPresentationML), mutation.pick);
      if (path === undefined) return undefined;
      const presentationML = getAt(wire, path) as string;
      setAt(wire, path, presentationML.slice(0, Math.floor(mutation.at * presentationML.length)));
      return { wire, invalidAt: undefined };
    }
    case 'badData': {
      const isMessage = (p: Path): boolean =>
        (last(p) === 'message' || last(p) === 'sharedMessage') && isRecord(getAt(wire, p));
      const path = pick(paths.filter(isMessage), mutation.pick);
      if (path === undefined) return undefined;
      setAt(wire, [...path, 'data'], mutation.data);
      return { wire, invalidAt: `${path.join('.')}.data` };
    }
    case 'swapType': {
      const type = mutation.type === event.type ? 'TYPINGSTARTED' : mutation.type;
      setAt(wire, ['type'], type);
      return { wire, invalidAt: isEventType(type) ? `payload.${PAYLOADS[type].key}` : undefined };
    }
  }
}

// ---- Building a feed and what it should produce ------------------------------------------------------------

function helpText(inIM: boolean): string {
  const needs = inIM ? '(mention not required)' : '(mention required)';
  return ['Commands:', ...COMMANDS.map(([pattern, description]) => `${pattern} - ${description} ${needs}`)].join('\n');
}

/** The content of a message body and the replies trading + desk give it when handled. */
function render(
  f: EventFactory,
  body: Body,
  from: User,
  inIM: boolean,
  users: readonly User[],
): { content: ContentPart[]; replies: string[] } {
  const lead: ContentPart[] = body.mention ? [f.mentionBot()] : [];
  const addressed = body.mention || inIM;
  const hi = `Hi ${from.displayName}, try /help`;
  const fallback = body.mention ? [hi] : [];
  const paging = `Paging the desk for ${from.displayName}`;
  switch (body.kind) {
    case 'text':
      return { content: [...lead, ' ', body.text], replies: fallback };
    case 'count':
      return { content: [...lead, ' /count'], replies: addressed ? [COUNT] : [] };
    case 'buy': {
      const ticker = body.typed ? `$${body.ticker}` : f.cashtag(body.ticker);
      const bought = addressed ? [`Buying ${body.quantity} ${body.ticker} for ${from.displayName}`] : [];
      return { content: [...lead, ` /buy ${body.quantity} `, ticker], replies: body.typed ? fallback : bought };
    }
    case 'echo': {
      const content = [...lead, ` /echo${body.gap}${body.words.join(body.gap)}`];
      if (body.words.length === 0) return { content, replies: fallback };
      return { content, replies: addressed ? [body.words.join(' ')] : [] };
    }
    case 'tags': {
      const tags = body.tags.flatMap((t) => [' ', t.kind === 'hashtag' ? f.hashtag(t.value) : f.cashtag(t.value)]);
      const urgent = body.tags.some((t) => t.kind === 'hashtag' && t.value === 'urgent');
      return { content: [...lead, ' ', body.text, ...tags], replies: [...fallback, ...(urgent ? [paging] : [])] };
    }
    case 'help':
      return { content: [...lead, ' /help'], replies: addressed ? [helpText(inIM)] : [] };
    case 'whois': {
      const who = body.who < 0 ? f.bot : (users[body.who] as User);
      // Unaddressed in a room it is no command, but the bot as the argument is still a mention of the bot.
      const replies = addressed ? [`@${who.userId} is ${who.displayName}`] : who === f.bot ? [hi] : [];
      return { content: [...lead, ' /whois ', f.mention(who)], replies };
    }
    case 'topic': {
      const set = addressed ? [`Topic set to #${body.tag}`] : [];
      const urgent = body.tag === 'urgent' ? [paging] : [];
      return { content: [...lead, ' /topic ', f.hashtag(body.tag)], replies: [...set, ...urgent] };
    }
  }
}

/** A non-message event of `type` and the replies it gets when handled. */
function otherEvent(
  f: EventFactory,
  type: OtherType,
  streams: { readonly room: Stream; readonly im: Stream },
  by: User,
  target: User,
): { wire: WireEvent; replies: string[] } {
  const { room, im } = streams;
  const roomEvent = `Room event ${type.toLowerCase()} by ${by.displayName}`;
  switch (type) {
    case 'SHAREDPOST': {
      const shared = { from: target, content: [f.hashtag('urgent')] };
      return { wire: f.sharedPost({ from: by, content: 'look', shared }), replies: [] };
    }
    case 'INSTANTMESSAGECREATED':
      return { wire: f.instantMessageCreated({ stream: im, by }), replies: [] };
    case 'ROOMCREATED':
      return { wire: f.roomCreated({ stream: room, by }), replies: [roomEvent] };
    case 'ROOMDEACTIVATED':
      return { wire: f.roomDeactivated({ stream: room, by }), replies: [roomEvent] };
    case 'ROOMREACTIVATED':
      return { wire: f.roomReactivated({ stream: room, by }), replies: [roomEvent] };
    case 'ROOMUPDATED':
      return { wire: f.roomUpdated({ stream: room, by, properties: { description: 'new' } }), replies: [] };
    case 'USERJOINEDROOM':
      return { wire: f.userJoinedRoom({ stream: room, user: target, by }), replies: [`Welcome ${target.displayName}`] };
    case 'USERLEFTROOM':
      return { wire: f.userLeftRoom({ stream: room, user: target, by }), replies: [] };
    case 'ROOMMEMBERPROMOTEDTOOWNER':
      return { wire: f.roomMemberPromotedToOwner({ stream: room, user: target, by }), replies: [] };
    case 'ROOMMEMBERDEMOTEDFROMOWNER':
      return { wire: f.roomMemberDemotedFromOwner({ stream: room, user: target, by }), replies: [] };
    case 'CONNECTIONREQUESTED':
      return { wire: f.connectionRequested({ from: by }), replies: [] };
    case 'CONNECTIONACCEPTED':
      return { wire: f.connectionAccepted({ by }), replies: [] };
    case 'MESSAGESUPPRESSED':
      return { wire: f.messageSuppressed({ stream: room, messageId: 'gone', by }), replies: [] };
    case 'SYMPHONYELEMENTSACTION': {
      const wire = f.elementsAction({ stream: room, from: by, formId: 'order', values: { quantity: '10' } });
      return { wire, replies: [`Form order sent by ${by.displayName}: {"action":"submit","quantity":"10"}`] };
    }
    case 'USERREQUESTEDTOJOINROOM':
      return { wire: f.userRequestedToJoinRoom({ stream: room, user: target, owners: [by] }), replies: [] };
    case 'GENERICSYSTEMEVENT': {
      const spec = { by, stream: room, sourceSystem: 'calendar', eventSubtype: 'started', parameters: { title: 'x' } };
      return { wire: f.genericSystemEvent(spec), replies: [] };
    }
  }
}

/** The inputs of a run, in feed order, with their expectations. */
function buildInputs(plan: readonly Step[]): Input[] {
  const f = createEventFactory({ bot: { userId: BOT_USER_ID, displayName: 'Chorus Bot' } });
  const users = USER_NAMES.map((displayName) => f.user({ displayName }));
  const person = (index: number): User => (index < 0 ? f.bot : (users[index] as User));
  const streams = {
    roomA: f.room({ roomName: 'Desk A' }),
    roomB: f.room({ roomName: 'Desk <B>' }),
    im: f.im(users[0] as User),
  };
  const built: { pristine: Input; final: Input }[] = [];
  const inputs: Input[] = [];
  const add = (wire: WireEvent, replies: readonly string[], streamId: string, change: Mutation | undefined): void => {
    const pristine: Input = { wire, invalidAt: undefined, replies, streamId };
    const mutated = change === undefined ? undefined : mutate(wire, change);
    const final = mutated === undefined ? pristine : { ...mutated, replies: undefined, streamId };
    built.push({ pristine, final });
    inputs.push(final);
  };
  for (const step of plan) {
    switch (step.kind) {
      case 'message': {
        const stream = streams[step.stream];
        const from = person(step.from);
        const { content, replies } = render(f, step.body, from, step.stream === 'im', users);
        add(f.message({ stream, from, content }), replies, stream.streamId, step.mutation);
        break;
      }
      case 'event': {
        const room = step.roomB ? streams.roomB : streams.roomA;
        const by = person(step.by);
        const { wire, replies } = otherEvent(f, step.type, { room, im: streams.im }, by, person(step.user));
        add(wire, replies, room.streamId, step.mutation);
        break;
      }
      case 'redelivery': {
        const original = built[step.of % Math.max(built.length, 1)];
        if (original === undefined) break;
        const copy = step.pristine ? original.pristine : original.final;
        inputs.push({ ...copy, wire: structuredClone(copy.wire) });
        break;
      }
      case 'noise':
        inputs.push({ wire: step.value, invalidAt: null, replies: undefined, streamId: undefined });
        break;
    }
  }
  return inputs;
}

/** The status of each input (README "Delivery"), in feed order. */
function expectedStatuses(inputs: readonly Input[]): EventStatus[] {
  const claimed = new Set<string>();
  return inputs.map((input): EventStatus => {
    if (input.invalidAt !== undefined) return 'invalid';
    const wire = input.wire as WireEvent;
    if (!isEventType(wire.type)) return 'unsupported';
    if (String(wire.initiator.user.userId) === BOT_USER_ID) return 'own';
    const payload = (wire.payload as Record<string, { message?: { messageId: string } }>)[PAYLOADS[wire.type].key];
    const isMessage = wire.type === 'MESSAGESENT' || wire.type === 'SHAREDPOST';
    const key = isMessage ? `message:${payload?.message?.messageId}` : `event:${wire.id}`;
    if (claimed.has(key)) return 'duplicate';
    claimed.add(key);
    return 'handled';
  });
}

/** `invalid V4Event <id> (<type>)`: what an error message names of the event, as parseWireEvent documents. */
function labelOf(wire: unknown): string {
  const { id, type } = isRecord(wire) ? wire : ({} as Record<string, unknown>);
  const named = typeof id === 'string' && id !== '' ? ` ${id}` : '';
  const typed = typeof type === 'string' && type !== '' ? ` (${type})` : '';
  return `invalid V4Event${named}${typed}`;
}

function toBatches(inputs: readonly Input[], at: readonly number[]): { events: unknown[]; ackId: string }[] {
  const bounds = [...new Set([0, ...at.map((n) => n % (inputs.length + 1)), inputs.length])].sort((a, b) => a - b);
  const batches = bounds.slice(1).map((end, i) => ({
    events: inputs.slice(bounds[i], end).map((input) => input.wire),
    ackId: `ack-${i}`,
  }));
  return batches.length === 0 ? [{ events: [], ackId: 'ack-0' }] : batches;
}

// ---- The properties ----------------------------------------------------------------------------------------

/** Replays `inputs` (cut into batches at `at`) and checks every property against the expectations. */
async function replayAndCheck(inputs: readonly Input[], at: readonly number[]): Promise<ReplayReport> {
  const batches = toBatches(inputs, at);
  const source = createMemorySource(batches);
  // A rejection fails the property: the replay must settle whatever the feed holds.
  const report = await runReplay(source, { listeners: [trading, desk], botUserId: BOT_USER_ID });
  const statuses = expectedStatuses(inputs);
  const idOf = (input: Input, status: EventStatus | undefined): string =>
    status === 'invalid' ? '' : String((input.wire as { id: unknown }).id);

  // Exactly one outcome per input event, with the expected status; every batch acknowledged once.
  expect(report.outcomes.map((o) => `${o.status} ${o.eventId ?? ''}`).sort()).toEqual(
    inputs.map((input, i) => `${statuses[i]} ${idOf(input, statuses[i])}`).sort(),
  );
  const settled = source.outcomes.map((o) => `${o.ackId} ${o.outcome}`);
  expect(settled.sort()).toEqual(batches.map((batch) => `${batch.ackId} ack`).sort());

  // Dead letters: the invalid inputs themselves, in feed order, each with a message naming the path.
  const invalid = inputs.filter((_, i) => statuses[i] === 'invalid');
  const failed = report.outcomes.filter((o) => o.status === 'failed');
  expect(report.deadLetters).toHaveLength(invalid.length + failed.length);
  report.deadLetters.forEach((letter, i) => {
    const input = invalid[i] as Input;
    const { message } = letter.error;
    expect(letter.wire).toBe(input.wire);
    expect(letter.error.code).toBe('CHORUS_ERR_EVENT_INVALID');
    if (typeof input.invalidAt === 'string') {
      expect(message.startsWith(`${labelOf(input.wire)} at ${input.invalidAt}: `), message).toBe(true);
    } else if (isRecord(input.wire)) {
      expect(message.startsWith(labelOf(input.wire)) && message.includes(' at '), message).toBe(true);
    } else {
      expect(message.startsWith('invalid V4Event: '), message).toBe(true);
    }
  });
  const invalidErrors = report.outcomes.filter((o) => o.status === 'invalid').map((o) => o.error);
  expect(new Set(invalidErrors)).toEqual(new Set(report.deadLetters.map((letter) => letter.error)));

  // Replies: only to handled events; an untouched event gets exactly its replies, in its stream.
  const handled = new Map<string, { input: Input; index: number }>();
  inputs.forEach((input, index) => {
    if (statuses[index] === 'handled') handled.set(idOf(input, 'handled'), { input, index });
  });
  for (const reply of report.replies) expect(handled.has(reply.inReplyTo.eventId), reply.text).toBe(true);
  const repliesTo = (id: string) => report.replies.filter((reply) => reply.inReplyTo.eventId === id);
  for (const [id, { input }] of handled) {
    if (input.replies === undefined) continue;
    const got = repliesTo(id).map(({ streamId, text }) => `${streamId} ${text.startsWith('count=') ? COUNT : text}`);
    expect(got.sort()).toEqual(input.replies.map((text) => `${input.streamId} ${text}`).sort());
  }

  // Feed order per conversation: handled outcomes, and counts 1, 2, 3… in every stream.
  const lastIndex = new Map<string, number>();
  for (const outcome of report.outcomes.filter((o) => o.status === 'handled')) {
    const index = handled.get(outcome.eventId ?? '')?.index ?? -1;
    expect(index, `${outcome.eventId} in ${outcome.conversationId}`).toBeGreaterThan(
      lastIndex.get(outcome.conversationId ?? '') ?? -1,
    );
    lastIndex.set(outcome.conversationId ?? '', index);
  }
  const counts = new Map<string, string[]>();
  for (const reply of report.replies.filter((r) => r.text.startsWith('count='))) {
    counts.set(reply.streamId, [...(counts.get(reply.streamId) ?? []), reply.text]);
  }
  for (const texts of counts.values()) expect(texts).toEqual(texts.map((_, i) => `count=${i + 1}`));
  const countOf = (id: string): number => Number(repliesTo(id)[0]?.text.slice('count='.length));
  const untouchedCounts = [...handled].filter(([, { input }]) => input.replies?.includes(COUNT) === true);
  for (const streamId of new Set(untouchedCounts.map(([, { input }]) => input.streamId))) {
    const inStream = untouchedCounts.filter(([, { input }]) => input.streamId === streamId);
    const inFeedOrder = inStream.map(([id]) => countOf(id));
    expect(inFeedOrder).toEqual([...inFeedOrder].sort((a, b) => a - b));
    expect(new Set(inFeedOrder).size).toBe(inFeedOrder.length);
  }
  return report;
}

describe('the pipeline under fuzzed feeds', () => {
  it('dead-letters random values, whatever they are, and goes on', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(noiseValue, { maxLength: 12 }), cuts, async (values, at) => {
        const asNoise = (wire: unknown): Input => ({ wire, invalidAt: null, replies: undefined, streamId: undefined });
        const report = await replayAndCheck(values.map(asNoise), at);
        expect(report.replies).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('handles valid events, dead-letters broken ones naming the path, keeps counts in feed order', async () => {
    await fc.assert(
      fc.asyncProperty(steps, cuts, async (plan, at) => {
        await replayAndCheck(buildInputs(plan), at);
      }),
      { numRuns: 200 },
    );
  });
});

describe('mutations worth keeping as regressions', () => {
  const f = createEventFactory({ bot: { userId: BOT_USER_ID, displayName: 'Chorus Bot' } });
  const alice = f.user({ displayName: 'Alice Ng' });
  const room = f.room({ roomName: 'Desk' });
  const options = { listeners: [trading, desk], botUserId: BOT_USER_ID };

  it('dead-letters a message whose data is not JSON, and handles its intact redelivery as new', async () => {
    const first = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /count'] });
    const second = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /count'] });
    const corrupted = structuredClone(second);
    corrupted.payload.messageSent.message.data = '{"mention1":';
    const report = await runReplay([first, corrupted, second], options);
    expect(report.outcomes.map((o) => o.status)).toEqual(['invalid', 'handled', 'handled']);
    expect(report.deadLetters.map((letter) => letter.error.message)).toEqual([
      `invalid V4Event ${second.id} (MESSAGESENT) at payload.messageSent.message.data: EntityJSON is not JSON`,
    ]);
    expect(report.replies.map((reply) => reply.text)).toEqual(['count=1', 'count=2']);
  });

  it('knows the bot by its id whether the wire writes it as a number or a string of digits', async () => {
    const own = f.message({ stream: room, from: f.bot, content: [f.mentionBot(), ' /count'] });
    const asString = { ...own, initiator: { user: { ...own.initiator.user, userId: BOT_USER_ID } } };
    const report = await runReplay([asString], options);
    expect(report.outcomes.map((o) => o.status)).toEqual(['own']);
    expect(report.replies).toEqual([]);
  });

  it('reads PresentationML cut inside the bot mention as a mention, not as the command it was', async () => {
    const sent = f.message({ stream: room, from: alice, content: [f.mentionBot(), ' /count'] });
    const presentationML = sent.payload.messageSent.message.message;
    const cut = structuredClone(sent);
    cut.payload.messageSent.message.message = presentationML.slice(0, presentationML.indexOf('</span>') + 2);
    const report = await runReplay([cut], options);
    expect(report.outcomes.map((o) => o.status)).toEqual(['handled']);
    expect(report.deadLetters).toEqual([]);
    expect(report.replies.map((reply) => reply.text)).toEqual(['Hi Alice Ng, try /help']);
  });
});
