/**
 * auth:refresh: a fresh token for the same user extends the connection's life.
 * Rooms the new token no longer allows are left, so a narrowed grant takes effect at once.
 */
import { errorPayload, type AuthRefreshRequest, type AuthRefreshResult } from '../../../../shared/index.js';
import { connectionState } from '../connection-state.js';
import type { NamespaceContext } from '../context.js';
import type { RoomcastSocket } from '../types.js';

export async function handleAuthRefresh(ctx: NamespaceContext, socket: RoomcastSocket, request: AuthRefreshRequest): Promise<AuthRefreshResult> {
  const verified = await ctx.sessions.authenticate(request.token);
  const session = connectionState(socket).session;
  session.refresh(verified);
  socket.data.roomPatterns = verified.roomPatterns;
  socket.data.expiresAt = verified.expiresAt;
  for (const room of socket.rooms) {
    if (room === socket.id || session.mayJoin(ctx.rules, room)) continue;
    void socket.leave(room);
    await ctx.membership.remove(ctx.rules.name, room, socket.id);
    ctx.metrics.error('FORBIDDEN_ROOM');
    socket.emit('protocol:error', { ...errorPayload('FORBIDDEN_ROOM', `the refreshed token no longer allows ${room}`), event: 'auth:refresh', room });
  }
  return { expiresAt: verified.expiresAt };
}
