import { describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import { FAULT_KINDS, createFaultInjector, createPrng, parseFaultOptions } from './faults.ts';

const ALL = new Set(FAULT_KINDS);

describe('createPrng', () => {
  it('repeats its sequence for a seed and differs across seeds', () => {
    const take = (seed: number) => {
      const next = createPrng(seed);
      return Array.from({ length: 5 }, () => next());
    };
    expect(take(7)).toEqual(take(7));
    expect(take(7)).not.toEqual(take(8));
    for (const value of take(123)) expect(value >= 0 && value < 1).toBe(true);
  });
});

describe('createFaultInjector', () => {
  it('draws each kind about as often as its rate, and counts what it injects', () => {
    const faults = createFaultInjector(1, { serverErrorRate: 0.25, dropConnectionRate: 0.25 });
    const drawn = Array.from({ length: 4_000 }, () => faults.draw('datafeed', ALL));
    const share = (kind: string) => drawn.filter((d) => d === kind).length / drawn.length;
    expect(share('serverError')).toBeCloseTo(0.25, 1);
    expect(share('dropConnection')).toBeCloseTo(0.25, 1);
    expect(faults.counts().serverError).toBe(drawn.filter((d) => d === 'serverError').length);
    expect(faults.counts().tooManyRequests).toBe(0);
  });

  it('skips areas outside `only` (auth by default) and kinds that do not apply', () => {
    const faults = createFaultInjector(1, { feedExpiryRate: 1 });
    expect(faults.draw('auth', ALL)).toBeUndefined();
    expect(faults.draw('message', new Set(['serverError'] as const))).toBeUndefined();
    expect(faults.draw('datafeed', ALL)).toBe('feedExpiry');
    expect(faults.counts().feedExpiry).toBe(1);
    faults.set({ feedExpiryRate: 1, only: ['auth'] });
    expect(faults.draw('auth', ALL)).toBe('feedExpiry');
    expect(faults.draw('datafeed', ALL)).toBeUndefined();
  });

  it('refuses rates outside [0, 1], a sum above 1 and unknown fields', () => {
    for (const options of [{ serverErrorRate: 1.5 }, { serverErrorRate: 0.6, slowResponseRate: 0.6 }, { nope: 1 }]) {
      let err: unknown;
      try {
        parseFaultOptions(options);
      } catch (e) {
        err = e;
      }
      expect(isChorusError(err, 'CHORUS_ERR_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(/^faults/);
    }
  });
});
