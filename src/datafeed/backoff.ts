/**
 * Exponential backoff with full jitter for the datafeed loop and the reply sender.
 *
 * The cap of attempt n (from 0) is `min(initialIntervalMs · multiplier^n, maxIntervalMs)` (BDK Java
 * `BdkExponentialFunction`); the delay is drawn uniformly from `[0, cap]` ("full jitter"), so that bot
 * instances that failed together do not retry together. Defaults are the BDK datafeed retry defaults
 * (reference §4.1 item 7: 500 ms, ×2, 300_000 ms).
 */

/** How retries back off. Every field is optional; see {@link DEFAULT_BACKOFF}. */
export type BackoffOptions = {
  /** The cap of the first retry. Default: 500 ms. Must be positive. */
  readonly initialIntervalMs?: number;
  /** Growth of the cap per attempt. Default: 2. Must be ≥ 1. */
  readonly multiplier?: number;
  /** The largest cap. Default: 300_000 ms. Must be ≥ `initialIntervalMs`. */
  readonly maxIntervalMs?: number;
};

/** The BDK datafeed defaults (BDK Java `BdkRetryConfig`; BDK Python docs). */
export const DEFAULT_BACKOFF = { initialIntervalMs: 500, multiplier: 2, maxIntervalMs: 300_000 } as const;

/**
 * The upper bound of the delay before retry `attempt` (0 = the first retry), in ms. Non-decreasing in
 * `attempt` and never above `maxIntervalMs`.
 *
 * @throws RangeError when `attempt` is not a non-negative integer or the options are out of range.
 */
export function backoffCapMs(attempt: number, options: BackoffOptions = {}): number {
  const { initialIntervalMs, multiplier, maxIntervalMs } = { ...DEFAULT_BACKOFF, ...options };
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`backoff: attempt must be a non-negative integer, got ${attempt}`);
  }
  if (!(initialIntervalMs > 0) || !(multiplier >= 1) || !(maxIntervalMs >= initialIntervalMs)) {
    throw new RangeError(
      `backoff: need initialIntervalMs > 0, multiplier >= 1, maxIntervalMs >= initialIntervalMs; got ` +
        `${initialIntervalMs}, ${multiplier}, ${maxIntervalMs}`,
    );
  }
  // multiplier ** attempt overflows to Infinity for large attempts; min() then yields the max cap.
  return Math.min(initialIntervalMs * multiplier ** attempt, maxIntervalMs);
}

/**
 * The delay before retry `attempt` (0 = the first retry), in whole ms, drawn with full jitter from
 * `[0, backoffCapMs(attempt)]`. Pure: the randomness comes from `random` (values in `[0, 1)`).
 *
 * @throws RangeError when `attempt` is not a non-negative integer or the options are out of range.
 * @example
 * await sleep(backoffDelayMs(failures, { initialIntervalMs: 500, multiplier: 2, maxIntervalMs: 300_000 }));
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const cap = backoffCapMs(attempt, options);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * cap);
}
