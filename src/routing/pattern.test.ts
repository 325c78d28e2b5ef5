import { describe, expect, expectTypeOf, it } from 'vitest';
import { ChorusError } from '../errors.ts';
import type { Mention, Tag, Token } from '../events/event.ts';
import { compilePattern, matchPattern } from './pattern.ts';
import type { PatternArgs, PatternValue } from './pattern.ts';

const word = (text: string): Token => ({ kind: 'word', text });
const mention = (userId: string, displayName: string): Token => ({
  kind: 'mention',
  text: `@${displayName}`,
  userId,
  displayName,
});
const hashtag = (value: string): Token => ({ kind: 'hashtag', text: `#${value}`, value });
const cashtag = (value: string): Token => ({ kind: 'cashtag', text: `$${value}`, value });

function compileError(source: string): ChorusError {
  try {
    compilePattern(source);
  } catch (err) {
    if (err instanceof ChorusError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be rejected`);
}

describe('compilePattern', () => {
  it('splits the BDK example into the command word and typed arguments', () => {
    expect(compilePattern('/buy {quantity} {$ticker}')).toEqual({
      source: '/buy {quantity} {$ticker}',
      name: '/buy',
      tokens: [
        { kind: 'word', name: 'quantity' },
        { kind: 'cashtag', name: 'ticker' },
      ],
      hasRest: false,
    });
  });

  it('reads every token form and a trailing rest argument', () => {
    const pattern = compilePattern('/assign to {@who} {#topic} {$ticker} {x} {...note}');
    expect(pattern.tokens).toEqual([
      { kind: 'literal', text: 'to' },
      { kind: 'mention', name: 'who' },
      { kind: 'hashtag', name: 'topic' },
      { kind: 'cashtag', name: 'ticker' },
      { kind: 'word', name: 'x' },
      { kind: 'rest', name: 'note' },
    ]);
    expect(pattern.hasRest).toBe(true);
  });

  it('trims and splits on runs of any whitespace', () => {
    const pattern = compilePattern('  /say\t\n {a}   b \u00a0{...c}\n');
    expect(pattern.name).toBe('/say');
    expect(pattern.tokens).toEqual([
      { kind: 'word', name: 'a' },
      { kind: 'literal', text: 'b' },
      { kind: 'rest', name: 'c' },
    ]);
  });

  it('accepts a command word alone and names with $ and _ after the sigil', () => {
    expect(compilePattern('/help')).toMatchObject({ name: '/help', tokens: [], hasRest: false });
    expect(compilePattern('/x {_a$1} {$$b} {@_} {...$c}').tokens).toEqual([
      { kind: 'word', name: '_a$1' },
      { kind: 'cashtag', name: '$b' },
      { kind: 'mention', name: '_' },
      { kind: 'rest', name: '$c' },
    ]);
  });

  it('returns a frozen pattern', () => {
    const pattern = compilePattern('/buy {q}');
    expect(Object.isFrozen(pattern)).toBe(true);
    expect(Object.isFrozen(pattern.tokens)).toBe(true);
    expect(Object.isFrozen(pattern.tokens[0])).toBe(true);
  });

  it.each([
    ['', 'is empty'],
    ['   \t ', 'is empty'],
    ['{cmd} x', 'first token must be a command word'],
    ['{@bot} /buy', 'first token must be a command word'],
    ['/x {}', 'has no name'],
    ['/x {@}', 'has no name'],
    ['/x {$}', 'has no name'],
    ['/x {...}', 'has no name'],
    ['/x {1x}', 'the name "1x"'],
    ['/x {a-b}', 'the name "a-b"'],
    ['/x {...@x}', 'the name "@x"'],
    ['/x {@@x}', 'the name "@x"'],
    ['/x {a', 'stray brace'],
    ['/x a}', 'stray brace'],
    ['/x a{b}', 'stray brace'],
    ['/x {a}b', 'stray brace'],
    ['/x {a}}', 'stray brace'],
    ['/x {{a}', 'the name "{a"'],
    ['/x{', 'stray brace'],
    ['/x {...a} b', 'must be the last token'],
    ['/x {...a} {...b}', 'must be the last token'],
    ['/x {a} {@a}', 'is used twice'],
    ['/x {__proto__}', 'reserved name __proto__'],
  ])('rejects %j (%s)', (source, what) => {
    const err = compileError(source);
    expect(err.code).toBe('CHORUS_ERR_PATTERN_INVALID');
    expect(err.message).toContain(JSON.stringify(source));
    expect(err.message).toContain(what);
  });
});

describe('matchPattern', () => {
  const buy = compilePattern('/buy {quantity} {$ticker}');

  it('matches the BDK example and returns plain values', () => {
    const args = matchPattern(buy, [word('100'), cashtag('AAPL')]);
    expect(args).toStrictEqual({ quantity: '100', ticker: { text: '$AAPL', value: 'AAPL' } });
  });

  it('does not take a typed $AAPL word for a cashtag', () => {
    expect(matchPattern(buy, [word('100'), word('$AAPL')])).toBeUndefined();
  });

  it('requires the same token count without a rest argument', () => {
    expect(matchPattern(buy, [word('100')])).toBeUndefined();
    expect(matchPattern(buy, [word('100'), cashtag('AAPL'), word('now')])).toBeUndefined();
    expect(matchPattern(compilePattern('/help'), [])).toStrictEqual({});
    expect(matchPattern(compilePattern('/help'), [word('me')])).toBeUndefined();
  });

  it('matches literals by exact, case-sensitive text and only against words', () => {
    const pattern = compilePattern('/room add {@who}');
    const who = mention('42', 'Jane Doe');
    expect(matchPattern(pattern, [word('add'), who])).toStrictEqual({
      who: { text: '@Jane Doe', userId: '42', displayName: 'Jane Doe' },
    });
    expect(matchPattern(pattern, [word('Add'), who])).toBeUndefined();
    expect(matchPattern(pattern, [hashtag('add'), who])).toBeUndefined();
    expect(matchPattern(pattern, [word('add'), word('@Jane')])).toBeUndefined();
  });

  it('gives hashtag arguments only hashtag tokens', () => {
    const pattern = compilePattern('/tag {#topic}');
    expect(matchPattern(pattern, [hashtag('rates')])).toStrictEqual({ topic: { text: '#rates', value: 'rates' } });
    expect(matchPattern(pattern, [cashtag('rates')])).toBeUndefined();
    expect(matchPattern(pattern, [word('#rates')])).toBeUndefined();
  });

  it('gives word arguments only word tokens', () => {
    const pattern = compilePattern('/echo {x}');
    expect(matchPattern(pattern, [word('hi')])).toStrictEqual({ x: 'hi' });
    expect(matchPattern(pattern, [mention('1', 'A')])).toBeUndefined();
  });

  it('joins the rest of any kinds with single spaces and needs at least one token for it', () => {
    const pattern = compilePattern('/say {@to} {...text}');
    const to = mention('7', 'Bob');
    const args = matchPattern(pattern, [to, word('hello'), hashtag('news'), mention('8', 'Al'), cashtag('X')]);
    expect(args).toStrictEqual({
      to: { text: '@Bob', userId: '7', displayName: 'Bob' },
      text: 'hello #news @Al $X',
    });
    expect(matchPattern(pattern, [to, word('hi')])).toStrictEqual({ to: args?.['to'], text: 'hi' });
    expect(matchPattern(pattern, [to])).toBeUndefined();
    expect(matchPattern(pattern, [word('to'), word('hi')])).toBeUndefined();
  });

  it('copies entity fields without kind or extra fields', () => {
    const token = { kind: 'mention', text: '@Eve', userId: '9', displayName: 'Eve', extra: true } as const;
    const args = matchPattern(compilePattern('/x {@m}'), [token]);
    expect(Object.keys(args?.['m'] ?? {}).sort()).toEqual(['displayName', 'text', 'userId']);
  });
});

describe('PatternArgs', () => {
  it('infers argument types from the pattern string', () => {
    expectTypeOf<PatternArgs<'/buy {quantity} {$ticker}'>>().toEqualTypeOf<{ quantity: string; ticker: Tag }>();
    expectTypeOf<PatternArgs<'/assign {@who} to {#topic} {...note}'>>().toEqualTypeOf<{
      who: Mention;
      topic: Tag;
      note: string;
    }>();
    expectTypeOf<PatternArgs<'/help'>>().toEqualTypeOf<Record<never, never>>();
    expectTypeOf<PatternArgs<'/room add member'>>().toEqualTypeOf<Record<never, never>>();
    expectTypeOf<PatternArgs<string>>().toEqualTypeOf<Record<string, PatternValue>>();
    expectTypeOf<PatternArgs<'/buy {quantity} {$ticker}'>>().not.toHaveProperty('buy');
    // The runtime values have the inferred shape (the router casts the same way).
    const args = matchPattern(compilePattern('/buy {quantity} {$ticker}'), [word('1'), cashtag('A')]) as
      | PatternArgs<'/buy {quantity} {$ticker}'>
      | undefined;
    expect(args?.ticker.value).toBe('A');
    expect(args?.quantity).toBe('1');
  });
});
