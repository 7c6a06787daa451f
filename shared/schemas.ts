/**
 * zod schemas of every payload of the protocol. The gateway validates each
 * incoming payload with these at runtime; the TypeScript types below are
 * inferred from them, so the compile-time contract and the runtime check are one.
 */
import { z } from 'zod';
import {
  EVENT_NAME_MAX_LENGTH,
  EVENT_NAME_PATTERN,
  HISTORY_PAGE_MAX,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  ROOM_NAME_MAX_LENGTH,
  ROOM_NAME_PATTERN,
} from './constants.js';
import { looksLikeSocketId, SOCKET_ID_SHAPED_ROOM } from './rooms.js';

export const roomNameSchema = z
  .string()
  .min(1, 'room must not be empty')
  .max(ROOM_NAME_MAX_LENGTH, `room must be at most ${ROOM_NAME_MAX_LENGTH} characters`)
  .regex(ROOM_NAME_PATTERN, 'room may contain only letters, digits and _ - : . @')
  .refine((room) => !looksLikeSocketId(room), SOCKET_ID_SHAPED_ROOM);

export const eventNameSchema = z
  .string()
  .min(1)
  .max(EVENT_NAME_MAX_LENGTH)
  .regex(EVENT_NAME_PATTERN, 'event may contain only letters, digits and _ - : .');

export const namespaceNameSchema = z.string().regex(/^\/[A-Za-z0-9_\-/]*$/, 'namespace must start with / and use letters, digits, _ - /');

export const idempotencyKeySchema = z.string().min(1).max(IDEMPOTENCY_KEY_MAX_LENGTH);

/** A position in a room's stream: the last offset seen within an epoch. */
export const streamPositionSchema = z.strictObject({
  epoch: z.string().min(1).max(64),
  offset: z.int().min(0),
});

/** Any JSON value: what a publication may carry as `data`. */
export const publicationDataSchema = z.json();

// ---- client -> server -------------------------------------------------------

export const joinRequestSchema = z.strictObject({
  room: roomNameSchema,
  since: streamPositionSchema.optional(),
});

export const leaveRequestSchema = z.strictObject({
  room: roomNameSchema,
});

export const publishRequestSchema = z.strictObject({
  room: roomNameSchema,
  event: eventNameSchema,
  data: publicationDataSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
});

export const historyRequestSchema = z.strictObject({
  room: roomNameSchema,
  since: streamPositionSchema.optional(),
  limit: z.int().min(1).max(HISTORY_PAGE_MAX).optional(),
});

export const presenceListRequestSchema = z.strictObject({
  room: roomNameSchema,
});

/** A volatile signal (typing, cursor): broadcast to the room's other members, never stored, no offset. */
export const signalRequestSchema = z.strictObject({
  room: roomNameSchema,
  event: eventNameSchema,
  data: publicationDataSchema,
});

export const authRefreshRequestSchema = z.strictObject({
  token: z.string().min(1).max(8192),
});

// ---- server -> client -------------------------------------------------------

export const messageSchema = z.object({
  room: roomNameSchema,
  event: eventNameSchema,
  data: publicationDataSchema,
  offset: z.int().min(1),
  epoch: z.string(),
  ts: z.number(),
  from: z.string().optional(),
});

export const signalSchema = z.object({
  room: roomNameSchema,
  event: eventNameSchema,
  data: publicationDataSchema,
  ts: z.number(),
  from: z.string(),
});

export const presenceMemberSchema = z.object({
  userId: z.string(),
  connectionId: z.string(),
  nodeId: z.string(),
  joinedAt: z.number(),
});

// The HTTP API's schemas (POST /api/v1/publish and the rest) live in api.ts.

export type StreamPosition = z.infer<typeof streamPositionSchema>;
export type JoinRequest = z.infer<typeof joinRequestSchema>;
export type LeaveRequest = z.infer<typeof leaveRequestSchema>;
export type PublishRequest = z.infer<typeof publishRequestSchema>;
export type HistoryRequest = z.infer<typeof historyRequestSchema>;
export type PresenceListRequest = z.infer<typeof presenceListRequestSchema>;
export type SignalRequest = z.infer<typeof signalRequestSchema>;
export type Signal = z.infer<typeof signalSchema>;
export type AuthRefreshRequest = z.infer<typeof authRefreshRequestSchema>;
export type Message = z.infer<typeof messageSchema>;
export type PresenceMember = z.infer<typeof presenceMemberSchema>;
export type JsonValue = z.infer<typeof publicationDataSchema>;
