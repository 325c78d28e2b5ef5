import { describe, expect, it } from 'vitest';
import { toHealth } from './health-server.ts';

describe('toHealth', () => {
  it('is healthy while the last read is at most 60 s old, unhealthy after, saying why', () => {
    expect(toHealth(1_000, 0, 61_000)).toEqual({ ok: true, reason: 'the datafeed was read recently', lastReadAgoMs: 60_000 });
    const stale = toHealth(1_000, 0, 61_001);
    expect(stale.ok).toBe(false);
    expect(stale.reason).toBe('no datafeed read for 60001 ms (limit 60000 ms)');
  });

  it('gives the first long poll 60 s from start, then reports that no read completed', () => {
    expect(toHealth(undefined, 5_000, 65_000)).toMatchObject({ ok: true, lastReadAgoMs: null });
    const late = toHealth(undefined, 5_000, 65_001);
    expect(late.ok).toBe(false);
    expect(late.reason).toContain('no datafeed read completed');
  });
});
