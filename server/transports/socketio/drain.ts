/**
 * Graceful drain: the node stops taking connections (Admission), tells its
 * clients `server:draining { reconnectInMs }`, then disconnects, batch by batch,
 * the clients that have not left a couple of seconds after their turn. It
 * resolves when no connection is left or the window is over. History and
 * offsets need no saving: they are stored before any broadcast (in Redis when
 * clustered).
 *
 * With other nodes to go to (Redis), clients are told in waves paced by how
 * fast the others take them in (core/drain-pacer.ts): the room memberships the
 * other nodes hold grow by about the drained clients' memberships per
 * connection for each client accepted. Otherwise (memory, or no memberships to
 * watch) the reconnections are spread evenly over the first 60% of
 * DRAIN_TIMEOUT_MS (core/drain-plan.ts).
 */
import { PACE_TICK_MS, DrainPacer, spreadEndMs } from '../../core/drain-pacer.js';
import { planDrain } from '../../core/drain-plan.js';
import type { Logger } from '../../ops/logger.js';
import type { RoomcastServer, RoomcastSocket } from './types.js';

/** A read of the others' memberships slower than this counts as unknown for that tick. */
const PROBE_TIMEOUT_MS = 1000;

export async function drainConnections(
  io: RoomcastServer,
  namespaces: readonly string[],
  drainTimeoutMs: number,
  logger: Logger,
  membersElsewhere: (() => Promise<number>) | null = null,
): Promise<void> {
  const startedAt = Date.now();
  const deadline = startedAt + drainTimeoutMs;
  const connections = shuffledConnections(io, namespaces);
  const { graceMs } = planDrain(0, drainTimeoutMs);
  const timers: NodeJS.Timeout[] = [];
  const tell = (sockets: RoomcastSocket[], reconnectInMs: number): void => {
    for (const socket of sockets) if (socket.connected) socket.emit('server:draining', { reconnectInMs });
    timers.push(
      setTimeout(() => {
        for (const socket of sockets) if (socket.connected) socket.disconnect(true);
      }, reconnectInMs + graceMs),
    );
  };
  try {
    const memberships = connections.reduce((sum, sockets) => sum + sockets.reduce((n, socket) => n + socket.rooms.size - 1, 0), 0);
    const base = membersElsewhere !== null && memberships > 0 ? await probe(membersElsewhere) : undefined;
    if (base === undefined || membersElsewhere === null) {
      logger.info({ connections: connections.length, drainTimeoutMs, paced: false }, 'draining');
      const plan = planDrain(connections.length, drainTimeoutMs);
      const slots = new Map<number, RoomcastSocket[]>();
      connections.forEach((sockets, index) => {
        const delay = plan.delays[index] as number;
        slots.set(delay, [...(slots.get(delay) ?? []), ...sockets]);
      });
      for (const [delay, sockets] of slots) tell(sockets, delay);
    } else {
      logger.info({ connections: connections.length, drainTimeoutMs, paced: true }, 'draining');
      const perConnection = memberships / connections.length;
      const pacer = new DrainPacer(connections.length, spreadEndMs(drainTimeoutMs, graceMs), startedAt);
      let next = 0;
      while (pacer.remaining > 0 && Date.now() < deadline) {
        const elsewhere = await probe(membersElsewhere);
        const accepted = elsewhere === undefined ? undefined : Math.max(0, (elsewhere - base) / perConnection);
        const count = pacer.next(Date.now(), accepted);
        if (count > 0) tell(connections.slice(next, next + count).flat(), 0);
        next += count;
        if (pacer.remaining > 0) await sleep(PACE_TICK_MS);
      }
    }
    while (io.engine.clientsCount > 0 && Date.now() < deadline) await sleep(50);
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
  logger.info({ remaining: io.engine.clientsCount, ms: Date.now() - startedAt }, 'drain finished');
}

/** One entry per Engine.IO connection (its namespace sockets move together), in random order (Fisher-Yates), so the same clients are not always the first to move. */
function shuffledConnections(io: RoomcastServer, namespaces: readonly string[]): RoomcastSocket[][] {
  const byConnection = new Map<object, RoomcastSocket[]>();
  for (const name of namespaces) {
    for (const socket of io.of(name).sockets.values()) {
      const sockets = byConnection.get(socket.conn) ?? [];
      sockets.push(socket);
      byConnection.set(socket.conn, sockets);
    }
  }
  const connections = [...byConnection.values()];
  for (let i = connections.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [connections[i], connections[j]] = [connections[j] as RoomcastSocket[], connections[i] as RoomcastSocket[]];
  }
  return connections;
}

/** The others' memberships, or undefined when Redis does not answer in time. */
async function probe(membersElsewhere: () => Promise<number>): Promise<number | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([membersElsewhere().catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
