/**
 * Per-connection server state that must not live in socket.data (which the
 * cluster adapter may serialise): the rate-limit bucket and the token-expiry timer.
 */
import { TokenBucket } from '../ops/token-bucket.js';
import type { RoomcastSocket } from './types.js';

export interface ConnectionState {
  bucket: TokenBucket;
  expiryTimer: NodeJS.Timeout | null;
  /** Joins past their checks but not yet in the room: they count against MAX_ROOMS_PER_SOCKET. */
  pendingJoins: number;
}

const states = new WeakMap<RoomcastSocket, ConnectionState>();

export function initConnectionState(socket: RoomcastSocket, ratePerSecond: number, burst: number): ConnectionState {
  const state: ConnectionState = { bucket: new TokenBucket(ratePerSecond, burst), expiryTimer: null, pendingJoins: 0 };
  states.set(socket, state);
  return state;
}

export function connectionState(socket: RoomcastSocket): ConnectionState {
  const state = states.get(socket);
  if (state === undefined) throw new Error('connection state missing: initConnectionState was not called');
  return state;
}
