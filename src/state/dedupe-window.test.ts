import { describe, expect, it } from 'vitest';
import { createDedupeWindow } from './dedupe-window.ts';

describe('createDedupeWindow', () => {
  it('takes a key once within the window and again after it expires', () => {
    let clock = 0;
    const window = createDedupeWindow({ ttlMs: 1000, now: () => clock });
    expect(window.claim('a')).toBe(true);
    expect(window.claim('a')).toBe(false);
    clock = 999;
    expect(window.claim('a')).toBe(false);
    clock = 1000;
    expect(window.claim('a')).toBe(true);
  });

  it('takes a released key again', () => {
    const window = createDedupeWindow();
    expect(window.claim('a')).toBe(true);
    window.release('a');
    expect(window.claim('a')).toBe(true);
  });

  it('keeps at most maxEntries keys, forgetting the oldest', () => {
    const window = createDedupeWindow({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c', 'd']) expect(window.claim(key)).toBe(true);
    expect(window.claim('a')).toBe(true); // 'a' was evicted to make room for 'd'
    expect(window.claim('d')).toBe(false);
  });

  it('expires keys in insertion order, also after the oldest was released', () => {
    let clock = 0;
    const window = createDedupeWindow({ ttlMs: 100, now: () => clock });
    expect(window.claim('a')).toBe(true);
    clock = 10;
    expect(window.claim('b')).toBe(true);
    window.release('a');
    clock = 109;
    expect(window.claim('b')).toBe(false);
    clock = 110;
    expect(window.claim('b')).toBe(true); // b expired at 110
    clock = 150;
    expect(window.claim('c')).toBe(true);
    expect(window.claim('b')).toBe(false); // re-taken at 110, expires at 210
  });
});
