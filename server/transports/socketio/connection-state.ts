/**
 * Per-connection server state that must not live in socket.data (which the
 * cluster adapter may serialise): the namespace it belongs to, the session, the
 * rate-limit bucket, the room operations and history reads in progress.
 *
 * It is the one object a connection holds besides Socket.IO's own, so it is kept
 * small: numbers and references, and the Map and array of operations in progress
 * only while there are some (an idle connection holds neither).
 */
import type { Session } from '../../core/session.js';
import { TokenBucket } from '../../ops/token-bucket.js';
import type { NamespaceContext } from './context.js';
import type { RoomcastSocket } from './types.js';

export class ConnectionState {
  /** Joins past their checks but not yet in the room: they count against MAX_ROOMS_PER_SOCKET. */
  pendingJoins = 0;
  /** History reads (room:history, joins with since) being answered now. */
  readsInFlight = 0;
  /**
   * Joins with `since` this connection may still make outside the rate-limit bucket: a reconnecting
   * client rejoins every room at once, up to MAX_ROOMS_PER_SOCKET of them, and none may be refused.
   */
  rejoinAllowance: number;
  readonly bucket: TokenBucket;
  /** @internal The last join/leave of each room still running (see inRoomOrder); null when none. */
  ops: Map<string, Promise<unknown>> | null = null;
  private waiters: Array<() => void> | null = null;

  constructor(
    /** The namespace's handlers and dependencies (shared by its connections). */
    readonly ctx: NamespaceContext,
    /** Who is connected (the core's Session: grants, expiry, the user's count). */
    readonly session: Session,
  ) {
    const limits = ctx.config.limits;
    this.bucket = new TokenBucket(limits.rateLimitPerSecond, limits.rateLimitBurst);
    this.rejoinAllowance = limits.maxRoomsPerSocket;
  }

  /** Reads waiting for one of the history-read slots, in arrival order (see history-reads.ts); made on first use. */
  get readWaiters(): Array<() => void> {
    return (this.waiters ??= []);
  }
}

/**
 * Runs join and leave of one room of one connection one after the other, in the
 * order they arrived: a leave sent right after a join must not overtake it.
 */
export function inRoomOrder<T>(state: ConnectionState, room: string, operation: () => Promise<T>): Promise<T> {
  const ops = (state.ops ??= new Map());
  const previous = ops.get(room) ?? Promise.resolve();
  const next = previous.then(operation, operation);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  ops.set(room, settled);
  void settled.then(() => {
    const current = state.ops;
    if (current === null || current.get(room) !== settled) return;
    current.delete(room);
    if (current.size === 0) state.ops = null;
  });
  return next;
}

const states = new WeakMap<RoomcastSocket, ConnectionState>();
/** Sessions opened by the handshake middleware, picked up when the connection starts. */
const handshakeSessions = new WeakMap<RoomcastSocket, Session>();

export function attachSession(socket: RoomcastSocket, session: Session): void {
  handshakeSessions.set(socket, session);
}

export function initConnectionState(socket: RoomcastSocket, ctx: NamespaceContext): ConnectionState {
  const session = handshakeSessions.get(socket);
  if (session === undefined) throw new Error('session missing: the auth middleware did not run');
  handshakeSessions.delete(socket);
  const state = new ConnectionState(ctx, session);
  states.set(socket, state);
  return state;
}

export function connectionState(socket: RoomcastSocket): ConnectionState {
  const state = states.get(socket);
  if (state === undefined) throw new Error('connection state missing: initConnectionState was not called');
  return state;
}
