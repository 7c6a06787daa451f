/**
 * PUBLISH_BYTES_PER_USER_PER_S: how many bytes of publication data one user
 * may publish per second on this node, across all their connections and rooms
 * (client `room:publish` and `room:signal`; backends publishing over the HTTP
 * API are not limited here). One user with many sockets in many rooms could
 * otherwise fill history memory (or Redis's maxmemory, after which every
 * publish in the cluster fails) within seconds. A token bucket per user, of
 * that rate and a burst of four seconds' worth (at least one publication of
 * MAX_PAYLOAD_BYTES); beyond it, RATE_LIMITED (retryable). Buckets of users who
 * are back at their full burst are forgotten.
 */
import { RoomcastError } from '../errors.js';
import { TokenBucket } from './token-bucket.js';

const SWEEP_INTERVAL_MS = 10_000;

export class PublishBudget {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly burst: number;
  private readonly sweepTimer: NodeJS.Timeout | null;

  constructor(
    private readonly bytesPerSecond: number,
    maxPayloadBytes: number,
  ) {
    this.burst = Math.max(4 * bytesPerSecond, maxPayloadBytes);
    this.sweepTimer = bytesPerSecond > 0 ? setInterval(() => this.sweep(), SWEEP_INTERVAL_MS) : null;
    this.sweepTimer?.unref();
  }

  /** Takes `bytes` from the user's budget, or throws RATE_LIMITED and takes nothing. */
  spend(userId: string, bytes: number): void {
    if (this.bytesPerSecond === 0) return;
    let bucket = this.buckets.get(userId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.bytesPerSecond, this.burst);
      this.buckets.set(userId, bucket);
    }
    if (!bucket.take(Date.now(), bytes)) {
      throw new RoomcastError('RATE_LIMITED', `a user may publish ${this.bytesPerSecond} bytes of data per second on one node`);
    }
  }

  stop(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [userId, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(userId);
  }
}
