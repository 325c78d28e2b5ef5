/**
 * Trace ids for the `X-Trace-Id` request header: Symphony prints the header in its server logs, so a failed
 * call's id, quoted to Symphony support, finds that call (reference §3.3, DOCS `bots/bots-best-practices.md`:
 * "X-Trace-Id (6 alphanumerics)"; BDK Java `DistributedTracingContext`, which draws them from
 * `java.util.Random`).
 */
import { randomFillSync } from 'node:crypto';

/** The 62 characters of a trace id. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const CODES = Uint8Array.from(ALPHABET, (char) => char.charCodeAt(0));

/** Random bytes drawn 4 KiB at a time: one `randomFillSync` per ~650 ids instead of one call per id. */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let next = POOL_BYTES;

/** One uniformly drawn alphabet character code: the low 6 bits of a pooled byte, 62 and 63 drawn again. */
function randomCode(): number {
  for (;;) {
    if (next === POOL_BYTES) {
      randomFillSync(pool);
      next = 0;
    }
    const six = (pool[next++] as number) & 63;
    if (six < 62) return CODES[six] as number;
  }
}

/**
 * A fresh trace id: 6 characters of `[A-Za-z0-9]`, uniform (62^6 ≈ 5.7e10 values, so ids of calls close in
 * time practically never repeat). Not a secret and not meant to be unguessable: it only labels a request.
 * Cost: about 20 ns, no allocation but the string (a pool of random bytes refilled every ~650 ids).
 *
 * @example
 * headers['X-Trace-Id'] = createTraceId(); // e.g. 'q3ZfK8'
 */
export function createTraceId(): string {
  return String.fromCharCode(randomCode(), randomCode(), randomCode(), randomCode(), randomCode(), randomCode());
}
