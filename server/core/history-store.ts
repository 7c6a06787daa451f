/**
 * The history of each room: the contract every store (memory, Redis) fulfils.
 *
 * - Offsets are per (namespace, room), contiguous from 1 within an epoch.
 * - `append` assigns the next offset and stores the publication as one atomic
 *   step; a publication is broadcast only after append resolved, so every
 *   broadcast offset is also in history (until trimmed).
 * - The epoch changes only when the room's history was lost (its entries and
 *   counter gone), or when the store cannot rule out that it lost acknowledged
 *   writes (Redis restarted from older data, see backends/redis/history-scripts.ts): an offset is
 *   never handed out twice within one epoch. Epochs are opaque, not ordered. A
 *   client holding a position of another epoch cannot be proven complete and
 *   gets `recovered: false`.
 * - An idempotency key seen before (same namespace and room, within the TTL)
 *   makes `append` return the stored message with `duplicate: true` instead of
 *   storing it again.
 * - `appendMany` is `append` for many publications (rooms and namespaces mixed)
 *   at once, with exactly its guarantees per item: each room's offsets follow
 *   the order given, each key is checked per item (a key repeated inside one
 *   call is a duplicate from its second use on), and each item answers on its
 *   own: its AppendResult, or its error (UNAVAILABLE: not stored; an
 *   OutcomeUnknownError: may be stored, retry it with its key). One item's
 *   refusal (say, data the store cannot serialise) does not touch the others;
 *   a store that is unreachable answers every item UNAVAILABLE. It resolves,
 *   never rejects: one answer per item, in order.
 */
import type { JsonValue, Message, StreamPosition } from '../../shared/index.js';
import { RoomcastError } from '../errors.js';

export interface NewPublication {
  event: string;
  data: JsonValue;
  /** `data` as JSON text when the caller already has it (a store that serialises uses it instead of serialising again). */
  dataJson?: string;
  ts: number;
  from?: string;
}

/**
 * The JSON text a store keeps for `publication`: its `dataJson`, or `data` serialised. Data with no JSON
 * text (a BigInt, a cycle, undefined) is INVALID_PAYLOAD, thrown before the room is touched: stored, it
 * could never be read back, and no offset may be spent on it.
 */
export function storedJson(publication: NewPublication): string {
  if (publication.dataJson !== undefined) return publication.dataJson;
  let json: string | undefined;
  try {
    json = JSON.stringify(publication.data) as string | undefined;
  } catch {
    json = undefined;
  }
  if (json === undefined) throw new RoomcastError('INVALID_PAYLOAD', 'data cannot be stored as JSON');
  return json;
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
  /**
   * Up to `limit` messages, one contiguous run of offsets in order: after `since`
   * when recovered; when not, what history still holds of the range (the first
   * retained offsets after `since`, or the oldest retained of the current epoch
   * when `since` is of another one; nothing when `since` is ahead of the room),
   * so the reader reports a gap for the part before them and takes the rest.
   */
  messages: Message[];
}

/** One publication of an appendMany call: append's arguments. */
export interface AppendItem {
  namespace: string;
  room: string;
  publication: NewPublication;
  idempotencyKey?: string;
}

/** The answer to one item of appendMany: stored (or a duplicate), or its own error (as `append` would have thrown it). */
export type AppendItemResult = { ok: true; result: AppendResult } | { ok: false; error: unknown };

export interface HistoryStore {
  append(namespace: string, room: string, publication: NewPublication, idempotencyKey?: string): Promise<AppendResult>;
  /** `append` for each item, in order (see the contract above); results[i] answers items[i]. */
  appendMany(items: readonly AppendItem[]): Promise<AppendItemResult[]>;
  /** The room's current epoch and last offset (offset 0 before the first publication). */
  position(namespace: string, room: string): Promise<StreamPosition>;
  /** Messages after `since` (exclusive); without `since`, the oldest retained ones. */
  read(namespace: string, room: string, since: StreamPosition | undefined, limit: number): Promise<HistoryRead>;
  close(): Promise<void>;
}
