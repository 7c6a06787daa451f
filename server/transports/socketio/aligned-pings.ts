/**
 * Engine.IO's heartbeat pings, sent on shared 100 ms ticks instead of each
 * connection's own millisecond. Engine.IO times every connection's next ping
 * from its last pong, so at 16,000 connections per node the pings are spread
 * over every millisecond and each one wakes the event loop on its own: the
 * wakeup (epoll, timers, the loop's phases) cost more than the ping. On a tick,
 * one loop turn sends all the pings due, and their pongs come back together.
 * Plain Socket.IO holding 30,000 idle connections over 6 nodes used 40% less
 * CPU with its pings aligned this way (docs/performance.md, idle upkeep).
 *
 * What a ping does is Engine.IO's own (Socket#schedulePing's timer body); only
 * when it happens moves, by less than a tick: a ping still comes at least
 * PING_INTERVAL_MS after the last pong, and the client's and the server's
 * timeouts are unchanged. This reads Engine.IO's private heartbeat fields
 * (engine.io 6: pingIntervalTimer, resetPingTimeout, the 'heartbeat' event
 * emitted after each pong); test/integration/heartbeats.test.ts checks the
 * behaviour it relies on.
 */

/** Pings fall on multiples of this many milliseconds of the clock. */
export const PING_TICK_MS = 100;

/** From `now`, the delay to the first tick that is at least `intervalMs` away. */
export function alignedPingDelay(now: number, intervalMs: number, tickMs: number = PING_TICK_MS): number {
  return Math.ceil((now + intervalMs) / tickMs) * tickMs - now;
}

/** The parts of an Engine.IO socket (engine.io 6, protocol 4) that the heartbeat uses. */
interface HeartbeatSocket {
  readyState: string;
  protocol: number;
  pingIntervalTimer: NodeJS.Timeout | null;
  hasRefreshedPingTimeout: boolean;
  server: { opts: { pingInterval: number } };
  sendPacket(type: 'ping'): void;
  resetPingTimeout(): void;
  on(event: 'heartbeat', listener: (this: HeartbeatSocket) => void): unknown;
}

type EngineEvents = { on(event: 'connection', listener: (socket: HeartbeatSocket) => void): unknown };

/** Engine.IO's ping timer body (Socket#schedulePing): the ping, then the wait for its pong. */
function ping(socket: HeartbeatSocket): void {
  socket.hasRefreshedPingTimeout = false;
  socket.sendPacket('ping');
  socket.resetPingTimeout();
}

/** Replaces the socket's next ping (Engine.IO's, or the last tick's) with one on a tick. No closure per socket. */
function scheduleOnTick(socket: HeartbeatSocket): void {
  if (socket.pingIntervalTimer !== null) clearTimeout(socket.pingIntervalTimer);
  socket.pingIntervalTimer = setTimeout(ping, alignedPingDelay(Date.now(), socket.server.opts.pingInterval), socket);
}

/** After each pong Engine.IO restarts its ping timer from now and emits 'heartbeat': move that ping onto a tick. */
function onHeartbeat(this: HeartbeatSocket): void {
  if (this.readyState === 'open') scheduleOnTick(this);
}

/** Every new connection of `engine` (protocol 4: the server pings) gets its pings on ticks. */
export function alignPings(engine: unknown): void {
  (engine as EngineEvents).on('connection', (socket) => {
    // Protocol 3 (allowEIO3) clients ping the server; nothing to align.
    if (socket.protocol === 3) return;
    scheduleOnTick(socket);
    socket.on('heartbeat', onHeartbeat);
  });
}
