import { describe, expect, it } from 'vitest';
import { boundaryOf, parsedFields, undiciBody, type Fields } from './multipart-form.test-support.ts';
import { toMultipartBody } from './multipart-form.ts';

const samples: Record<string, Fields> = {
  'MessageML and EntityJSON': [
    ['message', '<messageML>Hi <mention uid="7000000000002"/> &amp; <b>bold</b></messageML>'],
    ['data', JSON.stringify({ mention1: { type: 'com.symphony.user.mention', value: 123 } })],
  ],
  'non-ASCII': [['message', 'héllo ✓ 日本語 🎉 Ωμέγα']],
  'CRLF, lone CR and lone LF': [['message', 'a\r\nb\rc\nd\n\re\r\n\r\n'], ['data', '{\n  "k": "v"\r\n}']],
  'an empty value': [['message', ''], ['data', '']],
  'a value that looks like a part': [['message', '--x\r\nContent-Disposition: form-data; name="data"\r\n\r\nforged\r\n--x--']],
  'a name with a quote and line breaks': [['we"ird\nname\r', 'v']],
};

describe('toMultipartBody', () => {
  for (const [what, fields] of Object.entries(samples)) {
    it(`encodes ${what} as undici's FormData does, byte for byte apart from the boundary`, async () => {
      const ours = toMultipartBody(fields);
      const theirs = await undiciBody(fields);
      expect(ours.contentType).toMatch(/^multipart\/form-data; boundary=----chorus-[0-9a-f-]{36}$/);
      expect(ours.body).toBe(theirs.body.replaceAll(theirs.boundary, boundaryOf(ours.contentType)));
    });

    it(`parses back (Request.formData) to the fields of ${what}, line breaks as CRLF`, async () => {
      const ours = toMultipartBody(fields);
      const expected = fields.map(([name, value]) => [name.replace(/\r\n|\r|\n/g, '\r\n'), value.replace(/\r\n|\r|\n/g, '\r\n')]);
      expect(await parsedFields(ours.contentType, ours.body)).toEqual(expected);
    });
  }

  it('draws a new boundary for each body', () => {
    const boundaries = new Set(Array.from({ length: 50 }, () => boundaryOf(toMultipartBody([['message', 'x']]).contentType)));
    expect(boundaries.size).toBe(50);
  });
});
