/**
 * PresentationML + EntityJSON parsing: a message's markup becomes plain text and tokens (words, @mentions,
 * #hashtags, $cashtags), following the BDK `InputTokenizer` (BDK Java `activity/parsing/InputTokenizer.java`,
 * BDK Python `activity/parsing/input_tokenizer.py`; reference §2.4).
 *
 * This runs once per message on the hot path: one streaming htmlparser2 `Parser` is reused for every call
 * (parsing is synchronous, so calls cannot interleave), no DOM is built and markup is never matched by regex.
 * The agent's canonical markup, nearly every message, is recognized without tokenizing HTML
 * (canonical-presentation-ml.ts) and gives the handlers below the same calls as htmlparser2 would.
 */
import { Parser } from 'htmlparser2';
import { ChorusError } from '../errors.ts';
import { scanCanonicalPresentationML, type MarkupHandler } from './canonical-presentation-ml.ts';
import type { Token } from './event.ts';
import { collapseWhitespace, isWhitespace } from './whitespace.ts';

/** The plain text and tokens of a PresentationML message. */
export type PresentationMLContent = {
  /** Entities as rendered, block elements and `<br/>` as line breaks, whitespace collapsed, lines trimmed. */
  readonly text: string;
  /** Words and entities in reading order. */
  readonly tokens: Token[];
};

// EntityJSON types and id types (reference §2.4; BDK Java `EntityTypeEnum`).
const MENTION_TYPE = 'com.symphony.user.mention';
const USER_ID_TYPE = 'com.symphony.user.userId';
const HASHTAG_TYPE = 'org.symphonyoss.taxonomy';
const HASHTAG_ID_TYPE = 'org.symphonyoss.taxonomy.hashtag';
const CASHTAG_TYPE = 'org.symphonyoss.fin.security';
const TICKER_ID_TYPE = 'org.symphonyoss.fin.security.id.ticker';

/** Elements that start and end a line of `text` (and separate words). */
const BLOCK_ELEMENTS: ReadonlySet<string> = new Set([
  'address', 'article', 'aside', 'blockquote', 'body', 'caption', 'card', 'dd', 'details', 'div', 'dl', 'dt',
  'expandable-card', 'fieldset', 'figcaption', 'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
  'header', 'hr', 'html', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'summary', 'table', 'tbody', 'tfoot',
  'thead', 'tr', 'ul',
]);

/** Elements rendered side by side on one line: their boundaries separate words with a space. */
const SEPARATED_ELEMENTS: ReadonlySet<string> = new Set(['td', 'th', 'button', 'option']);

const DIGITS = /^\d+$/;
const EMPTY_ENTITIES: Readonly<Record<string, unknown>> = Object.freeze({});

/** What an entity span resolved to in EntityJSON. */
type EntityMatch =
  | { readonly kind: 'mention'; readonly userId: string }
  | { readonly kind: 'hashtag' | 'cashtag'; readonly value: string };

// Per-call state of the shared parser; reset at the start and end of every parsePresentationML call.
let entities: Readonly<Record<string, unknown>> = EMPTY_ENTITIES;
let tokens: Token[] = [];
let lines: string[] = [];
/** Raw text of the current line, entities included. */
let line = '';
/** Raw plain text not yet split into word tokens. */
let words = '';
/** The entity span being read, its depth of open elements, and its raw text. */
let entity: EntityMatch | null = null;
let entityDepth = 0;
let entityText = '';

const handler: MarkupHandler = { onopentag, onclosetag, ontext };
const parser = new Parser(handler, { decodeEntities: true, recognizeSelfClosing: true, lowerCaseAttributeNames: true });

/**
 * Parses EntityJSON, the `data` field of a `V4Message`: a JSON *string* holding an object keyed by the
 * `data-entity-id` of the message's entity spans. A blank, `null` or absent string is `{}` (as the BDKs do).
 *
 * @throws ChorusError CHORUS_ERR_EVENT_INVALID when `data` is not JSON or not a JSON object.
 * @example
 * parseEntityJSON('{"0":{"type":"com.symphony.user.mention","id":[{"type":"com.symphony.user.userId","value":"7"}]}}');
 */
export function parseEntityJSON(data: string | null | undefined): Record<string, unknown> {
  if (data === null || data === undefined || data.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_EVENT_INVALID', 'EntityJSON is not JSON', { cause: err });
  }
  if (!isRecord(parsed)) {
    const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed;
    throw new ChorusError('CHORUS_ERR_EVENT_INVALID', `EntityJSON is ${kind}, expected an object`, {
      cause: new TypeError(`expected a JSON object, received ${kind}`),
    });
  }
  return parsed;
}

/**
 * Turns PresentationML into plain text and tokens, resolving entity spans against EntityJSON (BDK
 * `InputTokenizer`, reference §2.4).
 *
 * A `<span>` whose class list holds `entity` and whose `data-entity-id` is a key of `entityJSON` becomes one
 * token when the entity is a mention with a `com.symphony.user.userId` id (string of digits or non-negative
 * safe integer), a hashtag with an `org.symphonyoss.taxonomy.hashtag` id, or a security with an
 * `org.symphonyoss.fin.security.id.ticker` id. Every other span (emoji, isin-only security, unknown key) is
 * plain text. Plain text is split on whitespace (JS `\s`, so `&nbsp;` too) into word tokens; block elements and
 * table cells also separate words. HTML entities are decoded. Markup is parsed leniently (HTML mode): this
 * never throws, whatever the string.
 *
 * @example
 * const { text, tokens } = parsePresentationML(
 *   '<div data-format="PresentationML" data-version="2.0"><span class="entity" data-entity-id="0">@Bot</span> ping</div>',
 *   { '0': { type: 'com.symphony.user.mention', id: [{ type: 'com.symphony.user.userId', value: 7 }] } },
 * );
 * // text: '@Bot ping'
 * // tokens: [{ kind: 'mention', text: '@Bot', userId: '7', displayName: 'Bot' }, { kind: 'word', text: 'ping' }]
 */
export function parsePresentationML(
  presentationML: string,
  entityJSON: Readonly<Record<string, unknown>>,
): PresentationMLContent {
  entities = entityJSON;
  try {
    if (!scanCanonicalPresentationML(presentationML, handler)) {
      resetDocument(); // what the scanner saw of a prefix
      parser.parseComplete(presentationML);
    }
    if (entity !== null) endEntity();
    breakLine(false);
    return { text: joinLines(lines), tokens };
  } finally {
    entities = EMPTY_ENTITIES;
    resetDocument();
  }
}

/** Clears the per-document state (all but `entities`). */
function resetDocument(): void {
  tokens = [];
  lines = [];
  line = '';
  words = '';
  entity = null;
  entityDepth = 0;
  entityText = '';
}

function onopentag(name: string, attribs: Record<string, string>): void {
  if (entity !== null) {
    entityDepth += 1;
    return;
  }
  if (name === 'span') {
    const match = matchEntity(attribs);
    if (match !== null) {
      flushWords();
      entity = match;
      entityDepth = 1;
      return;
    }
  } else if (name === 'br') {
    breakLine(true);
  } else if (BLOCK_ELEMENTS.has(name)) {
    breakLine(false);
  } else if (SEPARATED_ELEMENTS.has(name)) {
    separate();
  }
}

function onclosetag(name: string): void {
  if (entity !== null) {
    entityDepth -= 1;
    if (entityDepth === 0) endEntity();
    return;
  }
  if (BLOCK_ELEMENTS.has(name)) breakLine(false);
  else if (SEPARATED_ELEMENTS.has(name)) separate();
}

function ontext(data: string): void {
  if (entity !== null) {
    entityText += data;
  } else {
    line += data;
    words += data;
  }
}

/** The entity a span stands for, or null when it is to be read as plain text. */
function matchEntity(attribs: Record<string, string>): EntityMatch | null {
  const className = attribs['class'];
  const entityId = attribs['data-entity-id'];
  if (className === undefined || entityId === undefined || !hasClass(className, 'entity')) return null;
  // Own keys only: an id such as "constructor" must not reach Object.prototype.
  if (!Object.hasOwn(entities, entityId)) return null;
  const data = entities[entityId];
  if (!isRecord(data)) return null;
  switch (data['type']) {
    case MENTION_TYPE: {
      const userId = toUserId(findIdValue(data, USER_ID_TYPE));
      return userId === null ? null : { kind: 'mention', userId };
    }
    case HASHTAG_TYPE: {
      const value = findIdValue(data, HASHTAG_ID_TYPE);
      return typeof value === 'string' ? { kind: 'hashtag', value } : null;
    }
    case CASHTAG_TYPE: {
      const value = findIdValue(data, TICKER_ID_TYPE);
      return typeof value === 'string' ? { kind: 'cashtag', value } : null;
    }
    default:
      return null;
  }
}

/** The `value` of the first item of the entity's `id` array with the given `type`. */
function findIdValue(data: Record<string, unknown>, idType: string): unknown {
  const ids = data['id'];
  if (!Array.isArray(ids)) return undefined;
  for (const item of ids as unknown[]) {
    if (isRecord(item) && item['type'] === idType) return item['value'];
  }
  return undefined;
}

/** A mention's user id as a string: EntityJSON holds it as a string or a number (reference §2.4). */
function toUserId(value: unknown): string | null {
  if (typeof value === 'string') return DIGITS.test(value) ? value : null;
  // Beyond 2^53 the number no longer holds the id exactly.
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return null;
}

/** True when the space-separated class list holds `name`; scans without allocating. */
function hasClass(classList: string, name: string): boolean {
  let from = 0;
  for (;;) {
    const at = classList.indexOf(name, from);
    if (at < 0) return false;
    const end = at + name.length;
    if ((at === 0 || isSpace(classList.charCodeAt(at - 1))) && (end === classList.length || isSpace(classList.charCodeAt(end)))) {
      return true;
    }
    from = at + 1;
  }
}

/** HTML's ASCII whitespace (class lists are split on it). */
function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d;
}

function endEntity(): void {
  const match = entity;
  if (match === null) return;
  const text = collapseWhitespace(entityText);
  if (match.kind === 'mention') {
    const displayName = text.startsWith('@') ? text.slice(1).trimStart() : text;
    tokens.push({ kind: 'mention', text, userId: match.userId, displayName });
  } else {
    tokens.push({ kind: match.kind, text, value: match.value });
  }
  line += entityText;
  entity = null;
  entityDepth = 0;
  entityText = '';
}

/** Splits `words` on whitespace (JS `\s`) into word tokens; a scan rather than `split(/\s+/)`, for speed. */
function flushWords(): void {
  if (words === '') return;
  const text = words;
  let start = -1; // of the word being read, -1 between words
  for (let i = 0; i < text.length; i++) {
    if (!isWhitespace(text.charCodeAt(i))) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      tokens.push({ kind: 'word', text: text.slice(start, i) });
      start = -1;
    }
  }
  if (start >= 0) tokens.push({ kind: 'word', text: start === 0 ? text : text.slice(start) });
  words = '';
}

/** Ends the current line; a `<br/>` (forced) does so even when it is empty, a block element only if not. */
function breakLine(forced: boolean): void {
  flushWords();
  const text = collapseWhitespace(line);
  if (forced || text !== '') lines.push(text);
  line = '';
}

function separate(): void {
  line += ' ';
  words += ' ';
}

/** Joins lines, leaving out leading and trailing blank ones. */
function joinLines(all: readonly string[]): string {
  let start = 0;
  let end = all.length;
  while (start < end && all[start] === '') start += 1;
  while (end > start && all[end - 1] === '') end -= 1;
  return start === 0 && end === all.length ? all.join('\n') : all.slice(start, end).join('\n');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
