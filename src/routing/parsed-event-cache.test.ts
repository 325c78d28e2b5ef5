import { describe, expect, it } from 'vitest';
import type { ChorusEvent } from '../events/event.ts';
import { createParsedEventCache } from './parsed-event-cache.ts';

const eventOf = (key: string): ChorusEvent => ({ dedupeKey: key }) as unknown as ChorusEvent;

describe('createParsedEventCache', () => {
  it('gives an event back once, only for the wire text it was parsed from', () => {
    const cache = createParsedEventCache(3);
    cache.remember('a', 'wire a', eventOf('a'));
    cache.remember('b', 'wire b', eventOf('b'));
    expect(cache.take('a', 'other wire')).toBeUndefined();
    expect(cache.take('a', 'wire a')).toBeUndefined(); // taken above, though refused
    expect(cache.take('b', 'wire b')).toEqual(eventOf('b'));
    expect(cache.take('b', 'wire b')).toBeUndefined();
  });

  it('past its bound drops the oldest remembered; a key remembered again counts from then', () => {
    const cache = createParsedEventCache(3);
    for (const key of ['a', 'b', 'c']) cache.remember(key, key, eventOf(key));
    cache.remember('a', 'a', eventOf('a')); // a redelivery: now the newest
    cache.remember('d', 'd', eventOf('d')); // drops b, the oldest
    expect(cache.take('b', 'b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((key) => cache.take(key, key))).toEqual(['a', 'c', 'd'].map(eventOf));
  });

  it('keeps an event while fewer than max were remembered after it, whether those were taken or not', () => {
    const cache = createParsedEventCache(3);
    cache.remember('a', 'w', eventOf('a'));
    cache.remember('b', 'w', eventOf('b'));
    expect(cache.take('b', 'w')).toEqual(eventOf('b'));
    cache.remember('c', 'w', eventOf('c'));
    expect(cache.take('c', 'w')).toEqual(eventOf('c'));
    expect(cache.take('a', 'w')).toEqual(eventOf('a')); // two remembered after it: still kept
    cache.remember('d', 'w', eventOf('d'));
    for (const key of ['e', 'f', 'g']) {
      cache.remember(key, 'w', eventOf(key));
      expect(cache.take(key, 'w')).toEqual(eventOf(key));
    }
    expect(cache.take('d', 'w')).toBeUndefined(); // three remembered after it: its slot was reused
  });

  it('keeps the eviction order through many events taken and dropped', () => {
    const cache = createParsedEventCache(3);
    for (let i = 0; i < 1_000; i++) {
      cache.remember(`k${i}`, 'w', eventOf(`k${i}`));
      if (i % 2 === 0) expect(cache.take(`k${i}`, 'w')).toEqual(eventOf(`k${i}`));
    }
    expect(cache.take('k997', 'w')).toEqual(eventOf('k997')); // among the last three remembered
    for (const i of [993, 995, 997, 999]) cache.remember(`x${i}`, 'w', eventOf(`x${i}`));
    expect(cache.take('k999', 'w')).toBeUndefined(); // pushed out by the four newer ones
    expect(['x995', 'x997', 'x999'].map((key) => cache.take(key, 'w'))).toEqual(['x995', 'x997', 'x999'].map(eventOf));
  });
});
