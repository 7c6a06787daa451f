/**
 * room:publish: a member publishes into a room it has joined, where its namespace allows clients to publish.
 * Where a publish proxy applies (the namespace's `publishProxy`, else PUBLISH_PROXY_URL) the backend is asked
 * first: it may refuse, or replace the data (the replacement is checked like the original, and is what is
 * stored and delivered); nothing is stored unless it allows.
 */
import type { PublishRequest, PublishResult } from '../../../../shared/index.js';
import { RoomcastError } from '../../../errors.js';
import { connectionState } from '../connection-state.js';
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
  // Serialised once: its size is charged to the user's publish budget (before the backend is asked: a flood stops
  // here, not at the backend), and the store keeps this text.
  let dataJson = ctx.publisher.checkData(request.data);
  ctx.publishBudget.spend(socket.data.userId, Buffer.byteLength(dataJson));
  let data = request.data;
  const reviewed = await connectionState(socket).session.reviewPublication(ctx.rules, { room: request.room, event: request.event, data, connectionId: socket.id });
  if (reviewed?.replaced === true) {
    data = reviewed.data;
    // The backend's replacement meets the same size and depth limits as a client's data.
    try {
      dataJson = ctx.publisher.checkData(data);
    } catch (error) {
      if (error instanceof RoomcastError) throw new RoomcastError(error.code, `the publish proxy's replacement data: ${error.message}`);
      throw error;
    }
  }
  const outcome = await ctx.publisher.publish({
    namespace: ctx.rules.name,
    room: request.room,
    event: request.event,
    data,
    dataJson,
    from: socket.data.userId,
    connectionId: socket.id,
    source: 'client',
    ...(request.idempotencyKey !== undefined ? { idempotencyKey: request.idempotencyKey } : {}),
  });
  return { room: outcome.room, epoch: outcome.epoch, offset: outcome.offset };
}
