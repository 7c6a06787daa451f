import { PERSONAL_ROOM_PREFIX, ROOM_NAME_MAX_LENGTH, ROOM_NAME_PATTERN } from './constants.js';

/** Why a room name is refused, or null when it is valid. Checked before any policy runs. */
export function roomNameProblem(room: unknown): string | null {
  if (typeof room !== 'string') return 'room must be a string';
  if (room.length === 0) return 'room must not be empty';
  if (room.length > ROOM_NAME_MAX_LENGTH) return `room must be at most ${ROOM_NAME_MAX_LENGTH} characters`;
  if (!ROOM_NAME_PATTERN.test(room)) return 'room may contain only letters, digits and _ - : . @';
  return null;
}

export function isValidRoomName(room: unknown): room is string {
  return roomNameProblem(room) === null;
}

export function personalRoom(userId: string): string {
  return `${PERSONAL_ROOM_PREFIX}${userId}`;
}
