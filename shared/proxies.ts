/**
 * What the gateway asks a backend's proxies (CONNECT_PROXY_URL, JOIN_PROXY_URL,
 * PUBLISH_PROXY_URL or a namespace's `publishProxy`) and what it accepts as an
 * answer (see DESIGN "Backend integration"). Requests are POSTed as JSON and
 * signed with Roomcast-Signature (shared/signature.ts). The gateway validates
 * every answer with these schemas: one that does not match is treated like no
 * answer (the client gets UNAVAILABLE). Backends (and @roomcast/server-api)
 * import the same schemas and types.
 */
import { z } from 'zod';
import { publicationDataSchema, roomNameSchema } from './schemas.js';

/** A user id, as the `sub` of a token: 1-200 room-name characters (so `user:<id>` is a valid room). */
export const proxyUserIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_\-:.@]+$/, 'user must use room-name characters');

/** A room pattern, as in a token's `rooms` claim (`*` matches one or more characters). */
export const roomPatternClaimSchema = z.string().min(1).max(200);

/** Most entries of `rooms` / `subscribe` in a token or a connect proxy's answer. */
export const GRANT_MAX_ENTRIES = 1000;

/**
 * A refusal. `code`: one of shared/errors.ts's codes, else (absent, or a code the
 * gateway does not know) the proxy's default; `message` is shown to the client.
 */
export const proxyDenySchema = z.object({
  result: z.literal('deny'),
  code: z.string().max(64).optional(),
  message: z.string().max(500).optional(),
});

// ---- connect ----------------------------------------------------------------

export const connectProxyRequestSchema = z.object({
  /** The handshake's headers a cookie session needs (absent ones are omitted). */
  headers: z.object({ cookie: z.string().optional(), 'user-agent': z.string().optional(), origin: z.string().optional() }),
  /** The client address (TRUSTED_PROXIES decide whether X-Forwarded-For counts). */
  ip: z.string(),
  transport: z.enum(['socketio', 'sse']),
});

export const connectProxyAllowSchema = z.object({
  result: z.literal('allow'),
  user: proxyUserIdSchema,
  /** Room patterns the session may join (as a token's `rooms`). */
  rooms: z.array(roomPatternClaimSchema).max(GRANT_MAX_ENTRIES).optional(),
  /** Rooms the server joins the connection to at connect (as a token's `subscribe`). */
  subscribe: z.array(roomNameSchema).max(GRANT_MAX_ENTRIES).optional(),
  /** When the session ends, ms since the epoch (capped by TOKEN_MAX_TTL_S; absent: TOKEN_MAX_TTL_S from now). */
  expiresAt: z.int().positive().optional(),
});

export const connectProxyAnswerSchema = z.discriminatedUnion('result', [connectProxyAllowSchema, proxyDenySchema]);

// ---- join -------------------------------------------------------------------

export const joinProxyRequestSchema = z.object({
  namespace: z.string(),
  room: roomNameSchema,
  user: z.string(),
  connectionId: z.string(),
});

export const joinProxyAnswerSchema = z.discriminatedUnion('result', [z.object({ result: z.literal('allow') }), proxyDenySchema]);

// ---- publish ----------------------------------------------------------------

export const publishProxyRequestSchema = z.object({
  namespace: z.string(),
  room: roomNameSchema,
  event: z.string(),
  data: publicationDataSchema,
  user: z.string(),
  connectionId: z.string(),
});

export const publishProxyAnswerSchema = z.discriminatedUnion('result', [
  /** `data`, when present, replaces the payload (size and depth limits apply to it). */
  z.object({ result: z.literal('allow'), data: publicationDataSchema.optional() }),
  proxyDenySchema,
]);

export type ProxyDeny = z.infer<typeof proxyDenySchema>;
export type ConnectProxyRequest = z.infer<typeof connectProxyRequestSchema>;
export type ConnectProxyAllow = z.infer<typeof connectProxyAllowSchema>;
export type ConnectProxyAnswer = z.infer<typeof connectProxyAnswerSchema>;
export type JoinProxyRequest = z.infer<typeof joinProxyRequestSchema>;
export type JoinProxyAnswer = z.infer<typeof joinProxyAnswerSchema>;
export type PublishProxyRequest = z.infer<typeof publishProxyRequestSchema>;
export type PublishProxyAnswer = z.infer<typeof publishProxyAnswerSchema>;
export type ProxyKind = 'connect' | 'join' | 'publish';
