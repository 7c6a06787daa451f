/** Socket.IO typed with the shared protocol maps; never DefaultEventsMap. */
import type { Namespace, Server, ServerOptions, Socket } from 'socket.io';
import type {
  AdminClientToServerEvents,
  AdminServerToClientEvents,
  ClientToServerEvents,
  InterServerEvents,
  ServerToClientEvents,
  SocketData,
} from '../../../shared/index.js';

export type RoomcastServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type RoomcastNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type RoomcastSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** The status page's namespace (`/admin`): its own event maps, no per-socket data. */
export type AdminNamespace = Namespace<AdminClientToServerEvents, AdminServerToClientEvents, InterServerEvents, Record<never, never>>;
export type AdminSocket = Socket<AdminClientToServerEvents, AdminServerToClientEvents, InterServerEvents, Record<never, never>>;

/** What Socket.IO's `adapter` option takes: a constructor of a namespace's adapter (the Redis backends build one). */
export type AdapterFactory = NonNullable<ServerOptions['adapter']>;
