import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import type { Token } from '../events/event.ts';
import { compilePattern, matchPattern } from './pattern.ts';
import type { PatternToken, PatternValue } from './pattern.ts';

type ArgKind = 'word' | 'mention' | 'hashtag' | 'cashtag';
type Part = { readonly kind: 'literal'; readonly text: string } | { readonly kind: ArgKind; readonly name: string };
type Spec = { readonly command: string; readonly parts: readonly Part[]; readonly rest: string | undefined };

const SIGIL: Record<ArgKind, string> = { word: '', mention: '@', hashtag: '#', cashtag: '$' };

// A literal is any run of characters without whitespace (as String.prototype.trim and /\s/ see it) or braces.
const literalArb = fc.oneof(
  fc.constantFrom('/buy', 'to', 'add', '@bot', '#x', '$X', '...', '/'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((s) => !/[\s{}]/.test(s)),
);
const nameArb = fc.stringMatching(/^[a-zA-Z_][a-zA-Z_$0-9]{0,7}$/).filter((name) => name !== '__proto__');
const separatorArb = fc.constantFrom(' ', '  ', '\t', '\n', ' \u00a0', '\r\n ');

const specArb: fc.Arbitrary<Spec> = fc
  .record({
    command: literalArb,
    kinds: fc.array(fc.constantFrom('literal', 'word', 'mention', 'hashtag', 'cashtag'), { maxLength: 6 }),
    literals: fc.array(literalArb, { minLength: 6, maxLength: 6 }),
    names: fc.uniqueArray(nameArb, { minLength: 7, maxLength: 7 }),
    hasRest: fc.boolean(),
  })
  .map(({ command, kinds, literals, names, hasRest }) => ({
    command,
    parts: kinds.map((kind, i): Part =>
      kind === 'literal' ? { kind, text: literals[i] ?? 'x' } : { kind, name: names[i] ?? `n${i}` },
    ),
    rest: hasRest ? (names[6] ?? 'rest') : undefined,
  }));

function sourceOf(spec: Spec, separators: readonly string[]): string {
  const raw = spec.parts.map((part) => (part.kind === 'literal' ? part.text : `{${SIGIL[part.kind]}${part.name}}`));
  if (spec.rest !== undefined) raw.push(`{...${spec.rest}}`);
  return [spec.command, ...raw].reduce((acc, token, i) => `${acc}${separators[i % separators.length] ?? ' '}${token}`);
}

function expectedTokens(spec: Spec): PatternToken[] {
  const tokens: PatternToken[] = spec.parts.map((part) => ({ ...part }));
  if (spec.rest !== undefined) tokens.push({ kind: 'rest', name: spec.rest });
  return tokens;
}

const textArb = fc.string({ unit: 'binary', maxLength: 10 });
const tokenOfKind: Record<Token['kind'], fc.Arbitrary<Token>> = {
  word: fc.string({ minLength: 1, maxLength: 10 }).map((text): Token => ({ kind: 'word', text })),
  mention: fc
    .record({ userId: fc.stringMatching(/^[1-9]\d{0,14}$/), displayName: textArb })
    .map(({ userId, displayName }): Token => ({ kind: 'mention', text: `@${displayName}`, userId, displayName })),
  hashtag: textArb.map((value): Token => ({ kind: 'hashtag', text: `#${value}`, value })),
  cashtag: textArb.map((value): Token => ({ kind: 'cashtag', text: `$${value}`, value })),
};
const anyTokenArb = fc.oneof(tokenOfKind.word, tokenOfKind.mention, tokenOfKind.hashtag, tokenOfKind.cashtag);

function valueOf(token: Token): PatternValue {
  if (token.kind === 'word') return token.text;
  if (token.kind === 'mention') return { text: token.text, userId: token.userId, displayName: token.displayName };
  return { text: token.text, value: token.value };
}

type Message = { readonly tokens: Token[]; readonly args: Record<string, PatternValue> };

/** A message matching `spec`, with the argument values the pattern must extract from it. */
function messageArb(spec: Spec): fc.Arbitrary<Message> {
  const fixed = spec.parts.map((part) =>
    part.kind === 'literal' ? fc.constant<Token>({ kind: 'word', text: part.text }) : tokenOfKind[part.kind],
  );
  const rest = spec.rest === undefined ? fc.constant([]) : fc.array(anyTokenArb, { minLength: 1, maxLength: 5 });
  return fc.tuple(fc.tuple(...fixed), rest).map(([fixedTokens, restTokens]) => {
    const args: Record<string, PatternValue> = {};
    spec.parts.forEach((part, i) => {
      const token = fixedTokens[i];
      if (part.kind !== 'literal' && token !== undefined) args[part.name] = valueOf(token);
    });
    if (spec.rest !== undefined) args[spec.rest] = restTokens.map((token) => token.text).join(' ');
    return { tokens: [...fixedTokens, ...restTokens], args };
  });
}

/** Whether `token` fits the pattern part, decided independently of the implementation. */
function fits(part: Part, token: Token): boolean {
  return part.kind === 'literal' ? token.kind === 'word' && token.text === part.text : token.kind === part.kind;
}

const caseArb = fc
  .tuple(specArb, fc.array(separatorArb, { minLength: 1, maxLength: 4 }))
  .chain(([spec, separators]) =>
    fc.record({
      spec: fc.constant(spec),
      source: fc.constant(sourceOf(spec, separators)),
      message: messageArb(spec),
      index: fc.nat(),
      other: anyTokenArb,
    }),
  );

const grammarChar = fc.constantFrom('{', '}', '@', '#', '$', '.', '...', ' ', '\t', 'a', 'Z', '_', '1', '/', '-');
const grammarPiece = fc.constantFrom('/x', '{a}', '{@a}', '{#b}', '{$c}', '{...r}', '{}', '{1}', '{a', 'b}', '{$}');

describe('compilePattern (properties)', () => {
  it('returns a pattern or throws CHORUS_ERR_PATTERN_INVALID for any string', () => {
    const anyPattern = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: grammarChar }),
      fc.array(grammarPiece, { maxLength: 5 }).map((pieces) => pieces.join(' ')),
    );
    fc.assert(
      fc.property(anyPattern, (source) => {
        let compiled;
        try {
          compiled = compilePattern(source);
        } catch (err) {
          expect(isChorusError(err, 'CHORUS_ERR_PATTERN_INVALID')).toBe(true);
          expect((err as Error).message).toContain(JSON.stringify(source));
          return;
        }
        const words = source.trim().split(/\s+/);
        expect(compiled.source).toBe(source);
        expect(compiled.name).toBe(words[0]);
        expect(compiled.tokens).toHaveLength(words.length - 1);
      }),
      { numRuns: 500 },
    );
  });

  it('compiles every generated valid pattern into its parts', () => {
    fc.assert(
      fc.property(caseArb, ({ spec, source }) => {
        const compiled = compilePattern(source);
        expect(compiled.name).toBe(spec.command);
        expect(compiled.tokens).toEqual(expectedTokens(spec));
        expect(compiled.hasRest).toBe(spec.rest !== undefined);
      }),
    );
  });
});

describe('matchPattern (properties)', () => {
  it('extracts exactly the generated values from a matching message', () => {
    fc.assert(
      fc.property(caseArb, ({ source, message }) => {
        expect(matchPattern(compilePattern(source), message.tokens)).toStrictEqual(message.args);
      }),
    );
  });

  it('rejects a message with one token more or one fewer when there is no rest argument', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), ({ spec, source, message, index, other }, remove) => {
        fc.pre(spec.rest === undefined);
        const tokens = [...message.tokens];
        if (remove && tokens.length > 0) tokens.splice(index % tokens.length, 1);
        else tokens.splice(index % (tokens.length + 1), 0, other);
        expect(matchPattern(compilePattern(source), tokens)).toBeUndefined();
      }),
    );
  });

  it('rejects a message without a token for the rest argument, and takes any number of them', () => {
    fc.assert(
      fc.property(caseArb, ({ spec, source, message, other }) => {
        fc.pre(spec.rest !== undefined);
        const pattern = compilePattern(source);
        expect(matchPattern(pattern, message.tokens.slice(0, spec.parts.length))).toBeUndefined();
        const longer = matchPattern(pattern, [...message.tokens, other]);
        const restTexts = [...message.tokens.slice(spec.parts.length), other].map((token) => token.text);
        expect(longer?.[spec.rest ?? '']).toBe(restTexts.join(' '));
      }),
    );
  });

  it('rejects a message where one token does not fit its part', () => {
    fc.assert(
      fc.property(caseArb, ({ spec, source, message, index, other }) => {
        fc.pre(spec.parts.length > 0);
        const at = index % spec.parts.length;
        const part = spec.parts[at];
        fc.pre(part !== undefined && !fits(part, other));
        const tokens = [...message.tokens];
        tokens[at] = other;
        expect(matchPattern(compilePattern(source), tokens)).toBeUndefined();
      }),
    );
  });
});
