/**
 * The last position of each room this node has seen go by: every publication
 * its adapter broadcast (its own or another node's), and the position a join or
 * an SSE stream read. After this node was deaf for a while (its subscriber
 * connection dropped and came back, a room subscription was repaired), what
 * was published meanwhile is exactly what history holds after these
 * positions (see reception-recovery.ts).
 *
 * Epochs are opaque: a position of another epoch replaces the one held (the
 * recovery reads history from it and history answers with the current epoch).
 * Bounded: past `maxRooms` the earliest tracked rooms are forgotten
 * (they are then not recovered after a reconnect; their clients fill the gap at
 * the next publication, as before).
 */
import type { StreamPosition } from '../../shared/index.js';

export const DEFAULT_MAX_WATERMARK_ROOMS = 200_000;

export class RoomWatermarks {
  private readonly positions = new Map<string, StreamPosition>();

  constructor(private readonly maxRooms: number = DEFAULT_MAX_WATERMARK_ROOMS) {}

  private static key(namespace: string, room: string): string {
    return `${namespace}\u0000${room}`;
  }

  get size(): number {
    return this.positions.size;
  }

  /**
   * A position of `room` seen now: kept when it is ahead of (or in another epoch than) the one held.
   * Called for every broadcast: a room already held is updated in place (no allocation, no re-insertion).
   */
  note(namespace: string, room: string, position: StreamPosition): void {
    const key = RoomWatermarks.key(namespace, room);
    const held = this.positions.get(key);
    if (held !== undefined) {
      if (held.epoch !== position.epoch || held.offset < position.offset) {
        held.epoch = position.epoch;
        held.offset = position.offset;
      }
      return;
    }
    this.positions.set(key, { epoch: position.epoch, offset: position.offset });
    // The oldest-inserted room goes first; rooms no longer served are pruned by each recovery anyway.
    if (this.positions.size > this.maxRooms) this.positions.delete(this.positions.keys().next().value as string);
  }

  get(namespace: string, room: string): StreamPosition | undefined {
    return this.positions.get(RoomWatermarks.key(namespace, room));
  }

  forget(namespace: string, room: string): void {
    this.positions.delete(RoomWatermarks.key(namespace, room));
  }

  /** Every room held, for pruning the ones no longer served. */
  *rooms(): IterableIterator<{ namespace: string; room: string }> {
    for (const key of this.positions.keys()) {
      const separator = key.indexOf('\u0000');
      yield { namespace: key.slice(0, separator), room: key.slice(separator + 1) };
    }
  }
}
