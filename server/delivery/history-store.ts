/**
 * The history of each room: the contract every store (memory, Redis) fulfils.
 *
 * - Offsets are per (namespace, room), contiguous from 1 within an epoch.
 * - `append` assigns the next offset and stores the publication as one atomic
 *   step; a publication is broadcast only after append resolved, so every
 *   broadcast offset is also in history (until trimmed).
 * - The epoch changes only when the room's history was lost (its entries and
 *   counter gone); a client holding a position of an older epoch cannot be
 *   proven complete and gets `recovered: false`.
 * - An idempotency key seen before (same namespace and room, within the TTL)
 *   makes `append` return the stored message with `duplicate: true` instead of
 *   storing it again.
 */
import type { JsonValue, Message, StreamPosition } from '../../shared/index.js';

export interface NewPublication {
  event: string;
  data: JsonValue;
  /** `data` as JSON text when the caller already has it (a store that serialises uses it instead of serialising again). */
  dataJson?: string;
  ts: number;
  from?: string;
}

export interface AppendResult {
  message: Message;
  duplicate: boolean;
}

export interface HistoryRead {
  epoch: string;
  /** The room's last offset at the time of the read. */
  offset: number;
  /** True when history holds every offset after `since` (or nothing was missed). */
  recovered: boolean;
  /** Up to `limit` messages after `since`, in offset order; empty when not recovered. */
  messages: Message[];
}

export interface HistoryStore {
  append(namespace: string, room: string, publication: NewPublication, idempotencyKey?: string): Promise<AppendResult>;
  /** The room's current epoch and last offset (offset 0 before the first publication). */
  position(namespace: string, room: string): Promise<StreamPosition>;
  /** Messages after `since` (exclusive); without `since`, the oldest retained ones. */
  read(namespace: string, room: string, since: StreamPosition | undefined, limit: number): Promise<HistoryRead>;
  close(): Promise<void>;
}
