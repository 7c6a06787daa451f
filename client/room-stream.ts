/**
 * The delivery guarantee of one room, with no socket in it: fed join acks, live
 * messages and history pages, it hands the application each offset at most once
 * and in offset order, and reports every offset it cannot deliver as an explicit
 * gap. The wire gives no order across gateway nodes, so order is made here.
 *
 * Epochs are opaque (random), not ordered. The stream switches epoch only on a
 * server answer (join ack, history page), never because a live message carries
 * another epoch: such a message is held aside and the server is asked. An answer
 * of the current epoch whose head is below the position the request was made
 * from means the gateway lost acknowledged writes (Redis restarted from an older
 * snapshot): the offsets after it may be handed out again, so the stream treats
 * it like a new epoch.
 *
 * What the stream expects of the gateway's answers (docs/protocol.md):
 * - `offset` is the room's last offset when the answer was made;
 * - `recovered: true`: the messages are contiguous from `since + 1`, possibly
 *   capped by page limits;
 * - `recovered: false`: the messages are what history still holds of the range,
 *   contiguous from the first retained offset after `since` (same epoch) or from
 *   the oldest retained offset (another epoch), possibly capped; none at all
 *   means nothing of the range is retained.
 *
 * Driven by method calls (beginJoin, completeJoin, receive, suspend, dispose), a
 * history function and an injected scheduler, so it is unit-testable with a
 * fake clock.
 */
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from '../shared/constants.js';
import type { HistoryResult, JoinResult } from '../shared/events.js';
import type { Message, StreamPosition } from '../shared/wire-types.js';
import { RoomcastError } from './errors.js';
import { OffsetSequencer } from './offset-sequencer.js';
import { OtherEpochs } from './other-epochs.js';
import type { GapReason, RecoveredEvent, RoomAnswer as Answer, RoomStreamOptions } from './room-stream-types.js';
import type { TimerHandle } from './scheduler.js';

const DEFAULT_MAX_HISTORY_RETRIES = 5;
const MAX_RETRY_DELAY_MS = 10_000;
/** Live messages of other epochs held aside at most, in all, while the server is asked which epoch is current. */
export const MAX_ASIDE_MESSAGES = 256;

/** What a history request was made for: its answer is applied only to the same segment. */
interface HistoryRequest {
  segment: number;
  since: StreamPosition;
  /** The offset the read had to reach. */
  target: number;
  /** Messages held aside after this stamp arrived after the request was sent. */
  mark: number;
}

export class RoomStream {
  readonly room: string;
  private readonly options: RoomStreamOptions;
  private readonly pageSize: number;
  private readonly maxRetries: number;

  private epoch: string | undefined;
  /** The current segment's order: its last offset handed to the application (or skipped with a gap), and the later ones held. */
  private readonly order: OffsetSequencer;
  /** An offset known to exist (from a server answer): history is read at least up to it. */
  private catchUpTo = 0;
  /** Live messages of other epochs, until a server answer says which epoch is current. */
  private readonly aside = new OtherEpochs(MAX_ASIDE_MESSAGES);
  /** Bumped on every epoch switch or restart: an answer to a request of an older segment is not applied. */
  private segment = 0;
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
    this.order = new OffsetSequencer({ deliver: (message) => options.deliver(message), stopped: () => this.disposed });
  }

  /** Where the application stands: the `since` of a rejoin. Undefined before the first join ack. */
  get position(): StreamPosition | undefined {
    return this.epoch === undefined ? undefined : { epoch: this.epoch, offset: this.order.last };
  }

  /** Offsets received but not deliverable yet (for diagnostics and tests). */
  get heldCount(): number {
    return this.order.heldCount;
  }

  /** Live messages of other epochs waiting for the server to name the current one (for diagnostics and tests). */
  get asideCount(): number {
    return this.aside.size;
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
    this.order.reset(this.order.last);
    this.aside.clear();
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
    // Everything held aside arrived before this join was sent (live messages since are in `buffered`).
    const mark = this.aside.mark();
    let recovered: RecoveredEvent | undefined;

    if (since === undefined || this.epoch === undefined) {
      // First join: the application starts after everything published so far.
      this.epoch = ack.epoch;
      this.order.reset(ack.offset);
      this.catchUpTo = ack.offset;
      this.segment += 1;
    } else {
      const answer: Answer = { epoch: ack.epoch, offset: ack.offset, recovered: ack.recovered, messages: ack.missed };
      const sameSegment = this.applyAnswer(answer, since, mark, 'join');
      if (sameSegment && ack.recovered) recovered = { room: this.room, epoch: ack.epoch, missed: Math.max(0, ack.offset - since.offset) };
    }

    for (const message of buffered) {
      if (this.disposed) return;
      this.route(message);
    }
    if (this.disposed) return;
    if (recovered !== undefined) this.options.onRecovered?.(recovered);
    // A capped missed[] (or a new epoch) leaves offsets the server told us exist: read them now, no reason to wait.
    if (this.order.last < this.catchUpTo) this.startFetch();
    else this.afterChange();
  }

  // ---- server answers -------------------------------------------------------

  /**
   * Applies a join ack or history page answering a request made from `since`.
   * Returns false when it restarted the stream (another epoch, or lost writes).
   */
  private applyAnswer(answer: Answer, since: StreamPosition, mark: number, kind: 'join' | 'history'): boolean {
    // The client had delivered `since` before asking, so a head below it in the same epoch means the
    // gateway lost acknowledged writes and will hand those offsets out again: a new epoch in all but name.
    // (Compared with `since`, not with what was delivered meanwhile: live messages may overtake an answer.)
    const lostWrites = answer.epoch === since.epoch && answer.offset < since.offset;
    if (answer.epoch !== this.epoch || lostWrites) {
      this.restart(answer.epoch, answer.offset, mark);
      // Another epoch's answer carries that epoch's retained tail; after lost writes nothing follows `since`.
      if (!lostWrites && answer.messages.length > 0 && !this.disposed) this.takeRetained(answer);
      return false;
    }
    this.aside.forgetSeenBefore(mark);
    // A join ack names offsets that exist; so does a page that jumped over trimmed ones (the rest may be capped).
    if (kind === 'join' || !answer.recovered) this.catchUpTo = Math.max(this.catchUpTo, answer.offset);
    if (answer.recovered) this.acceptAll(answer.messages);
    else this.takeRetained(answer);
    return true;
  }

  /** `recovered: false`: the range before the first retained offset is gone; the retained messages are delivered. */
  private takeRetained(answer: Answer): void {
    const first = answer.messages.find((message) => message.epoch === this.epoch)?.offset;
    this.skip(first === undefined ? answer.offset : first - 1, 'expired');
    this.acceptAll(answer.messages);
  }

  /**
   * Closes the current segment with an 'epoch-changed' gap (held messages are
   * still delivered) and starts `epoch` at offset 0, read from history up to
   * `head`; its messages held aside are taken in.
   */
  private restart(epoch: string, head: number, mark: number): void {
    const old = this.epoch;
    if (old !== undefined) {
      this.order.flush((from, to) => this.gap(old, from, to, 'epoch-changed'));
      if (this.disposed) return;
      this.options.onGap({ room: this.room, epoch: old, from: this.order.last + 1, to: null, recovered: false, reason: 'epoch-changed' });
      if (this.disposed) return;
    }
    this.epoch = epoch;
    this.order.reset(0);
    this.catchUpTo = head;
    this.segment += 1;
    this.failures = 0;
    const seen = this.aside.take(epoch);
    this.aside.forgetSeenBefore(mark);
    if (seen === undefined) return;
    // Messages let go when the buffer was full still exist: read up to the highest one.
    this.catchUpTo = Math.max(this.catchUpTo, seen.highest);
    this.acceptAll(seen.messages);
  }

  // ---- ordering -------------------------------------------------------------

  private route(message: Message): void {
    if (this.epoch === undefined) return;
    if (message.epoch === this.epoch) this.order.accept(message);
    else this.aside.add(message); // no proof of anything: the server is asked (afterChange)
  }

  private acceptAll(messages: readonly Message[]): void {
    for (const message of messages) {
      if (this.disposed) return;
      if (message.epoch === this.epoch) this.order.accept(message);
    }
  }

  /** Gives up on the current epoch's missing offsets up to `until`, with gap events; held ones are delivered. */
  private skip(until: number, reason: GapReason): void {
    const epoch = this.epoch;
    if (epoch !== undefined) this.order.skipTo(until, (from, to) => this.gap(epoch, from, to, reason));
  }

  private gap(epoch: string, from: number, to: number, reason: GapReason): void {
    this.options.onGap({ room: this.room, epoch, from, to, recovered: false, reason });
  }

  // ---- reading history ------------------------------------------------------

  private needsHistory(): boolean {
    return this.epoch !== undefined && (this.order.heldCount > 0 || this.order.last < this.catchUpTo || !this.aside.isEmpty);
  }

  /** The offset the next history read must reach: just below the lowest held offset, else catchUpTo. */
  private target(): number {
    const lowest = this.order.lowestHeld();
    return lowest === undefined ? this.catchUpTo : lowest - 1;
  }

  /** Starts or arms a history read when something is missing and nothing is already being done about it. */
  private afterChange(): void {
    if (this.joining || this.disposed) return;
    if (!this.needsHistory()) {
      this.cancelTimer();
      this.failures = 0;
      return;
    }
    if (this.fetching !== undefined) return;
    // The reorder window is for the wire's reordering within an epoch; a message of another epoch
    // waits for the server, so ask it at once (unless reads are failing: then the backoff applies).
    if (!this.aside.isEmpty && this.failures === 0) {
      this.startFetch();
      return;
    }
    if (this.timer !== undefined) return;
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

  /**
   * Reads history page by page until nothing below the held offsets (or catchUpTo) is
   * missing and no message of another epoch waits for the server's word.
   */
  private async fetchLoop(generation: number): Promise<void> {
    while (this.needsHistory() && generation === this.generation) {
      const request: HistoryRequest = {
        segment: this.segment,
        since: { epoch: this.epoch as string, offset: this.order.last },
        target: this.target(),
        mark: this.aside.mark(),
      };
      // Asking because of another epoch: a full page, which is that epoch's retained tail if it is current.
      const wanted = this.aside.isEmpty ? request.target - this.order.last : this.pageSize;
      const limit = Math.min(this.pageSize, Math.max(1, wanted));
      let result: HistoryResult;
      try {
        result = await this.options.fetchHistory(request.since, limit);
      } catch (error) {
        if (generation !== this.generation) return;
        if (request.segment !== this.segment) continue;
        this.historyFailed(RoomcastError.from(error, { room: this.room, event: 'room:history' }), request);
        return;
      }
      if (generation !== this.generation) return;
      // Made for another epoch (or before a restart): its target and `since` mean nothing now. Re-evaluate.
      if (request.segment !== this.segment) continue;

      const lastBefore = this.order.last;
      const asideBefore = this.aside.epochCount;
      this.applyAnswer(result, request.since, request.mark, 'history');
      if (this.disposed) return;
      // Moved on: restarted, delivered or skipped something, or settled which epoch is current (messages of
      // another epoch still aside arrived after this request: ask again).
      if (this.segment !== request.segment || this.order.last !== lastBefore || this.aside.epochCount !== asideBefore || !this.aside.isEmpty) {
        this.failures = 0;
        continue;
      }
      if (!this.needsHistory()) return;
      // History claims to be complete yet did not move us forward (a lagging replica, a race with trimming):
      // retry a few times with backoff, then report the range instead of waiting forever.
      this.failures += 1;
      if (this.failures > this.maxRetries) {
        this.failures = 0;
        this.skip(request.target, 'expired');
        continue;
      }
      return;
    }
  }

  private historyFailed(error: RoomcastError, request: HistoryRequest): void {
    this.options.onError?.(error);
    if (error.retryable && this.failures < this.maxRetries) {
      this.failures += 1; // afterChange() re-arms the timer with a longer delay
      return;
    }
    this.skip(request.target, 'unavailable');
    // Messages of another epoch stay aside, never dropped unheard: the server is asked again, at once (a new
    // round of backoff) when the retries of a transient failure are spent, after the longest delay after a refusal.
    this.failures = error.retryable || this.aside.isEmpty ? 0 : this.maxRetries;
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
