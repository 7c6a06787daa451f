/**
 * One room's publications for one consumer, each offset once and in order.
 *
 * Delivery comes from RoomListeners, fed by the adapter (every broadcast this
 * node sees, local or from another node). A duplicate (an idempotent retry
 * broadcast again, an offset already sent from history) is dropped; an offset
 * past the next one (another node's publication overtaking) is preceded by the
 * missing ones read from history, which holds every broadcast offset (it is
 * stored before it is broadcast). Epochs are opaque: only a history answer
 * moves the stream to another one.
 *
 * The sink (a transport: SSE today) only writes what it is given.
 */
import type { Message, StreamPosition } from '../../shared/index.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import type { HistoryStore } from './history-store.js';
import type { RoomListeners } from './room-listeners.js';
import type { RoomWatermarks } from './room-watermarks.js';

/** Where a room's publications come from on this node. */
export interface RoomFeed {
  history: HistoryStore;
  /** Rooms' publications as this node's adapter sees them (local and from other nodes). */
  listeners: RoomListeners;
  /** Resolves once publications of the room made on any node reach this one. */
  whenReceiving(namespace: string, room: string): Promise<void>;
  /** The last position of each served room this node saw (Redis only). */
  watermarks?: RoomWatermarks;
  metrics: GatewayMetrics;
}

/**
 * The room's position, read only once this node receives the room from every node (on Redis Cluster the
 * subscription is asynchronous): a publication in between would otherwise be above the position and never
 * come. Noted in the watermarks (what the node misses while deaf is delivered later).
 */
export async function receivingPosition(feed: RoomFeed, namespace: string, room: string): Promise<StreamPosition> {
  await feed.whenReceiving(namespace, room);
  const position = await feed.history.position(namespace, room);
  feed.watermarks?.note(namespace, room, position);
  return position;
}

/** Messages per history read when a stream resumes or fills a gap. */
export const STREAM_HISTORY_PAGE = 100;

export interface StreamSink {
  /** Writes one publication. */
  message(message: Message): void;
  /**
   * Writes a position the consumer can resume from, with no publication: `position` when a stream starts
   * from now, `recovered` (with `recovered: false`) after a gap.
   */
  control(event: 'position' | 'recovered', position: StreamPosition, extra?: { recovered: false }): void;
  /** Resolves once the consumer has taken what was written (between catch-up pages), or at once. */
  drained(): Promise<void>;
  /** The stream cannot vouch for its order any more (a history read failed): the transport ends it. */
  failed(error: unknown): void;
}

export class OrderedRoomStream {
  private position: StreamPosition | null = null;
  /** Live publications and the start-up read run one after the other, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly options: RoomFeed,
    private readonly namespace: string,
    private readonly room: string,
    since: StreamPosition | null,
    private readonly sink: StreamSink,
  ) {
    // Listen before reading the position, so nothing published in between falls between them.
    this.unsubscribe = options.listeners.add(namespace, room, (message) => this.enqueue(() => this.live(message)));
    this.enqueue(() => this.begin(since));
  }

  /** Stops the stream (the consumer went); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
  }

  private enqueue(task: () => Promise<void> | void): void {
    this.queue = this.queue
      .then(() => (this.closed ? undefined : task()))
      .catch((error: unknown) => {
        if (this.closed) return;
        this.close();
        this.sink.failed(error);
      });
  }

  private write(message: Message): void {
    this.sink.message(message);
    this.position = { epoch: message.epoch, offset: message.offset };
  }

  private control(event: 'position' | 'recovered', position: StreamPosition, extra?: { recovered: false }): void {
    this.sink.control(event, position, extra);
    this.position = position;
  }

  private async begin(since: StreamPosition | null): Promise<void> {
    const { namespace, room } = this;
    if (since === null) {
      this.control('position', await receivingPosition(this.options, namespace, room));
      return;
    }
    // Read only once this node receives the room (see receivingPosition).
    await this.options.whenReceiving(namespace, room);
    this.position = since;
    const gaps = await this.catchUp(null);
    this.options.metrics.namespace(namespace).rejoin(gaps === 0);
  }

  /**
   * Writes, from history, what follows the stream's position up to `target`
   * (the room's last offset when null), and returns how many gaps it had to
   * report. Each gap is a `recovered` control (`recovered: false`) whose
   * position is where the stream goes on from:
   * - history no longer holds what follows (trimmed, expired): the gap ends just
   *   before the first offset it still holds, which follows;
   * - the room's history was lost (another epoch), or Redis lost writes this
   *   stream had already sent (same epoch, but the room is behind the stream's
   *   position): nothing after the position can be vouched for, so the stream
   *   starts the room again from offset 0 of its current epoch, as history holds it.
   */
  private async catchUp(target: number | null): Promise<number> {
    const { namespace, room } = this;
    let gaps = 0;
    let restarted = false;
    for (;;) {
      const from = this.position as StreamPosition;
      if (target !== null && from.offset >= target) return gaps;
      const limit = target === null ? STREAM_HISTORY_PAGE : Math.min(STREAM_HISTORY_PAGE, target - from.offset);
      const read = await this.options.history.read(namespace, room, from, limit);
      if (this.closed) return gaps;
      if (read.epoch !== from.epoch || read.offset < from.offset) {
        // A live message's target belongs to the position given up: read the room to its end instead.
        this.position = { epoch: read.epoch, offset: 0 };
        target = null;
        restarted = true;
        continue;
      }
      const end = target ?? read.offset;
      if (!read.recovered || restarted) {
        // The gap ends just before the first offset history still holds (or at the end when it holds none).
        const first = read.messages[0]?.offset;
        const resumeAt = Math.max(Math.min(first === undefined ? end : first - 1, end), from.offset);
        gaps += 1;
        this.control('recovered', { epoch: read.epoch, offset: resumeAt }, { recovered: false });
        restarted = false;
      }
      const position = this.position as StreamPosition;
      if (position.offset >= end) return gaps;
      for (const message of read.messages) if (message.offset > position.offset && message.offset <= end) this.write(message);
      if ((this.position as StreamPosition).offset === position.offset) {
        // Nothing new although the room is ahead: what is missing cannot be had; go on from the end.
        gaps += 1;
        this.control('recovered', { epoch: read.epoch, offset: end }, { recovered: false });
        return gaps;
      }
      // A large catch-up waits for the consumer between pages rather than piling up in memory.
      await this.sink.drained();
      if (this.closed) return gaps;
    }
  }

  private async live(message: Message): Promise<void> {
    const position = this.position as StreamPosition;
    if (message.epoch !== position.epoch) {
      // Not this stream's epoch: a late message of an epoch already left behind, or the first sign of a new one.
      // Only history can tell; it holds every broadcast publication (stored before broadcast), this one included.
      await this.catchUp(null);
      return;
    }
    if (message.offset <= position.offset) return;
    if (message.offset > position.offset + 1) {
      await this.catchUp(message.offset - 1);
      if (this.closed) return;
      const caughtUp = this.position as StreamPosition;
      if (caughtUp.epoch !== message.epoch || message.offset <= caughtUp.offset) return;
    }
    this.write(message);
    this.options.metrics.delivered(this.namespace, 1);
  }
}
