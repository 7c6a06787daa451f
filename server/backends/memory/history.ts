/**
 * History in this process's memory, for a single node. Bounded per room by
 * HISTORY_SIZE entries and HISTORY_TTL_S, and in all by HISTORY_MAX_BYTES
 * (the oldest entries of the whole store trimmed first, whichever room they are
 * in: readers get a gap, a publish is never refused for it); a room whose
 * entries all expired and that saw no activity for the TTL is forgotten, so
 * memory follows active rooms. A restart loses everything, which the new
 * epochs make visible to clients.
 */
import { newEpoch } from '../../core/epochs.js';
import type { Message, StreamPosition } from '../../../shared/index.js';
import { storedJson, type AppendItem, type AppendItemResult, type AppendResult, type HistoryRead, type HistoryStore, type NewPublication } from '../../core/history-store.js';

interface RoomLog {
  key: string;
  epoch: string;
  lastOffset: number;
  /** Contiguous offsets, oldest first. */
  entries: Message[];
  /** The size counted for each entry (HISTORY_MAX_BYTES), in the same order. */
  sizes: number[];
  /**
   * idempotency key -> stored message; insertion order is age order. Made on the first keyed publication:
   * every joined room has a log (its epoch must not change), and most never see a key (a user's room).
   */
  idempotency: Map<string, Message> | undefined;
  touchedAt: number;
  /** The newest entry's ts: a room's timestamps never go back, so expiry by age is always a prefix. */
  lastTs: number;
}

export interface MemoryHistoryOptions {
  size: number;
  ttlSeconds: number;
  /** Bytes of entries held in all (their data's JSON, event and a fixed overhead); 0: no limit. */
  maxBytes?: number;
  now?: () => number;
  /** How often expired rooms are swept; the timer does not keep the process alive. */
  sweepIntervalMs?: number;
}

/**
 * Rooms that were read or joined but never published into still need a stable
 * epoch, so reads create them; beyond this many rooms, the least recently used
 * never-published ones are forgotten (a client that joined one and comes back
 * later gets recovered: false), so reads of endless room names cannot grow memory.
 */
export const MAX_TRACKED_ROOMS = 100_000;
/** How far from the least recently used end eviction looks for a never-published room. */
const EVICTION_SCAN = 64;

/** What an entry costs beyond its data's JSON: the message object, its fields and its place in the arrays. */
export const ENTRY_OVERHEAD_BYTES = 200;

/** An entry in the store-wide age order (HISTORY_MAX_BYTES trims from its front). */
interface AgedEntry {
  log: RoomLog;
  message: Message;
}

export class MemoryHistoryStore implements HistoryStore {
  private readonly rooms = new Map<string, RoomLog>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly idempotencyCap: number;
  private readonly sweepTimer: NodeJS.Timeout;
  /** Every entry appended, oldest first; entries already gone (trimmed, expired) are skipped when reached. */
  private aged: AgedEntry[] = [];
  private agedHead = 0;
  private totalBytes = 0;
  private totalEntries = 0;

  constructor(private readonly options: MemoryHistoryOptions) {
    this.ttlMs = options.ttlSeconds * 1000;
    this.now = options.now ?? Date.now;
    // Keys are kept for the TTL, but never more per room than this, so one room cannot grow without bound.
    this.idempotencyCap = Math.max(1000, options.size);
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? Math.min(this.ttlMs, 60_000));
    this.sweepTimer.unref();
  }

  /** Rooms tracked, publications held and their bytes (as HISTORY_MAX_BYTES counts them) now: the history gauges. */
  stats(): { rooms: number; entries: number; bytes: number } {
    return { rooms: this.rooms.size, entries: this.totalEntries, bytes: this.totalBytes };
  }

  async append(namespace: string, room: string, publication: NewPublication, idempotencyKey?: string): Promise<AppendResult> {
    return this.appendNow(namespace, room, publication, idempotencyKey);
  }

  /** append for each item in order: nothing here can fail for one item because of another. */
  async appendMany(items: readonly AppendItem[]): Promise<AppendItemResult[]> {
    return items.map(({ namespace, room, publication, idempotencyKey }): AppendItemResult => {
      try {
        return { ok: true, result: this.appendNow(namespace, room, publication, idempotencyKey) };
      } catch (error) {
        return { ok: false, error };
      }
    });
  }

  /** One append, synchronously; data with no JSON text is refused before the room is touched (storedJson). */
  private appendNow(namespace: string, room: string, publication: NewPublication, idempotencyKey: string | undefined): AppendResult {
    const json = storedJson(publication);
    const log = this.log(namespace, room);
    const now = this.now();
    this.expire(log, now);
    if (idempotencyKey !== undefined) {
      const stored = log.idempotency?.get(idempotencyKey);
      if (stored !== undefined) return { message: stored, duplicate: true };
    }
    log.lastOffset += 1;
    // A clock that stepped back must not make a newer entry expire before an older one.
    log.lastTs = Math.max(log.lastTs, publication.ts);
    const message: Message = { room, event: publication.event, data: publication.data, offset: log.lastOffset, epoch: log.epoch, ts: log.lastTs };
    if (publication.from !== undefined) message.from = publication.from;
    if (this.options.size > 0) {
      const bytes = json.length + publication.event.length + (publication.from?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
      log.entries.push(message);
      log.sizes.push(bytes);
      this.totalBytes += bytes;
      this.totalEntries += 1;
      if ((this.options.maxBytes ?? 0) > 0) this.aged.push({ log, message });
      if (log.entries.length > this.options.size) this.dropOldest(log, 1);
      this.enforceMaxBytes();
    }
    if (idempotencyKey !== undefined) {
      log.idempotency ??= new Map();
      log.idempotency.set(idempotencyKey, message);
      if (log.idempotency.size > this.idempotencyCap) {
        const oldest = log.idempotency.keys().next().value as string;
        log.idempotency.delete(oldest);
      }
    }
    return { message, duplicate: false };
  }

  async position(namespace: string, room: string): Promise<StreamPosition> {
    const log = this.log(namespace, room);
    return { epoch: log.epoch, offset: log.lastOffset };
  }

  async read(namespace: string, room: string, since: StreamPosition | undefined, limit: number): Promise<HistoryRead> {
    const log = this.log(namespace, room);
    this.expire(log, this.now());
    const head = { epoch: log.epoch, offset: log.lastOffset };
    const first = log.entries[0]?.offset ?? log.lastOffset + 1;
    const oldest = (): Message[] => log.entries.slice(0, limit);
    if (since === undefined) return { ...head, recovered: true, messages: oldest() };
    // Another epoch: what came after `since` is gone; the current epoch's oldest retained entries follow the gap.
    if (since.epoch !== log.epoch) return { ...head, recovered: false, messages: oldest() };
    if (since.offset > log.lastOffset) return { ...head, recovered: false, messages: [] };
    if (since.offset === log.lastOffset) return { ...head, recovered: true, messages: [] };
    // Trimmed past `since`: the gap, then what history still holds.
    if (since.offset + 1 < first) return { ...head, recovered: false, messages: oldest() };
    const start = since.offset + 1 - first;
    return { ...head, recovered: true, messages: log.entries.slice(start, start + limit) };
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.rooms.clear();
    this.aged = [];
    this.agedHead = 0;
    this.totalBytes = 0;
    this.totalEntries = 0;
  }

  /** Removes a room's `count` oldest entries, keeping the totals. */
  private dropOldest(log: RoomLog, count: number): void {
    const removed = log.sizes.splice(0, count);
    log.entries.splice(0, count);
    for (const bytes of removed) this.totalBytes -= bytes;
    this.totalEntries -= removed.length;
  }

  /** Past HISTORY_MAX_BYTES: the oldest entries of the whole store go first; compacts the age order now and then. */
  private enforceMaxBytes(): void {
    const maxBytes = this.options.maxBytes ?? 0;
    while (maxBytes > 0 && this.totalBytes > maxBytes && this.agedHead < this.aged.length) {
      const { log, message } = this.aged[this.agedHead] as AgedEntry;
      this.agedHead += 1;
      // Entries of a room leave from its front only, so a live entry reached here is its room's oldest.
      if (log.entries[0] === message && this.rooms.get(log.key) === log) this.dropOldest(log, 1);
    }
    const queued = this.aged.length - this.agedHead;
    if (queued > 2 * this.totalEntries + 1024) {
      this.aged = this.aged.slice(this.agedHead).filter(({ log, message }) => this.rooms.get(log.key) === log && message.offset >= (log.entries[0]?.offset ?? Infinity));
      this.agedHead = 0;
    }
  }

  private log(namespace: string, room: string): RoomLog {
    const key = `${namespace}\u0000${room}`;
    let log = this.rooms.get(key);
    if (log === undefined) {
      log = { key, epoch: newEpoch(), lastOffset: 0, entries: [], sizes: [], idempotency: undefined, touchedAt: this.now(), lastTs: 0 };
      if (this.rooms.size >= MAX_TRACKED_ROOMS) this.evictUnpublished();
    } else {
      // Re-inserting keeps the map in least-recently-used order.
      this.rooms.delete(key);
    }
    this.rooms.set(key, log);
    log.touchedAt = this.now();
    return log;
  }

  private evictUnpublished(): void {
    let scanned = 0;
    for (const [key, log] of this.rooms) {
      if (log.lastOffset === 0) {
        this.rooms.delete(key);
        return;
      }
      scanned += 1;
      if (scanned >= EVICTION_SCAN) return;
    }
  }

  /** Drops entries and idempotency keys older than the TTL (both are in age order). */
  private expire(log: RoomLog, now: number): void {
    const cutoff = now - this.ttlMs;
    let drop = 0;
    while (drop < log.entries.length && (log.entries[drop] as Message).ts < cutoff) drop += 1;
    if (drop > 0) this.dropOldest(log, drop);
    if (log.idempotency === undefined) return;
    for (const [key, message] of log.idempotency) {
      if (message.ts >= cutoff) break;
      log.idempotency.delete(key);
    }
    if (log.idempotency.size === 0) log.idempotency = undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, log] of this.rooms) {
      this.expire(log, now);
      if (log.entries.length === 0 && log.idempotency === undefined && now - log.touchedAt >= this.ttlMs) this.rooms.delete(key);
    }
  }
}
