/**
 * room:signal: a volatile event (typing indicator, cursor position) relayed to the
 * room's other members as `signal`. Never stored, no offset, not in history; sent
 * as a volatile emit, so a member whose transport is busy simply misses it.
 * Same rules as room:publish (joined room, clientPublish, MAX_PAYLOAD_BYTES) and
 * the same per-connection rate limit as every request; its bytes count against
 * the user's PUBLISH_BYTES_PER_USER_PER_S like a publication's.
 */
import type { SignalRequest, SignalResult } from '../../../../shared/index.js';
import { RoomcastError } from '../../../errors.js';
import type { NamespaceContext } from '../context.js';
import type { RoomcastSocket } from '../types.js';
import { hasJoined } from './membership.js';

export async function handleSignal(ctx: NamespaceContext, socket: RoomcastSocket, request: SignalRequest): Promise<SignalResult> {
  if (!ctx.rules.clientPublish) {
    throw new RoomcastError('PUBLISH_FORBIDDEN', `clients may not signal in namespace ${ctx.rules.name}`);
  }
  if (!hasJoined(socket, request.room)) {
    throw new RoomcastError('PUBLISH_FORBIDDEN', `join ${request.room} before signalling into it`);
  }
  ctx.publishBudget.spend(socket.data.userId, Buffer.byteLength(ctx.publisher.checkData(request.data)));
  socket.to(request.room).volatile.emit('signal', {
    room: request.room,
    event: request.event,
    data: request.data,
    ts: Date.now(),
    from: socket.data.userId,
  });
  return { room: request.room };
}
