/**
 * A strict, small XML reader for MessageML: htmlparser2's tokenizer (xmlMode) builds an element tree, and the
 * well-formedness rules the tokenizer is lenient about are checked here (every tag closed in order, one root,
 * quoted attributes, no raw `<` or `&` in text, only the five XML entities and character references). Markup is
 * never matched with regexes.
 */
import { QuoteType, Tokenizer, type TokenizerCallbacks } from 'htmlparser2';

/** An element: attributes in document order, children in reading order. */
export type XmlElement = {
  readonly kind: 'element';
  readonly name: string;
  readonly attributes: readonly (readonly [string, string])[];
  readonly children: XmlNode[];
};
/** Text, entities and CDATA decoded. */
export type XmlText = { readonly kind: 'text'; text: string };
/** A node of the tree (comments and the XML declaration are dropped). */
export type XmlNode = XmlElement | XmlText;

/** The outcome of {@link parseXml}: the root element, or the first well-formedness error. */
export type XmlParse =
  | { readonly ok: true; readonly root: XmlElement }
  | { readonly ok: false; readonly reason: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

/**
 * Parses an XML document into a tree. Fails (never throws) with a reason naming the problem, e.g.
 * `</b> does not close <i>`, `<p> is not closed`, `unknown entity or raw & in text`.
 *
 * @example
 * const parsed = parseXml('<messageML>Hi <b>there</b></messageML>');
 * if (parsed.ok) parsed.root.children.length; // 2
 */
export function parseXml(xml: string): XmlParse {
  const document: XmlElement = { kind: 'element', name: '#document', attributes: [], children: [] };
  const stack: XmlElement[] = [document];
  let error: string | undefined;
  let rootSeen = false;
  let open: { name: string; attributes: [string, string][] } | undefined;
  let attribute: { name: string; value: string } | undefined;

  const fault = (reason: string): void => {
    error ??= reason;
  };
  const top = (): XmlElement => stack[stack.length - 1] as XmlElement;
  const appendText = (text: string): void => {
    const parent = top();
    if (parent === document) {
      if (text.trim() !== '') fault('text outside the root element');
      return;
    }
    const last = parent.children[parent.children.length - 1];
    if (last?.kind === 'text') last.text += text;
    else parent.children.push({ kind: 'text', text });
  };
  const startElement = (selfClosing: boolean): void => {
    if (open === undefined) return;
    const element: XmlElement = { kind: 'element', name: open.name, attributes: open.attributes, children: [] };
    open = undefined;
    if (top() === document) {
      if (rootSeen) fault('more than one root element');
      rootSeen = true;
    }
    top().children.push(element);
    if (!selfClosing) stack.push(element);
  };

  const callbacks: TokenizerCallbacks = {
    onopentagname(start, end) {
      const name = xml.slice(start, end);
      if (!NAME.test(name)) fault(`invalid element name "${name}"`);
      open = { name, attributes: [] };
    },
    onattribname(start, end) {
      const name = xml.slice(start, end);
      if (!NAME.test(name)) fault(`invalid attribute name "${name}"`);
      attribute = { name, value: '' };
    },
    onattribdata(start, end) {
      const raw = xml.slice(start, end);
      if (raw.includes('<') || raw.includes('&')) fault('unknown entity, raw & or < in an attribute value');
      if (attribute !== undefined) attribute.value += raw;
    },
    onattribentity(codepoint) {
      if (attribute !== undefined) attribute.value += String.fromCodePoint(codepoint);
    },
    onattribend(quote) {
      if (attribute === undefined || open === undefined) return;
      if (quote === QuoteType.NoValue || quote === QuoteType.Unquoted) {
        fault(`attribute "${attribute.name}" of <${open.name}> needs a quoted value`);
      }
      const name = attribute.name;
      if (open.attributes.some(([n]) => n === name)) fault(`duplicate attribute "${name}" on <${open.name}>`);
      open.attributes.push([name, attribute.value]);
      attribute = undefined;
    },
    onopentagend() {
      startElement(false);
    },
    onselfclosingtag() {
      startElement(true);
    },
    onclosetag(start, end) {
      const name = xml.slice(start, end);
      const current = top();
      if (current === document) fault(`</${name}> closes no element`);
      else if (current.name !== name) fault(`</${name}> does not close <${current.name}>`);
      else stack.pop();
    },
    ontext(start, end) {
      const raw = xml.slice(start, end);
      if (raw.includes('<') || raw.includes('&')) fault('unknown entity, raw & or < in text');
      appendText(raw);
    },
    ontextentity(codepoint) {
      appendText(String.fromCodePoint(codepoint));
    },
    oncdata(start, end, endOffset) {
      if (top() === document) fault('CDATA outside the root element');
      else appendText(xml.slice(start, end - endOffset));
    },
    oncomment() {},
    ondeclaration() {
      fault('DOCTYPE and other declarations are not allowed');
    },
    onprocessinginstruction(start, end) {
      // The slice is the instruction without `<?` and `?>`: `xml version="1.0"` for the XML declaration.
      const isXmlDeclaration = !rootSeen && top() === document && xml.slice(start, end).startsWith('xml ');
      if (!isXmlDeclaration) fault('processing instructions are not allowed');
    },
    onend() {
      if (stack.length > 1) fault(`<${top().name}> is not closed`);
      else if (!rootSeen) fault('no root element');
    },
  };

  const tokenizer = new Tokenizer({ xmlMode: true, decodeEntities: true }, callbacks);
  tokenizer.write(xml);
  tokenizer.end();
  const root = document.children[0];
  if (error !== undefined || root?.kind !== 'element') return { ok: false, reason: error ?? 'no root element' };
  return { ok: true, root };
}
