/**
 * MessageML → PresentationML + EntityJSON, as the agent renders a message posted through the API
 * (finos/messageml-utils; reference §2.4, §3.2): `<messageML>` becomes the PresentationML root `<div>`, the
 * shorthand tags `<mention>`, `<hash>` and `<cash>` become entity spans whose EntityJSON is added to `data`, and
 * other markup is kept. Parsing is strict XML ({@link parseXml}); Freemarker templates are not evaluated.
 */
import { fail, succeed, type PodResult } from './pod-result.ts';
import { parseXml, type XmlElement, type XmlNode } from './xml-tree.ts';

/** The PresentationML root element's opening tag (reference §2.4). */
export const PRESENTATION_ML_OPEN = '<div data-format="PresentationML" data-version="2.0">';

/** A user a mention can name. */
export type MentionTarget = { readonly userId: string; readonly displayName: string };

/** How mentions find their user: by `uid` or by `email`. */
export type MentionLookup = {
  byId(userId: string): MentionTarget | undefined;
  byEmail(email: string): MentionTarget | undefined;
};

/** A rendered message: PresentationML and the EntityJSON string (undefined when there are no entities). */
export type RenderedMessage = { readonly presentationML: string; readonly data: string | undefined };

/**
 * Turns the `message` field into a MessageML document as BDK Java's `Message.builder().content(…)` does: content
 * that starts with `<messageML` (after trimming) is kept, content without it is wrapped in
 * `<messageML>…</messageML>` as is (not escaped: `a < b` then fails to parse). A PresentationML document
 * (`<div …>…</div>`) is kept too, since the endpoint accepts both formats (SPEC message/create).
 * Fails with 400 when the content is empty or has only one of the `<messageML>` start and end tags.
 *
 * @example
 * toMessageMLDocument('hello'); // { ok: true, value: '<messageML>hello</messageML>' }
 */
export function toMessageMLDocument(content: string): PodResult<string> {
  const trimmed = content.trim();
  if (trimmed === '') return fail(400, 'message: the message is empty');
  const hasStart = trimmed.startsWith('<messageML');
  const hasEnd = trimmed.endsWith('</messageML>');
  if (hasStart !== hasEnd) {
    return fail(400, `Malformed <messageML> tag: missing ${hasStart ? 'closing' : 'opening'} tag`);
  }
  if (hasStart || (trimmed.startsWith('<div') && trimmed.endsWith('</div>'))) return succeed(trimmed);
  return succeed(`<messageML>${content}</messageML>`);
}

/**
 * Renders MessageML (or PresentationML) with its optional EntityJSON `data`. Entities get ids in reading order,
 * one counter for all kinds: `mention1`, `keyword2`, … (mentions `mention<n>`, hashtags and cashtags
 * `keyword<n>`, messageml-utils `Mention`/`Keyword`):
 * - `<mention uid="7"/>` or `<mention email="a@b.c"/>` → `<span class="entity" data-entity-id="mention1">@Name</span>`,
 *   entity `com.symphony.user.mention` with id `com.symphony.user.userId` (value a string, as messageml-utils
 *   writes it); the element's content is ignored;
 * - `<hash tag="x"/>` → `#x`, entity `org.symphonyoss.taxonomy` / `org.symphonyoss.taxonomy.hashtag`;
 * - `<cash tag="X"/>` → `$X`, entity `org.symphonyoss.fin.security` / `org.symphonyoss.fin.security.id.ticker`.
 * Entities of `data` are kept; generated ones are added (and win on an id clash). Fails with 400 when the XML is
 * malformed, the root is neither `<messageML>` nor a PresentationML `<div>`, a mention names no known user, a
 * tag is empty or has whitespace, a shorthand tag appears in PresentationML, or `data` is not a JSON object.
 *
 * @example
 * toPresentationML('<messageML>Hi <mention uid="7"/></messageML>', undefined, users);
 * // presentationML: '<div data-format="PresentationML" data-version="2.0">Hi <span class="entity"
 * //   data-entity-id="mention1">@Alice Ng</span></div>'
 */
export function toPresentationML(
  message: string,
  data: string | undefined,
  users: MentionLookup,
): PodResult<RenderedMessage> {
  const entities = parseEntityData(data);
  if (!entities.ok) return entities;
  const parsed = parseXml(message);
  if (!parsed.ok) return fail(400, `Malformed MessageML: ${parsed.reason}`);
  const root = parsed.root;
  const isPresentationML = root.name === 'div' && attribute(root, 'data-format') === 'PresentationML';
  if (root.name !== 'messageML' && !isPresentationML) {
    return fail(400, `Malformed MessageML: the root element must be <messageML>, not <${root.name}>`);
  }
  const renderer = createRenderer(users, entities.value, isPresentationML);
  const body = renderer.children(root);
  if (!body.ok) return body;
  const open = isPresentationML ? `<div${attributes(root)}>` : PRESENTATION_ML_OPEN;
  const presentationML = `${open}${body.value}</div>`;
  const all = entities.value;
  return succeed({ presentationML, data: Object.keys(all).length === 0 ? undefined : JSON.stringify(all) });
}

function parseEntityData(data: string | undefined): PodResult<Record<string, unknown>> {
  if (data === undefined || data.trim() === '') return succeed({});
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return succeed({ ...(value as Record<string, unknown>) });
    }
  } catch {
    // answered below
  }
  return fail(400, 'data: must be an EntityJSON object (a JSON object as a string)');
}

const SHORTHAND_TAGS: ReadonlySet<string> = new Set(['mention', 'hash', 'cash']);
const VOID_ELEMENTS: ReadonlySet<string> = new Set(['br', 'hr', 'img', 'col', 'wbr', 'area', 'input']);
const DIGITS = /^\d+$/;
const WHITESPACE = /\s/;

type Renderer = { children(element: XmlElement): PodResult<string> };

function createRenderer(users: MentionLookup, entities: Record<string, unknown>, isPresentationML: boolean): Renderer {
  let count = 0;

  const entitySpan = (prefix: 'mention' | 'keyword', text: string, entity: unknown): string => {
    count += 1;
    const id = `${prefix}${count}`;
    entities[id] = entity;
    return `<span class="entity" data-entity-id="${id}">${escapeText(text)}</span>`;
  };

  const mention = (element: XmlElement): PodResult<string> => {
    const uid = attribute(element, 'uid');
    const email = attribute(element, 'email');
    if ((uid === undefined) === (email === undefined)) {
      return fail(400, 'Malformed MessageML: <mention> needs uid or email');
    }
    if (uid !== undefined && !DIGITS.test(uid)) {
      return fail(400, `Invalid input: uid must be a int64 value not "${uid}"`);
    }
    const user = uid === undefined ? users.byEmail(email ?? '') : users.byId(uid);
    if (user === undefined) return fail(400, `Failed to lookup user "${uid ?? email ?? ''}"`);
    return succeed(
      entitySpan('mention', `@${user.displayName}`, {
        type: 'com.symphony.user.mention',
        version: '1.0',
        id: [{ type: 'com.symphony.user.userId', value: user.userId }],
      }),
    );
  };

  const keyword = (element: XmlElement): PodResult<string> => {
    const tag = attribute(element, 'tag');
    if (tag === undefined || tag === '' || WHITESPACE.test(tag)) {
      return fail(400, `Malformed MessageML: <${element.name}> needs a tag attribute without whitespace`);
    }
    const [sigil, type, idType] =
      element.name === 'hash'
        ? ['#', 'org.symphonyoss.taxonomy', 'org.symphonyoss.taxonomy.hashtag']
        : ['$', 'org.symphonyoss.fin.security', 'org.symphonyoss.fin.security.id.ticker'];
    const entity = { type, version: '1.0', id: [{ type: idType, value: tag }] };
    return succeed(entitySpan('keyword', `${sigil}${tag}`, entity));
  };

  const node = (child: XmlNode): PodResult<string> => {
    if (child.kind === 'text') return succeed(escapeText(child.text));
    if (SHORTHAND_TAGS.has(child.name)) {
      if (isPresentationML) return fail(400, `Shorthand tag "${child.name}" is not allowed in PresentationML`);
      return child.name === 'mention' ? mention(child) : keyword(child);
    }
    const inner = children(child);
    if (!inner.ok) return inner;
    if (inner.value === '' && VOID_ELEMENTS.has(child.name)) return succeed(`<${child.name}${attributes(child)}/>`);
    return succeed(`<${child.name}${attributes(child)}>${inner.value}</${child.name}>`);
  };

  const children = (element: XmlElement): PodResult<string> => {
    let out = '';
    for (const child of element.children) {
      const rendered = node(child);
      if (!rendered.ok) return rendered;
      out += rendered.value;
    }
    return succeed(out);
  };

  return { children };
}

function attribute(element: XmlElement, name: string): string | undefined {
  return element.attributes.find(([n]) => n === name)?.[1];
}

function attributes(element: XmlElement): string {
  return element.attributes.map(([name, value]) => ` ${name}="${escapeAttribute(value)}"`).join('');
}

/** Escapes text content: `&`, `<`, `>` and `"` (as the event factories render agent output). */
function escapeText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** Escapes an attribute value for double quotes; tab, LF and CR as character references so they survive. */
function escapeAttribute(value: string): string {
  return escapeText(value).replaceAll('\t', '&#9;').replaceAll('\n', '&#10;').replaceAll('\r', '&#13;');
}
