/**
 * The backend HTTP API (/api/v1): the zod schema of every route's input (body,
 * path parameters, query) and answer, and the types inferred from them. The
 * gateway validates with these, GET /api/v1/openapi.json is generated from
 * them, and @roomcast/server-api imports the types: one contract.
 *
 * Query parameters are strings on the wire: their schemas check the text and
 * turn it into the value (the OpenAPI document shows the text's rules).
 */
import { z } from 'zod';
import {
  HISTORY_PAGE_MAX,
  PUBLISH_BATCH_MAX_ROOMS,
  ROOM_NAME_MAX_LENGTH,
} from './constants.js';
import { ERROR_CODES, type ErrorCode } from './errors.js';
import {
  eventNameSchema,
  idempotencyKeySchema,
  messageSchema,
  namespaceNameSchema,
  presenceMemberSchema,
  publicationDataSchema,
  roomNameSchema,
} from './schemas.js';

/** Publications in one POST /api/v1/batch. */
export const BATCH_MAX_PUBLICATIONS = 1000;
/** Upper bound of `limit` in GET /api/v1/rooms, and its default. */
export const ROOMS_PAGE_MAX = 1000;
export const ROOMS_PAGE_DEFAULT = 100;

// ---- shared pieces ------------------------------------------------------------

export const errorCodeSchema = z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]);

export const errorPayloadSchema = z.object({
  code: errorCodeSchema,
  message: z.string(),
  retryable: z.boolean(),
});

/** Every refusal, whatever the route: 4xx/5xx with this body. */
export const apiErrorResponseSchema = z.object({
  ok: z.literal(false),
  error: errorPayloadSchema,
});

/** A user id: a token's `sub` (1-200 of the room-name characters). */
export const userIdSchema = z
  .string()
  .min(1, 'user must not be empty')
  .max(200, 'user must be at most 200 characters')
  .regex(/^[A-Za-z0-9_\-:.@]+$/, 'user may contain only letters, digits and _ - : . @');

/** `?namespace=`: a declared namespace; `/` when absent. */
const namespaceQuery = namespaceNameSchema.optional();

/** A positive integer written in decimal, as a query parameter (`limit`). */
const pageLimitQuery = (max: number) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,6}$/, `limit must be an integer from 1 to ${max}`)
    .transform(Number)
    .pipe(z.int().min(1, `limit must be an integer from 1 to ${max}`).max(max, `limit must be an integer from 1 to ${max}`));

export const roomParamsSchema = z.strictObject({ room: roomNameSchema });
export const userParamsSchema = z.strictObject({ user: userIdSchema });
export const userRoomParamsSchema = z.strictObject({ user: userIdSchema, room: roomNameSchema });

// ---- POST /api/v1/publish -------------------------------------------------------

/**
 * `data` as the gateway's HTTP routes check it. Their bodies come out of JSON.parse (body-parser, or the lean
 * route), which makes nothing but JSON values, so z.json()'s walk of every node would check again what the parser
 * guarantees. The walk was most of the cost of checking a small publication: 3.4 µs against 0.75 without it
 * warm, 25-65 µs against 13 with a cold cache (docs/performance.md). Only its presence is checked here; its depth is measured before zod runs (jsonDepth).
 * The contract (types, OpenAPI) keeps z.json(). Not for socket packets: socket.io-parser puts binary
 * attachments (Buffers) back into the data, which z.json() refuses.
 */
const parsedJsonDataSchema = z.custom<z.infer<typeof publicationDataSchema>>((value) => value !== undefined, {
  error: 'data is required (any JSON value)',
});

const publishBodySchema = <Data extends typeof publicationDataSchema | typeof parsedJsonDataSchema>(data: Data) =>
  z
    .strictObject({
      namespace: namespaceNameSchema.optional(),
      room: roomNameSchema.optional(),
      rooms: z.array(roomNameSchema).min(1).max(PUBLISH_BATCH_MAX_ROOMS).optional(),
      event: eventNameSchema,
      data,
      idempotencyKey: idempotencyKeySchema.optional(),
    })
    .refine((body) => (body.room === undefined) !== (body.rooms === undefined), {
      message: 'give exactly one of room or rooms',
      path: ['room'],
    });

export const httpPublishBodySchema = publishBodySchema(publicationDataSchema);
/** The same body as the gateway checks it, once JSON.parse has made it (see parsedJsonDataSchema). */
export const httpPublishParsedBodySchema = publishBodySchema(parsedJsonDataSchema);

export const publishResultSchema = z.object({
  room: z.string(),
  epoch: z.string(),
  offset: z.int().min(1),
});

/**
 * One item's outcome (a room of a publish into several, a publication of a
 * batch): stored (its offset), refused (its error: not stored), or unknown
 * (`unknown: true`, error UNAVAILABLE: it may be stored; retry that item with
 * the same idempotencyKey).
 */
export const publishItemResultSchema = z.union([
  publishResultSchema,
  z.object({ room: z.string(), error: errorPayloadSchema, unknown: z.literal(true).optional() }),
]);

/** The 200 answer of POST /api/v1/publish: one item per room, in the order the rooms were given (repeats once). */
export const httpPublishResponseSchema = z.object({
  ok: z.literal(true),
  results: z.array(publishItemResultSchema),
});

// ---- POST /api/v1/batch ---------------------------------------------------------

/** One publication of a batch: its own namespace (default `/`), room, event and idempotency key. */
const batchPublicationOf = <Data extends typeof publicationDataSchema | typeof parsedJsonDataSchema>(data: Data) =>
  z.strictObject({
    namespace: namespaceNameSchema.optional(),
    room: roomNameSchema,
    event: eventNameSchema,
    data,
    idempotencyKey: idempotencyKeySchema.optional(),
  });

export const batchPublicationSchema = batchPublicationOf(publicationDataSchema);
/** The same publication as the gateway checks it, once JSON.parse has made the body (see parsedJsonDataSchema). */
export const batchPublicationParsedSchema = batchPublicationOf(parsedJsonDataSchema);

export const batchBodySchema = z.strictObject({
  publications: z
    .array(batchPublicationSchema)
    .min(1, 'publications must hold at least one publication')
    .max(BATCH_MAX_PUBLICATIONS, `a batch holds at most ${BATCH_MAX_PUBLICATIONS} publications`),
});

/**
 * The batch body as a whole, items unchecked: what makes the request a 400.
 * Each item is then checked on its own (batchPublicationSchema), so one bad
 * item is refused in its result and the others are stored.
 */
export const batchEnvelopeSchema = z.strictObject({
  publications: z
    .array(z.unknown())
    .min(1, 'publications must hold at least one publication')
    .max(BATCH_MAX_PUBLICATIONS, `a batch holds at most ${BATCH_MAX_PUBLICATIONS} publications`),
});

/** results[i] answers publications[i]; an invalid item's `room` is what it gave when that was a string, else "". */
export const batchResponseSchema = z.object({
  ok: z.literal(true),
  results: z.array(publishItemResultSchema),
});

// ---- GET /api/v1/rooms/:room/history ----------------------------------------------

/** `<epoch>:<offset>`, the SSE event id form of a position. */
export const SINCE_PATTERN = /^([^:]{1,64}):(0|[1-9][0-9]{0,15})$/;

export const historyQuerySchema = z.strictObject({
  namespace: namespaceQuery,
  since: z
    .string()
    .regex(SINCE_PATTERN, 'since must be <epoch>:<offset> (as in an SSE event id)')
    .transform((text) => {
      const [, epoch, offset] = SINCE_PATTERN.exec(text) as RegExpExecArray;
      return { epoch: epoch as string, offset: Number(offset) };
    })
    .pipe(z.object({ epoch: z.string(), offset: z.int().min(0).max(Number.MAX_SAFE_INTEGER, 'since: offset too large') }))
    .optional(),
  limit: pageLimitQuery(HISTORY_PAGE_MAX).optional(),
});

export const historyResponseSchema = z.object({
  ok: z.literal(true),
  room: z.string(),
  epoch: z.string(),
  /** The room's last offset at the time of the read. */
  offset: z.int().min(0),
  /** False when history no longer holds the offsets right after `since`. */
  recovered: z.boolean(),
  messages: z.array(messageSchema),
});

// ---- GET /api/v1/rooms -------------------------------------------------------------

export const roomsQuerySchema = z.strictObject({
  namespace: namespaceQuery,
  /** Only rooms whose name starts with this. */
  prefix: z
    .string()
    .max(ROOM_NAME_MAX_LENGTH, `prefix must be at most ${ROOM_NAME_MAX_LENGTH} characters`)
    .regex(/^[A-Za-z0-9_\-:.@]*$/, 'prefix may contain only letters, digits and _ - : . @')
    .optional(),
  /** The `cursor` of the previous page, as given. */
  cursor: z.string().min(1).max(400).optional(),
  limit: pageLimitQuery(ROOMS_PAGE_MAX).optional(),
});

export const roomCountSchema = z.object({
  room: z.string(),
  /** Connections in the room (sockets and SSE streams), on every node. */
  members: z.int().min(1),
});

export const roomsResponseSchema = z.object({
  ok: z.literal(true),
  /** In room-name order; a page may hold fewer than `limit` while `cursor` is not null. */
  rooms: z.array(roomCountSchema),
  /** Pass it back as `?cursor=` for the next page; null once every room was listed. */
  cursor: z.string().nullable(),
});

// ---- GET /api/v1/rooms/:room/presence -------------------------------------------------

export const presenceQuerySchema = z.strictObject({
  namespace: namespaceQuery,
  /** `1`: the counts only, without the member list. */
  counts: z.enum(['0', '1']).optional(),
});

export const presenceListResponseSchema = z.object({
  ok: z.literal(true),
  room: z.string(),
  namespace: z.string(),
  members: z.array(presenceMemberSchema),
});

export const presenceCountsResponseSchema = z.object({
  ok: z.literal(true),
  room: z.string(),
  namespace: z.string(),
  /** Connections (a user with two tabs counts twice), as in GET /api/v1/rooms. */
  members: z.int().min(0),
  /** Distinct users. */
  users: z.int().min(0),
});

// ---- POST /api/v1/users/:user/disconnect, .../rooms/:room/leave -------------------------

export const disconnectBodySchema = z.strictObject({
  /** The `protocol:error` code the user's connections are closed with; UNAUTHENTICATED when absent. */
  code: errorCodeSchema.optional(),
});

export const disconnectResponseSchema = z.object({
  ok: z.literal(true),
  user: z.string(),
  code: errorCodeSchema,
});

export const leaveQuerySchema = z.strictObject({ namespace: namespaceQuery });

export const userLeaveResponseSchema = z.object({
  ok: z.literal(true),
  user: z.string(),
  room: z.string(),
  namespace: z.string(),
});

// ---- types --------------------------------------------------------------------------

export type ApiErrorResponse = z.infer<typeof apiErrorResponseSchema>;
export type HttpPublishBody = z.infer<typeof httpPublishBodySchema>;
export type PublishItemResult = z.infer<typeof publishItemResultSchema>;
export type HttpPublishResponse = z.infer<typeof httpPublishResponseSchema>;
export type BatchPublication = z.infer<typeof batchPublicationSchema>;
export type BatchBody = z.infer<typeof batchBodySchema>;
export type BatchResponse = z.infer<typeof batchResponseSchema>;
/** The query as sent (strings). */
export type HistoryQueryInput = z.input<typeof historyQuerySchema>;
export type HistoryQuery = z.output<typeof historyQuerySchema>;
export type HistoryResponse = z.infer<typeof historyResponseSchema>;
export type RoomsQueryInput = z.input<typeof roomsQuerySchema>;
export type RoomsQuery = z.output<typeof roomsQuerySchema>;
export type RoomCount = z.infer<typeof roomCountSchema>;
export type RoomsResponse = z.infer<typeof roomsResponseSchema>;
export type PresenceQueryInput = z.input<typeof presenceQuerySchema>;
export type PresenceListResponse = z.infer<typeof presenceListResponseSchema>;
export type PresenceCountsResponse = z.infer<typeof presenceCountsResponseSchema>;
export type DisconnectBody = z.infer<typeof disconnectBodySchema>;
export type DisconnectResponse = z.infer<typeof disconnectResponseSchema>;
export type UserLeaveResponse = z.infer<typeof userLeaveResponseSchema>;
