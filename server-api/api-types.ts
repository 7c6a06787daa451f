/**
 * The bodies and answers of the gateway's REST API (DESIGN "HTTP" and "Backend
 * integration"), as the client sends and returns them. The answers are the
 * gateway's own types (shared/api.ts, inferred from the schemas it validates with
 * and documents in GET /api/v1/openapi.json), without their `ok`; the inputs are
 * what a caller writes (positions as objects or "<epoch>:<offset>", keys optional).
 */
import type { HistoryResponse, PresenceCountsResponse, PresenceListResponse, PublishItemResult, RoomCount } from '../shared/api.js';
import type { ErrorPayload } from '../shared/errors.js';
import type { PublishResult } from '../shared/events.js';
import type { JsonValue, Message, PresenceMember } from '../shared/schemas.js';

export type { JsonValue, Message, PresenceMember, PublishItemResult, PublishResult };

/** A position in a room's stream: the last offset seen, in an epoch. */
export interface StreamPositionInput {
  epoch: string;
  offset: number;
}

interface PublicationFields {
  /** Default `/`. */
  namespace?: string;
  event: string;
  data: JsonValue;
  /**
   * Kept across the client's retries (and yours, when the outcome was unknown): the gateway
   * stores the publication once per namespace + room + key. Made with crypto.randomUUID() when absent.
   */
  idempotencyKey?: string;
}

/** POST /api/v1/publish: exactly one of `room` and `rooms`. */
export type PublishInput = PublicationFields & ({ room: string; rooms?: never } | { rooms: string[]; room?: never });

export interface PublishOutcome {
  /**
   * One item per room, as the gateway gave them: `{ room, offset, epoch }` (stored), `{ room, error }`
   * (refused) or `{ room, error, unknown: true }` (maybe stored: publish that room again with the same key).
   * A publish into one room that is refused throws instead, so its single item is always stored.
   */
  results: PublishItemResult[];
  /** The key the publication was sent with (yours or the one made for it). */
  idempotencyKey: string;
}

/** One item of POST /api/v1/batch. */
export type BatchPublication = PublicationFields & { room: string };

export interface BatchOutcome {
  /** `results[i]` answers `publications[i]`, as the gateway gave it (see PublishOutcome.results). */
  results: PublishItemResult[];
  /** The publications as sent, each with its idempotency key: resend the ones whose result is `unknown` as they are. */
  publications: Array<BatchPublication & { idempotencyKey: string }>;
}

export interface HistoryQuery {
  room: string;
  namespace?: string;
  /** Read what came after this position (exclusive); absent: from the oldest kept. `"<epoch>:<offset>"` also works. */
  since?: StreamPositionInput | string;
  limit?: number;
}

/** GET /api/v1/rooms/:room/history, the same rules as `room:history`. */
export type HistoryPage = Omit<HistoryResponse, 'ok'>;

export interface RoomsQuery {
  namespace?: string;
  prefix?: string;
  /** Rooms per page (the gateway caps it). */
  limit?: number;
  /** Where the previous page ended. */
  cursor?: string;
}

/** A room and its connections across every node. */
export type RoomEntry = RoomCount;

/** GET /api/v1/rooms: one page; `cursor` absent or null on the last one. */
export interface RoomsPage {
  rooms: RoomEntry[];
  cursor?: string | null;
}

export interface RoomQuery {
  room: string;
  namespace?: string;
}

export type PresenceList = Omit<PresenceListResponse, 'ok'>;

/** Connections in the room and distinct users among them. */
export type PresenceCounts = Pick<PresenceCountsResponse, 'members' | 'users'>;

export interface DisconnectUserInput {
  user: string;
  /** The code the closed connections receive in `protocol:error` (gateway default UNAUTHENTICATED). */
  code?: ErrorPayload['code'];
}

export interface LeaveRoomInput {
  user: string;
  room: string;
  namespace?: string;
}
