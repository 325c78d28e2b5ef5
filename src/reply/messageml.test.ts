import { describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import {
  cashtag,
  escapeMessageML,
  hashtag,
  isMessageML,
  mention,
  MessageML,
  ml,
  textToMessageML,
  toMessageML,
} from './messageml.ts';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('escapeMessageML', () => {
  it('escapes the five XML characters as entities', () => {
    expect(escapeMessageML(`a & b < c > d " e ' f`)).toBe('a &amp; b &lt; c &gt; d &quot; e &apos; f');
  });

  it('neutralises Freemarker interpolations', () => {
    expect(escapeMessageML('${user.password} #{x}')).toBe('&#36;&#123;user.password} &#35;&#123;x}');
    expect(escapeMessageML('costs $5, ticket #3')).toBe('costs &#36;5, ticket &#35;3');
  });

  it('removes characters XML 1.0 does not allow and keeps the rest', () => {
    expect(escapeMessageML('a\u0000b\u0008c\u000Bd\u000Ce\u001Ff\uFFFEg\uFFFFh')).toBe('abcdefgh');
    expect(escapeMessageML('lone \uD800 and \uDC00 halves')).toBe('lone  and  halves');
    expect(escapeMessageML('pair \uD83D\uDE00 tab\tline\n')).toBe('pair \uD83D\uDE00 tab\tline\n');
    expect(escapeMessageML('\u007F\u0085\uFFFD\u{10FFFF}')).toBe('\u007F\u0085\uFFFD\u{10FFFF}');
  });

  it('keeps a carriage return as a character reference', () => {
    expect(escapeMessageML('a\rb')).toBe('a&#13;b');
  });

  it('does not form an escape sequence from a removed character', () => {
    expect(escapeMessageML('$\u0000{x}')).toBe('&#36;&#123;x}');
  });
});

describe('textToMessageML and toMessageML', () => {
  const displayName = 'Eve <script>alert(1)</script> & "co"';

  it('sends a display name with markup as text', () => {
    expect(toMessageML(`Hi ${displayName}`)).toBe(
      '<messageML>Hi Eve &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;</messageML>',
    );
  });

  it('turns every kind of line break into <br/>', () => {
    expect(textToMessageML('a\r\nb\nc\rd\n\ne').markup).toBe('a<br/>b<br/>c<br/>d<br/><br/>e');
    expect(textToMessageML('a\r\u0000\nb').markup).toBe('a<br/>b');
  });

  it('wraps a fragment as is, and leaves a whole messageML document alone', () => {
    expect(toMessageML(ml`<b>x</b>`)).toBe('<messageML><b>x</b></messageML>');
    expect(toMessageML(new MessageML('<messageML><b>x</b></messageML>'))).toBe('<messageML><b>x</b></messageML>');
    expect(toMessageML(new MessageML('\n<messageML data-x="1">y</messageML>\n'))).toBe(
      '\n<messageML data-x="1">y</messageML>\n',
    );
    expect(toMessageML(new MessageML('<messageMLx/>'))).toBe('<messageML><messageMLx/></messageML>');
  });

  it('escapes a string that looks like a messageML document', () => {
    expect(toMessageML('<messageML>x</messageML>')).toBe('<messageML>&lt;messageML&gt;x&lt;/messageML&gt;</messageML>');
  });

  it.each([[42], [null], [undefined], [{ markup: '<b>forged</b>' }]])('rejects %j', (content) => {
    const err = thrown(() => toMessageML(content as unknown as string));
    expect(isChorusError(err, 'CHORUS_ERR_REPLY_INVALID')).toBe(true);
  });
});

describe('ml', () => {
  it('escapes interpolated text and keeps the literal parts', () => {
    const name = 'Eve <script>alert(1)</script> & "co"';
    expect(ml`<p class="x">Hi <b>${name}</b></p>`.markup).toBe(
      '<p class="x">Hi <b>Eve &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;</b></p>',
    );
  });

  it('formats numbers, bigints and booleans and leaves out null and undefined', () => {
    expect(ml`${1.5}|${-0}|${10n}|${true}|${false}|${null}|${undefined}|`.markup).toBe('1.5|0|10|true|false|||');
  });

  it('inserts fragments as they are, nested and in arrays', () => {
    const items = ['a<', 'b&'].map((x) => ml`<li>${x}</li>`);
    const inner = ml`<ul>${items}</ul>`;
    expect(ml`<div>${inner}${[ml`<br/>`, 'x>', [1, ml`<i>2</i>`], null]}</div>`.markup).toBe(
      '<div><ul><li>a&lt;</li><li>b&amp;</li></ul><br/>x&gt;1<i>2</i></div>',
    );
  });

  it('neutralises Freemarker across the boundary with trusted markup', () => {
    expect(ml`$${'{evil}'}`.markup).toBe('$&#123;evil}');
    expect(ml`${'a#'}{x}`.markup).toBe('a&#35;{x}');
    expect(ml`${'$'}${'{x}'}`.markup).toBe('&#36;&#123;x}');
  });

  it.each([[{}], [() => 1], [Symbol('s')], [new Date(0)]])('rejects an interpolated %s', (value) => {
    const err = thrown(() => ml`${value as unknown as string}`);
    expect(isChorusError(err, 'CHORUS_ERR_REPLY_INVALID')).toBe(true);
  });
});

describe('MessageML', () => {
  it('is a frozen fragment recognised by isMessageML', () => {
    const fragment = new MessageML('<b>x</b>');
    expect(Object.isFrozen(fragment)).toBe(true);
    expect(String(fragment)).toBe('<b>x</b>');
    expect(isMessageML(fragment)).toBe(true);
    expect(isMessageML({ markup: '<b>x</b>' })).toBe(false);
    expect(isMessageML('<b>x</b>')).toBe(false);
  });

  it('rejects markup that is not a string', () => {
    const err = thrown(() => new MessageML(1 as unknown as string));
    expect(isChorusError(err, 'CHORUS_ERR_REPLY_INVALID')).toBe(true);
  });
});

describe('entity helpers', () => {
  it('builds a mention from a string or number user id', () => {
    expect(mention('13056700580915').markup).toBe('<mention uid="13056700580915"/>');
    expect(mention(42).markup).toBe('<mention uid="42"/>');
  });

  it('escapes attribute values, including whitespace an XML parser would normalise', () => {
    expect(mention('1" onload="x').markup).toBe('<mention uid="1&quot; onload=&quot;x"/>');
    expect(hashtag('a<b>&\'\t\n').markup).toBe('<hash tag="a&lt;b&gt;&amp;&apos;&#9;&#10;"/>');
  });

  it('builds hashtags and cashtags from a value or a tag text', () => {
    expect(hashtag('rates').markup).toBe('<hash tag="rates"/>');
    expect(hashtag('#rates').markup).toBe('<hash tag="rates"/>');
    expect(cashtag('AAPL').markup).toBe('<cash tag="AAPL"/>');
    expect(cashtag('$AAPL').markup).toBe('<cash tag="AAPL"/>');
    expect(cashtag('${x}').markup).toBe('<cash tag="&#123;x}"/>');
  });

  it('composes with ml', () => {
    expect(toMessageML(ml`Bought ${cashtag('AAPL')} for ${mention(7)} ${hashtag('trade')}`)).toBe(
      '<messageML>Bought <cash tag="AAPL"/> for <mention uid="7"/> <hash tag="trade"/></messageML>',
    );
  });
});
