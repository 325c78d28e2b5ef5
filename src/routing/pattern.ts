/**
 * Slash-command patterns: the BDK grammar (`/buy {quantity} {$ticker}`, BDK Java `SlashCommandPattern`,
 * reference §4.4) plus a trailing rest argument (`/say {...text}`). A pattern is compiled once, at registration,
 * and matched against the tokens of each message.
 */
import { ChorusError } from '../errors.ts';
import type { Mention, Tag, Token } from '../events/event.ts';

/**
 * One token of a compiled pattern, after the command word: a literal word, or a named argument of a kind.
 * `word` takes a word token, `mention`/`hashtag`/`cashtag` an entity token of that kind, `rest` all remaining
 * tokens.
 */
export type PatternToken =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'word' | 'mention' | 'hashtag' | 'cashtag' | 'rest'; readonly name: string };

/** A pattern checked against the grammar by {@link compilePattern}. Frozen. */
export type CompiledPattern = {
  /** The pattern as given, e.g. `/buy {quantity} {$ticker}`. */
  readonly source: string;
  /** The first token, the command word, e.g. `/buy`: the router's index key, so lookup never scans all patterns. */
  readonly name: string;
  /** The tokens after the command word. */
  readonly tokens: readonly PatternToken[];
  /** True when the last token is a `{...name}` rest argument. */
  readonly hasRest: boolean;
};

/** An argument's value: a string for `{name}`/`{...name}`, a Mention for `{@name}`, a Tag for `{#name}`/`{$name}`. */
export type PatternValue = string | Mention | Tag;

// Java identifier characters, as BDK Java `SlashCommandPattern` (`[a-zA-Z_$][a-zA-Z_$0-9]*`).
const NAME = /^[a-zA-Z_$][a-zA-Z_$0-9]*$/;
const WHITESPACE = /\s+/;

/** The argument of one pattern token (one space-separated part), as an object type with one key or none. */
type TokenArgs<T extends string> = T extends `{...${infer N}}`
  ? { [K in N]: string }
  : T extends `{@${infer N}}`
    ? { [K in N]: Mention }
    : T extends `{#${infer N}}`
      ? { [K in N]: Tag }
      : T extends `{$${infer N}}`
        ? { [K in N]: Tag }
        : T extends `{${infer N}}`
          ? { [K in N]: string }
          : Record<never, never>;

type CollectArgs<P extends string, Acc> = P extends `${infer Head} ${infer Tail}`
  ? CollectArgs<Tail, Acc & TokenArgs<Head>>
  : Acc & TokenArgs<P>;

/**
 * The arguments of a pattern, computed from its source at type level: `{name}` and `{...name}` give `string`,
 * `{@name}` a {@link Mention}, `{#name}` and `{$name}` a {@link Tag}; literals give nothing. Splits on single
 * spaces (the runtime accepts any whitespace). For a non-literal `string`, every name maps to a
 * {@link PatternValue}. The grammar is checked at runtime only, by {@link compilePattern}.
 *
 * @example
 * type Buy = PatternArgs<'/buy {quantity} {$ticker}'>; // { quantity: string; ticker: Tag }
 */
export type PatternArgs<P extends string> = string extends P
  ? Record<string, PatternValue>
  : { [K in keyof CollectArgs<P, Record<never, never>>]: CollectArgs<P, Record<never, never>>[K] };

function invalid(source: string, what: string): ChorusError {
  return new ChorusError('CHORUS_ERR_PATTERN_INVALID', `slash-command pattern ${JSON.stringify(source)}: ${what}`);
}

function parseToken(raw: string, source: string): PatternToken {
  const open = raw.indexOf('{');
  const close = raw.indexOf('}');
  if (open === -1 && close === -1) return { kind: 'literal', text: raw };
  if (open !== 0 || close !== raw.length - 1) {
    throw invalid(
      source,
      `${JSON.stringify(raw)} has a stray brace; an argument is a whole token such as {name}, a literal has no braces`,
    );
  }
  const inner = raw.slice(1, -1);
  let kind: 'word' | 'mention' | 'hashtag' | 'cashtag' | 'rest';
  let name: string;
  if (inner.startsWith('...')) {
    kind = 'rest';
    name = inner.slice(3);
  } else {
    // A leading sigil always selects the kind, so `{$}` is an unnamed cashtag, not a word argument named `$`.
    const sigil = inner.charAt(0);
    kind = sigil === '@' ? 'mention' : sigil === '#' ? 'hashtag' : sigil === '$' ? 'cashtag' : 'word';
    name = kind === 'word' ? inner : inner.slice(1);
  }
  if (!NAME.test(name)) {
    const found = name === '' ? 'no name' : `the name ${JSON.stringify(name)}`;
    throw invalid(source, `argument ${raw} has ${found}; names match [a-zA-Z_$][a-zA-Z_$0-9]*`);
  }
  // Assigning `__proto__` on the result object would set its prototype instead of a property.
  if (name === '__proto__') throw invalid(source, `argument ${raw} uses the reserved name __proto__`);
  return { kind, name };
}

/**
 * Checks a slash-command pattern against the grammar and compiles it. The pattern is trimmed and split on runs
 * of whitespace. The first token is the command word, a literal. After it: `{name}` a word argument, `{@name}` a
 * mention, `{#name}` a hashtag, `{$name}` a cashtag, `{...name}` the rest of the message (last token only); any
 * other token without braces is a literal word. Names match `[a-zA-Z_$][a-zA-Z_$0-9]*` and are unique; a leading
 * `@`, `#` or `$` inside braces is always the sigil. Grammar: BDK Java `SlashCommandPattern` (reference §4.4),
 * where malformed arguments silently become literals; here they throw.
 *
 * @throws ChorusError CHORUS_ERR_PATTERN_INVALID when the pattern is empty, its first token is not a literal, a
 *   token has a stray brace or an invalid or missing name, a name repeats, a name is `__proto__`, or a rest
 *   argument is not last. The message quotes the pattern and says what is wrong.
 * @example
 * const buy = compilePattern('/buy {quantity} {$ticker}');
 * buy.name; // '/buy'
 * buy.tokens; // [{ kind: 'word', name: 'quantity' }, { kind: 'cashtag', name: 'ticker' }]
 */
export function compilePattern(source: string): CompiledPattern {
  const trimmed = source.trim();
  if (trimmed === '') throw invalid(source, 'is empty; it needs at least a command word such as /help');
  const [first = '', ...rest] = trimmed.split(WHITESPACE);
  const command = parseToken(first, source);
  if (command.kind !== 'literal') {
    throw invalid(source, `starts with the argument ${first}; the first token must be a command word such as /buy`);
  }
  const names = new Set<string>();
  const tokens = rest.map((raw, index): PatternToken => {
    const token = parseToken(raw, source);
    if (token.kind === 'literal') return Object.freeze(token);
    if (names.has(token.name)) throw invalid(source, `the argument name ${JSON.stringify(token.name)} is used twice`);
    names.add(token.name);
    if (token.kind === 'rest' && index !== rest.length - 1) {
      throw invalid(source, `the rest argument ${raw} must be the last token`);
    }
    return Object.freeze(token);
  });
  const last = tokens.at(-1);
  return Object.freeze({
    source,
    name: command.text,
    tokens: Object.freeze(tokens),
    hasRest: last !== undefined && last.kind === 'rest',
  });
}

function tokenMatches(expected: PatternToken, actual: Token): boolean {
  switch (expected.kind) {
    case 'literal':
      return actual.kind === 'word' && actual.text === expected.text;
    case 'word':
      return actual.kind === 'word';
    case 'mention':
    case 'hashtag':
    case 'cashtag':
      return actual.kind === expected.kind;
    case 'rest':
      return true;
  }
}

function valueOf(token: Token): PatternValue {
  switch (token.kind) {
    case 'word':
      return token.text;
    case 'mention':
      return { text: token.text, userId: token.userId, displayName: token.displayName };
    case 'hashtag':
    case 'cashtag':
      return { text: token.text, value: token.value };
  }
}

/**
 * Matches the tokens of a message, after the bot mention and the command word, against a compiled pattern.
 * Without a rest argument the token counts must be equal; with one, at least one token must be left for it.
 * A literal matches a word token of identical text (case-sensitive, as BDK); `{name}` a word token (its text);
 * `{@name}` a mention token (`{ text, userId, displayName }`); `{#name}` a hashtag and `{$name}` a cashtag token
 * (`{ text, value }`; a typed `$AAPL` is a word and does not match); `{...name}` the remaining tokens of any kind,
 * their texts joined by single spaces. Matching follows BDK Java `SlashCommandPattern` (reference §4.4).
 * Runs per message: a mismatch allocates nothing.
 *
 * @returns the argument values by name (plain objects, without `kind`), or undefined when the message does not match.
 * @example
 * matchPattern(compilePattern('/buy {quantity} {$ticker}'), [
 *   { kind: 'word', text: '100' },
 *   { kind: 'cashtag', text: '$AAPL', value: 'AAPL' },
 * ]); // { quantity: '100', ticker: { text: '$AAPL', value: 'AAPL' } }
 */
export function matchPattern(
  pattern: CompiledPattern,
  tokens: readonly Token[],
): Record<string, PatternValue> | undefined {
  const expected = pattern.tokens;
  const count = expected.length;
  if (pattern.hasRest ? tokens.length < count : tokens.length !== count) return undefined;
  const fixed = pattern.hasRest ? count - 1 : count;
  for (let i = 0; i < fixed; i++) {
    const want = expected[i];
    const got = tokens[i];
    if (want === undefined || got === undefined || !tokenMatches(want, got)) return undefined;
  }
  const args: Record<string, PatternValue> = {};
  for (let i = 0; i < fixed; i++) {
    const want = expected[i];
    const got = tokens[i];
    if (want !== undefined && got !== undefined && want.kind !== 'literal') args[want.name] = valueOf(got);
  }
  const rest = expected[fixed];
  if (rest !== undefined && rest.kind !== 'literal') {
    let text = '';
    for (let i = fixed; i < tokens.length; i++) {
      const token = tokens[i];
      if (token !== undefined) text = i === fixed ? token.text : `${text} ${token.text}`;
    }
    args[rest.name] = text;
  }
  return args;
}
