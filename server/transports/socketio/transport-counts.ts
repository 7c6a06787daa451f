/**
 * Open Socket.IO connections by namespace and transport, for
 * roomcast_connections_active, kept up to date as connections come, upgrade and
 * go, so that a scrape reads counts instead of walking every socket. The walk
 * (each socket's Engine.IO transport, read at scrape time) was part of every
 * scrape's time on the event loop: a calm node holding 16,000 connections
 * answered /metrics in 25-30 ms without it, 32-48 ms with it (docs/performance.md).
 *
 * Only connections still on long-polling are held one by one, until they upgrade
 * or leave: they are few and short-lived (the client upgrades within a round
 * trip or two). Every other socket of the namespace is on WebSocket, so its
 * count is the namespace's size minus them, and a connection that arrives on
 * WebSocket (or upgrades during its handshake) costs nothing here.
 */
import type { Namespace, Server, Socket } from 'socket.io';

export interface TransportCount {
  namespace: string;
  transport: 'websocket' | 'polling';
  count: number;
}

function onWebSocket(socket: Socket): boolean {
  return (socket.conn.transport as { name?: string } | undefined)?.name === 'websocket';
}

export class TransportCounts {
  private readonly namespaces = new Map<string, { namespace: Namespace; polling: Set<Socket> }>();

  constructor(io: Server, namespaceNames: readonly string[]) {
    for (const name of namespaceNames) {
      const entry = { namespace: io.of(name), polling: new Set<Socket>() };
      this.namespaces.set(name, entry);
      entry.namespace.on('connection', (socket: Socket) => {
        if (onWebSocket(socket)) return;
        entry.polling.add(socket);
        const settled = (): void => {
          entry.polling.delete(socket);
        };
        socket.conn.once('upgrade', settled);
        socket.once('disconnect', settled);
      });
    }
  }

  /** Every namespace with both transports (0 included), as the gauge shows them. */
  counts(): TransportCount[] {
    const counts: TransportCount[] = [];
    for (const [name, { namespace, polling }] of this.namespaces) {
      counts.push({ namespace: name, transport: 'websocket', count: namespace.sockets.size - polling.size });
      counts.push({ namespace: name, transport: 'polling', count: polling.size });
    }
    return counts;
  }
}
