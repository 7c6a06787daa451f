/**
 * `/admin`: the status page's namespace, served only when ADMIN_TOKEN is set.
 * A connection authenticates with `auth: { adminToken }`, compared in constant
 * time over SHA-256 digests (as API keys are), and joins the `status` room,
 * where every node sends its `status:node` figures. It sends nothing itself;
 * anything it emits is ignored.
 */
import { ADMIN_NAMESPACE, errorPayload, STATUS_ROOM, type NodeStatus } from '../../../shared/index.js';
import { digestKey, matchesApiKey } from '../../auth/api-key.js';
import type { Logger } from '../../ops/logger.js';
import { handshakeError } from './auth-middleware.js';
import type { AdminNamespace, AdminSocket, RoomcastServer } from './types.js';

/** The typed `/admin` namespace (Socket.IO creates it on first use). */
export const adminNamespace = (io: RoomcastServer): AdminNamespace => io.of(ADMIN_NAMESPACE) as unknown as AdminNamespace;

export function registerAdminNamespace(io: RoomcastServer, adminToken: string, logger: Logger, latestStatus: () => NodeStatus | null): AdminNamespace {
  const namespace = adminNamespace(io);
  const tokenDigest = [digestKey(adminToken)];
  namespace.use((socket, next) => {
    const auth: unknown = socket.handshake.auth;
    const candidate = typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>).adminToken : undefined;
    if (typeof candidate !== 'string' || !matchesApiKey(candidate, tokenDigest)) {
      logger.debug({ ns: ADMIN_NAMESPACE, address: socket.conn.remoteAddress }, 'admin handshake refused');
      next(handshakeError(errorPayload('UNAUTHENTICATED', 'auth.adminToken is missing or not valid')));
      return;
    }
    next();
  });
  namespace.on('connection', (socket: AdminSocket) => {
    void socket.join(STATUS_ROOM);
    // This node's latest figures at once; the others' arrive within a tick.
    const latest = latestStatus();
    if (latest !== null) socket.emit('status:node', latest);
    logger.debug({ ns: ADMIN_NAMESPACE, conn: socket.id }, 'status page connected');
  });
  return namespace;
}
