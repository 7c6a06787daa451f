/**
 * A new epoch id: opaque, random, short. Every history store starts a room's
 * new epoch with one (memory: a room first seen or evicted; Redis: a room whose
 * data was lost or written by another Redis process), so it lives beside the
 * HistoryStore contract rather than in one of its implementations.
 */
import { randomFillSync } from 'node:crypto';

const EPOCH_BYTES = 6;
/**
 * Random bytes drawn 512 epochs at a time: a new room (every connection's
 * personal room starts one) would otherwise cost a call into the CSPRNG each.
 * Each epoch still takes bytes no other epoch used.
 */
const pool = Buffer.alloc(EPOCH_BYTES * 512);
let next = pool.length;

export function newEpoch(): string {
  if (next >= pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const epoch = pool.toString('base64url', next, next + EPOCH_BYTES);
  next += EPOCH_BYTES;
  return epoch;
}
