/**
 * Helpers of the multipart tests: the body undici's `FormData` makes (the reference encoding) and the fields a
 * WHATWG `Request.formData()` reads back (what the embedded pod does).
 */
import { FormData, Request as UndiciRequest } from 'undici';

export type Fields = readonly (readonly [string, string])[];

export const boundaryOf = (contentType: string): string => /boundary=(.+)$/.exec(contentType)?.[1] ?? '(none)';

/** The body undici's `FormData` (the package chorus sent before) makes for `fields`, through its own Request. */
export async function undiciBody(fields: Fields): Promise<{ boundary: string; body: string }> {
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value);
  const request = new UndiciRequest('http://multipart.test/', { method: 'POST', body: form });
  return { boundary: boundaryOf(request.headers.get('content-type') ?? ''), body: await request.text() };
}

/** The fields a server reads from a body: WHATWG `Request.formData()`, as the embedded pod parses it. */
export async function parsedFields(contentType: string, body: string): Promise<[string, unknown][]> {
  const form = await new Request('http://multipart.test/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
  return [...form.entries()];
}
