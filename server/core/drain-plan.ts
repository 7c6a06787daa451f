/**
 * When each connection of a draining node is told to come back (elsewhere):
 * spread evenly over the first 60% of DRAIN_TIMEOUT_MS, in slots, so the other
 * nodes are not hit at once. Every transport's drain uses this plan (Socket.IO
 * connections get `server:draining { reconnectInMs }`, SSE streams `retry:`).
 */

/** Share of the drain window over which reconnections are spread. */
const SPREAD_SHARE = 0.6;
/** Reconnections are paced in slots of this length. */
const SLOT_MS = 250;

export interface DrainPlan {
  /** reconnectInMs of each connection, in the order given. */
  delays: number[];
  /** How long after its turn a connection still open is disconnected by the server. */
  graceMs: number;
}

/** Spreads n connections evenly over the window, in slots. */
export function planDrain(count: number, drainTimeoutMs: number): DrainPlan {
  const spreadMs = Math.floor(drainTimeoutMs * SPREAD_SHARE);
  const delays = Array.from({ length: count }, (_, index) => Math.floor((index / Math.max(count, 1)) * spreadMs / SLOT_MS) * SLOT_MS);
  return { delays, graceMs: Math.min(2000, Math.floor(drainTimeoutMs * 0.2)) };
}
