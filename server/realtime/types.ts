/** Socket.IO typed with the shared protocol maps; never DefaultEventsMap. */
import type { Namespace, Server, Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from '../../shared/index.js';

export type RoomcastServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type RoomcastNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type RoomcastSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
