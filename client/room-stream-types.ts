/**
 * The public types of a room's stream (room-stream.ts): what it is given (its
 * options), and what it tells the application besides its messages: the gaps
 * it could not fill (each an explicit event, never a silence) and the rejoins
 * that recovered everything.
 */
import type { HistoryResult } from '../shared/events.js';
import type { Message, StreamPosition } from '../shared/wire-types.js';
import type { RoomcastError } from './errors.js';
import type { Scheduler } from './scheduler.js';

/**
 * Why offsets could not be delivered:
 * - `expired`: history no longer holds them (trimmed by size or TTL);
 * - `epoch-changed`: the room's history was lost on the gateway and restarted under a new epoch, or the
 *   gateway lost acknowledged writes and went back to an older offset (the stream restarts at offset 0);
 * - `unavailable`: history could not be read (refused for good, or still failing after the retries).
 */
export type GapReason = 'expired' | 'epoch-changed' | 'unavailable';

export interface GapEvent {
  room: string;
  /** The epoch the missing offsets belong to. */
  epoch: string;
  /** First missing offset. */
  from: number;
  /** Last missing offset; null when an epoch ended at an offset nobody can know any more. */
  to: number | null;
  recovered: false;
  reason: GapReason;
}

export interface RecoveredEvent {
  room: string;
  epoch: string;
  /** How many publications happened while this client was away (all of them are delivered). */
  missed: number;
}

export interface RoomStreamOptions {
  room: string;
  /** How long a later offset is held, waiting for the earlier ones, before history is asked. */
  reorderWindowMs: number;
  /** Largest `limit` of one history request. */
  historyPageSize?: number;
  /** Failed or fruitless history reads retried before the missing range is reported as a gap. */
  maxHistoryRetries?: number;
  scheduler: Scheduler;
  /** `room:history` for this room; rejects with a RoomcastError. */
  fetchHistory(since: StreamPosition, limit: number): Promise<HistoryResult>;
  /** The application's callback; must not throw (the client wraps it). */
  deliver(message: Message): void;
  onGap(gap: GapEvent): void;
  onRecovered?(event: RecoveredEvent): void;
  /** A history request failed (it is retried or reported as a gap). */
  onError?(error: RoomcastError): void;
}

/** A server answer about the room, as the stream applies it: a join ack or a history page. */
export interface RoomAnswer {
  epoch: string;
  /** The room's last offset when the server answered. */
  offset: number;
  recovered: boolean;
  messages: readonly Message[];
}
