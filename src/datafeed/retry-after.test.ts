import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toRetryAfterMs } from './retry-after.ts';

describe('toRetryAfterMs', () => {
  it('reads delay-seconds', () => {
    expect(toRetryAfterMs('0')).toBe(0);
    expect(toRetryAfterMs(' 2 ')).toBe(2000);
    expect(toRetryAfterMs(['5', '7'])).toBe(5000);
    fc.assert(fc.property(fc.nat({ max: 1_000_000 }), (s) => toRetryAfterMs(String(s)) === s * 1000));
  });

  it('reads an HTTP date relative to now, 0 when past', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:27:30 GMT');
    expect(toRetryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', now)).toBe(30_000);
    expect(toRetryAfterMs('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
    expect(toRetryAfterMs(new Date(now + 4000).toUTCString(), now)).toBe(4000);
  });

  it('returns undefined when absent or neither form', () => {
    for (const value of [undefined, '', '  ', '-1', '1.5', 'soon', '2e3', 'Someday, 99 Foo']) {
      expect(toRetryAfterMs(value)).toBeUndefined();
    }
  });
});
