/**
 * room:join. The connection is counted into the room (presence store,
 * cluster-wide, which enforces MAX_ROOM_MEMBERS), then enters the Socket.IO
 * room; once this node receives the room's publications from every node (on
 * Redis Cluster: the room's channel subscription is confirmed, see
 * adapter-taps.ts), the room's position is read: any publication after that
 * position is broadcast to it, and `missed[]` holds everything after `since` up
 * to it, so nothing falls between.
 */
import type { JoinRequest, JoinResult, PresenceMember } from '../../../../shared/index.js';
import { mayJoinRoom } from '../../../auth/room-policy.js';
import { RoomcastError } from '../../../errors.js';
import { announcesPresence } from '../../../core/presence-store.js';
import { connectionState, inRoomOrder } from '../connection-state.js';
import type { NamespaceContext } from '../context.js';
import { boundedRead, capPage } from '../history-reads.js';
import type { RoomcastSocket } from '../types.js';
import { hasJoined } from './membership.js';

/** Most publications returned in one join ack; the client pages the rest with room:history. */
export const RECOVERY_MAX_MESSAGES = 300;

export function handleJoin(ctx: NamespaceContext, socket: RoomcastSocket, request: JoinRequest): Promise<JoinResult> {
  return inRoomOrder(connectionState(socket), request.room, () => join(ctx, socket, request));
}

async function join(ctx: NamespaceContext, socket: RoomcastSocket, request: JoinRequest): Promise<JoinResult> {
  const { room, since } = request;
  const alreadyJoined = hasJoined(socket, room);
  if (!alreadyJoined) await enterRoom(ctx, socket, room);
  try {
    await ctx.whenReceiving(ctx.rules.name, room);
    const read = since
      ? await boundedRead(socket, ctx.config.limits.maxRoomsPerSocket, () => ctx.history.read(ctx.rules.name, room, since, RECOVERY_MAX_MESSAGES))
      : { ...(await ctx.history.position(ctx.rules.name, room)), recovered: true, messages: [] };
    if (since) ctx.metrics.namespace(ctx.rules.name).rejoin(read.recovered);
    ctx.watermarks?.note(ctx.rules.name, room, read);
    return { room, epoch: read.epoch, offset: read.offset, recovered: read.recovered, missed: capPage(read.messages) };
  } catch (error) {
    if (!alreadyJoined) {
      void socket.leave(room);
      await ctx.presence.remove(ctx.rules.name, room, socket.id).catch(() => undefined);
    }
    throw error;
  }
}

async function enterRoom(ctx: NamespaceContext, socket: RoomcastSocket, room: string): Promise<void> {
  if (!mayJoinRoom(socket.data.userId, socket.data.roomPatterns, ctx.rules.publicRooms, room)) {
    throw new RoomcastError('FORBIDDEN_ROOM', `not allowed to join ${room}`);
  }
  const state = connectionState(socket);
  const limit = ctx.config.limits.maxRoomsPerSocket;
  if (socket.rooms.size - 1 + state.pendingJoins >= limit) {
    throw new RoomcastError('TOO_MANY_ROOMS', `a connection may join at most ${limit} rooms`);
  }
  state.pendingJoins += 1;
  try {
    const member: PresenceMember = { userId: socket.data.userId, connectionId: socket.id, nodeId: ctx.config.nodeId, joinedAt: Date.now() };
    const { outcome, members } = await ctx.presence.add(ctx.rules.name, room, member, ctx.config.limits.maxRoomMembers);
    if (outcome === 'full') throw new RoomcastError('ROOM_FULL', `${room} has ${ctx.config.limits.maxRoomMembers} members`);
    if (!socket.connected) {
      // Disconnected while the store answered: its 'disconnecting' cleanup has already run.
      await ctx.presence.remove(ctx.rules.name, room, socket.id);
      throw new RoomcastError('UNAVAILABLE', 'the connection closed during the join');
    }
    void socket.join(room);
    if (outcome === 'added' && ctx.rules.presence && announcesPresence(ctx.config.largeRooms.presenceEventsMaxMembers, members)) {
      socket.to(room).emit('presence:join', { room, member });
    }
  } finally {
    state.pendingJoins -= 1;
  }
}
