/**
 * The canary: every second the node publishes a timestamped probe on its own
 * channel through its Redis command connection and receives it on the
 * subscriber connection that the adapter uses. It measures pub/sub lag, and it
 * catches a subscriber that silently stopped receiving (a known failure of
 * Socket.IO + Redis setups after a reconnect): when probes stop coming back the
 * node reports not ready and forces the subscriber to reconnect, which makes
 * node-redis subscribe every channel (the adapter's too) again.
 *
 * "Not coming back" is judged from probes Redis has acknowledged, counted from
 * when this node read the acknowledgement, and decided after the poll phase: a
 * node whose event loop is slow (saturated, a long GC) reads probes late but
 * has not lost them, and reconnecting its subscriber then would make it deaf
 * for a moment and start a recovery of every room it serves, on the node
 * least able to afford it (seen in the 100,000-connection headline on a
 * saturated machine). Redis queues a PUBLISH's message to the subscribers
 * before it answers the publisher, so an acknowledged probe that has not come
 * back within `failAfterMs` of its acknowledgement is a subscriber that stopped
 * receiving.
 */
import type { Logger } from '../../ops/logger.js';
import type { RedisConnections } from './redis-connections.js';
import type { CanaryStatus } from '../../ops/readiness.js';

export interface CanaryOptions {
  intervalMs?: number;
  /** No probe back for this long: the subscriber is considered broken. */
  failAfterMs?: number;
  /** Keep this many lag samples (the last half minute at one probe a second) for the percentiles. */
  samples?: number;
  /** Called with each measured lag, in seconds (for metrics). */
  onLag?: (seconds: number) => void;
}


/** Outstanding probes kept at most (one a second: a quarter of an hour). */
const MAX_OUTSTANDING = 1000;

const now = (): number => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export class Canary {
  private readonly channel: string;
  private readonly intervalMs: number;
  private readonly failAfterMs: number;
  private readonly lags: number[] = [];
  private readonly maxSamples: number;
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  /** Probes Redis acknowledged that have not come back yet: seq -> when this node read the acknowledgement. */
  private readonly outstanding = new Map<number, number>();
  /** The highest probe that came back (probes on one channel arrive in order). */
  private returnedSeq = 0;
  private resetting = false;
  private lastResetAt = 0;
  private resets = 0;

  constructor(
    private readonly redis: RedisConnections,
    nodeId: string,
    private readonly logger: Logger,
    private readonly options: CanaryOptions = {},
  ) {
    // A hash tag keeps the channel's shard fixed in cluster mode.
    this.channel = `roomcast:canary:{${nodeId}}`;
    this.intervalMs = options.intervalMs ?? 1000;
    this.failAfterMs = options.failAfterMs ?? 3 * this.intervalMs + 500;
    this.maxSamples = options.samples ?? 30;
  }

  async start(): Promise<void> {
    await this.redis.subscriber.subscribe(this.channel, (message) => this.onProbe(message));
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.redis.subscriber.unsubscribe(this.channel).catch(() => undefined);
  }

  get healthy(): boolean {
    // The oldest outstanding probe is the first in insertion order.
    for (const ackedAt of this.outstanding.values()) return now() - ackedAt <= this.failAfterMs;
    return true;
  }

  status(): CanaryStatus {
    const sorted = [...this.lags].sort((a, b) => a - b);
    const round = (value: number | null): number | null => (value === null ? null : Math.round(value * 1000) / 1000);
    return {
      healthy: this.healthy,
      lastLagMs: round(this.lags[this.lags.length - 1] ?? null),
      p50Ms: round(percentile(sorted, 50)),
      p99Ms: round(percentile(sorted, 99)),
      samples: sorted.length,
      resets: this.resets,
    };
  }

  private onProbe(message: string): void {
    const [seqText, sentAtText] = message.split(':');
    const seq = Number(seqText);
    const sentAt = Number(sentAtText);
    if (!Number.isFinite(sentAt) || !Number.isInteger(seq)) return;
    const lag = Math.max(0, now() - sentAt);
    if (seq > this.returnedSeq) this.returnedSeq = seq;
    for (const outstanding of this.outstanding.keys()) {
      if (outstanding > seq) break;
      this.outstanding.delete(outstanding);
    }
    this.lags.push(lag);
    if (this.lags.length > this.maxSamples) this.lags.shift();
    this.options.onLag?.(lag / 1000);
  }

  private tick(): void {
    this.seq += 1;
    const seq = this.seq;
    const probe = `${seq}:${now()}`;
    const publish = this.redis.mode === 'cluster' ? this.redis.commands.sPublish(this.channel, probe) : this.redis.commands.publish(this.channel, probe);
    publish.then(
      () => {
        // Read in the same turn as the probe itself, the acknowledgement may come second.
        if (seq <= this.returnedSeq) return;
        this.outstanding.set(seq, now());
        // A subscriber down for hours must not grow this: the oldest left still says how long it has been.
        if (this.outstanding.size > MAX_OUTSTANDING) this.outstanding.delete(this.outstanding.keys().next().value as number);
      },
      () => undefined,
    );
    // Timers run before sockets are read: look once the probes already here have been read.
    if (!this.healthy) setImmediate(() => this.repairIfStillUnhealthy());
  }

  private repairIfStillUnhealthy(): void {
    if (this.timer !== null && !this.healthy && this.redis.isReady()) void this.repair();
  }

  /** Redis answers commands but probes do not come back: reconnect the subscriber (at most every few seconds). */
  private async repair(): Promise<void> {
    if (this.resetting || now() - this.lastResetAt < this.failAfterMs) return;
    this.resetting = true;
    this.lastResetAt = now();
    this.resets += 1;
    this.logger.warn({ channel: this.channel }, 'canary: probes are not coming back; reconnecting the subscriber');
    try {
      await this.redis.resetSubscriber();
    } catch (error) {
      this.logger.warn({ err: error }, 'canary: subscriber reset failed');
    } finally {
      this.resetting = false;
    }
  }
}
