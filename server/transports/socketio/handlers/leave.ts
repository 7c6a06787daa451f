/** room:leave, and the presence side of leaving (also used when a connection closes). */
import type { LeaveRequest, LeaveResult } from '../../../../shared/index.js';
import { announcesPresence } from '../../../core/presence-store.js';
import { connectionState, inRoomOrder } from '../connection-state.js';
import type { NamespaceContext } from '../context.js';
import type { RoomcastSocket } from '../types.js';
import { hasJoined } from './membership.js';

/** Waits for a join of the same room still in progress, so the leave really takes the connection out. */
export function handleLeave(ctx: NamespaceContext, socket: RoomcastSocket, request: LeaveRequest): Promise<LeaveResult> {
  const { room } = request;
  return inRoomOrder(connectionState(socket), room, async () => {
    if (hasJoined(socket, room)) {
      void socket.leave(room);
      await announceLeave(ctx, socket, room);
    }
    return { room };
  });
}

/**
 * Removes the connection from the room's members (every namespace counts members) and tells the room where
 * presence is on and the room, counting the one leaving, is within PRESENCE_EVENTS_MAX_MEMBERS.
 */
export async function announceLeave(ctx: NamespaceContext, socket: RoomcastSocket, room: string): Promise<void> {
  const removal = await ctx.presence.remove(ctx.rules.name, room, socket.id);
  if (removal !== null && ctx.rules.presence && announcesPresence(ctx.config.largeRooms.presenceEventsMaxMembers, removal.membersBefore)) {
    ctx.namespace.to(room).emit('presence:leave', { room, member: removal.member });
  }
}
