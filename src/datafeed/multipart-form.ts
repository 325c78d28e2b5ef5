/**
 * multipart/form-data bodies of text fields, built as one string: what the Agent API's message/create takes
 * (`message`, `data`). Encoded as the WHATWG "multipart/form-data encoding algorithm" (HTML §4.10.21.8) and
 * undici's `FormData` do it, byte for byte apart from the boundary, without undici's web streams.
 */
import { randomUUID } from 'node:crypto';

/** A body ready to send: its `content-type` header (with the boundary) and the body text (UTF-8 on the wire). */
export type MultipartBody = { readonly contentType: string; readonly body: string };

// As the WHATWG algorithm (and undici): line breaks of values become CRLF; `"`, CR and LF of names are escaped.
const toCrlf = (value: string): string => (value.includes('\n') || value.includes('\r') ? value.replace(/\r\n|\r|\n/g, '\r\n') : value);
const escapeName = (name: string): string => toCrlf(name).replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');

/**
 * Encodes text fields, in order, as a multipart/form-data body with a random boundary (`----chorus-` and a
 * UUID, drawn again in the unlikely case a value contains it). Values are sent as UTF-8; their line breaks
 * (CR, LF, CRLF) are sent as CRLF, as a browser and undici's `FormData` send them.
 *
 * @example
 * const { contentType, body } = toMultipartBody([['message', '<messageML>Hi</messageML>']]);
 */
export function toMultipartBody(fields: readonly (readonly [name: string, value: string])[]): MultipartBody {
  const parts = fields.map(([name, value]) => `Content-Disposition: form-data; name="${escapeName(name)}"\r\n\r\n${toCrlf(value)}\r\n`);
  let boundary = `----chorus-${randomUUID()}`;
  while (parts.some((part) => part.includes(boundary))) boundary = `----chorus-${randomUUID()}`;
  const body = `${parts.map((part) => `--${boundary}\r\n${part}`).join('')}--${boundary}--\r\n`;
  return { contentType: `multipart/form-data; boundary=${boundary}`, body };
}
