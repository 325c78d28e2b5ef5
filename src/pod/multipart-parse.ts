/**
 * multipart/form-data bodies as the pod's message/create reads them: the parts of a body already in memory,
 * parsed in place. The algorithm of the WHATWG-style "multipart/form-data parser"
 * (andreubotella.github.io/multipart-form-data) that undici's `Request.formData()` implements, for what the
 * Agent API sends: parts with a `Content-Disposition: form-data` header naming the field (`name`, and
 * `filename` for a file), text values decoded as UTF-8. Why not `new Request(…).formData()`: for a short
 * message most of its cost is the fetch machinery around the parser (a Request, a web stream over the body,
 * MIME parsing), about 20 µs a message, several times the parse itself; multipart-parse.test.ts checks the
 * results against undici's.
 */
import { fail, succeed, type PodResult } from './pod-result.ts';

/** A file part: its file name, Content-Type (`text/plain` when absent) and bytes (a view into the body). */
export type FormFile = { readonly filename: string; readonly type: string; readonly content: Buffer };

/** A part: a text field, or a file. */
export type FormPart = { readonly name: string; readonly value: string } | { readonly name: string; readonly file: FormFile };

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const DASH = 0x2d;
const CR = 0x0d;
const LF = 0x0a;
/** RFC 7230 token characters (header names, disposition types, unquoted parameter values). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** `boundary=` in a Content-Type value: a quoted string (backslash escapes) or a token. */
const BOUNDARY_PARAMETER = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i;
/** One Content-Disposition parameter after the first `;`: name, optional `*`, then a quoted or bare value. */
const DISPOSITION_PARAMETER = /^\s*;?\s*([!#$%&'+.^_`|~0-9A-Za-z-]+)(\*?)\s*=\s*(?:"([^"\r\n]*)"|([^;\s]*))\s*/;
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** The `boundary` parameter of a multipart Content-Type header, or undefined. */
export function boundaryOf(contentType: string): string | undefined {
  const found = BOUNDARY_PARAMETER.exec(contentType);
  if (found === null) return undefined;
  const boundary = found[1] === undefined ? found[2] : found[1].replace(/\\(.)/g, '$1');
  return boundary === '' ? undefined : boundary;
}

/**
 * Parses the parts of a multipart/form-data `body` whose Content-Type header is `contentType`. A preamble
 * before the first boundary and an epilogue after the last are ignored, as RFC 2046 §5.1.1 says. Text values
 * are decoded as UTF-8 without a BOM strip; quoted parameter values have `%0A`, `%0D` and `%22` decoded, as
 * browsers and undici encode them; `filename*=utf-8''…` (RFC 5987) wins over `filename`.
 *
 * @returns the parts in body order, or 400 naming what is malformed (no boundary, a part without a name, no
 *   closing boundary…).
 * @example
 * parseMultipartForm(Buffer.from('--b\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n--b--\r\n'),
 *   'multipart/form-data; boundary=b'); // { ok: true, value: [{ name: 'message', value: 'hi' }] }
 */
export function parseMultipartForm(body: Buffer, contentType: string): PodResult<FormPart[]> {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) return malformed('no boundary in the content-type header');
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: FormPart[] = [];
  // The first boundary line: at the start, or after a preamble's CRLF.
  let at = body.subarray(0, dashBoundary.length).equals(dashBoundary) ? 0 : body.indexOf(delimiter);
  if (at === -1) return malformed('no boundary found in the body');
  at += at === 0 ? dashBoundary.length : delimiter.length;
  for (;;) {
    if (body[at] === DASH && body[at + 1] === DASH) return succeed(parts); // the closing boundary
    if (body[at] !== CR || body[at + 1] !== LF) return malformed('expected CRLF after a boundary');
    at += 2;
    const headersEnd = body[at] === CR && body[at + 1] === LF ? at : body.indexOf(CRLF_CRLF, at);
    if (headersEnd === -1) return malformed('part headers do not end');
    const headers = parseHeaders(body.toString('latin1', at, headersEnd));
    if (!headers.ok) return headers;
    const contentStart = headersEnd + (headersEnd === at ? 2 : 4);
    const contentEnd = body.indexOf(delimiter, contentStart);
    if (contentEnd === -1) return malformed('expected a boundary after a part');
    const { name, filename, type } = headers.value;
    if (filename === undefined) parts.push({ name, value: utf8.decode(body.subarray(contentStart, contentEnd)) });
    else parts.push({ name, file: { filename, type, content: body.subarray(contentStart, contentEnd) } });
    at = contentEnd + delimiter.length;
  }
}

type PartHeaders = { readonly name: string; readonly filename: string | undefined; readonly type: string };

/** A part's header block (latin1 text, lines without the final CRLF): its name, filename and type. */
function parseHeaders(block: string): PodResult<PartHeaders> {
  let name: string | undefined;
  let filename: string | undefined;
  let type = 'text/plain';
  for (const line of block === '' ? [] : block.split('\r\n')) {
    const colon = line.indexOf(':');
    const field = (colon === -1 ? line : line.slice(0, colon)).trim();
    if (colon === -1 || !TOKEN.test(field)) return malformed('a part header is not a field');
    const value = line.slice(colon + 1).trim();
    const lower = field.toLowerCase();
    if (lower === 'content-type') type = value;
    else if (lower === 'content-disposition') {
      const disposition = parseDisposition(value);
      if (!disposition.ok) return disposition;
      ({ name, filename } = disposition.value);
    }
  }
  if (name === undefined) return malformed('a part has no Content-Disposition name');
  return succeed({ name, filename, type: filename !== undefined && !/^[\x20-\x7e]*$/.test(type) ? '' : type });
}

/** `form-data; name="…"; filename="…"` → name and filename (header text is latin1: decoded as UTF-8 here). */
function parseDisposition(value: string): PodResult<{ name: string | undefined; filename: string | undefined }> {
  const typeEnd = value.search(/[;\s]|$/);
  if (value.slice(0, typeEnd).toLowerCase() !== 'form-data') return malformed('a part is not form-data');
  let name: string | undefined;
  let filename: string | undefined;
  let extendedFilename = false;
  for (let rest = value.slice(typeEnd); rest.trim() !== ''; ) {
    const parameter = DISPOSITION_PARAMETER.exec(rest);
    if (parameter === null) break;
    rest = rest.slice(parameter[0].length);
    const [, key = '', star, quoted, bare = ''] = parameter;
    const lower = key.toLowerCase();
    if (star === '*') {
      const encoded = /^utf-8'[^']*'(.*)$/i.exec(bare);
      if (encoded === null) return malformed('an extended parameter is not utf-8');
      try {
        if (lower === 'filename') filename = decodeURIComponent(encoded[1] ?? '');
      } catch {
        return malformed('an extended parameter is not valid percent-encoding');
      }
      if (lower === 'filename') extendedFilename = true;
      continue;
    }
    const text = quoted === undefined ? toUtf8(bare) : toUtf8(quoted).replace(/%0A/gi, '\n').replace(/%0D/gi, '\r').replace(/%22/g, '"');
    if (lower === 'name') name = text;
    else if (lower === 'filename' && !extendedFilename) filename = text;
  }
  return succeed({ name, filename });
}

/** Latin1 text holding UTF-8 bytes → the string those bytes encode. */
function toUtf8(latin1: string): string {
  // eslint-disable-next-line no-control-regex -- ASCII check: only non-ASCII text needs re-decoding
  return /^[\x00-\x7f]*$/.test(latin1) ? latin1 : utf8.decode(Buffer.from(latin1, 'latin1'));
}

function malformed(reason: string): PodResult<never> {
  return fail(400, `The multipart/form-data body is malformed: ${reason}`);
}
