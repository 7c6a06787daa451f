/**
 * Handshake authentication for one namespace: the JWT in `auth.token` is
 * verified before the connection is accepted. A refusal reaches the client as
 * `connect_error` with `data = { code, message, retryable }`.
 */
import type { ExtendedError } from 'socket.io';
import { errorPayload } from '../../../shared/index.js';
import { Session, type Sessions } from '../../core/session.js';
import { RoomcastError } from '../../errors.js';
import { reportError } from '../../ops/report-error.js';
import type { Logger } from '../../ops/logger.js';
import type { GatewayMetrics } from '../../ops/metrics.js';
import { attachSession } from './connection-state.js';
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
 * transport closes, released once whichever comes first.
 * Refusals count in roomcast_handshake_failures_total (Admission counts its own).
 */
/** Engine.IO sessions that hold a node-wide slot (one per session, whatever its namespaces). */
const authenticatedSessions = new WeakSet<object>();

export function authMiddleware(sessions: Sessions, logger: Logger, metrics: GatewayMetrics) {
  return (socket: RoomcastSocket, next: (error?: ExtendedError) => void): void => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>).token : undefined;
    if (typeof token !== 'string' || token === '') {
      metrics.handshakeFailure('UNAUTHENTICATED');
      next(handshakeError(errorPayload('UNAUTHENTICATED', 'auth.token is missing')));
      return;
    }
    sessions.authenticate(token).then(
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
        // The session's first authenticated namespace takes its node-wide slot (MAX_CONNECTIONS, ACCEPT_RATE_PER_S),
        // held until the transport closes.
        if (!authenticatedSessions.has(socket.conn)) {
          const capacity = sessions.claimSlot();
          if (capacity !== null) {
            session.close();
            next(handshakeError(capacity));
            return;
          }
          authenticatedSessions.add(socket.conn);
          socket.conn.once('close', () => sessions.releaseSlot());
        }
        socket.data = { userId: verified.userId, roomPatterns: verified.roomPatterns, expiresAt: verified.expiresAt };
        attachSession(socket, session);
        // Released exactly once (Session.close is idempotent), however the connection ends: a namespace
        // disconnect, or the transport closing.
        const release = (): void => session.close();
        socket.once('disconnect', release);
        socket.conn.once('close', release);
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
