/**
 * POST /dev/token {"user": "alice", "rooms"?: ["chat:*"], "subscribe"?: ["chat:lobby"]}:
 * mints a token for the demo page and for trying the gateway out. Mounted only
 * while the gateway runs on the development secret (no JWT_* setting), which
 * start-up announces loudly; production keys never mint here. Its tokens expire
 * like any other: in an hour, or TOKEN_MAX_TTL_S when that is shorter.
 *
 * `rooms` (default `demo:*`, what the demo page joins) and `subscribe` are the
 * token's claims of the same names, validated by the same rules the gateway
 * applies to a token (shared/proxies.ts), with a smaller cap on their count:
 * a development token is for trying things, not for a thousand grants.
 */
import type { Request, Response } from 'express';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { errorPayload, roomNameSchema, roomPatternClaimSchema } from '../../shared/index.js';
import { sendError } from '../ops/http-errors.js';

export const DEV_TOKEN_ROOMS = ['demo:*'];
/** Most entries of `rooms`, and of `subscribe`, in a development token. */
export const DEV_TOKEN_MAX_GRANTS = 32;
const DEV_TOKEN_TTL_S = 3600;

const bodySchema = z.strictObject({
  user: z.string().regex(/^[A-Za-z0-9_\-.]{1,40}$/, '1-40 letters, digits, _ - .'),
  rooms: z.array(roomPatternClaimSchema).max(DEV_TOKEN_MAX_GRANTS, `at most ${DEV_TOKEN_MAX_GRANTS} room patterns`).optional(),
  subscribe: z.array(roomNameSchema).max(DEV_TOKEN_MAX_GRANTS, `at most ${DEV_TOKEN_MAX_GRANTS} rooms`).optional(),
});

export function devTokenRoute(secret: Uint8Array, issuer: string | null, audience: string | null, maxTtlSeconds: number = DEV_TOKEN_TTL_S) {
  const ttlSeconds = Math.min(DEV_TOKEN_TTL_S, maxTtlSeconds);
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.join('.')}: `;
      sendError(res, errorPayload('INVALID_PAYLOAD', `${where}${issue?.message ?? 'expected { user, rooms?, subscribe? }'}`));
      return;
    }
    const { user, rooms = DEV_TOKEN_ROOMS, subscribe } = parsed.data;
    const claims = subscribe === undefined ? { rooms } : { rooms, subscribe };
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt(now).setExpirationTime(now + ttlSeconds);
    if (issuer !== null) jwt.setIssuer(issuer);
    if (audience !== null) jwt.setAudience(audience);
    const token = await jwt.sign(secret);
    res.json({ token, ...claims, expiresAt: (now + ttlSeconds) * 1000 });
  };
}
