/**
 * What the runner, the faults and the report need of any consumer of the run,
 * SDK client (subscribers.ts) or SSE stream (sse-subscribers.ts).
 */
import type { ConsumerKind } from './ledger.js';

export interface TimelineEntry {
  at: number;
  /** A connection state, or `draining` / `cut` / `recovered:<room>` / `gap:<room>` / `join:<room>` / `leave:<room>` / `open` / `end ...`. */
  event: string;
  /** The node of the Engine.IO session (from its id) when connected, or the node a pinned consumer talks to. */
  node?: string;
}

export interface RecoveryEpisode {
  start: number;
  end?: number;
  /** What the client was told or did: cut (by the suite), draining (server:draining), or lost (the transport went away). */
  cause: string;
  /** The node it was on when the connection went, and the one it came back on. */
  from?: string;
  to?: string;
  /** Rooms not rejoined yet (while the episode is open). */
  pending?: string[];
}

export interface StreamTarget {
  epoch: string;
  offset: number;
}

export interface ChaosConsumer {
  readonly id: string;
  readonly kind: ConsumerKind;
  /** websocket / default (polling then upgrade) for SDK clients; sse for streams. */
  readonly transport: string;
  /** The node's id when the consumer talks to one node's own URL (not through NGINX). */
  readonly pinnedNode: string | undefined;
  readonly timeline: TimelineEntry[];
  readonly episodes: RecoveryEpisode[];
  readonly errors: Map<string, number>;
  /** Rooms it is a member of now (its open memberships). */
  rooms(): string[];
  /** The ledger id of its current membership of `room` (`<id>` or `<id>#<n>`). */
  membership(room: string): string | undefined;
  readonly isConnected: boolean;
  /** The node it is connected to, when known. */
  readonly connectedNode: string | undefined;
  /** Its delivered position in a room it is a member of. */
  position(room: string): StreamTarget | undefined;
  /** Whether every room it is in has reached its target (the last offset answered 2xx). */
  caughtUp(targets: ReadonlyMap<string, StreamTarget>): boolean;
  /** Closes the transport from the client side, as a network loss would; it comes back by itself. */
  cut(): void;
  /** Goes offline and stays so (no reconnect) until goOnline(); its memberships go on (it resumes from its position). */
  goOffline(): void;
  goOnline(): void;
  /** An episode still open at the end (never fully recovered), for the report. */
  openEpisode(): RecoveryEpisode | undefined;
  /** Stops for good (end of run): its memberships stay open in the ledger (they lasted to the end). */
  close(): Promise<void> | void;
}

/** Timeline entries kept per consumer (one failing to connect for minutes must not fill the memory). */
export const MAX_TIMELINE = 5_000;

export function reachedTarget(position: StreamTarget | undefined, target: StreamTarget | undefined): boolean {
  if (target === undefined) return true;
  return position !== undefined && position.epoch === target.epoch && position.offset >= target.offset;
}
