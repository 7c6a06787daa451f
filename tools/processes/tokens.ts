/** Signs test tokens with jose, the way a backend would. */
import { SignJWT, type JWTPayload } from 'jose';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256!!';

/** The API key (API_KEYS) of the gateways the tests and benchmarks start, for the HTTP API. */
export const TEST_API_KEY = 'test-api-key-0123456789abcdef';

export interface TokenClaims {
  sub?: string;
  rooms?: string[];
  [claim: string]: unknown;
}

export interface TokenOptions {
  /** Seconds from now, or a jose time span like '1h'; negative seconds give an expired token. */
  expiresIn?: number | string;
  /** Seconds from now before which the token is not valid. */
  notBeforeIn?: number;
  issuer?: string;
  audience?: string;
  alg?: string;
}

export async function signToken(secret: string | Uint8Array | CryptoKey, claims: TokenClaims, options: TokenOptions = {}): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setIssuedAt(now);
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  const expiresIn = options.expiresIn ?? 3600;
  jwt.setExpirationTime(typeof expiresIn === 'number' ? now + expiresIn : expiresIn);
  if (options.notBeforeIn !== undefined) jwt.setNotBefore(now + options.notBeforeIn);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(key);
}

/** A token with `alg: none` and no signature, which every gateway must refuse. */
export function unsignedToken(claims: TokenClaims): string {
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iat: now, exp: now + 3600, ...claims })}.`;
}
