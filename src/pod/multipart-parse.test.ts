import fc from 'fast-check';
import { FormData, Request as UndiciRequest } from 'undici';
import { describe, expect, it } from 'vitest';
import { toMultipartBody } from '../datafeed/multipart-form.ts';
import { boundaryOf, parseMultipartForm, type FormPart } from './multipart-parse.ts';

type Part = readonly [name: string, value: string | { readonly filename: string; readonly type: string; readonly bytes: Uint8Array }];

/** The body undici's FormData sends for `parts` (the reference encoder): its content-type and bytes. */
async function encode(parts: readonly Part[]): Promise<{ contentType: string; body: Buffer }> {
  const form = new FormData();
  for (const [name, value] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([value.bytes], { type: value.type }), value.filename);
  }
  const request = new UndiciRequest('http://multipart.test/', { method: 'POST', body: form });
  return { contentType: request.headers.get('content-type') ?? '', body: Buffer.from(await request.arrayBuffer()) };
}

type Comparable = [string, string | { filename: string; type: string; content: string }];

/** What WHATWG `Request.formData()` (the parser the pod used before) reads, in a comparable shape. */
async function referenceParse(contentType: string, body: Buffer): Promise<Comparable[] | 'failure'> {
  try {
    const form = await new Request('http://multipart.test/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
    const entries: Comparable[] = [];
    for (const [name, value] of form.entries()) {
      entries.push([
        name,
        typeof value === 'string' ? value : { filename: value.name, type: value.type, content: Buffer.from(await value.arrayBuffer()).toString('hex') },
      ]);
    }
    return entries;
  } catch {
    return 'failure';
  }
}

function ourParse(contentType: string, body: Buffer): Comparable[] | 'failure' {
  const parsed = parseMultipartForm(body, contentType);
  if (!parsed.ok) return 'failure';
  return parsed.value.map((part: FormPart): Comparable =>
    'value' in part
      ? [part.name, part.value]
      : [part.name, { filename: part.file.filename, type: part.file.type, content: part.file.content.toString('hex') }],
  );
}

const text = fc.string({ unit: 'binary', maxLength: 30 });
const tricky = fc.array(fc.constantFrom('a', 'é', '🎉', '\r', '\n', '\r\n', '-', '--', '"', ' ', '%22', '%0A', ';', '='), { maxLength: 12 }).map((p) => p.join(''));
const file = fc.record({
  filename: fc.oneof(text, tricky),
  type: fc.constantFrom('', 'text/plain', 'image/png', 'application/octet-stream'),
  bytes: fc.uint8Array({ maxLength: 64 }),
});
const parts = fc.array(fc.tuple(fc.oneof(text, tricky), fc.oneof(text, tricky, file)), { minLength: 1, maxLength: 4 });

describe('parseMultipartForm', () => {
  it('reads what undici FormData sends as WHATWG Request.formData() reads it (property)', async () => {
    await fc.assert(
      fc.asyncProperty(parts, async (generated) => {
        const { contentType, body } = await encode(generated);
        const ours = ourParse(contentType, body);
        expect(ours).not.toBe('failure');
        expect(ours).toEqual(await referenceParse(contentType, body));
      }),
      { numRuns: 300 },
    );
  });

  it('reads what chorus sends (toMultipartBody) as the reference does', async () => {
    const { contentType, body } = toMultipartBody([
      ['message', '<messageML>Hi <b>there</b>\nline two</messageML>'],
      ['data', '{"a":1}'],
    ]);
    const ours = ourParse(contentType, Buffer.from(body));
    expect(ours).toEqual([
      ['message', '<messageML>Hi <b>there</b>\r\nline two</messageML>'],
      ['data', '{"a":1}'],
    ]);
    expect(ours).toEqual(await referenceParse(contentType, Buffer.from(body)));
  });

  it('ignores a preamble and an epilogue, and reads a quoted boundary and filename*', () => {
    const body = Buffer.from(
      'preamble\r\n--b b\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n' +
        "--b b\r\ncontent-disposition: form-data; name=attachment; filename=\"x.txt\"; filename*=utf-8''%C3%A9.txt\r\n" +
        'Content-Type: text/csv\r\n\r\na,b\r\n--b b--\r\nepilogue',
    );
    expect(ourParse('multipart/form-data; boundary="b b"', body)).toEqual([
      ['message', 'hi'],
      ['attachment', { filename: 'é.txt', type: 'text/csv', content: Buffer.from('a,b').toString('hex') }],
    ]);
  });

  it.each([
    ['no boundary parameter', 'multipart/form-data', '--b\r\nContent-Disposition: form-data; name="m"\r\n\r\nhi\r\n--b--'],
    ['no boundary in the body', 'multipart/form-data; boundary=b', 'hello'],
    ['no closing boundary', 'multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="m"\r\n\r\nhi'],
    ['a part without a name', 'multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data\r\n\r\nhi\r\n--b--'],
    ['a part without headers', 'multipart/form-data; boundary=b', '--b\r\n\r\nhi\r\n--b--'],
    ['a part that is not form-data', 'multipart/form-data; boundary=b', '--b\r\nContent-Disposition: attachment; name="m"\r\n\r\nhi\r\n--b--'],
    ['a header line without a colon', 'multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="m"\r\nbroken\r\n\r\nhi\r\n--b--'],
  ])('answers 400 for %s, as the reference fails', async (_what, contentType, text) => {
    const body = Buffer.from(text);
    const parsed = parseMultipartForm(body, contentType);
    expect(parsed).toMatchObject({ ok: false, status: 400, message: expect.stringMatching(/^The multipart\/form-data body is malformed: /) as unknown });
    expect(await referenceParse(contentType, body)).toBe('failure');
  });

  it('finds the boundary parameter, quoted or not', () => {
    expect(boundaryOf('multipart/form-data; boundary=----chorus-1')).toBe('----chorus-1');
    expect(boundaryOf('multipart/form-data;boundary="a \\"b\\""; charset=utf-8')).toBe('a "b"');
    expect(boundaryOf('multipart/form-data; charset=utf-8')).toBeUndefined();
  });
});
