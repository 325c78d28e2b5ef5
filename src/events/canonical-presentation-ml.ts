/**
 * A recognizer of the agent's canonical PresentationML, for speed: the markup the Symphony agent renders for
 * plain text with entities (reference §3.2: `<messageML>` → `<div data-format="PresentationML"
 * data-version="2.0">`, `<mention/>`, `<hash/>`, `<cash/>` → `<span class="entity" data-entity-id="…">`;
 * client-typed messages add `class="wysiwyg"` and `<p>` wrappers, reference §2.4) is nearly every message a
 * bot reads. For exactly that closed set of strings this scanner calls the handler as htmlparser2's `Parser`
 * would, without tokenizing HTML; for anything else it answers `false` and htmlparser2 parses the message.
 * htmlparser2 stays the parser: this only knows strings whose parse is fixed. Checked against htmlparser2 by
 * canonical-presentation-ml.property.test.ts.
 *
 * The canonical set, byte for byte (no other attribute, order, quote, case or whitespace inside tags):
 * ```
 * root   = '<div data-format="PresentationML" data-version="2.0"' [' class="wysiwyg"'] '>' body '</div>'
 * body   = inline* | ('<p>' inline* '</p>' | '<br/>')*      (inline runs and paragraphs may be mixed)
 * inline = text | '<br/>' | '<span class="entity" data-entity-id="' id '">' text? '</span>'
 * text   = one or more characters other than '<' and '&'   (so no character reference to decode)
 * id     = zero or more characters other than '"' and '&'
 * ```
 */

/** The callbacks of htmlparser2's `Handler` that PresentationML parsing listens to. */
export type MarkupHandler = {
  onopentag(name: string, attribs: Record<string, string>): void;
  ontext(data: string): void;
  onclosetag(name: string): void;
};

const ROOT_OPEN = '<div data-format="PresentationML" data-version="2.0"';
const WYSIWYG = ' class="wysiwyg">';
const ROOT_CLOSE = '</div>';
const SPAN_OPEN = '<span class="entity" data-entity-id="';
const SPAN_CLOSE = '</span>';
const P_OPEN = '<p>';
const P_CLOSE = '</p>';
const BR = '<br/>';

const LT = 0x3c; // <
const GT = 0x3e; // >
const SLASH = 0x2f; // /
const LOWER_S = 0x73; // s
const LOWER_B = 0x62; // b
const LOWER_P = 0x70; // p

// The root's attributes as htmlparser2 reports them. The handler reads them only; never mutated.
const ROOT_ATTRIBS: Record<string, string> = { 'data-format': 'PresentationML', 'data-version': '2.0' };
const WYSIWYG_ROOT_ATTRIBS: Record<string, string> = { ...ROOT_ATTRIBS, class: 'wysiwyg' };
const NO_ATTRIBS: Record<string, string> = {};

/**
 * Calls `handler` for `presentationML` as htmlparser2's `Parser` (HTML mode, entities decoded, self-closing
 * tags recognized) would, and returns true, when the string is in the canonical set of the module comment.
 * Returns false when it is not; the handler may then have seen the calls for a prefix of the string, which
 * the caller discards before parsing the whole string with htmlparser2.
 *
 * @example
 * scanCanonicalPresentationML('<div data-format="PresentationML" data-version="2.0">hi</div>', handler); // true
 */
export function scanCanonicalPresentationML(presentationML: string, handler: MarkupHandler): boolean {
  const s = presentationML;
  // No '&' anywhere: then no text or attribute value has a character reference to decode.
  if (!s.startsWith(ROOT_OPEN) || !s.endsWith(ROOT_CLOSE) || s.includes('&')) return false;
  let at = ROOT_OPEN.length;
  if (s.charCodeAt(at) === GT) {
    handler.onopentag('div', ROOT_ATTRIBS);
    at += 1;
  } else if (s.startsWith(WYSIWYG, at)) {
    handler.onopentag('div', WYSIWYG_ROOT_ATTRIBS);
    at += WYSIWYG.length;
  } else {
    return false;
  }
  const end = s.length - ROOT_CLOSE.length;
  let inParagraph = false;
  let inSpan = false;
  while (at < end) {
    if (s.charCodeAt(at) !== LT) {
      const stop = s.indexOf('<', at); // at most `end`: the string ends with '</div>'
      handler.ontext(s.slice(at, stop));
      at = stop;
      continue;
    }
    // Tags told apart by their second and third characters, then compared whole.
    const second = s.charCodeAt(at + 1);
    if (second === SLASH) {
      if (s.startsWith(SPAN_CLOSE, at)) {
        if (!inSpan) return false;
        handler.onclosetag('span');
        inSpan = false;
        at += SPAN_CLOSE.length;
      } else if (s.startsWith(P_CLOSE, at)) {
        if (!inParagraph || inSpan) return false;
        handler.onclosetag('p');
        inParagraph = false;
        at += P_CLOSE.length;
      } else {
        return false;
      }
    } else if (second === LOWER_S) {
      if (inSpan || !s.startsWith(SPAN_OPEN, at)) return false;
      const idStart = at + SPAN_OPEN.length;
      const idEnd = s.indexOf('"', idStart);
      if (idEnd < 0 || idEnd >= end || s.charCodeAt(idEnd + 1) !== GT) return false;
      handler.onopentag('span', { class: 'entity', 'data-entity-id': s.slice(idStart, idEnd) });
      inSpan = true;
      at = idEnd + 2;
    } else if (second === LOWER_B) {
      if (inSpan || !s.startsWith(BR, at)) return false;
      handler.onopentag('br', NO_ATTRIBS);
      handler.onclosetag('br');
      at += BR.length;
    } else if (second === LOWER_P) {
      if (inParagraph || inSpan || !s.startsWith(P_OPEN, at)) return false;
      handler.onopentag('p', NO_ATTRIBS);
      inParagraph = true;
      at += P_OPEN.length;
    } else {
      return false;
    }
  }
  if (at !== end || inParagraph || inSpan) return false;
  handler.onclosetag('div');
  return true;
}
