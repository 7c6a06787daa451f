/**
 * The order within one segment of a room's stream (one epoch, from one starting
 * offset): each offset is handed on once and in order; a later one waits until
 * the ones before it arrive or are given up as a gap. No timers, no epochs, no
 * history: RoomStream decides what to give up and when.
 */
import type { Message } from '../shared/wire-types.js';

export interface SequencerSink {
  deliver(message: Message): void;
  /** True once the stream was disposed (a callback may dispose it): stop handing on. */
  stopped(): boolean;
}

/** Offsets from..to will never be handed on. */
export type GapReporter = (from: number, to: number) => void;

export class OffsetSequencer {
  private lastOffset = 0;
  /** Offsets above last + 1 waiting for the ones before them. */
  private readonly held = new Map<number, Message>();

  constructor(private readonly sink: SequencerSink) {}

  /** Last offset handed on (or given up). */
  get last(): number {
    return this.lastOffset;
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** The lowest offset waiting, if any. */
  lowestHeld(): number | undefined {
    return this.held.size === 0 ? undefined : Math.min(...this.held.keys());
  }

  /** Starts over after `last` with nothing held (a first join, a new segment). */
  reset(last: number): void {
    this.held.clear();
    this.lastOffset = last;
  }

  /** A message of this segment, from the wire or from the server: handed on now, held, or dropped as a duplicate. */
  accept(message: Message): void {
    const { offset } = message;
    if (offset <= this.lastOffset || this.held.has(offset)) return;
    if (offset === this.lastOffset + 1) {
      this.hand(message);
      this.drain();
    } else {
      this.held.set(offset, message);
    }
  }

  /**
   * Gives up on every missing offset up to `until`: each missing range becomes a
   * gap, held messages in between are still handed on, in order.
   */
  skipTo(until: number, gap: GapReporter): void {
    const heldOffsets = [...this.held.keys()].filter((offset) => offset <= until).sort((a, b) => a - b);
    for (const offset of heldOffsets) {
      if (this.sink.stopped()) return;
      const message = this.held.get(offset);
      if (message === undefined || offset <= this.lastOffset) continue;
      if (offset > this.lastOffset + 1) gap(this.lastOffset + 1, offset - 1);
      this.held.delete(offset);
      this.hand(message);
    }
    if (this.sink.stopped()) return;
    if (until > this.lastOffset) {
      gap(this.lastOffset + 1, until);
      this.lastOffset = until;
    }
    this.drain();
  }

  /** Ends the segment: what is held is handed on, with gaps around it. */
  flush(gap: GapReporter): void {
    if (this.held.size > 0) this.skipTo(Math.max(...this.held.keys()), gap);
  }

  /** Hands on the held offsets that have become consecutive. */
  private drain(): void {
    for (let next = this.held.get(this.lastOffset + 1); next !== undefined && !this.sink.stopped(); next = this.held.get(this.lastOffset + 1)) {
      this.held.delete(next.offset);
      this.hand(next);
    }
  }

  private hand(message: Message): void {
    // `last` moves first, so a callback that re-enters the SDK sees a consistent position.
    this.lastOffset = message.offset;
    this.sink.deliver(message);
  }
}
