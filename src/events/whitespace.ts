/**
 * Whitespace as the RegExp `\s` sees it, scanned by UTF-16 code unit: the PresentationML parser splits words
 * and collapses lines with it on every message, so the common cases are checked without a RegExp and without
 * allocating (a fast path for speed).
 */

const WHITESPACE_RUN = /\s+/g;

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
  return text === '' || isCollapsed(text) ? text : text.replace(WHITESPACE_RUN, ' ').trim();
}

/** True when `text`'s only whitespace is single spaces between other characters. */
function isCollapsed(text: string): boolean {
  const last = text.length - 1;
  for (let i = 0; i <= last; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x20) {
      // The character before is not whitespace, or the scan would have stopped there.
      if (i === 0 || i === last || isWhitespace(text.charCodeAt(i + 1))) return false;
    } else if (isWhitespace(code)) {
      return false;
    }
  }
  return true;
}
