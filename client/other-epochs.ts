/**
 * Live messages of epochs other than a stream's current one, held aside until a
 * server answer says which epoch the room is in. Epochs are opaque: a message of
 * an unknown epoch may be the first of a new epoch or a late one of a dead epoch,
 * and only the server can tell which.
 *
 * Bounded: beyond `capacity` messages in all, new ones are let go, but the
 * highest offset seen of each epoch is kept, so a switch to that epoch still
 * reads everything up to it from history.
 */
import type { Message } from '../shared/wire-types.js';

interface Bucket {
  readonly messages: Map<number, Message>;
  /** Highest offset seen of this epoch, kept or not. */
  highest: number;
  /** Arrival stamp of its latest message (see mark()). */
  lastSeen: number;
}

export class OtherEpochs {
  private readonly buckets = new Map<string, Bucket>();
  private count = 0;
  private stamp = 0;

  constructor(private readonly capacity: number) {}

  /** Messages held now. */
  get size(): number {
    return this.count;
  }

  /** Nothing seen of another epoch (counting the messages let go). */
  get isEmpty(): boolean {
    return this.buckets.size === 0;
  }

  /** Epochs seen (each with at least its highest offset). */
  get epochCount(): number {
    return this.buckets.size;
  }

  /** A stamp of now: messages added later arrived after a request sent now. */
  mark(): number {
    return this.stamp;
  }

  add(message: Message): void {
    this.stamp += 1;
    let bucket = this.buckets.get(message.epoch);
    if (bucket === undefined) {
      bucket = { messages: new Map(), highest: 0, lastSeen: 0 };
      this.buckets.set(message.epoch, bucket);
    }
    bucket.highest = Math.max(bucket.highest, message.offset);
    bucket.lastSeen = this.stamp;
    if (bucket.messages.has(message.offset) || this.count >= this.capacity) return;
    bucket.messages.set(message.offset, message);
    this.count += 1;
  }

  /** Takes out what was seen of `epoch` (the server answered with it). */
  take(epoch: string): { messages: Message[]; highest: number } | undefined {
    const bucket = this.buckets.get(epoch);
    if (bucket === undefined) return undefined;
    this.buckets.delete(epoch);
    this.count -= bucket.messages.size;
    return { messages: [...bucket.messages.values()], highest: bucket.highest };
  }

  /**
   * Forgets the epochs last seen at or before `mark`: a server answer to a
   * request sent after them named another epoch, so they are dead. Epochs seen
   * since may be newer than that answer and stay.
   */
  forgetSeenBefore(mark: number): void {
    for (const [epoch, bucket] of this.buckets) {
      if (bucket.lastSeen > mark) continue;
      this.buckets.delete(epoch);
      this.count -= bucket.messages.size;
    }
  }

  clear(): void {
    this.buckets.clear();
    this.count = 0;
  }
}
