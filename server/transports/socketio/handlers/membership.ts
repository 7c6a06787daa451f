/**
 * What a connection has joined. Socket.IO also puts every socket in a room named
 * by its own id; that room is Socket.IO's, never a membership: publish, signal,
 * history and presence on it need a grant like any other room (and the shared
 * room-name rules refuse names of that shape before this runs).
 */
import type { RoomcastSocket } from '../types.js';

export function hasJoined(socket: RoomcastSocket, room: string): boolean {
  return room !== socket.id && socket.rooms.has(room);
}
