/**
 * MessageML building and escaping: plain text becomes safe markup, and the `ml` tagged template mixes trusted
 * markup with escaped values. MessageML is XML (reference §3.2) that the agent also runs through Freemarker
 * ("Both formats support Freemarker templates", reference §3.1), so escaping covers XML and Freemarker both.
 */
import { ChorusError } from '../errors.ts';

/**
 * A fragment of MessageML markup that is already safe to send: built by {@link ml}, {@link textToMessageML} or
 * the entity helpers. A class with an explicit field (no parameter properties: erasable syntax only), checked
 * with `instanceof`; instances are frozen. Calling the constructor yourself asserts the markup is trusted.
 *
 * @throws ChorusError CHORUS_ERR_REPLY_INVALID when `markup` is not a string (JS callers).
 * @example
 * const bold = new MessageML('<b>fixed markup</b>'); // trusted: never build this from user input
 */
export class MessageML {
  /** The markup, without the `<messageML>` root. */
  readonly markup: string;

  constructor(markup: string) {
    if (typeof markup !== 'string') {
      throw new ChorusError('CHORUS_ERR_REPLY_INVALID', `MessageML markup must be a string, got ${typeof markup}`);
    }
    this.markup = markup;
    Object.freeze(this);
  }

  /** The markup, so a fragment prints as itself in logs and tests. */
  toString(): string {
    return this.markup;
  }
}

/**
 * True when `value` is a {@link MessageML} fragment.
 *
 * @example
 * isMessageML(ml`<b>hi</b>`); // true
 */
export function isMessageML(value: unknown): value is MessageML {
  return value instanceof MessageML;
}

// Characters XML 1.0 forbids (production Char): C0 controls but tab, LF, CR; lone surrogates (in a /u regex a
// surrogate class matches only unpaired halves); U+FFFE and U+FFFF.
// eslint-disable-next-line no-control-regex -- matching control characters is the point here
const XML_INVALID = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF\uD800-\uDFFF]/gu;
// `$`, `#` and `{` are escaped wherever they appear, not only in `${`/`#{`: an escaped value can then never form
// a Freemarker interpolation with the trusted markup around it (`ml\`$${'{x}'}\``, `ml\`${'$'}{x}\``).
const SPECIAL = /[&<>"'$#{\r]/g;
const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  $: '&#36;',
  '#': '&#35;',
  '{': '&#123;',
  // XML parsers turn a raw CR into LF (XML 1.0 §2.11); a character reference keeps it.
  '\r': '&#13;',
};
const LINE_BREAK = /\r\n|\r|\n/g;

function removeXmlInvalid(text: string): string {
  return text.replace(XML_INVALID, '');
}

function escapeEntity(char: string): string {
  return ENTITIES[char] ?? char;
}

/**
 * Escapes text for MessageML text content or a quoted attribute value: `&`, `<`, `>`, `"`, `'` become XML
 * entities; `$`, `#` and `{` become character references (`&#36;`, `&#35;`, `&#123;`) so the agent's Freemarker
 * pass sees no `${…}` or `#{…}` (reference §3.1); CR becomes `&#13;` so XML line-end handling keeps it.
 * Characters XML 1.0 does not allow are removed: C0 controls other than tab, LF and CR, lone surrogates,
 * U+FFFE and U+FFFF.
 *
 * @example
 * escapeMessageML('Eve <script> & ${x}'); // 'Eve &lt;script&gt; &amp; &#36;&#123;x}'
 */
export function escapeMessageML(text: string): string {
  return removeXmlInvalid(text).replace(SPECIAL, escapeEntity);
}

/** A value `ml` can interpolate: escaped text, a trusted fragment, or an array of either, element by element. */
export type MessageMLValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | MessageML
  | readonly MessageMLValue[];

function interpolate(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof MessageML) return value.markup;
  switch (typeof value) {
    case 'string':
      return escapeMessageML(value);
    case 'number':
    case 'bigint':
    case 'boolean':
      return escapeMessageML(String(value));
    default:
      if (Array.isArray(value)) return value.map(interpolate).join('');
      throw new ChorusError(
        'CHORUS_ERR_REPLY_INVALID',
        `ml\`…\` cannot interpolate a ${typeof value}: use text, a number, a MessageML fragment or an array of them`,
      );
  }
}

/**
 * Builds a MessageML fragment: the template's literal parts are trusted markup; each interpolated value is
 * escaped ({@link escapeMessageML}) when it is a string, number, bigint or boolean, left out when null or
 * undefined, inserted as is when it is a {@link MessageML} fragment, and taken element by element when it is an
 * array (nested arrays too).
 *
 * @throws ChorusError CHORUS_ERR_REPLY_INVALID when a value is of another type (an object, function or symbol).
 * @example
 * const rows = tickers.map((t) => ml`<li>${cashtag(t)} ${prices[t]}</li>`);
 * await ctx.reply(ml`<b>Hi ${user.displayName}</b><ul>${rows}</ul>`);
 */
export function ml(strings: TemplateStringsArray, ...values: readonly MessageMLValue[]): MessageML {
  let markup = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) markup += interpolate(values[i]) + (strings[i + 1] ?? '');
  return new MessageML(markup);
}

/**
 * Turns plain text into a MessageML fragment: characters XML does not allow are removed, the rest is escaped
 * ({@link escapeMessageML}), and each line break (`\r\n`, `\n` or `\r`) becomes `<br/>`.
 *
 * @example
 * textToMessageML('1 < 2\nok').markup; // '1 &lt; 2<br/>ok'
 */
export function textToMessageML(text: string): MessageML {
  const escaped = escapeMessageML(removeXmlInvalid(text).replace(LINE_BREAK, '\n'));
  return new MessageML(escaped.replaceAll('\n', '<br/>'));
}

// A whole `<messageML …>…</messageML>` document, with optional surrounding whitespace.
const WRAPPED = /^\s*<messageML[\s>][\s\S]*<\/messageML>\s*$/;

/**
 * Turns reply content into the full message body for `message/create`: a string is plain text
 * ({@link textToMessageML}), a fragment is trusted markup; either is wrapped in `<messageML>…</messageML>` unless
 * the fragment already is a whole `<messageML>` document (as BDK Java `Message` wraps when missing,
 * reference §3.2).
 *
 * @throws ChorusError CHORUS_ERR_REPLY_INVALID when `content` is neither a string nor a MessageML fragment
 *   (JS callers).
 * @example
 * toMessageML('Eve <script>'); // '<messageML>Eve &lt;script&gt;</messageML>'
 * toMessageML(ml`<b>${n}</b> items`); // '<messageML><b>3</b> items</messageML>'
 */
export function toMessageML(content: string | MessageML): string {
  let markup: string;
  if (typeof content === 'string') markup = textToMessageML(content).markup;
  else if (content instanceof MessageML) markup = content.markup;
  else {
    const got = content === null ? 'null' : typeof content;
    throw new ChorusError('CHORUS_ERR_REPLY_INVALID', `a reply must be a string or MessageML, got ${got}`);
  }
  return WRAPPED.test(markup) ? markup : `<messageML>${markup}</messageML>`;
}

// Attribute values are also normalised by XML parsers (tab and LF become spaces, XML 1.0 §3.3.3).
function escapeAttribute(value: string): string {
  return escapeMessageML(value).replaceAll('\t', '&#9;').replaceAll('\n', '&#10;');
}

/**
 * An @mention of a user by id: `<mention uid="…"/>` (reference §3.2), rendered by the agent as `@Display Name`.
 *
 * @example
 * ml`Thanks ${mention(ctx.user.userId)}`;
 */
export function mention(userId: string | number): MessageML {
  return new MessageML(`<mention uid="${escapeAttribute(String(userId))}"/>`);
}

/**
 * A hashtag: `<hash tag="…"/>` (reference §3.2). A leading `#` is dropped, so a Tag's `text` or `value` both work.
 *
 * @example
 * hashtag('rates'); // <hash tag="rates"/>
 */
export function hashtag(tag: string): MessageML {
  return new MessageML(`<hash tag="${escapeAttribute(tag.startsWith('#') ? tag.slice(1) : tag)}"/>`);
}

/**
 * A cashtag: `<cash tag="…"/>` (reference §3.2; deprecated by Symphony in favour of `<tag …/>`, still accepted).
 * A leading `$` is dropped, so a Tag's `text` or `value` both work.
 *
 * @example
 * cashtag('AAPL'); // <cash tag="AAPL"/>
 */
export function cashtag(ticker: string): MessageML {
  return new MessageML(`<cash tag="${escapeAttribute(ticker.startsWith('$') ? ticker.slice(1) : ticker)}"/>`);
}
