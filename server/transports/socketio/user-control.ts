/**
 * The core's UserCommands over Socket.IO: a command goes to every other node
 * with `serverSideEmit` on the adapter (Redis pub/sub, classic or sharded; no
 * acknowledgement is awaited, so no node can hold the caller), and is applied
 * here at once, since serverSideEmit skips its sender. Each node applies it to
 * its own connections through every LocalUserConnections it was given: its
 * sockets (socketConnections below) and its SSE streams.
 *
 * A node finds a user's sockets by walking its namespaces' sockets: O(local
 * sockets) per command, a few milliseconds at the connection counts a node
 * holds, for a command that is rare (an admin's kick, a revoked grant).
 */
import { errorPayload, type ErrorCode, type UserDisconnectCommand, type UserLeaveCommand } from '../../../shared/index.js';
import type { Membership } from '../../core/membership.js';
import type { LocalUserConnections, UserCommands } from '../../core/user-commands.js';
import type { Logger } from '../../ops/logger.js';
import { connectionState, inRoomOrder } from './connection-state.js';
import { hasJoined } from './handlers/membership.js';
import type { RoomcastServer, RoomcastSocket } from './types.js';

export interface UserControlOptions {
  /** What this node applies a command to: its sockets, its SSE streams. */
  local: readonly LocalUserConnections[];
  /** Several nodes share an adapter (Redis): commands also go to the others. A single node has no one to tell. */
  clustered: boolean;
  logger: Logger;
}

export function userControl(io: RoomcastServer, { local, clustered, logger }: UserControlOptions): UserCommands {
  const applyDisconnect = ({ user, error }: UserDisconnectCommand): void => {
    for (const connections of local) connections.disconnectUser(user, error);
  };
  const applyLeave = ({ user, namespace, room }: UserLeaveCommand): void => {
    for (const connections of local) connections.leaveRoom(user, namespace, room);
  };
  // Commands from the other nodes arrive on the main namespace, whatever namespace they concern.
  const main = io.of('/');
  main.on('user:disconnect', (command) => safely(logger, 'user:disconnect', () => applyDisconnect(command)));
  main.on('user:leave', (command) => safely(logger, 'user:leave', () => applyLeave(command)));

  return {
    async disconnect(user: string, code: ErrorCode): Promise<void> {
      const command: UserDisconnectCommand = { user, error: errorPayload(code, disconnectMessage(code)) };
      // The adapter publishes to Redis; a failed publish is reported by its guard (backends/redis/adapter-factory.ts).
      if (clustered) main.serverSideEmit('user:disconnect', command);
      applyDisconnect(command);
      logger.info({ user, code }, 'user disconnected on request');
    },
    async leave(user: string, namespace: string, room: string): Promise<void> {
      const command: UserLeaveCommand = { user, namespace, room };
      if (clustered) main.serverSideEmit('user:leave', command);
      applyLeave(command);
      logger.info({ user, ns: namespace, room }, 'user taken out of a room on request');
    },
  };
}

function disconnectMessage(code: ErrorCode): string {
  return code === 'UNAUTHENTICATED' ? 'the server closed this connection: sign in again' : `the server closed this connection (${code})`;
}

function safely(logger: Logger, what: string, apply: () => void): void {
  try {
    apply();
  } catch (error) {
    logger.error({ err: error, code: 'INTERNAL' }, `${what}: applying a user command failed`);
  }
}

/** This node's sockets of a user, in the served namespaces. */
export function socketConnections(io: RoomcastServer, namespaces: readonly string[], membership: Membership, logger: Logger): LocalUserConnections {
  const socketsOf = (namespace: string, user: string): RoomcastSocket[] =>
    [...io.of(namespace).sockets.values()].filter((socket) => socket.data.userId === user);
  return {
    disconnectUser(user, error) {
      for (const namespace of namespaces) {
        for (const socket of socketsOf(namespace, user)) {
          socket.emit('protocol:error', error);
          // The whole connection (every namespace of it): the client must not stay half-connected.
          socket.disconnect(true);
        }
      }
    },
    leaveRoom(user, namespace, room) {
      if (!namespaces.includes(namespace)) return;
      for (const socket of socketsOf(namespace, user)) {
        // After a join of the same room still in progress, like a room:leave from the client.
        void inRoomOrder(connectionState(socket), room, async () => {
          if (!hasJoined(socket, room)) return;
          void socket.leave(room);
          socket.emit('room:left', { room, reason: 'api' });
          await membership.remove(namespace, room, socket.id, 'leave');
        }).catch((error: unknown) => logger.warn({ err: error, conn: socket.id, room }, 'leaving a room on request: presence removal failed'));
      }
    },
  };
}
