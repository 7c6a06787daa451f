/**
 * POST /dev/token {"user": "alice"}: mints a token for the demo page. Mounted
 * only while the gateway runs on the development secret (no JWT_* setting),
 * which start-up announces loudly; production keys never mint here. Its tokens
 * expire like any other: in an hour, or TOKEN_MAX_TTL_S when that is shorter.
 */
import type { Request, Response } from 'express';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { errorPayload } from '../../shared/index.js';
import { sendError } from '../ops/http-errors.js';

export const DEV_TOKEN_ROOMS = ['demo:*'];
const DEV_TOKEN_TTL_S = 3600;

const bodySchema = z.strictObject({ user: z.string().regex(/^[A-Za-z0-9_\-.]{1,40}$/, 'user: 1-40 letters, digits, _ - .') });

export function devTokenRoute(secret: Uint8Array, issuer: string | null, audience: string | null, maxTtlSeconds: number = DEV_TOKEN_TTL_S) {
  const ttlSeconds = Math.min(DEV_TOKEN_TTL_S, maxTtlSeconds);
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) {
      sendError(res, errorPayload('INVALID_PAYLOAD', parsed.error.issues[0]?.message));
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ rooms: DEV_TOKEN_ROOMS })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(parsed.data.user)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds);
    if (issuer !== null) jwt.setIssuer(issuer);
    if (audience !== null) jwt.setAudience(audience);
    const token = await jwt.sign(secret);
    res.json({ token, rooms: DEV_TOKEN_ROOMS });
  };
}
