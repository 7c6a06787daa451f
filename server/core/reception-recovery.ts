/**
 * What this node missed while it was deaf, delivered to its own members.
 *
 * A node receives other nodes' publications through its Redis subscriber
 * connection(s). While one is down (Redis restarted, the connection cut, a
 * sharded connection reconnecting) or a room's subscription was lost (repaired
 * by reconciliation), publications made elsewhere do not reach it. Clients
 * notice the gap at the room's next publication and fill it from history, but
 * in a quiet room nothing comes next: the members would never learn. So when a
 * subscriber connection is ready again after a drop, and after a subscription
 * repair, the node reads history after the last position it saw of every room
 * it serves (RoomWatermarks) and broadcasts what it finds to its local members
 * only (`local`: other nodes were not deaf). Clients drop what they already
 * have; SSE streams get it through the same adapter tap.
 */
import type { Message } from '../../shared/index.js';
import type { HistoryStore } from './history-store.js';
import type { RoomWatermarks } from './room-watermarks.js';
import type { Logger } from '../ops/logger.js';

export interface ServedRoom {
  namespace: string;
  room: string;
}

export interface ReceptionRecoveryOptions {
  history: HistoryStore;
  watermarks: RoomWatermarks;
  /** The rooms this node serves now (sockets or SSE listeners). */
  servedRooms(): ServedRoom[];
  /** Broadcasts a stored publication to this node's members of its room only. */
  emitLocal(namespace: string, message: Message): void;
  logger: Logger;
  /** Rooms read at once. */
  concurrency?: number;
}

/** Messages per history read. */
const PAGE = 100;
/** Pages read per room at most in one recovery: a room this far behind is left to its clients' own reads. */
const MAX_PAGES = 20;

export class ReceptionRecovery {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly options: ReceptionRecoveryOptions) {}

  /**
   * Recovers every served room. A call while one runs makes it run once more
   * afterwards (the node may have gone deaf again meanwhile); resolves when no
   * recovery is left to run.
   */
  recoverAll(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const { watermarks } = this.options;
    const served = this.options.servedRooms();
    const servedKeys = new Set(served.map(({ namespace, room }) => `${namespace}\u0000${room}`));
    // Rooms no longer served: their watermark has no use any more.
    for (const { namespace, room } of [...watermarks.rooms()]) if (!servedKeys.has(`${namespace}\u0000${room}`)) watermarks.forget(namespace, room);
    const queue = served.filter(({ namespace, room }) => watermarks.get(namespace, room) !== undefined);
    let recovered = 0;
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) recovered += await this.recoverRoom(next);
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency ?? 8, queue.length) }, worker));
    if (recovered > 0) this.options.logger.info({ rooms: served.length, publications: recovered }, 'delivered to local members what was published while this node was not receiving');
  }

  /** Reads the room's history after its watermark and broadcasts it locally; returns how many publications. */
  private async recoverRoom({ namespace, room }: ServedRoom): Promise<number> {
    const { history, watermarks, emitLocal } = this.options;
    let sent = 0;
    try {
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const since = watermarks.get(namespace, room);
        if (since === undefined) return sent;
        const read = await history.read(namespace, room, since, PAGE);
        const fresh = read.messages.filter((message) => message.epoch !== since.epoch || message.offset > since.offset);
        for (const message of fresh) {
          emitLocal(namespace, message);
          watermarks.note(namespace, room, message);
        }
        sent += fresh.length;
        // A new epoch with nothing in it yet: the next publication carries it.
        if (read.epoch !== since.epoch && fresh.length === 0) watermarks.note(namespace, room, { epoch: read.epoch, offset: read.offset });
        const now = watermarks.get(namespace, room);
        if (fresh.length === 0 || now === undefined || (now.epoch === read.epoch && now.offset >= read.offset)) return sent;
      }
    } catch (error) {
      // Redis still unavailable: the clients' own reads fill the gap later.
      this.options.logger.warn({ err: error, ns: namespace, room }, 'could not read what a room missed while this node was not receiving');
    }
    return sent;
  }
}
