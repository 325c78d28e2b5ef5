/**
 * The dispatch workload, generated once and deterministically (seeded): chat messages over conversations and
 * users, 40% slash commands (five commands with arguments), 20% @mentions of the bot, 40% chatter; then each
 * message encoded as its platform's native wire JSON (Symphony V4Event, Telegram Update, Slack Events API /
 * slash-command body, Hubot TextMessage fields). Every platform gets the same texts.
 */
import { createEventFactory, type ContentPart, type EventFactory } from '../../src/testing/index.ts';
import type { Stream, User } from '../../src/events/event.ts';

/** The workload's size and seed. */
export type WorkloadSpec = {
  readonly seed: number;
  readonly conversations: number;
  readonly users: number;
  /** Messages run before the timed run (distinct ids, so chorus's dedupe does not drop the timed ones). */
  readonly warmup: number;
  /** Messages of the timed run. */
  readonly timed: number;
};

export const DEFAULT_SPEC: WorkloadSpec = { seed: 0x5eed_c0de, conversations: 1_000, users: 97, warmup: 20_000, timed: 100_000 };

/** The five commands, in the order handlers are registered. */
export const COMMANDS = ['/buy', '/sell', '/quote', '/assign', '/remind'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** What each framework's handlers must have been called for, in the timed run. */
export type HandlerCounts = Record<CommandName | 'mention', number>;

export function emptyCounts(): HandlerCounts {
  return { '/buy': 0, '/sell': 0, '/quote': 0, '/assign': 0, '/remind': 0, mention: 0 };
}

/** One token of a message: plain words, or an entity. Tokens are joined by single spaces. */
export type Tok = string | { readonly user: number } | { readonly cashtag: string } | { readonly hashtag: string };

/** One message of the workload, platform-neutral. */
export type Item =
  | { readonly kind: 'command'; readonly conv: number; readonly user: number; readonly command: CommandName; readonly args: readonly Tok[] }
  | { readonly kind: 'mention'; readonly conv: number; readonly user: number; readonly body: readonly Tok[] }
  | { readonly kind: 'chatter'; readonly conv: number; readonly user: number; readonly body: readonly Tok[] };

const WORDS = (
  'the a to and of in is it you that for on are with as this be at have not we can will just so but what ' +
  'about rates market today lunch meeting call client trade order price risk report desk book deal close ' +
  'open morning afternoon later tomorrow update numbers looks good thanks sure okay please check send ' +
  'team budget review volume spread bond yield curve move quick question anyone know where link'
).split(' ');
const TICKERS = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA', 'NVDA', 'META', 'JPM', 'GS', 'BAC', 'XOM', 'IBM', 'ORCL', 'INTC', 'CSCO'];
const HASHTAGS = ['markets', 'fx', 'rates', 'earnings', 'lunch', 'ops'];
const DURATIONS = ['5m', '15m', '30m', '1h', '2h', 'tomorrow'];
const FIRST = ['Alice', 'Bob', 'Carol', 'Dan', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy', 'Mallory', 'Niaj', 'Olivia', 'Peggy', 'Rupert', 'Sybil', 'Trent', 'Victor', 'Walter', 'Yara'];
const LAST = ['Ng', 'Stone', 'Kim', 'Okafor', 'Silva', 'Novak', 'Chen', 'Dubois', 'Rossi', 'Haddad', 'Larsen', 'Ito', 'Mehta', 'Walsh', 'Costa', 'Berg', 'Ruiz'];

/** mulberry32: a small, fast, seeded PRNG. */
function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates warm-up then timed items. */
export function generateItems(spec: WorkloadSpec): Item[] {
  const random = createRandom(spec.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
  const words = (min: number, max: number): string => {
    const n = int(min, max);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(pick(WORDS));
    return out.join(' ');
  };
  const items: Item[] = [];
  for (let n = 0; n < spec.warmup + spec.timed; n++) {
    const conv = Math.floor(random() * spec.conversations);
    const user = Math.floor(random() * spec.users);
    const r = random();
    if (r < 0.4) {
      const command = pick(COMMANDS);
      let args: Tok[];
      switch (command) {
        case '/buy':
        case '/sell':
          args = [String(int(1, 500) * 10), { cashtag: pick(TICKERS) }];
          break;
        case '/quote':
          args = [{ cashtag: pick(TICKERS) }];
          break;
        case '/assign':
          args = [{ user: (user + int(1, spec.users - 1)) % spec.users }, words(2, 6)];
          break;
        case '/remind':
          args = [pick(DURATIONS), words(2, 6)];
          break;
      }
      items.push({ kind: 'command', conv, user, command, args });
    } else if (r < 0.6) {
      const body: Tok[] = random() < 0.25 ? [words(1, 4), { cashtag: pick(TICKERS) }, words(1, 4)] : [words(3, 10)];
      items.push({ kind: 'mention', conv, user, body });
    } else {
      const body: Tok[] = [];
      if (random() < 0.2) body.push({ user: (user + int(1, spec.users - 1)) % spec.users });
      body.push(words(3, 12));
      const extra = random();
      if (extra < 0.1) body.push({ hashtag: pick(HASHTAGS) });
      else if (extra < 0.2) body.push({ cashtag: pick(TICKERS) }, words(1, 3));
      items.push({ kind: 'chatter', conv, user, body });
    }
  }
  return items;
}

/** The handler invocations a framework must report for `items`. */
export function expectedCounts(items: readonly Item[]): HandlerCounts {
  const counts = emptyCounts();
  for (const item of items) {
    if (item.kind === 'command') counts[item.command] += 1;
    else if (item.kind === 'mention') counts.mention += 1;
  }
  return counts;
}

/** The display name of user `i` (unique). */
export function displayNameOf(i: number): string {
  return `${FIRST[i % FIRST.length] as string} ${LAST[Math.floor(i / FIRST.length) % LAST.length] as string}${i >= FIRST.length * LAST.length ? ` ${i}` : ''}`;
}

/** The Telegram / Slack / Hubot handle of user `i`: `alice_ng`. */
export function handleOf(i: number): string {
  return displayNameOf(i).toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

// ---------------------------------------------------------------------------------------------------------
// Symphony: V4Event MESSAGESENT, built with chorus's own event factory (createEventFactory).

export const SYMPHONY_BOT = { userId: '7000000000001', displayName: 'Chorus Bot' } as const;

/** The people and rooms of a Symphony world, made by one factory. */
export type SymphonyWorld = { readonly factory: EventFactory; readonly users: readonly User[]; readonly rooms: readonly Stream[] };

export function createSymphonyWorld(spec: WorkloadSpec): SymphonyWorld {
  const factory = createEventFactory({ bot: { ...SYMPHONY_BOT, username: 'chorus-bot' } });
  const users = Array.from({ length: spec.users }, (_, i) => factory.user({ displayName: displayNameOf(i) }));
  const rooms = Array.from({ length: spec.conversations }, (_, i) => factory.room({ roomName: `Desk ${i + 1}` }));
  return { factory, users, rooms };
}

/** The V4Event of `item` (a fresh object). */
export function toSymphonyEvent(world: SymphonyWorld, item: Item): object {
  const { factory: f, users, rooms } = world;
  const entity = (tok: Tok): ContentPart => {
    if (typeof tok === 'string') return tok;
    if ('user' in tok) return f.mention(users[tok.user] as User);
    if ('cashtag' in tok) return f.cashtag(tok.cashtag);
    return f.hashtag(tok.hashtag);
  };
  const spaced = (toks: readonly Tok[]): ContentPart[] => toks.flatMap((tok) => [' ', entity(tok)]);
  let content: ContentPart[];
  if (item.kind === 'command') content = [f.mentionBot(), ` ${item.command}`, ...spaced(item.args)];
  else if (item.kind === 'mention') content = [f.mentionBot(), ...spaced(item.body)];
  else content = spaced(item.body).slice(1);
  return f.message({ stream: rooms[item.conv] as Stream, from: users[item.user] as User, content });
}

// ---------------------------------------------------------------------------------------------------------
// Telegram: Bot API `Update` with a group `message`, `entities` as Telegram sends them (UTF-16 offsets).

export const TELEGRAM_BOT = { id: 7_000_000_001, username: 'chorus_bot', firstName: 'Chorus Bot' } as const;

function telegramText(item: Item): { text: string; entities: { type: string; offset: number; length: number }[] } {
  let text = '';
  const entities: { type: string; offset: number; length: number }[] = [];
  const add = (piece: string, type?: string): void => {
    if (text !== '') text += ' ';
    if (type !== undefined) entities.push({ type, offset: text.length, length: piece.length });
    text += piece;
  };
  const addTok = (tok: Tok): void => {
    if (typeof tok === 'string') add(tok);
    else if ('user' in tok) add(`@${handleOf(tok.user)}`, 'mention');
    else if ('cashtag' in tok) add(`$${tok.cashtag}`, 'cashtag');
    else add(`#${tok.hashtag}`, 'hashtag');
  };
  if (item.kind === 'command') {
    add(item.command, 'bot_command');
    item.args.forEach(addTok);
  } else {
    if (item.kind === 'mention') add(`@${TELEGRAM_BOT.username}`, 'mention');
    item.body.forEach(addTok);
  }
  return { text, entities };
}

export function toTelegramUpdate(item: Item, n: number, messageIds: number[]): object {
  const { text, entities } = telegramText(item);
  const messageId = (messageIds[item.conv] = (messageIds[item.conv] ?? 0) + 1);
  const [first, ...last] = displayNameOf(item.user).split(' ');
  return {
    update_id: 400_000_000 + n,
    message: {
      message_id: messageId,
      from: {
        id: 100_000_000 + item.user,
        is_bot: false,
        first_name: first,
        last_name: last.join(' '),
        username: handleOf(item.user),
        language_code: 'en',
      },
      chat: { id: -1_001_000_000_000 - item.conv, title: `Desk ${item.conv + 1}`, type: 'supergroup' },
      date: 1_767_225_600 + n,
      text,
      ...(entities.length === 0 ? {} : { entities }),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Slack: Events API `event_callback` bodies (message, app_mention; fixtures MessagePayload.json,
// AppMentionPayload.json) with the rich_text block Slack clients attach, and slash-command bodies
// (SlashCommandPayload.json) as JSON, the way Socket Mode delivers them.

export const SLACK = { team: 'T0BENCH001', app: 'A0BENCH001', botUser: 'U0CHORUSBT', botId: 'B0CHORUSBT' } as const;

export function slackUserId(i: number): string {
  return `U0${(1_000_000 + i).toString(36).toUpperCase().padStart(8, '0')}`;
}

export function slackChannelId(i: number): string {
  return `C0${(2_000_000 + i).toString(36).toUpperCase().padStart(8, '0')}`;
}

function slackText(toks: readonly Tok[], leading?: string): { text: string; elements: object[] } {
  const parts: string[] = [];
  const elements: object[] = [];
  const pushText = (s: string): void => {
    const last = elements[elements.length - 1] as { type: string; text?: string } | undefined;
    if (last?.type === 'text') last.text += s;
    else elements.push({ type: 'text', text: s });
  };
  const pushUser = (id: string, first: boolean): void => {
    if (!first) pushText(' ');
    elements.push({ type: 'user', user_id: id });
    parts.push(`<@${id}>`);
  };
  if (leading !== undefined) pushUser(leading, true);
  toks.forEach((tok, i) => {
    const first = i === 0 && leading === undefined;
    if (typeof tok === 'object' && 'user' in tok) {
      pushUser(slackUserId(tok.user), first);
      return;
    }
    const s = typeof tok === 'string' ? tok : 'cashtag' in tok ? `$${tok.cashtag}` : `#${tok.hashtag}`;
    pushText(first ? s : ` ${s}`);
    parts.push(s);
  });
  return { text: parts.join(' '), elements };
}

export function toSlackBody(item: Item, n: number): object {
  const user = slackUserId(item.user);
  const channel = slackChannelId(item.conv);
  if (item.kind === 'command') {
    const { text } = slackText(item.args);
    return {
      token: 'gIkuvaNzQIHg97ATvDxqgjtO',
      team_id: SLACK.team,
      team_domain: 'chorus-bench',
      channel_id: channel,
      channel_name: `desk-${item.conv + 1}`,
      user_id: user,
      user_name: handleOf(item.user),
      command: item.command,
      text,
      api_app_id: SLACK.app,
      is_enterprise_install: 'false',
      response_url: `https://hooks.slack.com/commands/${SLACK.team}/${1_000_000_000 + n}/Bench${n.toString(36)}`,
      trigger_id: `${1_000_000_000 + n}.${1_000_000 + item.user}.${n.toString(16).padStart(32, '0')}`,
    };
  }
  const { text, elements } = slackText(item.body, item.kind === 'mention' ? SLACK.botUser : undefined);
  const ts = `${1_767_225_600 + n}.${String(n % 1_000_000).padStart(6, '0')}`;
  const event = {
    user,
    type: item.kind === 'mention' ? 'app_mention' : 'message',
    ts,
    client_msg_id: `0b7c${n.toString(16).padStart(4, '0')}-2f3a-4c7e-9d1b-${n.toString(16).padStart(12, '0')}`,
    text,
    team: SLACK.team,
    blocks: [{ type: 'rich_text', block_id: n.toString(36).slice(-5).padStart(5, 'x'), elements: [{ type: 'rich_text_section', elements }] }],
    channel,
    event_ts: ts,
    ...(item.kind === 'chatter' ? { channel_type: 'channel' } : {}),
  };
  return {
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    team_id: SLACK.team,
    context_team_id: SLACK.team,
    context_enterprise_id: null,
    api_app_id: SLACK.app,
    event,
    type: 'event_callback',
    event_id: `Ev0${(10_000_000 + n).toString(36).toUpperCase()}`,
    event_time: 1_767_225_600 + n,
    authorizations: [{ enterprise_id: null, team_id: SLACK.team, user_id: SLACK.botUser, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: `4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMEJFTkNIMDAxIiwiYWlkIjoiQTBCRU5DSDAwMSIsImNpZCI6IiR7Y2hhbm5lbH0ifQ${n}`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Hubot: the fields an adapter turns into `new TextMessage(new User(id, { name, room }), text, id)`.

export const HUBOT_NAME = 'chorus';

export function toHubotMessage(item: Item, n: number): object {
  const render = (tok: Tok): string =>
    typeof tok === 'string' ? tok : 'user' in tok ? `@${handleOf(tok.user)}` : 'cashtag' in tok ? `$${tok.cashtag}` : `#${tok.hashtag}`;
  let text: string;
  if (item.kind === 'command') text = [item.command, ...item.args.map(render)].join(' ');
  else if (item.kind === 'mention') text = [`@${HUBOT_NAME}`, ...item.body.map(render)].join(' ');
  else text = item.body.map(render).join(' ');
  const room = `desk-${item.conv + 1}`;
  return { id: `m${n}`, user: { id: String(100_000_000 + item.user), name: handleOf(item.user), room }, room, text };
}
