/**
 * The dead-letter port: events that could not be handled, kept with the reason. Adapters: memory (here);
 * a durable list with `chorus dead-letters` follows with the stores.
 */
import type { ChorusError } from '../errors.ts';

/** An event that could not be handled: malformed (CHORUS_ERR_EVENT_INVALID) or failed by a listener. */
export type DeadLetter = {
  /** The wire event exactly as received. */
  readonly wire: unknown;
  readonly error: ChorusError;
  /** Milliseconds since the epoch. */
  readonly failedAt: number;
};

/** Where dead letters go. */
export type DeadLetterSink = {
  put(letter: DeadLetter): void;
};

/**
 * A sink that keeps dead letters in an array, in arrival order, at most `maxLetters` of them (default:
 * unlimited; the oldest are dropped first).
 */
export function createMemoryDeadLetters(
  maxLetters = Infinity,
): DeadLetterSink & { readonly letters: readonly DeadLetter[] } {
  const letters: DeadLetter[] = [];
  return {
    letters,
    put(letter) {
      letters.push(letter);
      if (letters.length > maxLetters) letters.shift();
    },
  };
}
