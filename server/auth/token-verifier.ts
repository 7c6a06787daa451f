/**
 * Verifies connection tokens (JWT) with jose. The accepted algorithms are fixed by
 * the configured key, never taken from the token header, so `alg: none` and
 * algorithm-confusion tokens are refused. Every token must expire, and not later
 * than TOKEN_MAX_TTL_S from now: a token without `exp` (or with `exp: 1e300`)
 * would give a session, and through auth:refresh a connection, that never ends.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { GRANT_MAX_ENTRIES, roomNameSchema, roomPatternClaimSchema } from '../../shared/index.js';
import type { Config } from '../config/config.js';
import { RoomcastError } from '../errors.js';

/** Clock skew tolerated on exp/nbf between the token issuer and this node. */
const CLOCK_TOLERANCE_S = 5;

export interface VerifiedToken {
  userId: string;
  roomPatterns: string[];
  /**
   * The `subscribe` claim: exact room names the server joins the connection to at connect (valid room names;
   * whether the room policy allows each is checked per namespace when the connection opens, see Session.serverRooms).
   */
  subscribe: string[];
  /** `exp` in ms since the epoch (every accepted token has one). */
  expiresAt: number;
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(200).regex(/^[A-Za-z0-9_\-:.@]+$/, 'sub must use room-name characters'),
  rooms: z.array(roomPatternClaimSchema).max(GRANT_MAX_ENTRIES).optional(),
  subscribe: z.array(roomNameSchema).max(GRANT_MAX_ENTRIES).optional(),
});

export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

function algorithmsFor(key: KeyObject): string[] {
  if (key.asymmetricKeyType === 'rsa') return ['RS256'];
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1' || curve === 'P-256') return ['ES256'];
  if (curve === 'secp384r1' || curve === 'P-384') return ['ES384'];
  return ['ES512'];
}

export function createTokenVerifier(jwt: Config['jwt']): TokenVerifier {
  let key: Uint8Array | KeyObject | JWTVerifyGetKey;
  let algorithms: string[];
  switch (jwt.key.kind) {
    case 'secret':
      key = jwt.key.secret;
      algorithms = ['HS256'];
      break;
    case 'public-key': {
      const publicKey = createPublicKey(jwt.key.pem);
      key = publicKey;
      algorithms = algorithmsFor(publicKey);
      break;
    }
    case 'jwks':
      key = createRemoteJWKSet(jwt.key.url, { timeoutDuration: 5000, cooldownDuration: 30_000 });
      algorithms = ['RS256', 'ES256', 'ES384'];
      break;
  }
  // HS256: import the secret once. Handing jose the raw bytes makes it import a
  // CryptoKey on every verify, which doubled the CPU of each handshake (258 vs 121 µs).
  const hmacKey =
    jwt.key.kind === 'secret' ? crypto.subtle.importKey('raw', new Uint8Array(jwt.key.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']) : null;
  const options = {
    algorithms,
    clockTolerance: CLOCK_TOLERANCE_S,
    requiredClaims: ['exp'],
    ...(jwt.issuer !== null ? { issuer: jwt.issuer } : {}),
    ...(jwt.audience !== null ? { audience: jwt.audience } : {}),
  };

  return async (token: string): Promise<VerifiedToken> => {
    let payload: JWTPayload;
    try {
      // jose's overloads differ for a key and a key getter; both are valid here.
      const result = typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, hmacKey !== null ? await hmacKey : key, options);
      payload = result.payload;
    } catch (error) {
      throw verificationError(error);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      const issue = claims.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? '' : ` (${issue.path.join('.')})`;
      throw new RoomcastError('UNAUTHENTICATED', `token claims are invalid${where}: ${issue?.message ?? 'bad claims'}`);
    }
    // jose has checked that `exp` is present, a number, and not past.
    const expiresAt = (payload.exp as number) * 1000;
    // Measured from now, not from `iat`: what matters is how long this token can still be used, whatever it claims about its issue.
    if (expiresAt > Date.now() + (jwt.maxTtlSeconds + CLOCK_TOLERANCE_S) * 1000) {
      throw new RoomcastError('UNAUTHENTICATED', `token expires more than ${jwt.maxTtlSeconds} s from now (TOKEN_MAX_TTL_S)`);
    }
    return { userId: claims.data.sub, roomPatterns: claims.data.rooms ?? [], subscribe: claims.data.subscribe ?? [], expiresAt };
  };
}

function verificationError(error: unknown): RoomcastError {
  if (error instanceof joseErrors.JWTExpired) return new RoomcastError('TOKEN_EXPIRED');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return new RoomcastError('UNAUTHENTICATED', `token claim "${error.claim}" is required`);
    return new RoomcastError('UNAUTHENTICATED', `token claim "${error.claim}" is not valid`);
  }
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
    return new RoomcastError('UNAVAILABLE', 'the key set cannot be fetched now');
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new RoomcastError('UNAUTHENTICATED', 'token algorithm is not accepted');
  return new RoomcastError('UNAUTHENTICATED', 'token is not valid');
}
