/** room:publish: a member publishes into a room it has joined, where its namespace allows clients to publish. */
import type { PublishRequest, PublishResult } from '../../../../shared/index.js';
import { RoomcastError } from '../../../errors.js';
import type { NamespaceContext } from '../context.js';
import type { RoomcastSocket } from '../types.js';
import { hasJoined } from './membership.js';

export async function handlePublish(ctx: NamespaceContext, socket: RoomcastSocket, request: PublishRequest): Promise<PublishResult> {
  if (!ctx.rules.clientPublish) {
    throw new RoomcastError('PUBLISH_FORBIDDEN', `clients may not publish in namespace ${ctx.rules.name}`);
  }
  if (!hasJoined(socket, request.room)) {
    throw new RoomcastError('PUBLISH_FORBIDDEN', `join ${request.room} before publishing into it`);
  }
  // Serialised once: its size is charged to the user's publish budget, and the store keeps this text.
  const dataJson = ctx.publisher.checkData(request.data);
  ctx.publishBudget.spend(socket.data.userId, Buffer.byteLength(dataJson));
  const outcome = await ctx.publisher.publish({
    namespace: ctx.rules.name,
    room: request.room,
    event: request.event,
    data: request.data,
    dataJson,
    from: socket.data.userId,
    source: 'client',
    ...(request.idempotencyKey !== undefined ? { idempotencyKey: request.idempotencyKey } : {}),
  });
  return { room: outcome.room, epoch: outcome.epoch, offset: outcome.offset };
}
