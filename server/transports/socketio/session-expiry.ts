/**
 * A connection lives as long as its token: when `exp` passes without an
 * `auth:refresh`, the client is told TOKEN_EXPIRED and disconnected.
 */
import { errorPayload } from '../../../shared/index.js';
import { connectionState } from './connection-state.js';
import type { RoomcastSocket } from './types.js';

// setTimeout cannot wait longer than 2^31-1 ms; a longer wait is re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `onExpired` counts the TOKEN_EXPIRED sent when the timer fires. */
export function scheduleExpiry(socket: RoomcastSocket, onExpired: () => void): void {
  const state = connectionState(socket);
  if (state.expiryTimer !== null) clearTimeout(state.expiryTimer);
  state.expiryTimer = null;
  const expiresAt = socket.data.expiresAt;
  if (expiresAt === null) return;
  const wait = expiresAt - Date.now();
  state.expiryTimer = setTimeout(
    () => {
      if (Date.now() < expiresAt) return scheduleExpiry(socket, onExpired);
      onExpired();
      socket.emit('protocol:error', errorPayload('TOKEN_EXPIRED', 'the token expired; reconnect with a fresh one or send auth:refresh before expiry'));
      socket.disconnect(true);
    },
    Math.min(Math.max(wait, 0), MAX_TIMER_MS),
  );
}

export function cancelExpiry(socket: RoomcastSocket): void {
  const state = connectionState(socket);
  if (state.expiryTimer !== null) clearTimeout(state.expiryTimer);
  state.expiryTimer = null;
}
