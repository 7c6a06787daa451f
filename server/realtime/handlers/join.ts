/**
 * room:join. The socket enters the room before the room's position is read,
 * so any publication after that position is broadcast to it: together with
 * `missed[]` (everything after `since` up to the position) nothing falls between.
 */
import type { JoinRequest, JoinResult, PresenceMember } from '../../../shared/index.js';
import { mayJoinRoom } from '../../auth/room-policy.js';
import { RoomcastError } from '../../errors.js';
import type { NamespaceContext } from '../context.js';
import type { RoomcastSocket } from '../types.js';

/** Most publications returned in one join ack; the client pages the rest with room:history. */
export const RECOVERY_MAX_MESSAGES = 300;

export async function handleJoin(ctx: NamespaceContext, socket: RoomcastSocket, request: JoinRequest): Promise<JoinResult> {
  const { room, since } = request;
  const alreadyJoined = socket.rooms.has(room);
  if (!alreadyJoined) {
    // Checks and join run without an await in between, so concurrent joins cannot overshoot a limit.
    if (!mayJoinRoom(socket.data.userId, socket.data.roomPatterns, ctx.rules.publicRooms, room)) {
      throw new RoomcastError('FORBIDDEN_ROOM', `not allowed to join ${room}`);
    }
    if (socket.rooms.size - 1 >= ctx.config.limits.maxRoomsPerSocket) {
      throw new RoomcastError('TOO_MANY_ROOMS', `a connection may join at most ${ctx.config.limits.maxRoomsPerSocket} rooms`);
    }
    if ((ctx.namespace.adapter.rooms.get(room)?.size ?? 0) >= ctx.config.limits.maxRoomMembers) {
      throw new RoomcastError('ROOM_FULL', `${room} has ${ctx.config.limits.maxRoomMembers} members`);
    }
    void socket.join(room);
  }
  try {
    const read = since
      ? await ctx.history.read(ctx.rules.name, room, since, RECOVERY_MAX_MESSAGES)
      : { ...(await ctx.history.position(ctx.rules.name, room)), recovered: true, messages: [] };
    if (!alreadyJoined && ctx.rules.presence) await announceJoin(ctx, socket, room);
    return { room, epoch: read.epoch, offset: read.offset, recovered: read.recovered, missed: read.messages };
  } catch (error) {
    if (!alreadyJoined) void socket.leave(room);
    throw error;
  }
}

async function announceJoin(ctx: NamespaceContext, socket: RoomcastSocket, room: string): Promise<void> {
  const member: PresenceMember = { userId: socket.data.userId, connectionId: socket.id, nodeId: ctx.config.nodeId, joinedAt: Date.now() };
  if (await ctx.presence.add(ctx.rules.name, room, member)) socket.to(room).emit('presence:join', { room, member });
}
