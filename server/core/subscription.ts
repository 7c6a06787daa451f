/**
 * Subscribing to a room, for every transport: where a subscriber starts, what
 * it missed, and (for one-way consumers that cannot order or fill gaps
 * themselves, such as SSE streams) the room's publications once each and in
 * order.
 *
 * The position of a room is read only once this node receives the room's
 * publications from every node (`whenReceiving`; on Redis Cluster the room's
 * channel subscription is asynchronous): a publication in between would
 * otherwise be above the position and never come. Each position read is noted
 * in the node's watermarks (what it missed while deaf is delivered later, see
 * reception-recovery.ts).
 */
import type { StreamPosition } from '../../shared/index.js';
import type { HistoryRead } from './history-store.js';
import { OrderedRoomStream, receivingPosition, type RoomFeed, type StreamSink } from './ordered-room-stream.js';

export type SubscriptionsOptions = RoomFeed;

/** Runs a history read; a transport may queue or bound its clients' reads (the default runs it at once). */
export type ReadGate = <T>(read: () => Promise<T>) => Promise<T>;
const ungated: ReadGate = (read) => read();

export class Subscriptions {
  constructor(private readonly options: SubscriptionsOptions) {}

  /**
   * Where a member joining now starts: the room's position, and with `since` what follows it, at most
   * `limit` messages (the member pages the rest). Call it once the member receives the room's broadcasts:
   * anything published after the returned position reaches it live, so nothing falls between.
   */
  async start(namespace: string, room: string, since: StreamPosition | undefined, limit: number, gate: ReadGate = ungated): Promise<HistoryRead> {
    if (!since) return { ...(await receivingPosition(this.options, namespace, room)), recovered: true, messages: [] };
    const { history, metrics, watermarks } = this.options;
    await this.options.whenReceiving(namespace, room);
    const read = await gate(() => history.read(namespace, room, since, limit));
    metrics.namespace(namespace).rejoin(read.recovered);
    watermarks?.note(namespace, room, read);
    return read;
  }

  /**
   * An ordered stream of one room: from `since` (what follows it, then live), or from now (a `position`
   * control first). The sink gets each offset once, in order, gaps reported as `recovered: false`.
   * Close it when the consumer goes.
   */
  stream(namespace: string, room: string, since: StreamPosition | null, sink: StreamSink): OrderedRoomStream {
    return new OrderedRoomStream(this.options, namespace, room, since, sink);
  }
}
