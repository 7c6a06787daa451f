/**
 * Graceful drain: the node stops taking connections (Admission), tells every
 * client `server:draining { reconnectInMs }` with the reconnections spread
 * evenly over the first 60% of DRAIN_TIMEOUT_MS (core/drain-plan.ts: no
 * thundering herd on the other nodes), then disconnects, batch by batch, the clients that have not
 * left a couple of seconds after their turn. It resolves when no connection is
 * left or the window is over. History and offsets need no saving: they are
 * stored before any broadcast (in Redis when clustered).
 */
import { planDrain } from '../../core/drain-plan.js';
import type { Logger } from '../../ops/logger.js';
import type { RoomcastServer, RoomcastSocket } from './types.js';

export async function drainConnections(io: RoomcastServer, namespaces: readonly string[], drainTimeoutMs: number, logger: Logger): Promise<void> {
  // One entry per Engine.IO connection; its namespace sockets share one delay.
  const byConnection = new Map<object, RoomcastSocket[]>();
  for (const name of namespaces) {
    for (const socket of io.of(name).sockets.values()) {
      const sockets = byConnection.get(socket.conn) ?? [];
      sockets.push(socket);
      byConnection.set(socket.conn, sockets);
    }
  }
  // Random order (Fisher-Yates), so the same clients are not always the first to move.
  const connections = [...byConnection.values()];
  for (let i = connections.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [connections[i], connections[j]] = [connections[j] as RoomcastSocket[], connections[i] as RoomcastSocket[]];
  }
  const plan = planDrain(connections.length, drainTimeoutMs);
  logger.info({ connections: connections.length, drainTimeoutMs }, 'draining');

  const slots = new Map<number, RoomcastSocket[]>();
  connections.forEach((sockets, index) => {
    const reconnectInMs = plan.delays[index] as number;
    for (const socket of sockets) socket.emit('server:draining', { reconnectInMs });
    slots.set(reconnectInMs, [...(slots.get(reconnectInMs) ?? []), ...sockets]);
  });

  const timers: NodeJS.Timeout[] = [];
  for (const [delay, sockets] of slots) {
    timers.push(
      setTimeout(() => {
        for (const socket of sockets) if (socket.connected) socket.disconnect(true);
      }, delay + plan.graceMs),
    );
  }
  const deadline = Date.now() + drainTimeoutMs;
  try {
    while (io.engine.clientsCount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
  logger.info({ remaining: io.engine.clientsCount }, 'drain finished');
}
