import { describe, expect, it } from 'vitest';
import { randomBase64url } from './random-id.ts';

describe('randomBase64url', () => {
  it('gives ids of the length randomBytes(n).toString("base64url") gives, never twice the same', () => {
    const seen = new Set<string>();
    // Over 4 KiB of draws: the pool is refilled on the way.
    for (let i = 0; i < 1_000; i++) {
      const id = randomBase64url(25);
      expect(id).toMatch(/^[A-Za-z0-9_-]{34}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(1_000);
    expect(randomBase64url(24)).toHaveLength(32);
    expect(randomBase64url(9)).toHaveLength(12);
  });

  it('throws a RangeError outside 1 to 4096 bytes', () => {
    expect(() => randomBase64url(0)).toThrow(RangeError);
    expect(() => randomBase64url(4097)).toThrow(RangeError);
    expect(() => randomBase64url(1.5)).toThrow(RangeError);
  });
});
