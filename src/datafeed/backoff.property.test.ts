import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCapMs, backoffDelayMs, DEFAULT_BACKOFF } from './backoff.ts';

const options = fc
  .record({
    initialIntervalMs: fc.integer({ min: 1, max: 10_000 }),
    multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
    extraMs: fc.integer({ min: 0, max: 1_000_000 }),
  })
  .map(({ initialIntervalMs, multiplier, extraMs }) => ({
    initialIntervalMs,
    multiplier,
    maxIntervalMs: initialIntervalMs + extraMs,
  }));
const attempt = fc.integer({ min: 0, max: 5_000 });
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('backoff', () => {
  it('draws a whole delay within [0, cap] and the cap within [initial, max]', () => {
    fc.assert(
      fc.property(attempt, options, unit, (n, opts, r) => {
        const cap = backoffCapMs(n, opts);
        const delay = backoffDelayMs(n, opts, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(cap);
        expect(cap).toBeGreaterThanOrEqual(opts.initialIntervalMs);
        expect(cap).toBeLessThanOrEqual(opts.maxIntervalMs);
      }),
    );
  });

  it('never lowers the cap from one attempt to the next, and reaches the max', () => {
    fc.assert(
      fc.property(attempt, options, (n, opts) => {
        expect(backoffCapMs(n + 1, opts)).toBeGreaterThanOrEqual(backoffCapMs(n, opts));
        if (opts.multiplier >= 1.01) expect(backoffCapMs(5_000, opts)).toBe(opts.maxIntervalMs);
      }),
    );
  });

  it('grows the delay with the random draw (full jitter)', () => {
    fc.assert(
      fc.property(attempt, options, unit, unit, (n, opts, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        expect(backoffDelayMs(n, opts, () => low)).toBeLessThanOrEqual(backoffDelayMs(n, opts, () => high));
      }),
    );
  });

  it('uses the BDK datafeed defaults: 500 ms, ×2, 300_000 ms', () => {
    expect(DEFAULT_BACKOFF).toEqual({ initialIntervalMs: 500, multiplier: 2, maxIntervalMs: 300_000 });
    expect([0, 1, 2, 9, 10, 60].map((n) => backoffCapMs(n))).toEqual([500, 1000, 2000, 256_000, 300_000, 300_000]);
    expect(backoffDelayMs(3, {}, () => 0)).toBe(0);
    expect(backoffDelayMs(3, {}, () => 0.5)).toBe(2000);
  });

  it('refuses a negative or fractional attempt and out-of-range options', () => {
    expect(() => backoffDelayMs(-1)).toThrow(RangeError);
    expect(() => backoffDelayMs(0.5)).toThrow(RangeError);
    expect(() => backoffCapMs(0, { initialIntervalMs: 0 })).toThrow(RangeError);
    expect(() => backoffCapMs(0, { multiplier: 0.5 })).toThrow(RangeError);
    expect(() => backoffCapMs(0, { initialIntervalMs: 1000, maxIntervalMs: 10 })).toThrow(RangeError);
  });
});
