/**
 * A new epoch id: opaque, random, short. Every history store starts a room's
 * new epoch with one (memory: a room first seen or evicted; Redis: a room whose
 * data was lost or written by another Redis process), so it lives beside the
 * HistoryStore contract rather than in one of its implementations.
 */
import { randomId } from './random-ids.js';

const EPOCH_BYTES = 6;

export function newEpoch(): string {
  return randomId(EPOCH_BYTES);
}
