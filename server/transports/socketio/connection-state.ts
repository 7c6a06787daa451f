/**
 * Per-connection server state that must not live in socket.data (which the
 * cluster adapter may serialise): the session, the rate-limit bucket, the
 * room operations and history reads in progress.
 */
import type { Session } from '../../core/session.js';
import { TokenBucket } from '../../ops/token-bucket.js';
import type { RoomcastSocket } from './types.js';

export interface ConnectionState {
  /** Who is connected (the core's Session: grants, expiry, the user's count). */
  session: Session;
  bucket: TokenBucket;
  /** Joins past their checks but not yet in the room: they count against MAX_ROOMS_PER_SOCKET. */
  pendingJoins: number;
  /** The last join/leave of each room still running: the next one for that room waits for it. */
  roomOps: Map<string, Promise<unknown>>;
  /** History reads (room:history, joins with since) being answered now. */
  readsInFlight: number;
  /** Reads waiting for one of those slots, in arrival order (see history-reads.ts). */
  readWaiters: Array<() => void>;
  /**
   * Joins with `since` this connection may still make outside the rate-limit bucket: a reconnecting
   * client rejoins every room at once, up to MAX_ROOMS_PER_SOCKET of them, and none may be refused.
   */
  rejoinAllowance: number;
}

/**
 * Runs join and leave of one room of one connection one after the other, in the
 * order they arrived: a leave sent right after a join must not overtake it.
 */
export function inRoomOrder<T>(state: ConnectionState, room: string, operation: () => Promise<T>): Promise<T> {
  const previous = state.roomOps.get(room) ?? Promise.resolve();
  const next = previous.then(operation, operation);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  state.roomOps.set(room, settled);
  void settled.then(() => {
    if (state.roomOps.get(room) === settled) state.roomOps.delete(room);
  });
  return next;
}

const states = new WeakMap<RoomcastSocket, ConnectionState>();
/** Sessions opened by the handshake middleware, picked up when the connection starts. */
const handshakeSessions = new WeakMap<RoomcastSocket, Session>();

export function attachSession(socket: RoomcastSocket, session: Session): void {
  handshakeSessions.set(socket, session);
}

export function initConnectionState(socket: RoomcastSocket, ratePerSecond: number, burst: number, rejoinAllowance: number): ConnectionState {
  const session = handshakeSessions.get(socket);
  if (session === undefined) throw new Error('session missing: the auth middleware did not run');
  handshakeSessions.delete(socket);
  const state: ConnectionState = {
    session,
    bucket: new TokenBucket(ratePerSecond, burst),
    pendingJoins: 0,
    roomOps: new Map(),
    readsInFlight: 0,
    readWaiters: [],
    rejoinAllowance,
  };
  states.set(socket, state);
  return state;
}

export function connectionState(socket: RoomcastSocket): ConnectionState {
  const state = states.get(socket);
  if (state === undefined) throw new Error('connection state missing: initConnectionState was not called');
  return state;
}
