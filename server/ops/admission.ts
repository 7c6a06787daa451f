/**
 * Whether this node takes a new connection. Only what deserves it is counted
 * against the node-wide limits, so anonymous clients cannot exhaust them for
 * everyone:
 *
 * - At the Engine.IO handshake (anonymous: no token yet) and when an SSE stream
 *   opens: refused while draining or over the memory ceiling, when the node
 *   already holds MAX_CONNECTIONS authenticated connections, and per client
 *   address beyond MAX_CONNECTIONS_PER_IP open connections (authenticated or
 *   not) or ACCEPT_RATE_PER_IP_PER_S new ones. An unauthenticated session lives
 *   at most HANDSHAKE_TIMEOUT_MS (Socket.IO's connectTimeout) and holds no
 *   node-wide slot.
 * - When a session completes its first authenticated namespace CONNECT (or an
 *   SSE stream's token is verified): MAX_CONNECTIONS and ACCEPT_RATE_PER_S,
 *   node-wide, then MAX_CONNECTIONS_PER_USER for the user.
 *
 * Each refusal is a typed error and counts in roomcast_connections_refused_total
 * and roomcast_handshake_failures_total.
 */
import { errorPayload, type ErrorPayload } from '../../shared/index.js';
import type { Config } from '../config/config.js';
import type { GatewayMetrics } from './metrics.js';
import type { MemoryWatch } from './memory-watch.js';
import { TokenBucket } from './token-bucket.js';

export interface Refusal {
  error: ErrorPayload;
  /** HTTP status for a refusal at the Engine.IO handshake. */
  status: number;
}

interface AddressState {
  open: number;
  bucket: TokenBucket | null;
}

/** Addresses tracked at most; past it the idle ones are forgotten first (a flood of addresses cannot grow memory). */
const MAX_TRACKED_ADDRESSES = 100_000;
/** How often idle address entries are dropped. */
const SWEEP_INTERVAL_MS = 10_000;

export class Admission {
  private drainingFlag = false;
  private readonly acceptBucket: TokenBucket | null;
  private readonly perUser = new Map<string, number>();
  private readonly perAddress = new Map<string, AddressState>();
  private authenticatedCount = 0;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly limits: Config['limits'],
    private readonly memory: MemoryWatch,
    private readonly metrics: GatewayMetrics,
  ) {
    this.acceptBucket = limits.acceptRatePerSecond > 0 ? new TokenBucket(limits.acceptRatePerSecond, limits.acceptRatePerSecond) : null;
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  get draining(): boolean {
    return this.drainingFlag;
  }

  /** Connections counted against MAX_CONNECTIONS now: authenticated sessions and SSE streams. */
  get authenticated(): number {
    return this.authenticatedCount;
  }

  startDraining(): void {
    this.drainingFlag = true;
  }

  stop(): void {
    clearInterval(this.sweepTimer);
  }

  /** A new Engine.IO session (handshake) or SSE stream from `address`, before anything else is spent on it. */
  admitConnection(address: string): Refusal | null {
    if (this.drainingFlag) return this.refuse('UNAVAILABLE', 'this node is draining; reconnect to another one', 503);
    if (this.memory.overCeiling) return this.refuse('UNAVAILABLE', 'this node is over its memory ceiling', 503);
    if (this.atCapacity()) return this.capacityRefusal();
    const state = this.perAddress.get(address);
    if (this.limits.maxConnectionsPerIp > 0 && (state?.open ?? 0) >= this.limits.maxConnectionsPerIp) {
      return this.refuse('RATE_LIMITED', `this client address holds its maximum of ${this.limits.maxConnectionsPerIp} connections on this node`, 429);
    }
    if (this.limits.acceptRatePerIpPerSecond > 0) {
      const tracked = state ?? this.track(address);
      tracked.bucket ??= new TokenBucket(this.limits.acceptRatePerIpPerSecond, this.limits.acceptRatePerIpPerSecond);
      if (!tracked.bucket.take()) return this.refuse('RATE_LIMITED', 'this client address opens connections faster than this node accepts', 429);
    }
    return null;
  }

  /** An admitted connection of `address` is open (call `closed` exactly once when it ends). */
  opened(address: string): void {
    (this.perAddress.get(address) ?? this.track(address)).open += 1;
  }

  closed(address: string): void {
    const state = this.perAddress.get(address);
    if (state === undefined) return;
    state.open = Math.max(0, state.open - 1);
    if (state.open === 0 && (state.bucket === null || state.bucket.isFull())) this.perAddress.delete(address);
  }

  /**
   * A connection proved who it is (its first authenticated namespace CONNECT, an SSE stream's token):
   * it takes a node-wide slot (MAX_CONNECTIONS) and counts against ACCEPT_RATE_PER_S. Call
   * `releaseAuthenticated` exactly once when it ends.
   */
  admitAuthenticated(): ErrorPayload | null {
    if (this.drainingFlag) return this.refuse('UNAVAILABLE', 'this node is draining; reconnect to another one', 503).error;
    if (this.atCapacity()) return this.capacityRefusal().error;
    if (this.acceptBucket !== null && !this.acceptBucket.take()) return this.refuse('RATE_LIMITED', 'this node is accepting connections at its maximum rate', 429).error;
    this.authenticatedCount += 1;
    return null;
  }

  releaseAuthenticated(): void {
    this.authenticatedCount = Math.max(0, this.authenticatedCount - 1);
  }

  /** For an authenticated namespace connection: refuses while draining, and past the user's limit (else counts it). */
  admitUser(userId: string): ErrorPayload | null {
    if (this.drainingFlag) return this.refuse('UNAVAILABLE', 'this node is draining; reconnect to another one', 503).error;
    const count = this.perUser.get(userId) ?? 0;
    if (this.limits.maxConnectionsPerUser > 0 && count >= this.limits.maxConnectionsPerUser) {
      return this.refuse('TOO_MANY_CONNECTIONS', `a user may hold ${this.limits.maxConnectionsPerUser} connections on one node`, 429).error;
    }
    this.perUser.set(userId, count + 1);
    return null;
  }

  releaseUser(userId: string): void {
    const count = (this.perUser.get(userId) ?? 1) - 1;
    if (count <= 0) this.perUser.delete(userId);
    else this.perUser.set(userId, count);
  }

  /** Connections counted for `userId` now (for tests and diagnostics). */
  userConnections(userId: string): number {
    return this.perUser.get(userId) ?? 0;
  }

  private atCapacity(): boolean {
    return this.limits.maxConnections > 0 && this.authenticatedCount >= this.limits.maxConnections;
  }

  private capacityRefusal(): Refusal {
    return this.refuse('UNAVAILABLE', `this node holds its maximum of ${this.limits.maxConnections} connections`, 503);
  }

  private track(address: string): AddressState {
    if (this.perAddress.size >= MAX_TRACKED_ADDRESSES) this.sweep();
    const state: AddressState = { open: 0, bucket: null };
    this.perAddress.set(address, state);
    return state;
  }

  /** Drops the entries of addresses with nothing open and a full bucket: nothing left to remember. */
  private sweep(): void {
    const now = Date.now();
    for (const [address, state] of this.perAddress) {
      if (state.open === 0 && (state.bucket === null || state.bucket.isFull(now))) this.perAddress.delete(address);
    }
  }

  private refuse(code: ErrorPayload['code'], message: string, status: number): Refusal {
    this.metrics.connectionsRefused.inc({ code });
    this.metrics.handshakeFailure(code);
    return { error: errorPayload(code, message), status };
  }
}
