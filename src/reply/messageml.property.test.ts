import fc from 'fast-check';
import { Parser } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { escapeMessageML, ml, toMessageML } from './messageml.ts';

type Parsed = {
  /** Element names in document order, with their depth (0 = root). */
  readonly elements: { name: string; depth: number; empty: boolean }[];
  /** Text outside any element. */
  outside: string;
  /** Text inside the root, each `<br>` read as "\n". */
  text: string;
  /** Anything but elements and text: comments, CDATA, processing instructions, implied closing tags. */
  readonly other: string[];
};

function parse(xml: string): Parsed {
  const parsed: Parsed = { elements: [], outside: '', text: '', other: [] };
  let depth = 0;
  // htmlparser2 reports a self-closing tag's end as implied; any other implied end is an unclosed tag.
  let justOpened: string | undefined;
  const parser = new Parser(
    {
      onopentag(name) {
        parsed.elements.push({ name, depth, empty: true });
        const parent = parsed.elements.findLast((element) => element.depth === depth - 1);
        if (parent !== undefined) parent.empty = false;
        if (name === 'br') parsed.text += '\n';
        depth++;
        justOpened = name;
      },
      onclosetag(name, isImplied) {
        if (isImplied && justOpened !== name) parsed.other.push(`implied </${name}>`);
        justOpened = undefined;
        depth--;
      },
      ontext(data) {
        justOpened = undefined;
        if (depth === 0) parsed.outside += data;
        else parsed.text += data;
        const parent = parsed.elements.findLast((element) => element.depth === depth - 1);
        if (parent !== undefined && depth > 0) parent.empty = false;
      },
      oncomment(data) {
        parsed.other.push(`comment ${data}`);
      },
      oncdatastart() {
        parsed.other.push('cdata');
      },
      onprocessinginstruction(name) {
        parsed.other.push(`instruction ${name}`);
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  parser.end(xml);
  return parsed;
}

/** The code points XML 1.0 allows (production Char), decided code point by code point. */
function xmlChars(text: string): string {
  let out = '';
  for (const char of text) {
    const c = char.codePointAt(0) ?? 0;
    const allowed =
      c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
    if (allowed) out += char;
  }
  return out;
}

const tricky = fc.constantFrom(
  '<', '>', '&', '"', "'", '$', '{', '}', '#', '${', '#{', '\r', '\n', '\r\n', '\t', ' ', 'a', 'é',
  '\u0000', '\u0008', '\u001F', '\uD800', '\uDC00', '\uD83D\uDE00', '\uFFFE', '\uFFFF',
  '&amp;', '&#36;', ']]>', '<!--', '<![CDATA[', '<?xml', '</messageML>', '<br/>', '<#if x>',
);
const textArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: tricky, maxLength: 40 }),
);

const FREEMARKER = /[$#]\{/;

describe('MessageML escaping (properties)', () => {
  it('toMessageML(text) parses to one messageML root holding the text, line breaks as <br/>', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const parsed = parse(toMessageML(text));
        expect(parsed.other).toEqual([]);
        expect(parsed.outside).toBe('');
        expect(parsed.elements[0]).toMatchObject({ name: 'messageML', depth: 0 });
        expect(parsed.elements.filter((element) => element.depth === 0)).toHaveLength(1);
        for (const element of parsed.elements.slice(1)) expect(element).toEqual({ name: 'br', depth: 1, empty: true });
        expect(parsed.text).toBe(xmlChars(text).replace(/\r\n|\r/g, '\n'));
      }),
      { numRuns: 500 },
    );
  });

  it('ml`<b>${text}</b>` parses to a single b element holding exactly the text', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const parsed = parse(toMessageML(ml`<b>${text}</b>`));
        expect(parsed.other).toEqual([]);
        expect(parsed.outside).toBe('');
        expect(parsed.elements.map((element) => element.name)).toEqual(['messageML', 'b']);
        expect(parsed.text).toBe(xmlChars(text));
      }),
      { numRuns: 500 },
    );
  });

  it('never lets escaped text form a Freemarker interpolation, alone or next to trusted $, # or {', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        expect(toMessageML(text)).not.toMatch(FREEMARKER);
        expect(ml`$${text}`.markup).not.toMatch(FREEMARKER);
        expect(ml`#${text}`.markup).not.toMatch(FREEMARKER);
        expect(ml`${text}{`.markup).not.toMatch(FREEMARKER);
        expect(ml`${[text, text]}`.markup).not.toMatch(FREEMARKER);
      }),
      { numRuns: 500 },
    );
  });

  it('escapeMessageML output has no raw markup characters, CR or XML-invalid characters', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const escaped = escapeMessageML(text);
        expect(escaped).not.toMatch(/[<>"'\r]|&(?!(?:amp|lt|gt|quot|apos|#36|#35|#123|#13);)/);
        expect(xmlChars(escaped)).toBe(escaped);
      }),
      { numRuns: 500 },
    );
  });
});
