/**
 * The delivery guarantee of one room, with no socket in it: fed join acks, live
 * messages and history pages, it hands the application each offset at most once
 * and in offset order, and reports every offset it cannot deliver as an explicit
 * gap. The wire gives no order across gateway nodes, so order is made here.
 *
 * Driven by method calls (beginJoin, completeJoin, receive, suspend, dispose), a
 * history function and an injected scheduler, so it is unit-testable with a
 * fake clock.
 */
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from '../shared/index.js';
import type { HistoryResult, JoinResult, Message, StreamPosition } from '../shared/index.js';
import { RoomcastError } from './errors.js';
import type { Scheduler, TimerHandle } from './scheduler.js';

/**
 * Why offsets could not be delivered:
 * - `expired`: history no longer holds them (trimmed by size or TTL);
 * - `epoch-changed`: the room's history was lost on the gateway and restarted under a new epoch;
 * - `unavailable`: history could not be read (refused for good, or still failing after the retries).
 */
export type GapReason = 'expired' | 'epoch-changed' | 'unavailable';

export interface GapEvent {
  room: string;
  /** The epoch the missing offsets belong to. */
  epoch: string;
  /** First missing offset. */
  from: number;
  /** Last missing offset; null when an epoch ended at an offset nobody can know any more. */
  to: number | null;
  recovered: false;
  reason: GapReason;
}

export interface RecoveredEvent {
  room: string;
  epoch: string;
  /** How many publications happened while this client was away (all of them are delivered). */
  missed: number;
}

export interface RoomStreamOptions {
  room: string;
  /** How long a later offset is held, waiting for the earlier ones, before history is asked. */
  reorderWindowMs: number;
  /** Largest `limit` of one history request. */
  historyPageSize?: number;
  /** Failed or fruitless history reads retried before the missing range is reported as a gap. */
  maxHistoryRetries?: number;
  scheduler: Scheduler;
  /** `room:history` for this room; rejects with a RoomcastError. */
  fetchHistory(since: StreamPosition, limit: number): Promise<HistoryResult>;
  /** The application's callback; must not throw (the client wraps it). */
  deliver(message: Message): void;
  onGap(gap: GapEvent): void;
  onRecovered?(event: RecoveredEvent): void;
  /** A history request failed (it is retried or reported as a gap). */
  onError?(error: RoomcastError): void;
}

const DEFAULT_MAX_HISTORY_RETRIES = 5;
const MAX_RETRY_DELAY_MS = 10_000;

export class RoomStream {
  readonly room: string;
  private readonly options: RoomStreamOptions;
  private readonly pageSize: number;
  private readonly maxRetries: number;

  private epoch: string | undefined;
  /** Last offset handed to the application (or skipped with a gap event). */
  private last = 0;
  /** An offset known to exist (from a join ack): history is read at least up to it. */
  private catchUpTo = 0;
  /** Offsets above last + 1 waiting for the ones before them. */
  private readonly held = new Map<number, Message>();
  /** Epochs this stream has left; their late messages are dropped instead of flipping back. */
  private readonly retiredEpochs = new Set<string>();
  /** A join is in flight (or the stream was suspended): live messages wait here for its ack. */
  private joining = true;
  private buffered: Message[] = [];
  private timer: TimerHandle | undefined;
  private fetching: Promise<void> | undefined;
  /** Bumped whenever in-flight history work must be ignored (rejoin, disconnect, dispose). */
  private generation = 0;
  private failures = 0;
  private disposed = false;

  constructor(options: RoomStreamOptions) {
    this.options = options;
    this.room = options.room;
    this.pageSize = Math.min(Math.max(1, options.historyPageSize ?? HISTORY_PAGE_DEFAULT), HISTORY_PAGE_MAX);
    this.maxRetries = options.maxHistoryRetries ?? DEFAULT_MAX_HISTORY_RETRIES;
  }

  /** Where the application stands: the `since` of a rejoin. Undefined before the first join ack. */
  get position(): StreamPosition | undefined {
    return this.epoch === undefined ? undefined : { epoch: this.epoch, offset: this.last };
  }

  /** Offsets received but not deliverable yet (for diagnostics and tests). */
  get heldCount(): number {
    return this.held.size;
  }

  get isJoining(): boolean {
    return this.joining;
  }

  /** A `room:join` is about to be sent: buffer live messages until its ack. Returns the `since` to send. */
  beginJoin(): StreamPosition | undefined {
    this.invalidate();
    this.joining = true;
    return this.position;
  }

  /** The connection is gone: stop timers and ignore in-flight history until the next join. */
  suspend(): void {
    this.invalidate();
    this.joining = true;
  }

  dispose(): void {
    this.invalidate();
    this.disposed = true;
    this.held.clear();
    this.buffered = [];
  }

  /** Resolves when no history read is in flight (tests use it to wait for the async part). */
  async settled(): Promise<void> {
    while (this.fetching !== undefined) await this.fetching;
  }

  /** A live `message` event for this room. */
  receive(message: Message): void {
    if (this.disposed) return;
    if (this.joining) {
      this.buffered.push(message);
      return;
    }
    this.route(message);
    this.afterChange();
  }

  /** The join ack; `since` is what beginJoin returned (undefined on a first join). */
  completeJoin(ack: JoinResult, since: StreamPosition | undefined): void {
    if (this.disposed) return;
    this.joining = false;
    const buffered = this.buffered;
    this.buffered = [];
    let recovered: RecoveredEvent | undefined;

    if (since === undefined || this.epoch === undefined) {
      // First join: the application starts after everything published so far.
      this.epoch = ack.epoch;
      this.last = ack.offset;
      this.catchUpTo = ack.offset;
      for (const offset of this.held.keys()) if (offset <= this.last) this.held.delete(offset);
      this.drain();
    } else if (ack.epoch !== this.epoch) {
      this.changeEpoch(ack.epoch);
      this.catchUpTo = ack.offset;
      if (ack.recovered) this.acceptAll(ack.missed);
    } else {
      this.catchUpTo = Math.max(this.catchUpTo, ack.offset);
      if (ack.recovered) {
        recovered = { room: this.room, epoch: ack.epoch, missed: Math.max(0, ack.offset - since.offset) };
        this.acceptAll(ack.missed);
      } else {
        this.skipTo(ack.offset, 'expired');
      }
    }

    for (const message of buffered) {
      if (this.disposed) return;
      this.route(message);
    }
    if (this.disposed) return;
    if (recovered !== undefined) this.options.onRecovered?.(recovered);
    // A capped missed[] (or a new epoch) leaves offsets the server told us exist: read them now, no reason to wait.
    if (this.last < this.catchUpTo) this.startFetch();
    else this.afterChange();
  }

  // ---- ordering -------------------------------------------------------------

  private route(message: Message): void {
    if (this.retiredEpochs.has(message.epoch) || this.epoch === undefined) return;
    if (message.epoch !== this.epoch) this.changeEpoch(message.epoch);
    this.accept(message);
  }

  private acceptAll(messages: readonly Message[]): void {
    for (const message of messages) {
      if (this.disposed) return;
      if (message.epoch === this.epoch) this.accept(message);
    }
  }

  private accept(message: Message): void {
    const { offset } = message;
    if (offset <= this.last || this.held.has(offset)) return; // a duplicate
    if (offset === this.last + 1) {
      this.hand(message);
      this.drain();
    } else {
      this.held.set(offset, message);
    }
  }

  /** Delivers the held offsets that have become consecutive. */
  private drain(): void {
    for (let next = this.held.get(this.last + 1); next !== undefined && !this.disposed; next = this.held.get(this.last + 1)) {
      this.held.delete(next.offset);
      this.hand(next);
    }
  }

  private hand(message: Message): void {
    // `last` moves first, so a callback that re-enters the SDK sees a consistent position.
    this.last = message.offset;
    this.options.deliver(message);
  }

  /**
   * Gives up on every missing offset up to `until`: each missing range becomes a
   * gap event, held messages in between are still delivered, in order.
   */
  private skipTo(until: number, reason: GapReason): void {
    const epoch = this.epoch;
    if (epoch === undefined) return;
    const heldOffsets = [...this.held.keys()].filter((offset) => offset <= until).sort((a, b) => a - b);
    for (const offset of heldOffsets) {
      if (this.disposed) return;
      const message = this.held.get(offset);
      if (message === undefined || offset <= this.last) continue;
      if (offset > this.last + 1) this.gap(epoch, this.last + 1, offset - 1, reason);
      this.held.delete(offset);
      this.hand(message);
    }
    if (this.disposed) return;
    if (until > this.last) {
      this.gap(epoch, this.last + 1, until, reason);
      this.last = until;
    }
    this.drain();
  }

  /** The room's history was lost: close the old epoch with a gap and start the new one at offset 0. */
  private changeEpoch(epoch: string): void {
    const old = this.epoch;
    if (old !== undefined) {
      this.retiredEpochs.add(old);
      const highestHeld = Math.max(this.last, ...this.held.keys());
      this.skipTo(highestHeld, 'epoch-changed');
      if (this.disposed) return;
      this.options.onGap({ room: this.room, epoch: old, from: this.last + 1, to: null, recovered: false, reason: 'epoch-changed' });
    }
    this.held.clear();
    this.epoch = epoch;
    this.last = 0;
    this.catchUpTo = 0;
    this.failures = 0;
  }

  private gap(epoch: string, from: number, to: number, reason: GapReason): void {
    this.options.onGap({ room: this.room, epoch, from, to, recovered: false, reason });
  }

  // ---- filling gaps from history ------------------------------------------------

  private needsHistory(): boolean {
    return this.epoch !== undefined && (this.held.size > 0 || this.last < this.catchUpTo);
  }

  /** The offset the next history read must reach: just below the lowest held offset, else catchUpTo. */
  private target(): number {
    return this.held.size > 0 ? Math.min(...this.held.keys()) - 1 : this.catchUpTo;
  }

  /** Arms the reorder timer when something is missing and nothing is already being done about it. */
  private afterChange(): void {
    if (this.joining || this.disposed) return;
    if (!this.needsHistory()) {
      this.cancelTimer();
      this.failures = 0;
      return;
    }
    if (this.fetching !== undefined || this.timer !== undefined) return;
    const delay =
      this.failures === 0 ? this.options.reorderWindowMs : Math.min(this.options.reorderWindowMs * 2 ** this.failures, MAX_RETRY_DELAY_MS);
    this.timer = this.options.scheduler.setTimeout(() => {
      this.timer = undefined;
      this.startFetch();
    }, delay);
  }

  private startFetch(): void {
    if (this.fetching !== undefined || this.joining || this.disposed) return;
    this.cancelTimer();
    const generation = this.generation;
    // Started on a microtask so `fetching` is set before any history call or callback runs.
    const run: Promise<void> = Promise.resolve()
      .then(() => this.fetchLoop(generation))
      .then(
      () => this.fetchEnded(run),
      (error: unknown) => {
        // Only a throwing callback can get here; report it rather than leave the room stuck.
        this.options.onError?.(RoomcastError.from(error, { room: this.room, event: 'room:history' }));
        this.fetchEnded(run);
      },
    );
    this.fetching = run;
  }

  private fetchEnded(run: Promise<void>): void {
    if (this.fetching !== run) return;
    this.fetching = undefined;
    this.afterChange();
  }

  /** Reads history page by page until nothing below the held offsets (or catchUpTo) is missing. */
  private async fetchLoop(generation: number): Promise<void> {
    while (this.needsHistory() && generation === this.generation) {
      const epoch = this.epoch as string;
      const since = { epoch, offset: this.last };
      const target = this.target();
      const limit = Math.min(this.pageSize, Math.max(1, target - this.last));
      let result: HistoryResult;
      try {
        result = await this.options.fetchHistory(since, limit);
      } catch (error) {
        if (generation !== this.generation) return;
        this.historyFailed(RoomcastError.from(error, { room: this.room, event: 'room:history' }), target);
        return;
      }
      if (generation !== this.generation) return;

      const lastBefore = this.last;
      this.applyHistory(result, target);
      if (this.epoch !== epoch || this.last !== lastBefore) {
        this.failures = 0;
        continue;
      }
      // History claims to be complete yet did not move us forward (a lagging replica, a race with trimming):
      // retry a few times with backoff, then report the range instead of waiting forever.
      this.failures += 1;
      if (this.failures > this.maxRetries) {
        this.failures = 0;
        this.skipTo(target, 'expired');
        continue;
      }
      return;
    }
  }

  private applyHistory(result: HistoryResult, target: number): void {
    if (result.epoch !== this.epoch) {
      // The room's history was lost since our position; its new epoch is read from offset 0 next.
      this.changeEpoch(result.epoch);
      this.catchUpTo = result.offset;
      return;
    }
    if (!result.recovered) {
      const firstAvailable = result.messages[0]?.offset ?? Number.POSITIVE_INFINITY;
      const until = Math.min(target, firstAvailable - 1);
      if (until > this.last) this.skipTo(until, 'expired');
    }
    this.acceptAll(result.messages);
  }

  private historyFailed(error: RoomcastError, target: number): void {
    this.options.onError?.(error);
    if (error.retryable && this.failures < this.maxRetries) {
      this.failures += 1; // afterChange() re-arms the timer with a longer delay
      return;
    }
    this.failures = 0;
    this.skipTo(target, 'unavailable');
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    this.options.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private invalidate(): void {
    this.generation += 1;
    this.cancelTimer();
    this.fetching = undefined;
    this.failures = 0;
  }
}
