/**
 * Reads the timing claims of a JWT without verifying it: the SDK only needs to
 * know when to refresh, and verification is the gateway's job. Uses atob and
 * TextDecoder (not Node's Buffer) so it works in browsers too.
 */
export interface TokenTimes {
  /** Expiry in ms since the epoch. */
  expiresAt: number;
  /** Issue time in ms since the epoch, when the token says. */
  issuedAt: number | undefined;
}

function decodeBase64Url(segment: string): string {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The payload claims of a JWT, or null when `token` is not a decodable JWT. */
export function decodeJwtPayload(token: string): Record<string, unknown> | null {
  const parts = token.split('.');
  const payload = parts[1];
  if (parts.length !== 3 || payload === undefined) return null;
  try {
    const claims: unknown = JSON.parse(decodeBase64Url(payload));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `exp` (and `iat`) in milliseconds, or null when the token has no expiry (or is opaque). */
export function tokenTimes(token: string): TokenTimes | null {
  const claims = decodeJwtPayload(token);
  if (claims === null || typeof claims.exp !== 'number') return null;
  return {
    expiresAt: claims.exp * 1000,
    issuedAt: typeof claims.iat === 'number' ? claims.iat * 1000 : undefined,
  };
}

const MAX_LEAD_MS = 30_000;

/**
 * How long to wait before refreshing: about 30 s or 10 % of the lifetime before
 * expiry, whichever is earlier, so a long token is renewed with room for clock
 * skew; never more than half the lifetime, so a very short token cannot cause a
 * refresh loop. Null when the token never expires.
 */
export function refreshDelayMs(token: string, now: number): number | null {
  const times = tokenTimes(token);
  if (times === null) return null;
  const lifetime = Math.max(0, times.expiresAt - (times.issuedAt ?? now));
  const lead = Math.max(Math.min(MAX_LEAD_MS, lifetime / 2), lifetime * 0.1);
  return Math.max(0, times.expiresAt - lead - now);
}

/** True when the token's `exp` has passed (opaque tokens are never considered expired here). */
export function isTokenExpired(token: string, now: number): boolean {
  const times = tokenTimes(token);
  return times !== null && times.expiresAt <= now;
}
