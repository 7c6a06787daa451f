/**
 * Random ids drawn from a pool of CSPRNG bytes, base64url: epochs (every
 * connection's personal room starts one) and session ids (one per
 * connection). A call into the CSPRNG per id cost ~20 µs per connection under
 * load (`randomBytes` of 15 bytes in a capacity profile), more than the rest of
 * the handshake's id work; Engine.IO's own id generator pools its bytes too.
 * Each id still takes bytes no other id used.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 8192;
const pool = Buffer.alloc(POOL_BYTES);
let next = POOL_BYTES;

/** `bytes` fresh random bytes as base64url (a multiple of 3 gives no padding characters). */
export function randomId(bytes: number): string {
  if (bytes > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} random bytes per id`);
  if (next + bytes > POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  const id = pool.toString('base64url', next, next + bytes);
  next += bytes;
  return id;
}
