/** room:leave: the connection leaves the Socket.IO room and the room's members (Membership announces it). */
import type { LeaveRequest, LeaveResult } from '../../../../shared/index.js';
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
      await ctx.membership.remove(ctx.rules.name, room, socket.id);
    }
    return { room };
  });
}
