import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import type { Token } from './event.ts';
import { parseEntityJSON, parsePresentationML } from './presentation-ml.ts';

const ROOT = '<div data-format="PresentationML" data-version="2.0">';
const pml = (body: string): string => `${ROOT}${body}</div>`;
const span = (id: string, text: string): string => `<span class="entity" data-entity-id="${id}">${text}</span>`;

const mention = (value: string | number) => ({
  type: 'com.symphony.user.mention',
  version: '1.0',
  id: [{ type: 'com.symphony.user.userId', value }],
});
const hashtag = (value: string) => ({
  type: 'org.symphonyoss.taxonomy',
  version: '1.0',
  id: [{ type: 'org.symphonyoss.taxonomy.hashtag', value }],
});
const cashtag = (value: string) => ({
  type: 'org.symphonyoss.fin.security',
  version: '1.0',
  id: [{ type: 'org.symphonyoss.fin.security.id.ticker', value }],
});
const emoji = {
  type: 'com.symphony.emoji',
  version: '1.0',
  data: { annotation: 'grinning', family: '', size: 'normal', unicode: '😀' },
};

const words = (...texts: string[]): Token[] => texts.map((text) => ({ kind: 'word', text }));

describe('parseEntityJSON', () => {
  it('parses the JSON string of `data`', () => {
    expect(parseEntityJSON('{"0":{"type":"com.symphony.emoji"}}')).toEqual({ '0': { type: 'com.symphony.emoji' } });
  });

  it('reads null, undefined and blank data as {}', () => {
    expect(parseEntityJSON(null)).toEqual({});
    expect(parseEntityJSON(undefined)).toEqual({});
    expect(parseEntityJSON('  \n')).toEqual({});
  });

  it.each(['{not json', '[]', '42', 'null', '"text"'])('rejects %s with CHORUS_ERR_EVENT_INVALID and a cause', (data) => {
    let thrown: unknown;
    try {
      parseEntityJSON(data);
    } catch (err) {
      thrown = err;
    }
    expect(isChorusError(thrown, 'CHORUS_ERR_EVENT_INVALID')).toBe(true);
    expect((thrown as Error).cause).toBeInstanceOf(Error);
  });
});

describe('parsePresentationML', () => {
  it('makes one mention token of a mention span with a string user id', () => {
    const result = parsePresentationML(pml(`${span('0', '@Jane Doe')} hello`), { '0': mention('13056700580915') });
    expect(result).toEqual({
      text: '@Jane Doe hello',
      tokens: [
        { kind: 'mention', text: '@Jane Doe', userId: '13056700580915', displayName: 'Jane Doe' },
        { kind: 'word', text: 'hello' },
      ],
    });
  });

  it('turns a numeric user id into a string', () => {
    const { tokens } = parsePresentationML(pml(span('mention1', '@Bot')), { mention1: mention(7078106482890) });
    expect(tokens).toEqual([{ kind: 'mention', text: '@Bot', userId: '7078106482890', displayName: 'Bot' }]);
  });

  it('makes hashtag and cashtag tokens with the value from EntityJSON', () => {
    const { text, tokens } = parsePresentationML(pml(`buy ${span('1', '#bot')} ${span('2', '$AAPL')} now`), {
      '1': hashtag('bot'),
      '2': cashtag('AAPL'),
    });
    expect(text).toBe('buy #bot $AAPL now');
    expect(tokens).toEqual([
      { kind: 'word', text: 'buy' },
      { kind: 'hashtag', text: '#bot', value: 'bot' },
      { kind: 'cashtag', text: '$AAPL', value: 'AAPL' },
      { kind: 'word', text: 'now' },
    ]);
  });

  it('reads an emoji entity as text', () => {
    const { text, tokens } = parsePresentationML(pml(`hi ${span('3', '😀')}!`), { '3': emoji });
    expect(text).toBe('hi 😀!');
    expect(tokens).toEqual(words('hi', '😀!'));
  });

  it('reads typed @names, #tags and $tickers without entity spans as words', () => {
    const { tokens } = parsePresentationML(pml('@Chorus Bot #bot $AAPL'), { '0': mention('1') });
    expect(tokens).toEqual(words('@Chorus', 'Bot', '#bot', '$AAPL'));
  });

  it('reads spans that are not entities, or whose key is missing, as text', () => {
    const { tokens } = parsePresentationML(
      pml(`<span class="other" data-entity-id="0">@A</span> ${span('9', '@B')} <span data-entity-id="0">@C</span>`),
      { '0': mention('1') },
    );
    expect(tokens).toEqual(words('@A', '@B', '@C'));
  });

  it('does not resolve an entity id against Object.prototype', () => {
    const { tokens } = parsePresentationML(pml(span('constructor', '@x')), {});
    expect(tokens).toEqual(words('@x'));
  });

  it('accepts entity among several classes', () => {
    const { tokens } = parsePresentationML(pml('<span class="mention entity" data-entity-id="0">@A</span>'), {
      '0': mention(5),
    });
    expect(tokens).toEqual([{ kind: 'mention', text: '@A', userId: '5', displayName: 'A' }]);
  });

  it('reads a security without a ticker id (isin only) and a mention without a user id as text', () => {
    const isinOnly = {
      type: 'org.symphonyoss.fin.security',
      version: '0.1',
      id: [{ type: 'org.symphonyoss.fin.security.id.isin', value: 'US0378331005' }],
    };
    const noUserId = { type: 'com.symphony.user.mention', id: [{ type: 'other', value: '1' }] };
    const { tokens } = parsePresentationML(pml(`${span('123', '$AAPL')} ${span('4', '@Nobody')}`), {
      '123': isinOnly,
      '4': noUserId,
    });
    expect(tokens).toEqual(words('$AAPL', '@Nobody'));
  });

  it('keeps the whole text of an entity whose display name has spaces and markup', () => {
    const { tokens } = parsePresentationML(pml(span('0', '@Jane  <b>van</b>\n der Berg')), { '0': mention('9') });
    expect(tokens).toEqual([{ kind: 'mention', text: '@Jane van der Berg', userId: '9', displayName: 'Jane van der Berg' }]);
  });

  it('decodes HTML entities', () => {
    const { text, tokens } = parsePresentationML(pml('a &lt;b&gt; &amp; &#36;5 &quot;q&quot; &#x41;'), {});
    expect(text).toBe('a <b> & $5 "q" A');
    expect(tokens).toEqual(words('a', '<b>', '&', '$5', '"q"', 'A'));
  });

  it('reads client (wysiwyg) messages with <p> wrappers as lines', () => {
    const message =
      '<div data-format="PresentationML" data-version="2.0" class="wysiwyg"><p>/help</p><p>  me   <b>now</b></p></div>';
    expect(parsePresentationML(message, {})).toEqual({ text: '/help\nme now', tokens: words('/help', 'me', 'now') });
  });

  it('turns <br/> and block elements into line breaks and keeps inline elements inline', () => {
    const message = pml(
      'one<br/>two<br/><br/>th<i>r</i>ee<ul><li>a</li><li><a href="x">b</a></li></ul><table><tr><td>1</td><td>2</td></tr></table><h1>T</h1>',
    );
    const { text, tokens } = parsePresentationML(message, {});
    expect(text).toBe('one\ntwo\n\nthree\na\nb\n1 2\nT');
    expect(tokens).toEqual(words('one', 'two', 'three', 'a', 'b', '1', '2', 'T'));
  });

  it('separates words at entity boundaries but keeps the text adjacent', () => {
    const { text, tokens } = parsePresentationML(pml(`hey${span('0', '@Al')}there`), { '0': mention('3') });
    expect(text).toBe('hey@Althere');
    expect(tokens).toEqual([
      { kind: 'word', text: 'hey' },
      { kind: 'mention', text: '@Al', userId: '3', displayName: 'Al' },
      { kind: 'word', text: 'there' },
    ]);
  });

  it('reads a card, code and nested markup', () => {
    const message = pml(
      '<div class="card barStyle"><div class="cardHeader">Title</div><div class="cardBody"><code>x = 1</code></div></div>',
    );
    expect(parsePresentationML(message, {})).toEqual({ text: 'Title\nx = 1', tokens: words('Title', 'x', '=', '1') });
  });

  it('drops leading and trailing blank lines', () => {
    expect(parsePresentationML(pml('<br/><br/><p> </p>hi<br/><br/>'), {}).text).toBe('hi');
  });

  it('parses malformed markup leniently', () => {
    // An unterminated tag at the end (`<z`) is dropped, as HTML parsing does.
    expect(parsePresentationML('<div><p>a<b>b</div>c</p> << x & y <z', {})).toEqual({
      text: 'ab\nc\n<< x & y',
      tokens: words('ab', 'c', '<<', 'x', '&', 'y'),
    });
    expect(parsePresentationML('', {})).toEqual({ text: '', tokens: [] });
  });

  it('keeps no state from one call to the next', () => {
    parsePresentationML(`${ROOT}<span class="entity" data-entity-id="0">@unclosed`, { '0': mention('1') });
    expect(parsePresentationML(pml('plain'), {})).toEqual({ text: 'plain', tokens: words('plain') });
  });
});

describe('parsePresentationML properties', () => {
  it('never throws on any string', () => {
    const entityJSON = { '0': mention('1'), '1': hashtag('x'), '2': cashtag('y'), '3': emoji };
    const markup = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc
        .array(
          fc.constantFrom('<', '>', '/', '&', ';', '"', "'", '=', ' ', 'span', 'class="entity"', 'data-entity-id="0"',
            'data-entity-id="1"', 'data-entity-id="2"', 'data-entity-id="3"', 'div', 'p', 'br', '#', 'amp', 'x', '\n'),
        )
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(markup, (input) => {
        const { text, tokens } = parsePresentationML(input, entityJSON);
        expect(typeof text).toBe('string');
        for (const token of tokens) expect(token.text).not.toMatch(token.kind === 'word' ? /\s|^$/ : /^\s|\s$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('returns exactly the words and entities a message was built from', () => {
    const escape = (text: string): string =>
      text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
    const word = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((w) => !/\s/.test(w));
    const name = fc.array(word, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(' '));
    const userId = fc.oneof(fc.maxSafeNat(), fc.stringMatching(/^\d{1,19}$/));
    type Item =
      | { kind: 'word'; text: string }
      | { kind: 'mention'; name: string; userId: number | string }
      | { kind: 'hashtag' | 'cashtag'; value: string };
    const item: fc.Arbitrary<Item> = fc.oneof(
      { weight: 3, arbitrary: word.map((text) => ({ kind: 'word' as const, text })) },
      fc.record({ kind: fc.constant('mention' as const), name, userId }),
      fc.record({ kind: fc.constantFrom('hashtag' as const, 'cashtag' as const), value: word }),
    );
    const separator = fc.constantFrom(' ', '  ', '\n', '&nbsp;', '<br/>', '</p><p>', ' <b></b> ');
    const input = fc.record({
      items: fc.array(fc.record({ item, separator, key: fc.string({ maxLength: 8 }) }), { maxLength: 20 }),
      wysiwyg: fc.boolean(),
    });

    fc.assert(
      fc.property(input, ({ items, wysiwyg }) => {
        const entityJSON: Record<string, unknown> = {};
        const expected: Token[] = [];
        let body = '';
        items.forEach(({ item: it, separator: sep, key: randomKey }, index) => {
          if (it.kind === 'word') {
            body += escape(it.text);
            expected.push(it);
          } else {
            const key = `${randomKey}${index}`;
            const text = it.kind === 'mention' ? `@${it.name}` : `${it.kind === 'hashtag' ? '#' : '$'}${it.value}`;
            body += `<span class="entity" data-entity-id="${escape(key)}">${escape(text)}</span>`;
            if (it.kind === 'mention') {
              entityJSON[key] = mention(it.userId);
              expected.push({ kind: 'mention', text, userId: String(it.userId), displayName: it.name });
            } else {
              entityJSON[key] = it.kind === 'hashtag' ? hashtag(it.value) : cashtag(it.value);
              expected.push({ kind: it.kind, text, value: it.value });
            }
          }
          body += sep;
        });
        const message = wysiwyg
          ? `<div data-format="PresentationML" data-version="2.0" class="wysiwyg"><p>${body}</p></div>`
          : pml(body);
        expect(parsePresentationML(message, entityJSON).tokens).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });
});
