import { PERSONAL_ROOM_PREFIX, ROOM_NAME_MAX_LENGTH, ROOM_NAME_PATTERN } from './constants.js';

/**
 * A Socket.IO socket id: 20 characters of [A-Za-z0-9_-] (base64id). Socket.IO puts every
 * socket in a room named by its id, so a room name of that shape could reach that socket.
 */
const SOCKET_ID_SHAPE = /^[A-Za-z0-9_-]{20}$/;

export const SOCKET_ID_SHAPED_ROOM = 'room must not be shaped like a socket id (exactly 20 characters of letters, digits, _ and -)';

/** Why a room name is refused, or null when it is valid. Checked before any policy runs. */
export function roomNameProblem(room: unknown): string | null {
  if (typeof room !== 'string') return 'room must be a string';
  if (room.length === 0) return 'room must not be empty';
  if (room.length > ROOM_NAME_MAX_LENGTH) return `room must be at most ${ROOM_NAME_MAX_LENGTH} characters`;
  if (!ROOM_NAME_PATTERN.test(room)) return 'room may contain only letters, digits and _ - : . @';
  if (looksLikeSocketId(room)) return SOCKET_ID_SHAPED_ROOM;
  return null;
}

export function looksLikeSocketId(room: string): boolean {
  return SOCKET_ID_SHAPE.test(room);
}

export function isValidRoomName(room: unknown): room is string {
  return roomNameProblem(room) === null;
}

export function personalRoom(userId: string): string {
  return `${PERSONAL_ROOM_PREFIX}${userId}`;
}
