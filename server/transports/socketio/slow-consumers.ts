/**
 * Finds connections that do not read: once a second, the waiting outgoing
 * bytes (Engine.IO's write buffer plus the WebSocket's bufferedAmount) of each
 * connection written to since (Engine.IO's 'flush'), still holding unsent bytes, or on HTTP long-polling,
 * are compared with MAX_CLIENT_BUFFER_BYTES. Idle connections are not visited: walking
 * all of them every second was 16% of an idle node's CPU at 5,000 connections (each
 * visit reads 4-5 objects per connection, cache misses on a large heap). Past it, the
 * connection is told SLOW_CONSUMER (if it ever reads again) and its socket is
 * destroyed at once: a polite close would queue behind the very data it cannot
 * take. Other members never wait for it: Socket.IO writes to each socket on its own.
 * The client reconnects and recovers what it missed from history.
 */
import { errorPayload } from '../../../shared/index.js';
import type { Logger } from '../../ops/logger.js';
import { watchEngineWrites } from './realtime-server.js';
import type { RoomcastServer, RoomcastSocket } from './types.js';

interface EngineConnection {
  readyState?: string;
  writeBuffer?: Array<{ data?: unknown }>;
  transport?: { name?: string; socket?: { bufferedAmount?: number; terminate?: () => void } };
  close(discard?: boolean): void;
}

type EngineEvents = { on(event: 'connection', listener: (connection: EngineConnection) => void): unknown };

function packetBytes(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** Bytes waiting to go out on one Engine.IO connection. */
export function pendingBytes(connection: EngineConnection): number {
  let bytes = connection.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of connection.writeBuffer ?? []) bytes += packetBytes(packet.data);
  return bytes;
}

export class SlowConsumerGuard {
  private readonly timer: NodeJS.Timeout;
  /**
   * The connections the next sweep looks at: written to since the last one (Engine.IO's server-wide 'flush',
   * one Set.add per write), new ones (they may be on long-polling, whose unsent packets never flush), and those
   * the last sweep kept: still holding bytes (a stuck WebSocket's later packets queue without a flush) or polling.
   */
  private readonly watched = new Set<EngineConnection>();

  constructor(
    private readonly io: RoomcastServer,
    private readonly namespaces: readonly string[],
    private readonly maxBytes: number,
    private readonly logger: Logger,
    private readonly onDisconnect: () => void,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => this.sweep(), intervalMs);
    this.timer.unref();
    const watch = (connection: EngineConnection): void => void this.watched.add(connection);
    (io.engine as unknown as EngineEvents).on('connection', watch);
    // Each write, from the server's one 'flush' listener (realtime-server.ts).
    watchEngineWrites(io, watch as (connection: object) => void);
  }

  /** One pass over the watched connections (see `watched`): cuts those past the limit, forgets the idle ones. */
  sweep(): void {
    for (const connection of this.watched) {
      if (connection.readyState === 'closed') {
        this.watched.delete(connection);
        continue;
      }
      const bytes = pendingBytes(connection);
      if (bytes > this.maxBytes) {
        const socket = this.socketOf(connection);
        if (socket?.connected === true) this.cut(socket, connection, bytes);
        this.watched.delete(connection);
      } else if (bytes === 0 && connection.transport?.name === 'websocket') {
        // Everything was handed to the kernel: nothing can pile up until its next write (which watches it again).
        this.watched.delete(connection);
      }
    }
  }

  /** The Socket.IO socket on an Engine.IO connection (looked up only for a connection about to be cut). */
  private socketOf(connection: EngineConnection): RoomcastSocket | undefined {
    for (const name of this.namespaces) {
      for (const socket of this.io.of(name).sockets.values()) {
        if ((socket.conn as unknown) === connection) return socket;
      }
    }
    return undefined;
  }

  /** Checks one connection now: used right after a large answer (a history page), which the timer could miss. */
  check(socket: RoomcastSocket): void {
    const connection = socket.conn as unknown as EngineConnection;
    const bytes = pendingBytes(connection);
    if (bytes > this.maxBytes && socket.connected) this.cut(socket, connection, bytes);
  }

  private cut(socket: RoomcastSocket, connection: EngineConnection, bytes: number): void {
    this.onDisconnect();
    this.logger.warn({ conn: socket.id, user: socket.data.userId, pendingBytes: bytes, code: 'SLOW_CONSUMER' }, 'slow consumer disconnected');
    socket.emit('protocol:error', errorPayload('SLOW_CONSUMER', `more than ${this.maxBytes} bytes were waiting to be sent`));
    const terminate = connection.transport?.socket?.terminate;
    if (typeof terminate === 'function') terminate.call(connection.transport?.socket);
    else connection.close(true);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
