/**
 * Connection tokens as the gateway verifies them (DESIGN "Tokens"): an HS256 JWT
 * signed with the gateway's JWT_SECRET, `sub` the user, `rooms` the room patterns
 * the user may join, `subscribe` the rooms the server joins at connect, and
 * always an expiry (the gateway refuses tokens without `exp`). jose is the
 * library the gateway verifies with.
 */
import { SignJWT } from 'jose';

export interface MintTokenOptions {
  /** The gateway's JWT_SECRET (HS256). */
  secret: string | Uint8Array;
  /** The user. */
  sub: string;
  /** Room patterns the user may join: `project:123`, `org:456:*` (every user may join `user:<sub>`). */
  rooms?: string[];
  /** Exact room names the server joins the connection to at connect (each also allowed by `rooms`). */
  subscribe?: string[];
  /** Lifetime in seconds (the gateway caps it with TOKEN_MAX_TTL_S). */
  ttl: number;
  /** Set when the gateway has JWT_ISSUER / JWT_AUDIENCE. */
  issuer?: string;
  audience?: string | string[];
  /** The clock, seconds since the epoch (default now). */
  now?: number;
}

export async function mintToken(options: MintTokenOptions): Promise<string> {
  const { secret, sub, rooms, subscribe, ttl, issuer, audience } = options;
  if (typeof secret === 'string' ? secret === '' : !(secret instanceof Uint8Array) || secret.length === 0) throw new TypeError('mintToken: secret is required');
  if (typeof sub !== 'string' || sub === '') throw new TypeError('mintToken: sub must be a non-empty string');
  if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError('mintToken: ttl must be a whole number of seconds > 0');
  for (const [name, list] of [['rooms', rooms], ['subscribe', subscribe]] as const) {
    if (list !== undefined && (!Array.isArray(list) || list.some((entry) => typeof entry !== 'string' || entry === ''))) {
      throw new TypeError(`mintToken: ${name} must be an array of non-empty strings`);
    }
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (rooms !== undefined) claims.rooms = rooms;
  if (subscribe !== undefined) claims.subscribe = subscribe;
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub).setIssuedAt(now).setExpirationTime(now + ttl);
  if (issuer !== undefined) jwt.setIssuer(issuer);
  if (audience !== undefined) jwt.setAudience(audience);
  return jwt.sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
}
