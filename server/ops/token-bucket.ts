/**
 * A token bucket. Kept as two numbers rather than a keyed limiter store: per
 * connection it lives and dies with the connection; per client address or per
 * user it is dropped once full again (`isFull`), so idle keys cost nothing.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number = Date.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    const elapsedSeconds = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.burst, this.tokens + elapsedSeconds * this.ratePerSecond);
    this.updatedAt = now;
  }

  /** Takes `amount` tokens (default one) if there are that many; takes nothing otherwise. */
  take(now: number = Date.now(), amount = 1): boolean {
    this.refill(now);
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }

  /** Back to its full burst: nothing to remember about whoever used it. */
  isFull(now: number = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }
}
