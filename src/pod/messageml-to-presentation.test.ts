import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePresentationML } from '../events/presentation-ml.ts';
import { toMessageML } from '../reply/messageml.ts';
import {
  PRESENTATION_ML_OPEN,
  toMessageMLDocument,
  toPresentationML,
  type MentionLookup,
} from './messageml-to-presentation.ts';

const users: MentionLookup = {
  byId: (id) => (id === '7' ? { userId: '7', displayName: 'Bot <One>' } : undefined),
  byEmail: (email) => (email === 'bot@example.com' ? { userId: '7', displayName: 'Bot <One>' } : undefined),
};
const render = (message: string, data?: string) => toPresentationML(message, data, users);

describe('toMessageMLDocument', () => {
  it('wraps content without a <messageML> root and keeps documents', () => {
    expect(toMessageMLDocument('hi')).toEqual({ ok: true, value: '<messageML>hi</messageML>' });
    const wrapped = '<messageML>hi</messageML>';
    expect(toMessageMLDocument(` ${wrapped} `)).toEqual({ ok: true, value: wrapped });
    const presentationML = `${PRESENTATION_ML_OPEN}hi</div>`;
    expect(toMessageMLDocument(presentationML)).toEqual({ ok: true, value: presentationML });
  });

  it('refuses empty content and half a <messageML> tag', () => {
    expect(toMessageMLDocument('  ')).toMatchObject({ ok: false, status: 400 });
    const refusal = (missing: string) => ({ ok: false, message: expect.stringContaining(missing) as unknown });
    expect(toMessageMLDocument('<messageML>hi')).toMatchObject(refusal('closing'));
    expect(toMessageMLDocument('hi</messageML>')).toMatchObject(refusal('opening'));
  });
});

describe('toPresentationML', () => {
  it('numbers entities in reading order with one counter and escapes display names', () => {
    const result = render(
      '<messageML><hash tag="a"/><mention uid="7"/><cash tag="X"/>' +
        '<mention email="bot@example.com">ignored</mention></messageML>',
    );
    expect(result).toEqual({
      ok: true,
      value: {
        presentationML:
          `${PRESENTATION_ML_OPEN}<span class="entity" data-entity-id="keyword1">#a</span>` +
          '<span class="entity" data-entity-id="mention2">@Bot &lt;One&gt;</span>' +
          '<span class="entity" data-entity-id="keyword3">$X</span>' +
          '<span class="entity" data-entity-id="mention4">@Bot &lt;One&gt;</span></div>',
        data: expect.any(String) as unknown,
      },
    });
    expect(Object.keys(JSON.parse((result.ok && result.value.data) || '{}') as object)).toEqual([
      'keyword1', 'mention2', 'keyword3', 'mention4',
    ]);
  });

  it('keeps other markup and attributes, self-closing only void elements', () => {
    const link = '<a href="https://e.com/?a=1&amp;b=2">l</a>';
    expect(render(`<messageML><p class="x">a<br/>b</p><div/>${link}</messageML>`)).toEqual({
      ok: true,
      value: {
        presentationML: `${PRESENTATION_ML_OPEN}<p class="x">a<br/>b</p><div></div>${link}</div>`,
        data: undefined,
      },
    });
  });

  it('keeps a PresentationML document and its EntityJSON', () => {
    const presentationML = `${PRESENTATION_ML_OPEN}<span class="entity" data-entity-id="0">@Bot</span></div>`;
    const data = '{"0":{"type":"com.symphony.user.mention"}}';
    expect(render(presentationML, data)).toEqual({ ok: true, value: { presentationML, data } });
  });

  it('refuses what the agent refuses, with a 400 and a reason', () => {
    const cases: [string, RegExp][] = [
      ['<messageML><mention uid="8"/></messageML>', /Failed to lookup user "8"/],
      ['<messageML><mention uid="bot"/></messageML>', /int64/],
      ['<messageML><mention/></messageML>', /uid or email/],
      ['<messageML><cash tag=""/></messageML>', /<cash> needs a tag/],
      ['<html>x</html>', /root element must be <messageML>/],
      [`${PRESENTATION_ML_OPEN}<cash tag="X"/></div>`, /Shorthand tag "cash"/],
      ['<messageML><i></messageML>', /Malformed MessageML/],
    ];
    for (const [message, reason] of cases) {
      expect(render(message)).toEqual({ ok: false, status: 400, message: expect.stringMatching(reason) as unknown });
    }
    expect(render('<messageML>x</messageML>', 'not json')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^data: /) as unknown,
    });
  });

  it('renders any reply text so that chorus reads the same words back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        const rendered = render(toMessageML(text));
        expect(rendered.ok).toBe(true);
        if (!rendered.ok) return;
        const words = (s: string) => s.split(/\s+/).filter((w) => w !== '');
        // toMessageML drops characters XML forbids; chorus splits words on JS whitespace.
        // eslint-disable-next-line no-control-regex -- the characters XML 1.0 forbids
        const expected = words(text.replace(/[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, ''));
        const parsed = parsePresentationML(rendered.value.presentationML, {});
        expect(parsed.tokens.map((t) => t.text)).toEqual(expected);
      }),
    );
  });
});
