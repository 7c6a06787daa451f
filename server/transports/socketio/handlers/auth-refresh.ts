/**
 * auth:refresh: a fresh token for the same user extends the connection's life.
 * Rooms the new token no longer allows are left, so a narrowed grant takes effect at once.
 */
import { errorPayload, type AuthRefreshRequest, type AuthRefreshResult } from '../../../../shared/index.js';
import { mayJoinRoom } from '../../../auth/room-policy.js';
import { RoomcastError } from '../../../errors.js';
import type { NamespaceContext } from '../context.js';
import { scheduleExpiry } from '../session-expiry.js';
import type { RoomcastSocket } from '../types.js';
import { announceLeave } from './leave.js';

export async function handleAuthRefresh(ctx: NamespaceContext, socket: RoomcastSocket, request: AuthRefreshRequest): Promise<AuthRefreshResult> {
  const verified = await ctx.verifyToken(request.token);
  if (verified.userId !== socket.data.userId) {
    throw new RoomcastError('UNAUTHENTICATED', 'the new token is for another user');
  }
  socket.data.roomPatterns = verified.roomPatterns;
  socket.data.expiresAt = verified.expiresAt;
  scheduleExpiry(socket, () => ctx.metrics.error('TOKEN_EXPIRED'));
  for (const room of socket.rooms) {
    if (room === socket.id || mayJoinRoom(verified.userId, verified.roomPatterns, ctx.rules.publicRooms, room)) continue;
    void socket.leave(room);
    await announceLeave(ctx, socket, room);
    ctx.metrics.error('FORBIDDEN_ROOM');
    socket.emit('protocol:error', { ...errorPayload('FORBIDDEN_ROOM', `the refreshed token no longer allows ${room}`), event: 'auth:refresh', room });
  }
  return { expiresAt: verified.expiresAt };
}
