/**
 * Random ids of the pod (message ids, event ids, ackIds) from a pool of random bytes: `randomBytes` per id costs
 * a call into the CSPRNG for a few bytes; the pool draws 4 KiB at a time. Same quality (node:crypto's CSPRNG),
 * same encoding.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

/**
 * `bytes` fresh random bytes as URL-safe base64 without padding (what `randomBytes(bytes).toString('base64url')`
 * gives). Never reuses a byte.
 *
 * @throws RangeError when `bytes` is not an integer from 1 to 4096.
 * @example
 * randomBase64url(24); // 32 characters, e.g. 'q3Xv…'
 */
export function randomBase64url(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > POOL_BYTES) throw new RangeError(`randomBase64url: 1 to ${POOL_BYTES} bytes, got ${bytes}`);
  if (used + bytes > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const id = pool.toString('base64url', used, used + bytes);
  used += bytes;
  return id;
}
