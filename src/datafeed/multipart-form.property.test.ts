import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundaryOf, parsedFields, undiciBody } from './multipart-form.test-support.ts';
import { toMultipartBody } from './multipart-form.ts';

// Any UTF-16 text, lone surrogates and line breaks included; names as well as values.
const text = fc.string({ unit: 'binary', maxLength: 40 });
const lineBreaky = fc.array(fc.constantFrom('a', 'é', '🎉', '\r', '\n', '\r\n', '-', '"', ' '), { maxLength: 20 }).map((parts) => parts.join(''));
const fieldsArb = fc.array(fc.tuple(fc.oneof(text, lineBreaky), fc.oneof(text, lineBreaky)), { minLength: 1, maxLength: 4 });

describe('toMultipartBody (property)', () => {
  it('sends the bytes undici FormData sends, and a server parses the same fields', async () => {
    await fc.assert(
      fc.asyncProperty(fieldsArb, async (fields) => {
        const ours = toMultipartBody(fields);
        const theirs = await undiciBody(fields);
        expect(ours.body).toBe(theirs.body.replaceAll(theirs.boundary, boundaryOf(ours.contentType)));
        const theirType = `multipart/form-data; boundary=${theirs.boundary}`;
        expect(await parsedFields(ours.contentType, ours.body)).toEqual(await parsedFields(theirType, theirs.body));
      }),
      { numRuns: 300 },
    );
  });
});
