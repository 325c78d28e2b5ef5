import fc from 'fast-check';
import { Parser } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { scanCanonicalPresentationML, type MarkupHandler } from './canonical-presentation-ml.ts';

type Call = readonly ['open', string, Record<string, string>] | readonly ['text', string] | readonly ['close', string];

/** Records handler calls; adjacent texts are joined (htmlparser2 may split a text run, which no handler sees). */
function recorder(): { readonly handler: MarkupHandler; readonly calls: Call[] } {
  const calls: Call[] = [];
  const handler: MarkupHandler = {
    onopentag: (name, attribs) => void calls.push(['open', name, { ...attribs }]),
    ontext: (data) => {
      const last = calls.at(-1);
      if (last?.[0] === 'text') calls[calls.length - 1] = ['text', last[1] + data];
      else calls.push(['text', data]);
    },
    onclosetag: (name) => void calls.push(['close', name]),
  };
  return { handler, calls };
}

/** The calls htmlparser2 makes, with the options presentation-ml.ts parses with. */
function htmlparser2Calls(markup: string): Call[] {
  const { handler, calls } = recorder();
  new Parser(handler, { decodeEntities: true, recognizeSelfClosing: true, lowerCaseAttributeNames: true }).parseComplete(markup);
  return calls;
}

function scannerCalls(markup: string): Call[] | null {
  const { handler, calls } = recorder();
  return scanCanonicalPresentationML(markup, handler) ? calls : null;
}

// Characters that matter to HTML and to words, and some that do not.
const char = fc.constantFrom(...'ab /@$#<>&"\'=;\n\t\r\u0000\u00a0\u2028é😀0'.split(''), '&amp;', '&lt;', '&#64;', '&nbsp;');
const anyText = fc.array(char, { maxLength: 12 }).map((chars) => chars.join(''));
const canonicalText = anyText.map((text) => text.replace(/[<&]/g, '')).filter((text) => text !== '');
const entityId = fc.array(fc.constantFrom(...'mention0123keyword <>/'.split('')), { maxLength: 10 }).map((c) => c.join(''));

const span = fc
  .tuple(entityId, fc.option(canonicalText, { nil: '' }))
  .map(([id, text]) => `<span class="entity" data-entity-id="${id}">${text}</span>`);
const inline = fc.oneof(canonicalText, span, fc.constant('<br/>'));
const paragraph = fc.array(inline, { maxLength: 4 }).map((parts) => `<p>${parts.join('')}</p>`);
const body = fc.array(fc.oneof(inline, paragraph), { maxLength: 6 }).map((parts) => parts.join(''));
const root = fc.constantFrom(
  '<div data-format="PresentationML" data-version="2.0">',
  '<div data-format="PresentationML" data-version="2.0" class="wysiwyg">',
);
const canonical = fc.tuple(root, body).map(([open, inner]) => `${open}${inner}</div>`);

/** A canonical string with one edit: a character inserted, removed or replaced, or a tag's case changed. */
const nearCanonical = fc
  .tuple(canonical, fc.nat(), fc.constantFrom('insert', 'remove', 'replace', 'upper'), char)
  .map(([markup, at, edit, c]) => {
    const i = at % (markup.length + 1);
    switch (edit) {
      case 'insert':
        return markup.slice(0, i) + c + markup.slice(i);
      case 'remove':
        return markup.slice(0, i) + markup.slice(i + 1);
      case 'replace':
        return markup.slice(0, i) + c + markup.slice(i + 1);
      case 'upper':
        return markup.slice(0, i) + markup.slice(i, i + 6).toUpperCase() + markup.slice(i + 6);
    }
  });

describe('scanCanonicalPresentationML', () => {
  it('property: takes every canonical string and calls the handler exactly as htmlparser2 does', () => {
    fc.assert(
      fc.property(canonical, (markup) => {
        expect(scannerCalls(markup)).toEqual(htmlparser2Calls(markup));
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: whatever it takes after an edit, it calls the handler exactly as htmlparser2 does', () => {
    let taken = 0;
    let left = 0;
    fc.assert(
      fc.property(nearCanonical, (markup) => {
        const calls = scannerCalls(markup);
        if (calls === null) left += 1;
        else {
          taken += 1;
          expect(calls).toEqual(htmlparser2Calls(markup));
        }
      }),
      { numRuns: 5_000 },
    );
    // Both sides of the boundary were exercised.
    expect(taken).toBeGreaterThan(100);
    expect(left).toBeGreaterThan(100);
  });

  it.each([
    ['a character reference', '<div data-format="PresentationML" data-version="2.0">a &amp; b</div>'],
    ['another root attribute', '<div data-format="PresentationML" data-version="2.0" class="x">a</div>'],
    ['a bold element', '<div data-format="PresentationML" data-version="2.0"><b>a</b></div>'],
    ['an unclosed span', '<div data-format="PresentationML" data-version="2.0"><span class="entity" data-entity-id="0">a</div>'],
    ['a nested paragraph', '<div data-format="PresentationML" data-version="2.0"><p><p>a</p></p></div>'],
    ['text after the root', '<div data-format="PresentationML" data-version="2.0">a</div> b'],
    ['MessageML', '<messageML>a</messageML>'],
  ])('leaves %s to htmlparser2', (_name, markup) => {
    expect(scannerCalls(markup)).toBeNull();
  });
});
