/**
 * Who is connected, for every transport (a Socket.IO connection, an SSE
 * stream): one place for the token check, the room policy, admission and the
 * per-user counts, and the token's expiry.
 *
 * The order is the transports' order of refusal: per client address first (an
 * anonymous flood must not even reach the token check), then the token, then
 * the user's connection limit, then the node-wide slot (MAX_CONNECTIONS,
 * ACCEPT_RATE_PER_S). Every count taken is given back exactly once.
 */
import type { ErrorPayload } from '../../shared/index.js';
import { mayJoinRoom } from '../auth/room-policy.js';
import type { TokenVerifier, VerifiedToken } from '../auth/token-verifier.js';
import type { NamespaceRules } from '../config/namespaces.js';
import { RoomcastError } from '../errors.js';
import type { Admission, Refusal } from '../ops/admission.js';
import type { GatewayMetrics } from '../ops/metrics.js';

// setTimeout cannot wait longer than 2^31-1 ms; a longer wait is re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Sessions {
  constructor(
    private readonly verifyToken: TokenVerifier,
    private readonly admission: Admission,
    private readonly metrics: GatewayMetrics,
  ) {}

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
   * Counts a connection for the token's user (MAX_CONNECTIONS_PER_USER): the Session, to close when the
   * connection ends, or the refusal.
   */
  admit(verified: VerifiedToken): Session | ErrorPayload {
    const refusal = this.admission.admitUser(verified.userId);
    return refusal ?? new Session(verified, this.admission, this.metrics);
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
  private patterns: readonly string[];
  private expiry: number;
  private expiryTimer: NodeJS.Timeout | null = null;
  private onExpired: (() => void) | null = null;
  private closed = false;

  constructor(
    verified: VerifiedToken,
    private readonly admission: Admission,
    private readonly metrics: GatewayMetrics,
  ) {
    this.userId = verified.userId;
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

  /** Whether the session may join `room` (see grantAllows). */
  mayJoin(rules: NamespaceRules, room: string): boolean {
    return grantAllows({ userId: this.userId, roomPatterns: this.patterns }, rules, room);
  }

  /** Throws FORBIDDEN_ROOM unless the session may join `room`. */
  assertMayJoin(rules: NamespaceRules, room: string): void {
    if (!this.mayJoin(rules, room)) throw new RoomcastError('FORBIDDEN_ROOM', `not allowed to join ${room}`);
  }

  /** A fresh token for the same user (auth:refresh): new grants and expiry; UNAUTHENTICATED for another user. */
  refresh(verified: VerifiedToken): void {
    if (verified.userId !== this.userId) throw new RoomcastError('UNAUTHENTICATED', 'the new token is for another user');
    this.patterns = verified.roomPatterns;
    this.expiry = verified.expiresAt;
    if (this.onExpired !== null) this.armExpiry();
  }

  /** Calls `onExpired` once the token's `exp` passes (re-armed by refresh()); counts TOKEN_EXPIRED. */
  watchExpiry(onExpired: () => void): void {
    this.onExpired = onExpired;
    this.armExpiry();
  }

  /** Gives back what the session counted (the user's connection); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.admission.releaseUser(this.userId);
  }

  private armExpiry(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.closed) return;
    const expiresAt = this.expiry;
    this.expiryTimer = setTimeout(
      () => {
        if (Date.now() < expiresAt) return this.armExpiry();
        this.metrics.error('TOKEN_EXPIRED');
        this.onExpired?.();
      },
      Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS),
    );
  }
}

