/**
 * `/admin`: the status page's namespace, served only when ADMIN_TOKEN is set.
 * A connection authenticates with `auth: { adminToken }`, compared in constant
 * time over SHA-256 digests (as API keys are), and joins the `status` room,
 * where every node sends its `status:node` figures. Its requests
 * (registerAdminCommands): `admin:rooms`, the cluster's occupied rooms and
 * connected users from the presence store, and `admin:disconnect { user }`,
 * the same cross-node disconnect as POST /api/v1/users/:user/disconnect.
 * Anything else it emits is ignored.
 */
import {
  ADMIN_NAMESPACE,
  errorPayload,
  PERSONAL_ROOM_PREFIX,
  STATUS_ROOM,
  userIdSchema,
  type AdminRoomsResult,
  type NodeStatus,
} from '../../../shared/index.js';
import { digestKey, matchesApiKey } from '../../auth/api-key.js';
import type { PresenceStore } from '../../core/presence-store.js';
import type { UserCommands } from '../../core/user-commands.js';
import { toErrorPayload } from '../../errors.js';
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

/** Rooms, and users, listed per namespace for the status page (the first page of each). */
export const ADMIN_LIST_MAX = 200;

export interface AdminCommandDeps {
  presence: PresenceStore;
  users: UserCommands;
  /** The served namespaces (the page lists each one's rooms). */
  namespaces: readonly string[];
  logger: Logger;
}

/** The status page's requests; the namespace's middleware (registerAdminNamespace) has checked ADMIN_TOKEN. */
export function registerAdminCommands(io: RoomcastServer, { presence, users, namespaces, logger }: AdminCommandDeps): void {
  const listing = async (): Promise<AdminRoomsResult> => {
    const rooms: AdminRoomsResult['rooms'] = [];
    const connections = new Map<string, number>();
    let truncated = false;
    for (const namespace of namespaces) {
      const [all, personal] = await Promise.all([
        presence.listRooms(namespace, { prefix: '', after: null, limit: ADMIN_LIST_MAX }),
        presence.listRooms(namespace, { prefix: PERSONAL_ROOM_PREFIX, after: null, limit: ADMIN_LIST_MAX }),
      ]);
      truncated ||= all.next !== null || personal.next !== null;
      for (const { room, members } of all.rooms) if (!room.startsWith(PERSONAL_ROOM_PREFIX)) rooms.push({ namespace, room, members });
      for (const { room, members } of personal.rooms) {
        const user = room.slice(PERSONAL_ROOM_PREFIX.length);
        connections.set(user, (connections.get(user) ?? 0) + members);
      }
    }
    const userList = [...connections].map(([user, count]) => ({ user, connections: count })).sort((a, b) => (a.user < b.user ? -1 : 1));
    return { rooms, users: userList, truncated };
  };

  adminNamespace(io).on('connection', (socket: AdminSocket) => {
    socket.on('admin:rooms', (_request, ack) => {
      if (typeof ack !== 'function') return;
      listing().then(
        (result) => ack({ ok: true, ...result }),
        (error: unknown) => ack({ ok: false, error: toErrorPayload(error) }),
      );
    });
    socket.on('admin:disconnect', (request, ack) => {
      if (typeof ack !== 'function') return;
      const parsed = userIdSchema.safeParse((request as { user?: unknown } | null)?.user);
      if (!parsed.success) {
        ack({ ok: false, error: errorPayload('INVALID_PAYLOAD', parsed.error.issues[0]?.message) });
        return;
      }
      const user = parsed.data;
      logger.info({ user, conn: socket.id }, 'status page: disconnect a user');
      users.disconnect(user, 'UNAUTHENTICATED').then(
        () => ack({ ok: true, user }),
        (error: unknown) => ack({ ok: false, error: toErrorPayload(error) }),
      );
    });
  });
}
