/** presence:list: the connections present in a room the caller may join. */
import type { PresenceListRequest, PresenceListResult } from '../../../../shared/index.js';
import { RoomcastError } from '../../../errors.js';
import { connectionState } from '../connection-state.js';
import type { NamespaceContext } from '../context.js';
import type { RoomcastSocket } from '../types.js';
import { hasJoined } from './membership.js';

export async function handlePresenceList(ctx: NamespaceContext, socket: RoomcastSocket, request: PresenceListRequest): Promise<PresenceListResult> {
  const { room } = request;
  if (!ctx.rules.presence) throw new RoomcastError('UNKNOWN_EVENT', `presence is off in namespace ${ctx.rules.name}`);
  if (!hasJoined(socket, room) && !connectionState(socket).session.mayJoin(ctx.rules, room)) {
    throw new RoomcastError('FORBIDDEN_ROOM', `not allowed to see presence of ${room}`);
  }
  return { room, members: await ctx.membership.list(ctx.rules.name, room) };
}
