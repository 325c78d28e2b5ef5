/**
 * Plain text of a MessageML message, for assertions in tests.
 */
import { Parser } from 'htmlparser2';

const BREAKS = new Set(['br', 'p', 'div', 'li', 'tr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'table']);

/**
 * The text of `messageML`: markup removed, entities decoded, `<br/>` and block elements as line breaks,
 * `<mention uid="…"/>` as `@<uid>` (the display name is the pod's to resolve), lines trimmed.
 */
export function messageMLToText(messageML: string): string {
  let text = '';
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (name === 'mention') text += `@${attributes.uid ?? attributes.email ?? ''}`;
        else if (name === 'hash') text += `#${attributes.tag ?? ''}`;
        else if (name === 'cash') text += `$${attributes.tag ?? ''}`;
        else if (BREAKS.has(name)) text += '\n';
      },
      ontext(data) {
        text += data;
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  parser.end(messageML);
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('\n');
}
