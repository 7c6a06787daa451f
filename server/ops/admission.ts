/**
 * Whether this node takes a new connection: not while draining, not over its
 * memory ceiling, not beyond MAX_CONNECTIONS, not faster than
 * ACCEPT_RATE_PER_S, and not beyond MAX_CONNECTIONS_PER_USER for one user.
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

export class Admission {
  private drainingFlag = false;
  private readonly acceptBucket: TokenBucket | null;
  private readonly perUser = new Map<string, number>();

  constructor(
    private readonly limits: Config['limits'],
    private readonly memory: MemoryWatch,
    private readonly metrics: GatewayMetrics,
  ) {
    this.acceptBucket = limits.acceptRatePerSecond > 0 ? new TokenBucket(limits.acceptRatePerSecond, limits.acceptRatePerSecond) : null;
  }

  get draining(): boolean {
    return this.drainingFlag;
  }

  startDraining(): void {
    this.drainingFlag = true;
  }

  /** For a new Engine.IO session (a handshake), given the node's open connections. */
  admitSession(openConnections: number): Refusal | null {
    if (this.drainingFlag) return this.refuse('UNAVAILABLE', 'this node is draining; reconnect to another one', 503);
    if (this.memory.overCeiling) return this.refuse('UNAVAILABLE', 'this node is over its memory ceiling', 503);
    if (this.limits.maxConnections > 0 && openConnections >= this.limits.maxConnections) {
      return this.refuse('UNAVAILABLE', `this node holds its maximum of ${this.limits.maxConnections} connections`, 503);
    }
    if (this.acceptBucket !== null && !this.acceptBucket.take()) return this.refuse('RATE_LIMITED', 'this node is accepting connections at its maximum rate', 429);
    return null;
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

  private refuse(code: ErrorPayload['code'], message: string, status: number): Refusal {
    this.metrics.connectionsRefused.inc({ code });
    this.metrics.handshakeFailure(code);
    return { error: errorPayload(code, message), status };
  }
}
