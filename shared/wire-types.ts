/**
 * The payloads of the protocol as plain TypeScript types, without zod: what the
 * client SDK compiles against. The gateway validates the same payloads with the
 * zod schemas of schemas.ts, which checks at compile time that each schema's
 * inferred type is exactly the type declared here (they cannot drift apart).
 */

/** Any JSON value: what a publication may carry as `data`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A position in a room's stream: the last offset seen within an epoch. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

// ---- client -> server -------------------------------------------------------

export interface JoinRequest {
  room: string;
  since?: StreamPosition;
}

export interface LeaveRequest {
  room: string;
}

export interface PublishRequest {
  room: string;
  event: string;
  data: JsonValue;
  idempotencyKey?: string;
}

export interface HistoryRequest {
  room: string;
  since?: StreamPosition;
  limit?: number;
}

export interface PresenceListRequest {
  room: string;
}

/** A volatile signal (typing, cursor): broadcast to the room's other members, never stored, no offset. */
export interface SignalRequest {
  room: string;
  event: string;
  data: JsonValue;
}

export interface AuthRefreshRequest {
  token: string;
}

// ---- server -> client -------------------------------------------------------

/** One publication of a room. */
export interface Message {
  room: string;
  event: string;
  data: JsonValue;
  offset: number;
  epoch: string;
  ts: number;
  /** The publishing user; absent for publications over the HTTP API. */
  from?: string;
}

export interface Signal {
  room: string;
  event: string;
  data: JsonValue;
  ts: number;
  from: string;
}

export interface PresenceMember {
  userId: string;
  connectionId: string;
  nodeId: string;
  joinedAt: number;
}
