/**
 * The retry loop shared by the datafeed source and the reply sender: transient failures (network, 5xx, 429,
 * a 401 that outlived one re-authentication) are retried after a delay; everything else is thrown at once.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ERROR_CODES } from '../errors.ts';
import { HttpError } from './agent-http.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';

/** Waits `ms`; rejects with the signal's reason when `signal` aborts first. Injected by tests. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** The real {@link Sleep} (node:timers/promises). */
export const realSleep: Sleep = (ms, signal) => delay(ms, undefined, { signal });

/** Backoff plus the number of tries. */
export type RetryOptions = BackoffOptions & {
  /** Tries in all, the first included. `Infinity` retries for ever. Default: depends on the caller. */
  readonly maxAttempts?: number;
};

/** How {@link withRetry} runs. */
export type RetryPolicy = {
  readonly retry: RetryOptions;
  readonly sleep: Sleep;
  readonly signal: AbortSignal;
  /** Called before each wait: the failure, the number of the try about to come (2 = first retry), the wait. */
  readonly onRetry: (err: HttpError, nextAttempt: number, delayMs: number) => void;
  /** Randomness for the jitter. Default: `Math.random`. */
  readonly random?: () => number;
};

/** True for an HttpError of a transient code (docs/errors.md, kind `transient`). */
export function isTransient(err: unknown): err is HttpError {
  return err instanceof HttpError && ERROR_CODES[err.code] === 'transient';
}

/**
 * The wait before the retry that follows the `failures`-th transient failure (from 0): the server's
 * `Retry-After` when the error carries one, capped at `maxIntervalMs` (a 429 is waited out, a buggy
 * header does not park the bot for a day), else the jittered exponential backoff.
 */
export function retryDelayMs(err: HttpError, failures: number, retry: BackoffOptions, random?: () => number): number {
  if (err.retryAfterMs !== undefined) {
    return Math.min(err.retryAfterMs, retry.maxIntervalMs ?? DEFAULT_BACKOFF.maxIntervalMs);
  }
  return backoffDelayMs(failures, retry, random);
}

/**
 * Runs `op` until it succeeds, throws a non-transient error, or `maxAttempts` tries failed (then the last
 * error is thrown). Each call starts with a fresh attempt count, so the backoff resets after a success.
 *
 * @throws whatever `op` throws last; the signal's reason when `signal` aborts a wait.
 */
export async function withRetry<T>(op: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  const maxAttempts = policy.retry.maxAttempts ?? Infinity;
  for (let failures = 0; ; failures += 1) {
    try {
      return await op();
    } catch (err) {
      if (!isTransient(err) || failures + 1 >= maxAttempts || policy.signal.aborted) throw err;
      const delayMs = retryDelayMs(err, failures, policy.retry, policy.random);
      policy.onRetry(err, failures + 2, delayMs);
      await policy.sleep(delayMs, policy.signal);
    }
  }
}
