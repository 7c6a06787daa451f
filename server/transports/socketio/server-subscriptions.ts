/**
 * Server-side subscriptions: at connect the server joins the connection to the
 * rooms of its `subscribe` (the token's claim, or the connect proxy's answer)
 * and to `user:<sub>` (AUTO_JOIN_USER_ROOM), exactly as a `room:join` of each
 * would (joinRoom: Membership, the Socket.IO room, the position from
 * Subscriptions), then tells the client with `session { user, rooms }`, each
 * room with its position, so the SDK tracks them as rooms it joined itself and
 * rejoins them with `since` after a reconnect.
 *
 * Whether these rooms are allowed and fit MAX_ROOMS_PER_SOCKET was settled at
 * the handshake (auth-middleware.ts refuses the connection otherwise). A room
 * that cannot be joined now (ROOM_FULL, Redis unavailable) is left out of
 * `session` and reported as `protocol:error { event: 'session', room }`.
 */
import type { SessionEvent } from '../../../shared/index.js';
import { toErrorPayload } from '../../errors.js';
import { connectionState } from './connection-state.js';
import type { NamespaceContext } from './context.js';
import { joinRoom } from './handlers/join.js';
import type { RoomcastSocket } from './types.js';

/** The rooms the server joins a connection to in this namespace (see Session.serverRooms). */
export function serverRoomsOf(ctx: NamespaceContext, socket: RoomcastSocket): string[] {
  return connectionState(socket).session.serverRooms(ctx.rules, { autoJoinUserRoom: ctx.config.autoJoinUserRoom, maxRooms: ctx.config.limits.maxRoomsPerSocket });
}

/** Joins the server's rooms and emits `session`; never throws (a failure is the client's protocol:error). */
export async function startServerSubscriptions(ctx: NamespaceContext, socket: RoomcastSocket): Promise<void> {
  let rooms: string[];
  try {
    rooms = serverRoomsOf(ctx, socket);
  } catch (error) {
    // Checked at the handshake already; a refresh cannot run before this. Kept safe all the same.
    socket.emit('protocol:error', { ...toErrorPayload(error), event: 'session' });
    return;
  }
  const joined = await Promise.all(
    rooms.map(async (room) => {
      try {
        const result = await joinRoom(ctx, socket, { room });
        return { room, epoch: result.epoch, offset: result.offset };
      } catch (error) {
        if (socket.connected) socket.emit('protocol:error', { ...toErrorPayload(error), event: 'session', room });
        ctx.logger.debug({ ns: ctx.rules.name, conn: socket.id, room, err: error }, 'a server-side subscription failed');
        return null;
      }
    }),
  );
  if (!socket.connected) return;
  const event: SessionEvent = { user: socket.data.userId, rooms: joined.filter((entry) => entry !== null) };
  socket.emit('session', event);
}
