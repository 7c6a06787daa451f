/**
 * Who is connected, for every transport (a Socket.IO connection, an SSE
 * stream): one place for the token check, the room policy, admission and the
 * per-user counts, and the token's expiry. A handshake without a token is a
 * cookie session: the backend's connect proxy (when set) says who it is, and a
 * join the grant does not cover is asked of its join proxy (see
 * backend-proxies.ts), so both transports decide the same way.
 *
 * The order is the transports' order of refusal: per client address first (an
 * anonymous flood must not even reach the token check), then the token, then
 * the user's connection limit, then the node-wide slot (MAX_CONNECTIONS,
 * ACCEPT_RATE_PER_S). Every count taken is given back exactly once.
 */
import { personalRoom, type ConnectProxyRequest, type ErrorPayload, type JsonValue, type PublishProxyRequest } from '../../shared/index.js';
import { mayJoinRoom } from '../auth/room-policy.js';
import type { TokenVerifier, VerifiedToken } from '../auth/token-verifier.js';
import type { NamespaceRules } from '../config/namespaces.js';
import { RoomcastError } from '../errors.js';
import type { Admission, Refusal } from '../ops/admission.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { NO_PROXIES, type BackendProxies } from './backend-proxies.js';
import { ExpiryWheel } from './expiry-wheel.js';

/** Join-proxy approvals a session remembers (see Session.mayJoin); above, the oldest is forgotten. */
const MAX_PROXY_ALLOWED_ROOMS = 1024;


/** What a handshake presents: a token, or (a cookie session) the headers the connect proxy is asked about. */
export interface HandshakeCredentials {
  /** The connection token; null or empty: none given. */
  token: string | null | undefined;
  headers: ConnectProxyRequest['headers'];
  ip: string;
  transport: ConnectProxyRequest['transport'];
}

export interface SessionsOptions {
  /** The backend's proxies (connect, join); default: none. */
  proxies?: BackendProxies;
  /** TOKEN_MAX_TTL_S: a connect proxy's session lasts at most this long (and this long when it gives no expiresAt). */
  maxTtlSeconds?: number;
}

export class Sessions {
  /** @internal Read by Session (one reference per session instead of three). */
  readonly proxies: BackendProxies;
  private readonly maxTtlMs: number;
  /** @internal Every watched session's expiry, on one timer (see expiry-wheel.ts). */
  readonly expiries = new ExpiryWheel<Session>((session, now) => session.expireIfDue(now));

  constructor(
    private readonly verifyToken: TokenVerifier,
    /** @internal */ readonly admission: Admission,
    /** @internal */ readonly metrics: GatewayMetrics,
    options: SessionsOptions = {},
  ) {
    this.proxies = options.proxies ?? NO_PROXIES;
    this.maxTtlMs = (options.maxTtlSeconds ?? 3600) * 1000;
  }

  /** Before anything else of a new connection is read: draining, memory, and the client address's limits. */
  admitAddress(address: string): Refusal | null {
    return this.admission.admitConnection(address);
  }

  /** A connection from `address` is open (counted for MAX_CONNECTIONS_PER_IP until closed()). */
  opened(address: string): void {
    this.admission.opened(address);
  }

  closed(address: string): void {
    this.admission.closed(address);
  }

  /** A token's claims; throws a RoomcastError (UNAUTHENTICATED for a bad token). */
  authenticate(token: string): Promise<VerifiedToken> {
    return this.verifyToken(token);
  }

  /**
   * Who a handshake is: its token's claims, or without a token the connect proxy's answer as the same claims
   * (rooms, subscribe, an expiry capped by TOKEN_MAX_TTL_S). Throws a RoomcastError: UNAUTHENTICATED for a bad
   * token or no token and no connect proxy, the proxy's refusal, or UNAVAILABLE when the proxy cannot answer.
   */
  async authenticateHandshake(credentials: HandshakeCredentials): Promise<VerifiedToken> {
    if (typeof credentials.token === 'string' && credentials.token !== '') return this.verifyToken(credentials.token);
    const connect = this.proxies.connect;
    if (connect === null) {
      throw new RoomcastError('UNAUTHENTICATED', credentials.transport === 'sse' ? 'a token is required: Authorization: Bearer <token> or ?token=' : 'auth.token is missing');
    }
    const answer = await connect({ headers: credentials.headers, ip: credentials.ip, transport: credentials.transport });
    const now = Date.now();
    const expiresAt = Math.min(answer.expiresAt ?? Number.POSITIVE_INFINITY, now + this.maxTtlMs);
    if (expiresAt <= now) throw new RoomcastError('UNAUTHENTICATED', 'the connect proxy gave a session that has already expired');
    return { userId: answer.user, roomPatterns: answer.rooms ?? [], subscribe: answer.subscribe ?? [], expiresAt };
  }

  /**
   * Counts a connection for the token's user (MAX_CONNECTIONS_PER_USER): the Session, to close when the
   * connection ends, or the refusal.
   */
  admit(verified: VerifiedToken): Session | ErrorPayload {
    const refusal = this.admission.admitUser(verified.userId);
    return refusal ?? new Session(verified, this);
  }

  /** Takes a node-wide slot (MAX_CONNECTIONS, ACCEPT_RATE_PER_S); null when taken, the refusal otherwise. */
  claimSlot(): ErrorPayload | null {
    return this.admission.admitAuthenticated();
  }

  releaseSlot(): void {
    this.admission.releaseAuthenticated();
  }
}

/** The room policy: the token's `rooms` claim, the namespace's public rooms, the user's personal room. */
export function grantAllows(grant: { userId: string; roomPatterns: readonly string[] }, rules: NamespaceRules, room: string): boolean {
  return mayJoinRoom(grant.userId, grant.roomPatterns, rules.publicRooms, room);
}

/** One authenticated connection: its user, the rooms its token grants, and when it expires. */
export class Session {
  readonly userId: string;
  /** The rooms the server joins at connect (the token's or connect proxy's `subscribe`). */
  readonly subscribe: readonly string[];
  private patterns: readonly string[];
  /** Rooms (`<namespace>\0<room>`) the join proxy allowed this session: see mayJoin. Created on the first approval. */
  private proxyAllowed: Set<string> | null = null;
  private expiry: number;
  /** Called once the expiry passes (with `expiredArg`): a shared function, so a connection need not hold a closure. */
  private onExpired: ((arg: never) => void) | null = null;
  private expiredArg: unknown = undefined;
  private closed = false;

  constructor(
    verified: VerifiedToken,
    private readonly owner: Sessions,
  ) {
    this.userId = verified.userId;
    this.subscribe = verified.subscribe;
    this.patterns = verified.roomPatterns;
    this.expiry = verified.expiresAt;
  }

  get roomPatterns(): readonly string[] {
    return this.patterns;
  }

  /** `exp` of the current token, in ms since the epoch. */
  get expiresAt(): number {
    return this.expiry;
  }

  /**
   * Whether the session may be in `room`: its grant allows it (see grantAllows), or the join proxy allowed it
   * (so a refreshed token, which re-checks every room, does not take the connection out of such a room).
   */
  mayJoin(rules: NamespaceRules, room: string): boolean {
    return this.grantCovers(rules, room) || (this.proxyAllowed?.has(`${rules.name}\u0000${room}`) ?? false);
  }

  private grantCovers(rules: NamespaceRules, room: string): boolean {
    return grantAllows({ userId: this.userId, roomPatterns: this.patterns }, rules, room);
  }

  /** Throws FORBIDDEN_ROOM unless the session may join `room`. */
  assertMayJoin(rules: NamespaceRules, room: string): void {
    if (!this.mayJoin(rules, room)) throw new RoomcastError('FORBIDDEN_ROOM', `not allowed to join ${room}`);
  }

  /** Whether a join the grant does not cover is asked of a join proxy (JOIN_PROXY_URL) rather than refused. */
  get asksJoinProxy(): boolean {
    return this.owner.proxies.join !== null;
  }

  /**
   * Allows a join the grant covers; otherwise asks the join proxy (JOIN_PROXY_URL) when there is one. Throws
   * FORBIDDEN_ROOM (or the proxy's refusal, or UNAVAILABLE when it cannot answer) when the join may not happen.
   */
  async authorizeJoin(rules: NamespaceRules, room: string, connectionId: string): Promise<void> {
    // The grant decides alone where it covers the room; otherwise the proxy is asked on every join.
    if (this.grantCovers(rules, room)) return;
    const join = this.owner.proxies.join;
    if (join === null) throw new RoomcastError('FORBIDDEN_ROOM', `not allowed to join ${room}`);
    await join({ namespace: rules.name, room, user: this.userId, connectionId });
    // Bounded: a connection that joins and leaves ever new rooms forgets its oldest approvals first.
    const allowed = (this.proxyAllowed ??= new Set());
    if (allowed.size >= MAX_PROXY_ALLOWED_ROOMS) allowed.delete(allowed.values().next().value as string);
    allowed.add(`${rules.name}\u0000${room}`);
  }

  /**
   * A client publication as the namespace's publish proxy (its `publishProxy` rule, else PUBLISH_PROXY_URL) wants
   * it stored: null when there is no proxy there (store it as sent), else the data to store (the backend's
   * replacement or the original). Throws the proxy's refusal (default PUBLISH_FORBIDDEN) or UNAVAILABLE.
   */
  async reviewPublication(
    rules: NamespaceRules,
    publication: Pick<PublishProxyRequest, 'room' | 'event' | 'data' | 'connectionId'>,
  ): Promise<{ data: JsonValue; replaced: boolean } | null> {
    const ask = this.owner.proxies.publishFor(rules);
    if (ask === null) return null;
    return ask({ namespace: rules.name, room: publication.room, event: publication.event, data: publication.data, user: this.userId, connectionId: publication.connectionId });
  }

  /**
   * The rooms the server joins this connection to in a namespace at connect: `subscribe`, then `user:<sub>` when
   * AUTO_JOIN_USER_ROOM is on. Throws FORBIDDEN_ROOM when the room policy does not allow one of them, and
   * TOO_MANY_ROOMS when they are more than MAX_ROOMS_PER_SOCKET.
   */
  serverRooms(rules: NamespaceRules, options: { autoJoinUserRoom: boolean; maxRooms: number }): string[] {
    const rooms = new Set<string>();
    for (const room of this.subscribe) {
      if (!this.mayJoin(rules, room)) throw new RoomcastError('FORBIDDEN_ROOM', `subscribe: the room policy does not allow ${room} (not in rooms, nor a public room)`);
      rooms.add(room);
    }
    if (options.autoJoinUserRoom) rooms.add(personalRoom(this.userId));
    if (rooms.size > options.maxRooms) {
      throw new RoomcastError('TOO_MANY_ROOMS', `subscribe: ${rooms.size} rooms joined at connect (with the user room) exceed MAX_ROOMS_PER_SOCKET (${options.maxRooms})`);
    }
    return [...rooms];
  }

  /** A fresh token for the same user (auth:refresh): new grants and expiry; UNAUTHENTICATED for another user. */
  refresh(verified: VerifiedToken): void {
    if (verified.userId !== this.userId) throw new RoomcastError('UNAUTHENTICATED', 'the new token is for another user');
    this.patterns = verified.roomPatterns;
    if (this.onExpired !== null && !this.closed) {
      this.owner.expiries.remove(this, this.expiry);
      this.owner.expiries.add(this, verified.expiresAt);
    }
    this.expiry = verified.expiresAt;
  }

  /**
   * Calls `onExpired(arg)` once the token's `exp` passes (moved by refresh()), at most EXPIRY_TICK_MS late; counts
   * TOKEN_EXPIRED. Pass a function shared by every connection and the connection as `arg`: no closure per connection.
   */
  watchExpiry(onExpired: () => void): void;
  watchExpiry<T>(onExpired: (arg: T) => void, arg: T): void;
  watchExpiry<T>(onExpired: (arg: T) => void, arg?: T): void {
    if (this.closed) return;
    if (this.onExpired !== null) this.owner.expiries.remove(this, this.expiry);
    this.onExpired = onExpired as (arg: never) => void;
    this.expiredArg = arg;
    this.owner.expiries.add(this, this.expiry);
  }

  /** @internal The expiry wheel's call: expires the session if its (possibly refreshed) expiry has passed. */
  expireIfDue(now: number): void {
    // A refreshed session was filed again under its new expiry; this was a stale entry.
    if (this.closed || this.onExpired === null || now < this.expiry) return;
    const onExpired = this.onExpired as (arg: unknown) => void;
    const arg = this.expiredArg;
    this.onExpired = null;
    this.expiredArg = undefined;
    this.owner.metrics.error('TOKEN_EXPIRED');
    onExpired(arg);
  }

  /** Gives back what the session counted (the user's connection); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.onExpired !== null) this.owner.expiries.remove(this, this.expiry);
    this.onExpired = null;
    this.expiredArg = undefined;
    this.owner.admission.releaseUser(this.userId);
  }
}
