import { describe, expect, it } from 'vitest';
import { createTraceId } from './trace-id.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

describe('createTraceId', () => {
  it('makes 6 alphanumerics, every character of [A-Za-z0-9] about equally often, across pool refills', () => {
    // 10_000 ids use ~64 KB of random bytes: the 4 KiB pool is refilled about 15 times.
    const ids = Array.from({ length: 10_000 }, createTraceId);
    const counts = new Map<string, number>();
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9]{6}$/);
      for (const char of id) counts.set(char, (counts.get(char) ?? 0) + 1);
    }
    expect([...counts.keys()].sort().join('')).toBe([...ALPHABET].sort().join(''));
    // Expected 60_000 / 62 ≈ 968 each (σ ≈ 31): ±30 % is ~9σ, so only a biased or broken draw fails.
    for (const [char, count] of counts) expect([char, Math.abs(count - 60_000 / 62) < 290]).toEqual([char, true]);
  });

  it('differs from one call to the next', () => {
    const ids = Array.from({ length: 1_000 }, createTraceId);
    // 62^6 ≈ 5.7e10 values: two repeats among 1_000 have a chance of ~1e-11.
    expect(new Set(ids).size).toBeGreaterThanOrEqual(999);
  });
});
