/**
 * zod schemas of every payload of the protocol. The gateway validates each
 * incoming payload with these at runtime. The payload types are plain TypeScript in
 * wire-types.ts (the client SDK compiles against them without zod); the check at the
 * end of this file fails the build unless each schema infers exactly its type, so the
 * compile-time contract and the runtime check stay one.
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
import type {
  AuthRefreshRequest,
  HistoryRequest,
  JoinRequest,
  JsonValue,
  LeaveRequest,
  Message,
  PresenceListRequest,
  PresenceMember,
  PublishRequest,
  Signal,
  SignalRequest,
  StreamPosition,
} from './wire-types.js';

// The payload types, declared without zod in wire-types.ts (the client's), checked against the schemas below.
export type * from './wire-types.js';

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

/** True when A and B are the same type (not merely assignable to each other). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Holds<T extends true> = T;

/**
 * Each schema validates exactly its plain type of wire-types.ts (which the client SDK
 * compiles against without zod): changing one without the other fails the build here.
 */
type _SchemasMatchWireTypes = [
  Holds<Same<z.infer<typeof streamPositionSchema>, StreamPosition>>,
  Holds<Same<z.infer<typeof joinRequestSchema>, JoinRequest>>,
  Holds<Same<z.infer<typeof leaveRequestSchema>, LeaveRequest>>,
  Holds<Same<z.infer<typeof publishRequestSchema>, PublishRequest>>,
  Holds<Same<z.infer<typeof historyRequestSchema>, HistoryRequest>>,
  Holds<Same<z.infer<typeof presenceListRequestSchema>, PresenceListRequest>>,
  Holds<Same<z.infer<typeof signalRequestSchema>, SignalRequest>>,
  Holds<Same<z.infer<typeof signalSchema>, Signal>>,
  Holds<Same<z.infer<typeof authRefreshRequestSchema>, AuthRefreshRequest>>,
  Holds<Same<z.infer<typeof messageSchema>, Message>>,
  Holds<Same<z.infer<typeof presenceMemberSchema>, PresenceMember>>,
  Holds<Same<z.infer<typeof publicationDataSchema>, JsonValue>>,
];
