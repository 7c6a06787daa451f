/**
 * Handshake authentication for one namespace: the JWT in `auth.token` is
 * verified before the connection is accepted; without one, the core's Sessions
 * asks the connect proxy (a cookie session) when CONNECT_PROXY_URL is set. A
 * refusal reaches the client as `connect_error` with `data = { code, message, retryable }`.
 */
import type { ExtendedError } from 'socket.io';
import { errorPayload } from '../../../shared/index.js';
import { Session, type HandshakeCredentials, type Sessions } from '../../core/session.js';
import { RoomcastError } from '../../errors.js';
import { reportError } from '../../ops/report-error.js';
import type { Logger } from '../../ops/logger.js';
import type { GatewayMetrics } from '../../ops/metrics.js';
import type { NamespaceRules } from '../../config/namespaces.js';
import { attachSession } from './connection-state.js';
import type { EngineSessions } from './engine-sessions.js';
import type { RoomcastSocket } from './types.js';

export function handshakeError(payload: ReturnType<typeof errorPayload>): ExtendedError {
  const error: ExtendedError = new Error(payload.message);
  error.data = payload;
  return error;
}

/**
 * Verifies the token and opens the connection's Session (the user's connection
 * limit); the session's first authenticated namespace also takes a node-wide
 * slot. An admitted connection counts for its user until it disconnects or its
 * transport closes, released once whichever comes first (the 'disconnecting'
 * handler, or EngineSessions for a transport closing before the connection starts).
 * Refusals count in roomcast_handshake_failures_total (Admission counts its own).
 */

/** What the handshake checks of the rooms the server joins at connect (server-subscriptions.ts). */
export interface ServerRoomRules {
  rules: NamespaceRules;
  autoJoinUserRoom: boolean;
  maxRoomsPerSocket: number;
}

export function authMiddleware(sessions: Sessions, engineSessions: EngineSessions, logger: Logger, metrics: GatewayMetrics, serverRooms: ServerRoomRules) {
  return (socket: RoomcastSocket, next: (error?: ExtendedError) => void): void => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>).token : undefined;
    const facts = engineSessions.facts(socket.conn) ?? { headers: {}, ip: socket.handshake.address };
    const credentials: HandshakeCredentials = { token: typeof token === 'string' ? token : null, headers: facts.headers, ip: facts.ip, transport: 'socketio' };
    sessions.authenticateHandshake(credentials).then(
      (verified) => {
        // Closed while the token was checked: Socket.IO drops such a socket without a 'disconnect' event,
        // so nothing may be counted for it.
        if (socket.conn.readyState !== 'open') {
          next(handshakeError(errorPayload('UNAVAILABLE', 'the connection closed during authentication')));
          return;
        }
        const session = sessions.admit(verified);
        if (!(session instanceof Session)) {
          next(handshakeError(session));
          return;
        }
        // The `subscribe` rooms must be allowed by the room policy and fit MAX_ROOMS_PER_SOCKET with the user room.
        try {
          session.serverRooms(serverRooms.rules, { autoJoinUserRoom: serverRooms.autoJoinUserRoom, maxRooms: serverRooms.maxRoomsPerSocket });
        } catch (error) {
          session.close();
          const payload = reportError(logger, error, { ns: socket.nsp.name }, 'server-side subscriptions check failed');
          metrics.handshakeFailure(payload.code);
          next(handshakeError(payload));
          return;
        }
        // The session's first authenticated namespace takes its node-wide slot (MAX_CONNECTIONS, ACCEPT_RATE_PER_S),
        // held until the transport closes.
        const capacity = engineSessions.claimSlot(socket.conn);
        if (capacity !== null) {
          session.close();
          next(handshakeError(capacity));
          return;
        }
        // Socket.IO keeps the handshake (auth included) for the connection's whole life, and the token is never read
        // again (auth:refresh brings its own): let the string go (~200 bytes per connection, and no credential kept).
        if (typeof auth === 'object' && auth !== null) delete (auth as Record<string, unknown>).token;
        socket.data = { userId: verified.userId, roomPatterns: verified.roomPatterns, expiresAt: verified.expiresAt };
        attachSession(socket, session);
        // Closed with the transport if it closes before the connection starts; after, by its 'disconnecting'.
        engineSessions.pending(socket.conn, session);
        next();
      },
      (error: unknown) => {
        const payload = reportError(logger, error, { ns: socket.nsp.name }, 'token verification failed unexpectedly');
        metrics.handshakeFailure(payload.code);
        if (error instanceof RoomcastError) logger.debug({ ns: socket.nsp.name, code: payload.code }, 'handshake refused');
        next(handshakeError(payload));
      },
    );
  };
}
