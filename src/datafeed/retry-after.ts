/**
 * The `Retry-After` response header (RFC 9110 §10.2.3), which Symphony sends with a 429 (reference §3.3:
 * "the application should be written … to honor the Retry-After header").
 */

/**
 * Converts a `Retry-After` value to a delay in ms: `delay-seconds` (digits) times 1000, or the time from
 * `nowMs` until an HTTP date (0 when the date is past). Returns `undefined` when the header is absent or is
 * neither form, so the caller falls back to its backoff.
 *
 * @example
 * toRetryAfterMs('2'); // 2000
 * toRetryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:30 GMT')); // 30000
 */
export function toRetryAfterMs(header: string | readonly string[] | undefined, nowMs: number = Date.now()): number | undefined {
  const value = (typeof header === 'string' ? header : header?.[0])?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date always names a weekday or month, so bare numbers never get here; Date.parse reads IMF-fixdate
  // as well as the obsolete RFC 850 and asctime forms.
  if (!/[a-z]/i.test(value)) return undefined;
  const dateMs = Date.parse(value);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}
