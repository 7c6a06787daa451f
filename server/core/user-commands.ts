/**
 * Commands a backend gives about one user (POST /api/v1/users/:user/disconnect,
 * .../rooms/:room/leave, and the status page's disconnect), carried out on
 * every node: the user's connections may be anywhere. The HTTP side sees only
 * UserCommands; the transport that reaches the other nodes (Socket.IO's
 * adapter, transports/socketio/user-control.ts) implements it, and each node
 * applies a command to its own connections through LocalUserConnections (one
 * per transport: sockets, SSE streams).
 *
 * A command is sent, not awaited: it resolves once the other nodes were asked,
 * never after waiting on them, so a node that is slow or gone cannot hold the
 * request. A node that misses it (cut off from Redis at that moment) does not
 * carry it out; the caller repeats it if it must be sure.
 */
import type { ErrorCode, ErrorPayload } from '../../shared/index.js';

export interface UserCommands {
  /** Every connection of `user` on every node is told `protocol:error { code }` and closed. */
  disconnect(user: string, code: ErrorCode): Promise<void>;
  /** `user` leaves `room` of `namespace` on every node: each of its connections in it is taken out and told `room:left`. */
  leave(user: string, namespace: string, room: string): Promise<void>;
}

/** One transport's connections on this node, which a command reaches. */
export interface LocalUserConnections {
  /** Closes each of the user's connections after telling it `error`. */
  disconnectUser(user: string, error: ErrorPayload): void;
  /** Takes each of the user's connections out of the room (membership included), telling it why. */
  leaveRoom(user: string, namespace: string, room: string): void;
}
