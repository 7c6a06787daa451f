/**
 * room:join. The connection becomes a member of the room (Membership, which
 * enforces MAX_ROOM_MEMBERS cluster-wide and announces it), then enters the
 * Socket.IO room; the core's Subscriptions then says where it starts: once this
 * node receives the room's publications from every node, the room's position,
 * and with `since` what follows it (`missed[]`), so nothing falls between.
 * A room the session's grant does not cover is asked of the join proxy
 * (JOIN_PROXY_URL) when there is one. The server's own joins at connect
 * (server-subscriptions.ts) go through joinRoom too.
 */
import type { JoinRequest, JoinResult, PresenceMember } from '../../../../shared/index.js';
import { RoomcastError } from '../../../errors.js';
import { connectionState, inRoomOrder } from '../connection-state.js';
import type { NamespaceContext } from '../context.js';
import { boundedRead, capPage } from '../history-reads.js';
import type { RoomcastSocket } from '../types.js';
import { hasJoined } from './membership.js';

/** Most publications returned in one join ack; the client pages the rest with room:history. */
export const RECOVERY_MAX_MESSAGES = 300;

export function handleJoin(ctx: NamespaceContext, socket: RoomcastSocket, request: JoinRequest): Promise<JoinResult> {
  return joinRoom(ctx, socket, request);
}

/** A join of `request.room`, in order with the connection's other joins and leaves of that room (a client's or the server's). */
export function joinRoom(ctx: NamespaceContext, socket: RoomcastSocket, request: JoinRequest): Promise<JoinResult> {
  return inRoomOrder(connectionState(socket), request.room, () => join(ctx, socket, request));
}

async function join(ctx: NamespaceContext, socket: RoomcastSocket, request: JoinRequest): Promise<JoinResult> {
  const { room, since } = request;
  const alreadyJoined = hasJoined(socket, room);
  if (!alreadyJoined) await enterRoom(ctx, socket, room);
  try {
    const limits = ctx.config.limits;
    const read = await ctx.subscriptions.start(ctx.rules.name, room, since, RECOVERY_MAX_MESSAGES, (historyRead) => boundedRead(socket, limits.maxRoomsPerSocket, historyRead));
    return { room, epoch: read.epoch, offset: read.offset, recovered: read.recovered, missed: capPage(read.messages) };
  } catch (error) {
    if (!alreadyJoined) {
      void socket.leave(room);
      await ctx.membership.remove(ctx.rules.name, room, socket.id).catch(() => undefined);
    }
    throw error;
  }
}

async function enterRoom(ctx: NamespaceContext, socket: RoomcastSocket, room: string): Promise<void> {
  const state = connectionState(socket);
  const { session } = state;
  // Without a join proxy the grant alone decides, before anything else.
  if (!session.asksJoinProxy) session.assertMayJoin(ctx.rules, room);
  const limit = ctx.config.limits.maxRoomsPerSocket;
  if (socket.rooms.size - 1 + state.pendingJoins >= limit) {
    throw new RoomcastError('TOO_MANY_ROOMS', `a connection may join at most ${limit} rooms`);
  }
  state.pendingJoins += 1;
  try {
    // A room the grant does not cover: the join proxy decides (nothing is joined unless it allows).
    await session.authorizeJoin(ctx.rules, room, socket.id);
    const member: PresenceMember = { userId: socket.data.userId, connectionId: socket.id, nodeId: ctx.config.nodeId, joinedAt: Date.now() };
    // A connection that closed while the store answered has had its 'disconnecting' cleanup already.
    await ctx.membership.add(ctx.rules.name, room, member, () => socket.connected);
    void socket.join(room);
  } finally {
    state.pendingJoins -= 1;
  }
}
