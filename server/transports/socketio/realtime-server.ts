/**
 * The Socket.IO side of the gateway: one namespace per declared rule set, each
 * with handshake auth, the request guard and the protocol handlers. It takes an
 * http.Server and its dependencies; it knows nothing of Express or the environment.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { ADMIN_NAMESPACE, errorPayload } from '../../../shared/index.js';
import { randomId } from '../../core/random-ids.js';
import { alignPings } from './aligned-pings.js';
import { admissionMiddleware, releaseUpgradeRequest } from './admission-middleware.js';
import { guardedMsgpackParser } from './msgpack-guard.js';
import { registerAdminNamespace } from './admin-namespace.js';
import { authMiddleware, handshakeError } from './auth-middleware.js';
import { connectionState, initConnectionState } from './connection-state.js';
import type { NamespaceContext, RealtimeDeps } from './context.js';
import { EngineSessions } from './engine-sessions.js';
import { originGuard } from './origin-check.js';
import { dispatchPacket } from './register-handlers.js';
import { hookAdapters, type AdapterConstructor } from './adapter-internals.js';
import { slicedFanout } from './sliced-fanout.js';
import { startServerSubscriptions } from './server-subscriptions.js';
import type { AdapterFactory, RoomcastServer, RoomcastSocket } from './types.js';

interface EnginePacket {
  type: string;
  data?: unknown;
}
type EngineSocket = { request: unknown; on(event: 'data' | 'close', listener: (data: unknown) => void): unknown };

/** Who else wants to know of each write (the slow-consumer guard): called from the ONE 'flush' listener below. */
interface WriteWatch {
  watcher: ((connection: object) => void) | null;
}
const engineWriteWatch = new WeakMap<RoomcastServer, WriteWatch>();

/**
 * Calls `watcher` with each Engine.IO connection as it writes (every flush), from the server's one 'flush'
 * listener: a second listener would make EventEmitter copy its listener array on every write.
 */
export function watchEngineWrites(io: RoomcastServer, watcher: (connection: object) => void): void {
  const writes = engineWriteWatch.get(io);
  if (writes === undefined) throw new Error('watchEngineWrites: the server was not made by createSocketServer');
  writes.watcher = watcher;
}

/** Each server's Engine.IO session records (see engine-sessions.ts), for the namespaces' handshake middleware. */
const engineSessionsOf = new WeakMap<RoomcastServer, EngineSessions>();

function payloadSize(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** Room for the envelope (room, event, idempotency key) around a payload of the maximum size. */
const PACKET_OVERHEAD_BYTES = 64 * 1024;

/** What the Socket.IO server needs before the core exists: the wire, the adapter, the admission of new sessions. */
export type SocketServerDeps = Pick<RealtimeDeps, 'config' | 'logger' | 'metrics' | 'sessions' | 'addresses' | 'roomTaps'> & {
  /** The cluster adapter; absent: Socket.IO's in-memory adapter (one node). */
  adapter?: AdapterFactory;
};

/**
 * The Socket.IO server on the http.Server, with its engine hooks (admission, origin, ids, traffic totals)
 * but no namespace served yet: the core's Fanout is built on it, then serveNamespaces() adds the handlers.
 */
/** Random bytes in a session id (120 bits, as Engine.IO's own ids), after the node id. */
const SESSION_ID_RANDOM_BYTES = 15;

export function createSocketServer(httpServer: HttpServer, deps: SocketServerDeps): RoomcastServer {
  const { config } = deps;
  const origins = config.corsOrigins;
  const io: RoomcastServer = new Server(httpServer, {
    serveClient: false,
    pingInterval: config.heartbeat.pingIntervalMs,
    // A session that has not completed an authenticated namespace CONNECT by then is closed (HANDSHAKE_TIMEOUT_MS).
    connectTimeout: config.limits.handshakeTimeoutMs,
    pingTimeout: config.heartbeat.pingTimeoutMs,
    // Above MAX_PAYLOAD_BYTES, so an oversized `data` gets a typed PAYLOAD_TOO_LARGE;
    // only packets far beyond it are cut off by the transport.
    maxHttpBufferSize: config.limits.maxPayloadBytes * 2 + PACKET_OVERHEAD_BYTES,
    allowRequest: originGuard(origins, () => deps.metrics.handshakeFailure('UNAUTHENTICATED')),
    ...(origins.length > 0 ? { cors: { origin: origins.includes('*') ? true : [...origins] } } : {}),
    // msgpack frames are checked before they are decoded (msgpack-guard.ts): a declared length is not trusted.
    ...(config.parser === 'msgpack' ? { parser: guardedMsgpackParser } : {}),
    // Large rooms are written to in slices so they do not hold up everything else (see sliced-fanout.ts).
    // SSE streams (RoomListeners) are fed from the same adapter, so they get other nodes' publications too (see adapter-taps.ts).
    adapter: hookAdapters((deps.adapter ?? Adapter) as AdapterConstructor, [
      ...(deps.roomTaps ? [deps.roomTaps.hook] : []),
      slicedFanout({
        largeRoomMembers: config.largeRooms.slicedFanoutAbove,
        sliceSize: config.largeRooms.fanoutSliceSize,
        onError: (error) => deps.logger.error({ err: error, code: 'INTERNAL' }, 'a sliced broadcast write failed'),
        // The status page's own traffic (/admin) is not the gateway's: it stays out of the delivery figures.
        onDelivered: (namespace, recipients) => {
          if (namespace !== ADMIN_NAMESPACE) deps.metrics.delivered(namespace, recipients);
        },
      }),
    ]),
  });

  // Session ids carry the node id, so a proxy can route a session's polling requests
  // and its WebSocket upgrade to the node that owns it (see nginx/README.md).
  io.engine.generateId = () => `${config.nodeId}.${randomId(SESSION_ID_RANDOM_BYTES)}`;
  io.engine.use(admissionMiddleware(deps.sessions, deps.addresses));
  // Heartbeat pings on shared ticks: one loop turn sends all those due (aligned-pings.ts).
  alignPings(io.engine);
  const engineSessions = new EngineSessions(deps.sessions);
  engineSessionsOf.set(io, engineSessions);
  // Socket.IO keeps each connection's first HTTP request (headers, sockets, buffers) for the connection's
  // whole life. Nothing reads it after the handshake here (origin and admission checks run before this
  // event; the address stays in conn.remoteAddress; tokens come in the CONNECT packet's auth), so let it
  // go: less memory per connection (Socket.IO's "memory usage" guide does the same).
  io.engine.on('connection', (raw: EngineSocket) => {
    // Every session counts for its client address until it closes (authenticated or not: MAX_CONNECTIONS_PER_IP).
    const address = deps.addresses.of(raw.request as IncomingMessage);
    // A cookie session (no token) is asked of the connect proxy with these, read when its namespace CONNECT comes.
    const headers = (raw.request as IncomingMessage).headers;
    const facts =
      config.proxies.connectUrl === null
        ? null
        : {
            headers: {
              ...(headers.cookie !== undefined ? { cookie: headers.cookie } : {}),
              ...(headers['user-agent'] !== undefined ? { 'user-agent': headers['user-agent'] } : {}),
              ...(headers.origin !== undefined ? { origin: headers.origin } : {}),
            },
            ip: address,
          };
    engineSessions.opened(raw, address, facts);
    releaseUpgradeRequest(raw.request as IncomingMessage);
    raw.request = null;
    // Received bytes: one shared listener (not a closure) per connection, on the receiving side only.
    raw.on('data', countReceived);
  });
  // Sent bytes and packets: ONE listener on the Engine.IO server, which emits 'flush' with the packets each
  // connection writes (every packet: broadcasts, acks, direct events, pings). It costs a call and a loop over
  // the flushed packets (usually one) per write, adding to plain numbers; no per-socket listener or closure.
  // Computing bytes at broadcast time (encoded size x recipients) would miss acks and direct emits, and a
  // per-connection 'packetCreate' listener would add a listener call per socket per packet.
  const totals = deps.metrics.totals;
  const writes: WriteWatch = { watcher: null };
  engineWriteWatch.set(io, writes);
  io.engine.on('flush', (socket: object, packets: EnginePacket[]) => {
    writes.watcher?.(socket);
    for (const packet of packets) {
      // The packet type is one byte on the wire; string payloads are counted in UTF-16 units (bytes for ASCII JSON).
      totals.sentBytes += 1 + payloadSize(packet.data);
      if (packet.type === 'message') totals.messagesOut += 1;
    }
  });
  function countReceived(data: unknown): void {
    totals.receivedBytes += payloadSize(data);
  }
  return io;
}

/** Serves every declared namespace (handshake auth, request guard, protocol handlers) and, with ADMIN_TOKEN, /admin. */
export function serveNamespaces(io: RoomcastServer, deps: RealtimeDeps): void {
  const { config } = deps;
  const declared = new Set(config.namespaces.map((rules) => rules.name));
  if (!declared.has('/')) {
    // Socket.IO always serves "/"; refuse it when the configuration does not declare it.
    io.use((_socket, next) => {
      deps.metrics.handshakeFailure('UNAUTHENTICATED');
      next(handshakeError(errorPayload('UNAUTHENTICATED', 'namespace / is not served')));
    });
  }

  for (const rules of config.namespaces) {
    const namespace = io.of(rules.name);
    const ctx: NamespaceContext = { ...deps, rules, namespace, counters: deps.metrics.namespace(rules.name) };
    const engineSessions = engineSessionsOf.get(io);
    if (engineSessions === undefined) throw new Error('serveNamespaces: the server was not made by createSocketServer');
    namespace.use(
      authMiddleware(deps.sessions, engineSessions, deps.logger, deps.metrics, { rules, autoJoinUserRoom: config.autoJoinUserRoom, maxRoomsPerSocket: config.limits.maxRoomsPerSocket }),
    );
    namespace.on('connection', (socket: RoomcastSocket) => onConnection(ctx, engineSessions, socket));
  }
  if (config.adminToken !== null) registerAdminNamespace(io, config.adminToken, deps.logger, deps.latestStatus);
}

/*
 * Per connection, only what cannot be shared: the connection state (connection-state.ts), ONE bound function
 * (the packet dispatcher: Socket.IO calls middleware without the socket) and shared listeners, which read the
 * connection from `this` (EventEmitter calls listeners with the emitter as `this`). No closure per connection.
 */
function onConnection(ctx: NamespaceContext, engineSessions: EngineSessions, socket: RoomcastSocket): void {
  ctx.counters.opened();
  const { session } = initConnectionState(socket, ctx);
  engineSessions.connected(socket.conn, session);
  session.watchExpiry(expire, socket);
  socket.use(dispatchPacket.bind(socket));
  // The token's (or connect proxy's) `subscribe` and `user:<sub>`: joined now, then announced with `session`.
  void startServerSubscriptions(ctx, socket);
  socket.on('disconnecting', onDisconnecting);
  ctx.logger.debug({ ns: ctx.rules.name, conn: socket.id, user: socket.data.userId }, 'connected');
}

function expire(socket: RoomcastSocket): void {
  socket.emit('protocol:error', errorPayload('TOKEN_EXPIRED', 'the token expired; reconnect with a fresh one or send auth:refresh before expiry'));
  socket.disconnect(true);
}

function onDisconnecting(this: RoomcastSocket, reason: string): void {
  const { ctx, session } = connectionState(this);
  ctx.counters.closed(reason);
  session.close();
  for (const room of this.rooms) {
    if (room !== this.id) {
      ctx.membership.remove(ctx.rules.name, room, this.id, 'disconnect').catch((error: unknown) => ctx.logger.warn({ err: error, conn: this.id }, 'presence removal failed'));
    }
  }
}
