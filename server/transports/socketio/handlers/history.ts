/** room:history: a page of a room's history, for any room the connection may join. */
import { HISTORY_PAGE_DEFAULT, type HistoryRequest, type HistoryResult } from '../../../../shared/index.js';
import { RoomcastError } from '../../../errors.js';
import { connectionState } from '../connection-state.js';
import type { NamespaceContext } from '../context.js';
import { boundedRead, capPage } from '../history-reads.js';
import type { RoomcastSocket } from '../types.js';
import { hasJoined } from './membership.js';

export async function handleHistory(ctx: NamespaceContext, socket: RoomcastSocket, request: HistoryRequest): Promise<HistoryResult> {
  const { room } = request;
  if (!hasJoined(socket, room) && !connectionState(socket).session.mayJoin(ctx.rules, room)) {
    throw new RoomcastError('FORBIDDEN_ROOM', `not allowed to read ${room}`);
  }
  const read = await boundedRead(socket, ctx.config.limits.maxRoomsPerSocket, () => ctx.history.read(ctx.rules.name, room, request.since, request.limit ?? HISTORY_PAGE_DEFAULT));
  return { room, epoch: read.epoch, offset: read.offset, recovered: read.recovered, messages: capPage(read.messages) };
}
