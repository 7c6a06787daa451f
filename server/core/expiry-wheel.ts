/**
 * One timer for every session's token expiry: sessions are filed in buckets of
 * EXPIRY_TICK_MS by their expiry, and one timer (armed for the next bucket's
 * boundary, only while something is filed) hands each bucket that has come due
 * to its owner. A timer per
 * connection cost a Timeout object and a timer-list entry each (~240 bytes and
 * a re-arm on every auth:refresh); a connection's expiry is now an entry in a Set.
 *
 * An entry fires at most EXPIRY_TICK_MS after its time (plus the event loop's delay), never before. A refreshed
 * expiry moves its entry (remove + add); the owner re-checks the time when
 * called, so a stale entry does no harm.
 */

/** Bucket width and sweep period: how late after its `exp` a connection may be closed (plus timer delay). */
export const EXPIRY_TICK_MS = 250;

export class ExpiryWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private timer: NodeJS.Timeout | null = null;
  /** The last slot swept: everything up to it has been handed over. */
  private swept: number;

  constructor(
    private readonly onDue: (item: T, now: number) => void,
    private readonly tickMs = EXPIRY_TICK_MS,
  ) {
    this.swept = Math.floor(Date.now() / tickMs);
  }

  /** The bucket an expiry at `at` (ms since the epoch) is filed in: the first tick at or after it. */
  private slot(at: number): number {
    // Already past (or due in a slot swept already): the next sweep takes it.
    return Math.max(Math.ceil(at / this.tickMs), this.swept + 1);
  }

  add(item: T, at: number): void {
    const slot = this.slot(at);
    let bucket = this.buckets.get(slot);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(slot, bucket);
    }
    bucket.add(item);
    if (this.timer === null) this.arm();
  }

  /** The next sweep, at the next bucket boundary (a Timeout per tick for the whole node, not per connection). */
  private arm(): void {
    const now = Date.now();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sweep(Date.now());
      if (this.buckets.size > 0 && this.timer === null) this.arm();
    }, (Math.floor(now / this.tickMs) + 1) * this.tickMs - now);
    this.timer.unref();
  }

  /**
   * Forgets `item` filed at `at` (the value it was added with). An entry whose slot was swept is gone
   * already; one filed at the next slot because its time had passed is left to fire (the owner re-checks).
   */
  remove(item: T, at: number): void {
    const slot = Math.ceil(at / this.tickMs);
    const bucket = this.buckets.get(slot);
    if (bucket === undefined) return;
    bucket.delete(item);
    if (bucket.size === 0) this.buckets.delete(slot);
    this.stopWhenEmpty();
  }

  /** Hands every item of the buckets due by `now` to onDue, oldest first (public for tests). */
  sweep(now: number): void {
    const due = Math.floor(now / this.tickMs);
    if (due - this.swept > this.buckets.size) {
      // After a long pause, or few buckets: walk the buckets rather than every slot in between.
      const slots = [...this.buckets.keys()].filter((slot) => slot <= due).sort((a, b) => a - b);
      this.swept = due;
      for (const slot of slots) this.fire(slot, now);
    } else {
      while (this.swept < due) {
        this.swept += 1;
        this.fire(this.swept, now);
      }
    }
    this.stopWhenEmpty();
  }

  private fire(slot: number, now: number): void {
    const bucket = this.buckets.get(slot);
    if (bucket === undefined) return;
    this.buckets.delete(slot);
    for (const item of bucket) this.onDue(item, now);
  }

  get size(): number {
    let size = 0;
    for (const bucket of this.buckets.values()) size += bucket.size;
    return size;
  }

  private stopWhenEmpty(): void {
    if (this.buckets.size === 0 && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
