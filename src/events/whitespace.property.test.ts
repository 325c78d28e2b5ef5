import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collapseWhitespace, isWhitespace } from './whitespace.ts';

// Strings heavy in whitespace of every kind, runs of it, and other characters (a surrogate pair too).
const textArb = fc
  .array(fc.constantFrom(' ', '  ', '\t', '\n', '\r\n', '\u000b', '\u00a0', '\u1680', '\u2003', '\u2028', '\u3000', '\ufeff', '\u200b', '\u0085', 'a', 'b c', 'é', '\u{1F600}'), { maxLength: 12 })
  .map((parts) => parts.join(''));

describe('whitespace', () => {
  it('isWhitespace is the RegExp \\s, for every UTF-16 code unit', () => {
    for (let code = 0; code <= 0xffff; code++) {
      expect(isWhitespace(code), code.toString(16)).toBe(/\s/.test(String.fromCharCode(code)));
    }
  });

  it("property: collapseWhitespace is replace(/\\s+/g, ' ').trim()", () => {
    fc.assert(
      fc.property(fc.oneof(textArb, fc.string()), (text) => {
        expect(collapseWhitespace(text)).toBe(text.replace(/\s+/g, ' ').trim());
      }),
      { numRuns: 2_000 },
    );
  });
});
