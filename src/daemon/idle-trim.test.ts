import { getHeapSpaceStatistics } from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureLog } from '../datafeed/loopback.test-support.ts';
import { collectGarbage, startIdleTrim } from './idle-trim.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** A trim scheduler on fake timers: the clock `t`, the last activity, the trims made. */
function scheduler(idleMs: number, trim: () => Promise<void> = async () => undefined) {
  vi.useFakeTimers();
  const clock = { t: 0, lastActiveAt: 0, trims: 0 };
  const capture = captureLog('debug');
  const stop = startIdleTrim({
    idleMs,
    lastActiveAt: () => clock.lastActiveAt,
    now: () => clock.t,
    log: capture.log,
    trim: async () => {
      clock.trims += 1;
      await trim();
    },
  });
  const advance = async (ms: number): Promise<void> => {
    for (let left = ms; left > 0; left -= 100) {
      clock.t += 100;
      await vi.advanceTimersByTimeAsync(100);
    }
  };
  return { clock, stop, advance, lines: capture.lines };
}

describe('startIdleTrim', () => {
  it('trims once per idle period: after idleMs without activity, not again until active since', async () => {
    const { clock, stop, advance, lines } = scheduler(1_000);
    await advance(900);
    expect(clock.trims).toBe(0);
    await advance(600); // idle for 1 to 1.5 × idleMs
    expect(clock.trims).toBe(1);
    await advance(5_000);
    expect(clock.trims).toBe(1);
    for (let i = 0; i < 10; i++) {
      clock.lastActiveAt = clock.t; // events every 500 ms: never idle
      await advance(500);
    }
    expect(clock.trims).toBe(1);
    await advance(1_500);
    expect(clock.trims).toBe(2);
    expect(lines().filter((line) => line['msg'] === 'idle: memory trimmed')).toHaveLength(2);
    stop();
    clock.lastActiveAt = clock.t;
    await advance(5_000);
    expect(clock.trims).toBe(2);
  });

  it('never trims with idleMs 0', async () => {
    const { clock, advance } = scheduler(0);
    await advance(10_000);
    expect(clock.trims).toBe(0);
  });

  it('logs a failed trim at warn and tries no more', async () => {
    const { clock, advance, lines } = scheduler(1_000, async () => {
      throw new Error('no inspector');
    });
    await advance(1_500);
    clock.lastActiveAt = clock.t;
    await advance(3_000);
    expect(clock.trims).toBe(1);
    const warnings = lines().filter((line) => line['level'] === 40);
    expect(warnings.map((line) => [line['msg'], (line['err'] as { message?: unknown } | undefined)?.message])).toEqual([
      ['idle: memory trim failed; not tried again', 'no inspector'],
    ]);
  });
});

describe('collectGarbage', () => {
  it('shrinks the young generation V8 grew', async () => {
    const newSpace = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? Number.NaN;
    let kept: object[] = [];
    for (let i = 0; i < 3_000_000; i++) {
      kept.push({ i }); // survivors of many scavenges: V8 grows new space
      if (kept.length > 100_000) kept = [];
    }
    const grown = newSpace();
    expect(grown).toBeGreaterThan(4 * 1024 * 1024);
    await collectGarbage();
    expect(newSpace()).toBeLessThan(grown / 2);
    expect(kept.length).toBeGreaterThan(0);
  });
});
